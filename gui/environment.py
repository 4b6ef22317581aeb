"""Environment: status lights, the advice banner, and the dialog that runs the setup / teardown steps live."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backend.steps import (
    PlanOutcome,
    PlanStarted,
    Status,
    StepEvent,
    StepFinished,
    StepNotRun,
    StepStarted,
    run_steps,
)
from gui import style
from gui.backend_api import BackendApi, describe_error
from gui.widgets import StatusLight

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.environment import BringUp, Health
    from gui.jobs import JobRunner, Report

LIGHTS = (
    ("localstack", "LocalStack"),
    ("database", "Database"),
    ("function", "Function"),
    ("trigger", "Trigger"),
)


def target_text(settings: Settings) -> str:
    if settings.mode == "local":
        return f"Local · {settings.aws_endpoint} · bucket {settings.bucket}"
    profile = f" · profile {settings.aws_profile}" if settings.aws_profile else ""
    return f"AWS {settings.region}{profile} · bucket {settings.bucket}"


class EnvironmentBar(QWidget):
    """Where the app points, and one light per part of the environment."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(self.fontMetrics().height() // 2)
        self.target = QLabel()
        self.target.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.target)
        self.lights: dict[str, StatusLight] = {}
        for key, name in LIGHTS:
            light = StatusLight(name)
            if key == "localstack":
                light.label.setText(name)
            self.lights[key] = light
            layout.addWidget(light)

    def set_settings(self, settings: Settings) -> None:
        self.target.setText(target_text(settings))
        self.lights["localstack"].label.setText("LocalStack" if settings.mode == "local" else "AWS")
        self.lights["localstack"].name = self.lights["localstack"].label.text()

    def set_checking(self) -> None:
        for light in self.lights.values():
            light.set_checking()

    def set_status(self, status: dict[str, Health]) -> None:
        for key, light in self.lights.items():
            health = status.get(key)
            if health is None:
                light.set_health(None, "Not reported")
            else:
                light.set_health(health.ok, health.detail)

    def set_error(self, message: str) -> None:
        for light in self.lights.values():
            light.set_health(None, f"Could not check: {message}")

    def all_ok(self) -> bool:
        return all(light.ok for light in self.lights.values())


def environment_advice(status: dict[str, Health], settings: Settings) -> tuple[str, str] | None:
    """(banner kind, text) saying what is missing, when something is: one banner that names the fix, instead of an
    error from every part that fails because of it."""

    def bad(key: str) -> bool:
        health = status.get(key)
        return health is not None and health.ok is False

    if bad("localstack"):
        where = settings.aws_endpoint if settings.mode == "local" else f"AWS ({settings.region})"
        text = f"Nothing answers at {where}." + (
            " Set up environment can start the local stack for you." if settings.mode == "local" else ""
        )
        return "warning", text
    missing = [
        name
        for key, name in (("database", "database"), ("function", "function"), ("trigger", "upload trigger"))
        if bad(key)
    ]
    if missing:
        return "info", (
            f"The environment is not set up yet ({', '.join(missing)} missing): uploads will not be "
            "profiled until it is."
        )
    return None


RowState = Status | Literal["pending", "running", "not run"]


class StepLook(NamedTuple):
    symbol: str
    colour: str
    words: str


# How a row of the dialog shows each state: the backend's step statuses (backend.steps.STATUSES) and the
# dialog's own (waiting, under way, never started because an earlier step failed or the user stopped).
STEP_LOOK: dict[RowState, StepLook] = {
    "pending": StepLook("○", style.GREY, "Waiting"),
    "running": StepLook("●", style.AMBER_TEXT, "Running…"),
    "not run": StepLook("–", style.GREY, "Not run"),
    "created": StepLook("✔", style.GREEN, "Created"),
    "found": StepLook("✔", style.GREEN, "Already there"),
    "updated": StepLook("✔", style.BLUE, "Updated"),
    "passed": StepLook("✔", style.GREEN, "Passed"),
    "removed": StepLook("✔", style.GREEN, "Removed"),
    "absent": StepLook("✔", style.GREEN, "Nothing to remove"),
    "skipped": StepLook("–", style.GREY, "Skipped"),
    "failed": StepLook("✖", style.RED, "Failed"),
}
NOT_RUN_DETAIL = {"stopped": "Stopped before this step.", "earlier step failed": ""}


