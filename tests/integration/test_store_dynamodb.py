"""The DynamoDB metadata store end to end against a DynamoDB endpoint.

Which endpoint: see the ``dynamodb_endpoint`` fixture in tests/integration/conftest.py (LocalStack's DynamoDB
needs DynamoDB Local).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from store_fixtures import (
    HOSTILE_KEYS,
    assert_warned_record_read_back,
    dynamo_writer_env,
    expected_json,
    hostile_record,
    make_record,
    store_writer,
    warned_records,
)
from testsupport import free_port

from backend.aws import client
from backend.config import Settings
from backend.store import CONTRACT_KEYS, SORT_KEYS, DynamoReader, RecordQuery, StoreError, open_reader
from backend.store.schema_dynamodb import COUNTER_KEY, LEGACY_COUNTER_FILE_NAME, counter_table_name, ensure_table

pytestmark = pytest.mark.stack


@pytest.fixture()
def ddb(dynamo_settings: Settings) -> Settings:
    """The module's tables, emptied (records, and the counter in its own table)."""
    c = client(dynamo_settings, "dynamodb")
    for page in c.get_paginator("scan").paginate(
        TableName=dynamo_settings.dynamodb_table, ProjectionExpression="FileName"
    ):
        for item in page["Items"]:
            c.delete_item(TableName=dynamo_settings.dynamodb_table, Key={"FileName": item["FileName"]})
    c.delete_item(TableName=counter_table_name(dynamo_settings.dynamodb_table), Key=COUNTER_KEY)
    return dynamo_settings


def _writer(settings: Settings) -> Any:
    return store_writer.open_writer(dynamo_writer_env(settings))


def _items(settings: Settings) -> list[dict[str, Any]]:
    c = client(settings, "dynamodb")
    return c.scan(TableName=settings.dynamodb_table, ConsistentRead=True)["Items"]


