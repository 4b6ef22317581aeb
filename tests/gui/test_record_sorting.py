"""The record model sorts itself: sorted inserts (grouped and scattered), updates that move rows, selection kept."""

from __future__ import annotations

import random
from typing import Any

from gui_fakes import make_record
from PySide6.QtCore import QItemSelectionModel, Qt

from gui.records import RecordFilterProxy, RecordTableModel


def _names(proxy: RecordFilterProxy) -> list[str]:
    return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]


def _expected(records: list[Any], attr: str, descending: bool) -> list[str]:
    ordered = sorted(records, key=lambda r: (getattr(r, attr), r.file_name.lower(), r.key.lower()), reverse=descending)
    return [r.file_name for r in ordered]


def test_pages_inserted_into_a_sorted_model_land_in_order(qtmodeltester: Any) -> None:
    model, proxy = RecordTableModel(), RecordFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.sort(RecordTableModel.ROWS, Qt.SortOrder.DescendingOrder)
    rng = random.Random(7)
    records = [make_record(f"f{i:03d}.csv", rows=rng.randrange(1000), minutes=i) for i in range(300)]
    shuffled = records[:]
    rng.shuffle(shuffled)
    for start in range(0, 300, 25):  # scattered pages (append + re-sort) ...
        model.upsert(shuffled[start : start + 25])
    newest = [make_record(f"n{i}.csv", rows=5000 + i, minutes=400 + i) for i in range(3)]
    model.upsert(newest)  # ... and a grouped page (one insert at the top)
    everything = records + newest
    assert _names(proxy) == _expected(everything, "row_count", descending=True)
    assert all(model.row_for(r.bucket, r.key) == i for i, r in enumerate(model.records()))
    qtmodeltester.check(model)


def test_update_that_changes_the_sort_key_moves_the_row_and_keeps_the_selection(qtmodeltester: Any) -> None:
    model, proxy = RecordTableModel(), RecordFilterProxy()
    proxy.setSourceModel(model)
    records = [make_record(f"r{i}.csv", rows=i * 10, minutes=i) for i in range(10)]
    model.upsert(records)
    proxy.sort(RecordTableModel.ROWS, Qt.SortOrder.AscendingOrder)
    selection = QItemSelectionModel(proxy)
    target = proxy.index(_names(proxy).index("r2.csv"), 0)
    selection.select(target, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
    model.upsert([make_record("r2.csv", rows=10_000, minutes=2, revision=5)])
    assert _names(proxy)[-1] == "r2.csv"
    selected = selection.selectedRows()
    assert [i.data() for i in selected] == ["r2.csv"]
    qtmodeltester.check(proxy)


def test_filter_and_sort_together() -> None:
    model, proxy = RecordTableModel(), RecordFilterProxy()
    proxy.setSourceModel(model)
    model.upsert([make_record(f"{m}-{i}.csv", rows=i, minutes=i) for i in range(6) for m in ("march", "may")])
    proxy.sort(RecordTableModel.ROWS, Qt.SortOrder.DescendingOrder)
    proxy.set_text("march")
    assert _names(proxy) == [f"march-{i}.csv" for i in reversed(range(6))]
    model.upsert([make_record("march-9.csv", rows=99, minutes=9)])
    assert _names(proxy)[0] == "march-9.csv"


def test_many_small_batches_with_updates_and_sort_changes_keep_order_and_row_index() -> None:
    """The model keeps its row index and sorted keys between batches (rebuilt only when rows moved): a long
    random run of grouped and scattered batches, updates that move rows, and sort changes in both directions
    must agree with a plain sort after every step."""
    model, proxy = RecordTableModel(), RecordFilterProxy()
    proxy.setSourceModel(model)
    rng = random.Random(11)
    current: dict[str, Any] = {}
    orders = [(RecordTableModel.UPLOADED, "uploaded_at"), (RecordTableModel.ROWS, "row_count")]
    column, attr = orders[0]
    descending = True
    proxy.sort(column, Qt.SortOrder.DescendingOrder)
    serial = 0
    for step in range(120):
        batch = []
        if step % 17 == 16:  # the user clicks another header
            column, attr = orders[rng.randrange(2)]
            descending = rng.random() < 0.5
            proxy.sort(column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
        for _ in range(rng.randrange(1, 30)):
            if current and rng.random() < 0.15:  # a newer upload of a known file
                name = rng.choice(sorted(current))
                batch.append(
                    make_record(name, rows=rng.randrange(10_000), minutes=rng.randrange(5000), revision=serial + 1)
                )
            else:  # mostly newest first, as new uploads arrive; sometimes anywhere
                minutes = 10_000 + serial if rng.random() < 0.8 else rng.randrange(10_000)
                batch.append(make_record(f"f{serial:05d}.csv", rows=rng.randrange(10_000), minutes=minutes))
            serial += 1
        model.upsert(batch)
        for record in batch:
            current[record.file_name] = record
        assert _names(proxy) == _expected(list(current.values()), attr, descending), f"step {step}"
        assert all(model.row_for(r.bucket, r.key) == i for i, r in enumerate(model.records())), f"step {step}"
    assert model.rowCount() == len(current)
