"""Deleting an object on the real pipeline (LocalStack S3 -> the function -> MariaDB): the record becomes a
tombstone that "changed since" reports once, and the browser's reads no longer return it; an upload of the
same key afterwards brings the record back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pipeline_helpers import wait_for_row
from testsupport import NotYet, wait_until

from backend import aws
from backend.config import Settings
from backend.store import MetadataRecord, RecordQuery, open_reader
from backend.upload import upload_file

pytestmark = pytest.mark.stack


def test_deleting_an_object_leaves_a_tombstone_and_a_reupload_revives_it(provisioned: Settings, tmp_path: Path) -> None:
    path = tmp_path / "to-delete.csv"
    path.write_bytes(b"id,name\n1,a\n2,b\n")
    key = f"{provisioned.key_prefix}deletions/{uuid.uuid4().hex[:10]}/to-delete.csv"
    upload_file(provisioned, path, key=key)
    row = wait_for_row(provisioned, key)
    assert row["deleted"] == 0 and row["status"] == "PROCESSED"
    reader = open_reader(provisioned)
    try:
        live = reader.get(provisioned.bucket, key)
        assert live is not None and not live.deleted
        _, cursor = reader.changed_since(None)
        aws.client(provisioned, "s3").delete_object(Bucket=provisioned.bucket, Key=key)

        def tombstone() -> MetadataRecord | NotYet:
            nonlocal cursor
            changes, cursor = reader.changed_since(cursor)
            mine = [r for r in changes if r.key == key]
            return mine[-1] if mine and mine[-1].deleted else NotYet([(r.key, r.deleted) for r in changes])

        gone = wait_until(tombstone, 60, f"the tombstone of {key}")
        assert gone.revision > live.revision and gone.bucket == provisioned.bucket
        assert reader.get(provisioned.bucket, key) is None
        assert reader.count(RecordQuery(text=key)) == 0
        assert key not in [r.key for r in reader.list(RecordQuery(text=key)).records]

        upload_file(provisioned, path, key=key)

        def revived() -> MetadataRecord | NotYet:
            record = reader.get(provisioned.bucket, key)
            return record if record is not None else NotYet(None)

        back = wait_until(revived, 60, f"the record of {key} after uploading it again")
        assert back.revision > gone.revision and not back.deleted
        assert reader.count(RecordQuery(text=key)) == 1
    finally:
        reader.close()
