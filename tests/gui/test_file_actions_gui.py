"""The file list's actions (download, delete, re-process, function log, copy URI / link) against the fake backend;
the last test downloads and deletes a real object on the local stack."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from gui_fakes import BUCKET, make_record
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from gui.file_actions import download_targets

ACTIONS = ("download", "reprocess", "show_log", "copy_uri", "copy_link", "delete_files")


def select(window: Any, *names: str) -> None:
    model, selection = window.browser.model, window.browser.view.selectionModel()
    selection.clearSelection()
    rows = {model.index(r, 0).data(): r for r in range(model.rowCount())}
    for name in names:
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        selection.select(model.index(rows[name], 0), flags)


def add_files(qtbot: Any, window: Any, backend: Any, *keys: str) -> None:
    backend.add_records(*(make_record(key, minutes=i) for i, key in enumerate(keys)))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == len(keys), timeout=3000)


def menu_state(window: Any) -> dict[str, bool]:
    """The context menu's file actions by name: enabled or not."""
    menu = window.browser.context_menu()
    shown = {a.text(): a.isEnabled() for a in menu.actions() if not a.isSeparator()}
    menu.deleteLater()
    return {name: shown[getattr(window.commands, name).text()] for name in ACTIONS}


def status(window: Any) -> str:
    return str(window.statusBar().currentMessage())


def test_context_menu_offers_the_actions_the_selection_allows(qtbot: Any, window: Any, backend: Any) -> None:
    add_files(qtbot, window, backend, "a.csv", "b.csv")
    assert menu_state(window) == dict.fromkeys(ACTIONS, False)
    select(window, "a.csv")
    assert menu_state(window) == dict.fromkeys(ACTIONS, True)
    select(window, "a.csv", "b.csv")
    assert menu_state(window) == {
        "download": True,
        "reprocess": True,
        "show_log": False,  # one file's lines at a time
        "copy_uri": True,
        "copy_link": False,  # one link at a time
        "delete_files": True,
    }
    texts = [a.text() for a in window.browser.context_menu().actions()]
    assert texts[:2] == [window.commands.copy.text(), window.commands.export.text()]
    assert "Copy S3 address" not in texts  # the old menu-only entry is the Copy S3 URI action now


