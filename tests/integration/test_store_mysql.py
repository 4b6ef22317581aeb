"""The MySQL metadata store end to end against a real server: setup, writer, reader."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pymysql
import pytest
from store_fixtures import (
    HOSTILE_KEYS,
    MySqlTestDb,
    assert_warned_record_read_back,
    create_mysql_test_db,
    expected_json,
    hostile_record,
    make_record,
    store_writer,
    warned_record,
    warned_records,
)
from testsupport import free_port

from backend.config import Settings
from backend.store import CONTRACT_KEYS, SORT_KEYS, MetadataRecord, RecordQuery, StoreError, open_reader
from backend.store.mysql import MySqlReader
from backend.store.schema_mysql import (
    MIGRATIONS_DIR,
    SetupError,
    apply_migrations,
    drop_database_and_users,
    ensure_database_and_users,
)

pytestmark = pytest.mark.stack


@pytest.fixture()
def db(mysql_db: MySqlTestDb) -> MySqlTestDb:
    mysql_db.truncate()
    return mysql_db


def _count(db: MySqlTestDb) -> int:
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM csv_metadata")
        row = cur.fetchone()
        return int(row[0])


# ------------------------------------------------------------------------------------------ setup
def test_setup_report_and_idempotent_rerun(mysql_db: MySqlTestDb) -> None:
    first = mysql_db.setup_report
    assert f"created database {mysql_db.settings.mysql_database}" in first
    assert "applied migration 0001_create_csv_metadata" in first
    assert "applied migration 0002_add_dialect_and_warnings" in first
    assert sum(line.startswith("created user") for line in first) == 4
    again = ensure_database_and_users(
        mysql_db.settings, writer_password=mysql_db.writer_password, reader_password=mysql_db.reader_password
    )
    assert f"found database {mysql_db.settings.mysql_database}" in again
    assert "schema up to date" in again
    assert not any(line.startswith("created") for line in again)
    with mysql_db.admin() as conn:
        assert apply_migrations(conn) == []
        assert apply_migrations(conn) == []
        with conn.cursor() as cur:
            cur.execute("SELECT version, name FROM schema_migrations")
            assert cur.fetchall() == (
                ("0001", "create_csv_metadata"),
                ("0002", "add_dialect_and_warnings"),
                ("0003", "live_rows_sort_indexes_and_counts"),
                ("0004", "missing_objects_rank_with_failed"),
            )
            cur.execute("SELECT revision FROM csv_metadata_revision")
            assert len(cur.fetchall()) == 1
            cur.execute(
                "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                (mysql_db.settings.mysql_database,),
            )
            assert cur.fetchone() == ("utf8mb4",)
            cur.execute(
                "SELECT User, Host FROM mysql.user WHERE User IN (%s, %s) ORDER BY User, Host",
                (mysql_db.settings.mysql_reader_user, mysql_db.settings.mysql_writer_user),
            )
            hosts = {(u, h) for u, h in cur.fetchall()}
    s = mysql_db.settings
    assert hosts == {(u, h) for u in (s.mysql_writer_user, s.mysql_reader_user) for h in ("127.0.0.1", "%")}


def test_changed_migration_is_refused(mysql_db: MySqlTestDb, tmp_path: Path) -> None:
    original = next(MIGRATIONS_DIR.glob("0001_*.sql"))
    (tmp_path / original.name).write_text(original.read_text() + "\n-- edited\n", encoding="utf-8")
    with mysql_db.admin() as conn, pytest.raises(SetupError, match="changed after it was applied"):
        apply_migrations(conn, tmp_path)


def test_new_migration_is_applied_once(mysql_db: MySqlTestDb, tmp_path: Path) -> None:
    for original in MIGRATIONS_DIR.glob("*.sql"):
        (tmp_path / original.name).write_text(original.read_text(), encoding="utf-8")
    (tmp_path / "0099_scratch.sql").write_text(
        "-- test only\nCREATE TABLE IF NOT EXISTS scratch_t (id INT PRIMARY KEY);\n"
        "INSERT IGNORE INTO scratch_t VALUES (1);\n",
        encoding="utf-8",
    )
    with mysql_db.admin() as conn:
        try:
            assert apply_migrations(conn, tmp_path) == ["0099_scratch"]
            assert apply_migrations(conn, tmp_path) == []
        finally:
            with conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS scratch_t")
                cur.execute("DELETE FROM schema_migrations WHERE version = %s", ("0099",))


def test_migration_0002_upgrades_an_existing_database_once(stack: Settings, tmp_path: Path) -> None:
    """A database set up before 0002 (with a record in it): setup applies 0002 once, the old record reads back
    with no warnings and unknown layout, new records carry the new keys; re-running 0002's statements (a run
    that stopped between the ALTER and its schema_migrations row) changes nothing."""
    import uuid

    from backend.store.schema_mysql import _ensure_database, admin_connect, load_migrations

    tag = uuid.uuid4().hex[:8]
    settings = stack.replace(
        mysql_database=f"csvdrop_m_{tag}",
        mysql_writer_user=f"mw_{tag}",
        mysql_reader_user=f"mr_{tag}",
        metadata_store="mysql",
    )
    v1 = next(MIGRATIONS_DIR.glob("0001_*.sql"))
    (tmp_path / v1.name).write_text(v1.read_text(), encoding="utf-8")
    old = make_record(key="old/before-0002.csv", sequencer="01")
    conn = admin_connect(settings)
    try:
        _ensure_database(conn, settings.mysql_database)
        assert apply_migrations(conn, tmp_path) == ["0001_create_csv_metadata"]
        with conn.cursor() as cur:  # a row as the version-1 writer stored it
            cur.execute(
                "INSERT INTO csv_metadata (key_hash, bucket, object_key, file_name, status, size_bytes, etag, "
                "sequencer, uploaded_at, processed_at, duration_ms, `encoding`, has_bom, `delimiter`, quote_char, "
                "has_header, line_terminator, row_count, column_count, column_names, duplicate_column_names, "
                "column_profiles, duplicate_row_count, sample_rows, revision, created_at, updated_at) VALUES "
                "(%s, %s, %s, %s, 'PROCESSED', 10, 'e', '01', '2026-11-25 21:00:00', '2026-11-25 21:00:01', 1.5, "
                "'utf-8', 0, ',', '\"', 1, '\\n', 3, 2, '[\"id\", \"name\"]', '[]', '[]', 0, '[]', 1, "
                "UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
                (store_writer.key_hash(old["bucket"], old["key"]), old["bucket"], old["key"], old["file_name"]),
            )
            cur.execute("UPDATE csv_metadata_revision SET revision = 1 WHERE id = 1")
    finally:
        conn.close()
    db = MySqlTestDb(settings, "w-" + uuid.uuid4().hex, "r-" + uuid.uuid4().hex, [])
    try:
        report = ensure_database_and_users(
            settings, writer_password=db.writer_password, reader_password=db.reader_password
        )
        assert "applied migration 0002_add_dialect_and_warnings" in report
        assert not any("0001" in line for line in report)
        again = ensure_database_and_users(
            settings, writer_password=db.writer_password, reader_password=db.reader_password
        )
        assert "schema up to date" in again
        with db.admin() as conn2:
            migration = next(m for m in load_migrations() if m.version == "0002")
            with conn2.cursor() as cur:
                for statement in migration.statements():  # as if the run had stopped before recording it
                    cur.execute(statement)
                cur.execute("SELECT version FROM schema_migrations ORDER BY version")
                assert cur.fetchall() == (("0001",), ("0002",), ("0003",), ("0004",))
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = 'csv_metadata' AND COLUMN_NAME = 'warnings'"
                )
                assert cur.fetchone() == (1,)
        with db.reader() as r:
            before = r.get(old["bucket"], old["key"])
            assert before is not None and before.row_count == 3
            assert before.warnings == () and not before.has_warnings
            assert before.to_json_dict()["warnings"] == []
            assert (
                before.header_line,
                before.skipped_lines,
                before.escape_char,
                before.double_quote,
                before.skip_initial_space,
            ) == (None, None, None, None, None)
        with db.writer() as w:
            assert w.upsert(warned_record(key="new/after-0002.csv"))
        with db.reader() as r:
            after = r.get("bkt", "new/after-0002.csv")
            assert after is not None and after.has_warnings and len(after.warnings) == 3
            assert [x.key for x in r.list(RecordQuery(with_warnings=True)).records] == ["new/after-0002.csv"]
    finally:
        drop_database_and_users(settings)


@pytest.mark.parametrize(
    "field,value",
    [
        ("mysql_database", "csvdrop`; DROP DATABASE mysql; --"),
        ("mysql_database", "a-b"),
        ("mysql_writer_user", "w'@'%"),
        ("mysql_reader_user", "r" * 40),
    ],
)
def test_hostile_identifiers_are_rejected(stack: Settings, field: str, value: str) -> None:
    with pytest.raises(SetupError, match="not allowed"):
        ensure_database_and_users(stack.replace(**{field: value}), writer_password="x", reader_password="y")


def test_empty_passwords_are_rejected(stack: Settings) -> None:
    with pytest.raises(SetupError, match="non-empty password"):
        ensure_database_and_users(stack, writer_password="", reader_password="y")


def test_passwords_rotate_on_rerun(stack: Settings) -> None:
    gen = create_mysql_test_db(stack)
    db = next(gen)
    try:
        ensure_database_and_users(db.settings, writer_password="new-writer-pw", reader_password="new-reader-pw")
        with pytest.raises(pymysql.err.OperationalError):
            db.connect_as("writer")
        db.writer_password = "new-writer-pw"
        db.connect_as("writer").close()
    finally:
        gen.close()


def test_drop_database_and_users(stack: Settings) -> None:
    gen = create_mysql_test_db(stack)
    db = next(gen)
    try:
        s = db.settings
        said = drop_database_and_users(s)
        assert said.startswith(f"dropped database {s.mysql_database}, user '{s.mysql_writer_user}'@'127.0.0.1'")
        assert said.count("user '") == 4
        assert drop_database_and_users(s) == f"nothing to drop on {s.mysql_host}"
        with db.admin(None) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM mysql.user WHERE User IN (%s, %s)", (s.mysql_writer_user, s.mysql_reader_user)
            )
            assert cur.fetchone() == (0,)
    finally:
        gen.close()


# ------------------------------------------------------------------------------------------ privileges
def _denied(conn: pymysql.connections.Connection[Any], sql: str) -> None:
    with conn.cursor() as cur, pytest.raises(pymysql.err.MySQLError) as info:
        cur.execute(sql)
    assert info.value.args[0] in (1142, 1044, 1227, 1143, 1370), info.value


def test_writer_privileges(db: MySqlTestDb) -> None:
    assert db.writer().upsert(make_record())
    with db.connect_as("writer") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM csv_metadata")
            assert cur.fetchone() == (1,)
        _denied(conn, "DELETE FROM csv_metadata")
        _denied(conn, "DROP TABLE csv_metadata")
        _denied(conn, "TRUNCATE TABLE csv_metadata")
        _denied(conn, "ALTER TABLE csv_metadata ADD COLUMN x INT")
        _denied(conn, "CREATE TABLE x (id INT)")
        _denied(conn, "SELECT * FROM schema_migrations")
        _denied(conn, "SELECT * FROM mysql.user")
        _denied(conn, "DELETE FROM csv_metadata_revision")
    assert _count(db) == 1


def test_reader_privileges(db: MySqlTestDb) -> None:
    assert db.writer().upsert(make_record())
    with db.connect_as("reader") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT object_key FROM csv_metadata")
            assert cur.fetchall() == (("data/a.csv",),)
        _denied(conn, "INSERT INTO csv_metadata (key_hash) VALUES ('x')")
        _denied(conn, "UPDATE csv_metadata SET status = 'FAILED'")
        _denied(conn, "DELETE FROM csv_metadata")
        _denied(conn, "DROP TABLE csv_metadata")
        _denied(conn, "UPDATE csv_metadata_revision SET revision = 0")
        _denied(conn, "SELECT * FROM schema_migrations")


# ------------------------------------------------------------------------------------------ writer
def test_upsert_idempotent_and_ordered(db: MySqlTestDb) -> None:
    w = db.writer()
    reader = db.reader()
    try:
        old, new, newest = "0055AED6DCD90281E5", "0055AED6DCD90281F0", "0055AED6DCD9028200"
        assert w.upsert(make_record(sequencer=new, row_count=10)) is True
        first = reader.get("bkt", "data/a.csv")
        assert first is not None and first.row_count == 10
        # the same event again: one row, nothing changes
        assert w.upsert(make_record(sequencer=new, row_count=10)) is False
        assert _count(db) == 1
        # an older event delivered late: nothing changes
        assert w.upsert(make_record(sequencer=old, row_count=99, status="FAILED", error="late")) is False
        same = reader.get("bkt", "data/a.csv")
        assert same == first and same is not None and same.revision == first.revision
        assert same.updated_at == first.updated_at
        # a newer upload of the same key replaces the record and bumps revision/updated_at
        assert w.upsert(make_record(sequencer=newest, row_count=11)) is True
        latest = reader.get("bkt", "data/a.csv")
        assert latest is not None and latest.row_count == 11 and latest.sequencer == newest
        assert latest.revision > first.revision
        assert latest.updated_at is not None and first.updated_at is not None
        assert latest.updated_at >= first.updated_at
        assert _count(db) == 1
        # an equal sequencer with another ETag wins (emulators repeat sequencers; see handler.ordering_token)
        assert w.upsert(make_record(sequencer=newest, row_count=12, etag="another")) is True
        assert w.upsert(make_record(sequencer=newest, row_count=13, etag="another")) is False
        tied = reader.get("bkt", "data/a.csv")
        assert tied is not None and tied.row_count == 12 and tied.revision > latest.revision
        # same key in another bucket is another record
        assert w.upsert(make_record(bucket="other", sequencer=old)) is True
        assert _count(db) == 2
    finally:
        w.close()
        reader.close()


@pytest.mark.parametrize(
    "stored,incoming,newer",
    [
        ("FF", "100", True),  # different lengths compare as numbers after left-padding
        ("100", "FF", False),
        ("00ab", "AB", False),  # same value, different case/padding: a duplicate
        ("9", "0A", True),
    ],
)
def test_sequencer_padding(db: MySqlTestDb, stored: str, incoming: str, newer: bool) -> None:
    with db.writer() as w:
        assert w.upsert(make_record(sequencer=stored))
        assert w.upsert(make_record(sequencer=incoming)) is newer


def test_upsert_rejects_bad_records(db: MySqlTestDb) -> None:
    with db.writer() as w:
        with pytest.raises(ValueError, match="sequencer"):
            w.upsert(make_record(sequencer="not-hex"))
        with pytest.raises(ValueError, match="status"):
            w.upsert(make_record(status="DONE"))
        with pytest.raises(ValueError, match="bucket"):
            w.upsert(make_record(bucket=""))
    assert _count(db) == 0


def test_concurrent_writers(db: MySqlTestDb) -> None:
    """8 writers racing on 5 keys with shuffled sequencers: the highest sequencer wins for each key,
    no deadlock escapes, revisions are unique."""
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with db.writer() as w:
                for i in range(20):
                    seq = f"{(i * 7 + worker * 13) % 40:04X}"
                    w.upsert(make_record(key=f"k{i % 5}.csv", sequencer=seq))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    expected: dict[str, str] = {}
    for worker in range(8):
        for i in range(20):
            key, seq = f"k{i % 5}.csv", f"{(i * 7 + worker * 13) % 40:04X}"
            expected[key] = max(expected.get(key, "0000"), seq)
    with db.reader() as r:
        page = r.list(RecordQuery(limit=100))
    assert {rec.key: rec.sequencer for rec in page.records} == expected
    assert len({rec.revision for rec in page.records}) == 5


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_values_round_trip(db: MySqlTestDb, key: str) -> None:
    record = hostile_record(key)
    with db.writer() as w:
        assert w.upsert(record)
    with db.reader() as r:
        got = r.get("bkt", key)
        assert got is not None
        assert got.to_json_dict() == expected_json(record)
        assert list(got.to_json_dict()) == list(CONTRACT_KEYS)
        page = r.list(RecordQuery(name_contains=key))
        assert [x.key for x in page.records] == [key]
    # the JSON is valid JSON for every consumer, and the tables are all still there
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT JSON_VALID(column_names), JSON_VALID(sample_rows), JSON_VALID(column_profiles) FROM csv_metadata"
        )
        assert cur.fetchone() == (1, 1, 1)
        cur.execute("SHOW TABLES")
        tables = {t for (t,) in cur.fetchall()}
        assert tables >= {"csv_metadata", "csv_metadata_revision", "schema_migrations"}


def test_warned_record_round_trip(db: MySqlTestDb) -> None:
    """A record processed with warnings goes through the real writer and reader with every new key intact."""
    record, failed, clean = warned_records()
    with db.writer() as w:
        for rec in (record, failed, clean):
            assert w.upsert(rec)
    with db.reader() as r:
        got = r.get("bkt", record["key"])
        assert_warned_record_read_back(got, record)
        assert [w.lines_text for w in got.warnings] == ["lines 1 and 2", "lines 9 and 14", ""]
        bad = r.get("bkt", failed["key"])
        assert bad is not None and bad.to_json_dict() == expected_json(failed)
        assert (bad.warnings, bad.skipped_lines, bad.header_line, bad.double_quote) == ((), None, None, None)
        # the filter of `csvdrop list --warnings`: processed with warnings only
        assert [x.key for x in r.list(RecordQuery(with_warnings=True)).records] == [record["key"]]
        assert r.list(RecordQuery(with_warnings=True, status="FAILED")).total == 0
        assert r.list(RecordQuery(status="PROCESSED")).total == 2
        changed, _ = r.changed_since(None)
        assert {x.key: len(x.warnings) for x in changed} == {record["key"]: 3, failed["key"]: 0, clean["key"]: 0}
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT object_key, warning_count, JSON_VALID(warnings), skipped_lines IS NULL "
            "FROM csv_metadata ORDER BY object_key"
        )
        assert cur.fetchall() == ((failed["key"], 0, 1, 1), (clean["key"], 0, 1, 0), (record["key"], 3, 1, 0))


def test_json_dict_times_and_types(db: MySqlTestDb) -> None:
    record = make_record(uploaded_at="2026-11-25T23:00:00.5+02:00", processed_at="2026-11-25T21:00:01Z")
    with db.writer() as w:
        w.upsert(record)
    with db.reader() as r:
        got = r.get("bkt", "data/a.csv")
    assert got is not None
    out = got.to_json_dict()
    assert out["uploaded_at"] == "2026-11-25T21:00:00.500000+00:00"
    assert out["processed_at"] == "2026-11-25T21:00:01.000000+00:00"
    assert out["has_bom"] is False and out["has_header"] is True
    assert out["columns"][0] == {
        "name": "id",
        "type": "integer",
        "null_count": 0,
        "distinct_count": 3,
        "min": 1,
        "max": 3,
        "histogram": None,  # written without distributions (a record from before contract v3)
        "top_values": [],
    }
    json.dumps(out)  # serialisable as is
    assert isinstance(got, MetadataRecord) and got.uploaded_at.tzinfo is not None


def test_writer_from_secret_via_open_writer(db: MySqlTestDb, stack: Settings) -> None:
    """open_writer reads host/port/user/password/dbname from a Secrets Manager secret (once per process)."""
    s = db.settings
    sm = boto3.client(
        "secretsmanager",
        endpoint_url=stack.aws_endpoint,
        region_name=stack.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    name = f"csvdrop-test/{s.mysql_writer_user}"
    arn = sm.create_secret(
        Name=name,
        SecretString=json.dumps(
            {
                "host": s.mysql_host,
                "port": s.mysql_port,
                "username": s.mysql_writer_user,
                "password": db.writer_password,
                "dbname": s.mysql_database,
            }
        ),
    )["ARN"]
    env = {
        "DB_SECRET_ARN": arn,
        "AWS_ENDPOINT_URL": stack.aws_endpoint,
        "AWS_REGION": stack.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    store_writer.clear_secret_cache()
    try:
        with store_writer.open_writer(env) as w:
            assert isinstance(w, store_writer.MySqlWriter)
            assert w.upsert(make_record())
        # cached: the secret is not read again, even once it is gone
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        with store_writer.open_writer(env) as w:
            assert w.upsert(make_record(sequencer="FFFFFFFFFFFFFFFFFF"))
    finally:
        store_writer.clear_secret_cache()
    with pytest.raises(store_writer.StoreWriteError, match="cannot read the database secret"):
        store_writer.open_writer(env)
    with pytest.raises(store_writer.StoreWriteError, match="DB_SECRET_ARN"):
        store_writer.open_writer({})


def test_writer_reconnects_after_kill(db: MySqlTestDb) -> None:
    with db.writer() as w:
        assert w.upsert(make_record(sequencer="01"))
        thread_id = w._conn.thread_id()
        with db.admin() as conn, conn.cursor() as cur:
            cur.execute("KILL CONNECTION %s", (thread_id,))
        assert w.upsert(make_record(sequencer="02"))
        assert w._conn.thread_id() != thread_id
    with db.reader() as r:
        rec = r.get("bkt", "data/a.csv")
        assert rec is not None and rec.sequencer == "02"


def test_writer_error_is_plain(stack: Settings) -> None:
    w = store_writer.MySqlWriter(
        host="127.0.0.1", port=free_port(), user="u", password="p", database="d", connect_timeout=2
    )
    with pytest.raises(store_writer.StoreWriteError, match="cannot connect to the metadata database"):
        w.upsert(make_record())


# ------------------------------------------------------------------------------------------ reader
def _seed(db: MySqlTestDb) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    records = []
    names = ["alpha.csv", "Beta.csv", "gamma_2026.csv", "delta%.csv", "epsilon.csv", "zeta.CSV", "eta.csv"]
    for i, name in enumerate(names):
        failed = i % 3 == 2
        records.append(
            make_record(
                key=f"in/{i}/{name}",
                sequencer=f"{i + 1:02X}",
                status="FAILED" if failed else "PROCESSED",
                error="bad" if failed else None,
                size_bytes=1000 - i * 100,
                uploaded_at=(base + timedelta(days=i)).isoformat(),
                duration_ms=float((i * 37) % 11),
                row_count=None if failed else i * 10,
                encoding=None if failed else ("utf-8" if i % 2 else "latin-1"),
            )
        )
    with db.writer() as w:
        for rec in records:
            assert w.upsert(rec)
    return records


def test_list_filters_sort_paging(db: MySqlTestDb) -> None:
    records = _seed(db)
    with db.reader() as r:
        everything = r.list(RecordQuery(limit=100))
        assert everything.total == 7
        # default: newest upload first
        assert [x.key for x in everything.records] == [rec["key"] for rec in reversed(records)]
        failed = r.list(RecordQuery(status="FAILED"))
        assert failed.total == 2 and {x.status for x in failed.records} == {"FAILED"}
        # name filter: case-insensitive substring, % and _ are literal characters
        assert [x.file_name for x in r.list(RecordQuery(name_contains="BETA")).records] == ["Beta.csv"]
        assert [x.file_name for x in r.list(RecordQuery(name_contains="%")).records] == ["delta%.csv"]
        assert [x.file_name for x in r.list(RecordQuery(name_contains="_")).records] == ["gamma_2026.csv"]
        assert r.count(RecordQuery(name_contains="nothing-like-this")) == 0
        # uploaded range: from inclusive, to exclusive; naive datetimes are UTC
        start = datetime(2026, 11, 2, 12, 0)
        end = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
        in_range = r.list(RecordQuery(uploaded_from=start, uploaded_to=end, descending=False))
        assert [x.key for x in in_range.records] == [records[1]["key"], records[2]["key"]]
        # paging
        page1 = r.list(RecordQuery(sort="file_name", descending=False, limit=3, offset=0))
        page3 = r.list(RecordQuery(sort="file_name", descending=False, limit=3, offset=6))
        assert page1.total == page3.total == 7
        assert [x.file_name for x in page1.records] == ["alpha.csv", "Beta.csv", "delta%.csv"]
        assert [x.file_name for x in page3.records] == ["zeta.CSV"]
        # every sort key works both ways and agrees with Python's order on the unique ones
        for key in SORT_KEYS:
            for desc in (False, True):
                if key not in r.capabilities.sort_keys:
                    with pytest.raises(StoreError, match=f"cannot sort by {key}"):
                        r.list(RecordQuery(sort=key, descending=desc))
                    continue
                got = r.list(RecordQuery(sort=key, descending=desc, limit=100)).records
                assert len(got) == 7
        by_size = r.list(RecordQuery(sort="size_bytes", descending=False)).records
        assert [x.size_bytes for x in by_size] == sorted(rec["size_bytes"] for rec in records)
        by_rows = r.list(RecordQuery(sort="row_count", descending=True)).records
        assert [x.row_count for x in by_rows][:5] == [60, 40, 30, 10, 0] and by_rows[-1].row_count is None


def test_changed_since(db: MySqlTestDb) -> None:
    records = _seed(db)
    with db.reader() as r, db.writer() as w:
        got, cursor = r.changed_since(None)
        assert [x.key for x in got] == [rec["key"] for rec in records]
        assert r.changed_since(cursor) == ([], cursor)
        # paging through with a small limit returns each record once, in change order
        seen: list[str] = []
        page_cursor: str | None = None
        while True:
            page, page_cursor = r.changed_since(page_cursor, limit=3)
            seen += [x.key for x in page]
            if len(page) < 3:
                break
        assert seen == [rec["key"] for rec in records]
        # only what changed comes back; an ignored (older) event changes nothing
        assert w.upsert(dict(records[3], sequencer="FF", row_count=12345))
        assert not w.upsert(dict(records[4], sequencer="00"))
        changed, cursor2 = r.changed_since(cursor)
        assert [(x.key, x.row_count) for x in changed] == [(records[3]["key"], 12345)]
        assert r.changed_since(cursor2) == ([], cursor2)
        with pytest.raises(StoreError, match="invalid change cursor"):
            r.changed_since("garbage")


def test_reader_reconnects_after_kill(db: MySqlTestDb) -> None:
    _seed(db)
    with db.reader() as r:
        assert isinstance(r, MySqlReader)
        assert r.list(RecordQuery()).total == 7
        assert r._conn is not None
        thread_id = r._conn.thread_id()
        with db.admin() as conn, conn.cursor() as cur:
            cur.execute("KILL CONNECTION %s", (thread_id,))
        assert r.list(RecordQuery()).total == 7
        assert r._conn is not None and r._conn.thread_id() != thread_id
        # and again (the app polls for hours)
        with db.admin() as conn, conn.cursor() as cur:
            cur.execute("KILL CONNECTION %s", (r._conn.thread_id(),))
        assert r.changed_since(None)[0]


def test_store_error_when_server_down(stack: Settings) -> None:
    port = free_port()
    settings = stack.replace(mysql_port=port, mode="local")
    reader = open_reader(settings, user="nobody", password="x")
    with pytest.raises(StoreError) as info:
        reader.list(RecordQuery())
    message = str(info.value)
    assert message == (
        f"Cannot reach the metadata database at 127.0.0.1:{port}: connection refused. "
        "Is the local stack up? Run `csvdrop stack up`."
    )
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(StoreError, match="Cannot reach"):
        reader.get("b", "k")
    with pytest.raises(StoreError, match="Cannot reach"):
        reader.changed_since(None)
    reader.close()


def test_store_error_messages(db: MySqlTestDb) -> None:
    s = db.settings
    with pytest.raises(StoreError, match=r"refused user .*wrong password"):
        open_reader(s, password="wrong").list(RecordQuery())
    with pytest.raises(StoreError, match="does not exist"):
        open_reader(
            s.replace(mysql_database="csvdrop_no_such_db"), user=s.mysql_admin_user, password=s.mysql_admin_password
        ).list(RecordQuery())


def test_open_reader_uses_reader_secret(db: MySqlTestDb, stack: Settings) -> None:
    s = db.settings.replace(reader_secret_name=f"csvdrop-test/{db.settings.mysql_reader_user}")
    with pytest.raises(StoreError, match="does not exist"):
        open_reader(s)
    sm = boto3.client(
        "secretsmanager",
        endpoint_url=stack.aws_endpoint,
        region_name=stack.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    sm.create_secret(
        Name=s.reader_secret_name,
        SecretString=json.dumps(
            {
                "username": s.mysql_reader_user,
                "password": db.reader_password,
                "host": s.mysql_host,
                "port": s.mysql_port,
                "dbname": s.mysql_database,
            }
        ),
    )
    try:
        with db.writer() as w:
            w.upsert(make_record())
        reader = open_reader(s)
        assert isinstance(reader, MySqlReader) and reader.user == s.mysql_reader_user
        assert reader.list(RecordQuery()).total == 1
        reader.close()
    finally:
        sm.delete_secret(SecretId=s.reader_secret_name, ForceDeleteWithoutRecovery=True)
