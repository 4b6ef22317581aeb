"""The CSV Drop main window: upload queue, metadata browser, detail pane, notices, environment."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, QPoint, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QColor, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QSystemTrayIcon,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from backend.config import Settings
from backend.export import Format
from gui import style
from gui.backend_api import Backend, describe_error
from gui.detail import DetailPane
from gui.environment import EnvironmentBar, OperationDialog, confirm_teardown
from gui.jobs import JobRunner, Report
from gui.notices import NoticesPanel
from gui.records import (
    COLUMNS,
    STATUS_COLORS,
    STATUS_LABELS,
    WARNINGS,
    RecordFilterProxy,
    RecordRole,
    RecordTableModel,
)
from gui.settings_dialog import SettingsDialog
from gui.uploads import (
    ActionDelegate,
    ProgressDelegate,
    UploadItem,
    UploadManager,
    UploadQueueModel,
    UploadState,
    can_retry,
)
from gui.widgets import BannerArea, DropZone, ElidedLabel, MiddleElideDelegate, TableView

log = logging.getLogger(__name__)

ENV_REFRESH_MS = 30_000
NOTICE_RETRY_MS = 10_000
NOTICE_NEXT_MS = 100
PAGE_SIZE = 1000  # changed_since's default page: a full page means more are waiting
MAX_PAGES_PER_POLL = 5
APPLY_BATCH = 100  # records inserted into the model per event-loop turn
APPLY_PAUSE_MS = 5


def state_settings_path(settings: Settings) -> Path:
    """Window geometry and view state live next to the config file (tests point it at a tmp folder)."""
    return settings.config_path.parent / "gui-state.ini"


def section_title(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setFont(style.bold(label.font(), 1))
    return label


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: Settings,
        backend: Backend | None = None,
        *,
        autostart: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.backend: Backend = backend if backend is not None else Backend()
        # Polls, notices, environment checks, setup/export: each holds a thread while it waits on the network.
        self.jobs = JobRunner(6, self)
        self.uploads = UploadManager(settings, self.backend, self)
        self.records = RecordTableModel(self)
        self.proxy = RecordFilterProxy(self)
        self.proxy.setSourceModel(self.records)
        self.state = QSettings(str(state_settings_path(settings)), QSettings.Format.IniFormat)

        # Background polling state (only touched on the GUI thread).
        self._generation = 0
        self._reader: Any = None
        self._cursor: str | None = None  # changed_since position
        self._polling = False
        self._pending: list[Any] = []  # records received, not yet in the model
        self._loaded_once = False
        self._notice_reader: Any = None
        self._notices_running = False
        self._env_running = False
        self._env_again = False
        self._closing = False
        self._stopped = True  # False when shutdown() left a worker running (inside a network call)
        self._dialog: OperationDialog | None = None
        self.tray: QSystemTrayIcon | None = None

        self.setWindowTitle("CSV Drop")
        self.setWindowIcon(style.app_icon())
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._connect()
        self._apply_settings_to_ui()
        self._restore_state()

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(max(100, settings.poll_interval_ms))
        self.poll_timer.timeout.connect(self.poll_records)
        self.env_timer = QTimer(self)
        self.env_timer.setInterval(ENV_REFRESH_MS)
        self.env_timer.timeout.connect(lambda: self.refresh_environment(quiet=True))
        self.notice_timer = QTimer(self)
        self.notice_timer.setSingleShot(True)
        self.notice_timer.timeout.connect(self.poll_notices)
        if autostart:
            QTimer.singleShot(0, self.start_background)

    # ------------------------------------------------------------------------------------------------
    # construction
    def _action(self, text: str, shortcut: Any = None, slot: Any = None, tip: str = "", icon: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.rstrip('…')}" + (f" ({keys})" if keys else ""))
        action.setStatusTip(tip or text.rstrip("…"))
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.add_files_action = self._action(
            "&Add files…",
            QKeySequence.StandardKey.Open,
            self.add_files_dialog,
            "Choose CSV files to upload",
            sp.SP_FileIcon,
        )
        self.add_folder_action = self._action(
            "Add &folder…",
            "Ctrl+Shift+O",
            self.add_folder_dialog,
            "Upload every CSV file in a folder",
            sp.SP_DirIcon,
        )
        self.refresh_action = self._action(
            "&Refresh",
            QKeySequence.StandardKey.Refresh,
            self.refresh,
            "Refresh files and environment",
            sp.SP_BrowserReload,
        )
        if self.refresh_action.shortcut().isEmpty():
            self.refresh_action.setShortcut(QKeySequence("F5"))
        self.setup_action = self._action(
            "&Set up environment…",
            "Ctrl+Shift+S",
            self.setup_environment,
            "Create the bucket, database, function and trigger",
            sp.SP_DialogApplyButton,
        )
        self.teardown_action = self._action(
            "&Tear down environment…",
            None,
            self.teardown_environment,
            "Delete everything setup created",
            sp.SP_TrashIcon,
        )
        self.settings_action = self._action(
            "Se&ttings…",
            "Ctrl+,",
            self.open_settings,
            "Where files go and how uploads behave",
            sp.SP_FileDialogDetailedView,
        )
        self.quit_action = self._action("&Quit", "Ctrl+Q", self.close, "Quit CSV Drop")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.find_action = self._action("&Filter files", QKeySequence.StandardKey.Find, self.focus_filter)
        self.copy_action = self._action(
            "&Copy selected files",
            QKeySequence.StandardKey.Copy,
            self.copy_selection,
            "Copy the selected files' metadata as tab-separated text",
        )
        self.export_action = self._action(
            "&Export selected…",
            "Ctrl+E",
            self.export_selection,
            "Save the selected files' metadata (or every file shown) as CSV or JSON",
        )
        self.clear_action = self._action(
            "C&lear finished uploads",
            QKeySequence.StandardKey.Delete,
            self.clear_finished,
            "Remove finished rows from the upload queue",
        )
        self.retry_action = self._action(
            "Retry &failed uploads",
            "Ctrl+R",
            self.uploads.retry_all_failed,
            "Try failed and cancelled uploads again",
        )
        self.cancel_action = self._action(
            "Ca&ncel selected uploads", None, self.cancel_selected_uploads, "Stop the selected uploads"
        )
        self.about_action = self._action("&About CSV Drop", None, self.about)

    def _build_ui(self) -> None:
        fm = self.fontMetrics()
        em = fm.horizontalAdvance("M")
        gap = fm.height() // 2

        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (
            self.add_files_action,
            self.add_folder_action,
            None,
            self.refresh_action,
            None,
            self.setup_action,
            self.settings_action,
        ):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(gap, gap, gap, gap)
        outer.setSpacing(gap)
        self.banners = BannerArea()
        outer.addWidget(self.banners)

        # -- uploads ----------------------------------------------------------------------------------
        uploads_panel = QWidget()
        up = QVBoxLayout(uploads_panel)
        up.setContentsMargins(0, 0, 0, 0)
        up.setSpacing(gap // 2)
        head = QHBoxLayout()
        head.addWidget(section_title("Uploads"))
        self.upload_summary = ElidedLabel()
        self.upload_summary.setStyleSheet("color: palette(placeholder-text);")
        head.addWidget(self.upload_summary)
        head.addStretch(1)
        self.add_button = QPushButton("Add files…")
        self.add_button.setToolTip(self.add_files_action.toolTip())
        self.add_button.clicked.connect(self.add_files_dialog)
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.setToolTip(self.retry_action.toolTip())
        self.retry_button.clicked.connect(self.uploads.retry_all_failed)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setToolTip(self.clear_action.toolTip())
        self.clear_button.clicked.connect(self.clear_finished)
        for button in (self.add_button, self.retry_button, self.clear_button):
            head.addWidget(button)
        up.addLayout(head)

        self.drop_zone = DropZone()
        dz = QVBoxLayout(self.drop_zone)
        border = max(3, fm.height() // 4)
        dz.setContentsMargins(border, border, border, border)
        self.queue_view = TableView()
        self.queue_view.setModel(self.uploads.model)
        self._queue_empty_text()
        self.queue_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.queue_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue_view.verticalHeader().setVisible(False)
        # Two lines per row, so a rejection reason or "what to do" is readable without a tooltip.
        self.queue_view.verticalHeader().setDefaultSectionSize(int(fm.height() * 2.6))
        self.queue_view.setShowGrid(False)
        self.queue_view.setAlternatingRowColors(True)
        self.queue_view.setWordWrap(True)
        self.queue_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.queue_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.progress_delegate = ProgressDelegate(self.queue_view)
        self.action_delegate = ActionDelegate(self.queue_view)
        self.queue_view.setItemDelegateForColumn(UploadQueueModel.PROGRESS, self.progress_delegate)
        self.queue_view.setItemDelegateForColumn(UploadQueueModel.ACTION, self.action_delegate)
        qh = self.queue_view.horizontalHeader()
        qh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        qh.resizeSection(UploadQueueModel.FILE, em * 13)
        icon = QSize(fm.height() * 2 // 3, fm.height() * 2 // 3)
        self.queue_view.setIconSize(icon)
        qh.resizeSection(UploadQueueModel.STATE, fm.horizontalAdvance("Processing") + icon.width() + em * 2)
        qh.resizeSection(UploadQueueModel.PROGRESS, em * 17)
        qh.setSectionResizeMode(UploadQueueModel.DETAILS, QHeaderView.ResizeMode.Stretch)
        qh.setSectionResizeMode(UploadQueueModel.ACTION, QHeaderView.ResizeMode.Fixed)
        qh.resizeSection(UploadQueueModel.ACTION, em * 6)
        qh.setHighlightSections(False)
        dz.addWidget(self.queue_view)
        up.addWidget(self.drop_zone, 1)

        # -- metadata browser ---------------------------------------------------------------------------
        browser_panel = QWidget()
        bp = QVBoxLayout(browser_panel)
        bp.setContentsMargins(0, 0, 0, 0)
        bp.setSpacing(gap // 2)
        bhead = QHBoxLayout()
        self.browser_title = section_title("Files")
        bhead.addWidget(self.browser_title)
        self.record_count = ElidedLabel()
        self.record_count.setStyleSheet("color: palette(placeholder-text);")
        bhead.addWidget(self.record_count)
        bhead.addStretch(1)
        bp.addLayout(bhead)
        filters = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name, key or error (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.status_combo = QComboBox()
        self.status_combo.addItem("All statuses", "")
        self.status_combo.addItem(STATUS_LABELS["PROCESSED"], "PROCESSED")
        self.status_combo.addItem(STATUS_LABELS[WARNINGS], WARNINGS)
        self.status_combo.addItem(STATUS_LABELS["FAILED"], "FAILED")
        for index in range(1, self.status_combo.count()):
            self.status_combo.setItemIcon(index, style.dot_icon(STATUS_COLORS[self.status_combo.itemData(index)]))
        self.status_combo.setItemData(1, "Every processed file, with or without warnings", Qt.ItemDataRole.ToolTipRole)
        self.status_combo.setItemData(
            2, "Processed, but something in the file was worked around", Qt.ItemDataRole.ToolTipRole
        )
        self.status_combo.setToolTip("Show only files with this status")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip(self.copy_action.toolTip())
        self.copy_button.clicked.connect(self.copy_selection)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(self.export_action.toolTip())
        self.export_button.clicked.connect(self.export_selection)
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.copy_button)
        filters.addWidget(self.export_button)
        bp.addLayout(filters)
        self.records_view = TableView()
        self.records_view.setModel(self.proxy)
        self.records_view.setItemDelegateForColumn(RecordTableModel.FILE, MiddleElideDelegate(self.records_view))
        self.records_view.set_empty_text(
            "No files yet",
            "Files appear here once the function has profiled them. Nothing showing after an upload? "
            "Check the environment lights below or run Set up environment (Ctrl+Shift+S).",
        )
        self.records_view.setSortingEnabled(True)
        self.records_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.records_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.records_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.records_view.verticalHeader().setVisible(False)
        self.records_view.verticalHeader().setDefaultSectionSize(int(fm.height() * 1.6))
        self.records_view.setShowGrid(False)
        self.records_view.setAlternatingRowColors(True)
        self.records_view.setWordWrap(False)
        self.records_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        rh = self.records_view.horizontalHeader()
        rh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        rh.setStretchLastSection(True)
        rh.setHighlightSections(False)
        self.records_view.setIconSize(icon)
        widths = (12, 0, 5.5, 5, 6.5, 6, 6, 10, 10)
        for col, w in enumerate(widths):  # wide enough for the title and the sort arrow
            title = COLUMNS[col].title
            rh.resizeSection(col, max(int(em * w), fm.horizontalAdvance(title) + em * 2))
        rh.resizeSection(RecordTableModel.STATUS, fm.horizontalAdvance(STATUS_LABELS[WARNINGS]) + icon.width() + em * 2)
        for col in (RecordTableModel.UPLOADED, RecordTableModel.PROCESSED):  # dates before today show the day
            rh.resizeSection(col, fm.horizontalAdvance("2026-12-31 23:59") + em * 2)
        self.records_view.sortByColumn(RecordTableModel.UPLOADED, Qt.SortOrder.DescendingOrder)
        bp.addWidget(self.records_view, 1)

        # -- detail + notices ------------------------------------------------------------------------------
        detail_panel = QWidget()
        dp = QVBoxLayout(detail_panel)
        dp.setContentsMargins(0, 0, 0, 0)
        dp.setSpacing(gap // 2)
        dp.addWidget(section_title("Details"))
        self.detail = DetailPane()
        dp.addWidget(self.detail, 1)
        notices_panel = QWidget()
        npl = QVBoxLayout(notices_panel)
        npl.setContentsMargins(0, 0, 0, 0)
        npl.setSpacing(gap // 2)
        nhead = QHBoxLayout()
        self.notices_title = section_title("Notices")
        nhead.addWidget(self.notices_title)
        nhead.addStretch(1)
        self.clear_notices_button = QPushButton("Clear")
        self.clear_notices_button.setToolTip("Remove all notices from this list")
        nhead.addWidget(self.clear_notices_button)
        npl.addLayout(nhead)
        self.notices = NoticesPanel()
        npl.addWidget(self.notices, 1)

        # Activity on top (the queue, and the notices that say when files are done); the store below
        # (the file list, and the selected file's profile, which needs room for its tables).
        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        self.top_split.setObjectName("topSplit")
        self.top_split.addWidget(uploads_panel)
        self.top_split.addWidget(notices_panel)
        self.top_split.setStretchFactor(0, 7)
        self.top_split.setStretchFactor(1, 3)
        self.bottom_split = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_split.setObjectName("bottomSplit")
        self.bottom_split.addWidget(browser_panel)
        self.bottom_split.addWidget(detail_panel)
        self.bottom_split.setStretchFactor(0, 11)
        self.bottom_split.setStretchFactor(1, 9)
        self.main_split = QSplitter(Qt.Orientation.Vertical)
        self.main_split.setObjectName("mainSplit")
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.bottom_split)
        self.main_split.setStretchFactor(0, 9)
        self.main_split.setStretchFactor(1, 11)
        self._splits = (self.main_split, self.top_split, self.bottom_split)
        for split in self._splits:
            split.setChildrenCollapsible(False)
            split.setHandleWidth(gap)
        outer.addWidget(self.main_split, 1)
        self.setCentralWidget(central)

        self.env_bar = EnvironmentBar()
        self.statusBar().addPermanentWidget(self.env_bar)
        self.statusBar().setSizeGripEnabled(True)

        for widget, name in (
            (self.queue_view, "Upload queue"),
            (self.records_view, "Files in the bucket"),
            (self.filter_edit, "Filter files"),
            (self.status_combo, "Status filter"),
            (self.detail, "File details"),
            (self.notices.list, "Notices"),
            (self.drop_zone, "Drop CSV files here"),
        ):
            widget.setAccessibleName(name)

        # Keyboard order: queue, filter, status, records, detail, notices.
        QWidget.setTabOrder(self.add_button, self.retry_button)
        QWidget.setTabOrder(self.retry_button, self.clear_button)
        QWidget.setTabOrder(self.clear_button, self.queue_view)
        QWidget.setTabOrder(self.queue_view, self.filter_edit)
        QWidget.setTabOrder(self.filter_edit, self.status_combo)
        QWidget.setTabOrder(self.status_combo, self.copy_button)
        QWidget.setTabOrder(self.copy_button, self.export_button)
        QWidget.setTabOrder(self.export_button, self.records_view)
        QWidget.setTabOrder(self.records_view, self.detail.columns)
        QWidget.setTabOrder(self.detail.columns, self.detail.sample)
        QWidget.setTabOrder(self.detail.sample, self.notices.list)

        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(style.app_icon(), self)
            self.tray.setToolTip("CSV Drop")
            self.tray.messageClicked.connect(self._raise)
            self.tray.show()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (
            self.add_files_action,
            self.add_folder_action,
            None,
            self.export_action,
            None,
            self.settings_action,
            None,
            self.quit_action,
        ):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        edit = bar.addMenu("&Edit")
        for action in (
            self.copy_action,
            self.find_action,
            None,
            self.retry_action,
            self.cancel_action,
            self.clear_action,
        ):
            edit.addSeparator() if action is None else edit.addAction(action)
        view = bar.addMenu("&View")
        view.addAction(self.refresh_action)
        env = bar.addMenu("E&nvironment")
        env.addAction(self.setup_action)
        env.addAction(self.teardown_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _connect(self) -> None:
        self.drop_zone.dropped.connect(self.add_paths)
        self.drop_zone.drag_state_changed.connect(self._queue_empty_text)
        self.action_delegate.clicked.connect(self._queue_action)
        self.queue_view.doubleClicked.connect(self._queue_double_clicked)
        self.queue_view.customContextMenuRequested.connect(self._queue_menu)
        self.records_view.customContextMenuRequested.connect(self._records_menu)
        self.uploads.summary_changed.connect(self._upload_summary)
        self.uploads.problem.connect(self._upload_problem)
        self.uploads.uploaded.connect(self._uploaded)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.status_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_status(self.status_combo.currentData() or "")
        )
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        self.records_view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.records.records_changed.connect(self._records_changed)
        self.notices.record_requested.connect(self.select_record)
        self.clear_notices_button.clicked.connect(self._clear_notices)
        self._update_count()
        self._upload_summary("")

    def _apply_settings_to_ui(self) -> None:
        self.env_bar.set_settings(self.settings)
        self.browser_title.setText(f"Files in {self.settings.bucket}")
        self.setWindowTitle(f"CSV Drop — {self.settings.bucket}")

    # ------------------------------------------------------------------------------------------------
    # window state
    def _restore_state(self) -> None:
        geometry = self.state.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes) and self.restoreGeometry(QByteArray(geometry)):
            pass
        else:
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
        for split in self._splits:
            value = self.state.value(f"splitters/{split.objectName()}")
            if isinstance(value, QByteArray | bytes):
                split.restoreState(QByteArray(value))
        header = self.state.value("views/records_header")
        if isinstance(header, QByteArray | bytes):
            self.records_view.horizontalHeader().restoreState(QByteArray(header))

    def save_state(self) -> None:
        self.state.setValue("window/geometry", self.saveGeometry())
        self.state.setValue("window/state", self.saveState())
        for split in self._splits:
            self.state.setValue(f"splitters/{split.objectName()}", split.saveState())
        self.state.setValue("views/records_header", self.records_view.horizontalHeader().saveState())
        self.state.sync()

    # ------------------------------------------------------------------------------------------------
    # background work
    def start_background(self) -> None:
        if self._closing:
            return
        self.refresh_environment()
        self.poll_records()
        self.poll_timer.start()
        self.env_timer.start()
        self.notice_timer.start(0)

    def refresh(self) -> None:
        self.statusBar().showMessage("Refreshing…", 2000)
        self.refresh_environment()
        self.poll_records()
        if not self._notices_running and not self.notice_timer.isActive():
            self.notice_timer.start(0)

    def poll_records(self) -> None:
        if self._polling or self._closing:
            return
        self._polling = True
        generation, settings, cursor, reader = self._generation, self.settings, self._cursor, self._reader

        def work(_report: Report) -> tuple[Any, list[Any], str | None, bool]:
            r = reader if reader is not None else self.backend.open_reader(settings)
            out: list[Any] = []
            new_cursor = cursor
            try:
                for _page in range(MAX_PAGES_PER_POLL):
                    records, new_cursor = r.changed_since(new_cursor)
                    out.extend(records)
                    if len(records) < PAGE_SIZE:
                        return r, out, new_cursor, False
            except Exception:
                _close_quietly(r)
                raise
            return r, out, new_cursor, True

        def done(result: tuple[Any, list[Any], str | None, bool]) -> None:
            self._polling = False
            r, records, new_cursor, more = result
            if generation != self._generation:
                self._close_later(r)
                return
            self._reader, self._cursor = r, new_cursor
            self.banners.clear("store")
            self._apply_records(records)
            if more:  # a big backlog: keep the GUI responsive, fetch the rest in the next round
                QTimer.singleShot(0, self.poll_records)

        def failed(exc: BaseException) -> None:
            self._polling = False
            if generation != self._generation:
                return
            self._reader = None
            if not self._loaded_once:
                self.record_count.setText("not available")
            if self.banners.banner("env") is not None:
                return  # the environment banner already says what is missing and how to fix it
            seconds = max(1, self.poll_timer.interval() // 1000)
            self.banners.show_message(
                "store",
                "error",
                f"Can't read the file list: {describe_error(exc)} Retrying every {seconds} s.",
                "Set up environment…",
                self.setup_environment,
            )

        self.jobs.start(work, on_done=done, on_error=failed, name="poll records")

    def _apply_records(self, records: list[Any]) -> None:
        """Queue records for the model; big batches go in slices so the GUI never stalls on one."""
        self._pending.extend(records)
        self._drain_pending()

    def _drain_pending(self) -> None:
        batch, self._pending = self._pending[:APPLY_BATCH], self._pending[APPLY_BATCH:]
        if batch:
            self.records.upsert(batch)
            if self._loaded_once and len(batch) <= 20:  # live changes, not the first load of the list
                for record in batch:
                    log.info("file list shows %s: %s", record.key, record.status)
        if self._pending:  # a real (non-zero) timer, so paints and other timers run in between
            QTimer.singleShot(APPLY_PAUSE_MS, self._drain_pending)
        elif not self._loaded_once:
            self._loaded_once = True
            self._update_count()
            log.info("file list loaded: %d files", self.records.rowCount())

    def _records_changed(self, records: list[Any]) -> None:
        self.uploads.on_records(records)
        current = self.detail.record
        if current is not None:
            for record in records:
                if (record.bucket, record.key) == (current.bucket, current.key):
                    self.detail.show_record(record)
                    break

    def poll_notices(self) -> None:
        if self._notices_running or self._closing:
            return
        self._notices_running = True
        generation, settings, reader = self._generation, self.settings, self._notice_reader

        def work(_report: Report) -> tuple[Any, list[Any]]:
            r = reader if reader is not None else self.backend.open_notices(settings)
            try:
                notices = r.receive(wait_seconds=1)
            except Exception:
                _close_quietly(r)
                raise
            return r, list(notices)

        def done(result: tuple[Any, list[Any]]) -> None:
            self._notices_running = False
            r, notices = result
            if generation != self._generation:
                self._close_later(r)
            else:
                self._notice_reader = r
                self.notices.list.set_empty_text(
                    "No notices yet", "When the function finishes a file, it is announced here."
                )
                for notice in sorted(notices, key=lambda n: style.timestamp(n.sent_at)):
                    self._on_notice(notice)
            if not self._closing:
                self.notice_timer.start(NOTICE_NEXT_MS)

        def failed(exc: BaseException) -> None:
            self._notices_running = False
            if generation == self._generation:
                self._notice_reader = None
                self.notices.list.set_empty_text(
                    "Notices unavailable",
                    f"{describe_error(exc)}\nUploads still finish when their file appears in the list.",
                )
            if not self._closing:
                self.notice_timer.start(NOTICE_RETRY_MS)

        self.jobs.start(work, on_done=done, on_error=failed, name="receive notices")

    def _on_notice(self, notice: Any) -> None:
        if not self.notices.add_notice(notice):
            return
        self.notices_title.setText(f"Notices ({self.notices.count()})")
        self.uploads.on_notice(notice)
        if self.tray is not None and self.tray.isVisible():
            ok = str(notice.status).upper() == "PROCESSED"
            warned = int(getattr(notice, "warnings_count", 0) or 0) if ok else 0
            ready = f"is ready ({warned} warning{'s' if warned != 1 else ''})" if warned else "is ready"
            self.tray.showMessage(
                "CSV Drop",
                f"{notice.file_name} {ready if ok else 'could not be processed'}",
                QSystemTrayIcon.MessageIcon.Information if ok else QSystemTrayIcon.MessageIcon.Warning,
                5000,
            )
        # A notice means the store has something new: fetch it now rather than at the next tick.
        self.poll_records()

    def _clear_notices(self) -> None:
        self.notices.list.clear()
        self.notices_title.setText("Notices")

    def refresh_environment(self, quiet: bool = False) -> None:
        if self._closing:
            return
        if self._env_running:  # a check is under way; its answer may predate what changed: check again
            self._env_again = True
            return
        self._env_running = True
        self._env_again = False
        if not quiet:
            self.env_bar.set_checking()
        generation, settings = self._generation, self.settings

        def done(status: dict[str, Any]) -> None:
            self._env_running = False
            if generation == self._generation:
                self.env_bar.set_status(status)
                self._environment_banner(status)
            if self._env_again:
                self.refresh_environment(quiet=True)

        def failed(exc: BaseException) -> None:
            self._env_running = False
            if generation == self._generation:
                self.env_bar.set_error(describe_error(exc))
            if self._env_again:
                self.refresh_environment(quiet=True)

        self.jobs.start(
            lambda _r: self.backend.environment_status(settings),
            on_done=done,
            on_error=failed,
            name="environment",
        )

    def _environment_banner(self, status: dict[str, Any]) -> None:
        """One banner that says what is missing and offers the fix, instead of errors from every part."""

        def bad(key: str) -> bool:
            health = status.get(key)
            return health is not None and health.ok is False

        settings = self.settings
        if bad("localstack"):
            where = settings.aws_endpoint if settings.mode == "local" else f"AWS ({settings.region})"
            text = f"Nothing answers at {where}." + (
                " Set up environment can start the local stack for you." if settings.mode == "local" else ""
            )
            self.banners.show_message("env", "warning", text, "Set up environment…", self.setup_environment)
        elif bad("database") or bad("function") or bad("trigger"):
            missing = [
                name
                for key, name in (("database", "database"), ("function", "function"), ("trigger", "upload trigger"))
                if bad(key)
            ]
            self.banners.show_message(
                "env",
                "info",
                f"The environment is not set up yet ({', '.join(missing)} missing): uploads will not be "
                "profiled until it is.",
                "Set up environment…",
                self.setup_environment,
            )
        else:
            self.banners.clear("env")
            return
        self.banners.clear("store")  # the environment banner already explains why the store fails

    def _close_later(self, reader: Any) -> None:
        if reader is not None:
            self.jobs.start(lambda _r: _close_quietly(reader), name="close reader")

    # ------------------------------------------------------------------------------------------------
    # uploads
    def add_paths(self, paths: list[Path]) -> None:
        self.uploads.add_paths(paths)

    def _queue_empty_text(self, drag_state: str = "") -> None:
        palette = self.queue_view.palette()
        base = QApplication.palette().color(QPalette.ColorRole.Base)
        if drag_state:  # tint the list itself, not just the dashed frame around it
            accent = QColor(style.BLUE if drag_state == "accept" else style.RED)
            base = QColor(
                (base.red() * 9 + accent.red()) // 10,
                (base.green() * 9 + accent.green()) // 10,
                (base.blue() * 9 + accent.blue()) // 10,
            )
        palette.setColor(QPalette.ColorRole.Base, base)
        self.queue_view.setPalette(palette)
        if drag_state == "accept":
            self.queue_view.set_empty_text("Release to add these files", "Folders add the .csv files inside them.")
        elif drag_state == "reject":
            self.queue_view.set_empty_text(
                "These cannot be dropped here", "Only files and folders from this computer can be uploaded."
            )
        else:
            self.queue_view.set_empty_text(
                "Drop CSV files or folders here",
                "or press Add files… (Ctrl+O). Each file is checked on this computer first; "
                "only valid CSV files are uploaded.",
            )

    def add_files_dialog(self) -> None:
        start = str(self.state.value("dialogs/last_dir", "") or Path.home())
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add CSV files", start, "CSV files (*.csv *.tsv *.txt);;All files (*)"
        )
        if files:
            self.state.setValue("dialogs/last_dir", str(Path(files[0]).parent))
            self.add_paths([Path(f) for f in files])

    def add_folder_dialog(self) -> None:
        start = str(self.state.value("dialogs/last_dir", "") or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of CSV files", start)
        if folder:
            self.state.setValue("dialogs/last_dir", folder)
            self.add_paths([Path(folder)])

    def clear_finished(self) -> None:
        n = self.uploads.clear_finished()
        if n:
            self.statusBar().showMessage(f"Cleared {n} finished upload{'s' if n != 1 else ''}.", 3000)

    def selected_uploads(self) -> list[UploadItem]:
        rows = sorted({i.row() for i in self.queue_view.selectionModel().selectedRows()})
        return [item for r in rows if (item := self.uploads.model.item_at(r)) is not None]

    def cancel_selected_uploads(self) -> None:
        for item in self.selected_uploads():
            self.uploads.cancel(item)

    def _queue_action(self, row: int) -> None:
        item = self.uploads.model.item_at(row)
        if item is None:
            return
        if item.state in (UploadState.QUEUED, UploadState.VALIDATING, UploadState.UPLOADING):
            self.uploads.cancel(item)
        elif can_retry(item):
            self.uploads.retry(item)

    def _queue_double_clicked(self, index: QModelIndex) -> None:
        item = self.uploads.model.item_at(index.row())
        if item is not None and item.key and item.state in (UploadState.DONE, UploadState.FAILED):
            self.select_record(item.bucket, item.key)

    def _queue_menu(self, pos: QPoint) -> None:
        items = self.selected_uploads()
        menu = QMenu(self)
        cancel = menu.addAction("Cancel")
        cancel.setEnabled(
            any(i.state in (UploadState.QUEUED, UploadState.VALIDATING, UploadState.UPLOADING) for i in items)
        )
        retry = menu.addAction("Retry")
        retry.setEnabled(any(can_retry(i) for i in items))
        show = menu.addAction("Show in file list")
        show.setEnabled(len(items) == 1 and bool(items[0].key))
        copy_url = menu.addAction("Copy S3 address")
        copy_url.setEnabled(any(i.key for i in items))
        menu.addSeparator()
        remove = menu.addAction("Remove from list")
        remove.setEnabled(bool(items))
        chosen = menu.exec(self.queue_view.viewport().mapToGlobal(pos))
        if chosen is cancel:
            for i in items:
                self.uploads.cancel(i)
        elif chosen is retry:
            for i in items:
                self.uploads.retry(i)
        elif chosen is show and items[0].key:
            self.select_record(items[0].bucket, items[0].key)
        elif chosen is copy_url:
            QApplication.clipboard().setText("\n".join(i.s3_url for i in items if i.key))
        elif chosen is remove:
            self.uploads.remove(items)

    def _upload_summary(self, text: str) -> None:
        self.upload_summary.setText(text)
        finished = any(i.state.finished for i in self.uploads.items)
        failed = any(
            i.state in (UploadState.FAILED, UploadState.CANCELLED) or (can_retry(i) and i.stalled)
            for i in self.uploads.items
        )
        self.clear_button.setEnabled(finished)
        self.clear_action.setEnabled(finished)
        self.retry_button.setEnabled(failed)
        self.retry_action.setEnabled(failed)

    def _upload_problem(self, key: str, message: str) -> None:
        banner_key = f"uploads-{key}"
        if not message:
            self.banners.clear(banner_key)
        elif key == "upload":
            self.banners.show_message(banner_key, "error", message, "Retry failed", self.uploads.retry_all_failed)
        else:
            self.banners.show_message(banner_key, "warning", message)

    def _uploaded(self, item: UploadItem) -> None:
        trigger = self.env_bar.lights["trigger"]
        if trigger.ok is False:
            self.uploads.mark_stalled(
                item,
                f"Uploaded to {item.s3_url}, but the upload trigger is not set up, so nothing will profile it: "
                "run Set up environment (Ctrl+Shift+S), then Retry.",
            )
        if item.key:
            record = self.records.find(item.bucket, item.key)
            if record is not None:
                self.uploads.check_existing(item, record)
        self.poll_records()

    # ------------------------------------------------------------------------------------------------
    # browser
    def _filter_changed(self, text: str) -> None:
        self.proxy.set_text(text)

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _update_count(self, *_args: Any) -> None:
        total = self.records.rowCount()
        shown = self.proxy.rowCount()
        if total == 0:
            self.record_count.setText("" if self._loaded_once else "loading…")
        elif shown == total:
            self.record_count.setText(f"{total:,} file{'s' if total != 1 else ''}")
        else:
            self.record_count.setText(f"showing {shown:,} of {total:,}")
        has = shown > 0
        self.copy_button.setEnabled(has)
        self.export_button.setEnabled(has)

    def selected_records(self) -> list[Any]:
        rows = self.records_view.selectionModel().selectedRows()
        rows.sort(key=lambda i: i.row())
        return [i.data(RecordRole) for i in rows]

    def _selection_changed(self, *_args: Any) -> None:
        current = self.records_view.selectionModel().currentIndex()
        selected = self.selected_records()
        record = None
        if current.isValid() and self.records_view.selectionModel().isRowSelected(current.row(), QModelIndex()):
            record = current.data(RecordRole)
        elif selected:
            record = selected[0]
        self.detail.show_record(record)

    def select_record(self, bucket: str, key: str) -> bool:
        row = self.records.row_for(bucket, key)
        if row < 0:
            self.statusBar().showMessage(f"s3://{bucket}/{key} is not in the file list yet.", 4000)
            return False
        index = self.proxy.mapFromSource(self.records.index(row, 0))
        if not index.isValid():  # hidden by the filters: show everything again
            self.filter_edit.clear()
            self.status_combo.setCurrentIndex(0)
            index = self.proxy.mapFromSource(self.records.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.records_view.selectionModel().setCurrentIndex(index, flags)
        self.records_view.scrollTo(index)
        return True

    def _records_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.copy_action)
        menu.addAction(self.export_action)
        records = self.selected_records()
        copy_url = menu.addAction("Copy S3 address")
        copy_url.setEnabled(bool(records))
        chosen = menu.exec(self.records_view.viewport().mapToGlobal(pos))
        if chosen is copy_url:
            QApplication.clipboard().setText("\n".join(f"s3://{r.bucket}/{r.key}" for r in records))

    def _records_for_action(self) -> list[Any]:
        records = self.selected_records()
        if records:
            return records
        return [self.proxy.index(r, 0).data(RecordRole) for r in range(self.proxy.rowCount())]

    def copy_selection(self) -> None:
        records = self.selected_records()
        if not records:
            self.statusBar().showMessage("Select files in the list to copy them.", 3000)
            return
        heads = [c.title for c in COLUMNS] + ["Error"]
        lines = ["\t".join(heads)]
        for r in records:
            cells = [c.display(r) for c in COLUMNS] + [r.error or ""]
            lines.append("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in cells))
        QApplication.clipboard().setText("\n".join(lines) + "\n")
        self.statusBar().showMessage(f"Copied {len(records)} file{'s' if len(records) != 1 else ''}.", 3000)

    def export_selection(self) -> None:
        records = self._records_for_action()
        if not records:
            self.statusBar().showMessage("Nothing to export yet.", 3000)
            return
        start = str(self.state.value("dialogs/export_dir", "") or Path.home())
        path_text, chosen_filter = QFileDialog.getSaveFileName(
            self,
            f"Export {len(records)} file records",
            str(Path(start) / "csvdrop-metadata.csv"),
            "CSV (*.csv);;JSON (*.json)",
        )
        if not path_text:
            return
        path = Path(path_text)
        as_json = path.suffix.lower() == ".json" or (not path.suffix and "JSON" in chosen_filter)
        fmt: Format = "json" if as_json else "csv"
        if not path.suffix:
            path = path.with_suffix("." + fmt)
        self.state.setValue("dialogs/export_dir", str(path.parent))

        def done(_r: Any) -> None:
            self.banners.clear("export")
            self.statusBar().showMessage(f"Exported {len(records)} records to {path}", 5000)

        def failed(exc: BaseException) -> None:
            self.banners.show_message("export", "error", f"Export to {path} failed: {describe_error(exc)}")

        self.jobs.start(
            lambda _r: self.backend.export_records(records, path, fmt),
            on_done=done,
            on_error=failed,
            name="export",
        )

    # ------------------------------------------------------------------------------------------------
    # environment and settings
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
        self.refresh_environment()
        self.poll_records()

    def _reset_store_view(self) -> None:
        self._generation += 1
        self._close_later(self._reader)
        self._close_later(self._notice_reader)
        self._reader = self._notice_reader = None
        self._cursor = None
        self._pending = []
        self._polling = self._notices_running = False
        self._loaded_once = False
        self.records.clear()
        self.detail.show_record(None)
        self._update_count()

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        keys = dialog.changed_keys()
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
        store_changed = any(
            getattr(settings, k) != getattr(self.settings, k)
            for k in (
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
        )
        self.settings = settings
        self.uploads.set_settings(settings)
        self.poll_timer.setInterval(max(100, settings.poll_interval_ms))
        self._apply_settings_to_ui()
        if store_changed:
            self.banners.clear("store")
            self._reset_store_view()
            self.refresh()

    # ------------------------------------------------------------------------------------------------
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
        for timer in (self.poll_timer, self.env_timer, self.notice_timer):
            timer.stop()
        readers = [r for r in (self._reader, self._notice_reader) if r is not None]
        self._reader = self._notice_reader = None
        if readers:
            self.jobs.start(lambda _r: _close_all(readers), name="close readers")
        if self.tray is not None:
            self.tray.hide()
        ok_uploads = self.uploads.shutdown(timeout_ms)
        self._stopped = self.jobs.shutdown(timeout_ms) and ok_uploads
        return self._stopped


def _close_all(resources: list[Any]) -> None:
    for resource in resources:
        _close_quietly(resource)


def _close_quietly(resource: Any) -> None:
    try:
        resource.close()
    except Exception:  # closing a broken connection may fail; there is nothing left to do with it
        log.debug("close failed", exc_info=True)