class StepRow(NamedTuple):
    title: str
    status: RowState
    detail: str


@dataclass(frozen=True)
class StackStarted:
    """What starting the local stack did, and the titles of the setup steps it may have run again."""

    bring_up: BringUp
    titles: dict[str, str]  # step name -> title


class OperationDialog(QDialog):
    """Runs setup (or teardown) steps on a worker through backend.steps.run_steps, showing each step's outcome
    as it happens: the first failure stops the plan, and Stop stops it between two steps."""

    completed = Signal(bool)  # True when every step succeeded

    def __init__(
        self,
        kind: Literal["setup", "teardown"],
        settings: Settings,
        backend: BackendApi,
        runner: JobRunner,
        parent: QWidget | None = None,
        *,
        notify_email: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.settings = settings
        self.backend = backend
        self.runner = runner
        self.notify_email = notify_email
        self.running = False
        self.succeeded: bool | None = None
        self._stop = threading.Event()
        self.results: list[StepRow] = []
        self.setWindowTitle("Set up environment" if kind == "setup" else "Tear down environment")
        self.setModal(True)
        fm = self.fontMetrics()
        self.resize(fm.horizontalAdvance("M") * 70, fm.height() * 30)

        layout = QVBoxLayout(self)
        layout.setSpacing(fm.height() // 2)
        self.heading = QLabel(
            "Creating what CSV Drop needs: bucket, database, function, trigger and notifications."
            if kind == "setup"
            else "Removing the bucket and its files, the function, trigger, topic, queue and metadata."
        )
        self.heading.setFont(style.bold(self.font(), 1))
        self.heading.setWordWrap(True)
        self.target = QLabel(target_text(settings))
        self.target.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.heading)
        layout.addWidget(self.target)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Step", "Result", "Details"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(True)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(int(fm.height() * 1.7))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setFormat("Preparing…")
        self.progress.setTextVisible(True)
        self.progress.setPalette(style.progress_palette(self.progress.palette()))
        layout.addWidget(self.progress)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText("Messages from the local stack appear here.")
        self.log.setMaximumHeight(fm.height() * 7)
        self.log.hide()
        layout.addWidget(self.log)

        self.outcome = QLabel()
        self.outcome.setObjectName("outcome")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.hide()
        layout.addWidget(self.outcome)

        self.buttons = QDialogButtonBox()
        self.again = QPushButton("Run again")
        self.again.clicked.connect(self.start)
        self.close_button = QPushButton("Stop")
        self.close_button.clicked.connect(self._close_or_stop)
        self.buttons.addButton(self.again, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.again.hide()  # only after a failed or stopped run
        layout.addWidget(self.buttons)

    # -- flow ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Setup: check the environment, offer to start the local stack, then run the steps."""
        if self.running:
            return
        self.running = True
        self.succeeded = None
        self._stop = threading.Event()
        self.results = []
        self.table.setRowCount(0)
        self.again.hide()
        self.outcome.hide()
        self.close_button.setText("Stop")
        self.close_button.setEnabled(True)
        self.progress.setRange(0, 0)
        if self.kind == "setup" and self.settings.mode == "local":
            self.progress.setFormat("Checking what answers…")
            self.runner.start(
                lambda _report: self.backend.environment_status(self.settings),
                on_done=self._checked,
                on_error=lambda exc: self._run_steps(),
                name="environment check",
            )
        else:
            self._run_steps()

    def _checked(self, status: dict[str, Health]) -> None:
        down = [name for key, name in LIGHTS[:2] if status.get(key) is not None and status[key].ok is False]
        if not down:
            self._run_steps()
            return
        answer = QMessageBox.question(
            self,
            "Start the local stack?",
            f"Nothing answers for {' and '.join(down)} ({self.settings.aws_endpoint}, MySQL port "
            f"{self.settings.mysql_port}).\n\nStart the local stack (LocalStack and MySQL, no Docker needed) "
            "first? The first start can take a few minutes.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._start_stack()
        elif answer == QMessageBox.StandardButton.No:
            self._run_steps()
        else:
            self._finish(False, "Setup cancelled: nothing was changed.")

    def _start_stack(self) -> None:
        self.log.show()
        self.progress.setFormat("Starting the local stack…")
        self._append_log("Starting LocalStack and MySQL…")
        backend, settings, email = self.backend, self.settings, self.notify_email

        def work(report: Report[str]) -> StackStarted:
            result = backend.bring_up(settings, on_message=report)
            titles = {}
            if result.setup is not None:
                titles = {step.name: step.title for step in backend.setup_steps(settings, notify_email=email)}
            return StackStarted(result, titles)

        self.runner.start(
            work,
            on_progress=self._append_log,
            on_done=self._stack_started,
            on_error=lambda exc: self._finish(False, f"The local stack did not start: {describe_error(exc)}"),
            name="stack up",
        )

    def _stack_started(self, started: StackStarted) -> None:
        self._append_log("Local stack is up.")
        restored = started.bring_up.setup
        if restored is not None and restored.ok:
            # LocalStack started empty and bring_up already set up the environment it held again: running the
            # steps a second time would only find everything in place.
            self._show_restored(restored, started.titles)
        else:
            self._run_steps()

    def _show_restored(self, outcome: PlanOutcome, titles: dict[str, str]) -> None:
        self._show_plan([titles.get(result.name, result.name) for result in outcome.results])
        for row, result in enumerate(outcome.results):
            self._set_row(row, result.status, result.detail)
        self.progress.setValue(len(outcome.results))
        self._finish(
            True,
            "Environment restored — the local stack started empty, so the environment it held was set up "
            f"again ({self._counts(outcome)}). Drop CSV files to upload them.",
        )

    def _run_steps(self) -> None:
        backend, settings, stop = self.backend, self.settings, self._stop
        kind, email = self.kind, self.notify_email
        self.progress.setFormat("Preparing the steps…")

        def work(report: Report[StepEvent]) -> PlanOutcome:
            if kind == "setup":
                steps = backend.setup_steps(settings, notify_email=email)
            else:
                steps = backend.teardown_steps(settings)
            return run_steps(steps, report, stop)

        self.runner.start(
            work, on_progress=self.show_event, on_done=self._steps_done, on_error=self._steps_error, name=kind
        )

    def show_event(self, event: StepEvent) -> None:
        """One event of the step runner, as it happens."""
        if isinstance(event, PlanStarted):
            self._show_plan(list(event.titles))
        elif isinstance(event, StepStarted):
            self._set_row(event.index, "running", "")
            self.progress.setFormat(f"Step {event.index + 1} of {len(self.results)}: {event.title}")
            item = self.table.item(event.index, 0)
            if item is not None:
                self.table.scrollToItem(item)
        elif isinstance(event, StepFinished):
            self._set_row(event.index, event.result.status, event.result.detail)
        elif isinstance(event, StepNotRun):
            self._set_row(event.index, "not run", NOT_RUN_DETAIL[event.reason])
        if not isinstance(event, PlanStarted):
            self.progress.setValue(sum(1 for row in self.results if row.status not in ("pending", "running")))

    def _show_plan(self, titles: list[str]) -> None:
        self.results = [StepRow(title, "pending", "") for title in titles]
        self.table.setRowCount(len(titles))
        for row, title in enumerate(titles):
            self.table.setItem(row, 0, QTableWidgetItem(title))
            self._set_row(row, "pending", "")
        self.progress.setRange(0, max(1, len(titles)))
        self.progress.setValue(0)

    def _set_row(self, row: int, status: RowState, detail: str) -> None:
        title = self.results[row].title if row < len(self.results) else ""
        if row < len(self.results):
            self.results[row] = StepRow(title, status, detail)
        look = STEP_LOOK[status]
        result = QTableWidgetItem(f"{look.symbol}  {look.words}")
        result.setForeground(QColor(look.colour))
        self.table.setItem(row, 1, result)
        detail_item = QTableWidgetItem(detail)
        detail_item.setToolTip(detail)
        if status == "failed":
            detail_item.setForeground(QColor(style.RED))
        self.table.setItem(row, 2, detail_item)
        title_item = self.table.item(row, 0)
        if title_item is not None:
            font = title_item.font()
            font.setBold(status == "running")
            title_item.setFont(font)
        self.table.resizeRowToContents(row)  # long details wrap onto a second line
        self.table.setRowHeight(row, max(self.table.rowHeight(row), int(self.fontMetrics().height() * 1.7)))

    @staticmethod
    def _counts(outcome: PlanOutcome) -> str:
        """ "3 created, 1 already there" (the statuses that mean "in place now")."""
        words: tuple[tuple[Status, str], ...] = (
            ("created", "created"),
            ("updated", "updated"),
            ("found", "already there"),
        )
        return ", ".join(f"{outcome.count(status)} {word}" for status, word in words if outcome.count(status))

    def _steps_done(self, outcome: PlanOutcome) -> None:
        failed = next((row for row in self.results if row.status == "failed"), None)
        if failed is not None:
            self._finish(False, f"“{failed.title}” failed: {failed.detail}\nFix the cause and press Run again.")
        elif outcome.stopped:
            self._finish(False, "Stopped. Steps already done are kept; press Run again to continue.")
        elif self.kind == "setup":
            self._finish(True, f"Environment ready — {self._counts(outcome)}. Drop CSV files to upload them.")
        else:
            self._finish(True, "Environment removed. Run “Set up environment” to create it again.")

    def _steps_error(self, exc: BaseException) -> None:
        self._finish(False, f"Could not run the steps: {describe_error(exc)}")

    def _finish(self, ok: bool, text: str) -> None:
        self.running = False
        self.succeeded = ok
        color = style.GREEN if ok else style.RED
        self.outcome.setStyleSheet(
            f"QLabel#outcome {{ background: {style.tint(color, 34).name(QColor.NameFormat.HexArgb)};"
            f" border: 1px solid {color}; border-radius: 4px; padding: 8px; }}"
        )
        self.outcome.setText(("✔  " if ok else "✖  ") + text)
        self.outcome.show()
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if ok else 0)
        self.progress.setFormat("Done" if ok else "Stopped")
        self.again.setVisible(not ok)
        self.close_button.setText("Close")
        self.close_button.setEnabled(True)
        self.completed.emit(ok)

    def _append_log(self, text: str) -> None:
        self.log.show()
        self.log.appendPlainText(text)

    def _close_or_stop(self) -> None:
        if self.running:
            self._stop.set()
            self.close_button.setText("Stopping after this step…")
            self.close_button.setEnabled(False)
        else:
            self.accept()

    def reject(self) -> None:  # Esc / window close
        if self.running:
            self._close_or_stop()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            self._close_or_stop()
            event.ignore()
            return
        super().closeEvent(event)


def confirm_teardown(parent: QWidget, settings: Settings) -> bool:
    answer = QMessageBox.warning(
        parent,
        "Tear down the environment?",
        f"This deletes the bucket “{settings.bucket}” with all its files, the function, the trigger, the "
        "notification topic and queue, and the metadata table.\n\nThis cannot be undone.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes
