"""The settings dialog offers the trigger and the batch size, and writes them back under their own names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testsupport import isolated_settings

from backend.config import load_settings, save_settings
from gui.settings_dialog import SettingsDialog


def test_the_dialog_switches_to_the_queue_trigger_with_a_batch_size(qtbot: Any, tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, trigger="direct")
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.trigger.currentData() == "direct"
    assert not dialog.batch.isEnabled()  # only the queue trigger batches
    assert dialog.trigger_note.isHidden()

    dialog.trigger.setCurrentIndex(dialog.trigger.findData("queue"))
    dialog.batch.setValue(5)
    assert dialog.batch.isEnabled() and not dialog.trigger_note.isHidden()
    assert "Set up environment" in dialog.trigger_note.text()
    assert dialog.changed_keys() == ["trigger", "queue_batch_size"]
    chosen = dialog.result_settings()
    assert (chosen.trigger, chosen.queue_batch_size) == ("queue", 5)

    save_settings(chosen, list(dialog.changed_keys()))
    saved = load_settings(env={}, config_path=settings.config_path)
    assert (saved.trigger, saved.queue_batch_size) == ("queue", 5)

    back = SettingsDialog(saved)  # and back to direct, written as such (not left to the default)
    qtbot.addWidget(back)
    back.trigger.setCurrentIndex(back.trigger.findData("direct"))
    assert back.changed_keys() == ["trigger"] and not back.batch.isEnabled()
    save_settings(back.result_settings(), list(back.changed_keys()))
    assert load_settings(env={}, config_path=settings.config_path).trigger == "direct"


def test_more_than_ten_files_a_batch_needs_a_window_from_the_config_file(qtbot: Any, tmp_path: Path) -> None:
    dialog = SettingsDialog(isolated_settings(tmp_path, trigger="queue"))
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    dialog.batch.setValue(11)
    assert not ok.isEnabled()
    assert "needs a batching window (queue_batch_window_s" in dialog.problem.text()
    dialog.batch.setValue(10)
    assert ok.isEnabled() and dialog.problem.isHidden()

    windowed = SettingsDialog(isolated_settings(tmp_path, trigger="queue", queue_batch_window_s="2"))
    qtbot.addWidget(windowed)
    windowed.batch.setValue(100)
    assert windowed.buttons.button(windowed.buttons.StandardButton.Ok).isEnabled()
