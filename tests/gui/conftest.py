"""GUI test fixtures: offscreen Qt, settings in tmp folders, a fake backend, modal dialogs patched."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_fakes import BUCKET, FakeBackend
from PySide6.QtWidgets import QMessageBox

from backend.config import Settings, load_settings


@pytest.fixture(autouse=True)
def _flush_deferred_deletes(qapp: Any) -> Iterator[None]:
    """Windows closed by a test are deleted by Qt on the next event-loop turn; do it now, so that the
    teardown of one test's window never runs inside the next test (and its event-loop measurements)."""
    yield
    from PySide6.QtCore import QCoreApplication, QEvent

    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        qapp.processEvents()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        env={},
        config_path=tmp_path / "config" / "config.toml",
        state_dir=tmp_path / "state",
        bucket=BUCKET,
        poll_interval_ms=50,
        parallel_uploads=2,
        max_file_bytes=10_000,
    )


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


class DialogRecorder:
    """Stands in for QMessageBox's modal calls: records them and answers as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.answers: dict[str, QMessageBox.StandardButton] = {
            "question": QMessageBox.StandardButton.Yes,
            "warning": QMessageBox.StandardButton.Yes,
        }

    def static(self, kind: str) -> Any:
        def call(_parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
            self.calls.append((kind, title, text))
            return self.answers.get(kind, QMessageBox.StandardButton.Ok)

        return call

    def titles(self) -> list[str]:
        return [title for _, title, _ in self.calls]


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> DialogRecorder:
    """No test ever blocks on a modal message box."""
    recorder = DialogRecorder()
    for kind in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(recorder.static(kind)))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: recorder.calls.append(("about", "", ""))))

    def exec_(box: QMessageBox) -> int:
        recorder.calls.append(("exec", box.windowTitle(), box.text() + "\n" + box.informativeText()))
        return int(QMessageBox.StandardButton.Ok.value)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return recorder


@pytest.fixture
def window(qtbot: Any, settings: Settings, backend: FakeBackend) -> Iterator[Any]:
    from gui.main_window import MainWindow

    win = MainWindow(settings, backend)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown()
