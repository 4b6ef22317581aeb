"""What a user does to one file in the bucket: download it, delete it, run the function on it again, read the
function's log lines about it, and copy a link to it.

`csvdrop get | rm | reprocess | logs | url` and the window (through gui/backend_api.py) call these. Every failure
is a :class:`FileActionError` naming the object, what went wrong and what to do; functions that act on several
keys report per key instead of stopping at the first one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from backend import aws
from backend.aws import error_code, explain
from backend.config import Settings
from backend.errors import CsvDropError

ProgressCallback = Callable[[int, int], None]

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys per request
DEFAULT_DELETE_WAIT_S = 30.0
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_PARALLEL_REQUESTS = 8  # HEADs of many keys at once; each is one short round trip


class FileActionError(CsvDropError, RuntimeError):
    """A file action failed; the message names the object, what went wrong and what to do."""


class DownloadCancelled(FileActionError):
    pass


class TargetExists(FileActionError):
    """The file a download would write exists (the caller may ask, then download with ``overwrite=True``)."""

    def __init__(self, path: Path, uri: str) -> None:
        super().__init__(f"{path} already exists: not replacing it with {uri}")
        self.path = path


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def command(verb: str, bucket: str, key: str) -> str:
    """A `csvdrop` command line about one object, quoted for a shell (keys may hold spaces)."""
    if verb == "show":  # `show` takes the bucket as an option
        return f"csvdrop show {shlex.quote(key)} --bucket {shlex.quote(bucket)}"
    return f"csvdrop {verb} {shlex.quote(s3_uri(bucket, key))}"


def parse_object_argument(text: str, default_bucket: str) -> tuple[str, str]:
    """``s3://bucket/key`` or a bare key (in ``default_bucket``) -> (bucket, key)."""
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket or not key:
            raise FileActionError(f"{text!r} names no object: write s3://BUCKET/KEY, or only the KEY")
        return bucket, key
    if not text:
        raise FileActionError("an empty key names no object: give the object's key, as `csvdrop list` shows it")
    return default_bucket, text


# ------------------------------------------------------------------------------------------ download
def download_target(key: str, dest: Path | None) -> Path:
    """Where ``key`` is saved: ``dest`` itself, or the key's last part inside ``dest`` when that is a folder (or
    inside the current folder when there is no ``dest``)."""
    if dest is not None and not dest.is_dir():
        return dest
    name = key.rsplit("/", 1)[-1].replace("\x00", "")
    if name in ("", ".", ".."):
        raise FileActionError(f"s3 key {key!r} has no file name to save under: name the file to save it as")
    return (dest or Path.cwd()) / name


