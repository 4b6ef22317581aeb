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


# ---------------------------------------------------------------------------------------------- the batch's fast path
# upsert_many writes a batch in a few statements (one locking read, the rows, a count per (bucket, rank)) and
# falls back to a savepoint per record only when the database refuses one of them. The tests below hold it to
# the savepoint path's results and end state.
def _com(writer: Any) -> dict[str, int]:
    """The writer's own session's statement counters (Com_select, Com_insert, Com_savepoint, ...)."""
    with writer._connection().cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Com\\_%'")
        return {name: int(value) for name, value in cur.fetchall()}


def _statements(writer: Any, action: Any) -> tuple[Any, dict[str, int]]:
    """``action()``'s result and how many of each statement kind the writer's session ran for it."""
    before = _com(writer)
    result = action()
    after = _com(writer)
    kinds = ("Com_select", "Com_insert", "Com_update", "Com_savepoint", "Com_rollback_to_savepoint")
    return result, {kind.removeprefix("Com_"): after[kind] - before[kind] for kind in kinds}


def _raw_counts(db: MySqlTestDb) -> dict[tuple[str, int], int]:
    """The counts table as it is, zero rows included."""
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT bucket, status_rank, n FROM csv_metadata_counts")
        return {(b, int(r)): int(n) for b, r, n in cur.fetchall()}


def _state(db: MySqlTestDb, base: int) -> dict[str, Any]:
    """Everything a batch leaves behind but times and id values: every column of every row (revisions relative
    to ``base``), the keys in id order, the counts table and the counter."""
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM csv_metadata ORDER BY id")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        row["revision"] -= base
        for volatile in ("id", "created_at", "updated_at"):
            del row[volatile]
    return {
        "rows": {row["object_key"]: row for row in rows},
        "id_order": [row["object_key"] for row in rows],
        "counts": _raw_counts(db),
        "counter": _counter(db) - base,
    }


def test_a_plain_batch_takes_a_few_statements(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("warm.csv", "01")) is True  # connects: the counters are this session's
    batch = [
        make_record("a.csv", "0A"),
        warned_record("w.csv", "0B"),
        make_record("f.csv", "0C", status="FAILED", error="bad"),
        make_record("b.csv", "0D"),
    ]
    results, ran = _statements(writer, lambda: writer.upsert_many(batch))
    assert results == [True, True, True, True]
    # The counter and every key read in one statement each; the rows in one INSERT and the counts in one per
    # (bucket, rank) that moved; the counter moved once. No savepoint: the per-record path was not taken.
    assert ran == {"select": 2, "insert": 1 + 3, "update": 1, "savepoint": 0, "rollback_to_savepoint": 0}
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 3, ("bkt", 1): 1, ("bkt", 2): 1}


def test_the_same_key_twice_older_then_newer(db: MySqlTestDb, writer: Any) -> None:
    before = _counter(db)
    results = writer.upsert_many(
        [make_record("k.csv", "0A", row_count=1), make_record("x.csv", "0B"), make_record("k.csv", "0C", row_count=2)]
    )
    assert results == [True, True, True]
    rows = _rows(db)
    # k.csv took before + 1 and then before + 3: the row holds the second one's profile and revision.
    assert (rows["k.csv"][2], rows["k.csv"][4], rows["x.csv"][2], _counter(db)) == (
        before + 3,
        2,
        before + 2,
        before + 3,
    )
    assert _raw_counts(db) == _true_counts(db) == {("bkt", 0): 2}


def test_the_same_key_twice_newer_then_older(db: MySqlTestDb, writer: Any) -> None:
    before = _counter(db)
    results = writer.upsert_many(
        [make_record("k.csv", "0C", row_count=2), make_record("k.csv", "0A", row_count=1), make_record("x.csv", "0B")]
    )
    # The second k.csv is judged against the first one's row, not against the empty table: it loses.
    assert results == [True, False, True]
    rows = _rows(db)
    assert (rows["k.csv"][2], rows["k.csv"][4], rows["x.csv"][2], _counter(db)) == (
        before + 1,
        2,
        before + 2,
        before + 2,
    )
    # An equal sequencer and ETag a second time is a duplicate too.
    assert writer.upsert_many([make_record("y.csv", "0A"), make_record("y.csv", "0A")]) == [True, False]
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 3}


def test_a_key_moved_twice_in_one_batch_leaves_the_counts_the_savepoint_path_leaves(
    db: MySqlTestDb, writer: Any
) -> None:
    # New, then FAILED in the same batch: (bkt, 0) gets +1 and -1. The statements the savepoint path runs leave
    # a (bkt, 0) row holding 0; a skipped zero net would leave none.
    results = writer.upsert_many([make_record("k.csv", "0A"), make_record("k.csv", "0B", status="FAILED", error="x")])
    assert results == [True, True]
    assert _raw_counts(db) == {("bkt", 0): 0, ("bkt", 2): 1}
    assert _counts(db) == _true_counts(db) == {("bkt", 2): 1}


