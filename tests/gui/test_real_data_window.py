"""The window with real-world data (issue 13): long names sharing long prefixes, long errors and notes, sizes from
bytes to megabytes, dates over years, and column widths that fit the data and are remembered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from gui_fakes import SAMPLE_WARNINGS, FakeBackend, make_notice, make_record
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QImage, QPainter, QTextDocumentFragment
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from backend.config import Settings
from gui import style
from gui.jobs import JobRunner
from gui.panels.notices_panel import fit_pieces
from gui.records import RecordTableModel, SortRole, StoreAccess
from gui.widgets import MiddleElideDelegate

PREFIX = "surveys/bering-sea/pollock/"
TWINS = ("pollock_survey__station_0042__2019.csv", "pollock_survey__station_0042__2020.csv")


def plain(tooltip: str) -> str:
    """What a (rich-text) tooltip shows, as plain text."""
    return QTextDocumentFragment.fromHtml(tooltip).toPlainText().strip("\n")  # a table starts and ends a block


def paint_cell(view: Any, delegate: QStyledItemDelegate, index: Any, width: int) -> QImage:
    """The cell as ``delegate`` paints it ``width`` pixels wide, on a plain background (no selection, no
    alternating colour: two rows differ in the picture only if their texts do)."""
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = QRect(0, 0, width, view.fontMetrics().height() * 2)
    option.features &= ~QStyleOptionViewItem.ViewItemFeature.Alternate
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    delegate.paint(painter, option, index)
    painter.end()
    return image


@pytest.fixture
def jobs(qapp: Any) -> Iterator[JobRunner]:
    runner = JobRunner(2)
    yield runner
    runner.shutdown()


def store_model(qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner) -> RecordTableModel:
    """A list model on its own, reading the fake store (its first pages read)."""
    model = RecordTableModel()
    model.set_store(StoreAccess(lambda: backend.open_reader(settings), jobs))
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.load()
    return model


def load(qtbot: Any, window: Any, backend: Any, *records: Any) -> None:
    backend.add_records(*records)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == len(records), timeout=3000)


def test_names_and_keys_sharing_a_long_prefix_look_different_in_the_list(qtbot: Any, window: Any, backend: Any) -> None:
    load(qtbot, window, backend, *(make_record(PREFIX + name) for name in TWINS))
    view, model = window.browser.view, window.browser.model
    rows = {model.index(r, 0).data(): r for r in range(2)}
    for column, width in ((RecordTableModel.FILE, 130), (RecordTableModel.KEY, 200)):
        delegate = view.itemDelegateForColumn(column)
        assert isinstance(delegate, MiddleElideDelegate)
        a, b = (model.index(rows[name], column) for name in TWINS)
        assert paint_cell(view, delegate, a, width) != paint_cell(view, delegate, b, width)
        # the same cells cut at their end (the view's default) are the same picture: the test tells them apart
        plain_delegate = QStyledItemDelegate()
        assert paint_cell(view, plain_delegate, a, width) == paint_cell(view, plain_delegate, b, width)
        # and the full text is the tooltip
        assert TWINS[0] in plain(a.data(Qt.ItemDataRole.ToolTipRole))


def test_notices_of_long_names_keep_their_ends_and_what_happened(qtbot: Any, window: Any, backend: Any) -> None:
    for name in TWINS:
        backend.push_notice(make_notice(PREFIX + name, seconds=5))
    failed = make_notice(PREFIX + "pollock_survey__station_0099__2021.csv", status="FAILED", seconds=5)
    backend.push_notice(failed)
    qtbot.waitUntil(lambda: window.notices.count() == 3, timeout=3000)
    notices = window.notices.list
    delegate = notices.itemDelegate()
    by_name = {notices.item(i).text().split(" — ")[0]: notices.indexFromItem(notices.item(i)) for i in range(3)}
    a, b = (by_name[name] for name in TWINS)
    width = notices.fontMetrics().horizontalAdvance("M") * 22  # the text's room in a row of row_width
    row_width = notices.fontMetrics().horizontalAdvance("M") * 26  # about the list's width in a 1280-pixel window
    assert paint_cell(notices, delegate, a, row_width) != paint_cell(notices, delegate, b, row_width)
    # line by line: the name is cut in the middle, what happened and when are whole
    fm = notices.fontMetrics()
    first = fit_pieces(fm, TWINS[0], Qt.TextElideMode.ElideMiddle, " — processed", width)
    assert first.endswith("2019.csv — processed") and "…" in first
    second = fit_pieces(
        fm,
        "A quoted field that starts on line 9,412 is never closed",
        Qt.TextElideMode.ElideRight,
        " · 21:00:05",
        width,
    )
    assert second.startswith("A quoted") and second.endswith("… · 21:00:05")
    assert fm.horizontalAdvance(first) <= width and fm.horizontalAdvance(second) <= width
    # every notice is two lines high, however long its name or reason
    heights = {notices.sizeHintForIndex(index).height() for index in by_name.values()}
    assert len(heights) == 1 and heights.pop() < fm.lineSpacing() * 3
    tip = plain(notices.item(list(by_name).index("pollock_survey__station_0099__2021.csv")).toolTip())
    assert f"s3://test-bucket/{PREFIX}pollock_survey__station_0099__2021.csv" in tip
    assert "Failed: Unterminated quote on line 3." in tip


@pytest.mark.parametrize(
    "name",
    [
        "department_of_regional_operations_" * 3 + "ledger_2023_q4_final_revised_after_audit.csv",
        "Q" * 116 + ".csv",  # nothing to break at: it wraps anywhere
    ],
)
def test_detail_title_of_a_long_name_without_spaces_wraps_inside_the_pane(
    qtbot: Any, window: Any, backend: Any, name: str
) -> None:
    assert " " not in name and len(name) >= 120
    window.resize(1280, 800)
    load(qtbot, window, backend, make_record(PREFIX + name))
    window.browser.select_record("test-bucket", PREFIX + name)
    detail = window.detail
    qtbot.waitUntil(lambda: detail.title.isVisible() and detail.width() > 300, timeout=3000)
    QApplication.processEvents()
    title = detail.title
    body = title.parentWidget()
    viewport = detail.stack.currentWidget().viewport()
    assert title.geometry().right() < body.width() <= viewport.width()  # inside the pane, which did not widen
    line = title.fontMetrics().lineSpacing()
    assert title.line_count() > 1
    assert title.heightForWidth(title.width()) > 1.5 * line
    assert title.height() >= title.heightForWidth(title.width())  # every line shown, none cut off
    assert title.text() == name  # the whole name, without the invisible break hints
    title.selectAll()
    assert title.createMimeDataFromSource().text() == name  # what Copy puts on the clipboard
    # the address under it is one line cut in the middle, whole in its tooltip and its Copy
    address = detail.address
    assert address.text() == f"s3://test-bucket/{PREFIX}{name}"
    assert address.shown_text().endswith(".csv") and "…" in address.shown_text()
    assert address.toolTip() == address.text()
    assert address.geometry().right() < body.width()
    address.actions()[0].trigger()
    assert QApplication.clipboard().text() == address.text()


def test_size_column_uses_compact_units_aligned_right_with_the_exact_count_in_its_tooltip(
    qtbot: Any, window: Any, backend: Any
) -> None:
    sizes = {"tiny.csv": 697, "small.csv": 3_200, "big.csv": 1_400_000}
    load(qtbot, window, backend, *(make_record(name, size_bytes=size) for name, size in sizes.items()))
    model, view = window.browser.model, window.browser.view
    cells = {model.index(r, 0).data(): model.index(r, RecordTableModel.SIZE) for r in range(3)}
    # units of 1,024 as everywhere else in the window (3,200 bytes = 3.125 KB; 1,400,000 = 1.335 MB)
    assert {name: cell.data() for name, cell in cells.items()} == {
        "tiny.csv": "697 B",
        "small.csv": "3.1 KB",
        "big.csv": "1.3 MB",
    }
    assert plain(cells["big.csv"].data(Qt.ItemDataRole.ToolTipRole)) == "1,400,000 bytes"
    assert cells["tiny.csv"].data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight.value
    width = view.horizontalHeader().sectionSize(RecordTableModel.SIZE)
    margins = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)  # as the cell draws
    for cell in cells.values():  # fitted to them: "697 byt…" was the column before
        assert view.fontMetrics().horizontalAdvance(cell.data()) + margins <= width
    assert [style.compact_bytes(n) for n in (0, 1023, 1024, 150 * 1024, 48_300_000, None)] == [
        "0 B",
        "1,023 B",
        "1.0 KB",
        "150 KB",
        "46.1 MB",
        "—",
    ]


def test_notes_tooltip_is_the_whole_notes_text(qtbot: Any, window: Any, backend: Any) -> None:
    long_error = (
        "No consistent table: only 41% of the 1,874 rows have the table's 14 fields (delimiter ','; field counts: "
        "766 rows of 14, 702 rows of 15, 398 rows of 13, 8 rows of 2); the first row that differs is line 3."
    )
    load(
        qtbot,
        window,
        backend,
        make_record("dups.csv", duplicate_row_count=498, duplicate_column_names=["amount"], has_header=False),
        make_record("broken.csv", status="FAILED", error=long_error),
        make_record("warned.csv", warnings=SAMPLE_WARNINGS, duplicate_row_count=3),
    )
    model = window.browser.model
    notes = {model.index(r, 0).data(): model.index(r, RecordTableModel.NOTES) for r in range(3)}
    dups = notes["dups.csv"]
    assert dups.data() == "498 duplicate rows; repeated column names: amount; no header row"
    assert plain(dups.data(Qt.ItemDataRole.ToolTipRole)) == dups.data()
    assert plain(notes["broken.csv"].data(Qt.ItemDataRole.ToolTipRole)) == long_error
    # the cell names the first warning; the tooltip has every one, with its lines, and the other notes
    warned = plain(notes["warned.csv"].data(Qt.ItemDataRole.ToolTipRole))
    assert notes["warned.csv"].data().startswith("2 warnings: Skipped 2 lines")
    assert warned.splitlines() == [
        "2 warnings:",
        "• Skipped 2 lines of text before the header. (lines 1 and 2)",
        "• 3 rows are shorter than the header; their missing fields are empty. (lines 7, 12 and 13)",
        "3 duplicate rows",
    ]
    # a long tooltip is rich text of a set width, which Qt wraps (plain text would be one line as wide as the screen)
    assert notes["broken.csv"].data(Qt.ItemDataRole.ToolTipRole).startswith("<table width=")


def test_dates_show_the_day_unless_today_and_sort_by_the_timestamp(
    qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    now = datetime.now().astimezone()
    other_day = now - timedelta(days=1) if (now.month, now.day) != (1, 1) else now + timedelta(days=1)
    last_year = now.replace(year=now.year - 1, month=6, day=15, hour=9, minute=5, second=0)
    assert re.fullmatch(r"\d\d:\d\d", style.short_time(now))
    assert style.short_time(other_day) == f"{other_day.day} {other_day:%b} {other_day:%H:%M}"
    assert style.short_time(last_year) == f"{now.year - 1}-06-15"
    assert style.full_time(last_year) == f"{now.year - 1}-06-15 09:05:00"

    backend.add_records(
        make_record("today.csv", uploaded=now),
        make_record("last-year.csv", uploaded=last_year),
        make_record("other-day.csv", uploaded=other_day),
    )
    model = store_model(qtbot, backend, settings, jobs)
    with qtbot.waitSignal(model.loaded, timeout=5000):  # the header's sort goes to the store
        model.sort(RecordTableModel.UPLOADED, Qt.SortOrder.AscendingOrder)
    assert (backend.queries[-1].sort, backend.queries[-1].descending) == ("uploaded_at", False)
    names = [model.index(r, 0).data() for r in range(3)]
    expected = sorted(
        ["today.csv", "last-year.csv", "other-day.csv"],
        key=lambda n: {"today.csv": now, "last-year.csv": last_year, "other-day.csv": other_day}[n],
    )
    assert names == expected  # by time, not by the texts ("15 Jun…" / "2025-…" / "12:34")
    cell = model.index(names.index("last-year.csv"), RecordTableModel.UPLOADED)
    assert cell.data() == f"{now.year - 1}-06-15"
    assert isinstance(cell.data(SortRole), float)
    assert plain(cell.data(Qt.ItemDataRole.ToolTipRole)) == f"Uploaded {now.year - 1}-06-15 09:05:00"


def test_record_model_with_tooltips_passes_qt_model_tester(
    qtmodeltester: Any, qtbot: Any, backend: FakeBackend, settings: Settings, jobs: JobRunner
) -> None:
    backend.add_records(
        make_record(PREFIX + TWINS[0], size_bytes=697, duplicate_row_count=498),
        make_record("broken.csv", status="FAILED", error="x" * 500),
        make_record("warned.csv", warnings=SAMPLE_WARNINGS),
    )
    model = store_model(qtbot, backend, settings, jobs)
    assert model.rowCount() == 3
    qtmodeltester.check(model)
    for row in range(3):
        for col in range(model.columnCount()):
            tip = model.index(row, col).data(Qt.ItemDataRole.ToolTipRole)
            assert tip is None or (isinstance(tip, str) and plain(tip))


def widths(window: Any) -> list[int]:
    header = window.browser.view.horizontalHeader()
    return [header.sectionSize(c) for c in range(header.count())]


def drag_divider(qtbot: Any, window: Any, column: int, by: int) -> None:
    """The user drags the divider right of ``column`` by ``by`` pixels."""
    header = window.browser.view.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) - 1
    y = header.height() // 2
    qtbot.mousePress(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    qtbot.mouseMove(header.viewport(), QPoint(x + by // 2, y))
    qtbot.mouseMove(header.viewport(), QPoint(x + by, y))
    qtbot.mouseRelease(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x + by, y))


def test_column_widths_fit_the_first_page_and_are_restored_after_reopening(
    qtbot: Any, settings: Settings, backend: Any
) -> None:
    from gui.main_window import MainWindow
    from gui.panels.browser_panel import FIT_CAPS

    backend.add_records(make_record("a.csv", rows=1_234_567, size_bytes=48_300_000))

    def open_window(records: int) -> Any:
        window = MainWindow(settings, backend)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitUntil(lambda: window.browser.model.rowCount() == records, timeout=3000)
        return window

    first = open_window(1)
    fm = first.browser.view.fontMetrics()
    em = fm.horizontalAdvance("M")
    short = widths(first)
    assert short[RecordTableModel.ROWS] > fm.horizontalAdvance("1,234,567")  # the first page's numbers fit whole
    # the bucket fills while the window is open: a longer name widens the column, up to its cap
    long_name = "department-of-environment-and-heritage-ledger-2025-q4-final-revised-after-audit.csv"
    backend.add_records(make_record(long_name, duplicate_row_count=498))
    qtbot.waitUntil(lambda: first.browser.model.rowCount() == 2, timeout=3000)
    fitted = widths(first)
    assert short[RecordTableModel.FILE] < fitted[RecordTableModel.FILE] == em * FIT_CAPS[RecordTableModel.FILE]
    assert fitted[RecordTableModel.NOTES] > fm.horizontalAdvance("498 duplicate rows")
    first.shutdown()
    first.close()

    second = open_window(2)  # the same state file: the widths come back as they were
    assert widths(second) == fitted
    drag_divider(qtbot, second, RecordTableModel.NOTES, 60)  # the user's own width
    kept = widths(second)
    assert kept[RecordTableModel.NOTES] > fitted[RecordTableModel.NOTES] + 30
    backend.add_records(make_record("x" * 30 + "-many-more-columns-than-usual.csv", rows=98_765_432))
    qtbot.waitUntil(lambda: second.browser.model.rowCount() == 3, timeout=3000)
    assert widths(second) == kept  # set by hand: never fitted again
    second.shutdown()
    second.close()

    third = open_window(3)
    assert widths(third) == kept
    third.shutdown()


def test_upload_queue_cuts_long_names_in_the_middle(window: Any) -> None:
    from gui.uploads import UploadQueueModel

    view = window.uploads_panel.view
    delegate = view.itemDelegateForColumn(UploadQueueModel.FILE)
    assert isinstance(delegate, MiddleElideDelegate)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    assert option.features & QStyleOptionViewItem.ViewItemFeature.WrapText  # the view wraps the details ...
    delegate.initStyleOption(option, view.model().index(0, 0))
    assert not option.features & QStyleOptionViewItem.ViewItemFeature.WrapText  # ... not the names
    assert option.textElideMode == Qt.TextElideMode.ElideMiddle
