"""The uploads panel: the queue of dropped files with their progress, and the drop zone around it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSettings,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.uploads import CANCELLABLE, UploadItem, UploadManager, UploadQueueModel, UploadState, can_retry
from gui.widgets import DropZone, ElidedLabel, MiddleElideDelegate, TableView, section_title

ModelIndex = QModelIndex | QPersistentModelIndex


def _inset(rect: QRect, max_height: int) -> QRect:
    """``rect`` with a small margin, at most ``max_height`` tall, vertically centred."""
    pad = max(2, min(rect.height(), max_height) // 8)
    inner = rect.adjusted(pad, pad, -pad, -pad)
    if inner.height() > max_height:
        inner.setTop(inner.top() + (inner.height() - max_height) // 2)
        inner.setHeight(max_height)
    return inner


_BAR_COLORS = {
    UploadState.DONE: style.GREEN,
    UploadState.PROCESSING: style.PURPLE,
    UploadState.FAILED: style.GREY,
    UploadState.CANCELLED: style.GREY,
}


def fitting_text(texts: list[str], metrics: QFontMetrics, width: int) -> str:
    """The first of ``texts`` (longest first) that fits a bar ``width`` wide with two spaces clear at each end, else
    the last one elided: text run into the bar's border, or a character split by it, is hard to read."""
    room = width - 2 * metrics.horizontalAdvance("  ")
    for text in texts:
        if metrics.horizontalAdvance(text) <= room:
            return text
    return metrics.elidedText(texts[-1], Qt.TextElideMode.ElideRight, max(room, 0))


