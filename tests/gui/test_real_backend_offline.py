"""The window with the real backend and nothing running: every failure reaches the user as words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.config import load_settings
from gui.uploads import UploadState


@pytest.fixture
def offline_window(qtbot: Any, tmp_path: Path) -> Any:
    from gui.main_window import MainWindow

    settings = load_settings(
        env={},
        config_path=tmp_path / "config.toml",
        state_dir=tmp_path / "state",
        aws_endpoint="http://127.0.0.1:9",  # nothing listens on the discard port
        localstack_port=9,
        mysql_port=9,
        poll_interval_ms=500,
    )
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown()


def test_nothing_running_gives_a_banner_lights_and_a_failed_upload_with_advice(
    qtbot: Any, offline_window: Any, tmp_path: Path
) -> None:
    win = offline_window
    qtbot.waitUntil(lambda: "env" in win.banners.messages() or "store" in win.banners.messages(), timeout=30_000)
    messages = "\n".join(win.banners.messages().values())
    assert "Traceback" not in messages
    qtbot.waitUntil(lambda: win.env_bar.lights["localstack"].ok is False, timeout=30_000)
    assert "Nothing answers at http://127.0.0.1:9" in win.banners.messages()["env"]

    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    win.add_paths([path])
    qtbot.waitUntil(lambda: bool(win.uploads.items) and win.uploads.items[0].state.finished, timeout=60_000)
    item = win.uploads.items[0]
    assert item.state == UploadState.FAILED
    assert item.message and "Traceback" not in item.message and "Unexpected error" not in item.message
    assert item.message.startswith("Cannot reach LocalStack at http://127.0.0.1:9")  # no repeated file name
    assert item.message in win.banners.messages()["uploads-upload"]
