"""Records whose object is gone: migration 0004 ranks MISSING with FAILED on a real MariaDB, and on the real stack
`reconcile` finds a record whose object vanished without its deletion event and has the function mark it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors
import pytest
from pipeline_helpers import deliver_marker, mysql_row, wait_for_row
from store_fixtures import MySqlTestDb, insert_old_rows, make_record
from testsupport import mysql_admin

from backend import aws
from backend.config import Settings
from backend.reconcile import reconcile
from backend.store import RecordQuery, open_reader
from backend.store.schema_mysql import MIGRATIONS_DIR, apply_migrations, load_migrations

pytestmark = pytest.mark.stack


def _counts(conn: Any, bucket: str = "bkt") -> dict[int, int]:
    with conn.cursor(pymysql.cursors.Cursor) as cur:
        cur.execute("SELECT status_rank, n FROM csv_metadata_counts WHERE bucket = %s", (bucket,))
        return {int(rank): int(n) for rank, n in cur.fetchall() if n}


def test_migration_0004_ranks_missing_with_failed_recounts_and_reruns(stack: Settings, tmp_path: Path) -> None:
    from backend.store.schema_mysql import _ensure_database, admin_connect

    settings = stack.replace(mysql_database=f"csvdrop_m_{uuid.uuid4().hex[:8]}")
    for path in sorted(MIGRATIONS_DIR.glob("000[123]_*.sql")):
        (tmp_path / path.name).write_text(path.read_text(), encoding="utf-8")
    conn = admin_connect(settings)
    try:
        _ensure_database(conn, settings.mysql_database)
        assert len(apply_migrations(conn, tmp_path)) == 3
        with conn.cursor() as cur:  # a version-3 database that already holds a MISSING row (ranked 0 there)
            insert_old_rows(cur, "v3/", [("PROCESSED", 0), ("FAILED", 0), ("MISSING", 0)])
            cur.execute("DELETE FROM csv_metadata_counts")
            cur.execute(
                "INSERT INTO csv_metadata_counts (bucket, status_rank, n) SELECT bucket, status_rank, COUNT(*)"
                " FROM csv_metadata WHERE deleted = 0 GROUP BY bucket, status_rank"
            )
        assert _counts(conn) == {0: 2, 2: 1}
        assert apply_migrations(conn) == ["0004_missing_objects_rank_with_failed"]

        def ranks() -> dict[str, int]:
            with conn.cursor() as cur:
                cur.execute("SELECT status, status_rank FROM csv_metadata")
                return {str(s): int(r) for s, r in cur.fetchall()}

        assert ranks() == {"PROCESSED": 0, "FAILED": 2, "MISSING": 2}
        assert _counts(conn) == {0: 1, 2: 2}
        with conn.cursor() as cur:
            for statement in next(m for m in load_migrations() if m.version == "0004").statements():
                cur.execute(statement)  # as if the run had stopped before recording it
            cur.execute("UPDATE csv_metadata SET status = 'MISSING' WHERE object_key = 'v3/0.csv'")
            cur.execute("SELECT status_rank FROM csv_metadata WHERE object_key = 'v3/0.csv'")
            assert cur.fetchone() == (2,)  # the generated column itself, not only the rows it held
            cur.execute(
                "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
                " AND TABLE_NAME = 'csv_metadata' AND COLUMN_NAME = 'status_rank'"
            )
            assert {row[0] for row in cur.fetchall()} == {"ix_live_status", "ix_live_rank_uploaded"}
        assert apply_migrations(conn) == []
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{settings.mysql_database}`")
        conn.close()


def test_a_missing_record_is_rank_2_counted_and_read_back(mysql_db: MySqlTestDb) -> None:
    """Through the writer's mark_missing (the function's) and the app's read-only reader."""
    mysql_db.truncate()
    with mysql_db.writer() as w:
        assert w.upsert(make_record("m/kept.csv", "0A")) and w.upsert(make_record("m/gone.csv", "0B"))
        assert w.upsert(make_record("m/bad.csv", "0C", status="FAILED", error="Line 4 has 7 fields, expected 3."))
        assert w.mark_missing("bkt", "m/gone.csv")
        assert not w.mark_missing("bkt", "m/gone.csv")  # already marked: no new revision
    with mysql_db.admin() as conn:
        assert _counts(conn) == {0: 1, 2: 2}
        with conn.cursor() as cur:
            cur.execute("SELECT status, status_rank FROM csv_metadata WHERE object_key = 'm/gone.csv'")
            assert cur.fetchone() == ("MISSING", 2)
    with mysql_db.reader() as r:
        gone = r.get("bkt", "m/gone.csv")
        assert gone is not None and gone.status == "MISSING"
        assert gone.error is not None and "m/gone.csv is no longer in S3" in gone.error
        assert gone.row_count == 3  # the profile of the file it was stays
        assert r.count(RecordQuery(status="FAILED")) == 2  # the browser's "Failed" covers MISSING
        failed = r.list(RecordQuery(status="FAILED", sort="uploaded_at"))
        assert sorted(x.key for x in failed.records) == ["m/bad.csv", "m/gone.csv"] and failed.total == 2
        assert [x.key for x in r.list(RecordQuery(status="MISSING")).records] == ["m/gone.csv"]
        assert r.count(RecordQuery(status="MISSING")) == 1
        assert r.count(RecordQuery(status="PROCESSED")) == 1
        by_status = [x.key for x in r.list(RecordQuery(sort="status", descending=False)).records]
        assert by_status[0] == "m/kept.csv" and set(by_status[1:]) == {"m/bad.csv", "m/gone.csv"}
        changed, _ = r.changed_since(None)
        assert changed[-1].key == "m/gone.csv" and changed[-1].status == "MISSING"  # the newest change


