"""A record whose object is gone (status MISSING, marked by `csvdrop reconcile`) in the browser: its own label,
red like a failure, under the "Failed" filter, and the detail pane saying what happened and what to do."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from gui_fakes import BUCKET, make_record
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from gui import style
from gui.records import RecordTableModel

GONE_ERROR = (
    f"The object s3://{BUCKET}/q3/gone.csv is no longer in S3 (found missing by csvdrop reconcile); "
    "upload the file again."
)


def _names(window: Any) -> list[str]:
    model = window.browser.model
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_a_missing_record_looks_red_reads_object_missing_and_says_to_upload_again(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    # What the function leaves: the profile of the object it had, the status and error replaced.
    gone = replace(make_record("q3/gone.csv", rows=5, minutes=3, revision=2), status="MISSING", error=GONE_ERROR)
    backend.add_records(
        make_record("ok.csv", minutes=1),
        make_record("broken.csv", status="FAILED", minutes=2, error="Line 4 has 7 fields, expected 3."),
        gone,
    )
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 3, timeout=3000)
    model = window.browser.model
    row = _names(window).index("gone.csv")
    status = model.index(row, RecordTableModel.STATUS)
    assert status.data() == "Object missing"
    assert status.data(Qt.ItemDataRole.ForegroundRole) == QColor(style.RED)
    assert status.data(Qt.ItemDataRole.BackgroundRole) is not None  # tinted like a FAILED row
    dot = status.data(Qt.ItemDataRole.DecorationRole).pixmap(12, 12).toImage()
    assert dot.pixelColor(6, 6).name() == QColor(style.RED).name()
    assert model.index(row, RecordTableModel.NOTES).data() == GONE_ERROR
    assert "gone.csv is no longer in S3" in status.data(Qt.ItemDataRole.ToolTipRole)
    failed = model.index(_names(window).index("broken.csv"), RecordTableModel.STATUS)
    assert failed.data() == "Failed"  # the two stay apart in words

    combo = window.browser.status_combo
    combo.setCurrentIndex(combo.findText("Failed"))  # every file that needs the user: MISSING included
    qtbot.waitUntil(lambda: sorted(_names(window)) == ["broken.csv", "gone.csv"], timeout=3000)
    assert backend.queries[-1].status == "FAILED"
    assert "Object missing" in combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)

    flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    window.browser.view.selectionModel().setCurrentIndex(model.index(_names(window).index("gone.csv"), 0), flags)
    detail = window.detail
    qtbot.waitUntil(lambda: detail.record is not None and detail.record.key == "q3/gone.csv", timeout=3000)
    assert "● Object missing" in detail.subtitle.text()
    assert detail.error.isVisible()
    assert f"The object is gone:</b> {GONE_ERROR}" in detail.text()
    assert "rows: 5" in detail.text()  # the profile of the file it was

    window.resize(1280, 800)
    QApplication.processEvents()
    shot = Path(os.environ.get("MISSING_RECORD_SHOT", str(tmp_path / "missing.png")))
    assert window.grab().save(str(shot)) and shot.stat().st_size > 0