def download(
    settings: Settings,
    bucket: str,
    key: str,
    dest: Path | None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    overwrite: bool = False,
) -> Path:
    """Downloads the object to ``dest`` (a file, or a folder to save into) and returns the file written.

    The bytes go to a temporary file beside the target, renamed over it once complete: a failed or cancelled
    download leaves no half file. ``on_progress(received, total)`` is called from the transfer's threads."""
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    uri = s3_uri(bucket, key)
    target = download_target(key, dest)
    if target.exists() and not overwrite:
        raise TargetExists(target, uri)
    if not target.parent.is_dir():
        raise FileActionError(f"cannot save {uri} to {target}: the folder {target.parent} does not exist")
    s3 = aws.client(settings, "s3")
    head = _head(s3, settings, bucket, key)
    if head is None:
        raise FileActionError(f"no object {uri}: nothing to download (see `csvdrop list` for the keys)")
    size = int(head.get("ContentLength", 0))
    received = 0
    lock = threading.Lock()

    def progress(chunk: int) -> None:
        nonlocal received
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled(f"download of {uri} cancelled")
        with lock:
            received += chunk
            current = received
        if on_progress is not None:
            on_progress(min(current, size), size)

    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        # os.open, not mkstemp: the file gets the permissions of any new file (the umask's), not 0600
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise FileActionError(f"cannot write to {target.parent} to save {uri}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            # A large object comes in ranged GETs, which s3transfer sends with IfMatch on the ETag it saw first:
            # an object replaced meanwhile fails the download (PreconditionFailed) instead of mixing two versions.
            s3.download_fileobj(
                bucket,
                key,
                out,
                Callback=progress,
                Config=TransferConfig(multipart_threshold=settings.multipart_threshold_bytes, max_concurrency=4),
            )
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled(f"download of {uri} cancelled")
        _move_into_place(part, target, overwrite, uri)
    except FileActionError:
        raise
    except Exception as exc:  # s3transfer wraps what a callback raises in its own types
        inner = _cause_of(exc)
        if isinstance(inner, DownloadCancelled) or (cancel is not None and cancel.is_set()):
            raise DownloadCancelled(f"download of {uri} cancelled") from exc
        if isinstance(inner, OSError) and not isinstance(inner, (BotoCoreError, ClientError)):
            raise FileActionError(f"cannot write {target} (from {uri}): {inner.strerror or inner}") from exc
        if error_code(inner) in ("PreconditionFailed", "412"):
            raise FileActionError(f"{uri} was replaced while downloading it: run the download again") from exc
        raise FileActionError(f"downloading {uri} failed: {explain(inner, settings)}") from exc
    finally:
        part.unlink(missing_ok=True)
    if on_progress is not None:
        on_progress(size, size)
    return target


def _move_into_place(part: Path, target: Path, overwrite: bool, uri: str) -> None:
    if overwrite:
        os.replace(part, target)
        return
    try:
        os.link(part, target)  # unlike a rename, fails when a file appeared at the target meanwhile
    except FileExistsError as exc:
        raise TargetExists(target, uri) from exc
    except OSError:  # a file system without hard links
        if target.exists():
            raise TargetExists(target, uri) from None
        os.replace(part, target)


def _cause_of(exc: BaseException) -> BaseException:
    """The error inside s3transfer's wrappers (a callback's exception, the S3 ClientError)."""
    current: BaseException | None = exc
    for _ in range(10):  # chains can be cyclic
        if current is None:
            break
        if isinstance(current, (FileActionError, OSError)) or error_code(current):
            return current
        current = current.__cause__ or current.__context__
    return exc


def _head(s3: Any, settings: Settings, bucket: str, key: str) -> dict[str, Any] | None:
    """HEAD of the object; None when there is none. Other failures raise FileActionError."""
    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in _NOT_FOUND:
            return None
        raise FileActionError(f"cannot read {s3_uri(bucket, key)}: {explain(exc, settings)}") from exc
    return head


# ------------------------------------------------------------------------------------------ delete
DeleteState = Literal["deleted", "missing", "failed", "record_remains", "unverified"]


@dataclass(frozen=True)
class DeletedFile:
    """One key's outcome. ``deleted``: the object and its record are gone; ``missing``: there was no object;
    ``failed``: S3 refused (``reason``); ``record_remains``: the object is gone but its record was still listed
    when the wait ended; ``unverified``: the object is gone and the store could not be read (``reason``)."""

    bucket: str
    key: str
    state: DeleteState
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "deleted"

    @property
    def message(self) -> str:
        uri = s3_uri(self.bucket, self.key)
        if self.state == "deleted":
            return f"deleted {uri} and its record"
        if self.state == "missing":
            return f"no object {uri}: nothing deleted (`csvdrop list` shows the keys)"
        if self.state == "failed":
            return f"could not delete {uri}: {self.reason}"
        if self.state == "record_remains":
            return (
                f"deleted {uri}, but its record is still listed{self.reason}: the function may not have seen the "
                f"deletion; run `csvdrop reconcile`, then check with `{command('show', self.bucket, self.key)}`"
            )
        return f"deleted {uri}; whether its record is gone is unknown: {self.reason}"


@dataclass(frozen=True)
class DeleteOutcome:
    files: tuple[DeletedFile, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def keys(self, state: DeleteState) -> list[str]:
        return [f.key for f in self.files if f.state == state]


def delete_files(
    settings: Settings,
    keys: Sequence[str],
    *,
    bucket: str | None = None,
    wait_s: float = DEFAULT_DELETE_WAIT_S,
    poll_s: float = 0.5,
) -> DeleteOutcome:
    """Deletes the objects (DeleteObjects, 1,000 keys a request), then waits up to ``wait_s`` for the function
    to remove their records (an S3 ObjectRemoved event makes it write a tombstone). Keys without an object are
    reported as ``missing`` and the others are still deleted. Outcomes are in the order of ``keys``."""
    bucket = bucket or settings.bucket
    unique = list(dict.fromkeys(keys))
    s3 = aws.client(settings, "s3")
    outcome: dict[str, DeletedFile] = {}

    def exists(key: str) -> tuple[str, bool | str]:
        try:
            return key, _head(s3, settings, bucket, key) is not None
        except FileActionError as exc:
            return key, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, min(_PARALLEL_REQUESTS, len(unique)))) as pool:
        found = list(pool.map(exists, unique))
    present: list[str] = []
    for key, state in found:
        if state is True:
            present.append(key)
        elif state is False:
            outcome[key] = DeletedFile(bucket, key, "missing")
        else:
            outcome[key] = DeletedFile(bucket, key, "failed", str(state))
    gone: list[str] = []
    for start in range(0, len(present), DELETE_BATCH):
        batch = present[start : start + DELETE_BATCH]
        try:
            response = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
        except Exception as exc:
            reason = explain(exc, settings)
            outcome.update({key: DeletedFile(bucket, key, "failed", reason) for key in batch})
            continue
        refused = {
            str(e.get("Key")): f"S3 said {e.get('Code')}: {e.get('Message')}" for e in response.get("Errors", [])
        }
        for key in batch:
            if key in refused:
                outcome[key] = DeletedFile(bucket, key, "failed", refused[key])
            else:
                gone.append(key)
    outcome.update(_wait_for_records_gone(settings, bucket, gone, wait_s, poll_s))
    return DeleteOutcome(tuple(outcome[key] for key in unique))


