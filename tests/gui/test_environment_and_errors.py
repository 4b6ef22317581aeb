"""Environment lights, setup/teardown dialog, settings, error banners, excepthook, responsiveness."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from gui_fakes import EventLoopGaps, fake_step, make_record, step_ran
from PySide6.QtCore import QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from backend.config import load_settings
from backend.environment import Health
from backend.steps import STATUSES, PlanOutcome, StepResult
from gui.__main__ import ExceptHook
from gui.environment import STEP_LOOK, OperationDialog, RowState
from gui.settings_dialog import SettingsDialog

STEPS = [
    ("bucket", "Create the upload bucket"),
    ("database", "Create the metadata database"),
    ("function", "Deploy the function"),
    ("trigger", "Connect the bucket to the function"),
]


def test_status_lights_follow_environment_status(qtbot: Any, window: Any, backend: Any) -> None:
    lights = window.env_bar.lights
    qtbot.waitUntil(lambda: all(light.ok for light in lights.values()), timeout=3000)
    backend.env["trigger"] = Health(False, "not wired: run Set up environment")
    backend.env["function"] = Health(None, "cloud not reachable")
    window.commands.refresh.trigger()
    qtbot.waitUntil(lambda: lights["trigger"].ok is False, timeout=3000)
    assert lights["function"].ok is None
    assert "not wired" in lights["trigger"].toolTip()


def test_setup_runs_every_step_with_live_progress(qtbot: Any, window: Any, backend: Any) -> None:
    backend.steps = [fake_step(n, t, "found" if n == "bucket" else "created", delay=0.02) for n, t in STEPS]
    dialog = window.setup_environment()
    assert isinstance(dialog, OperationDialog)
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is True
    assert [s for _, s, _ in dialog.results] == ["found", "created", "created", "created"]
    assert "Environment ready — 3 created, 1 already there" in dialog.outcome.text()
    item = dialog.table.item(0, 1)
    assert item is not None
    assert item.text() == "✔  Already there"
    assert dialog.close_button.text() == "Close"
    assert window.commands.setup.shortcut().toString() == "Ctrl+Shift+S"
    bar = dialog.progress.palette()  # the step's text reads the same over the pale fill and beside it
    assert bar.color(QPalette.ColorRole.HighlightedText) == bar.color(QPalette.ColorRole.Text)
    assert (
        bar.color(QPalette.ColorRole.Highlight).lightness()
        > QApplication.palette().color(QPalette.ColorRole.Highlight).lightness()
    )


def test_setup_stops_at_a_failed_step_and_says_what_failed(qtbot: Any, window: Any, backend: Any) -> None:
    denied = "Access denied for user 'root': set mysql_admin_password."
    backend.steps = [fake_step(n, t, "failed" if n == "database" else "created", denied) for n, t in STEPS]
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is False
    assert [s for _, s, _ in dialog.results] == ["created", "failed", "not run", "not run"]
    assert not step_ran(backend.steps[2])
    assert "“Create the metadata database” failed: Access denied" in dialog.outcome.text()
    assert dialog.table.item(2, 1).text() == "–  Not run"
    assert dialog.again.isVisibleTo(dialog)


def test_a_step_that_raises_is_a_failed_step_with_its_message(qtbot: Any, window: Any, backend: Any) -> None:
    backend.steps = [fake_step("bucket", "Create the upload bucket", error=RuntimeError("the disk is full"))]
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is False
    assert dialog.results[0].status == "failed"
    assert "RuntimeError: the disk is full" in dialog.table.item(0, 2).text()
    assert "“Create the upload bucket” failed: RuntimeError: the disk is full" in dialog.outcome.text()


def test_teardown_stops_at_its_first_failure_too(qtbot: Any, window: Any, backend: Any) -> None:
    """One rule for every plan (backend.steps.run_steps): teardown no longer carries on past a failed step."""
    backend.teardown = [
        fake_step("function", "Lambda function", "removed"),
        fake_step("role", "IAM role", "failed", "Access denied to iam:DeleteRole."),
        fake_step("buckets", "S3 bucket", "removed"),
    ]
    dialog = window.teardown_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is False
    assert [s for _, s, _ in dialog.results] == ["removed", "failed", "not run"]
    assert not step_ran(backend.teardown[2])
    assert "“IAM role” failed: Access denied to iam:DeleteRole." in dialog.outcome.text()


def test_stop_ends_the_plan_between_two_steps(qtbot: Any, window: Any, backend: Any) -> None:
    backend.steps = [fake_step(n, t, delay=0.3) for n, t in STEPS]
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: bool(dialog.results) and dialog.results[0].status == "running", timeout=5000)
    dialog.close_button.click()  # "Stop"
    assert dialog.close_button.text() == "Stopping after this step…"
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is False
    assert [s for _, s, _ in dialog.results] == ["created", "not run", "not run", "not run"]
    assert [step_ran(step) for step in backend.steps] == [True, False, False, False]
    assert dialog.results[1].detail == "Stopped before this step."
    assert dialog.outcome.text().startswith("✖  Stopped.")


def test_every_step_status_has_a_look() -> None:
    """Each status a backend step can report, and the dialog's own row states, has a symbol, colour and words."""
    every: tuple[RowState, ...] = (*STATUSES, "pending", "running", "not run")
    for status in every:
        look = STEP_LOOK[status]
        assert look.symbol and look.symbol != "?", status
        assert look.colour.startswith("#"), status
        assert look.words and look.words != status, status


