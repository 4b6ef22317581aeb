"""reconcile's decisions, from an object listing and the store's change log alone (backend.reconcile.plan),
and how it reads the function's answer to a csvdrop_missing event."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend.cli import csvdrop
from backend.config import Settings
from backend.reconcile import ReconcileError, ReconcileReport, describe_gone, marked_keys, missing_event, plan
from backend.store import MetadataRecord

BUCKET = "bkt"


def rec(
    key: str, etag: str = "e1", *, status: str = "PROCESSED", bucket: str = BUCKET, **extra: object
) -> MetadataRecord:
    record = MetadataRecord.from_json_dict(
        {
            "bucket": bucket,
            "key": key,
            "status": status,
            "etag": etag,
            "sequencer": "00000000000000A1" + "0000018C2F3E4D5A",
            "uploaded_at": "2026-11-29T10:00:00Z",
        }
    )
    return replace(record, **extra)  # type: ignore[arg-type]


def test_objects_and_records_that_agree_need_nothing() -> None:
    todo = plan({"in/a.csv": ("e1", 10)}, [rec("in/a.csv")], bucket=BUCKET, prefix="in/")
    assert (todo.to_redrive, todo.to_mark_missing, dict(todo.revive)) == ((), (), {})


def test_an_object_without_an_up_to_date_record_is_redriven() -> None:
    objects = {"in/new.csv": ("e1", 1), "in/changed.csv": ("e2", 1), "in/same.csv": ("e1", 1)}
    records = [rec("in/changed.csv", "e1"), rec("in/same.csv", "e1")]
    todo = plan(objects, records, bucket=BUCKET, prefix="in/")
    assert todo.to_redrive == ("in/changed.csv", "in/new.csv")
    assert todo.to_mark_missing == ()


def test_a_live_record_without_its_object_is_to_be_marked_missing() -> None:
    records = [rec("in/kept.csv"), rec("in/gone.csv"), rec("in/failed-gone.csv", status="FAILED")]
    todo = plan({"in/kept.csv": ("e1", 1)}, records, bucket=BUCKET, prefix="in/")
    assert todo.to_mark_missing == ("in/failed-gone.csv", "in/gone.csv")
    assert todo.to_redrive == ()


def test_tombstones_already_marked_records_other_buckets_and_keys_outside_the_prefix_are_left_alone() -> None:
    records = [
        rec("in/deleted.csv"),
        rec("in/deleted.csv", deleted=True),  # its deletion event came: nothing to mark
        rec("in/marked.csv", status="MISSING"),  # marked by an earlier run
        rec("in/other-bucket.csv", bucket="elsewhere"),
        rec("out/not-listed.csv"),  # the listing only saw in/: nothing there can be called gone
    ]
    todo = plan({}, records, bucket=BUCKET, prefix="in/")
    assert (todo.to_redrive, todo.to_mark_missing) == ((), ())


def test_the_latest_change_of_a_key_decides() -> None:
    revived = [rec("in/a.csv"), rec("in/a.csv", deleted=True), rec("in/a.csv", "e2")]
    assert plan({}, revived, bucket=BUCKET, prefix="in/").to_mark_missing == ("in/a.csv",)
    fixed = [rec("in/b.csv", status="MISSING"), rec("in/b.csv", "e2")]  # processed again after it was marked
    assert plan({}, fixed, bucket=BUCKET, prefix="in/").to_mark_missing == ("in/b.csv",)
    assert plan({"in/b.csv": ("e2", 1)}, fixed, bucket=BUCKET, prefix="in/").to_mark_missing == ()


def test_an_object_back_under_a_missing_record_is_reprocessed_with_the_records_sequencer() -> None:
    # The same bytes uploaded again (same ETag) with the event lost: the MISSING record must be replaced.
    todo = plan({"in/a.csv": ("e1", 5)}, [rec("in/a.csv", status="MISSING")], bucket=BUCKET, prefix="in/")
    assert todo.to_redrive == ("in/a.csv",)
    assert dict(todo.revive) == {"in/a.csv": "00000000000000A1"}
    assert todo.to_mark_missing == ()


def test_the_missing_event_and_the_functions_answer() -> None:
    keys = ["in/a.csv", "in/b.csv", "in/c.csv"]
    assert missing_event(BUCKET, keys[:1]) == {"csvdrop_missing": [{"bucket": BUCKET, "key": "in/a.csv"}]}
    answer = {
        "results": [
            {"bucket": BUCKET, "key": "in/a.csv", "missing": True, "marked": True},
            {"bucket": BUCKET, "key": "in/b.csv", "missing": False, "marked": False},  # came back meanwhile
            {"bucket": BUCKET, "key": "in/c.csv", "missing": True, "marked": False},  # no live record any more
            {"bucket": BUCKET, "key": "in/z.csv", "missing": True, "marked": True},  # not asked: not counted
        ]
    }
    assert marked_keys(BUCKET, keys, None, json.dumps(answer).encode()) == ["in/a.csv"]


def test_a_function_failure_or_an_old_function_is_an_error_that_says_what_to_do() -> None:
    failure = json.dumps({"errorType": "StoreWriteError", "errorMessage": "database is down"}).encode()
    with pytest.raises(ReconcileError, match=r"StoreWriteError: database is down.*csvdrop reconcile"):
        marked_keys(BUCKET, ["in/a.csv"], "Unhandled", failure)
    old = json.dumps({"records": 0}).encode()  # a function from before csvdrop_missing ignores the key
    with pytest.raises(ReconcileError, match=r"older than this app. Run `csvdrop setup`"):
        marked_keys(BUCKET, ["in/a.csv"], None, old)


def test_the_gone_line() -> None:
    assert describe_gone(ReconcileReport(5, 0, 0, ())) == ""
    three = ReconcileReport(5, 0, 0, (), ("a", "b", "c"), 3)
    assert describe_gone(three) == "3 records point at objects that are gone: marked MISSING (upload them again)"
    one = ReconcileReport(5, 0, 0, (), ("a",), 0)
    assert describe_gone(one, dry_run=True) == (
        "1 record points at an object that is gone: would be marked MISSING (upload it again)"
    )
    assert describe_gone(replace(three, marked_missing=2)).startswith(
        "3 records point at objects that are gone: 2 marked MISSING (upload them again); the others are back"
    )


def test_the_cli_says_which_records_point_at_gone_objects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CSVDROP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CSVDROP_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CSVDROP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CSVDROP_BUCKET", BUCKET)
    gone = ("in/a.csv", "in/b.csv", "in/c.csv")

    def reconcile(_settings: Settings, *, dry_run: bool, on_message: Callable[[str], None]) -> ReconcileReport:
        if not dry_run:
            for key in gone:
                on_message(f"marked MISSING s3://{BUCKET}/{key} (the object is gone)")
        return ReconcileReport(7, 0, 0, (), gone, 0 if dry_run else 3)

    monkeypatch.setattr("backend.reconcile.reconcile", reconcile)
    runner = CliRunner()
    done = runner.invoke(csvdrop, ["reconcile"], catch_exceptions=False)
    assert done.exit_code == 0
    assert done.stdout.splitlines()[-2:] == [
        "7 objects, 0 without an up-to-date record, 0 re-processed",
        "3 records point at objects that are gone: marked MISSING (upload them again)",
    ]
    assert f"marked MISSING s3://{BUCKET}/in/b.csv (the object is gone)" in done.stdout
    dry = runner.invoke(csvdrop, ["reconcile", "--dry-run"], catch_exceptions=False)
    assert (
        dry.stdout.splitlines()[-1]
        == "3 records point at objects that are gone: would be marked MISSING (upload them again)"
    )
