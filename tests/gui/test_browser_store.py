"""The file list against the real MySQL store: a few thousand seeded records read page by page as the user
scrolls, sorted and filtered by the store, and a deletion the writer records leaving two windows at once.

Each window is the browser panel with its record feed, wired as gui/main_window.py wires them, reading through
the product's own Backend (the read-only user of a test database of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from store_fixtures import MySqlTestDb, create_mysql_test_db, store_writer

from backend.config import Settings
from backend.store import MetadataReader, RecordQuery, open_reader
from backend.store.seeding import seed_mysql
from gui.backend_api import Backend
from gui.feeds import RecordFeed
from gui.jobs import JobRunner
from gui.panels.browser_panel import BrowserPanel
from gui.records import PAGE_ROWS, RecordTableModel

pytestmark = [pytest.mark.stack]

SEEDED = 3_000


class StoreDbBackend(Backend):
    """The real backend, reading the test database with its read-only user (whose password the test holds)."""

    def __init__(self, db: MySqlTestDb) -> None:
        self.db = db

    def open_reader(self, settings: Settings) -> MetadataReader:
        return open_reader(settings, user=settings.mysql_reader_user, password=self.db.reader_password)


@pytest.fixture(scope="module")
def db(stack: Settings) -> Iterator[MySqlTestDb]:
    for database in create_mysql_test_db(stack):
        seed_mysql(database.settings, SEEDED, random_seed=7)
        yield database


@pytest.fixture
def reader(db: MySqlTestDb) -> Iterator[MetadataReader]:
    """A reader of the test's own, to compare what the window shows with what the store answers."""
    r = StoreDbBackend(db).open_reader(db.settings)
    yield r
    r.close()


class StoreWindow:
    """A browser panel and its record feed on the store, wired as the main window wires them."""

    def __init__(self, qtbot: Any, db: MySqlTestDb, state: Path) -> None:
        settings = db.settings.replace(poll_interval_ms=200)
        backend = StoreDbBackend(db)
        self.jobs = JobRunner(4)
        self.panel = BrowserPanel(QSettings(str(state), QSettings.Format.IniFormat))
        qtbot.addWidget(self.panel)
        self.panel.resize(1100, 640)
        self.panel.show()
        self.panel.set_store(lambda: backend.open_reader(settings), self.jobs)
        self.feed = RecordFeed(settings, backend, self.jobs)
        self.feed.records.connect(self.panel.apply_changes)
        self.feed.ready.connect(self.panel.load)
        self.feed.start()
        qtbot.waitUntil(lambda: self.panel.loaded and not self.model._fetching, timeout=20_000)

    @property
    def model(self) -> RecordTableModel:
        return self.panel.model

    def visible_rows(self) -> range:
        view = self.panel.view
        first = view.rowAt(0)
        last = view.rowAt(view.viewport().height() - 2)
        return range(first, (last if last >= 0 else self.model.rowCount() - 1) + 1)

    def shown_keys(self) -> list[str]:
        """The Key column of the rows on screen, as the user reads it."""
        return [self.model.display_text(row, RecordTableModel.KEY) for row in self.visible_rows()]

    def close(self) -> None:
        self.feed.stop()
        self.jobs.shutdown()


@pytest.fixture
def open_window(qtbot: Any, db: MySqlTestDb, tmp_path: Path) -> Iterator[Any]:
    windows: list[StoreWindow] = []

    def open_one() -> StoreWindow:
        window = StoreWindow(qtbot, db, tmp_path / f"state-{len(windows)}.ini")
        windows.append(window)
        return window

    yield open_one
    for window in windows:
        window.close()


def store_keys(reader: MetadataReader, query: RecordQuery, rows: range) -> list[str]:
    """The keys of rows ``rows`` of the query, as the store orders them (read directly, one page)."""
    from dataclasses import replace

    page = reader.list(replace(query, offset=rows.start, limit=len(rows), summary=True))
    return [r.key for r in page.records]