def test_ensure_table_idempotent(dynamo_settings: Settings) -> None:
    again = ensure_table(dynamo_settings)
    assert again == f"found DynamoDB table {dynamo_settings.dynamodb_table} (ACTIVE)"
    ddb_client = client(dynamo_settings, "dynamodb")
    desc = ddb_client.describe_table(TableName=dynamo_settings.dynamodb_table)["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "FileName", "KeyType": "HASH"}]
    assert desc.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    fresh = dynamo_settings.replace(dynamodb_table=dynamo_settings.dynamodb_table + "X")
    try:
        assert ensure_table(fresh).startswith(f"created DynamoDB table {fresh.dynamodb_table}")
        assert ensure_table(fresh).startswith("found")
        counter = client(fresh, "dynamodb").describe_table(TableName=counter_table_name(fresh.dynamodb_table))
        assert counter["Table"]["KeySchema"] == [{"AttributeName": "Counter", "KeyType": "HASH"}]
    finally:
        for table in (fresh.dynamodb_table, counter_table_name(fresh.dynamodb_table)):
            client(fresh, "dynamodb").delete_table(TableName=table)


def test_the_records_table_holds_records_only_and_an_old_counter_moves_out(ddb: Settings) -> None:
    """The seed's MetadataTable, scanned with the awscli as its instructions say, shows records and nothing
    else; a counter item an older version left in it is carried over (revisions keep growing) and removed."""
    c = client(ddb, "dynamodb")
    c.put_item(
        TableName=ddb.dynamodb_table,
        Item={"FileName": {"S": LEGACY_COUNTER_FILE_NAME}, "ItemType": {"S": "counter"}, "Revision": {"N": "41"}},
    )
    said = ensure_table(ddb)
    assert said.endswith(f"moved the revision counter (41) out of {ddb.dynamodb_table}"), said
    assert _items(ddb) == []
    counter = c.get_item(TableName=counter_table_name(ddb.dynamodb_table), Key=COUNTER_KEY, ConsistentRead=True)
    assert counter["Item"]["Revision"] == {"N": "41"}
    assert _writer(ddb).upsert(make_record(key="after/move.csv")) is True
    assert [item["FileName"]["S"] for item in _items(ddb)] == ["after/move.csv"]
    moved_on = open_reader(ddb).get("bkt", "after/move.csv")
    assert moved_on is not None and moved_on.revision == 42


def test_upsert_idempotent_and_ordered(ddb: Settings) -> None:
    w = _writer(ddb)
    assert isinstance(w, store_writer.DynamoWriter)
    reader = open_reader(ddb)
    assert isinstance(reader, DynamoReader)
    old, new, newest = "0055AED6DCD90281E5", "0055AED6DCD90281F0", "0055AED6DCD9028200"
    assert w.upsert(make_record(sequencer=new, row_count=10)) is True
    first = reader.get("bkt", "data/a.csv")
    assert first is not None and first.row_count == 10 and first.revision == 1
    assert w.upsert(make_record(sequencer=new, row_count=10)) is False
    assert w.upsert(make_record(sequencer=old, row_count=99, status="FAILED")) is False
    same = reader.get("bkt", "data/a.csv")
    assert same == first and same is not None and same.revision == first.revision
    assert w.upsert(make_record(sequencer=newest, row_count=11)) is True
    latest = reader.get("bkt", "data/a.csv")
    assert latest is not None and latest.row_count == 11 and latest.revision > first.revision
    assert w.upsert(make_record(sequencer=newest, row_count=12, etag="another")) is True
    assert w.upsert(make_record(sequencer=newest, row_count=13, etag="another")) is False
    tied = reader.get("bkt", "data/a.csv")
    assert tied is not None and tied.row_count == 12 and tied.revision > latest.revision
    # the records table holds the one record; the revision counter is in its own table
    assert [item["ItemType"]["S"] for item in _items(ddb)] == ["record"]
    assert reader.list(RecordQuery()).total == -1 and reader.count(RecordQuery()) == 1  # DynamoDB: counted apart
    counter = client(ddb, "dynamodb").get_item(TableName=counter_table_name(ddb.dynamodb_table), Key=COUNTER_KEY)
    assert counter["Item"]["Revision"]["N"] == str(tied.revision)
    assert reader.get("other-bucket", "data/a.csv") is None


@pytest.mark.parametrize(
    "stored,incoming,newer",
    [
        ("FF", "100", True),
        ("100", "FF", False),
        ("00ab", "AB", False),
        ("9", "0A", True),
    ],
)
def test_sequencer_padding(ddb: Settings, stored: str, incoming: str, newer: bool) -> None:
    w = _writer(ddb)
    assert w.upsert(make_record(sequencer=stored))
    assert w.upsert(make_record(sequencer=incoming)) is newer


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_values_round_trip(ddb: Settings, key: str) -> None:
    record = hostile_record(key)
    assert _writer(ddb).upsert(record)
    reader = open_reader(ddb)
    got = reader.get("bkt", key)
    assert got is not None
    assert got.to_json_dict() == expected_json(record)
    assert list(got.to_json_dict()) == list(CONTRACT_KEYS)
    assert [x.key for x in reader.list(RecordQuery(name_contains=key)).records] == [key]


def test_warned_record_round_trip(ddb: Settings) -> None:
    """A record processed with warnings goes through the real writer and reader with every new key intact."""
    record, failed, clean = warned_records()
    w = _writer(ddb)
    for rec in (record, failed, clean):
        assert w.upsert(rec)
    r = open_reader(ddb)
    assert_warned_record_read_back(r.get("bkt", record["key"]), record)
    bad = r.get("bkt", failed["key"])
    assert bad is not None and bad.to_json_dict() == expected_json(failed)
    assert (bad.warnings, bad.skipped_lines, bad.header_line) == ((), None, None)
    assert [x.key for x in r.list(RecordQuery(with_warnings=True)).records] == [record["key"]]
    assert r.count(RecordQuery(status="PROCESSED")) == 2
    counts = {item["FileName"]["S"]: item["WarningCount"]["N"] for item in _items(ddb) if "WarningCount" in item}
    assert counts == {record["key"]: "3", failed["key"]: "0", clean["key"]: "0"}


def _seed(settings: Settings) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    names = ["alpha.csv", "Beta.csv", "gamma_2026.csv", "delta%.csv", "epsilon.csv", "zeta.CSV", "eta.csv"]
    records = []
    w = _writer(settings)
    for i, name in enumerate(names):
        failed = i % 3 == 2
        rec = make_record(
            key=f"in/{i}/{name}",
            sequencer=f"{i + 1:02X}",
            status="FAILED" if failed else "PROCESSED",
            size_bytes=1000 - i * 100,
            uploaded_at=(base + timedelta(days=i)).isoformat(),
            row_count=None if failed else i * 10,
        )
        assert w.upsert(rec)
        records.append(rec)
    return records


def test_list_filters_sort_paging(ddb: Settings) -> None:
    records = _seed(ddb)
    r = open_reader(ddb)
    everything = r.list(RecordQuery(limit=100))
    assert everything.total == -1 and r.count(RecordQuery()) == 7
    assert [x.key for x in everything.records] == [rec["key"] for rec in reversed(records)]
    assert r.count(RecordQuery(status="FAILED")) == 2
    assert [x.file_name for x in r.list(RecordQuery(name_contains="BETA")).records] == ["Beta.csv"]
    assert [x.file_name for x in r.list(RecordQuery(name_contains="%")).records] == ["delta%.csv"]
    in_range = r.list(
        RecordQuery(
            uploaded_from=datetime(2026, 11, 2, 12, 0),
            uploaded_to=datetime(2026, 11, 4, 12, 0, tzinfo=UTC),
            descending=False,
        )
    )
    assert [x.key for x in in_range.records] == [records[1]["key"], records[2]["key"]]
    newest = [rec["key"] for rec in reversed(records)]
    page1 = r.list(RecordQuery(limit=3))
    page3 = r.list(RecordQuery(limit=3, offset=6))
    assert [x.key for x in page1.records] == newest[:3] and [x.key for x in page3.records] == newest[6:]
    assert r.capabilities.sort_keys == ("uploaded_at",) and not r.capabilities.random_access
    for key in SORT_KEYS:
        if key != "uploaded_at":
            with pytest.raises(StoreError, match=f"cannot sort the records by {key}"):
                r.list(RecordQuery(sort=key))


def test_changed_since(ddb: Settings) -> None:
    records = _seed(ddb)
    r = open_reader(ddb)
    got, cursor = r.changed_since(None)
    assert [x.key for x in got] == [rec["key"] for rec in records]
    assert r.changed_since(cursor) == ([], cursor)
    seen: list[str] = []
    page_cursor: str | None = None
    while True:
        page, page_cursor = r.changed_since(page_cursor, limit=3)
        seen += [x.key for x in page]
        if len(page) < 3:
            break
    assert seen == [rec["key"] for rec in records]
    w = _writer(ddb)
    assert w.upsert(dict(records[3], sequencer="FF", row_count=12345))
    assert not w.upsert(dict(records[4], sequencer="00"))
    changed, cursor2 = r.changed_since(cursor)
    assert [(x.key, x.row_count) for x in changed] == [(records[3]["key"], 12345)]
    assert r.changed_since(cursor2) == ([], cursor2)


def test_concurrent_writers_get_unique_revisions(ddb: Settings) -> None:
    import threading

    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            w = _writer(ddb)
            for i in range(6):
                w.upsert(make_record(key=f"w{worker}/f{i}.csv", sequencer=f"{i + 1:02X}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    got, _ = open_reader(ddb).changed_since(None)
    assert len(got) == 24
    assert sorted(x.revision for x in got) == list(range(1, 25))


def test_store_errors(ddb: Settings) -> None:
    missing = open_reader(ddb.replace(dynamodb_table="NoSuchTableHere"))
    with pytest.raises(StoreError, match="does not exist"):
        missing.get("b", "k")
    port = free_port()
    down = open_reader(ddb.replace(aws_endpoint=f"http://127.0.0.1:{port}"))
    with pytest.raises(StoreError) as info:
        down.list(RecordQuery())
    assert str(info.value) == (
        f"Cannot reach DynamoDB at http://127.0.0.1:{port}: connection refused. "
        "Is the local stack up? Run `csvdrop stack up`."
    )
    env = dict(dynamo_writer_env(ddb), AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(store_writer.StoreWriteError, match="DynamoDB table"):
        store_writer.open_writer(env).upsert(make_record())
