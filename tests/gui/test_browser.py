"""Metadata browser against the fake store: live changes, selection kept, detail pane, store-side filter and sort,
notices, copy, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gui_fakes import SAMPLE_WARNINGS, make_notice, make_record
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from gui.records import RecordTableModel


def visible_names(window: Any) -> list[str]:
    model = window.browser.model
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def select_name(window: Any, name: str) -> None:
    proxy = window.browser.model
    for r in range(proxy.rowCount()):
        if proxy.index(r, 0).data() == name:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            window.browser.view.selectionModel().setCurrentIndex(proxy.index(r, 0), flags)
            return
    raise AssertionError(f"{name} not visible")


def test_records_are_polled_incrementally_without_reset_and_selection_is_kept(
    qtbot: Any, window: Any, backend: Any
) -> None:
    backend.add_records(make_record("a.csv", minutes=1), make_record("b.csv", minutes=2))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=3000)
    assert window.browser.count_label.text() == "2 files"
    select_name(window, "a.csv")
    resets: list[int] = []
    window.browser.model.modelReset.connect(lambda: resets.append(1))
    window.browser.model.modelReset.connect(lambda: resets.append(1))
    backend.add_records(make_record("c.csv", minutes=3), make_record("a.csv", minutes=1, rows=77, revision=5))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=3000)
    qtbot.waitUntil(lambda: window.browser.model.find("test-bucket", "a.csv").row_count == 77, timeout=3000)
    qtbot.waitUntil(lambda: "77" in window.detail.text(), timeout=3000)
    calls = backend.change_reads
    qtbot.waitUntil(lambda: backend.change_reads > calls + 2, timeout=3000)  # more ticks, nothing new
    assert resets == []  # a live change re-reads the pages on screen; it never resets the view
    assert [r.key for r in window.browser.selected_records()] == ["a.csv"]
    assert "77" in window.detail.text()  # the detail pane follows the update of the selected record
    assert visible_names(window) == ["c.csv", "b.csv", "a.csv"]  # newest upload first


def test_detail_pane_shows_columns_types_counts_and_sample_rows(qtbot: Any, window: Any, backend: Any) -> None:
    assert "No file selected" in window.detail.text()
    backend.add_records(make_record("cities.csv", rows=3))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1, timeout=3000)
    select_name(window, "cities.csv")
    qtbot.waitUntil(lambda: "cities.csv" in window.detail.text(), timeout=3000)
    text = window.detail.text()
    assert "cities.csv" in text
    assert "Column\tType\tNulls\tDistinct\tMin\tMax" in text
    assert "id\tInteger\t0\t3\t1\t3" in text
    assert "city\tText\t1\t2\t—\t—" in text
    assert "when\tDate\t0\t3\t2026-01-01\t2026-01-03" in text
    assert "1\tOslo\t2026-01-01" in text  # a sample row under the file's own column names
    assert "id\tcity\twhen" in text
    assert "encoding: utf-8" in text and "delimiter: comma (',')" in text
    assert window.detail.sample_title.text() == "Sample rows (first 2 of 3)"


def test_failed_record_detail_shows_the_error(qtbot: Any, window: Any, backend: Any) -> None:
    backend.add_records(make_record("broken.csv", status="FAILED", error="Line 4 has 7 fields, expected 3."))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1, timeout=3000)
    select_name(window, "broken.csv")
    qtbot.waitUntil(lambda: "broken.csv" in window.detail.text(), timeout=3000)
    assert "Could not be profiled:</b> Line 4 has 7 fields, expected 3." in window.detail.text()
    assert not window.detail.columns.isVisible()


def test_filter_box_and_status_filter(qtbot: Any, window: Any, backend: Any) -> None:
    backend.add_records(
        make_record("jan/sales.csv", minutes=1),
        make_record("feb/sales.csv", minutes=2),
        make_record("feb/bad.csv", status="FAILED", minutes=3),
    )
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=3000)
    window.commands.find.trigger()
    assert window.browser.filter_edit.hasFocus() or QApplication.focusWidget() is window.browser.filter_edit
    rule = "Name starts with…, or a key prefix like folder/ (Ctrl+F)"  # the store's rule
    assert window.browser.filter_edit.placeholderText() == rule
    qtbot.keyClicks(window.browser.filter_edit, "feb/")
    qtbot.waitUntil(lambda: sorted(visible_names(window)) == ["bad.csv", "sales.csv"], timeout=3000)
    assert window.browser.count_label.text() == "2 of 3 files"
    assert backend.queries[-1].text == "feb/"  # the store filtered, once the typing paused (not per key)
    assert not any(q.text in ("f", "fe", "feb") for q in backend.queries)
    window.browser.status_combo.setCurrentIndex(window.browser.status_combo.findData("FAILED"))
    qtbot.waitUntil(lambda: visible_names(window) == ["bad.csv"], timeout=3000)
    assert backend.queries[-1].status == "FAILED"
    window.browser.filter_edit.clear()
    window.browser.status_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=3000)
    assert window.browser.count_label.text() == "3 files"


def test_header_click_sorts(qtbot: Any, window: Any, backend: Any) -> None:
    backend.add_records(make_record("x.csv", rows=100), make_record("y.csv", rows=9), make_record("z.csv", rows=20))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=3000)
    window.browser.view.sortByColumn(RecordTableModel.ROWS, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: visible_names(window) == ["y.csv", "z.csv", "x.csv"], timeout=3000)
    assert (backend.queries[-1].sort, backend.queries[-1].descending) == ("row_count", False)


def test_notices_newest_first_and_click_selects_the_record(qtbot: Any, window: Any, backend: Any) -> None:
    backend.add_records(make_record("one.csv"), make_record("two.csv"))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=3000)
    backend.push_notice(make_notice("one.csv", seconds=1))
    backend.push_notice(make_notice("two.csv", seconds=2, status="FAILED"))
    backend.push_notice(make_notice("two.csv", seconds=2, status="FAILED"))  # SQS redelivery
    qtbot.waitUntil(lambda: window.notices.count() == 2, timeout=3000)
    texts = window.notices.texts()
    assert texts[0].startswith("two.csv — failed\nUnterminated quote on line 3.")
    assert texts[1].startswith("one.csv — processed\n3 rows × 3 columns")
    assert window.notices.title.text() == "Notices (2)"
    item = window.notices.list.item(1)
    rect = window.notices.list.visualItemRect(item)
    qtbot.mouseClick(window.notices.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [r.key for r in window.browser.selected_records()] == ["one.csv"]
    qtbot.waitUntil(lambda: window.detail.record is not None and window.detail.record.key == "one.csv", timeout=3000)
    assert window.detail.record.complete  # the pane shows the full record, read with get()

    messages: list[str] = []
    window.browser.message.connect(lambda text, _ms: messages.append(text))
    window.browser.filter_edit.setText("two")  # a file the filter hides: shown in the pane, and said so
    qtbot.waitUntil(lambda: visible_names(window) == ["two.csv"], timeout=3000)
    item = window.notices.list.item(1)
    qtbot.mouseClick(window.notices.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: any("outside the current filter" in m for m in messages), timeout=3000)
    assert window.detail.record.key == "one.csv"
    assert visible_names(window) == ["two.csv"]


def test_notice_for_an_unknown_file_does_not_break(qtbot: Any, window: Any, backend: Any) -> None:
    backend.push_notice(make_notice("ghost.csv"))
    qtbot.waitUntil(lambda: window.notices.count() == 1, timeout=3000)
    messages: list[str] = []
    window.browser.message.connect(lambda text, _ms: messages.append(text))
    assert window.browser.select_record("test-bucket", "ghost.csv") is False
    qtbot.waitUntil(lambda: messages == ["s3://test-bucket/ghost.csv is not in the file list yet."], timeout=3000)


def test_copy_selection(qtbot: Any, window: Any, backend: Any) -> None:
    backend.add_records(make_record("a.csv"), make_record("b.csv", status="FAILED", error="Bad\tthing"))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=3000)
    window.browser.view.selectAll()
    window.browser.copy_selection()
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].startswith("File\tStatus\tRows")
    assert len(lines) == 3
    assert any(line.endswith("Bad thing") for line in lines)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_export_selection(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    backend.add_records(make_record("a.csv"), make_record("=cmd.csv"))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=3000)
    target = tmp_path / f"out{suffix}"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.browser.view.selectAll()
    window.commands.export.trigger()
    qtbot.waitUntil(target.exists, timeout=3000)
    text = target.read_text(encoding="utf-8-sig")
    if suffix == ".json":
        assert sorted(r["key"] for r in json.loads(text)) == ["=cmd.csv", "a.csv"]
    else:
        assert "'=cmd.csv" in text  # spreadsheet formulas neutralised
        assert text.splitlines()[0].startswith("bucket,key,file_name,status")


def test_processed_with_warnings_look_filter_and_detail(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    from PySide6.QtGui import QColor

    from gui import style

    backend.add_records(
        make_record("clean.csv", minutes=1),
        make_record(
            "q3/report.csv",
            minutes=2,
            rows=1250,
            warnings=SAMPLE_WARNINGS,
            header_line=3,
            skipped_lines={"preamble": 2, "footnotes": 1, "comments": 0, "empty_rows": 0, "blank_lines": 4},
            skip_initial_space=True,
            line_terminator="\r\n",
        ),
        make_record("broken.csv", status="FAILED", minutes=3),
    )
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=3000)
    proxy = window.browser.model
    status = {proxy.index(r, 0).data(): proxy.index(r, RecordTableModel.STATUS) for r in range(proxy.rowCount())}
    assert status["report.csv"].data() == "Processed with warnings"
    assert status["clean.csv"].data() == "Processed"
    assert status["broken.csv"].data() == "Failed"
    assert status["report.csv"].data(Qt.ItemDataRole.ForegroundRole) == QColor(style.AMBER_TEXT)
    dot = status["report.csv"].data(Qt.ItemDataRole.DecorationRole).pixmap(12, 12).toImage()
    assert dot.pixelColor(6, 6).name() == QColor(style.AMBER).name()  # the amber dot
    notes = proxy.index(list(status).index("report.csv"), RecordTableModel.NOTES).data()
    assert notes.startswith("2 warnings: Skipped 2 lines of text before the header.")

    combo = window.browser.status_combo
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert labels == ["All statuses", "Processed", "Processed with warnings", "Failed"]
    combo.setCurrentIndex(combo.findText("Processed with warnings"))
    qtbot.waitUntil(lambda: visible_names(window) == ["report.csv"], timeout=3000)
    assert window.browser.count_label.text() == "1 of 3 files"
    assert backend.queries[-1].with_warnings
    combo.setCurrentIndex(combo.findText("Processed"))  # every processed file, warned or not
    qtbot.waitUntil(lambda: sorted(visible_names(window)) == ["clean.csv", "report.csv"], timeout=3000)
    combo.setCurrentIndex(combo.findText("Failed"))
    qtbot.waitUntil(lambda: visible_names(window) == ["broken.csv"], timeout=3000)
    combo.setCurrentIndex(0)
    window.browser.filter_edit.setText("q3/")  # the store's text rule: the key starts with it
    qtbot.waitUntil(lambda: visible_names(window) == ["report.csv"], timeout=3000)
    window.browser.filter_edit.clear()
    qtbot.waitUntil(lambda: len(visible_names(window)) == 3, timeout=3000)

    select_name(window, "report.csv")
    detail = window.detail
    qtbot.waitUntil(lambda: detail.record is not None and detail.record.key == "q3/report.csv", timeout=3000)
    text = detail.text()
    assert "● Processed with warnings" in detail.subtitle.text()
    assert detail.warnings.isVisible() and not detail.error.isVisible()
    assert "Processed with 2 warnings" in text
    assert "• Skipped 2 lines of text before the header. (lines 1 and 2)" in text
    assert "• 3 rows are shorter than the header; their missing fields are empty. (lines 7, 12 and 13)" in text
    assert "header: line 3" in text
    assert "skipped: 2 preamble lines, 1 footnote line, 4 blank lines" in text
    assert "delimiter: comma (','), spaces after it skipped" in text
    assert 'quotes: double quote ("), doubled inside fields' in text
    assert "line_ends: CRLF (\\r\\n)" in text
    # rendered (offscreen) at the window's usual size, the pane holds its content: the long dialect and
    # skipped-lines values wrap instead of widening the pane past its visible width
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: detail.width() > 350, timeout=3000)
    QApplication.processEvents()
    shot = tmp_path / "detail-warned.png"
    assert detail.grab().save(str(shot)) and shot.stat().st_size > 0
    body = detail.warnings.parentWidget()
    assert detail.warnings.geometry().right() < body.width()
    assert body.width() <= detail.stack.currentWidget().viewport().width()

    select_name(window, "clean.csv")  # a clean record hides the box again
    qtbot.waitUntil(lambda: detail.record.key == "clean.csv", timeout=3000)
    assert not window.detail.warnings.isVisible()
    assert "Processed with" not in window.detail.text()


def test_warned_notice_is_amber_and_says_how_many(qtbot: Any, window: Any, backend: Any) -> None:
    from gui import style

    backend.push_notice(make_notice("q3/report.csv", seconds=1, warning_codes=("preamble_skipped", "ragged_rows")))
    backend.push_notice(make_notice("clean.csv", seconds=2))
    qtbot.waitUntil(lambda: window.notices.count() == 2, timeout=3000)
    texts = window.notices.texts()
    assert texts[1].startswith("report.csv — processed with 2 warnings\n3 rows × 3 columns")
    assert texts[0].startswith("clean.csv — processed\n")
    item = window.notices.list.item(1)
    assert "Warnings: preamble_skipped, ragged_rows" in item.toolTip()
    dot = item.icon().pixmap(12, 12).toImage()
    assert dot.pixelColor(6, 6).name() == style.AMBER


def test_long_file_names_with_a_common_prefix_keep_their_distinct_ends(window: Any) -> None:
    """The File column elides in the middle: 1,000 'department-of-…-ledger-NNNN.csv' stay tellable apart."""
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QStyleOptionViewItem

    view = window.browser.view
    delegate = view.itemDelegateForColumn(RecordTableModel.FILE)
    assert delegate is not None
    option = QStyleOptionViewItem()
    delegate.initStyleOption(option, window.browser.model.index(0, RecordTableModel.FILE))
    assert option.textElideMode == Qt.TextElideMode.ElideMiddle
    name = "department-of-regional-operations-ledger-0011.csv"
    shown = QFontMetrics(view.font()).elidedText(name, option.textElideMode, 120)
    assert shown.endswith("011.csv") and "…" in shown
    assert view.itemDelegateForColumn(RecordTableModel.NOTES) is None  # notes keep the view's end elision
