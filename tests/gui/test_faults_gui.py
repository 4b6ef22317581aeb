"""The window on a private real stack when LocalStack goes down: the upload row says so, Retry completes.

Uses its own private stack (it stops LocalStack), never the session stack other tests share.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from backend.config import Settings
from backend.environment import bring_up
from backend.stack.localstack import LocalStackService
from gui.uploads import UploadQueueModel, UploadState, action_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def gui_stack(restartable_stack: Settings) -> Settings:
    return restartable_stack


def test_upload_with_localstack_down_says_so_and_retry_completes(
    qtbot: Any, gui_stack: Settings, tmp_path: Path
) -> None:
    from gui.main_window import MainWindow

    win = MainWindow(gui_stack.replace(config_path=tmp_path / "config.toml", poll_interval_ms=300))
    qtbot.addWidget(win)
    win.show()
    try:
        assert LocalStackService(gui_stack).stop() == "stopped"
        path = tmp_path / f"gui-down-{uuid.uuid4().hex[:8]}.csv"
        path.write_text("id,city\n1,Oslo\n2,Bergen\n", encoding="utf-8")
        win.add_paths([path])
        qtbot.waitUntil(lambda: bool(win.uploads.items) and win.uploads.items[0].state.finished, timeout=60_000)
        item = win.uploads.items[0]
        assert item.state == UploadState.FAILED, item.message
        assert item.message.startswith(f"Cannot reach LocalStack at {gui_stack.aws_endpoint}"), item.message
        assert "csvdrop stack up" in item.message and "Traceback" not in item.message
        assert action_for(item) == "Retry"

        bring_up(gui_stack, print, use_docker=False)  # restarts LocalStack and re-creates the environment
        row = win.uploads.items.index(item)
        cell = win.uploads_panel.view.visualRect(win.uploads.model.index(row, UploadQueueModel.ACTION))
        qtbot.mouseClick(win.uploads_panel.view.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())
        qtbot.waitUntil(lambda: item.state != UploadState.FAILED, timeout=5_000)  # the click was a Retry
        qtbot.waitUntil(lambda: item.state.finished, timeout=120_000)
        assert item.state == UploadState.DONE, item.message
        assert item.message == "2 rows × 2 columns"
    finally:
        win.shutdown()
