"""The browser panel: every file the function profiled, filtered by text and status, newest upload first."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction
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
    QVBoxLayout,
    QWidget,
)

from backend.export import Format
from backend.store import MetadataRecord
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

log = logging.getLogger(__name__)

LIVE_CHANGES = 20  # a batch this small is a live change (logged), not part of loading the list


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
        em = fm.horizontalAdvance("M")
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
        self.view.setAccessibleName("Files in the bucket")
        self.view.setModel(self.proxy)
        self.view.setItemDelegateForColumn(RecordTableModel.FILE, MiddleElideDelegate(self.view))
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
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        icon = QSize(fm.height() * 2 // 3, fm.height() * 2 // 3)
        self.view.setIconSize(icon)
        widths = (12, 0, 5.5, 5, 6.5, 6, 6, 10, 10)
        for col, w in enumerate(widths):  # wide enough for the title and the sort arrow
            header.resizeSection(col, max(int(em * w), fm.horizontalAdvance(COLUMNS[col].title) + em * 2))
        header.resizeSection(
            RecordTableModel.STATUS, fm.horizontalAdvance(STATUS_LABELS[WARNINGS]) + icon.width() + em * 2
        )
        for col in (RecordTableModel.UPLOADED, RecordTableModel.PROCESSED):  # dates before today show the day
            header.resizeSection(col, fm.horizontalAdvance("2026-12-31 23:59") + em * 2)
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

    # -- internals -----------------------------------------------------------------------------------
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