def test_reconcile_marks_the_record_of_an_object_gone_without_its_event(provisioned: Settings) -> None:
    settings = provisioned.replace(key_prefix=f"{provisioned.key_prefix}reconcile-{uuid.uuid4().hex[:8]}/")
    s3 = aws.client(settings, "s3")
    kept, gone = f"{settings.key_prefix}kept.csv", f"{settings.key_prefix}gone.csv"
    for key in (kept, gone):
        put = s3.put_object(Bucket=settings.bucket, Key=key, Body=b"id,name\n1,a\n2,b\n")
        assert wait_for_row(settings, key, str(put["ETag"]).strip('"'))["status"] == "PROCESSED"
    # As when LocalStack loses an object: it goes, and no deletion event reaches the function.
    notification = s3.get_bucket_notification_configuration(Bucket=settings.bucket)
    notification.pop("ResponseMetadata", None)
    assert notification, "the bucket has no trigger to switch off"
    s3.put_bucket_notification_configuration(Bucket=settings.bucket, NotificationConfiguration={})
    try:
        s3.delete_object(Bucket=settings.bucket, Key=gone)
    finally:
        s3.put_bucket_notification_configuration(
            Bucket=settings.bucket, NotificationConfiguration=notification, SkipDestinationValidation=True
        )
    deliver_marker(settings, "after-delete")  # events flow again, and the deletion's never came
    before = {key: mysql_row(settings, key) for key in (kept, gone)}
    assert all(row is not None and row["status"] == "PROCESSED" and not row["deleted"] for row in before.values())

    dry = reconcile(settings, dry_run=True)
    assert (dry.gone_keys, dry.marked_missing, dry.redriven) == ((gone,), 0, 0)
    assert mysql_row(settings, gone)["status"] == "PROCESSED"  # type: ignore[index]

    conn = mysql_admin(settings)
    try:
        counts_before = _counts(conn, settings.bucket)
    finally:
        conn.close()
    report = reconcile(settings)
    assert (report.gone_keys, report.marked_missing, report.redriven) == ((gone,), 1, 0)
    row = mysql_row(settings, gone)
    assert row is not None and row["status"] == "MISSING" and row["status_rank"] == 2 and not row["deleted"]
    assert row["error"] == (
        f"The object s3://{settings.bucket}/{gone} is no longer in S3 (it was lost, e.g. by a local cloud that "
        "stopped without saving it); upload the file again."
    )
    assert row["revision"] > before[gone]["revision"]  # type: ignore[index]
    assert mysql_row(settings, kept) == before[kept]  # untouched
    conn = mysql_admin(settings)
    try:
        counts_after = _counts(conn, settings.bucket)
    finally:
        conn.close()
    assert counts_after.get(0, 0) == counts_before.get(0, 0) - 1
    assert counts_after.get(2, 0) == counts_before.get(2, 0) + 1
    reader = open_reader(settings)  # the app's read-only view
    try:
        record = reader.get(settings.bucket, gone)
    finally:
        reader.close()
    assert record is not None and record.status == "MISSING"
    again = reconcile(settings)  # marked once: nothing more to do
    assert (again.gone_keys, again.marked_missing, again.redriven) == ((), 0, 0)
