"""`csvdrop reconcile`: S3 and the metadata store are brought back in line, both ways.

* An object without an up-to-date record (its event was lost) is sent through the function again.
* A live record whose object is gone (LocalStack lost it in a crash, or its deletion event never came) is
  marked MISSING by the function, whose record then says to upload the file again. The app cannot write the
  store (its database user reads only), so the function does it, and it looks at S3 itself first: an object
  uploaded since the listing below is not marked.

Safe to run any time: it only asks the function to process objects whose current ETag has no record, and
the function's store is idempotent, so a file processed meanwhile is not duplicated.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend import aws
from backend.config import Settings
from backend.errors import CsvDropError
from backend.files import reprocess_event
from backend.store import MetadataRecord, open_reader

MISSING_CHUNK = 100  # keys per synchronous csvdrop_missing invocation: one HEAD each, well inside a timeout


class ReconcileError(CsvDropError, RuntimeError):
    """The function could not mark the records of gone objects; the message says which and what to do."""


@dataclass(frozen=True)
class ReconcileReport:
    objects: int
    missing: int  # objects without an up-to-date record (the name predates gone records)
    redriven: int
    keys: tuple[str, ...]
    # Live records whose object is no longer in S3, and how many of them the function marked MISSING (a dry
    # run marks none; an object that came back between the listing and the function's look is not marked).
    gone_keys: tuple[str, ...] = ()
    marked_missing: int = 0

    @property
    def gone(self) -> int:
        return len(self.gone_keys)


@dataclass(frozen=True)
class ReconcilePlan:
    """What reconcile does, decided from an object listing and the store's change log alone."""

    to_redrive: tuple[str, ...]  # objects without a live record of their current ETag, or whose record is MISSING
    to_mark_missing: tuple[str, ...]  # live records (not MISSING yet) whose key has no object
    # Of to_redrive: keys whose record says MISSING, with that record's S3 sequencer. The object is back (the
    # same bytes uploaded again, the event lost): a plain event would lose to the record's own sequencer.
    revive: Mapping[str, str]


def plan(
    objects: Mapping[str, tuple[str, int]], records: Iterable[MetadataRecord], *, bucket: str, prefix: str
) -> ReconcilePlan:
    """``objects``: key -> (ETag, size) of every object under ``prefix``; ``records``: the change log, oldest
    change first (a later revival or tombstone overrides an earlier row of the key)."""
    live: dict[str, MetadataRecord] = {}
    for r in records:
        if r.bucket != bucket:
            continue
        # A tombstone is the record of an object that is gone: an object under that key now (uploaded again,
        # its event lost) has no live record and is re-driven; a tombstone without an object needs nothing.
        if r.deleted:
            live.pop(r.key, None)
        else:
            live[r.key] = r
    redrive: list[str] = []
    revive: dict[str, str] = {}
    for key, (etag, _size) in objects.items():
        record = live.get(key)
        if record is not None and record.status == "MISSING":
            redrive.append(key)
            # the stored ordering token is the padded sequencer then LastModified (16): hand back the first part
            revive[key] = record.sequencer[:-16] if len(record.sequencer) > 16 else ""
        elif record is None or record.etag != etag:
            redrive.append(key)
    # Only keys under the prefix: the listing saw nothing else, so nothing else can be said to be gone.
    gone = [k for k, r in live.items() if k not in objects and k.startswith(prefix) and r.status != "MISSING"]
    return ReconcilePlan(tuple(sorted(redrive)), tuple(sorted(gone)), revive)


