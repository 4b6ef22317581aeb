"""The CSV Drop main window: the panels, feeds and actions, wired together.

What the window shows lives in the panels (:mod:`gui.panels`, :mod:`gui.detail`, the environment bar in
:mod:`gui.environment`); what it learns by polling comes from widget-free feeds (:mod:`gui.feeds`); its commands
are in :mod:`gui.actions`. The window lays them out, connects their signals, and does the few things that need
several of them at once: banners, setup and teardown, settings, export, quitting.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter, QSystemTrayIcon, QVBoxLayout, QWidget

from gui import style
from gui.actions import WindowActions, bind_button
from gui.backend_api import Backend, BackendApi, describe_error
from gui.detail import DetailPane
from gui.environment import EnvironmentBar, OperationDialog, confirm_teardown, environment_advice
from gui.feeds import EnvironmentMonitor, NoticeFeed, RecordFeed
from gui.file_actions import FileActions
from gui.jobs import JobRunner, Report
from gui.panels.browser_panel import BrowserPanel, stream_export
from gui.panels.notices_panel import NoticesPanel
from gui.panels.uploads_panel import UploadsPanel
from gui.settings_dialog import SettingsDialog
from gui.uploads import UploadItem, UploadManager, UploadState
from gui.widgets import BannerArea, section_title

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.environment import Health
    from backend.notices import Notice
    from backend.store import MetadataRecord

log = logging.getLogger(__name__)

# Settings that point at another store: changing one empties the file list and starts reading again.
STORE_KEYS = (
    "mode",
    "aws_endpoint",
    "aws_profile",
    "region",
    "bucket",
    "mysql_host",
    "mysql_port",
    "metadata_store",
    "dynamodb_table",
)


def state_settings_path(settings: Settings) -> Path:
    """Window geometry and view state live next to the config file (tests point it at a tmp folder)."""
    return settings.config_path.parent / "gui-state.ini"


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: Settings,
        backend: BackendApi | None = None,
        *,
        autostart: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.backend: BackendApi = backend if backend is not None else Backend()
        # Polls, notices, environment checks, setup/export, the file list's page reads (at most 2 at once): each
        # holds a thread while it waits on the network.
        self.jobs = JobRunner(8, self)
        self.state = QSettings(str(state_settings_path(settings)), QSettings.Format.IniFormat)
        self.uploads = UploadManager(settings, self.backend, self)
        self.record_feed = RecordFeed(settings, self.backend, self.jobs, self)
        self.notice_feed = NoticeFeed(settings, self.backend, self.jobs, self)
        self.environment = EnvironmentMonitor(settings, self.backend, self.jobs, self)
        self._closing = False
        self._stopped = True  # False when shutdown() left a worker running (inside a network call)
        self._dialog: OperationDialog | None = None
        self.tray: QSystemTrayIcon | None = None

        self.setWindowIcon(style.app_icon())
        self.commands = WindowActions(self)
        self._build_layout()
        self._connect()
        self._show_target()
        self._restore_state()
        if autostart:
            QTimer.singleShot(0, self.start_background)

    # ------------------------------------------------------------------------------------------------
    # construction
    def _build_layout(self) -> None:
        gap = self.fontMetrics().height() // 2
        self.addToolBar(self.commands.toolbar())
        self.commands.fill_menu_bar(self.menuBar())
        self.banners = BannerArea()
        self.uploads_panel = UploadsPanel(self.uploads, self.state)
        self.notices = NoticesPanel()
        self.browser = BrowserPanel(self.state)
        self.detail = DetailPane()
        self.detail.setAccessibleName("File details")
        details = QWidget()
        column = QVBoxLayout(details)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(gap // 2)
        column.addWidget(section_title("Details"))
        column.addWidget(self.detail, 1)

        # Activity on top (the queue, and the notices that say when files are done); the store below
        # (the file list, and the selected file's profile, which needs room for its tables).
        self.top_split = _splitter(
            "topSplit", Qt.Orientation.Horizontal, gap, (self.uploads_panel, 7), (self.notices, 3)
        )
        self.bottom_split = _splitter("bottomSplit", Qt.Orientation.Horizontal, gap, (self.browser, 11), (details, 9))
        self.main_split = _splitter(
            "mainSplit", Qt.Orientation.Vertical, gap, (self.top_split, 9), (self.bottom_split, 11)
        )
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(gap, gap, gap, gap)
        outer.setSpacing(gap)
        outer.addWidget(self.banners)
        outer.addWidget(self.main_split, 1)
        self.setCentralWidget(central)

        self.env_bar = EnvironmentBar()
        self.statusBar().addPermanentWidget(self.env_bar)
        self.statusBar().setSizeGripEnabled(True)

        # Keyboard order: queue, filters, file list, detail, notices (set once all are in the window: an order
        # set inside a panel before it had its place here does not survive the move).
        stops = [
            *self.uploads_panel.focus_order(),
            *self.browser.focus_order(),
            self.detail.columns,
            self.detail.sample,
            self.notices.list,
        ]
        for first, second in itertools.pairwise(stops):
            QWidget.setTabOrder(first, second)

        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(style.app_icon(), self)
            self.tray.setToolTip("CSV Drop")
            self.tray.messageClicked.connect(self._raise)
            self.tray.show()

    def _connect(self) -> None:
        commands = self.commands
        commands.add_files.triggered.connect(self.uploads_panel.add_files_dialog)
        commands.add_folder.triggered.connect(self.uploads_panel.add_folder_dialog)
        commands.refresh.triggered.connect(self.refresh)
        commands.setup.triggered.connect(self.setup_environment)
        commands.teardown.triggered.connect(self.teardown_environment)
        commands.settings.triggered.connect(self.open_settings)
        commands.quit.triggered.connect(self.close)
        commands.find.triggered.connect(self.browser.focus_filter)
        commands.copy.triggered.connect(self.browser.copy_selection)
        commands.export.triggered.connect(self.export_selection)
        commands.clear_finished.triggered.connect(self.uploads_panel.clear_finished)
        commands.retry_failed.triggered.connect(self.uploads.retry_all_failed)
        commands.cancel_selected.triggered.connect(self.uploads_panel.cancel_selected)
        commands.about.triggered.connect(self.about)
        bind_button(self.uploads_panel.add_button, commands.add_files)
        bind_button(self.uploads_panel.retry_button, commands.retry_failed)
        bind_button(self.uploads_panel.clear_button, commands.clear_finished)
        bind_button(self.browser.copy_button, commands.copy, follow_enabled=False)
        bind_button(self.browser.export_button, commands.export, follow_enabled=False)
        self.browser.add_menu_actions(commands.copy, commands.export)
        self.file_actions = FileActions(
            self,
            settings=lambda: self.settings,
            backend=self.backend,
            jobs=self.jobs,
            commands=commands,
            browser=self.browser,
        )
        self.file_actions.files_changed.connect(self.record_feed.poll)
        commands.scope_to(commands.clear_finished, self.uploads_panel)  # Delete in the file list deletes files

        self.uploads_panel.message.connect(self.statusBar().showMessage)
        self.browser.message.connect(self.statusBar().showMessage)
        self.uploads_panel.record_requested.connect(self.browser.select_record)
        self.notices.record_requested.connect(self.browser.select_record)
        self.browser.current_record_changed.connect(self.detail.show_record)
        self.record_feed.records.connect(self.uploads.on_records)  # the changes themselves, not the list's rows
        self.uploads.summary_changed.connect(self._queue_changed)
        self.uploads.problem.connect(self._upload_problem)
        self.uploads.uploaded.connect(self._uploaded)

        self.browser.set_store(lambda: self.backend.open_reader(self.settings), self.jobs)
        self.record_feed.records.connect(self.browser.apply_changes)
        self.record_feed.ready.connect(self.browser.load)  # the cursor first, then the list's first pages
        self.record_feed.ready.connect(self._look_up_waiting_uploads)
        self.record_feed.answered.connect(lambda: self.banners.clear("store"))
        self.record_feed.answered.connect(self.browser.retry_load)
        self.record_feed.failed.connect(self._store_failed)
        self.notice_feed.notices.connect(self._notices_arrived)
        self.notice_feed.answered.connect(self.notices.set_available)
        self.notice_feed.failed.connect(self.notices.set_unavailable)
        self.notice_feed.note.connect(self.statusBar().showMessage)  # stays until the next message replaces it
        self.environment.checking.connect(self.env_bar.set_checking)
        self.environment.status.connect(self._environment_status)
        self.environment.failed.connect(self.env_bar.set_error)
        self._queue_changed()

    def _show_target(self) -> None:
        self.env_bar.set_settings(self.settings)
        self.browser.set_bucket(self.settings.bucket)
        self.setWindowTitle(f"CSV Drop — {self.settings.bucket}")

    # ------------------------------------------------------------------------------------------------
    # what the feeds and the upload queue report
    def start_background(self) -> None:
        if self._closing:
            return
        self.environment.start()
        self.record_feed.start()
        self.notice_feed.start()

    def refresh(self) -> None:
        self.statusBar().showMessage("Refreshing…", 2000)
        self.environment.check()
        self.record_feed.poll()
        self.notice_feed.poll_soon()

    def _store_failed(self, reason: str) -> None:
        self.browser.set_unavailable()
        if self.banners.banner("env") is not None:
            return  # the environment banner already says what is missing and how to fix it
        seconds = max(1, self.record_feed.interval_ms // 1000)
        self.banners.show_message(
            "store",
            "error",
            f"Can't read the file list: {reason} Retrying every {seconds} s.",
            "Set up environment…",
            self.setup_environment,
        )

    def _notices_arrived(self, notices: list[Notice]) -> None:
        new = [notice for notice in notices if self.notices.add_notice(notice)]  # SQS may deliver one twice
        for notice in new:
            self.uploads.on_notice(notice)
            self._announce(notice)
        if new:  # a notice means the store has something new: fetch it now rather than at the next tick
            self.record_feed.poll()

    def _announce(self, notice: Notice) -> None:
        if self.tray is None or not self.tray.isVisible():
            return
        ok = notice.status.upper() == "PROCESSED"
        warned = notice.warnings_count if ok else 0
        ready = f"is ready ({warned} warning{'s' if warned != 1 else ''})" if warned else "is ready"
        self.tray.showMessage(
            "CSV Drop",
            f"{notice.file_name} {ready if ok else 'could not be processed'}",
            QSystemTrayIcon.MessageIcon.Information if ok else QSystemTrayIcon.MessageIcon.Warning,
            5000,
        )

    def _environment_status(self, status: dict[str, Health]) -> None:
        self.env_bar.set_status(status)
        advice = environment_advice(status, self.settings)
        if advice is None:
            self.banners.clear("env")
            return
        kind, text = advice
        self.banners.show_message("env", kind, text, "Set up environment…", self.setup_environment)
        self.banners.clear("store")  # the environment banner already explains why the store fails

    def add_paths(self, paths: list[Path]) -> None:
        self.uploads.add_paths(paths)

    def _queue_changed(self, _summary: str = "") -> None:
        self.commands.clear_finished.setEnabled(self.uploads.has_finished())
        self.commands.retry_failed.setEnabled(self.uploads.has_failed())

    def _upload_problem(self, key: str, message: str) -> None:
        banner_key = f"uploads-{key}"
        if not message:
            self.banners.clear(banner_key)
        elif key == "upload":
            self.banners.show_message(banner_key, "error", message, "Retry failed", self.uploads.retry_all_failed)
        else:
            self.banners.show_message(banner_key, "warning", message)

    def _uploaded(self, item: UploadItem) -> None:
        if self.env_bar.lights["trigger"].ok is False:
            self.uploads.mark_stalled(
                item,
                f"Uploaded to {item.s3_url}, but the upload trigger is not set up, so nothing will profile it: "
                "run Set up environment (Ctrl+Shift+S), then Retry.",
            )
        if item.key:
            record = self.browser.model.find(item.bucket, item.key)
            if record is not None:
                self.uploads.check_existing(item, record)
            else:
                # the function may have written the record while the upload's answer was on its way: the feed
                # has handed it on already (to an upload not waiting yet), and the list holds only the rows it shows
                self._look_up_uploads([item])
        self.record_feed.poll()

    def _look_up_waiting_uploads(self) -> None:
        """The feed reports changes after the cursor it found at its first read: an upload whose record was written
        before that (files uploaded while the store did not answer yet) asks the store for its record itself."""
        self._look_up_uploads([i for i in self.uploads.items if i.state == UploadState.PROCESSING and i.key])

    def _look_up_uploads(self, waiting: list[UploadItem]) -> None:
        """Reads the records of uploads waiting for one (a job); a record found completes its upload."""
        if not waiting:
            return
        settings = self.settings

        def work(_report: Report[None]) -> list[tuple[UploadItem, MetadataRecord]]:
            reader = self.backend.open_reader(settings)
            try:
                found = [(item, reader.get(item.bucket, item.key)) for item in waiting if item.key]
            finally:
                reader.close()
            return [(item, record) for item, record in found if record is not None]

        def done(found: list[tuple[UploadItem, MetadataRecord]]) -> None:
            for item, record in found:
                self.uploads.check_existing(item, record)

        def failed(exc: BaseException) -> None:  # the feed's own reads report a store that does not answer
            log.info("could not look up the records of waiting uploads: %s", describe_error(exc))

        self.jobs.start(work, on_done=done, on_error=failed, name="look up waiting uploads")

    # ------------------------------------------------------------------------------------------------
    # commands that need more than one panel
    def export_selection(self) -> None:
        plan = self.browser.choose_export()
        if plan is None:
            return
        settings = self.settings

        def work(report: Report[int]) -> int:
            reader = self.backend.open_reader(settings)
            try:
                return self.backend.export_records(stream_export(reader, plan, report), plan.path, plan.fmt)
            finally:
                reader.close()

        def progress(done: int) -> None:
            self.statusBar().showMessage(f"Exporting… {done:,} of {plan.count:,} records", 10_000)

        def done(count: int) -> None:
            self.banners.clear("export")
            self.statusBar().showMessage(f"Exported {count:,} records to {plan.path}", 5000)

        def failed(exc: BaseException) -> None:
            self.banners.show_message("export", "error", f"Export to {plan.path} failed: {describe_error(exc)}")

        self.jobs.start(work, on_done=done, on_error=failed, on_progress=progress, name="export")

    def setup_environment(self) -> OperationDialog:
        return self._run_operation("setup")

    def teardown_environment(self) -> OperationDialog | None:
        if not confirm_teardown(self, self.settings):
            return None
        return self._run_operation("teardown")

    def _run_operation(self, kind: str) -> OperationDialog:
        if self._dialog is not None and self._dialog.running:
            self._dialog.raise_()
            return self._dialog
        if self._dialog is not None:  # the previous run's dialog, closed by now
            self._dialog.deleteLater()
        dialog = OperationDialog(
            "setup" if kind == "setup" else "teardown", self.settings, self.backend, self.jobs, self
        )
        dialog.completed.connect(lambda ok: self._operation_done(kind, ok))
        self._dialog = dialog
        dialog.open()
        dialog.start()
        return dialog

    def _operation_done(self, kind: str, ok: bool) -> None:
        if kind == "teardown" and ok:
            self._reset_store_view()
        if ok:
            self.banners.clear("store")
        self.environment.check()
        self.record_feed.poll()

    def _reset_store_view(self) -> None:
        """Forget the old store: its answers still on the way, its connections, the list read from it."""
        for feed in (self.record_feed, self.notice_feed, self.environment):
            feed.reset()
        self.browser.reset()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        keys: list[str] = list(dialog.changed_keys())
        if not keys:
            return
        new = dialog.result_settings()
        self.apply_settings(new)

        def not_saved(exc: BaseException) -> None:  # a read-only config folder must not lose edits silently
            QMessageBox.warning(
                self,
                "Settings not saved",
                f"The settings apply until CSV Drop closes, but could not be saved: {describe_error(exc)}",
            )

        # The config file may sit on a slow or network home folder: written off the GUI thread.
        self.jobs.start(lambda _report: self.backend.save_settings(new, keys), on_error=not_saved, name="save settings")

    def apply_settings(self, settings: Settings) -> None:
        store_changed = any(getattr(settings, k) != getattr(self.settings, k) for k in STORE_KEYS)
        self.settings = settings
        self.uploads.set_settings(settings)
        for feed in (self.record_feed, self.notice_feed, self.environment):
            feed.set_settings(settings)
        self._show_target()
        if store_changed:
            self.banners.clear("store")
            self._reset_store_view()
            self.refresh()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About CSV Drop",
            "<b>CSV Drop</b><br>Drop CSV files to upload them to S3. A Lambda function profiles each one "
            "into the metadata store and announces it.<br><br>"
            f"Settings: {self.settings.config_path}",
        )

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    # ------------------------------------------------------------------------------------------------
    # window state and quitting
    def _restore_state(self) -> None:
        geometry = self.state.value("window/geometry")
        if not (isinstance(geometry, QByteArray | bytes) and self.restoreGeometry(QByteArray(geometry))):
            fm = self.fontMetrics()
            width, height = fm.horizontalAdvance("M") * 110, fm.height() * 48
            screen = QGuiApplication.primaryScreen()
            if screen is not None:
                avail = screen.availableGeometry()
                width, height = min(width, int(avail.width() * 0.9)), min(height, int(avail.height() * 0.9))
            self.resize(width, height)
        state = self.state.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(QByteArray(state))
        for split in (self.main_split, self.top_split, self.bottom_split):
            value = self.state.value(f"splitters/{split.objectName()}")
            if isinstance(value, QByteArray | bytes):
                split.restoreState(QByteArray(value))
        header = self.state.value("views/records_header")
        if isinstance(header, QByteArray | bytes):
            self.browser.view.horizontalHeader().restoreState(QByteArray(header))

    def save_state(self) -> None:
        self.state.setValue("window/geometry", self.saveGeometry())
        self.state.setValue("window/state", self.saveState())
        for split in (self.main_split, self.top_split, self.bottom_split):
            self.state.setValue(f"splitters/{split.objectName()}", split.saveState())
        self.state.setValue("views/records_header", self.browser.view.horizontalHeader().saveState())
        self.state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        busy = self.uploads.active_count()
        setting_up = self._dialog is not None and self._dialog.running
        if (busy or setting_up) and not self._closing:
            parts = []
            if busy:
                parts.append(f"{busy} upload{'s are' if busy != 1 else ' is'} still running")
            if setting_up:
                parts.append("the environment is being set up (the step under way may be left half done)")
            answer = QMessageBox.question(
                self,
                "Quit CSV Drop?",
                " and ".join(parts).capitalize() + ". Quit anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Stop timers and workers; close the store and notice connections. Idempotent."""
        if self._closing:
            return self._stopped
        self._closing = True
        try:
            self.save_state()
        except Exception:  # window state is a nicety; never block quitting on it
            log.exception("could not save the window state")
        for feed in (self.environment, self.record_feed, self.notice_feed):
            feed.stop()
        if self.tray is not None:
            self.tray.hide()
        self.file_actions.shutdown()  # downloads stop; their temporary files are removed
        ok_uploads = self.uploads.shutdown(timeout_ms)
        self._stopped = self.jobs.shutdown(timeout_ms) and ok_uploads
        return self._stopped


def _splitter(name: str, orientation: Qt.Orientation, gap: int, *parts: tuple[QWidget, int]) -> QSplitter:
    """A splitter of ``parts`` (widget, stretch factor) whose parts never collapse; its state is saved by name."""
    split = QSplitter(orientation)
    split.setObjectName(name)
    for index, (widget, stretch) in enumerate(parts):
        split.addWidget(widget)
        split.setStretchFactor(index, stretch)
    split.setChildrenCollapsible(False)
    split.setHandleWidth(gap)
    return split