def test_teardown_and_smoke_test_rows_say_what_happened(qtbot: Any, window: Any, backend: Any) -> None:
    backend.teardown = [
        fake_step("function", "Lambda function, trigger and layer", "removed"),
        fake_step("role", "IAM role", "absent", "role csvdrop-process-csv-role"),
    ]
    dialog = window.teardown_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert [dialog.table.item(row, 1).text() for row in range(2)] == ["✔  Removed", "✔  Nothing to remove"]
    dialog.close()

    backend.steps = [fake_step("smoke_test", "Smoke test: a tiny CSV end to end", "passed")]
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is True
    assert dialog.table.item(0, 1).text() == "✔  Passed"


def test_setup_offers_to_start_the_local_stack_when_nothing_answers(
    qtbot: Any, window: Any, backend: Any, dialogs: Any
) -> None:
    backend.env["localstack"] = Health(False, "nothing listens on 127.0.0.1:4566")
    backend.steps = [fake_step(n, t) for n, t in STEPS]
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert "Start the local stack?" in dialogs.titles()
    assert backend.stack_started
    assert "Starting LocalStack" in dialog.log.toPlainText()
    assert dialog.succeeded is True
    assert all(step_ran(step) for step in backend.steps)  # nothing was restored: setup ran


def test_a_restored_environment_is_not_set_up_a_second_time(
    qtbot: Any, window: Any, backend: Any, dialogs: Any
) -> None:
    """LocalStack started empty and bring_up already re-ran setup for the environment it held: the dialog shows
    that setup's results and does not run the steps again."""
    backend.env["localstack"] = Health(False, "nothing listens on 127.0.0.1:4566")
    backend.steps = [fake_step(n, t) for n, t in STEPS]
    backend.restored_setup = PlanOutcome(
        (
            StepResult("bucket", "found", "bucket s3://test-bucket"),
            StepResult("database", "found", "csvdrop: schema up to date"),
            StepResult("function", "created", "process_csv"),
            StepResult("trigger", "created", "s3://test-bucket/* -> process_csv"),
        ),
        (),
        False,
    )
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is True
    assert not any(step_ran(step) for step in backend.steps)
    assert [(title, status) for title, status, _ in dialog.results] == [
        ("Create the upload bucket", "found"),
        ("Create the metadata database", "found"),
        ("Deploy the function", "created"),
        ("Connect the bucket to the function", "created"),
    ]
    assert dialog.table.item(2, 1).text() == "✔  Created"
    assert "Environment restored" in dialog.outcome.text() and "2 created, 2 already there" in dialog.outcome.text()


def test_a_restore_that_failed_is_followed_by_the_setup_steps(
    qtbot: Any, window: Any, backend: Any, dialogs: Any
) -> None:
    backend.env["localstack"] = Health(False, "nothing listens on 127.0.0.1:4566")
    backend.steps = [fake_step(n, t) for n, t in STEPS]
    backend.restored_setup = PlanOutcome((StepResult("bucket", "failed", "Access denied."),), ("Deploy",), False)
    dialog = window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is True
    assert all(step_ran(step) for step in backend.steps)
    assert "Environment ready — 4 created" in dialog.outcome.text()


def test_teardown_asks_first_and_clears_the_browser(qtbot: Any, window: Any, backend: Any, dialogs: Any) -> None:
    backend.add_records(make_record("a.csv"))
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1, timeout=3000)
    dialogs.answers["warning"] = QMessageBox.StandardButton.Cancel
    assert window.teardown_environment() is None
    backend.teardown = [fake_step("function", "Delete the function", "removed")]
    dialogs.answers["warning"] = QMessageBox.StandardButton.Yes
    backend.log.clear()
    dialog = window.teardown_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=5000)
    assert dialog.succeeded is True
    assert window.browser.model.rowCount() == 0
    assert dialog.table.item(0, 1).text() == "✔  Removed"