def synthetic_event(bucket: str, key: str, etag: str, size: int) -> dict[str, object]:
    """The S3 ObjectCreated event shape the function handles (key URL-encoded as S3 sends it)."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "awsRegion": "",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {
                        "key": urllib.parse.quote_plus(key, safe="/"),
                        "eTag": etag,
                        "size": size,
                        "sequencer": "",
                    },
                },
            }
        ]
    }


def missing_event(bucket: str, keys: Sequence[str]) -> dict[str, object]:
    """The event asking the function to mark the records of these keys MISSING if their object is gone."""
    return {"csvdrop_missing": [{"bucket": bucket, "key": key} for key in keys]}


def marked_keys(bucket: str, keys: Sequence[str], function_error: str | None, body: bytes) -> list[str]:
    """The keys the function's answer to :func:`missing_event` says it marked; raises ReconcileError on a
    failure or an answer that is not one result per key."""
    where = f"{len(keys)} record(s) of s3://{bucket}/ (first: {keys[0]})" if keys else f"s3://{bucket}/"
    try:
        payload: Any = json.loads(body or b"null")
    except ValueError:
        payload = body.decode("utf-8", "replace")
    if function_error:
        what = (
            f"{payload.get('errorType') or function_error}: {payload.get('errorMessage') or 'no message'}"
            if isinstance(payload, Mapping)
            else f"{function_error}: {str(payload)[:200]}"
        )
        raise ReconcileError(
            f"The function failed while marking {where} as missing ({what}). Nothing else was changed; "
            "check `csvdrop setup` and run `csvdrop reconcile` again."
        )
    results = payload.get("results") if isinstance(payload, Mapping) else None
    if not isinstance(results, list) or not all(isinstance(r, Mapping) for r in results):
        raise ReconcileError(
            f"The function answered {str(payload)[:200]!r} when asked to mark {where} as missing: it is older "
            "than this app. Run `csvdrop setup` to deploy the current function, then `csvdrop reconcile` again."
        )
    asked = set(keys)
    return [
        str(r.get("key")) for r in results if r.get("marked") and r.get("bucket") == bucket and r.get("key") in asked
    ]


def _list_objects(settings: Settings) -> dict[str, tuple[str, int]]:
    s3 = aws.client(settings, "s3")
    objects: dict[str, tuple[str, int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.key_prefix):
        for obj in page.get("Contents", []):
            # Every object, as the trigger takes every upload under the prefix; "folders" (console
            # placeholders ending in "/") are not files, and the function skips them too.
            if not obj["Key"].endswith("/"):
                objects[obj["Key"]] = (str(obj["ETag"]).strip('"'), int(obj["Size"]))
    return objects


def _change_log(settings: Settings) -> list[MetadataRecord]:
    reader = open_reader(settings)
    try:
        records, cursor = reader.changed_since(None, summary=True)
        while True:
            more, cursor = reader.changed_since(cursor, summary=True)
            if not more:
                break
            records += more
    finally:
        reader.close()
    return records


def reconcile(
    settings: Settings, *, dry_run: bool = False, on_message: Callable[[str], None] | None = None
) -> ReconcileReport:
    say = on_message or (lambda _m: None)
    # Objects first, records second: a record written after the listing names an object the listing may
    # miss, and the function's own look at S3 keeps that one from being marked.
    objects = _list_objects(settings)
    todo = plan(objects, _change_log(settings), bucket=settings.bucket, prefix=settings.key_prefix)
    redriven = 0
    marked = 0
    if dry_run:
        for key in todo.to_mark_missing:
            say(f"gone: s3://{settings.bucket}/{key} (its record would be marked MISSING)")
    else:
        lam = aws.client(settings, "lambda") if todo.to_redrive or todo.to_mark_missing else None
        for key in todo.to_redrive:
            etag, size = objects[key]
            event: dict[str, Any]
            if key in todo.revive:
                event = reprocess_event(settings.bucket, [(key, etag, todo.revive[key])])
            else:
                event = synthetic_event(settings.bucket, key, etag, size)
            assert lam is not None
            lam.invoke(FunctionName=settings.function_name, InvocationType="Event", Payload=json.dumps(event).encode())
            redriven += 1
            say(f"re-processing s3://{settings.bucket}/{key}")
        for start in range(0, len(todo.to_mark_missing), MISSING_CHUNK):
            chunk = todo.to_mark_missing[start : start + MISSING_CHUNK]
            assert lam is not None
            response = lam.invoke(
                FunctionName=settings.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(missing_event(settings.bucket, chunk)).encode(),
            )
            done = marked_keys(settings.bucket, chunk, response.get("FunctionError"), response["Payload"].read())
            marked += len(done)
            for key in done:
                say(f"marked MISSING s3://{settings.bucket}/{key} (the object is gone)")
    return ReconcileReport(len(objects), len(todo.to_redrive), redriven, todo.to_redrive, todo.to_mark_missing, marked)


def describe_gone(report: ReconcileReport, *, dry_run: bool = False) -> str:
    """The line that tells the user about records of gone objects ("" when there are none)."""
    if not report.gone:
        return ""
    records = (
        "1 record points at an object that is gone"
        if report.gone == 1
        else (f"{report.gone} records point at objects that are gone")
    )
    again = "upload it again" if report.gone == 1 else "upload them again"
    if dry_run:
        return f"{records}: would be marked MISSING ({again})"
    if report.marked_missing == report.gone:
        return f"{records}: marked MISSING ({again})"
    return (
        f"{records}: {report.marked_missing} marked MISSING ({again}); the others are back in S3 "
        "or were changed meanwhile"
    )
