"""Metadata store pieces that need no server: sequencer order, record shape, RDS calls (botocore Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from store_fixtures import expected_json, make_record, store_writer
from testsupport import isolated_settings

from backend.store import CONTRACT_KEYS, MetadataRecord, RecordQuery, StoreError
from backend.store.records import decode_cursor, encode_cursor
from backend.store.schema_mysql import (
    Migration,
    SetupError,
    check_database_name,
    check_user_name,
    create_db_instance,
    load_migrations,
)


@pytest.mark.parametrize(
    "a,b,newer",
    [
        ("0055AED6DCD90281E5", "0055AED6DCD90281E4", True),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", False),
        ("100", "FF", True),
        ("FF", "100", False),
        ("0a", "A", False),
        ("000000000001", "0", True),
    ],
)
def test_sequencer_newer(a: str, b: str, newer: bool) -> None:
    assert store_writer.sequencer_newer(a, b) is newer


def test_should_replace() -> None:
    assert store_writer.should_replace("02", "e1", "01", "e1")
    assert not store_writer.should_replace("01", "e2", "02", "e1")
    assert store_writer.should_replace("01", "e2", "001", "e1")  # tie, other bytes
    assert not store_writer.should_replace("01", "e1", "001", "e1")  # the same event again


def test_sequencer_key_pads_and_rejects_non_hex() -> None:
    assert store_writer.sequencer_key("ab", 6) == "0000AB"
    for bad in ("", "xyz", "12 34", "0x12", "1" * 129):
        with pytest.raises(ValueError):
            store_writer.sequencer_key(bad)


def test_key_hash_is_sha256_of_bucket_slash_key() -> None:
    import hashlib

    assert store_writer.key_hash("b", "k/x.csv") == hashlib.sha256(b"b/k/x.csv").hexdigest()


def test_record_round_trip_through_dataclass() -> None:
    record = make_record(etag='"quoted"', uploaded_at="2026-11-25T21:00:00Z")
    expected = expected_json(record)
    assert expected["etag"] == "quoted"
    assert expected["uploaded_at"] == "2026-11-25T21:00:00.000000+00:00"
    rec = MetadataRecord.from_json_dict(expected, revision=3, updated_at=datetime.now(UTC))
    assert rec.to_json_dict() == expected
    assert tuple(rec.to_json_dict()) == CONTRACT_KEYS
    hash(rec)  # frozen and hashable


def test_nan_and_infinity_become_null() -> None:
    norm = store_writer.normalize_record(
        make_record(
            columns=[
                {
                    "name": "x",
                    "type": "float",
                    "null_count": 0,
                    "distinct_count": 1,
                    "min": float("nan"),
                    "max": float("inf"),
                }
            ]
        )
    )
    assert norm["columns"][0]["min"] is None and norm["columns"][0]["max"] is None


def test_cursor_codec() -> None:
    assert decode_cursor(None) == 0
    assert decode_cursor(encode_cursor(42)) == 42
    for bad in ("42", "r:-1", "x:1", "r:"):
        with pytest.raises(StoreError):
            decode_cursor(bad)


def test_query_defaults() -> None:
    q = RecordQuery()
    assert (q.sort, q.descending, q.limit, q.offset) == ("uploaded_at", True, 100, 0)


def test_query_validation() -> None:
    with pytest.raises(ValueError, match="cannot sort"):
        RecordQuery(sort="id; DROP TABLE x")
    with pytest.raises(ValueError, match="status"):
        RecordQuery(status="DONE")
    with pytest.raises(ValueError, match="limit"):
        RecordQuery(limit=0)


@pytest.mark.parametrize("name", ["ok_name", "csvdrop", "_x1"])
def test_identifier_ok(name: str) -> None:
    assert check_database_name(name) == name
    assert check_user_name(name) == name


@pytest.mark.parametrize("name", ["", "a-b", "a b", "a`b", "1abc", "x" * 65, "é", "a;b", "a'b"])
def test_identifier_rejected(name: str) -> None:
    with pytest.raises(SetupError):
        check_database_name(name)


def test_migrations_split_and_order(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    first = migrations[0]
    statements = first.statements()
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS csv_metadata")
    assert all(not s.endswith(";") for s in statements)
    assert Migration("0009", "x", "-- c;\nSELECT 1;\nSELECT 2;").statements() == ["SELECT 1", "SELECT 2"]
    (tmp_path / "bad name.sql").write_text("SELECT 1;")
    with pytest.raises(SetupError, match="must look like"):
        load_migrations(tmp_path)


# ------------------------------------------------------------------------------------------ RDS (Stubber)
def _rds() -> tuple[object, Stubber]:
    rds = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return rds, Stubber(rds)


def _not_found(stub: Stubber) -> None:
    stub.add_client_error(
        "describe_db_instances",
        service_error_code="DBInstanceNotFound",
        http_status_code=404,
        expected_params={"DBInstanceIdentifier": "csvdrop-metadata"},
    )


_AVAILABLE = {
    "DBInstances": [
        {
            "DBInstanceIdentifier": "csvdrop-metadata",
            "DBInstanceStatus": "available",
            "Endpoint": {"Address": "db.example.rds.amazonaws.com", "Port": 3306},
        }
    ]
}


def test_create_db_instance_creates_and_waits(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, mode="aws")
    rds, stub = _rds()
    _not_found(stub)
    stub.add_response(
        "create_db_instance",
        {"DBInstance": {"DBInstanceIdentifier": "csvdrop-metadata", "DBInstanceStatus": "creating"}},
        expected_params={
            "DBInstanceIdentifier": "csvdrop-metadata",
            "DBInstanceClass": "db.t4g.micro",
            "Engine": "mysql",
            "AllocatedStorage": 20,
            "MasterUsername": "root",
            "MasterUserPassword": "s3cret-pw",
            "DBName": "csvdrop",
            "PubliclyAccessible": False,
            "StorageEncrypted": True,
            "BackupRetentionPeriod": 1,
            "Tags": ANY,
        },
    )
    # the waiter polls describe_db_instances until available
    stub.add_response(
        "describe_db_instances",
        {"DBInstances": [{"DBInstanceIdentifier": "csvdrop-metadata", "DBInstanceStatus": "creating"}]},
    )
    stub.add_response("describe_db_instances", _AVAILABLE)
    stub.add_response("describe_db_instances", _AVAILABLE)
    with stub:
        out = create_db_instance(settings, admin_password="s3cret-pw", rds_client=rds, waiter_delay_s=0)
    stub.assert_no_pending_responses()
    assert out == {
        "instance_id": "csvdrop-metadata",
        "status": "available",
        "host": "db.example.rds.amazonaws.com",
        "port": 3306,
        "created": True,
    }


def test_create_db_instance_finds_existing(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, mode="aws")
    rds, stub = _rds()
    stub.add_response("describe_db_instances", _AVAILABLE)
    with stub:
        out = create_db_instance(settings, admin_password="pw", rds_client=rds)
    assert out["created"] is False and out["host"] == "db.example.rds.amazonaws.com"


def test_create_db_instance_validates_names(tmp_path: Path) -> None:
    rds, stub = _rds()
    _not_found(stub)
    with stub, pytest.raises(SetupError):
        create_db_instance(isolated_settings(tmp_path, mysql_database="bad-name"), admin_password="pw", rds_client=rds)


# ------------------------------------------------------------------------------------------ paging, deletions
def test_page_token_round_trip_and_refusals() -> None:
    from backend.store.mysql import decode_token, encode_token

    when = datetime(2026, 11, 25, 21, 0, 0, 123456)
    token = encode_token("uploaded_at", True, when, 42)
    assert decode_token(token, "uploaded_at", True) == (when, 42)
    assert decode_token(encode_token("file_name", False, "ünï 😀'", 7), "file_name", False) == ("ünï 😀'", 7)
    assert decode_token(encode_token("row_count", True, -1, 3), "row_count", True) == (-1, 3)
    with pytest.raises(StoreError, match="another order"):
        decode_token(token, "uploaded_at", False)
    with pytest.raises(StoreError, match="another order"):
        decode_token(token, "size_bytes", True)
    for junk in ("", "!!!", "bm90IGpzb24", encode_token("row_count", True, "x", 1)):
        with pytest.raises(StoreError, match="first page"):
            decode_token(junk, "row_count", True)


def test_list_sql_keyset_offset_and_filters() -> None:
    from backend.store.mysql import count_sql, encode_token, like_prefix, list_sql

    sql, params = list_sql(RecordQuery(sort="file_name", descending=False, limit=50, offset=1000, summary=True))
    assert "JOIN (SELECT id FROM csv_metadata WHERE deleted = 0 ORDER BY file_name_sort ASC, id ASC" in sql
    assert "LIMIT %s OFFSET %s" in sql and params == [50, 1000]
    assert "`column_profiles`" not in sql and "`sample_rows`" not in sql
    token = encode_token("size_bytes", True, 999, 12)
    sql, params = list_sql(RecordQuery(sort="size_bytes", status="FAILED", text="Q3_%", after=token, limit=10))
    assert "size_bytes <= %s AND (size_bytes < %s OR (size_bytes = %s AND id < %s))" in sql
    assert "ORDER BY size_bytes DESC, id DESC LIMIT %s" in sql and "OFFSET" not in sql
    assert "file_name_sort LIKE %s" in sql and "key_sort LIKE" not in sql  # a name prefix: one index
    assert "status_rank = 2" in sql  # FAILED covers MISSING (migration 0004): both are rank 2
    assert params == ["Q3!_!%%", 999, 999, 999, 12, 10]
    assert count_sql(RecordQuery(status="MISSING")) == (
        "SELECT COUNT(*) FROM csv_metadata WHERE deleted = 0 AND status = %s",
        ["MISSING"],
    )
    sql, params = list_sql(RecordQuery(text="Sales/Q3", limit=10))
    assert "key_sort LIKE %s" in sql and "file_name_sort LIKE" not in sql  # a slash: a key prefix
    assert params[:1] == ["Sales/Q3%"]
    assert like_prefix("a!b%c_d") == "a!!b!%c!_d%"
    with pytest.raises(StoreError, match="cannot sort by encoding"):
        list_sql(RecordQuery(sort="encoding"))
    assert count_sql(RecordQuery(status="PROCESSED", bucket="b")) == (
        "SELECT COALESCE(SUM(n), 0) FROM csv_metadata_counts WHERE status_rank IN (0, 1) AND bucket = %s",
        ["b"],
    )
    assert count_sql(RecordQuery(status="FAILED", with_warnings=True)) == ("SELECT 0", [])
    sql, params = count_sql(RecordQuery(text="x", uploaded_from=datetime(2026, 1, 1)))
    assert sql.startswith("SELECT COUNT(*) FROM csv_metadata WHERE deleted = 0") and len(params) == 2
    long_text = "n" * 200
    sql, params = list_sql(RecordQuery(text=long_text))
    assert "file_name LIKE %s" in sql and params[:2] == ["n" * 190 + "%", long_text + "%"]


@pytest.mark.parametrize(
    "new,stored,deleted,reprocess,expected",
    [
        ("0B", "0A", False, False, True),  # newer upload
        ("0A", "0A", False, False, False),  # same event again (same ETag)
        ("0A", "0A", False, True, True),  # re-process of the stored version
        ("09", "0A", False, True, False),  # re-process of an older version: the newer one wins
        ("0A", "0A", True, False, True),  # upload after a deletion revives the row
        ("09", "0A", True, False, False),  # but not an older one
    ],
)
def test_should_store(new: str, stored: str, deleted: bool, reprocess: bool, expected: bool) -> None:
    got = store_writer.should_store(new, "etag", stored, "etag", stored_deleted=deleted, reprocess=reprocess)
    assert got is expected


def test_should_tombstone() -> None:
    assert store_writer.should_tombstone("0B", "0A", stored_deleted=False)
    assert store_writer.should_tombstone("0A", "0A", stored_deleted=False)
    assert not store_writer.should_tombstone("09", "0A", stored_deleted=False)  # a newer upload stays
    assert not store_writer.should_tombstone("0B", "0A", stored_deleted=True)  # already gone
    assert [store_writer.status_rank(s, w) for s, w in (("PROCESSED", 0), ("PROCESSED", 2), ("FAILED", 0))] == [0, 1, 2]


def test_dynamo_query_params() -> None:
    from backend.store.dynamodb import decode_token, encode_token, query_params

    params = query_params(RecordQuery(with_warnings=True, text="Sales", descending=False))
    assert params is not None
    assert params["IndexName"] == "LiveByStatus" and params["ExpressionAttributeValues"][":p"] == {"S": "PROCESSED"}
    assert "WarningCount > :zero" in params["FilterExpression"] and params["ScanIndexForward"] is True
    assert params["ExpressionAttributeValues"][":text"] == {"S": "sales"}
    assert query_params(RecordQuery(status="FAILED", with_warnings=True)) is None
    with pytest.raises(StoreError, match="upload time only"):
        query_params(RecordQuery(sort="file_name"))
    key = {"FileName": {"S": "a"}, "UploadedAt": {"S": "2026"}, "LivePartition": {"S": "live"}}
    assert decode_token(encode_token("LiveByUploaded", key), "LiveByUploaded") == key
    with pytest.raises(StoreError, match="first page"):
        decode_token(encode_token("LiveByUploaded", key), "LiveByStatus")


def test_handler_routes_removals_and_reprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_loader import load_lambda_module

    handler = load_lambda_module("handler")
    calls: list[tuple[str, object]] = []

    def process(bucket: str, key: str, **kw: object) -> dict[str, object]:
        calls.append(("put", (key, kw["reprocess"])))
        return {}

    def remove(bucket: str, key: str, **kw: object) -> dict[str, object]:
        calls.append(("remove", key))
        return {}

    monkeypatch.setattr(handler, "process_object", process)
    monkeypatch.setattr(handler, "remove_object", remove)

    def event(name: str, key: str) -> dict[str, object]:
        return {
            "eventSource": "aws:s3",
            "eventName": name,
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "eTag": "e", "sequencer": "0A"}},
        }

    handler.lambda_handler(
        {"Records": [event("ObjectCreated:Put", "a+b.csv"), event("ObjectRemoved:Delete", "c.csv")]}, None
    )
    handler.lambda_handler({"Records": [event("ObjectCreated:Put", "a.csv")], "csvdrop_reprocess": True}, None)
    assert calls == [("put", ("a b.csv", False)), ("remove", "c.csv"), ("put", ("a.csv", True))]
