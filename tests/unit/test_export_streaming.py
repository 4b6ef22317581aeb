"""backend.export writes records as they come (a whole store is exported page by page) and leaves nothing behind
when the records stop coming."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_fixtures import make_record

from backend.export import export_records
from backend.store import MetadataRecord


def _records(n: int, folder: Path, *, fail_at: int | None = None) -> Iterator[MetadataRecord]:
    for i in range(n):
        if i == fail_at:
            raise RuntimeError("the store stopped answering")
        if i == 3:
            # the records before this one are on disk already: nothing waits for the whole list
            assert list(folder.glob(".out.*.tmp"))
        yield MetadataRecord.from_json_dict(make_record(key=f"s/{i:03d}.csv", sequencer=f"{i + 1:02X}"))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_records_are_written_as_they_come_and_all_arrive(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    assert export_records(_records(250, tmp_path), path, fmt) == 250  # type: ignore[arg-type]
    if fmt == "json":
        keys = [r["key"] for r in json.loads(path.read_text(encoding="utf-8"))]
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            keys = [r["key"] for r in csv.DictReader(fh)]
    assert keys == [f"s/{i:03d}.csv" for i in range(250)]
    assert not list(tmp_path.glob(".out.*"))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_failure_half_way_leaves_no_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    with pytest.raises(RuntimeError, match="stopped answering"):
        export_records(_records(250, tmp_path, fail_at=120), path, fmt)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_an_empty_export_is_a_valid_file(tmp_path: Path) -> None:
    assert export_records([], tmp_path / "out.json", "json") == 0
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == []
    assert export_records([], tmp_path / "out.csv", "csv") == 0
