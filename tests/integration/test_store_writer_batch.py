"""The MySQL writer's batch (the SQS trigger's one transaction per batch) and its lost-object marking, against a
real MariaDB: rows, revisions and live counts as the database holds them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from store_fixtures import MySqlTestDb, dynamo_writer_env, make_record, store_writer, warned_record

from backend.aws import client
from backend.config import Settings

pytestmark = pytest.mark.stack


@pytest.fixture()
def db(mysql_db: MySqlTestDb) -> MySqlTestDb:
    mysql_db.truncate()
    return mysql_db


@pytest.fixture()
def writer(db: MySqlTestDb) -> Iterator[Any]:
    w = db.writer()
    try:
        yield w
    finally:
        w.close()


def _rows(db: MySqlTestDb) -> dict[str, tuple[Any, ...]]:
    """object_key -> (status, error, revision, deleted, row_count, column_names)."""
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT object_key, status, error, revision, deleted, row_count, column_names FROM csv_metadata")
        return {row[0]: tuple(row[1:]) for row in cur.fetchall()}


def _counter(db: MySqlTestDb) -> int:
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT revision FROM csv_metadata_revision WHERE id = 1")
        return int(cur.fetchone()[0])


def _counts(db: MySqlTestDb) -> dict[tuple[str, int], int]:
    """The writer-kept live counts, without the zero rows a move leaves."""
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT bucket, status_rank, n FROM csv_metadata_counts WHERE n <> 0")
        return {(b, int(r)): int(n) for b, r, n in cur.fetchall()}


def _true_counts(db: MySqlTestDb) -> dict[tuple[str, int], int]:
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT bucket, status_rank, COUNT(*) FROM csv_metadata WHERE deleted = 0 GROUP BY 1, 2")
        return {(b, int(r)): int(n) for b, r, n in cur.fetchall()}


def test_a_batch_stores_every_record_with_consecutive_revisions(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("old.csv", "05")) is True
    before = _counter(db)
    batch = [
        make_record("a.csv", "0A"),
        make_record("old.csv", "04"),  # older than the stored one: not stored
        warned_record("w.csv", "0B"),
        make_record("f.csv", "0C", status="FAILED", error="Line 3 has 4 fields."),
        make_record("a.csv", "0D", row_count=9),  # the same key again, newer: replaces the first in the batch
    ]
    assert writer.upsert_many(batch) == [True, False, True, True, True]
    rows = _rows(db)
    assert {k: r[2] for k, r in rows.items() if k != "old.csv"} == {
        "w.csv": before + 2,
        "f.csv": before + 3,
        "a.csv": before + 4,
    }
    assert rows["a.csv"][4] == 9 and rows["old.csv"][2] == before
    assert _counter(db) == before + 4  # one per stored record, none for the refused older event
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 2, ("bkt", 1): 1, ("bkt", 2): 1}
    # The same batch again is all duplicates, and moves nothing.
    assert writer.upsert_many(batch[2:4]) == [False, False]
    assert _counter(db) == before + 4


def test_a_malformed_record_is_its_own_entry(db: MySqlTestDb, writer: Any) -> None:
    results = writer.upsert_many([make_record("a.csv", "0A"), make_record("b.csv", "not-hex")])
    assert results[0] is True and isinstance(results[1], ValueError)
    assert list(_rows(db)) == ["a.csv"]


def _refusing(db: MySqlTestDb, name: str, table: str, condition: str, message: str) -> Iterator[None]:
    """A BEFORE INSERT trigger on ``table`` that SIGNALs ``message`` when ``condition`` holds, while the test runs."""
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute(
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
            f"BEGIN IF {condition} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}'; END IF; END"
        )
    try:
        yield
    finally:
        with db.admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP TRIGGER IF EXISTS {name}")


@pytest.fixture()
def poison_trigger(db: MySqlTestDb) -> Iterator[None]:
    """A BEFORE INSERT trigger refusing any key containing 'poison', as a constraint or an operator's trigger
    could refuse a row."""
    yield from _refusing(
        db, "csvdrop_test_poison", "csv_metadata", "NEW.object_key LIKE '%poison%'", "poison rows are refused"
    )


@pytest.mark.usefixtures("poison_trigger")
def test_a_record_refused_by_a_trigger_fails_alone_and_the_others_commit(db: MySqlTestDb, writer: Any) -> None:
    before = _counter(db)
    results = writer.upsert_many(
        [make_record("a.csv", "0A"), make_record("in/poison.csv", "0B"), warned_record("c.csv", "0C")]
    )
    assert results[0] is True and results[2] is True
    refused = results[1]
    assert isinstance(refused, store_writer.StoreWriteError)
    assert "s3://bkt/in/poison.csv" in str(refused) and "poison rows are refused" in str(refused)
    rows = _rows(db)
    assert set(rows) == {"a.csv", "c.csv"}
    # The refused record took no revision: the stored ones are consecutive, and the counts hold only them.
    assert (rows["a.csv"][2], rows["c.csv"][2], _counter(db)) == (before + 1, before + 2, before + 2)
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 1, ("bkt", 1): 1}
    # The handler's last resort for the refused record: a FAILED one, in a transaction of its own. The trigger
    # refuses it too (the key is the poison), so it is an entry again, and nothing else moves.
    failed = make_record("in/poison.csv", "0B", status="FAILED", error="Could not be stored after 3 attempts: x")
    (again,) = writer.upsert_many([failed])
    assert isinstance(again, store_writer.StoreWriteError)
    assert _counter(db) == before + 2


@pytest.fixture()
def counts_trigger(db: MySqlTestDb) -> Iterator[None]:
    """Refuses the live count of a 'poison' bucket: a record whose row went in and whose second statement fails."""
    yield from _refusing(
        db, "csvdrop_test_counts", "csv_metadata_counts", "NEW.bucket LIKE 'poison%'", "poison counts are refused"
    )


@pytest.mark.usefixtures("counts_trigger")
def test_a_record_refused_halfway_leaves_nothing_behind(db: MySqlTestDb, writer: Any) -> None:
    results = writer.upsert_many(
        [make_record("a.csv", "0A"), make_record("b.csv", "0B", bucket="poison-bucket"), make_record("c.csv", "0C")]
    )
    assert results[0] is True and results[2] is True
    assert "poison counts are refused" in str(results[1])
    # Its row was inserted before its count was refused: rolled back to its savepoint, not committed alone.
    assert set(_rows(db)) == {"a.csv", "c.csv"}
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 2}


def test_a_batch_after_the_server_dropped_the_connection(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("a.csv", "0A")) is True
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (db.settings.mysql_writer_user,))
        for (thread,) in cur.fetchall():
            cur.execute(f"KILL {int(thread)}")
    # The writer notices on the first statement, reconnects once and runs the whole batch again.
    assert writer.upsert_many([make_record("b.csv", "0B"), make_record("c.csv", "0C")]) == [True, True]
    assert set(_rows(db)) == {"a.csv", "b.csv", "c.csv"}


def test_an_unreachable_database_fails_the_whole_batch(db: MySqlTestDb) -> None:
    s = db.settings
    writer = store_writer.MySqlWriter(
        host=s.mysql_host, port=s.mysql_port, user=s.mysql_writer_user, password="wrong", database=s.mysql_database
    )
    with pytest.raises(store_writer.StoreWriteError, match="cannot connect to the metadata database"):
        writer.upsert_many([make_record("a.csv", "0A")])
    assert _rows(db) == {}


# ---------------------------------------------------------------------------------------------- mark_missing
def test_mark_missing_keeps_the_metadata_and_moves_the_count(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(warned_record("in/lost.csv", "0A", row_count=7)) is True
    assert writer.upsert(make_record("in/kept.csv", "0B")) is True
    before = _counter(db)
    assert writer.mark_missing("bkt", "in/lost.csv") is True
    status, error, revision, deleted, row_count, column_names = _rows(db)["in/lost.csv"]
    assert (status, revision, deleted, row_count) == ("MISSING", before + 1, 0, 7)
    assert error == (
        "The object s3://bkt/in/lost.csv is no longer in S3 (it was lost, e.g. by a local cloud that stopped "
        "without saving it); upload the file again."
    )
    assert column_names == '["id", "name"]'
    assert _counts(db) == _true_counts(db)  # whatever rank the schema in place gives MISSING
    # Already missing, not there, or another bucket's key: nothing changes.
    assert writer.mark_missing("bkt", "in/lost.csv") is False
    assert writer.mark_missing("bkt", "in/never.csv") is False
    assert writer.mark_missing("other", "in/kept.csv") is False
    assert _counter(db) == before + 1
    # A later upload of the key replaces the MISSING record as usual.
    assert writer.upsert(make_record("in/lost.csv", "0C")) is True
    assert _rows(db)["in/lost.csv"][:2] == ("PROCESSED", None)
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 2}


def test_mark_missing_leaves_a_deleted_record_alone(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("in/gone.csv", "0A")) is True
    assert writer.delete("bkt", "in/gone.csv", "0B") is True
    before = _counter(db)
    assert writer.mark_missing("bkt", "in/gone.csv") is False
    assert _rows(db)["in/gone.csv"][0] == "PROCESSED" and _counter(db) == before
    assert _counts(db) == _true_counts(db) == {}


def test_mark_missing_of_a_failed_record_keeps_counts_right(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("in/bad.csv", "0A", status="FAILED", error="bad")) is True
    assert writer.mark_missing("bkt", "in/bad.csv") is True
    assert _rows(db)["in/bad.csv"][0] == "MISSING"
    assert _counts(db) == _true_counts(db)


# ---------------------------------------------------------------------------------------------- DynamoDB
def test_dynamodb_batch_and_mark_missing(dynamo_settings: Settings) -> None:
    writer = store_writer.open_writer(dynamo_writer_env(dynamo_settings))
    results = writer.upsert_many(
        [warned_record("in/lost.csv", "0A"), make_record("in/b.csv", "not-hex"), make_record("in/kept.csv", "0B")]
    )
    assert results[0] is True and results[2] is True and isinstance(results[1], ValueError)

    def item(key: str) -> dict[str, Any]:
        found = client(dynamo_settings, "dynamodb").get_item(
            TableName=dynamo_settings.dynamodb_table, Key={"FileName": {"S": key}}, ConsistentRead=True
        )
        return dict(found["Item"])

    before = int(item("in/lost.csv")["Revision"]["N"])
    assert writer.mark_missing("bkt", "in/lost.csv") is True
    lost = item("in/lost.csv")
    record = json.loads(lost["Record"]["S"])
    assert (lost["Status"]["S"], lost["LiveStatus"]["S"], int(lost["Revision"]["N"])) == (
        "MISSING",
        "FAILED",  # kept in FAILED's status partition: the browser's "Failed" filter shows it, as on MySQL
        before + 2,  # in/kept.csv took before + 1
    )
    assert record["status"] == "MISSING" and record["error"] == store_writer.missing_error("bkt", "in/lost.csv")
    assert record["warnings"] == warned_record()["warnings"]  # the rest of what was known stays
    assert writer.mark_missing("bkt", "in/lost.csv") is False
    assert writer.mark_missing("other", "in/kept.csv") is False
    assert writer.mark_missing("bkt", "in/never.csv") is False
    assert writer.upsert(make_record("in/lost.csv", "0C")) is True
    assert item("in/lost.csv")["Status"]["S"] == "PROCESSED"