def test_download_of_one_file_saves_it_under_the_chosen_name(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_files(qtbot, window, backend, "in/cities.csv")
    select(window, "cities.csv")
    target = tmp_path / "my copy.csv"
    asked: list[str] = []

    def save_as(_parent: Any, title: str, start: str, *args: Any) -> tuple[str, str]:
        asked.append(start)
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
    window.commands.download.trigger()
    qtbot.waitUntil(lambda: status(window).startswith("Downloaded"), timeout=3000)
    assert asked[0].endswith("cities.csv")  # the dialog proposes the file's own name
    assert target.read_bytes() == backend.file_bytes
    assert ("download_file", BUCKET, ("in/cities.csv",)) in backend.file_actions
    assert status(window) == f"Downloaded cities.csv to {target}"


def test_download_of_several_files_shows_progress_and_cancel_leaves_nothing(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = tmp_path / "downloads"  # beside the window's config folder
    tmp_path.mkdir()
    add_files(qtbot, window, backend, "a.csv", "b.csv")
    backend.file_bytes = b"x" * 64 * 2000  # 2,000 chunks: long enough to be watched and cancelled
    backend.chunk_delay = 0.005
    select(window, "a.csv", "b.csv")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    window.commands.download.trigger()
    progress = window.file_actions.progress
    qtbot.waitUntil(lambda: progress.isVisible() and progress.bar.value() > 0, timeout=5000)
    assert progress.bar.format().startswith("Downloading 2 files: ")
    assert " of " in progress.bar.format()
    colors = progress.bar.palette()  # one text colour over the pale fill and beside it
    assert colors.color(QPalette.ColorRole.HighlightedText) == colors.color(QPalette.ColorRole.Text)
    progress.cancel_button.click()
    qtbot.waitUntil(lambda: not progress.isVisible(), timeout=5000)
    assert status(window).startswith("Download cancelled")
    assert list(tmp_path.iterdir()) == []  # no half file
    assert [name for name, _, _ in backend.file_actions] == ["download_file"]  # b.csv never started


def test_download_into_a_folder_asks_before_replacing_and_keeps_names_apart(
    qtbot: Any, window: Any, backend: Any, dialogs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = tmp_path / "downloads"
    tmp_path.mkdir()
    add_files(qtbot, window, backend, "2025/a.csv", "2026/a.csv", "b.csv")
    (tmp_path / "b.csv").write_bytes(b"mine")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    dialogs.answers["question"] = QMessageBox.StandardButton.No  # keep mine, download the others
    window.browser.view.selectAll()
    assert len(window.browser.selected_records()) == 3
    window.commands.download.trigger()
    qtbot.waitUntil(lambda: status(window).startswith("Downloaded"), timeout=3000)
    kind, title, text = dialogs.calls[-1]
    assert (kind, title) == ("question", "Replace files?")
    assert "b.csv" in text and "a.csv" not in text
    assert (tmp_path / "b.csv").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a (2).csv", "a.csv", "b.csv"]
    assert status(window) == f"Downloaded 2 files to {tmp_path}"


def test_download_targets_name_files_of_one_name_apart(tmp_path: Path) -> None:
    records = [make_record(k) for k in ("x/a.csv", "y/a.csv", "z/A.csv", "notes")]
    assert [t.name for _, t in download_targets(records, tmp_path)] == ["a.csv", "a (2).csv", "A (3).csv", "notes"]


def test_delete_asks_first_and_does_nothing_on_no(qtbot: Any, window: Any, backend: Any, dialogs: Any) -> None:
    add_files(qtbot, window, backend, "keep.csv")
    select(window, "keep.csv")
    dialogs.answers["question"] = QMessageBox.StandardButton.No
    window.commands.delete_files.trigger()
    kind, title, text = dialogs.calls[-1]
    assert (kind, title) == ("question", "Delete keep.csv?")
    assert f"s3://{BUCKET}/keep.csv" in text and "cannot be undone" in text
    assert backend.file_actions == []
    assert window.browser.model.rowCount() == 1


def test_delete_of_several_files_after_yes_removes_their_rows(
    qtbot: Any, window: Any, backend: Any, dialogs: Any
) -> None:
    add_files(qtbot, window, backend, *(f"f{i}.csv" for i in range(8)))
    select(window, *(f"f{i}.csv" for i in range(7)))
    window.commands.delete_files.trigger()
    kind, title, text = dialogs.calls[-1]
    assert (kind, title) == ("question", "Delete 7 files?")
    assert "and 2 more" in text  # the first few names, then how many more
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1, timeout=5000)  # through the live feed
    assert [name for name, _, _ in backend.file_actions] == ["delete_files"]
    assert sorted(backend.file_actions[0][2]) == [f"f{i}.csv" for i in range(7)]
    qtbot.waitUntil(lambda: status(window) == "Deleted 7 files", timeout=3000)
    assert window.browser.model.index(0, 0).data() == "f7.csv"


def test_delete_key_in_the_file_list_deletes_files(qtbot: Any, window: Any, backend: Any, dialogs: Any) -> None:
    add_files(qtbot, window, backend, "k.csv")
    select(window, "k.csv")
    window.activateWindow()
    window.browser.view.setFocus()
    qtbot.waitUntil(window.browser.view.hasFocus, timeout=2000)
    qtbot.keyClick(window.browser.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 0, timeout=5000)
    assert dialogs.titles()[-1] == "Delete k.csv?"


def test_failed_delete_says_which_file_and_why(qtbot: Any, window: Any, backend: Any, dialogs: Any) -> None:
    add_files(qtbot, window, backend, "x.csv")
    select(window, "x.csv")
    backend.file_action_error = "could not delete s3://test-bucket/x.csv: access denied; check the bucket policy"
    window.commands.delete_files.trigger()
    qtbot.waitUntil(lambda: dialogs.titles()[-1] == "Delete failed", timeout=3000)
    assert "access denied" in dialogs.calls[-1][2]
    assert window.commands.delete_files.isEnabled()  # the file is no longer "being deleted"


def test_reprocess_says_what_the_function_did(qtbot: Any, window: Any, backend: Any, dialogs: Any) -> None:
    add_files(qtbot, window, backend, "ok.csv")
    backend.add_records(make_record("bad.csv", status="FAILED", minutes=5))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=3000)
    select(window, "ok.csv")
    window.commands.reprocess.trigger()
    qtbot.waitUntil(lambda: status(window).startswith("Re-processed s3://"), timeout=3000)
    assert status(window) == f"Re-processed s3://{BUCKET}/ok.csv: PROCESSED"
    select(window, "ok.csv", "bad.csv")
    window.commands.reprocess.trigger()
    qtbot.waitUntil(lambda: status(window).startswith("Re-processed 2"), timeout=3000)
    assert status(window) == "Re-processed 2 files: 1 processed, 1 FAILED"
    assert [c for c in dialogs.calls if c[0] == "warning"] == []
    backend.file_action_error = "the function process_csv does not exist: run `csvdrop setup`, then retry"
    window.commands.reprocess.trigger()
    qtbot.waitUntil(lambda: "Re-processing failed" in dialogs.titles(), timeout=3000)
    assert "csvdrop setup" in dialogs.calls[-1][2]


def test_function_log_window_shows_the_lines_and_the_backends_reason(qtbot: Any, window: Any, backend: Any) -> None:
    add_files(qtbot, window, backend, "logged.csv")
    select(window, "logged.csv")
    window.commands.show_log.trigger()
    dialog = window.file_actions.log_dialogs[(BUCKET, "logged.csv")]
    assert not dialog.isModal()
    qtbot.waitUntil(lambda: "PROCESSED test-bucket/logged.csv" in dialog.text.toPlainText(), timeout=3000)
    lines = dialog.text.toPlainText().splitlines()
    assert lines[0].startswith("── ") and "request 0f1e2d3c" in lines[0]
    assert lines[1].startswith("START RequestId") and lines[-1].startswith("REPORT RequestId")
    assert dialog.status.text().startswith("1 run of the function on s3://test-bucket/logged.csv")
    dialog.copy_all()
    assert QApplication.clipboard().text() == dialog.text.toPlainText()
    backend.file_action_error = "the function process_csv has not run yet (no log group /aws/lambda/process_csv)"
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("The function process_csv has not run yet"), timeout=3000)
    assert dialog.text.toPlainText() == ""
    dialog.close()


