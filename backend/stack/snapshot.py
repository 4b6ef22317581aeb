"""S3 objects survive `csvdrop stack down` / `up`.

LocalStack's open-source core keeps no state across restarts (persistence is a paid feature), so `down`
copies every bucket's objects into the state folder first and `up` puts them back into the fresh LocalStack,
before any trigger exists (nothing is re-processed by accident). Build artifacts are skipped: setup rebuilds
them from its cache. Files are stored under numbered names, never under their keys, so no key can write
outside the snapshot folder.
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

ARTIFACT_BUCKET_PREFIX = "csvdrop-artifacts-"
MANIFEST = "manifest.json"


def snapshot_dir(settings: Settings) -> Path:
    return settings.state_dir / "localstack" / "s3-snapshot"


def _s3(settings: Settings, endpoint: str) -> Any:
    return aws.client(settings.replace(mode="local", aws_endpoint=endpoint), "s3", timeout_s=10, retries=3)


def save_s3_snapshot(settings: Settings, endpoint: str) -> tuple[int, int]:
    """Copy every (non-artifact) bucket's objects to the state folder; returns (buckets, objects)."""
    s3 = _s3(settings, endpoint)
    target = snapshot_dir(settings)
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    manifest: dict[str, Any] = {"buckets": []}
    count = 0
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        if name.startswith(ARTIFACT_BUCKET_PREFIX):
            continue
        entry: dict[str, Any] = {"name": name, "objects": []}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                count += 1
                file_name = f"{count:08d}.bin"
                response = s3.get_object(Bucket=name, Key=obj["Key"])
                with open(staging / file_name, "wb") as out:
                    shutil.copyfileobj(response["Body"], out, 1024 * 1024)
                entry["objects"].append(
                    {
                        "key": obj["Key"],
                        "file": file_name,
                        "content_type": response.get("ContentType", "binary/octet-stream"),
                    }
                )
        manifest["buckets"].append(entry)
    (staging / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return len(manifest["buckets"]), count


def restore_s3_snapshot(
    settings: Settings, endpoint: str, on_message: Callable[[str], None] | None = None
) -> list[str]:
    """Put a saved snapshot back; returns the names of the buckets restored."""
    folder = snapshot_dir(settings)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return []
    say = on_message or (lambda _m: None)
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
            s3.upload_file(
                str(folder / obj["file"]),
                entry["name"],
                obj["key"],
                ExtraArgs={"ContentType": obj.get("content_type") or "binary/octet-stream"},
            )
            objects += 1
        restored.append(entry["name"])
    say(f"s3: restored {objects} objects in {len(restored)} buckets from {folder}")
    return restored


def drain_writes(endpoint: str, on_message: Callable[[str], None]) -> None:
    """Refuse new S3 writes and wait for those under way (the plugin's /_csvdrop/drain), so that the
    snapshot holds every upload a client was told had succeeded."""
    request = urllib.request.Request(f"{endpoint}/_csvdrop/drain", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=35) as resp:
            state = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        on_message(f"s3: WARNING could not pause uploads before saving ({exc}); an upload finishing now may be lost")
        return
    if state.get("in_flight"):
        on_message(f"s3: WARNING {state['in_flight']} uploads were still running after 30 s")


def try_save(settings: Settings, endpoint: str, on_message: Callable[[str], None]) -> None:
    try:
        buckets, objects = save_s3_snapshot(settings, endpoint)
        on_message(f"s3: saved {objects} objects from {buckets} buckets (restored on the next `stack up`)")
    except (BotoCoreError, ClientError, OSError) as exc:
        on_message(f"s3: WARNING could not save the buckets before stopping ({exc}); their objects are lost")