def test_a_mixed_batch_of_new_stored_winning_and_deleted_keys(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("stays.csv", "05")) is True
    assert writer.upsert(make_record("fails.csv", "05")) is True
    assert writer.upsert(make_record("warns.csv", "05", status="FAILED", error="bad")) is True
    assert writer.upsert(make_record("gone.csv", "05")) is True
    assert writer.delete("bkt", "gone.csv", "06") is True
    assert writer.upsert(make_record("b2.csv", "05", bucket="b2")) is True
    before = _counter(db)
    batch = [
        make_record("new1.csv", "0A"),
        make_record("stays.csv", "04"),  # older than the stored row: the stored row wins
        make_record("fails.csv", "0A", status="FAILED", error="now broken"),  # rank 0 -> 2
        warned_record("warns.csv", "0A"),  # rank 2 -> 1
        make_record("gone.csv", "06", row_count=5),  # not older than the tombstone: revives it
        make_record("new2.csv", "0B", bucket="b2"),
        make_record("other.csv", "05"),
    ]
    results, ran = _statements(writer, lambda: writer.upsert_many(batch))
    assert results == [True, False, True, True, True, True, True]
    assert ran["savepoint"] == 0
    rows = _rows(db)
    assert {k: r[2] - before for k, r in rows.items() if r[2] > before} == {
        "new1.csv": 1,
        "fails.csv": 2,
        "warns.csv": 3,
        "gone.csv": 4,
        "new2.csv": 5,
        "other.csv": 6,
    }
    assert rows["stays.csv"][2] < before and rows["gone.csv"][3:5] == (0, 5)
    assert (rows["fails.csv"][:2], rows["warns.csv"][:2]) == (("FAILED", "now broken"), ("PROCESSED", None))
    assert _counter(db) == before + 6
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 4, ("bkt", 1): 1, ("bkt", 2): 1, ("b2", 0): 2}


def _mixed_setup(writer: Any) -> None:
    assert writer.upsert(make_record("s1.csv", "05")) is True
    assert writer.upsert(warned_record("s2.csv", "05")) is True
    assert writer.upsert(make_record("s3.csv", "05", status="FAILED", error="bad")) is True
    assert writer.upsert(make_record("dead.csv", "05")) is True
    assert writer.delete("bkt", "dead.csv", "07") is True
    assert writer.upsert(make_record("dead2.csv", "05")) is True
    assert writer.delete("bkt", "dead2.csv", "07") is True


_MIXED_BATCH = [
    make_record("n1.csv", "0A"),
    make_record("s1.csv", "04"),
    warned_record("n1.csv", "0B"),
    make_record("s2.csv", "05", etag="other"),  # equal sequencer, other ETag: replaces
    make_record("dead.csv", "06"),  # a tombstone keeps the upload's sequencer (05): revived
    make_record("s3.csv", "0A"),
    make_record("n1.csv", "0B"),  # equal sequencer and ETag: a duplicate, unless re-processing
    make_record("s3.csv", "0B", status="FAILED", error="again"),
    make_record("n2.csv", "0A", bucket="b2"),
    make_record("s1.csv", "06", status="FAILED", error="x"),
    make_record("dead2.csv", "04"),  # older than the tombstone's upload: stays deleted
]


@pytest.mark.parametrize("reprocess", [False, True])
def test_the_fast_path_leaves_what_the_savepoint_path_leaves(
    db: MySqlTestDb, writer: Any, monkeypatch: pytest.MonkeyPatch, reprocess: bool
) -> None:
    def run(savepoints: bool) -> tuple[list[Any], dict[str, Any], dict[str, int]]:
        db.truncate()
        _mixed_setup(writer)
        base = _counter(db)
        if savepoints:
            monkeypatch.setattr(writer, "_upsert_many_set", writer._upsert_many_savepoints)
        results, ran = _statements(writer, lambda: writer.upsert_many(_MIXED_BATCH, reprocess=reprocess))
        monkeypatch.undo()
        return results, _state(db, base), ran

    fast, fast_state, fast_ran = run(savepoints=False)
    slow, slow_state, slow_ran = run(savepoints=True)
    assert fast_ran["savepoint"] == 0 and slow_ran["savepoint"] == len(_MIXED_BATCH)
    assert fast == slow
    assert fast_state == slow_state
    assert _counts(db) == _true_counts(db)
    assert fast_state["rows"]["dead2.csv"]["deleted"] == 1
    expected = (
        [True, False, True, True, True, True, True, True, True, True, False]
        if reprocess
        else [True, False, True, True, True, True, False, True, True, True, False]
    )
    assert fast == expected


@pytest.mark.usefixtures("poison_trigger")
def test_a_refused_record_amid_a_batch_falls_back_and_fails_alone(db: MySqlTestDb, writer: Any) -> None:
    assert writer.upsert(make_record("s.csv", "05")) is True
    before = _counter(db)
    batch = [
        make_record("a.csv", "0A"),
        make_record("s.csv", "06", status="FAILED", error="x"),
        make_record("a.csv", "0B", row_count=8),
        make_record("in/poison.csv", "0C"),
        warned_record("c.csv", "0D"),
    ]
    results, ran = _statements(writer, lambda: writer.upsert_many(batch))
    assert results[:3] == [True, True, True] and results[4] is True
    assert isinstance(results[3], store_writer.StoreWriteError) and "poison rows are refused" in str(results[3])
    # The fast path's INSERT was refused and rolled back whole; the savepoint path then stored the others.
    assert ran["savepoint"] == len(batch) and ran["rollback_to_savepoint"] == 1
    rows = _rows(db)
    assert set(rows) == {"a.csv", "s.csv", "c.csv"}
    assert {k: r[2] - before for k, r in rows.items()} == {"s.csv": 2, "a.csv": 3, "c.csv": 4}
    assert rows["a.csv"][4] == 8 and _counter(db) == before + 4
    assert _counts(db) == _true_counts(db) == {("bkt", 0): 1, ("bkt", 1): 1, ("bkt", 2): 1}
