"""The browser panel: every file the function profiled, filtered by text and status, newest upload first."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.records import (
    COLUMNS,
    STATUS_COLORS,
    STATUS_LABELS,
    WARNINGS,
    RecordFilterProxy,
    RecordRole,
    RecordTableModel,
    record_id,
)
from gui.widgets import ElidedLabel, MiddleElideDelegate, TableView, section_title

if TYPE_CHECKING:
    from backend.export import Format
    from backend.store import MetadataRecord

log = logging.getLogger(__name__)

LIVE_CHANGES = 20  # a batch this small is a live change (logged), not part of loading the list
# Set once the user changed a column's width by hand: from then on the widths are theirs alone (the window keeps
# them with its state), never fitted to the data again.
BY_HAND_KEY = "views/records_widths_by_hand"
FIT_ROWS = 1000  # the records of a session the widths are fitted to: the first page, however it arrives
# The widest a column is made to fit its content, in "M" widths: a few very long names or notes must not push
# the other columns out of sight (they elide; the tooltip has the whole text). The Key column is the last and
# takes what is left.
FIT_CAPS = {RecordTableModel.FILE: 28, RecordTableModel.NOTES: 22, RecordTableModel.KEY: 40}


class BrowserPanel(QWidget):
    """The "Files in <bucket>" heading, the filters, Copy and Export, and the table.

    ``current_record_changed(record or None)`` says which record the detail pane should show (also when that
    record is updated in place); ``message(text, milliseconds)`` asks for a status-bar line.
    """

    current_record_changed = Signal(object)  # MetadataRecord | None
    message = Signal(str, int)

    def __init__(self, state: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model = RecordTableModel(self)
        self.proxy = RecordFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._loaded = False
        self._current: MetadataRecord | None = None
        self._menu_actions: list[QAction] = []

        fm = self.fontMetrics()
        gap = fm.height() // 2
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(gap // 2)
        head = QHBoxLayout()
        self.title = section_title("Files")
        head.addWidget(self.title)
        self.count_label = ElidedLabel()
        self.count_label.setStyleSheet("color: palette(placeholder-text);")
        head.addWidget(self.count_label)
        head.addStretch(1)
        layout.addLayout(head)

        filters = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name, key or error (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter files")
        self.status_combo = QComboBox()
        self.status_combo.setAccessibleName("Status filter")
        self.status_combo.addItem("All statuses", "")
        for look in ("PROCESSED", WARNINGS, "FAILED"):
            self.status_combo.addItem(style.dot_icon(STATUS_COLORS[look]), STATUS_LABELS[look], look)
        self.status_combo.setItemData(1, "Every processed file, with or without warnings", Qt.ItemDataRole.ToolTipRole)
        self.status_combo.setItemData(
            2, "Processed, but something in the file was worked around", Qt.ItemDataRole.ToolTipRole
        )
        self.status_combo.setToolTip("Show only files with this status")
        self.copy_button = QPushButton("Copy")
        self.export_button = QPushButton("Export…")
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.copy_button)
        filters.addWidget(self.export_button)
        layout.addLayout(filters)

        self.view = TableView()
        self.header = RecordHeader(self.view)
        self.view.setHorizontalHeader(self.header)
        self.view.setAccessibleName("Files in the bucket")
        self.view.setModel(self.proxy)
        # names and keys share long prefixes ("pollock_survey__station_…"): their ends tell the rows apart
        self.view.setItemDelegateForColumn(RecordTableModel.FILE, MiddleElideDelegate(self.view))
        self.view.setItemDelegateForColumn(RecordTableModel.KEY, MiddleElideDelegate(self.view))
        self.view.set_empty_text(
            "No files yet",
            "Files appear here once the function has profiled them. Nothing showing after an upload? "
            "Check the environment lights below or run Set up environment (Ctrl+Shift+S).",
        )
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(int(fm.height() * 1.6))
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.header
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        icon = QSize(fm.height() * 2 // 3, fm.height() * 2 // 3)
        self.view.setIconSize(icon)
        # the titles, until records come: fit_columns widens the columns to them (and only widens); the file
        # name, the column the list is read by, starts with room for a usual name, so the empty list looks it
        for col in range(len(COLUMNS)):
            header.resizeSection(col, self._minimum_width(col))
        header.resizeSection(RecordTableModel.FILE, fm.horizontalAdvance("M") * 16)
        self._fit_budget = 0 if _true(self.state.value(BY_HAND_KEY)) else FIT_ROWS
        self.view.sortByColumn(RecordTableModel.UPLOADED, Qt.SortOrder.DescendingOrder)
        layout.addWidget(self.view, 1)

        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.status_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_status(self.status_combo.currentData() or "")
        )
        for signal in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
            self.proxy.layoutChanged,
        ):
            signal.connect(self._update_count)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.customContextMenuRequested.connect(self._menu)
        self.model.records_changed.connect(self._records_changed)
        header.resized_by_hand.connect(self._resized_by_hand)
        self._update_count()

    def focus_order(self) -> list[QWidget]:
        """The panel's stops for the Tab key, in order (the window chains the panels' orders)."""
        return [self.filter_edit, self.status_combo, self.copy_button, self.export_button, self.view]

    # -- what the window feeds in --------------------------------------------------------------------
    def add_menu_actions(self, *actions: QAction) -> None:
        """Actions of the window offered in the list's context menu too (Copy, Export)."""
        self._menu_actions.extend(actions)

    def set_bucket(self, bucket: str) -> None:
        self.title.setText(f"Files in {bucket}")

    @property
    def loaded(self) -> bool:
        """The store's first answer is all in the list (until :meth:`reset`)."""
        return self._loaded

    def add_records(self, records: list[MetadataRecord]) -> None:
        self.model.upsert(records)
        if records and self._fit_budget > 0:
            measured = records[: self._fit_budget]
            self._fit_budget -= len(measured)
            self.fit_columns(measured)
        if self._loaded and len(records) <= LIVE_CHANGES:
            for record in records:
                log.info("file list shows %s: %s", record.key, record.status)

    def mark_loaded(self) -> None:
        """Everything the store had at its first answer is in the list (later calls change nothing)."""
        if self._loaded:
            return
        self._loaded = True
        self._update_count()
        log.info("file list loaded: %d files", self.model.rowCount())

    def set_unavailable(self) -> None:
        """The store did not answer: say so where the count goes, unless a list is already shown."""
        if not self._loaded:
            self.count_label.setText("not available")

    def reset(self) -> None:
        """Empty, as before the first load (the store changed or was torn down)."""
        self._loaded = False
        self.model.clear()
        self._show(None)
        self._update_count()

    # -- commands ------------------------------------------------------------------------------------
    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def selected_records(self) -> list[MetadataRecord]:
        rows = self.view.selectionModel().selectedRows()
        rows.sort(key=lambda i: i.row())
        return [i.data(RecordRole) for i in rows]

    def select_record(self, bucket: str, key: str) -> bool:
        row = self.model.row_for(bucket, key)
        if row < 0:
            self.message.emit(f"s3://{bucket}/{key} is not in the file list yet.", 4000)
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():  # hidden by the filters: show everything again
            self.filter_edit.clear()
            self.status_combo.setCurrentIndex(0)
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)
        return True

    def copy_selection(self) -> None:
        records = self.selected_records()
        if not records:
            self.message.emit("Select files in the list to copy them.", 3000)
            return
        heads = [c.title for c in COLUMNS] + ["Error"]
        lines = ["\t".join(heads)]
        for r in records:
            cells = [c.display(r) for c in COLUMNS] + [r.error or ""]
            lines.append("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in cells))
        QApplication.clipboard().setText("\n".join(lines) + "\n")
        self.message.emit(f"Copied {len(records)} file{'s' if len(records) != 1 else ''}.", 3000)

    def choose_export(self) -> tuple[list[MetadataRecord], Path, Format] | None:
        """The records to export (the selection, else every file shown) and where to, asked with a file dialog;
        None when there is nothing to export or the user cancelled."""
        records = self.selected_records() or [
            self.proxy.index(r, 0).data(RecordRole) for r in range(self.proxy.rowCount())
        ]
        if not records:
            self.message.emit("Nothing to export yet.", 3000)
            return None
        start = str(self.state.value("dialogs/export_dir", "") or Path.home())
        path_text, chosen_filter = QFileDialog.getSaveFileName(
            self,
            f"Export {len(records)} file records",
            str(Path(start) / "csvdrop-metadata.csv"),
            "CSV (*.csv);;JSON (*.json)",
        )
        if not path_text:
            return None
        path = Path(path_text)
        as_json = path.suffix.lower() == ".json" or (not path.suffix and "JSON" in chosen_filter)
        fmt: Format = "json" if as_json else "csv"
        if not path.suffix:
            path = path.with_suffix("." + fmt)
        self.state.setValue("dialogs/export_dir", str(path.parent))
        return records, path, fmt

    def fit_columns(self, records: Sequence[MetadataRecord]) -> None:
        """Widens each column to its widest text in ``records`` (up to the column's cap), never narrows one.

        The window calls this for the first page of records of each session: the widths fit the data from the
        start, also when the list fills slowly (an empty bucket gets its first files), and a width restored from
        the last session only grows (dates that were all today's and read "16:59" read "27 Nov 16:59" the next
        day: the next session widens the column for them). A width is never narrower than the column's title.
        Once the user sets a width by hand nothing is fitted any more, in this session or later ones
        (BY_HAND_KEY).
        """
        if not records or _true(self.state.value(BY_HAND_KEY)):
            return
        header = self.view.horizontalHeader()
        fm = self.view.fontMetrics()
        em = fm.horizontalAdvance("M")
        option = QStyleOptionViewItem()
        self.view.initViewItemOption(option)
        rows = [self.model.row_for(r.bucket, r.key) for r in records]
        for col in range(len(COLUMNS)):
            # one row per distinct text: the status, dates and counts repeat a lot
            by_text = {self.model.display_text(row, col): row for row in rows if row >= 0}
            if not by_text:
                continue
            widest = max(by_text, key=fm.horizontalAdvance)
            index = self.model.index(by_text[widest], col)
            delegate = self.view.itemDelegateForIndex(self.proxy.mapFromSource(index)) or self.view.itemDelegate()
            content = delegate.sizeHint(option, index).width() + em // 2
            cap = FIT_CAPS.get(col)
            wanted = max(min(content, em * cap) if cap else content, self._minimum_width(col))
            if wanted > header.sectionSize(col):
                header.resizeSection(col, wanted)

    # -- internals -----------------------------------------------------------------------------------
    def _minimum_width(self, col: int) -> int:
        """The title with room for the sort arrow (as the header's style draws them)."""
        return self.header.sectionSizeHint(col)

    def _resized_by_hand(self) -> None:
        self._fit_budget = 0
        self.state.setValue(BY_HAND_KEY, True)

    def _update_count(self, *_args: object) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        if total == 0:
            self.count_label.setText("" if self._loaded else "loading…")
        elif shown == total:
            self.count_label.setText(f"{total:,} file{'s' if total != 1 else ''}")
        else:
            self.count_label.setText(f"showing {shown:,} of {total:,}")
        has = shown > 0
        self.copy_button.setEnabled(has)
        self.export_button.setEnabled(has)

    def _selection_changed(self, *_args: object) -> None:
        selection = self.view.selectionModel()
        current = selection.currentIndex()
        selected = self.selected_records()
        record = None
        if current.isValid() and selection.isRowSelected(current.row(), QModelIndex()):
            record = current.data(RecordRole)
        elif selected:
            record = selected[0]
        self._show(record)

    def _records_changed(self, records: list[MetadataRecord]) -> None:
        """The record on show was updated in place: show its new version."""
        if self._current is None:
            return
        shown = record_id(self._current)
        updated = next((r for r in records if record_id(r) == shown), None)
        if updated is not None:
            self._show(updated)

    def _show(self, record: MetadataRecord | None) -> None:
        self._current = record
        self.current_record_changed.emit(record)

    def _menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for action in self._menu_actions:
            menu.addAction(action)
        records = self.selected_records()
        copy_url = menu.addAction("Copy S3 address")
        copy_url.setEnabled(bool(records))
        chosen = menu.exec(self.view.viewport().mapToGlobal(pos))
        if chosen is copy_url:
            QApplication.clipboard().setText("\n".join(f"s3://{r.bucket}/{r.key}" for r in records))


def _true(value: object) -> bool:
    """A QSettings boolean: an INI file gives it back as the string "true"."""
    return value is True or str(value).lower() == "true"


class RecordHeader(QHeaderView):
    """The file list's header. ``resized_by_hand`` says the user changed a width: dragged a divider, or
    double-clicked one to fit the column (the widths change in code too, which is not the user's choice)."""

    resized_by_hand = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionsClickable(True)
        self._before: list[int] = []

    def _widths(self) -> list[int]:
        # the last section stretches to the view's width as the window is resized: not a choice either
        return [self.sectionSize(i) for i in range(self.count() - (1 if self.stretchLastSection() else 0))]

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._before = self._widths()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if self._before and self._widths() != self._before:
            self.resized_by_hand.emit()
        self._before = []

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        before = self._widths()
        super().mouseDoubleClickEvent(event)
        if self._widths() != before:
            self.resized_by_hand.emit()
