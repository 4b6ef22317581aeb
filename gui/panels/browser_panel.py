"""The browser panel: a window onto every file the function profiled, sorted and filtered by the store."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QDate,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPoint,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.backend_api import describe_error
from gui.records import (
    COLUMNS,
    STATUS_COLORS,
    STATUS_LABELS,
    WARNINGS,
    Filters,
    RecordRole,
    RecordTableModel,
    StoreAccess,
    record_id,
)
from gui.widgets import ElidedLabel, MiddleElideDelegate, TableView, section_title

if TYPE_CHECKING:
    from backend.export import Format
    from backend.store import MetadataReader, MetadataRecord
    from backend.store.records import ReaderCapabilities, RecordQuery
    from gui.jobs import JobRunner

log = logging.getLogger(__name__)

LIVE_CHANGES = 20  # a batch this small is logged record by record
FILTER_DELAY_MS = 250  # typing in the filter box queries the store once the user pauses
FULL_RECORDS = 32  # full records (for the detail pane) kept, most recently shown
EXPORT_PAGE = 1000
DATE_RANGES = ("Any time", "Today", "Last 7 days", "Last 30 days", "Custom…")
# Set once the user changed a column's width by hand: from then on the widths are theirs alone (the window keeps
# them with its state), never fitted to the data again.
BY_HAND_KEY = "views/records_widths_by_hand"
FIT_ROWS = 1000  # the records of a session the widths are fitted to: the first pages read
# records measured per answer: a screen's worth from the top of the view. Measuring the whole first answer (400 rows)
# made their display texts and a text measure per cell on the GUI thread, the longest stretch of the window's start.
FIT_PER_ANSWER = 60
# The widest a column is made to fit its content, in "M" widths: a few very long names or notes must not push
# the other columns out of sight (they elide; the tooltip has the whole text). The Key column is the last and
# takes what is left.
FIT_CAPS = {RecordTableModel.FILE: 28, RecordTableModel.NOTES: 22, RecordTableModel.KEY: 40}


@dataclass(frozen=True)
class ExportPlan:
    """What Export writes: the selected files (read again in full) or, with none selected, every file of the
    current query (streamed from the store page by page, never from the list's cache)."""

    keys: tuple[tuple[str, str], ...]  # the selection; () = the whole query
    query: RecordQuery
    count: int
    path: Path
    fmt: Format


def stream_export(reader: MetadataReader, plan: ExportPlan, report: Callable[[int], None]) -> Iterator[MetadataRecord]:
    """The plan's full records, on a worker: keyset pages of EXPORT_PAGE for a query; ``report(n)`` after each
    page (or every 100 selected records)."""
    done = 0
    if plan.keys:
        for bucket, key in plan.keys:
            record = reader.get(bucket, key)
            if record is not None:
                done += 1
                if done % 100 == 0:
                    report(done)
                yield record
        report(done)
        return
    query = replace(plan.query, summary=False, limit=EXPORT_PAGE, offset=0, after=None)
    while True:
        page = reader.list(query)
        yield from page.records
        done += len(page.records)
        report(done)
        if page.next is None or not page.records:
            return
        query = replace(query, after=page.next)


def date_range(choice: str, start: QDate, end: QDate, now: datetime | None = None) -> tuple[datetime | None, ...]:
    """(uploaded_from, uploaded_to) in UTC for a choice of DATE_RANGES, days counted in local time; the custom
    range includes both of its days."""
    local_now = (now or datetime.now(UTC)).astimezone()
    midnight = datetime.combine(local_now.date(), time(), local_now.tzinfo)
    days = {"Today": 0, "Last 7 days": 6, "Last 30 days": 29}
    if choice in days:
        return (midnight - timedelta(days=days[choice])).astimezone(UTC), None
    if choice == "Custom…":
        first = datetime.combine(date(start.year(), start.month(), start.day()), time(), local_now.tzinfo)
        last = datetime.combine(date(end.year(), end.month(), end.day()), time(), local_now.tzinfo) + timedelta(days=1)
        return first.astimezone(UTC), last.astimezone(UTC)
    return None, None


class BrowserPanel(QWidget):
    """The "Files in <bucket>" heading, the filters, Copy and Export, and the table.

    ``current_record_changed(record or None)`` says which full record the detail pane should show (also when
    that record is updated in place); ``message(text, milliseconds)`` asks for a status-bar line.
    """

    current_record_changed = Signal(object)  # MetadataRecord | None
    message = Signal(str, int)

    def __init__(self, state: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model = RecordTableModel(self)
        self.store: StoreAccess | None = None
        self._loaded = False
        self._unavailable = False
        self._current: MetadataRecord | None = None
        self._full: OrderedDict[tuple[str, str], MetadataRecord] = OrderedDict()
        self._want_full: tuple[str, str] | None = None
        self._pending_select: tuple[str, str] | None = None
        self._top: tuple[str, str] | None = None  # the top visible record across a refresh
        self._menu_actions: list[QAction] = []
        self._arrived: dict[tuple[str, str], str] = {}  # changed records to log once the list has them

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
        self.filter_edit.setPlaceholderText("Filter by name or key (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter files")
        self._text_rule = ""  # the store's, once it answered
        self.filter_edit.installEventFilter(self)
        self.status_combo = QComboBox()
        self.status_combo.setAccessibleName("Status filter")
        self.status_combo.addItem("All statuses", "")
        for look in ("PROCESSED", WARNINGS, "FAILED"):
            self.status_combo.addItem(style.dot_icon(STATUS_COLORS[look]), STATUS_LABELS[look], look)
        self.status_combo.setItemData(1, "Every processed file, with or without warnings", Qt.ItemDataRole.ToolTipRole)
        self.status_combo.setItemData(
            2, "Processed, but something in the file was worked around", Qt.ItemDataRole.ToolTipRole
        )
        self.status_combo.setItemData(
            3, "Could not be profiled, or the object is no longer in S3 (Object missing)", Qt.ItemDataRole.ToolTipRole
        )
        self.status_combo.setToolTip("Show only files with this status")
        self.date_combo = QComboBox()
        self.date_combo.setAccessibleName("Upload date filter")
        self.date_combo.addItems(list(DATE_RANGES))
        self.date_combo.setToolTip("Show only files uploaded in this period (days in local time)")
        today = QDate.currentDate()
        self.from_edit = QDateEdit(today.addDays(-7))
        self.to_edit = QDateEdit(today)
        for edit, name in ((self.from_edit, "Uploaded from"), (self.to_edit, "Uploaded until (inclusive)")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
            edit.setAccessibleName(name)
            edit.setToolTip(name)
            edit.setVisible(False)
        self.copy_button = QPushButton("Copy")
        self.export_button = QPushButton("Export…")
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.status_combo)
        filters.addWidget(self.date_combo)
        filters.addWidget(self.from_edit)
        filters.addWidget(self.to_edit)
        filters.addWidget(self.copy_button)
        filters.addWidget(self.export_button)
        layout.addLayout(filters)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: palette(placeholder-text);")
        self.note_label.setVisible(False)
        layout.addWidget(self.note_label)

        self.view = TableView()
        self.header = RecordHeader(self.view)
        self.view.setHorizontalHeader(self.header)
        self.view.setAccessibleName("Files in the bucket")
        self.view.setModel(self.model)
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
        # a fixed row height: the view never asks a million rows for their size
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
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
        self._fitted: set[tuple[str, str]] = set()  # the records fit_columns has measured
        self.view.sortByColumn(RecordTableModel.UPLOADED, Qt.SortOrder.DescendingOrder)
        layout.addWidget(self.view, 1)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filters)
        self.filter_edit.textChanged.connect(lambda _text: self._filter_timer.start())
        self.filter_edit.returnPressed.connect(self.apply_filters)
        self.status_combo.currentIndexChanged.connect(self.apply_filters)
        self.date_combo.currentIndexChanged.connect(self._date_choice_changed)
        self.from_edit.dateChanged.connect(self.apply_filters)
        self.to_edit.dateChanged.connect(self.apply_filters)
        header.sortIndicatorChanged.connect(self._sort_requested)
        self.model.totals_changed.connect(self._update_count)
        self.model.loaded.connect(self._model_loaded)
        self.model.failed.connect(self._read_failed)
        self.model.capabilities_changed.connect(self._capabilities_changed)
        self.model.records_updated.connect(self._records_updated)
        self.model.about_to_refresh.connect(self._remember_top)
        self.model.layoutChanged.connect(self._restore_top)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.verticalScrollBar().valueChanged.connect(self._viewport_changed)
        self.view.verticalScrollBar().rangeChanged.connect(self._viewport_changed)
        header.resized_by_hand.connect(self._resized_by_hand)
        self._update_count()

    def focus_order(self) -> list[QWidget]:
        """The panel's stops for the Tab key, in order (the window chains the panels' orders)."""
        return [
            self.filter_edit,
            self.status_combo,
            self.date_combo,
            self.from_edit,
            self.to_edit,
            self.copy_button,
            self.export_button,
            self.view,
        ]

    # -- what the window feeds in --------------------------------------------------------------------
    def add_menu_actions(self, *actions: QAction) -> None:
        """Actions of the window offered in the list's context menu too (Copy, Export)."""
        self._menu_actions.extend(actions)

    def set_bucket(self, bucket: str) -> None:
        self.title.setText(f"Files in {bucket}")

    def set_store(self, open_reader: Callable[[], MetadataReader], jobs: JobRunner) -> None:
        """Where the list reads from: ``open_reader`` runs on workers (one reader per concurrent read)."""
        self.store = StoreAccess(open_reader, jobs)
        self.model.set_store(self.store)

    @property
    def loaded(self) -> bool:
        """The store's first answer is in the list (until :meth:`reset`)."""
        return self._loaded

    def load(self) -> None:
        """Count and read the first pages of the current query (the feed knows the store's cursor by now)."""
        self._viewport_changed()
        self.model.load()

    def retry_load(self) -> None:
        """The store answered the feed again: a first query that failed is tried again."""
        if not self._loaded and self.model.capabilities is None and self.store is not None:
            self.model.load()

    def apply_changes(self, records: list[MetadataRecord]) -> None:
        """A poll's changed records: rows updated in place, or the pages on screen read again."""
        if not self._loaded:
            return
        if len(records) <= LIVE_CHANGES:
            for record in records:
                if record.deleted:
                    log.info("file list: %s deleted", record.key)
                else:  # said once the list has read the rows again (_log_arrivals)
                    self._arrived[record_id(record)] = record.status
        gone = {record_id(r) for r in records if r.deleted}
        for rid in gone:
            self._full.pop(rid, None)
        if self._current is not None and record_id(self._current) in gone:
            self._show(None)
        changed = {record_id(r) for r in records if not r.deleted}
        for rid in changed:
            self._full.pop(rid, None)
        self.model.apply_changes(records)

    def set_unavailable(self) -> None:
        """The store did not answer: say so where the count goes, unless a list is already shown."""
        self._unavailable = True
        if not self._loaded:
            self.count_label.setText("not available")

    def reset(self) -> None:
        """Empty, as before the first load (the store changed or was torn down)."""
        self._loaded = False
        if self.store is not None:
            self.store.reset()
        self.model.clear()
        self._full.clear()
        self._show(None)
        self._update_count()

    # -- filters and sorting ---------------------------------------------------------------------------
    def filters(self) -> Filters:
        choice = self.date_combo.currentText()
        start, end = date_range(choice, self.from_edit.date(), self.to_edit.date())
        return Filters(self.filter_edit.text().strip(), self.status_combo.currentData() or "", start, end)

    def apply_filters(self) -> None:
        self._filter_timer.stop()
        self.model.set_filters(self.filters())

    def _date_choice_changed(self) -> None:
        custom = self.date_combo.currentText() == "Custom…"
        self.from_edit.setVisible(custom)
        self.to_edit.setVisible(custom)
        self.apply_filters()

    def _sort_requested(self, column: int, order: Qt.SortOrder) -> None:
        if self.model.sortable(column):
            return  # the view passes it on to the model, which asks the store
        self.message.emit(self.model.sort_tooltip(column) + ".", 5000)
        current = Qt.SortOrder.DescendingOrder if self.model.descending else Qt.SortOrder.AscendingOrder
        self.header.setSortIndicator(self.model.sort_column, current)

    def _capabilities_changed(self, capabilities: ReaderCapabilities) -> None:
        self._text_rule = capabilities.text_rule
        self._fit_placeholder()
        self.filter_edit.setToolTip(f"{capabilities.text_rule} (Ctrl+F)")
        self.note_label.setText(" ".join(capabilities.notes))
        self.note_label.setVisible(bool(capabilities.notes))
        self.header.viewport().update()  # the titles of the columns it cannot sort by go grey

    def _fit_placeholder(self) -> None:
        """The store's text rule and the shortcut in the filter box, shortened until it fits (without the
        shortcut, then without a closing aside in brackets): a rule cut by Qt at its end read "… (any case…".
        The tooltip has it all; a box too narrow for any of them shows the whole, cut."""
        rule = self._text_rule
        if not rule:
            return
        edit = self.filter_edit
        fm = edit.fontMetrics()
        room = edit.width() - 2 * fm.height()  # the frame, the text margins, the clear button
        core = re.sub(r"\s*\([^()]*\)$", "", rule)
        candidates = [f"{rule} (Ctrl+F)", rule, f"{core} (Ctrl+F)", core]
        text = next((c for c in candidates if fm.horizontalAdvance(c) <= room), candidates[0])
        if edit.placeholderText() != text:
            edit.setPlaceholderText(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.filter_edit and event.type() == QEvent.Type.Resize:
            self._fit_placeholder()
        return super().eventFilter(watched, event)

    # -- commands ------------------------------------------------------------------------------------
    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def selected_records(self) -> list[MetadataRecord]:
        rows = self.view.selectionModel().selectedRows()
        rows.sort(key=lambda i: i.row())
        return [r for i in rows if (r := i.data(RecordRole)) is not None]

    def select_record(self, bucket: str, key: str) -> bool:
        """Selects the file's row when it is in the list's pages; otherwise reads the file and shows it in the
        detail pane, selecting its row once the list has read it again (a new file in the default order is on
        the first page), and says so when the filters hide it. True when the row was selected now."""
        row = self.model.row_for(bucket, key)
        if row >= 0:
            self._select_row(row)
            return True
        if self.store is None:
            return False
        rid = (bucket, key)
        filters = self.filters()

        def done(record: MetadataRecord | None) -> None:
            if record is None:
                self.message.emit(f"s3://{bucket}/{key} is not in the file list yet.", 4000)
                return
            self._remember_full(record)
            self._show(record)
            if filters.active and (filters.text or not filters.admits(record)):
                self.message.emit(
                    f"{record.file_name} is outside the current filter; its details are shown. "
                    "Clear the filters to see it in the list.",
                    6000,
                )
            self._pending_select = rid
            self.model.refresh()

        self.store.run(
            lambda reader: reader.get(bucket, key),
            done,
            lambda exc: self.message.emit(f"Could not read s3://{bucket}/{key}: {describe_error(exc)}", 6000),
            "browser: get",
        )
        return False

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)

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

    def choose_export(self) -> ExportPlan | None:
        """What to export (the selection, else every file of the current query) and where to, asked with a
        file dialog; None when there is nothing to export or the user cancelled."""
        selected = tuple(record_id(r) for r in self.selected_records())
        count = len(selected) or max(0, self.model.matching)
        if not count:
            self.message.emit("Nothing to export yet.", 3000)
            return None
        start = str(self.state.value("dialogs/export_dir", "") or Path.home())
        path_text, chosen_filter = QFileDialog.getSaveFileName(
            self,
            f"Export {count:,} file record{'s' if count != 1 else ''}",
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
        return ExportPlan(selected, self.model.base_query, count, path, fmt)

    def fit_columns(self, records: Sequence[MetadataRecord]) -> None:
        """Widens each column to its widest text in ``records`` (up to the column's cap), never narrows one.

        The panel calls this with the first pages of each session: the widths fit the data from the start, and
        a width restored from the last session only grows (dates that were all today's and read "16:59" read
        "27 Nov 16:59" the next day: the next session widens the column for them). A width is never narrower
        than the column's title. Once the user sets a width by hand nothing is fitted any more, in this
        session or later ones (BY_HAND_KEY).
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
            delegate = self.view.itemDelegateForIndex(index) or self.view.itemDelegate()
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

    def _viewport_changed(self, *_args: object) -> None:
        view = self.view
        first = max(0, view.rowAt(0))
        height = view.verticalHeader().defaultSectionSize() or 1
        last = first + view.viewport().height() // height + 1
        self.model.set_viewport(first, last)

    def _model_loaded(self) -> None:
        first_answer = not self._loaded
        self._loaded = True
        self._unavailable = False
        self._update_count()
        if first_answer:
            log.info("file list loaded: %d files", self.model.rowCount())
        if self._fit_budget > 0:
            # each record is measured once: a refresh re-reads the pages on screen, and measuring them all again
            # on every new upload kept the GUI thread busy while many arrived
            # the rows on screen (the first screen before the view has laid itself out): what the user sees
            first = max(0, self.view.rowAt(0))
            shown = (self.model.record_at(row) for row in range(first, first + FIT_PER_ANSWER))
            budget = min(self._fit_budget, FIT_PER_ANSWER)
            fresh = [r for r in shown if r is not None and record_id(r) not in self._fitted][:budget]
            self._fitted.update(record_id(r) for r in fresh)
            self._fit_budget -= len(fresh)
            self.fit_columns(fresh)
        if self._pending_select is not None:
            row = self.model.row_for(*self._pending_select)
            if row >= 0:
                self._pending_select = None
                self._select_row(row)
        self._selection_changed()
        self._log_arrivals()

    def _log_arrivals(self, records: Sequence[MetadataRecord] | None = None) -> None:
        """The log says which changed files the list now shows, and which it did not read (filtered out, or
        far from the rows on screen): after the rows were read again, every one; ``records`` updated in place,
        those."""
        rids = list(self._arrived) if records is None else [record_id(r) for r in records]
        for rid in rids:
            status = self._arrived.pop(rid, None)  # a poll may bring a file twice (two versions)
            if status is None:
                continue
            if self.model.row_for(*rid) >= 0:
                log.info("file list shows %s: %s", rid[1], status)
            else:
                log.info("file list: %s %s (not among the rows read)", rid[1], status)

    def _read_failed(self, reason: str) -> None:
        self.message.emit(f"Can't read the file list: {reason}", 8000)
        if not self._loaded:
            self.count_label.setText("not available")

    def _update_count(self, *_args: object) -> None:
        matching, everything = self.model.matching, self.model.everything
        if matching < 0:
            self.count_label.setText("not available" if self._unavailable else "loading…")
        elif self.model.filters.active:
            self.count_label.setText(f"{matching:,} of {everything:,} file{'s' if everything != 1 else ''}")
        else:
            self.count_label.setText("" if matching == 0 else f"{matching:,} file{'s' if matching != 1 else ''}")
        has = matching > 0
        self.copy_button.setEnabled(has)
        self.export_button.setEnabled(has)

    def _remember_top(self, *_args: object) -> None:
        top = self.view.rowAt(0)
        record = self.model.record_at(top) if top > 0 else None  # at the very top, new files show up above
        self._top = None if record is None else record_id(record)

    def _restore_top(self, *_args: object) -> None:
        if self._top is None:
            return
        row = self.model.row_for(*self._top)
        self._top = None
        if row >= 0 and row != self.view.rowAt(0):
            self.view.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)

    def _selection_changed(self, *_args: object) -> None:
        selection = self.view.selectionModel()
        current = selection.currentIndex()
        record: MetadataRecord | None = None
        if current.isValid() and selection.isRowSelected(current.row(), QModelIndex()):
            record = current.data(RecordRole)
        else:
            selected = self.selected_records()
            record = selected[0] if selected else None
        if record is None:
            if not selection.hasSelection() and self._pending_select is None:
                self._show(None)
            return
        shown = self._current
        if shown is not None and record_id(shown) == record_id(record) and shown.revision == record.revision:
            return  # this version is on show already (in full)
        self._show_full(record)

    def _show_full(self, record: MetadataRecord) -> None:
        """The detail pane needs the whole record: a summary row is read again with get() (the pane keeps the
        previous record until it comes)."""
        rid = record_id(record)
        full = self._full.get(rid)
        if record.complete:
            self._show(record)
            return
        if full is not None and full.revision == record.revision:
            self._full.move_to_end(rid)
            self._show(full)
            return
        if self.store is None or self._want_full == rid:
            return
        self._want_full = rid

        def done(got: MetadataRecord | None) -> None:
            if self._want_full == rid:
                self._want_full = None
            if got is None:
                return
            self._remember_full(got)
            selected = self.selected_records()
            if any(record_id(r) == rid for r in selected[:1]) or (
                self._current is not None and record_id(self._current) == rid
            ):
                self._show(got)
            elif selected:
                self._show_full(selected[0])

        def failed(exc: BaseException) -> None:
            self._want_full = None
            self.message.emit(f"Could not read {record.file_name}: {describe_error(exc)}", 6000)

        self.store.run(lambda reader: reader.get(*rid), done, failed, "browser: get")

    def _remember_full(self, record: MetadataRecord) -> None:
        self._full[record_id(record)] = record
        while len(self._full) > FULL_RECORDS:
            self._full.popitem(last=False)

    def _records_updated(self, records: list[MetadataRecord]) -> None:
        """The record on show was updated in place: show its new version."""
        self._log_arrivals(records)
        if self._current is None:
            return
        shown = record_id(self._current)
        updated = next((r for r in records if record_id(r) == shown), None)
        if updated is not None:
            self._show_full(updated)

    def _show(self, record: MetadataRecord | None) -> None:
        self._current = record
        self.current_record_changed.emit(record)

    def context_menu(self) -> QMenu:
        """The list's context menu: the window's actions on the selection (gui/file_actions.py enables them)."""
        menu = QMenu(self)
        for action in self._menu_actions:
            menu.addAction(action)
        return menu

    def _menu(self, pos: QPoint) -> None:
        menu = self.context_menu()
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()


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
