"""Record / upload models: Qt model contract, pages read from the fake store, roles, in-place updates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gui_fakes import FakeBackend, make_record
from PySide6.QtCore import QModelIndex, Qt

from backend.config import Settings
from gui.jobs import JobRunner
from gui.records import PAGE_ROWS, PLACEHOLDER, RecordRole, RecordTableModel, SortRole, StoreAccess
from gui.uploads import UploadItem, UploadQueueModel, UploadState


@pytest.fixture
def jobs(qapp: Any) -> Iterator[JobRunner]:
    runner = JobRunner(4)
    yield runner
    runner.shutdown()


def loaded_model(qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner) -> RecordTableModel:
    model = RecordTableModel()
    model.set_store(StoreAccess(lambda: backend.open_reader(settings), jobs))
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.load()
    return model


def _filled(backend: FakeBackend) -> None:
    backend.add_records(
        make_record("b.csv", rows=20, minutes=1),
        make_record("a.csv", rows=3, minutes=2),
        make_record("bad.csv", status="FAILED", minutes=3, error="Unterminated quote on line 7."),
        make_record("data/c.csv", rows=100, minutes=0),
    )


def test_record_model_passes_qt_model_tester(
    qtmodeltester: Any, qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    backend.add_records(*[make_record(f"f{i:04d}.csv", rows=i, minutes=i) for i in range(PAGE_ROWS * 3 + 7)])
    model = loaded_model(qtbot, backend, settings, jobs)
    assert model.rowCount() == PAGE_ROWS * 3 + 7  # the store's count, though only the first pages are read
    assert model.cached_pages == [0]
    qtmodeltester.check(model)  # asks for rows of unread pages too: placeholders, then pages arriving
    qtbot.waitUntil(lambda: not model._fetching, timeout=5000)
    qtmodeltester.check(model)


def test_upload_model_passes_qt_model_tester(qtmodeltester: Any) -> None:
    model = UploadQueueModel()
    model.add([UploadItem(path=Path("/tmp/x.csv")), UploadItem(path=Path("/tmp/y.txt"), state=UploadState.REJECTED)])
    qtmodeltester.check(model)


def test_row_count_is_zero_for_a_valid_parent(
    qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    _filled(backend)
    model = loaded_model(qtbot, backend, settings, jobs)
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.columnCount(model.index(0, 0)) == 0
    assert model.rowCount(QModelIndex()) == 4
    uploads = UploadQueueModel()
    uploads.add([UploadItem(path=Path("/tmp/x.csv"))])
    assert uploads.rowCount(uploads.index(0, 0)) == 0


def test_a_row_not_read_yet_is_a_placeholder_until_its_page_arrives(
    qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    backend.add_records(*[make_record(f"f{i:04d}.csv", minutes=i) for i in range(PAGE_ROWS * 4)])
    model = loaded_model(qtbot, backend, settings, jobs)
    row = PAGE_ROWS * 3 + 5
    assert model.index(row, 0).data() == PLACEHOLDER
    assert model.index(row, 0).data(RecordRole) is None
    arrived: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br, *_: arrived.append((tl.row(), br.row())))
    model.set_viewport(row, row + 20)
    qtbot.waitUntil(lambda: any(a <= row <= b for a, b in arrived), timeout=5000)
    assert model.index(row, 0).data() == f"f{PAGE_ROWS * 4 - 1 - row:04d}.csv"  # newest upload first
    # pages 2 and 3 (the viewport's and the one before it) lie in the far half: read from the other end, in the
    # reversed order with a short offset, so the last page of a big store costs what the first does
    far = backend.queries[-2:]
    assert [(q.descending, q.offset, q.after) for q in far] == [(False, PAGE_ROWS, None), (False, 0, None)]
    assert model.index(PAGE_ROWS * 2, 0).data() == f"f{PAGE_ROWS * 2 - 1:04d}.csv"  # the reversed page, turned back
    # a jump into the near half: an offset, and the next page in the same read by keyset
    model.set_viewport(PAGE_ROWS + 5, PAGE_ROWS + 25)
    qtbot.waitUntil(lambda: model.index(PAGE_ROWS + 5, 0).data() != PLACEHOLDER, timeout=5000)
    assert model.index(PAGE_ROWS + 5, 0).data() == f"f{PAGE_ROWS * 3 - 6:04d}.csv"


def test_update_in_place_keeps_rows_and_emits_data_changed(
    qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    _filled(backend)
    model = loaded_model(qtbot, backend, settings, jobs)
    resets: list[int] = []
    changed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda tl, br, *_: changed.append((tl.row(), br.row())))
    reads = len(backend.queries)
    model.apply_changes([make_record("a.csv", rows=42, minutes=2, revision=9)])  # same upload time: same place
    assert resets == []
    assert changed == [(1, 1)]
    found = model.find("test-bucket", "a.csv")
    assert found is not None
    assert found.row_count == 42
    assert model.index(1, RecordTableModel.ROWS).data() == "42"
    assert len(backend.queries) == reads  # nothing moved: no read


def test_sort_role_status_colouring_and_record_role(
    qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    _filled(backend)
    model = loaded_model(qtbot, backend, settings, jobs)
    assert [model.index(r, 0).data() for r in range(4)] == ["bad.csv", "a.csv", "b.csv", "c.csv"]
    failed = model.index(0, RecordTableModel.STATUS)
    assert failed.data() == "Failed"
    assert failed.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert failed.data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(1, RecordTableModel.STATUS).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(0, 0).data(RecordRole).key == "bad.csv"
    assert not model.index(0, 0).data(RecordRole).complete  # the list holds summary records
    assert "Unterminated quote" in model.index(0, RecordTableModel.NOTES).data()
    assert isinstance(model.index(1, RecordTableModel.ROWS).data(SortRole), int)
    assert "Uploaded" in model.index(1, RecordTableModel.UPLOADED).data(Qt.ItemDataRole.ToolTipRole)
