"""S3 ObjectCreated -> CSV metadata -> metadata store -> SNS notice; S3 ObjectRemoved -> a tombstone.

An event with a top-level ``"csvdrop_reprocess": true`` (`csvdrop reprocess KEY` invokes the function with
one) profiles the object again and stores the result even though the stored record has the same sequencer
and ETag, so its revision moves and a notice goes out. A deletion sends no notice: readers learn of it from
"changed since" (the tombstone's new revision).

Configured by environment (set by `csvdrop setup`): DB_SECRET_ARN, METADATA_STORE (mysql | dynamodb),
DYNAMODB_TABLE, TOPIC_ARN, MAX_OBJECT_BYTES.

Failure policy: a file that is not a usable CSV becomes a FAILED record and a failure notice (the invocation
succeeds: retrying would not help). An infrastructure failure (database down, S3 unreachable) raises, so the
asynchronous invocation is retried by Lambda and, after its retries, kept by the failure destination;
`csvdrop reconcile` re-drives anything still missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
import traceback
import urllib.parse
from typing import Any

import boto3
import csv_metadata
import store_writer
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

_CHUNK = 1024 * 1024
_clients: dict[str, Any] = {}
_writer: Any = None


def _client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def _writer_for_env() -> Any:
    global _writer  # noqa: PLW0603 - one store connection per warm execution environment
    if _writer is None:
        _writer = store_writer.open_writer(os.environ)
    return _writer


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcomes = []
    reprocess = event.get("csvdrop_reprocess") is True
    for record in event.get("Records", []):
        name = str(record.get("eventName", ""))
        if record.get("eventSource") != "aws:s3" or not name.startswith(("ObjectCreated", "ObjectRemoved")):
            continue
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        # S3 event keys are URL-encoded with '+' for spaces.
        key = urllib.parse.unquote_plus(s3["object"]["key"])
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
            etag=str(s3["object"].get("eTag") or s3["object"].get("etag") or "").strip('"'),
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


def process_object(bucket: str, key: str, *, etag: str, sequencer: str, reprocess: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        # IfMatch: an old event must not profile a newer object under the same key (its own event follows).
        response = _client("s3").get_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412", "NoSuchKey", "404"):
            LOG.info("skipping %s/%s: %s (object replaced or deleted since this event)", bucket, key, code)
            return {"bucket": bucket, "key": key, "skipped": code}
        raise
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
    limit = int(os.environ.get("MAX_OBJECT_BYTES", str(200 * 1024 * 1024)))
    try:
        if size > limit:
            raise csv_metadata.CsvProfileError(
                f"The file is {size / 1e6:.1f} MB, above this function's limit of {limit / 1e6:.0f} MB "
                "(MAX_OBJECT_BYTES). Split it, or raise the limit and the function's memory."
            )
        data, sha256 = _read_body(response["Body"])
        record["sha256"] = sha256
        record.update(csv_metadata.profile_csv(data))
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
    record["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)

    try:
        stored = _writer_for_env().upsert(record, reprocess=reprocess)
    except Exception:
        # The exception's own message may not name the file (e.g. "cannot connect"): say which one failed.
        LOG.error("could not store the record of s3://%s/%s; the invocation fails and is retried", bucket, key)
        raise
    if stored:
        publish_notice(record)
    LOG.info(
        "%s %s/%s rows=%s stored=%s in %.1f ms",
        record["status"],
        bucket,
        key,
        record.get("row_count"),
        stored,
        record["duration_ms"],
    )
    return {"bucket": bucket, "key": key, "status": record["status"], "stored": stored}


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


def publish_notice(record: dict[str, Any]) -> None:
    topic = os.environ.get("TOPIC_ARN")
    if not topic:
        return
    notice = notice_for(record)
    count = notice["warnings_count"]
    if record["status"] != "PROCESSED":
        verb = "FAILED"
    elif count:
        verb = f"processed with {count} warning{'s' if count != 1 else ''}"
    else:
        verb = "processed"
    _client("sns").publish(
        TopicArn=topic,
        Subject=_ascii_subject(f"CSV {verb}: {record['file_name']}"),
        # Machines (the app's SQS queue) get JSON; people (email subscriptions) get a sentence.
        MessageStructure="json",
        Message=json.dumps({"default": json.dumps(notice), "email": email_summary(record)}),
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": record["status"]},
            "warnings_count": {"DataType": "Number", "StringValue": str(count)},
            "bucket": {"DataType": "String", "StringValue": record["bucket"]},
            "file_extension": {
                "DataType": "String",
                "StringValue": (record["file_name"].rsplit(".", 1)[-1].lower() or "none")[:32],
            },
        },
    )
