"""The browser over a large fake store: fetch on scroll with a bounded cache, sorting in the store, tombstones
seen by two windows, selection and scroll kept across a refresh, a store without random access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gui_fakes import FakeBackend, make_record
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView

from backend.config import Settings
from backend.store import ReaderCapabilities
from gui.records import MAX_PAGES, PAGE_ROWS, RecordTableModel

TOTAL = 20_000


@pytest.fixture
def big(backend: FakeBackend) -> FakeBackend:
    backend.add_records(*[make_record(f"f{i:05d}.csv", rows=(i * 7919) % 10_000, minutes=i) for i in range(TOTAL)])
    return backend


def open_window(qtbot: Any, settings: Settings, backend: FakeBackend) -> Any:
    from gui.main_window import MainWindow

    win = MainWindow(settings, backend)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.browser.loaded, timeout=10_000)
    return win


@pytest.fixture
def window(qtbot: Any, settings: Settings, big: FakeBackend) -> Iterator[Any]:
    win = open_window(qtbot, settings, big)
    yield win
    win.shutdown()


def names_on_screen(win: Any) -> list[str]:
    view = win.browser.view
    first = view.rowAt(0)
    last = view.rowAt(view.viewport().height() - 1)
    return [win.browser.model.index(r, 0).data() for r in range(first, last + 1)]


def test_scrolling_to_the_bottom_reads_only_the_pages_around_the_viewport(
    qtbot: Any, window: Any, big: FakeBackend
) -> None:
    model = window.browser.model
    assert model.rowCount() == TOTAL  # the scrollbar shows the real size at once
    assert window.browser.count_label.text() == f"{TOTAL:,} files"
    start = len(big.queries)
    window.browser.view.scrollToBottom()
    qtbot.waitUntil(lambda: names_on_screen(window)[-1] == "f00000.csv", timeout=5000)
    # a jump, not a walk: the last pages are read from the other end (the order reversed) with short offsets
    reads = [(q.descending, q.offset) for q in big.queries[start:] if q.after is None]
    assert reads and all(not descending and offset < 3 * PAGE_ROWS for descending, offset in reads), reads
    assert len(big.queries) - start <= 4
    for step in range(0, TOTAL, TOTAL // 40):  # drag through the whole list
        window.browser.view.verticalScrollBar().setValue(step)
        qtbot.wait(5)
    qtbot.waitUntil(lambda: not model._fetching, timeout=5000)
    assert len(model.cached_pages) <= MAX_PAGES  # memory stays flat
    qtbot.waitUntil(lambda: "…" not in names_on_screen(window), timeout=5000)  # the screen settles on real rows


def test_sorting_and_filtering_happen_in_the_store(qtbot: Any, window: Any, big: FakeBackend) -> None:
    view, model = window.browser.view, window.browser.model
    view.sortByColumn(RecordTableModel.ROWS, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: model.sort_key == "row_count" and not model._loading, timeout=5000)
    qtbot.waitUntil(lambda: names_on_screen(window)[0] != "f19999.csv", timeout=5000)
    query = big.queries[-1]
    assert (query.sort, query.descending, query.summary) == ("row_count", True, True)
    expected = sorted(big.current.values(), key=lambda r: (r.row_count, r.bucket, r.key), reverse=True)
    shown = names_on_screen(window)
    assert shown == [r.file_name for r in expected[: len(shown)]]  # the store's order, whole-store
    # Notes cannot be sorted: the header refuses, and says why
    messages: list[str] = []
    window.browser.message.connect(lambda text, _ms: messages.append(text))
    view.sortByColumn(RecordTableModel.NOTES, Qt.SortOrder.AscendingOrder)
    assert model.sort_key == "row_count"
    assert window.browser.header.sortIndicatorSection() == RecordTableModel.ROWS
    assert messages and "Notes cannot be sorted" in messages[-1]
    assert "cannot be sorted" in model.headerData(RecordTableModel.NOTES, Qt.Orientation.Horizontal, 3)

    window.browser.filter_edit.setText("f1234")
    qtbot.waitUntil(lambda: model.rowCount() == 10, timeout=5000)  # f12340.csv .. f12349.csv
    assert big.queries[-1].text == "f1234"
    assert window.browser.count_label.text() == f"10 of {TOTAL:,} files"
    rows = [model.index(r, RecordTableModel.ROWS).data(256 + 1) for r in range(10)]
    assert rows == sorted(rows, reverse=True)  # still the store's sort


def test_a_deletion_disappears_from_two_windows_and_selection_and_scroll_are_kept(
    qtbot: Any, window: Any, big: FakeBackend, settings: Settings
) -> None:
    other = open_window(qtbot, settings, big)
    try:
        view, model = window.browser.view, window.browser.model
        view.scrollTo(model.index(5000, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        qtbot.waitUntil(lambda: names_on_screen(window)[0] == "f14999.csv", timeout=5000)
        target = model.index(5003, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        view.selectionModel().setCurrentIndex(target, flags)
        assert [r.key for r in window.browser.selected_records()] == ["f14996.csv"]
        other.browser.view.scrollTo(other.browser.model.index(5000, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        qtbot.waitUntil(lambda: "f14998.csv" in names_on_screen(other), timeout=5000)

        big.delete_record("test-bucket", "f14998.csv")  # on screen in both
        big.add_records(make_record("new.csv", minutes=TOTAL + 5))  # lands at the top, above the viewport
        for win in (window, other):
            qtbot.waitUntil(lambda w=win: "f14998.csv" not in names_on_screen(w), timeout=5000)
            assert win.browser.model.find("test-bucket", "f14998.csv") is None
            assert win.browser.count_label.text() == f"{TOTAL:,} files"  # one gone, one new
        assert names_on_screen(window)[0] == "f14999.csv"  # the top record stays on top
        assert [r.key for r in window.browser.selected_records()] == ["f14996.csv"]  # selection kept by key
    finally:
        other.shutdown()


def test_a_store_without_random_access_grows_as_the_user_scrolls(
    qtbot: Any, settings: Settings, big: FakeBackend
) -> None:
    big.capabilities = ReaderCapabilities(
        ("uploaded_at",),
        "Name starts with…",
        random_access=False,
        notes=("DynamoDB sorts by upload time only.",),
    )
    win = open_window(qtbot, settings, big)
    try:
        model, browser = win.browser.model, win.browser
        assert 0 < model.rowCount() < TOTAL  # what has been read, not the count
        assert browser.count_label.text() == f"{TOTAL:,} files"
        assert browser.note_label.isVisible() and "upload time only" in browser.note_label.text()
        assert browser.filter_edit.placeholderText() == "Name starts with… (Ctrl+F)"
        assert model.sortable(RecordTableModel.UPLOADED)
        for column in (RecordTableModel.ROWS, RecordTableModel.FILE, RecordTableModel.NOTES):
            assert not model.sortable(column)
            tip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            assert "cannot be sorted" in tip
        before = model.rowCount()
        browser.view.scrollToBottom()
        qtbot.waitUntil(lambda: model.rowCount() > before, timeout=5000)
        assert all(q.offset == 0 for q in big.queries)  # the fake refuses offsets here: keyset only
        assert all(q.sort == "uploaded_at" for q in big.queries)
    finally:
        win.shutdown()
