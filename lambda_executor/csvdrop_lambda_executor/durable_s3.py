"""Crash-safe S3: every acknowledged write is on disk before its client hears 200.

LocalStack's open-source core keeps S3 in memory (bodies in a temporary folder it forgets), so a LocalStack
that is killed (kill -9, out of memory, power loss) takes every object with it, although each client was told
its upload had succeeded. This module keeps a journal of the buckets' current state in
``CSVDROP_S3_JOURNAL_DIR`` (empty: off):

- After a successful PutObject, CopyObject, CompleteMultipartUpload, DeleteObject(s), CreateBucket or
  DeleteBucket, and before the response leaves, a response handler writes what the store holds NOW for each
  key the request touched: present -> one file (a JSON header line, then the body) written to a temporary
  name, fsynced, renamed over the key's file and the folder fsynced; absent -> the key's file is unlinked.
  Reading the store rather than the request, under a per-key lock, makes racing writes converge on the
  store's final state whatever order their handlers run in.
- Files are named by a SHA-256 of bucket and key, never by the key, so no key can reach outside the journal.
- A journal failure turns the response into a 500 InternalError: the client retries instead of trusting a
  write that would not survive a crash.
- ``POST /_csvdrop/s3/restore`` puts the journal back into a fresh LocalStack in process (the provider's own
  CreateBucket/PutObject, outside the request chain, so nothing is journaled twice and nothing is notified).

Buckets named ``csvdrop-artifacts-*`` are skipped: build artifacts that setup rebuilds (the app's
backend/stack/snapshot.py ARTIFACT_BUCKET_PREFIX).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.http import Request, Response, route
from localstack.runtime import hooks

from csvdrop_lambda_executor.providers import running_provider

LOG = logging.getLogger(__name__)

ARTIFACT_BUCKET_PREFIX = "csvdrop-artifacts-"
OBJECT_WRITES = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload", "DeleteObject", "DeleteObjects"})
BUCKET_WRITES = frozenset({"CreateBucket", "DeleteBucket"})
BUCKET_FILE = "bucket.json"
# A writer that has rewritten a key's body but not yet published its metadata is waited for this long.
_SETTLE_S = 10.0
_STARTED = time.time()
_LOCKS = [threading.Lock() for _ in range(512)]
# Separate stripes for buckets: an object's lock is taken before its bucket's, never the other way round.
_BUCKET_LOCKS = [threading.Lock() for _ in range(64)]


class JournalError(Exception):
    pass


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _lock_for(digest: str) -> threading.Lock:
    return _LOCKS[int(digest[:8], 16) % len(_LOCKS)]


def _bucket_lock(bucket: str) -> threading.Lock:
    return _BUCKET_LOCKS[int(_digest(bucket)[:8], 16) % len(_BUCKET_LOCKS)]


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _provider() -> Any:
    """The running S3 provider (its storage backend holds the bodies)."""
    return running_provider("s3")


def _find_bucket(account_id: str, region: str, name: str) -> Any:
    from localstack.services.s3.models import s3_stores

    store = s3_stores[account_id][region]
    bucket = store.buckets.get(name)
    if bucket is None and (owner := store.global_bucket_map.get(name)):
        bucket = s3_stores[owner][region].buckets.get(name)
    return bucket


class Journal:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    # ------------------------------------------------------------------ layout
    def bucket_dir(self, bucket: str) -> str:
        return os.path.join(self.root, _digest(bucket))

    def object_path(self, bucket: str, key: str) -> str:
        return os.path.join(self.bucket_dir(bucket), "objects", _digest(bucket, key))

    def _ensure_dirs(self, bucket: str) -> str:
        bdir = self.bucket_dir(bucket)
        objects = os.path.join(bdir, "objects")
        if not os.path.isdir(objects):
            os.makedirs(os.path.join(bdir, "tmp"), exist_ok=True)
            os.makedirs(objects, exist_ok=True)
            _fsync_dir(bdir)
            _fsync_dir(self.root)
        return bdir

    def _write_atomically(self, final: str, bdir: str, chunks: Any) -> None:
        tmp = os.path.join(bdir, "tmp", f"{os.path.basename(final)}.{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(os.path.dirname(final))

    # ------------------------------------------------------------------ buckets
    def record_bucket(self, s3_bucket: Any) -> None:
        bdir = self._ensure_dirs(s3_bucket.name)
        record = {
            "name": s3_bucket.name,
            "account_id": s3_bucket.bucket_account_id,
            "region": s3_bucket.bucket_region,
            "location_constraint": getattr(s3_bucket, "location_constraint", "") or "",
        }
        self._write_atomically(os.path.join(bdir, BUCKET_FILE), bdir, [json.dumps(record).encode()])

    def sync_bucket(self, account_id: str, region: str, name: str) -> None:
        with _bucket_lock(name):
            s3_bucket = _find_bucket(account_id, region, name)
            if s3_bucket is not None:
                self.record_bucket(s3_bucket)
                return
            bdir = self.bucket_dir(name)
            if os.path.isdir(bdir):
                trash = os.path.join(self.root, f".deleted-{uuid.uuid4().hex}")
                os.replace(bdir, trash)  # one atomic step; the rest is clean-up
                _fsync_dir(self.root)
                shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------------ objects
    def sync_object(self, account_id: str, region: str, bucket: str, key: str) -> None:
        """Make the journal hold what the store holds for bucket/key now."""
        path = self.object_path(bucket, key)
        with _lock_for(os.path.basename(path)):
            s3_bucket = _find_bucket(account_id, region, bucket)
            if s3_bucket is None:
                self._remove(path)
                return
            if not os.path.exists(os.path.join(self.bucket_dir(bucket), BUCKET_FILE)):
                with _bucket_lock(bucket):
                    self.record_bucket(s3_bucket)
            self._copy_current(s3_bucket, bucket, key, path)

    def _remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        _fsync_dir(os.path.dirname(path))

    def _copy_current(self, s3_bucket: Any, bucket: str, key: str, path: str) -> None:
        from localstack.services.s3.models import S3DeleteMarker

        backend = _provider()._storage_backend
        deadline = time.monotonic() + _SETTLE_S
        while True:
            s3_object = s3_bucket.objects.get(key)
            if s3_object is None or isinstance(s3_object, S3DeleteMarker):
                self._remove(path)
                return
            # The read lock keeps writers out while we copy; a writer publishes its metadata before it lets go
            # of its write lock, so metadata read under our lock matches the body, except while
            # CompleteMultipartUpload is between assembling the body and publishing: then wait for it.
            with backend.open(bucket, s3_object, mode="r") as stored:
                current = s3_bucket.objects.get(key)
                settled = current is s3_object and (
                    not s3_object.internal_last_modified or stored.last_modified == s3_object.internal_last_modified
                )
                if settled:
                    header = {
                        "bucket": bucket,
                        "key": key,
                        "account_id": s3_bucket.bucket_account_id,
                        "region": s3_bucket.bucket_region,
                        "etag": s3_object.etag,
                        "size": s3_object.size,
                        "system_metadata": dict(s3_object.system_metadata or {}),
                        "user_metadata": dict(s3_object.user_metadata or {}),
                        "storage_class": s3_object.storage_class,
                    }
                    first = json.dumps(header).encode() + b"\n"
                    self._write_atomically(path, self.bucket_dir(bucket), _chain([first], stored))
                    return
            if time.monotonic() > deadline:
                raise JournalError(f"s3://{bucket}/{key} kept changing for {_SETTLE_S:.0f} s")
            time.sleep(0.005)

    # ------------------------------------------------------------------ restore
    def restore(self) -> dict[str, Any]:
        if not os.path.isdir(self.root):
            return {"buckets": [], "objects": 0, "skipped": 0}
        provider = _provider()
        buckets: list[str] = []
        objects = skipped = 0
        for entry in sorted(os.listdir(self.root)):
            bdir = os.path.join(self.root, entry)
            if entry.startswith(".deleted-"):
                shutil.rmtree(bdir, ignore_errors=True)
                continue
            record_path = os.path.join(bdir, BUCKET_FILE)
            if not os.path.isfile(record_path):
                continue
            _remove_stale_temporaries(os.path.join(bdir, "tmp"))
            with open(record_path, encoding="utf-8") as f:
                record = json.load(f)
            s3_bucket = _restore_bucket(provider, record)
            buckets.append(record["name"])
            objects_dir = os.path.join(bdir, "objects")
            for name in sorted(os.listdir(objects_dir)) if os.path.isdir(objects_dir) else []:
                # Under the key's lock, and only where the store has nothing: a client's write that landed in
                # this fresh LocalStack first is newer than the journal (and journals itself).
                with _lock_for(name), open(os.path.join(objects_dir, name), "rb") as body:
                    header = json.loads(body.readline())
                    if s3_bucket.objects.get(header["key"]) is not None:
                        skipped += 1
                        continue
                    _restore_object(provider, record, s3_bucket, header, body)
                    objects += 1
        return {"buckets": buckets, "objects": objects, "skipped": skipped}


def _remove_stale_temporaries(folder: str) -> None:
    """Temporary files a killed LocalStack left half-written (this process's own are younger than its start)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if os.stat(path).st_mtime < _STARTED - 1:
                os.unlink(path)
        except OSError:
            pass


def _chain(first: list[bytes], rest: Any) -> Any:
    yield from first
    yield from rest


def _context(account_id: str, region: str) -> RequestContext:
    context = RequestContext(Request("PUT", "/"))
    context.account_id = account_id
    context.region = region
    context.partition = "aws"
    context.request_id = uuid.uuid4().hex
    return context


def _restore_bucket(provider: Any, record: dict[str, Any]) -> Any:
    existing = _find_bucket(record["account_id"], record["region"], record["name"])
    if existing is not None:
        return existing
    request: dict[str, Any] = {"Bucket": record["name"]}
    if record.get("location_constraint"):
        request["CreateBucketConfiguration"] = {"LocationConstraint": record["location_constraint"]}
    provider.create_bucket(_context(record["account_id"], record["region"]), request)
    return _find_bucket(record["account_id"], record["region"], record["name"])


# System metadata the store keeps under the names PutObject takes them by.
_PUT_FIELDS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl")


def _restore_object(provider: Any, record: dict[str, Any], s3_bucket: Any, header: dict[str, Any], body: Any) -> None:
    request: dict[str, Any] = {"Bucket": record["name"], "Key": header["key"], "Body": body}
    system = header.get("system_metadata") or {}
    for field in _PUT_FIELDS:
        if system.get(field):
            request[field] = system[field]
    if header.get("user_metadata"):
        request["Metadata"] = header["user_metadata"]
    if header.get("storage_class") and header["storage_class"] != "STANDARD":
        request["StorageClass"] = header["storage_class"]
    provider.put_object(_context(record["account_id"], record["region"]), request)
    restored = s3_bucket.objects.get(header["key"])
    if restored is not None and header.get("etag") and restored.etag != header["etag"]:
        # A multipart object's ETag is not the MD5 of its bytes: keep the one its uploader was given.
        restored.etag = header["etag"]


# ---------------------------------------------------------------------------------------------- handlers
_state: dict[str, Journal | None] = {"journal": None}


def _touched(operation: str, request: dict[str, Any]) -> list[str]:
    if operation == "DeleteObjects":
        return [o["Key"] for o in (request.get("Delete") or {}).get("Objects", []) if o.get("Key") is not None]
    return [request["Key"]] if request.get("Key") is not None else []


def journal_s3_writes(chain: Any, context: Any, response: Response) -> None:
    journal = _state["journal"]
    service = getattr(context, "service", None)
    operation = getattr(context, "operation", None)
    if journal is None or service is None or service.service_name != "s3" or operation is None:
        return
    name = operation.name
    if name not in OBJECT_WRITES and name not in BUCKET_WRITES:
        return
    if response.status_code >= 300 or context.get("service_exception") is not None:
        return
    request = context.get("service_request") or {}
    bucket = request.get("Bucket")
    if not bucket or bucket.startswith(ARTIFACT_BUCKET_PREFIX):
        return
    try:
        if name in BUCKET_WRITES:
            journal.sync_bucket(context.account_id, context.region, bucket)
        else:
            for key in _touched(name, request):
                journal.sync_object(context.account_id, context.region, bucket, key)
    except Exception as exc:  # any failure: the write is not durable, so it must not be acknowledged
        LOG.exception("csvdrop S3 journal: %s on s3://%s failed", name, bucket)
        error = CommonServiceException(
            "InternalError",
            f"CSV Drop's local S3 could not save this write to its journal {journal.root} ({exc}); it would not "
            "survive a LocalStack crash. Free disk space or fix the folder's permissions, then retry.",
            status_code=500,
        )
        from localstack.aws.handlers import handle_service_exception

        failed = handle_service_exception.create_exception_response(error, context)
        if failed is not None:
            response.update_from(failed)
        else:
            response.status_code = 500
            response.set_response(str(error).encode())


class RestoreEndpoint:
    @route("/_csvdrop/s3/restore", methods=["POST"])
    def restore(self, _request: Request) -> Response:
        journal = _state["journal"]
        if journal is None:
            return Response.for_json({"buckets": [], "objects": 0, "skipped": 0, "journal": None})
        try:
            result = journal.restore()
        except Exception as exc:
            LOG.exception("csvdrop S3 journal restore failed")
            return Response.for_json({"error": f"restoring {journal.root} failed: {exc}"}, status=500)
        return Response.for_json({**result, "journal": journal.root})


@hooks.on_infra_start()
def csvdrop_durable_s3() -> None:
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    root = os.environ.get("CSVDROP_S3_JOURNAL_DIR", "").strip()
    if root:
        os.makedirs(root, exist_ok=True)
        _state["journal"] = Journal(root)
        handlers.run_custom_response_handlers.append(journal_s3_writes)
    ROUTER.add(RestoreEndpoint())
