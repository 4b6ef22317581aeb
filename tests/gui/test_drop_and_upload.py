"""Drag and drop, local validation, the upload queue: progress, cancel, retry, failures, done."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from gui_fakes import make_notice, make_record
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QProxyStyle, QStyle

from gui.uploads import UploadQueueModel, UploadState

CSV = "id,city,when\n1,Oslo,2026-01-01\n2,,2026-01-02\n3,Bergen,2026-01-03\n"


def write(folder: Path, name: str, text: str = CSV) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def mime_for(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drag_enter(widget: Any, mime: QMimeData) -> QDragEnterEvent:
    event = QDragEnterEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    return event


def drop(widget: Any, mime: QMimeData) -> QDropEvent:
    drag_enter(widget, mime)
    move = QDragMoveEvent(
        QPointF(12, 12),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, move)
    event = QDropEvent(
        QPointF(12, 12),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    return event


def row_texts(window: Any) -> list[str]:
    model = window.uploads.model
    return [
        " | ".join(str(model.index(r, c).data() or "") for c in range(model.columnCount()))
        for r in range(model.rowCount())
    ]


def states(window: Any) -> dict[str, UploadState]:
    return {item.name: item.state for item in window.uploads.items}


def test_drag_enter_with_local_files_is_accepted_and_highlights(window: Any, tmp_path: Path) -> None:
    mime = mime_for(write(tmp_path, "a.csv"))
    event = drag_enter(window.uploads_panel.drop_zone, mime)
    assert event.isAccepted()
    assert window.uploads_panel.drop_zone.drag_state == "accept"


def test_drag_enter_without_local_files_is_rejected(window: Any) -> None:
    text_only = QMimeData()
    text_only.setText("just text")
    event = drag_enter(window.uploads_panel.drop_zone, text_only)
    assert not event.isAccepted()
    assert window.uploads_panel.drop_zone.drag_state is None
    remote = QMimeData()
    remote.setUrls([QUrl("https://example.com/a.csv")])
    event = drag_enter(window.uploads_panel.drop_zone, remote)
    assert not event.isAccepted()
    assert window.uploads_panel.drop_zone.drag_state == "reject"


def test_dropped_files_are_validated_rejected_ones_stay_with_their_reason(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    good = write(tmp_path, "good.csv")
    sheet = tmp_path / "sheet.xlsx"
    sheet.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200))
    empty = write(tmp_path, "empty.csv", "")
    mime = mime_for(good, sheet, empty)
    event = drop(window.uploads_panel.drop_zone, mime)
    assert event.isAccepted()
    assert window.uploads_panel.drop_zone.drag_state is None
    qtbot.waitUntil(lambda: len(window.uploads.items) == 3, timeout=3000)
    # Two check workers run at once: the three verdicts may arrive in any order.
    qtbot.waitUntil(
        lambda: (
            states(window)
            == {
                "good.csv": UploadState.PROCESSING,
                "sheet.xlsx": UploadState.REJECTED,
                "empty.csv": UploadState.REJECTED,
            }
        ),
        timeout=10000,
    )
    texts = "\n".join(row_texts(window))
    assert "sheet.xlsx | Rejected" in texts and "Excel workbook" in texts
    assert "empty.csv | Rejected" in texts and "The file is empty (0 bytes)" in texts
    assert backend.uploaded == ["good.csv"]  # nothing is sent for rejected files


def test_dropped_folder_adds_its_csv_files(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    write(folder, "one.csv")
    write(folder, "two.csv")
    write(folder, "readme.md", "# not csv")
    drop(window.uploads_panel.drop_zone, mime_for(folder))
    qtbot.waitUntil(lambda: sorted(backend.uploaded) == ["one.csv", "two.csv"], timeout=5000)
    assert sorted(states(window)) == ["one.csv", "two.csv"]


def test_upload_goes_processing_then_done_when_the_record_appears(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    backend.auto_process = True
    window.add_paths([write(tmp_path, "sales.csv")])
    qtbot.waitUntil(lambda: states(window).get("sales.csv") == UploadState.DONE, timeout=5000)
    item = window.uploads.items[0]
    assert item.message == "3 rows × 3 columns"
    assert item.sent == item.size > 0
    # ... and the record is in the browser (the list reads its pages again on a worker: it follows)
    qtbot.waitUntil(lambda: window.browser.model.find("test-bucket", "sales.csv") is not None, timeout=3000)


def test_an_upload_whose_record_came_before_the_store_answered_still_completes(
    qtbot: Any, settings: Any, backend: Any, tmp_path: Path
) -> None:
    """The feed starts at the store's cursor as it finds it on its first read: a record written before that read
    (the store did not answer yet while the file was uploaded and profiled) is looked up for the waiting upload."""
    from gui.main_window import MainWindow

    backend.store_error = "Cannot reach the metadata database"
    backend.auto_process = True
    win = MainWindow(settings, backend)
    qtbot.addWidget(win)
    win.show()
    try:
        win.add_paths([write(tmp_path, "early.csv")])
        qtbot.waitUntil(lambda: states(win).get("early.csv") == UploadState.PROCESSING, timeout=5000)
        assert backend.current  # the record exists: the function was faster than the store's first answer
        backend.store_error = None
        win.record_feed.poll()
        qtbot.waitUntil(lambda: states(win).get("early.csv") == UploadState.DONE, timeout=5000)
    finally:
        win.shutdown()


def test_an_upload_whose_record_the_feed_handed_on_before_it_waited_still_completes(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    """A fast function: the feed hands the record on while the upload's answer is still on its way (the upload is
    not waiting for a record yet), and the list does not hold the row (it shows failed files only). The upload
    asks the store for its record when it starts waiting."""
    from gui.records import Filters

    window.browser.model.set_filters(Filters(status="FAILED"))
    delivered = threading.Event()

    def handed_on(records: list[Any]) -> None:
        if any(r.key == "race.csv" for r in records):
            delivered.set()

    window.record_feed.records.connect(handed_on)
    release = threading.Event()
    backend.auto_process = True
    backend.after_record = lambda: release.wait(10)
    window.add_paths([write(tmp_path, "race.csv")])
    qtbot.waitUntil(lambda: ("test-bucket", "race.csv") in backend.current, timeout=5000)
    window.record_feed.poll()
    qtbot.waitUntil(delivered.is_set, timeout=5000)
    assert states(window).get("race.csv") == UploadState.UPLOADING
    release.set()
    qtbot.waitUntil(lambda: states(window).get("race.csv") == UploadState.DONE, timeout=5000)


def test_notice_also_completes_processing(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    window.add_paths([write(tmp_path, "n.csv")])
    qtbot.waitUntil(lambda: states(window).get("n.csv") == UploadState.PROCESSING, timeout=5000)
    backend.push_notice(make_notice("n.csv", status="FAILED"))
    qtbot.waitUntil(lambda: states(window).get("n.csv") == UploadState.FAILED, timeout=5000)
    assert "Unterminated quote" in window.uploads.items[0].message


def test_uploading_row_shows_progress_and_can_be_cancelled_then_retried(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    backend.upload_gate = threading.Event()
    window.add_paths([write(tmp_path, "slow.csv")])
    qtbot.waitUntil(lambda: states(window).get("slow.csv") == UploadState.UPLOADING, timeout=5000)
    model = window.uploads.model
    assert model.index(0, UploadQueueModel.ACTION).data() == "Cancel"
    window.uploads_panel.run_row_action(0)  # the row's Cancel button
    qtbot.waitUntil(lambda: states(window)["slow.csv"] == UploadState.CANCELLED, timeout=5000)
    assert model.index(0, UploadQueueModel.ACTION).data() == "Retry"
    backend.upload_gate = None
    backend.auto_process = True
    window.uploads_panel.run_row_action(0)  # Retry
    qtbot.waitUntil(lambda: states(window)["slow.csv"] == UploadState.DONE, timeout=5000)


def test_clicking_the_rows_button_cancels_the_upload(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    backend.upload_gate = threading.Event()
    window.add_paths([write(tmp_path, "slow.csv")])
    qtbot.waitUntil(lambda: states(window).get("slow.csv") == UploadState.UPLOADING, timeout=5000)
    view = window.uploads_panel.view
    cell = view.visualRect(window.uploads.model.index(0, UploadQueueModel.ACTION))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())
    qtbot.waitUntil(lambda: states(window)["slow.csv"] == UploadState.CANCELLED, timeout=5000)


def test_progress_text_has_bytes_and_speed(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    backend.chunk, backend.chunk_delay = 16, 0.02
    path = write(tmp_path, "big.csv", CSV * 20)
    window.add_paths([path])
    seen: list[str] = []

    def saw_speed() -> bool:
        text = window.uploads.model.index(0, UploadQueueModel.PROGRESS).data() or ""
        seen.append(text)
        return "/s" in text and " of " in text

    qtbot.waitUntil(saw_speed, timeout=5000)
    assert any("bytes of" in t or "KB of" in t for t in seen)


class _BarTextStyle(QProxyStyle):
    """Fusion, noting the text and width of every progress bar it draws."""

    def __init__(self) -> None:
        super().__init__("Fusion")
        self.bars: list[tuple[str, int]] = []
        self.text_colors: list[set[str]] = []  # the text's colour beside the fill and over it

    def drawControl(self, element: Any, option: Any, painter: Any, widget: Any = None) -> None:
        if element == QStyle.ControlElement.CE_ProgressBar:
            self.bars.append((option.text, option.rect.width()))
            self.text_colors.append(
                {
                    option.palette.color(role).name()
                    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.HighlightedText)
                }
            )
        super().drawControl(element, option, painter, widget)


def test_progress_bar_text_never_runs_into_the_bars_edge(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    backend.chunk, backend.chunk_delay = 16, 0.02
    window.add_paths([write(tmp_path, "big.csv", CSV * 120)])  # ~10 s of uploading: longer than the test
    qtbot.waitUntil(lambda: "/s" in (window.uploads.model.index(0, UploadQueueModel.PROGRESS).data() or ""))
    view = window.uploads_panel.view
    recording = _BarTextStyle()
    view.setStyle(recording)
    metrics = view.fontMetrics()

    def drawn(width: int) -> tuple[str, int]:
        view.setColumnWidth(UploadQueueModel.PROGRESS, width)
        recording.bars.clear()
        view.viewport().grab()
        assert recording.bars, "no progress bar drawn"
        return recording.bars[-1]

    wide_text = drawn(400)[0]
    assert "/s" in wide_text and " of " in wide_text  # room for all of it: all of it
    for width in (140, 90, 50):
        text, bar = drawn(width)
        assert metrics.horizontalAdvance(text) <= bar - 2 * metrics.horizontalAdvance("  "), (width, text)
        assert "/s" not in text, (width, text)  # the speed gives way first, then the bytes
    assert drawn(50)[0].endswith("%")
    # One text colour over the fill and beside it: a character the fill's edge runs through stays whole.
    assert all(len(colors) == 1 for colors in recording.text_colors), recording.text_colors


def test_upload_error_is_shown_on_the_row_and_in_a_banner_and_retry_works(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    message = "Access denied to bucket test-bucket: check the AWS profile in Settings, then retry."
    backend.upload_errors["x.csv"] = message
    window.add_paths([write(tmp_path, "x.csv")])
    qtbot.waitUntil(lambda: states(window).get("x.csv") == UploadState.FAILED, timeout=5000)
    assert message in row_texts(window)[0]
    assert message in window.banners.messages()["uploads-upload"]
    assert window.banners.isVisible()
    assert "Traceback" not in row_texts(window)[0]
    backend.upload_errors.clear()  # the cause is fixed
    backend.auto_process = True
    window.uploads_panel.retry_button.click()
    qtbot.waitUntil(lambda: states(window)["x.csv"] == UploadState.DONE, timeout=5000)
    assert "uploads-upload" not in window.banners.messages()


# Over SINGLE_REQUEST_BYTES (1 MiB): a large file, uploaded in parts, parallel_uploads at a time.
LARGE_CSV = "a,b\n" + "1,2\n" * 262_144


def allow_large_files(window: Any) -> None:
    window.apply_settings(window.settings.replace(max_file_bytes=2 * 1024 * 1024))


def test_large_files_upload_parallel_uploads_at_a_time(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    allow_large_files(window)
    backend.chunk, backend.chunk_delay = 256 * 1024, 0.005
    window.add_paths([write(tmp_path, f"f{i}.csv", LARGE_CSV) for i in range(6)])
    qtbot.waitUntil(lambda: len(backend.uploaded) == 6, timeout=10000)
    assert backend.max_parallel_seen == window.settings.parallel_uploads == 2


def test_small_files_upload_in_a_wider_lane(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    """Files under 1 MiB (one request each) run small_uploads_at_once at a time (4 per parallel upload), while
    large ones keep to parallel_uploads: both lanes fill at once, each to its own size."""
    allow_large_files(window)
    backend.chunk = 512 * 1024
    backend.upload_gate = threading.Event()  # nothing finishes: what runs at once stays visible
    small = [write(tmp_path, f"s{i:02}.csv") for i in range(10)]
    large = [write(tmp_path, f"l{i}.csv", LARGE_CSV) for i in range(3)]
    window.add_paths(small + large)
    assert window.settings.small_uploads_at_once == 8

    def count(state: UploadState) -> int:
        return list(states(window).values()).count(state)

    qtbot.waitUntil(lambda: (count(UploadState.UPLOADING), count(UploadState.QUEUED)) == (10, 3), timeout=5000)
    qtbot.wait(100)  # and no more start: each lane is full
    assert (count(UploadState.UPLOADING), count(UploadState.QUEUED)) == (10, 3)
    # (Which ones wait depends on the order their checks finish in.)
    waiting = sorted(name[0] for name, state in states(window).items() if state == UploadState.QUEUED)
    assert waiting == ["l", "s", "s"]  # 2 of 3 large files run (parallel_uploads), 8 of 10 small ones
    backend.upload_gate.set()
    qtbot.waitUntil(lambda: len(backend.uploaded) == 13, timeout=10000)


def test_queue_summary_counts_states_and_never_widens_the_window(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    """The summary line follows the queue; when it is too long it ends in "…" with the whole text as its tooltip,
    instead of widening the window (which re-laid out and repainted every table on each change)."""
    window.resize(window.minimumSizeHint().width(), window.height())
    qtbot.wait(50)
    width, minimum = window.width(), window.minimumSizeHint().width()
    backend.upload_gate = threading.Event()
    backend.chunk = 512 * 1024
    allow_large_files(window)
    large = [write(tmp_path, f"f{i}.csv", LARGE_CSV) for i in range(6)]  # one lane: parallel_uploads at a time
    window.add_paths([write(tmp_path, "bad.csv", ""), *large])
    expected = "2 uploading · 4 waiting · 1 rejected"
    qtbot.waitUntil(lambda: window.uploads_panel.summary.text() == expected, timeout=5000)
    shown = QLabel.text(window.uploads_panel.summary)  # what the label paints
    assert shown.endswith("…") and expected.startswith(shown[:-1]), shown
    assert window.uploads_panel.summary.toolTip() == expected
    assert (window.width(), window.minimumSizeHint().width()) == (width, minimum)
    backend.upload_gate.set()
    qtbot.waitUntil(lambda: window.uploads_panel.summary.text() == "6 processing · 1 rejected", timeout=5000)
    window.resize(width + 600, window.height())
    qtbot.waitUntil(lambda: QLabel.text(window.uploads_panel.summary) == "6 processing · 1 rejected", timeout=3000)
    assert window.uploads_panel.summary.toolTip() == ""


def test_clear_finished_keeps_active_rows(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    backend.upload_gate = threading.Event()
    window.add_paths([write(tmp_path, "bad.csv", ""), write(tmp_path, "busy.csv")])
    qtbot.waitUntil(lambda: states(window).get("busy.csv") == UploadState.UPLOADING, timeout=5000)
    qtbot.waitUntil(lambda: states(window).get("bad.csv") == UploadState.REJECTED, timeout=5000)
    window.uploads_panel.clear_button.click()
    assert list(states(window)) == ["busy.csv"]
    backend.upload_gate.set()


def test_same_file_is_not_queued_twice_while_active(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    backend.upload_gate = threading.Event()
    path = write(tmp_path, "dup.csv")
    window.add_paths([path])
    qtbot.waitUntil(lambda: len(window.uploads.items) == 1, timeout=3000)
    window.add_paths([path])
    qtbot.waitUntil(lambda: "uploads-add" in window.banners.messages(), timeout=3000)
    assert len(window.uploads.items) == 1
    backend.upload_gate.set()


def test_add_files_shortcut_opens_the_file_dialog(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "picked.csv")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(path)], "")))
    window.activateWindow()
    window.commands.add_files.trigger()
    qtbot.waitUntil(lambda: backend.uploaded == ["picked.csv"], timeout=5000)
    assert window.commands.add_files.shortcut().toString() == "Ctrl+O"


def test_existing_fresh_record_completes_an_upload_immediately(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    # A very fast function: the record is already in the browser when the upload finishes.
    window.add_paths([write(tmp_path, "fast.csv")])
    qtbot.waitUntil(lambda: states(window).get("fast.csv") == UploadState.PROCESSING, timeout=5000)
    item = window.uploads.items[0]
    old = make_record("fast.csv", minutes=-600)
    window.uploads.check_existing(item, old)  # an old record for the same key must not count
    assert item.state == UploadState.PROCESSING


def test_upload_without_a_trigger_says_so_and_offers_retry(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path
) -> None:
    from backend.environment import Health

    backend.env["trigger"] = Health(False, "not wired: run Set up environment")
    window.environment.check()
    qtbot.waitUntil(lambda: window.env_bar.lights["trigger"].ok is False, timeout=3000)
    window.add_paths([write(tmp_path, "orphan.csv")])
    qtbot.waitUntil(lambda: states(window).get("orphan.csv") == UploadState.PROCESSING, timeout=5000)
    qtbot.waitUntil(lambda: "trigger is not set up" in row_texts(window)[0], timeout=3000)
    assert window.uploads.model.index(0, UploadQueueModel.ACTION).data() == "Retry"
    assert window.uploads_panel.retry_button.isEnabled()
    backend.auto_process = True  # the user ran setup
    window.uploads_panel.run_row_action(0)
    qtbot.waitUntil(lambda: states(window)["orphan.csv"] == UploadState.DONE, timeout=5000)
