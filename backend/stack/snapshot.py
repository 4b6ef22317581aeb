"""S3 objects survive LocalStack stopping, cleanly or not.

LocalStack's open-source core keeps S3 in memory (persistence is a paid feature). Our LocalStack plugin
(lambda_executor/csvdrop_lambda_executor/durable_s3.py) writes every acknowledged S3 write to a journal in
the state folder before its client hears 200, so a kill -9, an out-of-memory kill or a power cut loses no
acknowledged object. A fresh LocalStack gets the journal back from ``restore_s3`` before any trigger exists
(nothing is re-processed by accident). `stack down` only drains: it waits for the writes under way, so no
upload is cut off half-way. Build artifacts are not journaled: setup rebuilds them from its cache.

Earlier versions copied the buckets to ``s3-snapshot/`` at `stack down`; such a folder is restored once
(through the S3 API, so the journal takes it over) and then removed.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backend import aws
from backend.config import Settings
from backend.stack.processes import StackError

ARTIFACT_BUCKET_PREFIX = "csvdrop-artifacts-"
MANIFEST = "manifest.json"


def journal_dir(settings: Settings) -> Path:
    """Where LocalStack (started by `csvdrop stack up`) journals S3 writes: CSVDROP_S3_JOURNAL_DIR."""
    return settings.state_dir / "localstack" / "s3-journal"


def snapshot_dir(settings: Settings) -> Path:
    """The copy `stack down` took in earlier versions (read once, then removed)."""
    return settings.state_dir / "localstack" / "s3-snapshot"


def _s3(settings: Settings, endpoint: str) -> Any:
    return aws.client(settings.replace(mode="local", aws_endpoint=endpoint), "s3", timeout_s=10, retries=3)


def restore_journal(endpoint: str) -> dict[str, Any]:
    """Asks the plugin to put the journal back into a fresh LocalStack; returns {buckets, objects, journal}."""
    request = urllib.request.Request(f"{endpoint}/_csvdrop/s3/restore", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=600) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        try:
            detail = str(json.loads(detail).get("error", detail))
        except ValueError:
            pass
        raise StackError(
            f"LocalStack could not restore its saved S3 objects ({detail}). Nothing was deleted: fix the cause "
            "(see `csvdrop stack logs`), then run `csvdrop stack down` and `csvdrop stack up` again."
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StackError(
            f"LocalStack at {endpoint} did not answer the S3 restore ({exc}); run `csvdrop stack down` and "
            "`csvdrop stack up` again."
        ) from exc


def _restore_old_snapshot(settings: Settings, endpoint: str, say: Callable[[str], None]) -> list[str]:
    """Puts an earlier version's `stack down` copy back through the S3 API (so it is journaled), skipping
    keys the journal already restored (they are newer), then removes the folder."""
    folder = snapshot_dir(settings)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return []
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    s3 = _s3(settings, endpoint)
    restored = []
    objects = 0
    for entry in manifest.get("buckets", []):
        try:
            kwargs: dict[str, Any] = {"Bucket": entry["name"]}
            if settings.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
            s3.create_bucket(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        for obj in entry.get("objects", []):
            try:
                s3.head_object(Bucket=entry["name"], Key=obj["key"])
                continue
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
            s3.upload_file(
                str(folder / obj["file"]),
                entry["name"],
                obj["key"],
                ExtraArgs={"ContentType": obj.get("content_type") or "binary/octet-stream"},
            )
            objects += 1
        restored.append(entry["name"])
    shutil.rmtree(folder, ignore_errors=True)
    say(f"s3: moved {objects} objects in {len(restored)} buckets from the old snapshot {folder} into the journal")
    return restored


def restore_s3(settings: Settings, endpoint: str, on_message: Callable[[str], None] | None = None) -> list[str]:
    """Puts the journaled buckets and objects back into a fresh LocalStack (and an old snapshot folder, once);
    returns the names of the buckets restored."""
    say = on_message or (lambda _m: None)
    result = restore_journal(endpoint)
    buckets = [str(b) for b in result.get("buckets", [])]
    if result.get("journal"):
        say(f"s3: restored {result.get('objects', 0)} objects in {len(buckets)} buckets from {result['journal']}")
    try:
        old = _restore_old_snapshot(settings, endpoint, say)
    except (BotoCoreError, ClientError, OSError, ValueError) as exc:
        raise StackError(
            f"Restoring the old S3 snapshot {snapshot_dir(settings)} failed ({exc}); it is kept: run "
            "`csvdrop stack down` and `csvdrop stack up` again."
        ) from exc
    return buckets + [b for b in old if b not in buckets]


def drain_writes(endpoint: str, on_message: Callable[[str], None]) -> None:
    """Refuse new S3 writes and wait for those under way (the plugin's /_csvdrop/drain), so that no upload is
    cut off half-way by the stop (each one that was acknowledged is already in the journal)."""
    request = urllib.request.Request(f"{endpoint}/_csvdrop/drain", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=35) as resp:
            state = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        on_message(f"s3: WARNING could not pause uploads before stopping ({exc}); an upload under way may fail")
        return
    if state.get("in_flight"):
        on_message(f"s3: WARNING {state['in_flight']} uploads were still running after 30 s; they will fail")