def _wait_for_records_gone(
    settings: Settings, bucket: str, keys: list[str], wait_s: float, poll_s: float
) -> dict[str, DeletedFile]:
    from backend.store import StoreError, open_reader

    if not keys:
        return {}
    pending = set(keys)
    try:
        reader = open_reader(settings)
        try:
            deadline = time.monotonic() + wait_s
            while True:
                pending = {key for key in pending if reader.get(bucket, key) is not None}
                if not pending or time.monotonic() >= deadline:
                    break
                time.sleep(poll_s)
        finally:
            reader.close()
    except StoreError as exc:
        return {
            key: DeletedFile(bucket, key, "unverified", str(exc))
            if key in pending
            else DeletedFile(bucket, key, "deleted")
            for key in keys
        }
    after = f" after {wait_s:g} s" if wait_s > 0 else ""
    return {
        key: DeletedFile(bucket, key, "record_remains", after)
        if key in pending
        else DeletedFile(bucket, key, "deleted")
        for key in keys
    }


# ------------------------------------------------------------------------------------------ reprocess
ReprocessState = Literal["processed", "failed", "missing", "skipped", "error"]


@dataclass(frozen=True)
class ReprocessOutcome:
    """``processed``/``failed``: the function stored a PROCESSED/FAILED record; ``missing``: no object;
    ``skipped``: the function did not profile it (``message`` says why); ``error``: the invocation failed."""

    bucket: str
    key: str
    state: ReprocessState
    message: str
    request_id: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "processed"