def test_copy_s3_uris_and_a_link(qtbot: Any, window: Any, backend: Any) -> None:
    add_files(qtbot, window, backend, "dir/one.csv", "two.csv")
    select(window, "one.csv", "two.csv")
    window.commands.copy_uri.trigger()
    assert sorted(QApplication.clipboard().text().split("\n")) == [
        f"s3://{BUCKET}/dir/one.csv",
        f"s3://{BUCKET}/two.csv",
    ]
    select(window, "one.csv")
    window.commands.copy_link.trigger()
    qtbot.waitUntil(lambda: "X-Amz-Expires=3600" in QApplication.clipboard().text(), timeout=3000)
    assert f"/{BUCKET}/dir/one.csv?" in QApplication.clipboard().text()
    assert status(window) == "Copied a link to one.csv: anyone with it can download the file for 1 hour."


def test_closing_the_window_cancels_downloads(
    qtbot: Any, window: Any, backend: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_files(qtbot, window, backend, "big.csv")
    backend.file_bytes = b"x" * 64 * 100_000
    backend.chunk_delay = 0.001
    select(window, "big.csv")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "big.csv"), "")))
    window.commands.download.trigger()
    batch = window.file_actions.downloads[0]
    qtbot.waitUntil(lambda: sum(batch.received.values()) > 0, timeout=5000)
    assert window.shutdown(5000)  # the download stopped within the wait
    assert batch.cancel.is_set()
    assert not (tmp_path / "big.csv").exists()


# ------------------------------------------------------------------------------------------ real stack
@pytest.mark.stack
@pytest.mark.slow
def test_download_and_delete_on_the_real_stack(
    qtbot: Any, provisioned: Any, tmp_path: Path, dialogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend import aws
    from gui.backend_api import Backend
    from gui.main_window import MainWindow

    settings = provisioned.replace(config_path=tmp_path / "config.toml", poll_interval_ms=300)
    win = MainWindow(settings, Backend())
    qtbot.addWidget(win)
    win.show()
    try:
        name = f"actions-{uuid.uuid4().hex[:8]}.csv"
        source = tmp_path / name
        source.write_bytes(b"id,city\n1,Oslo\n2,Bergen\n")
        key = win.backend.upload_file(settings, source, key=None, on_progress=None, cancel=None).key
        qtbot.waitUntil(lambda: win.browser.model.find(settings.bucket, key) is not None, timeout=120_000)
        assert win.browser.select_record(settings.bucket, key)

        saved = tmp_path / "downloads" / name
        saved.parent.mkdir()
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(saved), "")))
        win.commands.download.trigger()
        qtbot.waitUntil(lambda: status(win).startswith("Downloaded"), timeout=60_000)
        assert saved.read_bytes() == source.read_bytes()

        dialogs.answers["question"] = QMessageBox.StandardButton.Yes
        win.commands.delete_files.trigger()
        assert dialogs.titles()[-1] == f"Delete {name}?"
        qtbot.waitUntil(lambda: win.browser.model.find(settings.bucket, key) is None, timeout=60_000)
        qtbot.waitUntil(lambda: status(win) == f"Deleted {name}", timeout=60_000)
        s3 = aws.client(settings, "s3")
        with pytest.raises(Exception) as gone:
            s3.head_object(Bucket=settings.bucket, Key=key)
        assert aws.error_code(gone.value) in ("404", "NoSuchKey", "NotFound")
    finally:
        win.shutdown()


def test_file_action_shortcuts_are_the_usual_ones_and_clash_with_none(window: Any) -> None:
    from PySide6.QtGui import QKeySequence

    c = window.commands
    expected = {"download": "Ctrl+S", "delete_files": "Del", "show_log": "Ctrl+L", "copy_uri": "Ctrl+Shift+C"}
    for name, keys in expected.items():
        assert getattr(c, name).shortcut().matches(QKeySequence(keys)) == QKeySequence.SequenceMatch.ExactMatch
    # every shortcut of the window is one action's, except Delete: the upload queue's and the file list's, each
    # only while the focus is in its own list
    by_keys: dict[str, list[Any]] = {}
    for action in vars(c).values():
        if hasattr(action, "shortcut") and not action.shortcut().isEmpty():
            by_keys.setdefault(action.shortcut().toString(), []).append(action)
    shared = {keys: actions for keys, actions in by_keys.items() if len(actions) > 1}
    assert list(shared) == ["Del"]
    assert {a.shortcutContext() for a in shared["Del"]} == {Qt.ShortcutContext.WidgetWithChildrenShortcut}
    assert c.delete_files in window.browser.view.actions()
    assert c.clear_finished in window.uploads_panel.actions()
    assert c.delete_files not in window.actions() and c.clear_finished not in window.actions()
