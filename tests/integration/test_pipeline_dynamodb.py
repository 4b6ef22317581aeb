"""DynamoDB mode (METADATA_STORE=dynamodb) passes the same end-to-end checks as MySQL mode."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import independent_shape, run_cli
from testsupport import NotYet, set_up, wait_until

from backend import aws
from backend.config import Settings
from backend.notices import NoticeReader
from backend.store import open_reader
from backend.upload import upload_file

pytestmark = [pytest.mark.stack]


@pytest.fixture(scope="module")
def dynamo(stack: Settings) -> Settings:
    """A second, independent environment on the same stack, storing metadata in DynamoDB."""
    settings = stack.replace(
        metadata_store="dynamodb",
        bucket="csvdrop-ddb-e2e",
        function_name="process_csv_ddb",
        topic_name="csv-metadata-notices-ddb",
        queue_name="csvdrop-app-notices-ddb",
        role_name="csvdrop-ddb-role",
        dynamodb_table="MetadataTable",
    )
    set_up(settings)
    return settings


def _item(settings: Settings, key: str) -> dict[str, Any] | None:
    ddb = aws.client(settings, "dynamodb")
    key_attr = {"FileName": {"S": key}}
    return ddb.get_item(TableName=settings.dynamodb_table, Key=key_attr, ConsistentRead=True).get("Item")


def _wait_item(settings: Settings, key: str, etag: str, timeout: float = 60) -> dict[str, Any]:
    def current() -> dict[str, Any] | NotYet:
        item = _item(settings, key)
        return item if item and item.get("ETag", {}).get("S") == etag else NotYet(item)

    return wait_until(current, timeout, f"the DynamoDB item of {key} (etag {etag})")


CASES = {
    "quoted.csv": (b'id,text\n1,"a\nb"\n2,"c,d"\n', "utf-8", ","),
    "semi.csv": (b"x;y;z\n1;2;3\n", "utf-8", ";"),
    "latin.csv": ("név,ciudad\nÁrpád,Málaga\n".encode("latin-1"), "latin-1", ","),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dynamodb_mode_end_to_end(dynamo: Settings, tmp_path: Path, name: str) -> None:
    data, encoding, delimiter = CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    key = f"ddb-{uuid.uuid4().hex[:8]}/{name}"
    result = upload_file(dynamo, path, key=key)
    item = _wait_item(dynamo, key, result.etag)
    assert item["FileName"]["S"] == key
    reader = open_reader(dynamo)
    try:
        record = reader.get(dynamo.bucket, key)
    finally:
        reader.close()
    assert record is not None and record.status == "PROCESSED", record
    expected = independent_shape(data, encoding, delimiter)
    assert (record.row_count, record.column_count, list(record.column_names)) == expected


def test_dynamodb_mode_failed_file_and_notice(dynamo: Settings) -> None:
    key = f"ddb-{uuid.uuid4().hex[:8]}/empty.csv"
    put = aws.client(dynamo, "s3").put_object(Bucket=dynamo.bucket, Key=key, Body=b"")
    item = _wait_item(dynamo, key, put["ETag"].strip('"'))
    assert item["Status"]["S"] == "FAILED"
    reader = NoticeReader(dynamo)
    seen = {}

    def arrived() -> bool:
        seen.update({n.key: n for n in reader.receive(wait_seconds=1)})  # a long poll: no pause between calls
        return key in seen

    try:
        wait_until(arrived, 30, f"the notice of {key}", interval=0)
    finally:
        reader.close()
    assert seen[key].status == "FAILED"


def test_dynamodb_mode_cli_list(dynamo: Settings, tmp_path: Path) -> None:
    path = tmp_path / f"cli-{uuid.uuid4().hex[:6]}.csv"
    path.write_text("a,b\n1,2\n")
    assert run_cli(dynamo, "upload", str(path), "--wait").returncode == 0
    listed = run_cli(dynamo, "list", "--json", "--name", path.stem)
    assert listed.returncode == 0, listed.stderr
    assert '"row_count": 1' in listed.stdout