def reprocess_event(bucket: str, objects: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """The S3-shaped event the function handles, one record per ``(key, etag, sequencer)``; ``csvdrop_reprocess``
    makes it store the fresh profile even when it has a record of that very object."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": urllib.parse.quote_plus(key), "eTag": etag, "sequencer": sequencer},
                },
            }
            for key, etag, sequencer in objects
        ],
        "csvdrop_reprocess": True,
    }


def reprocess(settings: Settings, keys: Sequence[str], *, bucket: str | None = None) -> list[ReprocessOutcome]:
    """Runs the function again on each object as it is now, synchronously, one invocation per key (so one
    file's failure is that file's outcome alone, and each gets the function's whole timeout)."""
    bucket = bucket or settings.bucket
    s3 = aws.client(settings, "s3")
    # The read timeout must outlast the function's own timeout; one attempt: a retried timeout would run it twice.
    lam = aws.client(settings, "lambda", timeout_s=settings.lambda_timeout_s + 15, retries=1)

    unique = list(dict.fromkeys(keys))
    sequencers = _stored_sequencers(settings, bucket, unique)

    def one(key: str) -> ReprocessOutcome:
        return _reprocess_one(settings, s3, lam, bucket, key, sequencer=sequencers.get(key, ""))

    with ThreadPoolExecutor(max_workers=max(1, min(4, len(unique)))) as pool:
        return list(pool.map(one, unique))


def _stored_sequencers(settings: Settings, bucket: str, keys: list[str]) -> dict[str, str]:
    """The S3 sequencer of each key's stored record. The function orders a key's versions by (S3 sequencer,
    LastModified) and lets a re-process replace only a record that is not newer; S3's HEAD does not tell the
    sequencer, so an event without one would lose to the very record it should refresh. The stored ordering
    token is the padded sequencer (32 hex digits) then LastModified (16): the first part is handed back."""
    from backend.store import StoreError, open_reader

    found: dict[str, str] = {}
    try:
        reader = open_reader(settings)
        try:
            for key in keys:
                record = reader.get(bucket, key)
                if record is not None and len(record.sequencer) > 16:
                    found[key] = record.sequencer[:-16]
        finally:
            reader.close()
    except StoreError:
        pass  # without the store, the function's own rule decides: a key without a record is stored anyway
    return found


def _reprocess_one(settings: Settings, s3: Any, lam: Any, bucket: str, key: str, *, sequencer: str) -> ReprocessOutcome:
    uri = s3_uri(bucket, key)
    try:
        head = _head(s3, settings, bucket, key)
    except FileActionError as exc:
        return ReprocessOutcome(bucket, key, "error", str(exc))
    if head is None:
        return ReprocessOutcome(bucket, key, "missing", f"{uri} was deleted; nothing to re-process")
    etag = str(head.get("ETag", "")).strip('"')
    try:
        response = lam.invoke(
            FunctionName=settings.function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(reprocess_event(bucket, [(key, etag, sequencer)])).encode(),
        )
        body = response["Payload"].read()
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            reason = f"the function {settings.function_name} does not exist: run `csvdrop setup`, then retry"
        else:
            reason = explain(exc, settings)
        return ReprocessOutcome(bucket, key, "error", f"could not run the function on {uri}: {reason}")
    request_id = str(response.get("ResponseMetadata", {}).get("RequestId", ""))
    return ReprocessOutcome(
        bucket, key, *interpret_result(bucket, key, response.get("FunctionError"), body), request_id
    )


def interpret_result(bucket: str, key: str, function_error: str | None, body: bytes) -> tuple[ReprocessState, str]:
    """What the function's answer to a re-process event says, in words."""
    uri = s3_uri(bucket, key)
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        payload = body.decode("utf-8", "replace")
    if function_error:
        if isinstance(payload, Mapping):
            what = f"{payload.get('errorType') or function_error}: {payload.get('errorMessage') or 'no message'}"
        else:
            what = f"{function_error}: {payload}"
        return "error", f"the function failed on {uri} ({what}); its lines: `{command('logs', bucket, key)}`"
    results = payload.get("results") if isinstance(payload, Mapping) else None
    result = results[0] if isinstance(results, list) and results and isinstance(results[0], Mapping) else None
    if result is None:
        return (
            "error",
            f"the function answered {str(payload)[:200]!r} for {uri}, not a result: `{command('logs', bucket, key)}`",
        )
    if result.get("skipped"):
        why = str(result["skipped"])
        if why in _NOT_FOUND:
            return "missing", f"{uri} was deleted; nothing to re-process"
        if why in ("PreconditionFailed", "412"):
            return "skipped", f"{uri} changed while re-processing it: the new version's own event processes it"
        return "skipped", f"the function skipped {uri} ({why})"
    stored = "" if result.get("stored", True) else " (the store kept its newer record)"
    if result.get("status") == "PROCESSED":
        return "processed", f"re-processed {uri}: PROCESSED{stored}"
    return "failed", f"re-processed {uri}: FAILED{stored}; `{command('show', bucket, key)}` says why"


# ------------------------------------------------------------------------------------------ logs
@dataclass(frozen=True)
class Invocation:
    """One run of the function, as its log stream has it: the START..REPORT lines, oldest first."""

    request_id: str
    started_at: datetime
    log_stream: str
    lines: tuple[str, ...]


_START = re.compile(r"START RequestId: (\S+)")
_REPORT = re.compile(r"REPORT RequestId: (\S+)")
# The Lambda Python runtime's log format: "[LEVEL]\t<time>\t<request id>\t<message>"; END and REPORT name it too.
_LINE_ID = re.compile(
    r"^(?:\[[A-Z]+\]\t[^\t]*\t(?P<logged>[0-9A-Za-z-]{8,})\t|(?:END|REPORT) RequestId: (?P<ended>\S+))"
)


def log_group_name(settings: Settings) -> str:
    return f"/aws/lambda/{settings.function_name}"


_FIELD = re.compile(r" \w+=")


def names_object(line: str, bucket: str, key: str) -> bool:
    """Whether a line of the function names this very object. The function writes ``bucket/key`` followed by
    a " name=" field, ":", ";" or " failed" ("PROCESSED b/k rows=3 ...", "DELETED b/k tombstone=True",
    "skipping b/k: ...", "profiling b/k failed"): what follows keeps "b/k.csv" from matching "b/k.csv.bak"."""
    needle = f"{bucket}/{key}"
    start = line.find(needle)
    while start >= 0:
        before = line[start - 1] if start else " "
        rest = line[start + len(needle) :]
        if before in " \t/" and (not rest.strip() or rest.startswith((":", ";", " failed")) or _FIELD.match(rest)):
            return True
        start = line.find(needle, start + 1)
    return False


def group_invocations(events: Iterable[Mapping[str, Any]]) -> list[Invocation]:
    """Log events (``logStreamName``, ``timestamp``, ``message``; each stream's in order) grouped into
    invocations: a START line opens one, its REPORT line closes it. Lines outside a span (the window read began
    mid-invocation) join the invocation their own request id names, and are dropped when they name none."""
    open_spans: dict[str, tuple[str, int, str, list[str]]] = {}  # stream -> its running invocation
    done: list[tuple[str, int, str, list[str]]] = []
    orphans: dict[tuple[str, str], tuple[str, int, str, list[str]]] = {}
    for event in events:
        stream = str(event.get("logStreamName", ""))
        stamp = int(event.get("timestamp", 0))
        line = str(event.get("message", "")).rstrip("\n")
        started = _START.match(line)
        if started:
            if stream in open_spans:  # a span without its REPORT (the environment died): it ends here
                done.append(open_spans.pop(stream))
            open_spans[stream] = (started.group(1), stamp, stream, [line])
            continue
        running = open_spans.get(stream)
        if running is not None:
            running[3].append(line)
            ended = _REPORT.match(line)
            if ended and ended.group(1) == running[0]:
                done.append(open_spans.pop(stream))
            continue
        named = _LINE_ID.match(line)
        if named:
            request_id = named.group("logged") or named.group("ended")
            orphans.setdefault((stream, request_id), (request_id, stamp, stream, []))[3].append(line)
    spans = done + list(open_spans.values()) + list(orphans.values())
    spans.sort(key=lambda span: span[1])  # stable: spans of one time keep the stream's order
    return [
        Invocation(request_id, datetime.fromtimestamp(stamp / 1000, UTC), stream, tuple(lines))
        for request_id, stamp, stream, lines in spans
    ]


def log_lines(
    settings: Settings, bucket: str, key: str, *, since: datetime | None = None, limit: int = 20
) -> list[Invocation]:
    """The function's invocations that named this object (its "PROCESSED bucket/key ..." line and the like),
    each with every line it logged, oldest first; the newest ``limit`` of them. Raises FileActionError when the
    function has never logged anything."""
    logs = aws.client(settings, "logs")
    group = log_group_name(settings)
    start_ms = int(since.timestamp() * 1000) if since is not None else None
    needle = f"{bucket}/{key}"
    # CloudWatch narrows by the quoted term on its side (LocalStack ignores patterns); names_object decides.
    pattern = f'"{needle}"' if '"' not in needle else ""
    hits = [
        event
        for event in _events(logs, settings, group, key, pattern=pattern, start_ms=start_ms)
        if names_object(str(event.get("message", "")), bucket, key)
    ]
    if not hits:
        if not _has_streams(logs, settings, group, key):
            raise FileActionError(
                f"the function {settings.function_name} has not run yet (no log streams in {group}), so it has "
                f"no lines about s3://{bucket}/{key}: upload a file, or `{command('reprocess', bucket, key)}`"
            )
        return []
    # An invocation's lines lie within its timeout of the line naming the object (on LocalStack they share
    # its time): read that window of each stream and cut it into invocations.
    margin = (settings.lambda_timeout_s + 5) * 1000
    found: dict[tuple[str, str, datetime], Invocation] = {}
    for stream in dict.fromkeys(str(event["logStreamName"]) for event in hits):
        stamps = [int(event["timestamp"]) for event in hits if event["logStreamName"] == stream]
        window = _events(
            logs, settings, group, key, streams=[stream], start_ms=min(stamps) - margin, end_ms=max(stamps) + margin
        )
        for invocation in group_invocations(window):
            if any(names_object(line, bucket, key) for line in invocation.lines):
                found[(invocation.log_stream, invocation.request_id, invocation.started_at)] = invocation
    ordered = sorted(found.values(), key=lambda invocation: invocation.started_at)
    return ordered[-limit:] if limit > 0 else ordered


def _events(
    logs: Any,
    settings: Settings,
    group: str,
    key: str,
    *,
    pattern: str = "",
    streams: list[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[dict[str, Any]]:
    arguments: dict[str, Any] = {"logGroupName": group}
    if pattern:
        arguments["filterPattern"] = pattern
    if streams:
        arguments["logStreamNames"] = streams
    if start_ms is not None:
        arguments["startTime"] = max(0, start_ms)
    if end_ms is not None:
        arguments["endTime"] = end_ms
    events: list[dict[str, Any]] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**arguments):
            events.extend(page.get("events", []))
    except Exception as exc:
        raise _logs_error(exc, settings, group, key) from exc
    return events


def _has_streams(logs: Any, settings: Settings, group: str, key: str) -> bool:
    try:
        return bool(logs.describe_log_streams(logGroupName=group, limit=1).get("logStreams"))
    except Exception as exc:
        raise _logs_error(exc, settings, group, key) from exc


def _logs_error(exc: BaseException, settings: Settings, group: str, key: str) -> FileActionError:
    if error_code(exc) == "ResourceNotFoundException":
        return FileActionError(
            f"the function {settings.function_name} has not run yet (no log group {group}), so it has no lines "
            f"about {key}: run `csvdrop setup` and upload a file"
        )
    return FileActionError(f"cannot read the function's log lines about {key}: {explain(exc, settings)}")


# ------------------------------------------------------------------------------------------ links
def presigned_url(settings: Settings, bucket: str, key: str, expires_s: int = 3600) -> str:
    """A URL anyone can GET the object with, for ``expires_s`` seconds (at most 7 days). It does not check
    that the object exists: the URL answers 404 then."""
    if not 1 <= expires_s <= MAX_PRESIGN_S:
        raise FileActionError(
            f"a link to {s3_uri(bucket, key)} can last 1 s to 7 days ({MAX_PRESIGN_S} s), not {expires_s} s"
        )
    s3 = aws.client(settings, "s3", signature_version="s3v4")
    try:
        url: str = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires_s)
        )
    except Exception as exc:  # only credentials can fail here: presigning is local
        raise FileActionError(f"cannot sign a link to {s3_uri(bucket, key)}: {explain(exc, settings)}") from exc
    return url
