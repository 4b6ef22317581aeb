"""S3 ObjectCreated -> CSV metadata -> metadata store -> SNS notice; S3 ObjectRemoved -> a tombstone.

Three kinds of event:

* S3 notifications invoking the function directly (asynchronously): ``{"Records": [{"eventSource": "aws:s3",
  ...}]}``, each record handled and stored on its own;
* an SQS batch (the queue trigger): ``{"Records": [{"eventSource": "aws:sqs", "messageId", "body",
  "attributes": {"ApproximateReceiveCount"}}, ...]}``, each body an S3 notification (S3's ``s3:TestEvent``
  is ignored). Every object of the batch is read and profiled, the records are stored in ONE transaction
  (``Writer.upsert_many``), and the notices go out with SNS PublishBatch; the answer is
  ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}`` (the trigger's ReportBatchItemFailures);
* ``{"csvdrop_missing": [{"bucket", "key"}, ...]}`` (`csvdrop reconcile`): each key whose object S3 no longer
  has gets its record marked MISSING; the answer is ``{"results": [{"bucket", "key", "missing", "marked"}]}``.

An event with a top-level ``"csvdrop_reprocess": true`` (`csvdrop reprocess KEY` invokes the function with
one) profiles the object again and stores the result even though the stored record has the same sequencer
and ETag, so its revision moves and a notice goes out. A deletion sends no notice: readers learn of it from
"changed since" (the tombstone's new revision); neither does marking a record MISSING.

Configured by environment (set by `csvdrop setup`): DB_SECRET_ARN, METADATA_STORE (mysql | dynamodb),
DYNAMODB_TABLE, TOPIC_ARN, MAX_OBJECT_BYTES, MAX_RECEIVES (the queue's maxReceiveCount, default 3).

Failure policy: a file that is not a usable CSV becomes a FAILED record and a failure notice (the invocation
succeeds: retrying would not help). Direct invocations: an infrastructure failure (database down, S3
unreachable) raises, so the asynchronous invocation is retried by Lambda and, after its retries, kept by the
failure destination; `csvdrop reconcile` re-drives anything still missing.
Queue mode: a record that cannot be read or stored (the database refuses it, S3 refuses the read) fails only
its own message, listed in batchItemFailures, so SQS delivers that message again and the rest of the batch is
done. On the message's last delivery (ApproximateReceiveCount >= MAX_RECEIVES) such a record is stored instead
as a FAILED record, "Could not be stored after N attempts: <reason>", so the file shows up as failed, and the
message is still reported, so SQS moves it to the dead-letter queue. When the store cannot be reached at all,
the invocation raises and the whole batch returns to the queue. A notice that cannot be sent is logged: the
record is stored, and a redelivery would find it a duplicate and send nothing either.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import email.utils
import hashlib
import json
import logging
import os
import threading
import time
import traceback
import urllib.parse
from typing import Any

import boto3
import botocore.session
import botocore.utils
import csv_metadata
import store_writer
from botocore.config import Config
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

_CHUNK = 1024 * 1024
_clients: dict[str, Any] = {}
_boto: Any = None
_clients_lock = threading.Lock()
_writer: Any = None


def _parse_timestamp(value: Any) -> dt.datetime:
    # S3 sends LastModified as an HTTP date ("Wed, 12 Oct 2009 17:50:00 GMT"). botocore parses every timestamp
    # with dateutil, ~0.4 ms of the function's CPU per GetObject; the standard library's parser takes a tenth.
    if isinstance(value, str) and value.endswith(" GMT"):
        try:
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
    return botocore.utils.parse_timestamp(value)


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_parse_timestamp)
    return boto3.session.Session(botocore_session=core)


# The function hashes every body it reads (SHA-256, stored with the record), so botocore's own CRC check of each
# GetObject body is only asked for where an API requires it.
_CLIENT_CONFIG = Config(response_checksum_validation="when_required")


def _client(name: str) -> Any:
    found = _clients.get(name)
    if found is None:
        # The batch's read-ahead threads ask for the S3 client too, and boto3 sessions are not thread-safe.
        with _clients_lock:
            global _boto  # noqa: PLW0603 - one session per warm execution environment
            if _boto is None:
                _boto = _session()
            found = _clients.get(name) or _boto.client(name, config=_CLIENT_CONFIG)
            _clients[name] = found
    return found


def _writer_for_env() -> Any:
    global _writer  # noqa: PLW0603 - one store connection per warm execution environment
    if _writer is None:
        _writer = store_writer.open_writer(os.environ)
    return _writer


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "csvdrop_missing" in event:
        return mark_missing_objects(list(event.get("csvdrop_missing") or []))
    if any(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in event.get("Records") or []):
        messages = event["Records"]
        try:
            answer = handle_sqs_batch(messages)
        except Exception:
            retry_soon(messages)
            raise
        failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
        retry_soon([m for m in messages if m.get("messageId") in failed])
        return answer
    outcomes = []
    reprocess = event.get("csvdrop_reprocess") is True
    for record in event.get("Records", []):
        name = str(record.get("eventName", ""))
        if record.get("eventSource") != "aws:s3" or not name.startswith(("ObjectCreated", "ObjectRemoved")):
            continue
        s3 = record["s3"]
        bucket, key = _location_of(record)
        if name.startswith("ObjectRemoved"):
            if not key.endswith("/"):
                outcomes.append(
                    remove_object(bucket, key, sequencer=str(s3["object"].get("sequencer") or ""), event=record)
                )
            continue
        if key.endswith("/"):
            # The trigger takes every object under the prefix; a "folder" (an S3 console placeholder) is not a file.
            LOG.info("skipping %s/%s: a folder placeholder, not a file", bucket, key)
            outcomes.append({"bucket": bucket, "key": key, "skipped": "folder"})
            continue
        outcome = process_object(
            bucket,
            key,
            etag=_etag_of(record),
            sequencer=str(s3["object"].get("sequencer") or ""),
            reprocess=reprocess,
        )
        outcomes.append(outcome)
    return {"results": outcomes}


def _event_time(record: dict[str, Any]) -> dt.datetime:
    text = str(record.get("eventTime") or "")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def remove_object(bucket: str, key: str, *, sequencer: str, event: dict[str, Any]) -> dict[str, Any]:
    """Marks the key's record deleted, unless the object exists again (a newer upload, whose own event
    replaces the record) or the stored record is newer than this deletion (the writer's ordering rule)."""
    try:
        _client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        # Without s3:ListBucket, S3 answers a missing key with 403: the sequencer rule then decides alone
        # (on AWS it is authoritative; the existence check is for emulators' constant sequencers).
        if code not in ("NoSuchKey", "404", "NotFound", "403", "AccessDenied", "Forbidden"):
            raise
    else:
        LOG.info("not deleting the record of %s/%s: the object exists again", bucket, key)
        return {"bucket": bucket, "key": key, "skipped": "exists"}
    # The deletion's time stands in for LastModified: after the deleted object's, before a later upload's.
    token = ordering_token(sequencer, _event_time(event))
    try:
        deleted = _writer_for_env().delete(bucket, key, token)
    except Exception:
        LOG.error("could not mark the record of s3://%s/%s deleted; the invocation fails and is retried", bucket, key)
        raise
    LOG.info("DELETED %s/%s tombstone=%s", bucket, key, deleted)
    return {"bucket": bucket, "key": key, "deleted": deleted}


class ObjectSkipped(Exception):
    """The event's object is not there to profile (replaced or deleted since the event): nothing to store."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclasses.dataclass(frozen=True)
class FetchedObject:
    """An object as read from S3: GetObject's answer (its body consumed), the bytes and their SHA-256, or why
    reading the body failed (that is a FAILED record, as a file that cannot be parsed is)."""

    response: dict[str, Any]
    data: bytes | None
    sha256: str | None
    read_error: Exception | None
    started: float  # perf_counter when the read began: the record's duration_ms counts from it


def _max_object_bytes() -> int:
    return int(os.environ.get("MAX_OBJECT_BYTES", str(200 * 1024 * 1024)))


def fetch_object(bucket: str, key: str, *, etag: str) -> FetchedObject:
    """Reads the object (not its body when it is over MAX_OBJECT_BYTES). Raises ObjectSkipped when the event's
    version is gone, ClientError when S3 refuses the read."""
    started = time.perf_counter()
    try:
        # IfMatch: an old event must not profile a newer object under the same key (its own event follows).
        response = _client("s3").get_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412", "NoSuchKey", "404"):
            LOG.info("skipping %s/%s: %s (object replaced or deleted since this event)", bucket, key, code)
            raise ObjectSkipped(code) from exc
        raise
    if int(response.get("ContentLength", 0)) > _max_object_bytes():
        response["Body"].close()
        return FetchedObject(response, None, None, None, started)
    try:
        data, sha256 = _read_body(response["Body"])
    except Exception as exc:  # a body cut off mid-way is still a record, never a lost file
        return FetchedObject(response, None, None, exc, started)
    return FetchedObject(response, data, sha256, None, started)


def profile_object(
    bucket: str, key: str, *, etag: str, sequencer: str, fetched: FetchedObject | None = None
) -> dict[str, Any]:
    """Reads the object (unless ``fetched`` already holds it) and profiles it: the record to store (PROCESSED,
    or FAILED when the file is not a usable CSV). Raises ObjectSkipped when the event's version is gone,
    ClientError when S3 refuses the read."""
    if fetched is None:
        fetched = fetch_object(bucket, key, etag=etag)
    response = fetched.response
    size = int(response.get("ContentLength", 0))
    record: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "file_name": key.rsplit("/", 1)[-1],
        "size_bytes": size,
        "etag": str(response.get("ETag", etag)).strip('"'),
        "sequencer": ordering_token(sequencer, response["LastModified"]),
        "uploaded_at": _iso(response["LastModified"]),
    }
    limit = _max_object_bytes()
    try:
        if size > limit:
            raise csv_metadata.CsvProfileError(
                f"The file is {size / 1e6:.1f} MB, above this function's limit of {limit / 1e6:.0f} MB "
                "(MAX_OBJECT_BYTES). Split it, or raise the limit and the function's memory."
            )
        if fetched.read_error is not None:
            raise fetched.read_error
        record["sha256"] = fetched.sha256
        record.update(csv_metadata.profile_csv(fetched.data or b""))
        record.update(status="PROCESSED", error=None)
    except csv_metadata.CsvProfileError as exc:
        record.update(status="FAILED", error=str(exc), **failed_defaults())
    except Exception as exc:  # an unexpected parser failure is still a record, never a lost file
        LOG.error("profiling %s/%s failed:\n%s", bucket, key, traceback.format_exc())
        record.update(
            status="FAILED", error=f"Could not read the file as CSV ({type(exc).__name__}: {exc}).", **failed_defaults()
        )
    record.setdefault("sha256", None)
    record["processed_at"] = _iso(dt.datetime.now(dt.UTC))
    record["duration_ms"] = round((time.perf_counter() - fetched.started) * 1000, 2)
    return record


# Reads of a batch's objects run ahead of its profiling, up to this many bytes (by the sizes in the events)
# beyond the object being profiled: the function's waits on S3 overlap its CPU work instead of adding to it.
READ_AHEAD_BYTES = 32 * 1024 * 1024
_READERS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-read")


class ReadAhead:
    """Starts the reads of ``wanted`` ((bucket, key, etag, size) in the order they will be taken) in the
    background, keeping at most READ_AHEAD_BYTES (and at least one read) under way or waiting to be taken."""

    def __init__(self, wanted: list[tuple[str, str, str, int]]) -> None:
        self._wanted = wanted
        self._futures: dict[tuple[str, str, str], concurrent.futures.Future[FetchedObject]] = {}
        self._sizes: dict[tuple[str, str, str], int] = {}
        self._next = 0
        self._held = 0
        self._start_more()

    def _start_more(self) -> None:
        while self._next < len(self._wanted):
            bucket, key, etag, size = self._wanted[self._next]
            if self._futures and self._held + size > READ_AHEAD_BYTES:
                return
            ident = (bucket, key, etag)
            if ident not in self._futures:  # the same version twice in a batch: one read
                self._futures[ident] = _READERS.submit(fetch_object, bucket, key, etag=etag)
                self._sizes[ident] = size
                self._held += size
            self._next += 1

    def take(self, bucket: str, key: str, etag: str) -> FetchedObject:
        """The object's read (raising what the read raised); read now when it was not started."""
        ident = (bucket, key, etag)
        future = self._futures.pop(ident, None)
        if future is None:
            return fetch_object(bucket, key, etag=etag)
        self._held -= self._sizes.pop(ident)
        try:
            return future.result()
        finally:
            self._start_more()

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()


def _log_stored(record: dict[str, Any], stored: bool) -> None:
    LOG.info(
        "%s %s/%s rows=%s stored=%s in %.1f ms",
        record["status"],
        record["bucket"],
        record["key"],
        record.get("row_count"),
        stored,
        record["duration_ms"],
    )


def process_object(bucket: str, key: str, *, etag: str, sequencer: str, reprocess: bool = False) -> dict[str, Any]:
    try:
        record = profile_object(bucket, key, etag=etag, sequencer=sequencer)
    except ObjectSkipped as skipped:
        return {"bucket": bucket, "key": key, "skipped": skipped.code}
    try:
        stored = _writer_for_env().upsert(record, reprocess=reprocess)
    except Exception:
        # The exception's own message may not name the file (e.g. "cannot connect"): say which one failed.
        LOG.error("could not store the record of s3://%s/%s; the invocation fails and is retried", bucket, key)
        raise
    if stored:
        publish_notice(record)
    _log_stored(record, stored)
    return {"bucket": bucket, "key": key, "status": record["status"], "stored": stored}


# ---------------------------------------------------------------------------------------------- queue mode
_PUBLISH_BATCH_ENTRIES = 10  # SNS PublishBatch's limit per call
_PUBLISH_BATCH_BYTES = 256 * 1024  # and its limit on the call's messages together


# A failed message comes back after 5 s, 10 s, 20 s ... (at most 5 minutes) instead of after the queue's
# visibility timeout, which is sized for a slow file (6 x the function's timeout, AWS's guidance: 6 minutes by
# default), not for a database that restarts. On its last delivery it comes back at once, to go to the DLQ.
RETRY_BASE_S = 5
RETRY_MAX_S = 300
_queue_urls: dict[str, str] = {}


def _deliveries(message: dict[str, Any]) -> int:
    """How many times SQS has handed this message out (1 on its first delivery)."""
    try:
        return int((message.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
    except (TypeError, ValueError):
        return 1


def retry_delay(receives: int, max_receives: int) -> int:
    if receives >= max_receives:
        return 0
    return int(min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, receives - 1)))


def _queue_url(arn: str) -> str:
    if arn not in _queue_urls:
        _region, account, name = arn.split(":")[3:6]
        _queue_urls[arn] = str(_client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
    return _queue_urls[arn]


def retry_soon(messages: list[dict[str, Any]]) -> None:
    """Makes failed messages visible again after retry_delay (ChangeMessageVisibilityBatch); on any error the
    queue's own visibility timeout applies, so nothing is lost, only later."""
    max_receives = _max_receives()
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if message.get("receiptHandle") and str(message.get("eventSourceARN", "")).startswith("arn:aws:sqs:"):
            by_queue.setdefault(str(message["eventSourceARN"]), []).append(message)
    for arn, batch in by_queue.items():
        try:
            url = _queue_url(arn)
            for first in range(0, len(batch), 10):
                entries = [
                    {
                        "Id": str(i),
                        "ReceiptHandle": message["receiptHandle"],
                        "VisibilityTimeout": retry_delay(_deliveries(message), max_receives),
                    }
                    for i, message in enumerate(batch[first : first + 10])
                ]
                _client("sqs").change_message_visibility_batch(QueueUrl=url, Entries=entries)
        except Exception as exc:
            LOG.warning(
                "could not shorten the retry delay of %d messages (%s); the queue's own applies", len(batch), exc
            )


def _max_receives() -> int:
    try:
        return max(1, int(os.environ.get("MAX_RECEIVES") or 3))
    except ValueError:
        return 3


def _s3_records_of(body: str) -> list[dict[str, Any]]:
    """The S3 event records in an SQS message body: an S3 notification, possibly wrapped by SNS (S3 -> SNS ->
    SQS). S3's test event (sent when a notification is configured) has none. Raises ValueError when the body
    is not an S3 notification at all."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get("Type") == "Notification" and "Message" in message:
            message = json.loads(message["Message"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the message body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ValueError("the message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise ValueError("the message body is not an S3 event notification (no Records)")
    return [r for r in records if isinstance(r, dict) and r.get("eventSource") == "aws:s3"]


def _unreadable_record(s3_record: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """A record for an object that could not even be read: what the event says about it."""
    obj = s3_record["s3"]["object"]
    moment = _event_time(s3_record)
    return {
        "bucket": bucket,
        "key": key,
        "file_name": key.rsplit("/", 1)[-1],
        "size_bytes": int(obj.get("size") or 0),
        "etag": _etag_of(s3_record),
        "sequencer": ordering_token(str(obj.get("sequencer") or ""), moment),
        "uploaded_at": _iso(moment),
        "processed_at": _iso(dt.datetime.now(dt.UTC)),
        "duration_ms": 0.0,
    }


def _as_failed(record: dict[str, Any], error: str) -> dict[str, Any]:
    """The FAILED record stored in place of one that could not be stored: the object's identity only, since
    its profile may be what the store refused."""
    keep = ("bucket", "key", "file_name", "size_bytes", "etag", "sha256", "sequencer", "uploaded_at")
    return {
        **{k: record.get(k) for k in keep},
        "processed_at": record.get("processed_at") or _iso(dt.datetime.now(dt.UTC)),
        "duration_ms": record.get("duration_ms") or 0.0,
        "status": "FAILED",
        "error": error,
        **failed_defaults(),
    }


def handle_sqs_batch(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The queue trigger's batch (see the module docstring): {"batchItemFailures": [{"itemIdentifier"}]}."""
    max_receives = _max_receives()
    failed: dict[str, None] = {}  # the failed messages' ids, in order, each once

    receives: dict[str, int] = {}
    batch: list[tuple[str, list[dict[str, Any]]]] = []  # (messageId, its S3 records)
    for message in messages:
        message_id = str(message.get("messageId") or "")
        receives[message_id] = _deliveries(message)
        try:
            batch.append((message_id, _s3_records_of(str(message.get("body") or ""))))
        except ValueError as exc:
            LOG.error("message %s is not an S3 event notification (%s); it fails", message_id, exc)
            failed[message_id] = None
    reads = ReadAhead(_reads_of(batch))
    try:
        return _handle_batch(batch, reads, receives=receives, max_receives=max_receives, failed=failed)
    finally:
        reads.close()


def _reads_of(batch: list[tuple[str, list[dict[str, Any]]]]) -> list[tuple[str, str, str, int]]:
    """(bucket, key, etag, size) of each object the batch will profile, in order (a malformed record is left
    to the batch's own handling)."""
    wanted = []
    for _, s3_records in batch:
        for s3_record in s3_records:
            try:
                bucket, key = _location_of(s3_record)
                if str(s3_record.get("eventName", "")).startswith("ObjectCreated") and not key.endswith("/"):
                    size = int(s3_record["s3"]["object"].get("size") or 0)
                    wanted.append((bucket, key, _etag_of(s3_record), size))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
    return wanted


def _location_of(s3_record: dict[str, Any]) -> tuple[str, str]:
    """(bucket, key) of an S3 event record; event keys are URL-encoded with '+' for spaces."""
    s3 = s3_record["s3"]
    return str(s3["bucket"]["name"]), urllib.parse.unquote_plus(s3["object"]["key"])


def _etag_of(s3_record: dict[str, Any]) -> str:
    obj = s3_record["s3"]["object"]
    return str(obj.get("eTag") or obj.get("etag") or "").strip('"')


def _handle_batch(
    batch: list[tuple[str, list[dict[str, Any]]]],
    reads: ReadAhead,
    *,
    receives: dict[str, int],
    max_receives: int,
    failed: dict[str, None],
) -> dict[str, Any]:
    pending: list[tuple[str, dict[str, Any]]] = []  # (messageId, profiled record) to store together
    last_chances: list[tuple[str, dict[str, Any], str]] = []  # (messageId, record, why it could not be stored)
    for message_id, s3_records in batch:
        for s3_record in s3_records:
            name = str(s3_record.get("eventName", ""))
            s3 = s3_record["s3"]
            bucket, key = _location_of(s3_record)
            sequencer = str(s3["object"].get("sequencer") or "")
            if key.endswith("/"):
                LOG.info("skipping %s/%s: a folder placeholder, not a file", bucket, key)
                continue
            if name.startswith("ObjectRemoved"):
                try:
                    remove_object(bucket, key, sequencer=sequencer, event=s3_record)
                except Exception as exc:
                    LOG.error(
                        "message %s fails: could not record the deletion of s3://%s/%s: %s",
                        message_id,
                        bucket,
                        key,
                        exc,
                    )
                    failed[message_id] = None
                continue
            if not name.startswith("ObjectCreated"):
                continue
            etag = _etag_of(s3_record)
            try:
                fetched = reads.take(bucket, key, etag)
                pending.append(
                    (message_id, profile_object(bucket, key, etag=etag, sequencer=sequencer, fetched=fetched))
                )
            except ObjectSkipped:
                continue
            except Exception as exc:
                # S3 refused this one read (the whole batch is not lost for it): the message is delivered again.
                reason = f"reading it from S3 failed: {exc}"
                LOG.error("message %s fails: could not read s3://%s/%s: %s", message_id, bucket, key, exc)
                failed[message_id] = None
                if receives[message_id] >= max_receives:
                    last_chances.append((message_id, _unreadable_record(s3_record, bucket, key), reason))

    notices: list[dict[str, Any]] = []
    if pending:
        writer = _writer_for_env()
        try:
            results = writer.upsert_many([record for _, record in pending])
        except Exception:
            LOG.error("could not store the batch's %d records; the whole batch returns to the queue", len(pending))
            raise
        for (message_id, record), result in zip(pending, results, strict=True):
            if isinstance(result, Exception):
                LOG.error(
                    "message %s fails: could not store the record of s3://%s/%s (delivery %d of %d): %s",
                    message_id,
                    record["bucket"],
                    record["key"],
                    receives[message_id],
                    max_receives,
                    result,
                )
                failed[message_id] = None
                if receives[message_id] >= max_receives:
                    last_chances.append((message_id, record, str(result)))
                continue
            if result:
                notices.append(record)
            _log_stored(record, result)

    if last_chances:
        notices.extend(_store_last_chances(last_chances, receives))
    publish_notices(notices)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _store_last_chances(
    last_chances: list[tuple[str, dict[str, Any], str]], receives: dict[str, int]
) -> list[dict[str, Any]]:
    """Stores FAILED records for the records of messages on their last delivery, in a transaction of their
    own; the stored ones (to notify). Their messages stay failed: SQS moves them to the dead-letter queue."""
    failed = [
        _as_failed(record, f"Could not be stored after {receives[message_id]} attempts: {reason}")
        for message_id, record, reason in last_chances
    ]
    try:
        results = _writer_for_env().upsert_many(failed)
    except Exception as exc:
        # The batch's other records are stored already: raising would only send them round again.
        LOG.error("could not store the FAILED records of %d files on their last delivery: %s", len(failed), exc)
        return []
    stored = []
    for record, result in zip(failed, results, strict=True):
        if isinstance(result, Exception):
            LOG.error("could not store s3://%s/%s even as FAILED: %s", record["bucket"], record["key"], result)
            continue
        _log_stored(record, result)
        if result:
            stored.append(record)
    return stored


# ---------------------------------------------------------------------------------------------- lost objects
def _object_exists(bucket: str, key: str) -> bool:
    try:
        _client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        # Without s3:ListBucket S3 answers a missing key with 403; the role may read every object under the
        # bucket (s3:GetObject), so a 403 here means the object is not there.
        if code in ("NoSuchKey", "404", "NotFound", "403", "AccessDenied", "Forbidden"):
            return False
        raise
    return True


def mark_missing_objects(items: list[Any]) -> dict[str, Any]:
    """For each {"bucket", "key"}: when S3 no longer has the object, its live record is marked MISSING."""
    results = []
    for item in items:
        bucket, key = str(item["bucket"]), str(item["key"])
        if _object_exists(bucket, key):
            LOG.info("not marking s3://%s/%s missing: the object exists", bucket, key)
            results.append({"bucket": bucket, "key": key, "missing": False, "marked": False})
            continue
        try:
            marked = bool(_writer_for_env().mark_missing(bucket, key))
        except Exception:
            LOG.error("could not mark the record of s3://%s/%s missing; the invocation fails", bucket, key)
            raise
        LOG.info("MISSING %s/%s marked=%s", bucket, key, marked)
        results.append({"bucket": bucket, "key": key, "missing": True, "marked": marked})
    return {"results": results}


def failed_defaults() -> dict[str, Any]:
    """The contract-v2 keys of a FAILED record: nothing is known about the file's layout, and nothing was
    worked around."""
    return {
        "header_line": None,
        "skipped_lines": None,
        "escape_char": None,
        "double_quote": None,
        "skip_initial_space": None,
        "warnings": [],
    }


def _read_body(body: Any) -> tuple[bytes, str]:
    """Streams the object into memory once, hashing as it goes (nothing is written to /tmp)."""
    digest = hashlib.sha256()
    chunks = []
    for chunk in iter(lambda: body.read(_CHUNK), b""):
        digest.update(chunk)
        chunks.append(chunk)
    return b"".join(chunks), digest.hexdigest()


def ordering_token(sequencer: str, last_modified: dt.datetime) -> str:
    """Orders events of one key: S3's sequencer first (authoritative on AWS), then LastModified.

    Fixed width (32 + 16 hex digits) so string order is numeric order. Emulators send a constant or no
    sequencer (LocalStack does), and LastModified then decides; the store lets an equal token with a
    different ETag win, because the IfMatch read guarantees the bytes were current when read.
    """
    micros = int(last_modified.timestamp() * 1_000_000)
    return f"{sequencer.upper().strip():0>32}{micros:016X}"


def _warnings_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in record.get("warnings") or [] if isinstance(w, dict)]


def warning_codes(record: dict[str, Any]) -> list[str]:
    """The distinct warning codes of a record, in the order they first occur."""
    return list(dict.fromkeys(str(w.get("code") or "warning") for w in _warnings_of(record)))


def notice_for(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "csvdrop.metadata",
        "bucket": record["bucket"],
        "key": record["key"],
        "file_name": record["file_name"],
        "status": record["status"],
        "row_count": record.get("row_count"),
        "column_count": record.get("column_count"),
        "size_bytes": record.get("size_bytes"),
        "error": record.get("error"),
        "warnings_count": len(_warnings_of(record)),
        "warning_codes": warning_codes(record),
        "sequencer": record.get("sequencer"),
        "processed_at": record.get("processed_at"),
    }


_EMAIL_WARNINGS = 5  # warnings spelled out in an email; the rest are counted


def _lines_text(lines: list[Any]) -> str:
    numbers = [int(n) for n in lines if isinstance(n, int)]
    if not numbers:
        return ""
    shown = ", ".join(map(str, numbers[:10])) + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
    return f" (line{'s' if len(numbers) > 1 else ''} {shown})"


def email_summary(record: dict[str, Any]) -> str:
    """The sentence people get (email subscriptions)."""
    name = record["file_name"]
    if record["status"] != "PROCESSED":
        return f"{name}: {record.get('error')}"
    summary = f"{name}: {record.get('row_count')} rows x {record.get('column_count')} columns"
    warnings = _warnings_of(record)
    if not warnings:
        return summary
    listed = "; ".join(
        f"{w.get('message') or w.get('code')}{_lines_text(list(w.get('lines') or []))}"
        for w in warnings[:_EMAIL_WARNINGS]
    )
    more = f"; and {len(warnings) - _EMAIL_WARNINGS} more" if len(warnings) > _EMAIL_WARNINGS else ""
    count = f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
    return f"{summary}, processed with {count}: {listed}{more}"


def _ascii_subject(text: str) -> str:
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return cleaned[:99]


def _notice_message(record: dict[str, Any]) -> dict[str, Any]:
    """One notice's Subject, MessageStructure, Message and MessageAttributes (Publish and PublishBatch)."""
    notice = notice_for(record)
    count = notice["warnings_count"]
    if record["status"] != "PROCESSED":
        verb = "FAILED"
    elif count:
        verb = f"processed with {count} warning{'s' if count != 1 else ''}"
    else:
        verb = "processed"
    return {
        "Subject": _ascii_subject(f"CSV {verb}: {record['file_name']}"),
        # Machines (the app's SQS queue) get JSON; people (email subscriptions) get a sentence.
        "MessageStructure": "json",
        "Message": json.dumps({"default": json.dumps(notice), "email": email_summary(record)}),
        "MessageAttributes": {
            "status": {"DataType": "String", "StringValue": record["status"]},
            "warnings_count": {"DataType": "Number", "StringValue": str(count)},
            "bucket": {"DataType": "String", "StringValue": record["bucket"]},
            "file_extension": {
                "DataType": "String",
                "StringValue": (record["file_name"].rsplit(".", 1)[-1].lower() or "none")[:32],
            },
        },
    }


def publish_notice(record: dict[str, Any]) -> None:
    topic = os.environ.get("TOPIC_ARN")
    if not topic:
        return
    _client("sns").publish(TopicArn=topic, **_notice_message(record))


def _entry_bytes(entry: dict[str, Any]) -> int:
    attributes = entry["MessageAttributes"]
    return len(entry["Message"].encode()) + sum(
        len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        for name, value in attributes.items()
    )


def publish_notices(records: list[dict[str, Any]]) -> None:
    """The notices of a batch's stored records, by SNS PublishBatch (10 entries, 256 KB per call). A notice
    that cannot be sent is logged, not raised: its record is stored (see the module docstring)."""
    topic = os.environ.get("TOPIC_ARN")
    if not topic or not records:
        return
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for index, record in enumerate(records):
        entry = {"Id": f"n{index}", **_notice_message(record)}
        entry_size = _entry_bytes(entry)
        if chunks[-1] and (len(chunks[-1]) == _PUBLISH_BATCH_ENTRIES or size + entry_size > _PUBLISH_BATCH_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    names = {f"n{index}": f"s3://{r['bucket']}/{r['key']}" for index, r in enumerate(records)}
    for chunk in chunks:
        try:
            response = _client("sns").publish_batch(TopicArn=topic, PublishBatchRequestEntries=chunk)
        except Exception as exc:
            LOG.error("could not send the notices of %s: %s", ", ".join(names[e["Id"]] for e in chunk), exc)
            continue
        for failure in response.get("Failed") or []:
            LOG.error(
                "could not send the notice of %s: %s %s",
                names.get(str(failure.get("Id")), failure.get("Id")),
                failure.get("Code"),
                failure.get("Message"),
            )