class ProgressDelegate(QStyledItemDelegate):
    """Draws a progress bar with the bytes/speed text inside it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        item = index.data(UploadQueueModel.ItemRole)
        fraction = item.fraction() if isinstance(item, UploadItem) else None
        if fraction is None:
            super().paint(painter, option, index)
            return
        # Selection background first, then the bar inset a little so rows do not touch.
        base = QStyleOptionViewItem(option)
        self.initStyleOption(base, index)
        base.text = ""
        widget = option.widget
        style_ = widget.style() if widget is not None else QApplication.style()
        style_.drawControl(QStyle.ControlElement.CE_ItemViewItem, base, painter, widget)
        bar = QStyleOptionProgressBar()
        bar.rect = _inset(option.rect, option.fontMetrics.height() * 3 // 2)
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = round(fraction * 1000)
        bar.text = fitting_text(item.progress_texts(), option.fontMetrics, bar.rect.width())
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.fontMetrics = option.fontMetrics
        bar.palette = style.progress_palette(option.palette, _BAR_COLORS.get(item.state))
        style_.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)


class ActionDelegate(QStyledItemDelegate):
    """A push button ("Cancel" / "Retry") painted in the cell; a click emits ``clicked(row)``."""

    clicked = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pressed: QPersistentModelIndex | None = None

    def _button_rect(self, option: QStyleOptionViewItem) -> QRect:
        return _inset(option.rect, option.fontMetrics.height() * 9 // 5)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        base = QStyleOptionViewItem(option)
        self.initStyleOption(base, index)
        base.text = ""
        widget = option.widget
        style_ = widget.style() if widget is not None else QApplication.style()
        style_.drawControl(QStyle.ControlElement.CE_ItemViewItem, base, painter, widget)
        text = index.data()
        if not text:
            return
        button = QStyleOptionButton()
        button.rect = self._button_rect(option)
        button.text = str(text)
        button.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised
        if self._pressed is not None and self._pressed == QPersistentModelIndex(index):
            button.state |= QStyle.StateFlag.State_Sunken
        button.palette = option.palette
        button.fontMetrics = option.fontMetrics
        style_.drawControl(QStyle.ControlElement.CE_PushButton, button, painter, widget)

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        fm = option.fontMetrics
        hint.setWidth(max(fm.horizontalAdvance("Cancel"), fm.horizontalAdvance("Retry")) + fm.height() * 2)
        return hint

    def editorEvent(
        self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem, index: ModelIndex
    ) -> bool:
        if not index.data():
            return False
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            if self._button_rect(option).contains(event.position().toPoint()):
                self._pressed = QPersistentModelIndex(index)
                return True
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            pressed, self._pressed = self._pressed, None
            if pressed is not None and pressed == QPersistentModelIndex(index):
                if self._button_rect(option).contains(event.position().toPoint()):
                    self.clicked.emit(index.row())
                return True
        return False


class UploadsPanel(QWidget):
    """The "Uploads" heading with the queue's summary and buttons, and the queue inside the drop zone.

    Works the queue through ``uploads`` (cancel, retry, remove); asks for the file list's record of an upload with
    ``record_requested(bucket, key)`` and for a status-bar line with ``message(text, milliseconds)``.
    """

    record_requested = Signal(str, str)
    message = Signal(str, int)

    def __init__(self, uploads: UploadManager, state: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.uploads = uploads
        self.state = state
        fm = self.fontMetrics()
        em = fm.horizontalAdvance("M")
        gap = fm.height() // 2
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(gap // 2)
        head = QHBoxLayout()
        head.addWidget(section_title("Uploads"))
        self.summary = ElidedLabel()
        self.summary.setStyleSheet("color: palette(placeholder-text);")
        head.addWidget(self.summary)
        head.addStretch(1)
        self.add_button = QPushButton("Add files…")
        self.retry_button = QPushButton("Retry failed")
        self.clear_button = QPushButton("Clear finished")
        for button in (self.add_button, self.retry_button, self.clear_button):
            head.addWidget(button)
        layout.addLayout(head)

        self.drop_zone = DropZone()
        self.drop_zone.setAccessibleName("Drop CSV files here")
        inside = QVBoxLayout(self.drop_zone)
        border = max(3, fm.height() // 4)
        inside.setContentsMargins(border, border, border, border)
        self.view = TableView()
        self.view.setAccessibleName("Upload queue")
        self.view.setModel(uploads.model)
        self._show_drop_hint()
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        # Two lines per row, so a rejection reason or "what to do" is readable without a tooltip.
        self.view.verticalHeader().setDefaultSectionSize(int(fm.height() * 2.6))
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.progress_delegate = ProgressDelegate(self.view)
        self.action_delegate = ActionDelegate(self.view)
        self.view.setItemDelegateForColumn(UploadQueueModel.PROGRESS, self.progress_delegate)
        self.view.setItemDelegateForColumn(UploadQueueModel.ACTION, self.action_delegate)
        self.view.setItemDelegateForColumn(UploadQueueModel.FILE, MiddleElideDelegate(self.view))
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(UploadQueueModel.FILE, em * 16)  # real names are long: cut in the middle beyond
        icon = QSize(fm.height() * 2 // 3, fm.height() * 2 // 3)
        self.view.setIconSize(icon)
        header.resizeSection(UploadQueueModel.STATE, fm.horizontalAdvance("Processing") + icon.width() + em * 2)
        header.resizeSection(UploadQueueModel.PROGRESS, em * 17)
        header.setSectionResizeMode(UploadQueueModel.DETAILS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(UploadQueueModel.ACTION, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(UploadQueueModel.ACTION, em * 6)
        header.setHighlightSections(False)
        inside.addWidget(self.view)
        layout.addWidget(self.drop_zone, 1)

        self.drop_zone.dropped.connect(uploads.add_paths)
        self.drop_zone.drag_state_changed.connect(self._show_drop_hint)
        self.action_delegate.clicked.connect(self.run_row_action)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.customContextMenuRequested.connect(self._menu)
        uploads.summary_changed.connect(self.summary.setText)

    def focus_order(self) -> list[QWidget]:
        """The panel's stops for the Tab key, in order (the window chains the panels' orders)."""
        return [self.add_button, self.retry_button, self.clear_button, self.view]

    # -- commands ------------------------------------------------------------------------------------
    def add_files_dialog(self) -> None:
        start = str(self.state.value("dialogs/last_dir", "") or Path.home())
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add CSV files", start, "CSV files (*.csv *.tsv *.txt);;All files (*)"
        )
        if files:
            self.state.setValue("dialogs/last_dir", str(Path(files[0]).parent))
            self.uploads.add_paths([Path(f) for f in files])

    def add_folder_dialog(self) -> None:
        start = str(self.state.value("dialogs/last_dir", "") or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of CSV files", start)
        if folder:
            self.state.setValue("dialogs/last_dir", folder)
            self.uploads.add_paths([Path(folder)])

    def clear_finished(self) -> None:
        n = self.uploads.clear_finished()
        if n:
            self.message.emit(f"Cleared {n} finished upload{'s' if n != 1 else ''}.", 3000)

    def selected_uploads(self) -> list[UploadItem]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [item for r in rows if (item := self.uploads.model.item_at(r)) is not None]

    def cancel_selected(self) -> None:
        for item in self.selected_uploads():
            self.uploads.cancel(item)

    def run_row_action(self, row: int) -> None:
        """The row's button: Cancel while the file is on its way, Retry once it failed or stalled."""
        item = self.uploads.model.item_at(row)
        if item is None:
            return
        if item.state in CANCELLABLE:
            self.uploads.cancel(item)
        elif can_retry(item):
            self.uploads.retry(item)

    # -- internals -----------------------------------------------------------------------------------
    def _double_clicked(self, index: QModelIndex) -> None:
        item = self.uploads.model.item_at(index.row())
        if item is not None and item.key and item.state in (UploadState.DONE, UploadState.FAILED):
            self.record_requested.emit(item.bucket, item.key)

    def _menu(self, pos: QPoint) -> None:
        items = self.selected_uploads()
        menu = QMenu(self)
        cancel = menu.addAction("Cancel")
        cancel.setEnabled(any(i.state in CANCELLABLE for i in items))
        retry = menu.addAction("Retry")
        retry.setEnabled(any(can_retry(i) for i in items))
        show = menu.addAction("Show in file list")
        show.setEnabled(len(items) == 1 and bool(items[0].key))
        copy_url = menu.addAction("Copy S3 address")
        copy_url.setEnabled(any(i.key for i in items))
        menu.addSeparator()
        remove = menu.addAction("Remove from list")
        remove.setEnabled(bool(items))
        chosen = menu.exec(self.view.viewport().mapToGlobal(pos))
        if chosen is cancel:
            for i in items:
                self.uploads.cancel(i)
        elif chosen is retry:
            for i in items:
                self.uploads.retry(i)
        elif chosen is show and items[0].key:
            self.record_requested.emit(items[0].bucket, items[0].key)
        elif chosen is copy_url:
            QApplication.clipboard().setText("\n".join(i.s3_url for i in items if i.key))
        elif chosen is remove:
            self.uploads.remove(items)

    def _show_drop_hint(self, drag_state: str = "") -> None:
        palette = self.view.palette()
        base = QApplication.palette().color(QPalette.ColorRole.Base)
        if drag_state:  # tint the list itself, not just the dashed frame around it
            accent = QColor(style.BLUE if drag_state == "accept" else style.RED)
            base = QColor(
                (base.red() * 9 + accent.red()) // 10,
                (base.green() * 9 + accent.green()) // 10,
                (base.blue() * 9 + accent.blue()) // 10,
            )
        palette.setColor(QPalette.ColorRole.Base, base)
        self.view.setPalette(palette)
        if drag_state == "accept":
            self.view.set_empty_text("Release to add these files", "Folders add the .csv files inside them.")
        elif drag_state == "reject":
            self.view.set_empty_text(
                "These cannot be dropped here", "Only files and folders from this computer can be uploaded."
            )
        else:
            self.view.set_empty_text(
                "Drop CSV files or folders here",
                "or press Add files… (Ctrl+O). Each file is checked on this computer first; "
                "only valid CSV files are uploaded.",
            )