def test_store_error_becomes_a_banner_and_clears_when_the_store_answers(qtbot: Any, window: Any, backend: Any) -> None:
    backend.store_error = "Cannot connect to MySQL at 127.0.0.1:3307. Is the local stack up? Run `csvdrop stack up`."
    qtbot.waitUntil(lambda: "store" in window.banners.messages(), timeout=3000)
    text = window.banners.messages()["store"]
    assert "Cannot connect to MySQL" in text and "Traceback" not in text
    banner = window.banners.banner("store")
    assert banner is not None and banner.action.text() == "Set up environment…"
    backend.store_error = None
    backend.add_records(make_record("a.csv"))
    qtbot.waitUntil(lambda: "store" not in window.banners.messages(), timeout=3000)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1, timeout=3000)


def test_notice_errors_show_in_the_notices_panel(qtbot: Any, window: Any, backend: Any) -> None:
    backend.notice_error = "The notices queue csvdrop-app-notices does not exist: run Set up environment."
    qtbot.waitUntil(lambda: window.notices.list.empty_state.title == "Notices unavailable", timeout=15000)
    assert "does not exist" in window.notices.list.empty_state.hint


def test_unexpected_exception_is_logged_and_shown_not_a_traceback(qtbot: Any, dialogs: Any, caplog: Any) -> None:
    hook = ExceptHook(Path("/tmp/gui.log"))
    try:
        raise ValueError("boom")
    except ValueError:
        hook(*sys.exc_info())
    assert dialogs.calls and dialogs.calls[-1][0] == "exec"
    assert "ValueError: boom" in dialogs.calls[-1][2]
    assert "boom" in caplog.text


def test_event_loop_keeps_turning_while_work_runs(qtbot: Any, window: Any, backend: Any, tmp_path: Path) -> None:
    """Uploads, checks and a slow store all run while the event loop keeps turning. How long its longest stall
    is, is a speed figure: `python -m bench browser` measures it against a baseline, not this test."""
    backend.chunk, backend.chunk_delay = 4, 0.001
    backend.poll_delay = 0.05  # a slow database
    backend.auto_process = True
    backend.add_records(*[make_record(f"r{i}.csv", minutes=i) for i in range(800)])
    for i in range(8):
        (tmp_path / f"f{i}.csv").write_text("a,b\n" + "1,2\n" * 200, encoding="utf-8")
    with EventLoopGaps() as loop:
        window.add_paths(sorted(tmp_path.glob("f*.csv")))
        deadline = time.monotonic() + 15
        qtbot.waitUntil(lambda: len(backend.uploaded) == 8 or time.monotonic() > deadline, timeout=20000)
        qtbot.wait(300)
    assert len(backend.uploaded) == 8
    assert window.browser.model.rowCount() >= 800
    assert len(loop.gaps) > 20


def test_the_browser_follows_a_large_store_and_reads_only_the_pages_it_shows(
    qtbot: Any, window: Any, backend: Any, caplog: Any
) -> None:
    """2,500 records land after the list loaded: more than one changed_since page (the feed reads 1,000 at a
    time), so the feed must follow its cursor page after page; every change arrives once, the list counts the
    store's 2,500 rows, reads the pages on screen, and reads the last ones when scrolled to the bottom without
    the pages between. A record changed afterwards is updated where it is shown, and the log says so."""
    browser, model = window.browser, window.browser.model
    qtbot.waitUntil(lambda: browser.loaded, timeout=10_000)
    arrived: list[str] = []
    window.record_feed.records.connect(lambda records: arrived.extend(r.key for r in records))
    reads_before = backend.change_reads
    backend.add_records(*[make_record(f"p{i:04d}.csv", minutes=i) for i in range(2500)])

    qtbot.waitUntil(lambda: len(arrived) == 2500 and model.rowCount() == 2500, timeout=30_000)
    assert sorted(arrived) == [f"p{i:04d}.csv" for i in range(2500)]  # each change once, none skipped
    assert backend.change_reads - reads_before >= 3
    assert browser.count_label.text() == "2,500 files"
    qtbot.waitUntil(lambda: model.display_text(0, model.FILE) == "p2499.csv")  # newest upload first
    assert set(model.cached_pages) <= {0, 1}  # the rows on screen and the page after, not the store

    browser.view.scrollToBottom()
    qtbot.waitUntil(lambda: model.display_text(2499, model.FILE) == "p0000.csv", timeout=10_000)
    last = browser.view.rowAt(browser.view.viewport().height() - 2)
    assert last == 2499
    first = browser.view.rowAt(0)
    shown = [model.display_text(row, model.KEY) for row in range(first, last + 1)]
    assert shown == [f"p{i:04d}.csv" for i in range(2499 - first, -1, -1)]
    assert not set(model.cached_pages) & set(range(2, 10))  # the jump skipped the pages between

    caplog.set_level("INFO", logger="gui.panels.browser_panel")
    backend.add_records(make_record("p0001.csv", minutes=1, rows=777))  # same upload time: same place
    row = model.row_for("test-bucket", "p0001.csv")
    qtbot.waitUntil(lambda: model.display_text(row, model.ROWS) == "777", timeout=10_000)
    assert "file list shows p0001.csv: PROCESSED" in caplog.messages
    assert model.rowCount() == 2500
    assert browser.count_label.text() == "2,500 files"


