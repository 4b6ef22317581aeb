"""Uploads to the bucket: managed transfer (multipart above a threshold), progress, cancel, clear errors."""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from backend import aws
from backend.aws import explain
from backend.config import Settings, single_request
from backend.errors import CsvDropError

ProgressCallback = Callable[[int, int], None]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")  # C0, DEL and C1 controls, backslash
MAX_KEY_BYTES = 1024


_clients: dict[Settings, Any] = {}
_clients_lock = threading.Lock()


def _s3_client(settings: Settings) -> Any:
    """One S3 client per settings, shared by every upload (boto3 clients are thread-safe). Making a client
    costs ~0.1-0.2 s of CPU, more than uploading a small file, so a client per upload halved throughput."""
    with _clients_lock:
        s3 = _clients.get(settings)
        if s3 is None:
            if len(_clients) >= 8:  # settings rarely change; never grow without bound
                _clients.clear()
            s3 = _clients[settings] = aws.client(settings, "s3", timeout_s=5, retries=2)
        return s3


class UploadError(CsvDropError, RuntimeError):
    """Upload failed; the message says what happened and what to do."""


class UploadCancelled(UploadError):
    pass


@dataclass(frozen=True)
class UploadResult:
    key: str
    etag: str
    size_bytes: int
    seconds: float


def sanitize_key_part(name: str) -> str:
    """A file name made safe as the last part of an S3 key: no path separators, no '..', no control
    characters, NFC-normalised, at most 255 bytes. Unicode and spaces are kept (S3 allows them)."""
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("_", name).replace("/", "_").strip()
    if name in ("", ".", ".."):
        name = "unnamed.csv"
    name = name.lstrip(".") or "unnamed.csv"
    encoded = name.encode("utf-8")
    if len(encoded) > 255:
        _stem, dot, ext = name.rpartition(".")
        ext_bytes = (dot + ext).encode("utf-8") if dot and len(ext) <= 10 else b""
        name = encoded[: 255 - len(ext_bytes)].decode("utf-8", "ignore") + ext_bytes.decode()
    return name


def _clean_prefix(prefix: str) -> str:
    parts = [sanitize_key_part(p) for p in prefix.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) + "/" if parts else ""


def object_key_for(settings: Settings, path: Path, name: str | None = None) -> str:
    """The key a local file is uploaded under: always inside settings.key_prefix, never escaping it."""
    key = _clean_prefix(settings.key_prefix) + sanitize_key_part(name or path.name)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise UploadError(f"{path.name}: the object key would exceed S3's 1,024-byte limit; rename the file.")
    return key


def _aws_error_inside(exc: BaseException) -> BaseException:
    """boto3's upload_file re-raises an S3 ClientError as S3UploadFailedError (the ClientError is only its
    context): the AWS error inside is what `explain` knows how to put in words (e.g. NoSuchBucket)."""
    current: BaseException | None = exc
    for _ in range(10):  # exception chains can be cyclic
        if current is None:
            break
        if isinstance(current, (BotoCoreError, ClientError)):
            found: BaseException = current
            return found
        current = current.__cause__ or current.__context__
    return exc


def upload_file(
    settings: Settings,
    path: Path,
    *,
    key: str | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    client: Any = None,
) -> UploadResult:
    """Upload one file; on_progress(bytes_sent, total) is called from the transfer's threads."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UploadError(f"{path.name}: cannot read the file ({exc.strerror}).") from exc
    key = key or object_key_for(settings, path)
    s3 = client or _s3_client(settings)
    sent = 0
    lock = threading.Lock()

    def progress(chunk: int) -> None:
        nonlocal sent
        if cancel is not None and cancel.is_set():
            raise UploadCancelled(f"{path.name}: upload cancelled.")
        with lock:
            sent += chunk
            current = sent
        if on_progress:
            on_progress(min(current, size), size)

    config = TransferConfig(
        multipart_threshold=settings.multipart_threshold_bytes,
        multipart_chunksize=max(5 * 1024 * 1024, settings.multipart_threshold_bytes // 2),
        max_concurrency=4,
        use_threads=True,
    )
    started = time.perf_counter()
    try:
        if single_request(size):
            if cancel is not None and cancel.is_set():
                raise UploadCancelled(f"{path.name}: upload cancelled.")
            put = s3.put_object(Bucket=settings.bucket, Key=key, Body=path.read_bytes(), ContentType="text/csv")
            etag = str(put.get("ETag", ""))
        else:
            s3.upload_file(
                str(path), settings.bucket, key, Config=config, Callback=progress, ExtraArgs={"ContentType": "text/csv"}
            )
            etag = str(s3.head_object(Bucket=settings.bucket, Key=key).get("ETag", ""))
    except UploadCancelled:
        raise
    except (BotoCoreError, ClientError, OSError) as exc:
        if cancel is not None and cancel.is_set():
            raise UploadCancelled(f"{path.name}: upload cancelled.") from exc
        inner = getattr(exc, "last_exception", None) or exc.__cause__ or exc
        if isinstance(inner, UploadCancelled):
            raise inner from exc
        raise UploadError(explain(inner if isinstance(inner, BaseException) else exc, settings, path)) from exc
    except Exception as exc:  # s3transfer wraps callback exceptions in its own types
        if cancel is not None and cancel.is_set():
            raise UploadCancelled(f"{path.name}: upload cancelled.") from exc
        raise UploadError(explain(_aws_error_inside(exc), settings, path)) from exc
    if on_progress:
        on_progress(size, size)
    return UploadResult(key, etag.strip('"'), size, time.perf_counter() - started)