def test_scrolling_to_the_bottom_reads_the_last_pages_only(open_window: Any, qtbot: Any, reader: Any) -> None:
    window = open_window()
    model, panel = window.model, window.panel
    total = reader.count(RecordQuery())
    assert total >= SEEDED - 1  # the deletion test may have run first
    assert model.rowCount() == total  # the store's count, not what has been read
    assert panel.count_label.text() == f"{total:,} files"
    assert set(model.cached_pages) <= {0, 1}
    newest_first = RecordQuery(sort="uploaded_at", descending=True)
    assert window.shown_keys() == store_keys(reader, newest_first, window.visible_rows())

    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: model.display_text(total - 1, RecordTableModel.KEY) != "", timeout=20_000)
    rows = window.visible_rows()
    assert rows.stop == total and len(rows) > 5
    assert window.shown_keys() == store_keys(reader, newest_first, rows)  # the store's last records, in order
    last_page = (total - 1) // PAGE_ROWS
    assert set(model.cached_pages) <= {0, 1, last_page - 2, last_page - 1, last_page}  # none between was read


def test_sorting_and_filtering_are_the_stores(open_window: Any, qtbot: Any, reader: Any) -> None:
    window = open_window()
    model, panel = window.model, window.panel
    with qtbot.waitSignal(model.loaded, timeout=20_000):
        panel.view.sortByColumn(RecordTableModel.ROWS, Qt.SortOrder.AscendingOrder)
    by_rows = RecordQuery(sort="row_count", descending=False)
    assert window.shown_keys() == store_keys(reader, by_rows, window.visible_rows())

    with qtbot.waitSignal(model.loaded, timeout=20_000):
        panel.status_combo.setCurrentIndex(panel.status_combo.findData("PROCESSED"))
    with qtbot.waitSignal(model.loaded, timeout=20_000):
        panel.filter_edit.setText("seed/sales/")  # a key prefix, by the store's text rule
        panel.apply_filters()  # as Return does, without waiting for the typing to pause
    query = RecordQuery(sort="row_count", descending=False, status="PROCESSED", text="seed/sales/")
    matching, everything = reader.count(query), reader.count(RecordQuery())
    assert 0 < matching < everything
    assert model.rowCount() == matching
    assert panel.count_label.text() == f"{matching:,} of {everything:,} files"
    shown = window.shown_keys()
    assert shown == store_keys(reader, query, window.visible_rows())
    assert all(key.startswith("seed/sales/") for key in shown)


def test_a_deleted_file_leaves_two_windows(open_window: Any, qtbot: Any, db: MySqlTestDb, reader: Any) -> None:
    first, second = open_window(), open_window()
    total = reader.count(RecordQuery())
    assert first.model.rowCount() == second.model.rowCount() == total
    newest = first.model.record_at(0)
    assert newest is not None and second.model.row_for(newest.bucket, newest.key) == 0
    following = first.model.display_text(1, RecordTableModel.KEY)

    s = db.settings
    writer = store_writer.MySqlWriter(
        host=s.mysql_host,
        port=s.mysql_port,
        user=s.mysql_writer_user,
        password=db.writer_password,
        database=s.mysql_database,
    )
    try:  # as the function does on ObjectRemoved: a tombstone, newer than the object's upload
        assert writer.delete(newest.bucket, newest.key, "F" * 20)
    finally:
        writer.close()

    for window in (first, second):
        qtbot.waitUntil(lambda w=window: w.model.rowCount() == total - 1, timeout=20_000)
        qtbot.waitUntil(lambda w=window: w.model.display_text(0, RecordTableModel.KEY) == following, timeout=20_000)
        assert window.model.row_for(newest.bucket, newest.key) == -1
        assert window.panel.count_label.text() == f"{total - 1:,} files"
    assert reader.get(newest.bucket, newest.key) is None
