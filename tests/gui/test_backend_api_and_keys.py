"""The backend facade passes calls through to backend.*; keyboard shortcuts and tab order."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from gui_fakes import make_record
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

import backend.environment
import backend.provisioning
import backend.upload
from backend.config import Settings
from backend.upload import UploadCancelled, UploadError
from gui.backend_api import Backend, describe_error, is_cancelled


def test_facade_passes_through_to_the_backend_modules(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    calls: list[tuple[str, Any]] = []

    def upload_file(
        s: Settings,
        p: Path,
        *,
        key: str | None,
        on_progress: backend.upload.ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> str:
        calls.append(("upload", (p, key, cancel)))
        return "result"  # a marker, not an UploadResult: the facade must hand back whatever the module returns

    monkeypatch.setattr(backend.upload, "upload_file", upload_file)
    monkeypatch.setattr(backend.environment, "environment_status", lambda s: {"localstack": "h"})
    monkeypatch.setattr(backend.provisioning, "setup_steps", lambda s, notify_email=None: ["a", "b"])
    monkeypatch.setattr(backend.provisioning, "teardown_steps", lambda s: ["c"])
    monkeypatch.setattr(backend.environment, "bring_up", lambda s, on_message=None: on_message and on_message("hi"))
    api = Backend()
    cancel = threading.Event()
    assert api.upload_file(settings, Path("x.csv"), key="k", on_progress=None, cancel=cancel) == "result"
    assert calls == [("upload", (Path("x.csv"), "k", cancel))]
    assert api.environment_status(settings) == {"localstack": "h"}
    assert api.setup_steps(settings) == ["a", "b"]
    assert api.teardown_steps(settings) == ["c"]
    messages: list[str] = []
    api.bring_up(settings, on_message=messages.append)
    assert messages == ["hi"]
    assert api.object_key_for(settings, Path("/data/sales.csv")).endswith("sales.csv")


def test_facade_export_and_validation_use_the_real_modules(tmp_path: Path) -> None:
    api = Backend()
    (tmp_path / "a.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    result = api.validate_file(tmp_path / "a.csv", 1000)
    assert result.ok and result.column_count == 2
    assert api.expand_paths([tmp_path]) == [tmp_path / "a.csv"]
    api.export_records([make_record("=x")], tmp_path / "out.csv", "csv")
    assert "'=x" in (tmp_path / "out.csv").read_text(encoding="utf-8-sig")


def test_error_descriptions_are_user_facing() -> None:
    assert describe_error(UploadError("Bucket missing: run Set up environment.")) == (
        "Bucket missing: run Set up environment."
    )
    assert is_cancelled(UploadCancelled("stop"))
    assert not is_cancelled(UploadError("x"))
    assert describe_error(PermissionError(13, "Permission denied", "/x.csv")) == "Permission denied (/x.csv)"
    text = describe_error(KeyError("oops"))
    assert text.startswith("Unexpected error (KeyError") and "log" in text


@pytest.mark.parametrize(
    ("action", "keys"),
    [
        ("add_files", "Ctrl+O"),
        ("find", "Ctrl+F"),
        ("refresh", "F5"),
        ("setup", "Ctrl+Shift+S"),
        ("settings", "Ctrl+,"),
        ("quit", "Ctrl+Q"),
        ("clear_finished", "Del"),
        ("copy", "Ctrl+C"),
        ("export", "Ctrl+E"),
        ("retry_failed", "Ctrl+R"),
    ],
)
def test_shortcuts(window: Any, action: str, keys: str) -> None:
    shortcut = getattr(window.commands, action).shortcut()
    assert shortcut.matches(QKeySequence(keys)) == QKeySequence.SequenceMatch.ExactMatch


def test_delete_key_clears_finished_uploads(qtbot: Any, window: Any, tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("", encoding="utf-8")
    window.add_paths([tmp_path / "e.csv"])
    qtbot.waitUntil(lambda: bool(window.uploads.items) and window.uploads.items[0].state.finished, timeout=3000)
    window.uploads_panel.view.setFocus()
    qtbot.keyClick(window.uploads_panel.view, Qt.Key.Key_Delete)
    assert window.uploads.items == []


def test_ctrl_f_focuses_the_filter(qtbot: Any, window: Any) -> None:
    window.activateWindow()
    window.uploads_panel.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.browser.filter_edit.hasFocus, timeout=2000)


def test_tab_order_goes_from_queue_to_filter_to_list(window: Any) -> None:
    assert window.uploads_panel.view.nextInFocusChain() is window.browser.filter_edit or (
        window.browser.filter_edit in _chain(window.uploads_panel.view, 3)
    )
    assert window.browser.view in _chain(window.browser.filter_edit, 10)  # past the (hidden) custom date edits


def _chain(widget: Any, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        widget = widget.nextInFocusChain()
        out.append(widget)
    return out