def test_settings_dialog_saves_only_changed_keys_and_applies_them(
    qtbot: Any, window: Any, backend: Any, monkeypatch: Any
) -> None:
    def fake_exec(dialog: SettingsDialog) -> int:
        dialog.bucket.setText("other-bucket")
        dialog.parallel.setValue(5)
        return int(SettingsDialog.DialogCode.Accepted.value)

    monkeypatch.setattr(SettingsDialog, "exec", fake_exec)
    window.commands.settings.trigger()
    assert window.settings.bucket == "other-bucket"
    assert window.settings.parallel_uploads == 5
    qtbot.waitUntil(lambda: bool(backend.saved), timeout=5000)  # written on a worker thread
    assert backend.saved[-1][1] == ["bucket", "parallel_uploads"]
    saved = load_settings(env={}, config_path=window.settings.config_path)
    assert (saved.bucket, saved.parallel_uploads) == ("other-bucket", 5)
    assert "other-bucket" in window.windowTitle()


def test_settings_that_cannot_be_saved_still_apply_and_say_why(
    qtbot: Any, window: Any, backend: Any, dialogs: Any, monkeypatch: Any
) -> None:
    def fake_exec(dialog: SettingsDialog) -> int:
        dialog.bucket.setText("kept-bucket")
        return int(SettingsDialog.DialogCode.Accepted.value)

    def read_only(settings: Any, keys: Any = None) -> Any:
        raise PermissionError(13, "Permission denied", str(settings.config_path))

    monkeypatch.setattr(SettingsDialog, "exec", fake_exec)
    monkeypatch.setattr(backend, "save_settings", read_only)
    window.commands.settings.trigger()
    assert window.settings.bucket == "kept-bucket"
    qtbot.waitUntil(lambda: any(kind == "warning" for kind, *_ in dialogs.calls), timeout=5000)
    _, title, text = next(c for c in dialogs.calls if c[0] == "warning")
    assert title == "Settings not saved"
    assert "Permission denied" in text and str(window.settings.config_path) in text
    assert "Traceback" not in text


def test_settings_dialog_rejects_bad_values(qtbot: Any, settings: Any) -> None:
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.bucket.setText("Bad_Bucket")
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    assert "Bucket names" in dialog.problem.text()
    dialog.bucket.setText("good-bucket")
    assert dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()


def test_window_geometry_is_remembered_next_to_the_config(qtbot: Any, settings: Any, backend: Any) -> None:
    from gui.main_window import MainWindow, state_settings_path

    first = MainWindow(settings, backend, autostart=False)
    qtbot.addWidget(first)
    first.resize(700, 500)
    first.close()
    assert state_settings_path(settings).exists()
    assert state_settings_path(settings).parent == settings.config_path.parent
    second = MainWindow(settings, backend, autostart=False)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 500)
    second.shutdown()


def test_quitting_with_active_uploads_asks_first(
    qtbot: Any, window: Any, backend: Any, dialogs: Any, tmp_path: Path
) -> None:
    import threading

    backend.upload_gate = threading.Event()
    (tmp_path / "a.csv").write_text("a\n1\n", encoding="utf-8")
    window.add_paths([tmp_path / "a.csv"])
    qtbot.waitUntil(lambda: window.uploads.active_count() == 1, timeout=3000)
    dialogs.answers["question"] = QMessageBox.StandardButton.No
    window.close()
    assert window.isVisible()
    assert "Quit CSV Drop?" in dialogs.titles()
    dialogs.answers["question"] = QMessageBox.StandardButton.Yes
    window.close()
    assert not window.isVisible()


def test_exception_in_a_slot_reaches_the_hook_dialog(qtbot: Any, dialogs: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(sys, "excepthook", ExceptHook(None))

    def broken_slot() -> None:
        raise RuntimeError("slot failed")

    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: any(kind == "exec" for kind, _, _ in dialogs.calls), timeout=2000)
    assert "RuntimeError: slot failed" in dialogs.calls[-1][2]


def test_quit_after_comes_from_the_option_or_the_environment(monkeypatch: Any) -> None:
    from gui.__main__ import QUIT_ENV, parse_args

    monkeypatch.delenv(QUIT_ENV, raising=False)
    assert parse_args([]).quit_after is None
    assert parse_args(["--quit-after", "1500"]).quit_after == 1500
    monkeypatch.setenv(QUIT_ENV, "700")
    assert parse_args([]).quit_after == 700
