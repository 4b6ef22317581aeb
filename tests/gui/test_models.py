"""Record / upload models: Qt model contract, incremental updates, filtering and sorting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gui_fakes import make_record
from PySide6.QtCore import QModelIndex, Qt

from gui.records import RecordFilterProxy, RecordRole, RecordTableModel, SortRole
from gui.uploads import UploadItem, UploadQueueModel, UploadState


def _filled() -> tuple[RecordTableModel, RecordFilterProxy]:
    model = RecordTableModel()
    model.upsert(
        [
            make_record("b.csv", rows=20, minutes=1),
            make_record("a.csv", rows=3, minutes=2),
            make_record("bad.csv", status="FAILED", minutes=3, error="Unterminated quote on line 7."),
            make_record("data/c.csv", rows=100, minutes=0),
        ]
    )
    proxy = RecordFilterProxy()
    proxy.setSourceModel(model)
    return model, proxy


def _names(proxy: RecordFilterProxy) -> list[str]:
    return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]


def test_record_model_passes_qt_model_tester(qtmodeltester: Any) -> None:
    model, proxy = _filled()
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)


def test_upload_model_passes_qt_model_tester(qtmodeltester: Any) -> None:
    model = UploadQueueModel()
    model.add([UploadItem(path=Path("/tmp/x.csv")), UploadItem(path=Path("/tmp/y.txt"), state=UploadState.REJECTED)])
    qtmodeltester.check(model)


def test_row_count_is_zero_for_a_valid_parent() -> None:
    model, _ = _filled()
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.columnCount(model.index(0, 0)) == 0
    assert model.rowCount(QModelIndex()) == 4
    uploads = UploadQueueModel()
    uploads.add([UploadItem(path=Path("/tmp/x.csv"))])
    assert uploads.rowCount(uploads.index(0, 0)) == 0


def test_upsert_inserts_new_rows_and_updates_known_ones_without_reset(qtbot: Any) -> None:
    model, _ = _filled()
    resets: list[int] = []
    inserted: list[tuple[int, int]] = []
    changed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    model.dataChanged.connect(lambda tl, br, *_: changed.append((tl.row(), br.row())))
    new, updated = model.upsert([make_record("a.csv", rows=42, minutes=2, revision=9), make_record("d.csv")])
    assert (new, updated) == (1, 1)
    assert resets == []
    assert inserted == [(4, 4)]
    assert changed == [(1, 1)]
    found = model.find("test-bucket", "a.csv")
    assert found is not None
    assert found.row_count == 42
    assert model.index(1, RecordTableModel.ROWS).data() == "42"


def test_text_filter_matches_name_key_and_error() -> None:
    _, proxy = _filled()
    proxy.set_text("c.csv")
    assert _names(proxy) == ["c.csv"]
    proxy.set_text("data/")
    assert _names(proxy) == ["c.csv"]
    proxy.set_text("unterminated")
    assert _names(proxy) == ["bad.csv"]
    proxy.set_text("")
    assert proxy.rowCount() == 4


def test_status_filter() -> None:
    _, proxy = _filled()
    proxy.set_status("FAILED")
    assert _names(proxy) == ["bad.csv"]
    proxy.set_status("PROCESSED")
    assert sorted(_names(proxy)) == ["a.csv", "b.csv", "c.csv"]


def test_sorting_uses_the_sort_role_not_the_display_text() -> None:
    model, proxy = _filled()
    # Display "100" < "20" < "3" as text; numerically 3 < 20 < 100 (failed has no rows: -1, first).
    proxy.sort(RecordTableModel.ROWS, Qt.SortOrder.AscendingOrder)
    assert _names(proxy) == ["bad.csv", "a.csv", "b.csv", "c.csv"]
    proxy.sort(RecordTableModel.UPLOADED, Qt.SortOrder.DescendingOrder)
    assert _names(proxy) == ["bad.csv", "a.csv", "b.csv", "c.csv"]
    proxy.sort(RecordTableModel.FILE, Qt.SortOrder.AscendingOrder)
    assert _names(proxy) == ["a.csv", "b.csv", "bad.csv", "c.csv"]
    assert isinstance(model.index(0, RecordTableModel.ROWS).data(SortRole), int)


def test_new_records_land_in_sorted_position() -> None:
    model, proxy = _filled()
    proxy.sort(RecordTableModel.ROWS, Qt.SortOrder.AscendingOrder)
    model.upsert([make_record("mid.csv", rows=50)])
    assert _names(proxy) == ["bad.csv", "a.csv", "b.csv", "mid.csv", "c.csv"]


def test_status_colouring_and_record_role() -> None:
    model, _ = _filled()
    failed = model.index(2, RecordTableModel.STATUS)
    assert failed.data() == "Failed"
    assert failed.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert failed.data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(0, RecordTableModel.STATUS).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(2, 0).data(RecordRole).key == "bad.csv"
    assert "Unterminated quote" in model.index(2, RecordTableModel.NOTES).data()
