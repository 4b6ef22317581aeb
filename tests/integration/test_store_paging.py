"""The store as a window onto many records: keyset and offset pages in every served order, filters with
sorts, counts, tombstones, re-processing, migration 0003; MySQL (real MariaDB) and DynamoDB (LocalStack)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_fixtures import MySqlTestDb, dynamo_writer_env, insert_old_rows, make_record, store_writer

from backend.config import Settings
from backend.store import RecordQuery, StoreError, open_reader
from backend.store.mysql import SORT_COLUMNS
from backend.store.schema_mysql import MIGRATIONS_DIR, apply_migrations, drop_database_and_users, load_migrations
from backend.store.seeding import seed_mysql

pytestmark = pytest.mark.stack

SEEDED = 240


@pytest.fixture(scope="module")
def seeded(mysql_db: MySqlTestDb) -> MySqlTestDb:
    mysql_db.truncate()
    report = seed_mysql(mysql_db.settings, SEEDED, batch=64, bucket="bkt")
    assert (report.count, report.last_revision - report.first_revision + 1) == (SEEDED, SEEDED)
    return mysql_db


def _db_order(db: MySqlTestDb, sort: str, descending: bool, where: str = "deleted = 0") -> list[str]:
    """The order as the database itself sorts the whole table (no LIMIT, no index hints)."""
    direction = "DESC" if descending else "ASC"
    with db.admin() as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT object_key FROM csv_metadata WHERE {where} "
            f"ORDER BY {SORT_COLUMNS[sort]} {direction}, id {direction}"
        )
        return [row[0] for row in cur.fetchall()]


def _walk(reader: object, query: RecordQuery) -> list[str]:
    keys: list[str] = []
    after: str | None = None
    while True:
        page = reader.list(RecordQuery(**{**query.__dict__, "after": after}))  # type: ignore[attr-defined]
        keys += [r.key for r in page.records]
        assert [r.complete for r in page.records] == [not query.summary] * len(page.records)
        if page.next is None:
            assert len(page.records) < query.limit
            return keys
        after = page.next


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", list(SORT_COLUMNS))
def test_keyset_pages_walk_every_row_once_in_order(seeded: MySqlTestDb, sort: str, descending: bool) -> None:
    with seeded.reader() as r:
        walked = _walk(r, RecordQuery(sort=sort, descending=descending, limit=37, summary=True))
        assert len(walked) == len(set(walked)) == SEEDED
        assert walked == _db_order(seeded, sort, descending)
        by_offset = [
            x.key
            for offset in range(0, SEEDED, 50)
            for x in r.list(RecordQuery(sort=sort, descending=descending, limit=50, offset=offset)).records
        ]
        assert by_offset == walked


def test_sort_values_nulls_ties_and_status_order(seeded: MySqlTestDb) -> None:
    with seeded.reader() as r:
        rows = [
            x
            for page in range(0, SEEDED, 100)
            for x in r.list(RecordQuery(sort="row_count", limit=100, offset=page, descending=False)).records
        ]
        counts = [-1 if x.row_count is None else x.row_count for x in rows]
        assert counts == sorted(counts) and counts[0] == -1  # FAILED files (no row count) first, ascending
        names = [x.file_name for x in r.list(RecordQuery(sort="file_name", limit=SEEDED, descending=False)).records]
        assert len(set(names)) < len(names)  # the seed repeats names: ties broken by id, as walked above
        by_status = r.list(RecordQuery(sort="status", limit=SEEDED, descending=False)).records
        kinds = [2 if x.status == "FAILED" else (1 if x.has_warnings else 0) for x in by_status]
        assert kinds == sorted(kinds) and set(kinds) == {0, 1, 2}


def test_filters_combine_with_sorts_and_counts_match(seeded: MySqlTestDb) -> None:
    with seeded.reader() as r:
        everything = r.list(RecordQuery(sort="uploaded_at", limit=SEEDED))
        assert r.count(RecordQuery()) == everything.total == SEEDED
        failed = [x for x in everything.records if x.status == "FAILED"]
        warned = [x for x in everything.records if x.has_warnings]
        assert failed and warned
        for query, expected in (
            (RecordQuery(status="FAILED", sort="size_bytes", limit=7), failed),
            (RecordQuery(with_warnings=True, sort="uploaded_at", limit=7, descending=False), warned),
            (
                RecordQuery(status="PROCESSED", sort="file_name", limit=7),
                [x for x in everything.records if x.status == "PROCESSED"],
            ),
        ):
            walked = _walk(r, query)
            assert sorted(walked) == sorted(x.key for x in expected)
            assert r.count(query) == len(expected) == r.list(query).total
        stem = everything.records[0].file_name[:8]
        by_name = [x for x in everything.records if x.file_name.lower().startswith(stem.lower())]
        text_query = RecordQuery(text=stem.upper(), sort="uploaded_at", limit=11)
        assert _walk(r, text_query) == [x.key for x in by_name]  # uploaded_at order, newest first
        assert r.list(text_query).total == -1 and r.count(text_query) == len(by_name)
        assert r.count(RecordQuery(text="seed/")) == SEEDED  # the key's start
        assert r.count(RecordQuery(text="%")) == 0  # a literal, not a wildcard
        middle = everything.records[SEEDED // 2].uploaded_at
        recent = [x.key for x in everything.records if x.uploaded_at >= middle and x.status == "FAILED"]
        dated = RecordQuery(uploaded_from=middle, status="FAILED", sort="row_count", limit=5)
        assert sorted(_walk(r, dated)) == sorted(recent) and r.count(dated) == len(recent)
        assert r.capabilities.random_access and "starts with" in r.capabilities.text_rule


@pytest.fixture()
def db(mysql_db: MySqlTestDb) -> MySqlTestDb:
    mysql_db.truncate()
    return mysql_db


def test_tombstones_stale_deletes_revival_and_reprocess(db: MySqlTestDb) -> None:
    a, b = make_record("t/a.csv", "0A"), make_record("t/b.csv", "0A", status="FAILED", error="bad", row_count=None)
    with db.writer() as w, db.reader() as r:
        assert w.upsert(a) and w.upsert(b)
        _, cursor = r.changed_since(None)
        assert r.count(RecordQuery()) == 2 and r.count(RecordQuery(status="FAILED")) == 1
        assert not w.delete("bkt", "t/b.csv", "09")  # older than the stored upload: a newer object stays
        assert r.get("bkt", "t/b.csv") is not None
        assert w.delete("bkt", "t/b.csv", "0B")
        assert not w.delete("bkt", "t/b.csv", "0C")  # already a tombstone
        assert not w.delete("bkt", "t/never.csv", "0C")
        assert r.get("bkt", "t/b.csv") is None
        assert [x.key for x in r.list(RecordQuery()).records] == ["t/a.csv"]
        assert r.count(RecordQuery()) == 1 and r.count(RecordQuery(status="FAILED")) == 0
        assert r.count(RecordQuery(text="t/")) == 1
        changed, cursor = r.changed_since(cursor)
        assert [(x.key, x.deleted) for x in changed] == [("t/b.csv", True)]
        # uploaded again (the same bytes, the same second: an emulator's equal token) revives the row
        assert w.upsert(b)
        revived, cursor = r.changed_since(cursor)
        assert [(x.key, x.deleted) for x in revived] == [("t/b.csv", False)]
        assert r.count(RecordQuery(status="FAILED")) == 1 and r.get("bkt", "t/b.csv") is not None
        # re-processing the stored version stores it again with a new revision; an older one does not
        before = r.get("bkt", "t/a.csv")
        assert before is not None
        assert not w.upsert(dict(a, row_count=99))
        assert w.upsert(dict(a, row_count=99), reprocess=True)
        after = r.get("bkt", "t/a.csv")
        assert after is not None and after.row_count == 99 and after.revision > before.revision
        assert not w.upsert(dict(a, sequencer="09", row_count=1), reprocess=True)
        assert r.count(RecordQuery()) == 2
        summary, last = r.changed_since(None, summary=True)
        assert summary and all(not x.complete and x.columns == () for x in summary)
        # where a window starts: the newest revision, the tombstones' included, without reading the log
        assert r.latest_cursor() == last == f"r:{max(x.revision for x in summary)}"
        assert w.delete("bkt", "t/b.csv", "0F")
        _, last = r.changed_since(last)
        assert r.latest_cursor() == last


def test_migration_0003_upgrades_a_v2_database_and_reruns(stack: Settings, tmp_path: Path) -> None:
    from backend.store.schema_mysql import _ensure_database, admin_connect, ensure_database_and_users

    tag = uuid.uuid4().hex[:8]
    settings = stack.replace(
        mysql_database=f"csvdrop_p_{tag}", mysql_writer_user=f"pw_{tag}", mysql_reader_user=f"pr_{tag}"
    )
    for path in sorted(MIGRATIONS_DIR.glob("000[12]_*.sql")):
        (tmp_path / path.name).write_text(path.read_text(), encoding="utf-8")
    conn = admin_connect(settings)
    try:
        _ensure_database(conn, settings.mysql_database)
        assert len(apply_migrations(conn, tmp_path)) == 2
        with conn.cursor() as cur:  # rows as the version-2 writer stored them: no deleted flag, no counts
            insert_old_rows(cur, "v2/", [("PROCESSED", 0), ("PROCESSED", 2), ("FAILED", 0)])
            cur.execute("UPDATE csv_metadata_revision SET revision = 3 WHERE id = 1")
    finally:
        conn.close()
    db = MySqlTestDb(settings, "w-" + uuid.uuid4().hex, "r-" + uuid.uuid4().hex, [])
    try:
        report = ensure_database_and_users(
            settings, writer_password=db.writer_password, reader_password=db.reader_password
        )
        assert "applied migration 0003_live_rows_sort_indexes_and_counts" in report
        with db.admin() as admin, admin.cursor() as cur:
            for statement in next(m for m in load_migrations() if m.version == "0003").statements():
                cur.execute(statement)  # as if the run had stopped before recording it
            cur.execute("SELECT status_rank, n FROM csv_metadata_counts ORDER BY status_rank")
            assert cur.fetchall() == ((0, 1), (1, 1), (2, 1))
        with db.reader() as r:
            assert r.count(RecordQuery()) == 3 and r.count(RecordQuery(with_warnings=True)) == 1
            assert next(x.key for x in r.list(RecordQuery(sort="row_count", descending=False)).records) == "v2/0.csv"
            assert [x.key for x in r.list(RecordQuery(sort="status", descending=True)).records] == [
                "v2/2.csv",
                "v2/1.csv",
                "v2/0.csv",
            ]
        with db.writer() as w:
            assert w.delete("bkt", "v2/2.csv", "02")
        with db.reader() as r:
            assert r.count(RecordQuery()) == 2 and r.count(RecordQuery(status="FAILED")) == 0
    finally:
        drop_database_and_users(settings)


# ---------------------------------------------------------------------------------------------- DynamoDB
def test_dynamodb_pages_filters_counts_and_tombstones(dynamo_settings: Settings) -> None:
    w = store_writer.open_writer(dynamo_writer_env(dynamo_settings))
    base = datetime(2026, 3, 1, tzinfo=UTC)
    keys = []
    for i in range(11):
        key = f"p/{'Sales' if i % 3 == 0 else 'other'}-{i:02d}.csv"
        failed = i % 4 == 1
        record = make_record(
            key,
            f"{i + 1:02X}",
            uploaded_at=(base + timedelta(hours=i)).isoformat(),
            status="FAILED" if failed else "PROCESSED",
            error="bad" if failed else None,
        )
        assert w.upsert(record)
        keys.append(key)
    r = open_reader(dynamo_settings)
    assert not r.capabilities.random_access and r.capabilities.sort_keys == ("uploaded_at",)
    for descending in (True, False):
        walked_keys = _walk(r, RecordQuery(limit=3, descending=descending, summary=True))
        assert walked_keys == (list(reversed(keys)) if descending else keys)
    failed_keys = [k for i, k in enumerate(keys) if i % 4 == 1]
    assert _walk(r, RecordQuery(status="FAILED", limit=2, descending=False)) == failed_keys
    assert r.count(RecordQuery()) == 11 and r.count(RecordQuery(status="FAILED")) == len(failed_keys)
    sales = [k for k in keys if "Sales" in k]
    assert _walk(r, RecordQuery(text="P/SALES", limit=2, descending=False)) == sales
    assert r.count(RecordQuery(text="sales")) == len(sales)  # the file name's start, any case
    assert [x.key for x in r.list(RecordQuery(limit=4, offset=9, descending=False)).records] == keys[9:]
    _, cursor = r.changed_since(None)
    assert not w.delete("bkt", keys[0], "00")  # older than the stored upload
    assert w.delete("bkt", keys[0], "FF")
    assert r.get("bkt", keys[0]) is None and r.count(RecordQuery()) == 10
    assert keys[0] not in _walk(r, RecordQuery(limit=5))
    changed, latest = r.changed_since(cursor)
    assert [(x.key, x.deleted) for x in changed] == [(keys[0], True)]
    assert r.latest_cursor() == latest  # the writer's counter: the tombstone's revision
    assert w.upsert(make_record(keys[0], "FF", uploaded_at=base.isoformat()))  # uploaded again: revived
    assert r.get("bkt", keys[0]) is not None and r.count(RecordQuery()) == 11
    with pytest.raises(StoreError, match="upload time only"):
        r.list(RecordQuery(sort="size_bytes"))
