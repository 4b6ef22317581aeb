"""`csvdrop reconcile`: S3 objects without an up-to-date metadata record are sent through the function again.

Safe to run any time: it only asks the function to process objects whose current ETag has no record, and
the function's store is idempotent, so a file processed meanwhile is not duplicated.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from backend import aws
from backend.config import Settings
from backend.store import open_reader


@dataclass(frozen=True)
class ReconcileReport:
    objects: int
    missing: int
    redriven: int
    keys: tuple[str, ...]


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


def reconcile(
    settings: Settings, *, dry_run: bool = False, on_message: Callable[[str], None] | None = None
) -> ReconcileReport:
    say = on_message or (lambda _m: None)
    s3 = aws.client(settings, "s3")
    objects: dict[str, tuple[str, int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.key_prefix):
        for obj in page.get("Contents", []):
            # Every object, as the trigger takes every upload under the prefix; "folders" (console
            # placeholders ending in "/") are not files, and the function skips them too.
            if not obj["Key"].endswith("/"):
                objects[obj["Key"]] = (str(obj["ETag"]).strip('"'), int(obj["Size"]))
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
    # A tombstone is the record of an object that is gone: an object under that key now (uploaded again,
    # its event lost) has no live record and is re-driven; a tombstone without an object needs nothing.
    have: dict[str, str] = {}
    for r in records:  # oldest change first: a later revival or tombstone overrides
        if r.bucket == settings.bucket:
            if r.deleted:
                have.pop(r.key, None)
            else:
                have[r.key] = r.etag
    missing = sorted(k for k, (etag, _) in objects.items() if have.get(k) != etag)
    redriven = 0
    if not dry_run and missing:
        lam = aws.client(settings, "lambda")
        for key in missing:
            etag, size = objects[key]
            lam.invoke(
                FunctionName=settings.function_name,
                InvocationType="Event",
                Payload=json.dumps(synthetic_event(settings.bucket, key, etag, size)).encode(),
            )
            redriven += 1
            say(f"re-processing s3://{settings.bucket}/{key}")
    return ReconcileReport(len(objects), len(missing), redriven, tuple(missing))
