"""The metadata browser's model: a window onto the store's records, read page by page as the view needs them."""

from __future__ import annotations

import logging
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QElapsedTimer,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from gui import style
from gui.backend_api import describe_error

if TYPE_CHECKING:
    from backend.store import MetadataReader, MetadataRecord
    from backend.store.records import ReaderCapabilities, RecordQuery, RecordWarning
    from gui.jobs import JobRunner, Report

log = logging.getLogger(__name__)

ModelIndex = QModelIndex | QPersistentModelIndex

SortRole = Qt.ItemDataRole.UserRole + 1
RecordRole = Qt.ItemDataRole.UserRole + 2

# The looks of a record. The store's status is PROCESSED, FAILED or MISSING (the object is no longer in S3:
# `csvdrop reconcile` found it gone); WARNINGS is the GUI's name for a PROCESSED record with a non-empty
# ``warnings`` ("processed with warnings"). MISSING is red like FAILED (both need the user to act; the
# "Failed" filter shows both) but says what happened in its own words.
WARNINGS = "WARNINGS"
MISSING = "MISSING"
STATUS_LABELS = {
    "PROCESSED": "Processed",
    WARNINGS: "Processed with warnings",
    "FAILED": "Failed",
    MISSING: "Object missing",
}
STATUS_COLORS = {"PROCESSED": style.GREEN, WARNINGS: style.AMBER, "FAILED": style.RED, MISSING: style.RED}
STATUS_TEXT_COLORS = {"PROCESSED": style.GREEN, WARNINGS: style.AMBER_TEXT, "FAILED": style.RED, MISSING: style.RED}


SortValue = str | int | float
SortKeys = tuple[SortValue, ...]  # one sort value per column

record_id: Callable[[MetadataRecord], tuple[str, str]] = operator.attrgetter("bucket", "key")


def status_look(record: MetadataRecord) -> str:
    """ "PROCESSED", "WARNINGS" (processed with warnings), or the store's other status ("FAILED", "MISSING")."""
    if record.status != "PROCESSED":
        return str(record.status)
    return WARNINGS if record.warnings else "PROCESSED"


def warnings_summary(warnings: Sequence[RecordWarning]) -> str:
    """ "2 warnings: <first message> …" for the Notes column ("" without warnings)."""
    if not warnings:
        return ""
    first = warnings[0].message or warnings[0].code
    if len(warnings) == 1:
        return f"1 warning: {first}"
    return f"{len(warnings)} warnings: {first} …"


def notes_for(record: MetadataRecord) -> str:
    if record.status != "PROCESSED":
        return str(record.error or "Could not be profiled")
    warned = warnings_summary(record.warnings)
    return "; ".join(([warned] if warned else []) + _other_notes(record))


def _other_notes(record: MetadataRecord) -> list[str]:
    """The notes besides the warnings: duplicates and a missing header."""
    notes = []
    dup_rows = record.duplicate_row_count
    if dup_rows:
        notes.append(f"{dup_rows:,} duplicate row{'s' if dup_rows != 1 else ''}")
    dup_cols = record.duplicate_column_names
    if dup_cols:
        notes.append("repeated column names: " + ", ".join(dup_cols))
    if record.has_header is False:
        notes.append("no header row")
    return notes


_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


class Column:
    def __init__(
        self,
        title: str,
        display: Callable[[MetadataRecord], str],
        sort: Callable[[MetadataRecord], SortValue],
        align_right: bool = False,
        tooltip: Callable[[MetadataRecord], str] | None = None,
    ) -> None:
        self.title = title
        self.display = display
        self.sort = sort
        self.align_right = align_right
        # the cell's whole story when its text is shortened (elided, compact units, the date left out);
        # None: the row's status (see RecordTableModel.data)
        self.tooltip = tooltip


def s3_address(record: MetadataRecord) -> str:
    return f"s3://{record.bucket}/{record.key}"


def status_tooltip(record: MetadataRecord) -> str:
    """Why the row looks as it does: the error, or every warning with its lines, or where the file is."""
    if record.status == MISSING:
        return f"{record.file_name} is no longer in S3:\n{record.error}"
    if record.status != "PROCESSED":
        return f"{record.file_name} could not be profiled:\n{record.error}"
    if record.warnings:
        return f"{record.file_name} was processed with warnings:\n" + "\n".join(
            f"• {w.message}" + (f" ({w.lines_text})" if w.lines else "") for w in record.warnings
        )
    return s3_address(record)


def notes_tooltip(record: MetadataRecord) -> str:
    """The Notes text in full; with warnings, every warning rather than the first (the cell has room for one)."""
    if record.status != "PROCESSED" or len(record.warnings) < 2:
        return notes_for(record)
    lines = [f"{len(record.warnings)} warnings:"]
    lines += [f"• {w.message or w.code}" + (f" ({w.lines_text})" if w.lines else "") for w in record.warnings]
    return "\n".join(lines + _other_notes(record))


COLUMNS: tuple[Column, ...] = (
    Column(
        "File",
        lambda r: r.file_name,
        lambda r: (r.file_name or "").lower(),
        tooltip=lambda r: f"{r.file_name}\n{s3_address(r)}",
    ),
    Column("Status", lambda r: STATUS_LABELS.get(status_look(r), str(r.status)), status_look),
    Column(
        "Rows",
        lambda r: style.human_count(r.row_count),
        lambda r: -1 if r.row_count is None else r.row_count,
        True,
    ),
    Column(
        "Columns",
        lambda r: style.human_count(r.column_count),
        lambda r: -1 if r.column_count is None else r.column_count,
        True,
    ),
    Column(
        "Size",
        lambda r: style.compact_bytes(r.size_bytes),
        lambda r: r.size_bytes or 0,
        True,
        tooltip=lambda r: style.exact_bytes(r.size_bytes),
    ),
    Column(
        "Uploaded",
        lambda r: style.short_time(r.uploaded_at),
        lambda r: style.timestamp(r.uploaded_at),
        tooltip=lambda r: "Uploaded " + style.full_time(r.uploaded_at),
    ),
    Column(
        "Processed",
        lambda r: style.short_time(r.processed_at),
        lambda r: style.timestamp(r.processed_at),
        tooltip=lambda r: "Processed " + style.full_time(r.processed_at),
    ),
    Column("Notes", notes_for, lambda r: notes_for(r).lower(), tooltip=notes_tooltip),
    Column("Key", lambda r: r.key, lambda r: (r.key or "").lower(), tooltip=s3_address),
)


# The store's sort key behind each column's header; Notes is text the GUI writes, so no store can sort by it.
STORE_SORT_KEYS: dict[int, str] = {
    0: "file_name",
    1: "status",
    2: "row_count",
    3: "column_count",
    4: "size_bytes",
    5: "uploaded_at",
    6: "processed_at",
    8: "key",
}

PAGE_ROWS = 200  # rows per read; the store answers one page with one index walk
MAX_PAGES = 25  # pages kept (LRU): 5,000 summary records, whatever the store holds
MAX_FETCHING = 2  # page reads in flight at once; the rest wait for the viewport to settle
PLACEHOLDER = "…"  # a row whose page is still on its way
# At most one refresh (count, count, the pages on screen) starts in this time: while many uploads land, the
# changes of several polls wait for one refresh instead of each arriving record starting its own (a refresh and
# the re-layout after it, per record, kept the GUI thread busy). A change after a quiet spell refreshes at once.
REFRESH_DELAY_MS = 150

_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_SORT = int(SortRole)
_RECORD = int(RecordRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ROLES = frozenset({_DISPLAY, _SORT, _RECORD, _ALIGN, _DECORATION, _FOREGROUND, _BACKGROUND, _TOOLTIP})
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_STATUS_TEXT = {look: QColor(color) for look, color in STATUS_TEXT_COLORS.items() if look != "PROCESSED"}
_FAILED_BACKGROUND = style.tint(style.RED, 22)

RecordId = tuple[str, str]
T = TypeVar("T")


@dataclass(frozen=True)
class Filters:
    """The browser's filters, as the user set them. ``status``: "" (all), "PROCESSED" (every processed file),
    "WARNINGS" (processed with warnings) or "FAILED" (every file not profiled: MISSING ones too, as the store's
    filter has it); ``uploaded_to`` is exclusive."""

    text: str = ""
    status: str = ""
    uploaded_from: datetime | None = None
    uploaded_to: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.text or self.status or self.uploaded_from or self.uploaded_to)

    def query(self, sort: str, descending: bool) -> RecordQuery:
        from backend.store import RecordQuery

        return RecordQuery(
            text=self.text or None,
            status="PROCESSED" if self.status == WARNINGS else (self.status or None),
            with_warnings=self.status == WARNINGS,
            uploaded_from=self.uploaded_from,
            uploaded_to=self.uploaded_to,
            sort=sort,
            descending=descending,
            limit=PAGE_ROWS,
            summary=True,
        )

    def admits(self, record: MetadataRecord) -> bool:
        """What can be judged here without the store (not the text: its rule is the store's)."""
        if self.status == WARNINGS and status_look(record) != WARNINGS:
            return False
        if self.status == "FAILED":
            if record.status not in ("FAILED", MISSING):
                return False
        elif self.status and self.status not in (WARNINGS, record.status):
            return False
        if self.uploaded_from is not None and record.uploaded_at < self.uploaded_from:
            return False
        return self.uploaded_to is None or record.uploaded_at < self.uploaded_to


class StoreAccess:
    """The browser's readers: each read runs as a job on a reader of its own (a store connection is not shared
    between threads); idle readers are kept for the next read and closed on :meth:`reset`."""

    def __init__(self, open_reader: Callable[[], MetadataReader], jobs: JobRunner) -> None:
        self._open_reader = open_reader
        self.jobs = jobs
        self._lock = threading.Lock()
        self._idle: list[MetadataReader] = []
        self._generation = 0

    def run(
        self,
        fn: Callable[[MetadataReader], T],
        on_done: Callable[[T], None],
        on_error: Callable[[BaseException], None],
        name: str,
    ) -> None:
        generation = self._generation

        def work(_report: Report[None]) -> T:
            with self._lock:
                reader = self._idle.pop() if self._idle else None
            if reader is None:
                reader = self._open_reader()
            try:
                result = fn(reader)
            except Exception:
                _close_quietly(reader)  # a failed read may have left the connection unusable
                raise
            with self._lock:
                keep = generation == self._generation
                if keep:
                    self._idle.append(reader)
            if not keep:
                _close_quietly(reader)
            return result

        self.jobs.start(work, on_done=on_done, on_error=on_error, name=name)

    def reset(self) -> None:
        """Readers in use are closed when their read ends; idle ones now, on a worker."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for reader in idle:
            self.jobs.start(partial(_close_idle, reader), name="close reader")


def _close_idle(reader: MetadataReader, _report: Report[None]) -> None:
    _close_quietly(reader)


def _close_quietly(reader: MetadataReader) -> None:
    try:
        reader.close()
    except Exception:  # closing a broken connection may fail; there is nothing left to do with it
        log.debug("close failed", exc_info=True)


@dataclass
class _Page:
    records: list[MetadataRecord]
    # display texts per row, made when the row is first drawn: a refresh reads pages of 200 rows and a screen
    # shows ~30 of them, so texts made ahead of time were mostly thrown away (a poll's GUI time)
    display: list[tuple[str, ...] | None]
    next: str | None

    def texts(self, at: int) -> tuple[str, ...]:
        texts = self.display[at]
        if texts is None:
            texts = self.display[at] = _display(self.records[at])
        return texts


@dataclass(frozen=True)
class _Loaded:
    """What a load or refresh read: the totals, the capabilities, and pages by number."""

    capabilities: ReaderCapabilities
    matching: int
    everything: int
    pages: dict[int, tuple[list[MetadataRecord], str | None]]


class RecordTableModel(QAbstractTableModel):
    """The store's records for the current query, as a window: ``rowCount`` is the store's count, and only the
    pages around the viewport are held (PAGE_ROWS rows each, at most MAX_PAGES, least recently used dropped).

    A row whose page is not here shows PLACEHOLDER and asks for its page, read as a job: consecutive pages by
    keyset (``after`` = the previous page's ``next``), jumps by offset. A store without random access grows
    the table as the user scrolls (canFetchMore/fetchMore). Sorting and filtering are the store's: a new
    query counts and reads its first pages in one job, then replaces the rows at once.
    """

    FILE, STATUS, ROWS, COLUMNS_, SIZE, UPLOADED, PROCESSED, NOTES, KEY = range(len(COLUMNS))
    loaded = Signal()  # a query's (or refresh's) answer replaced the rows
    totals_changed = Signal()  # matching / everything changed (the panel's count label)
    capabilities_changed = Signal(object)  # ReaderCapabilities
    failed = Signal(str)  # a read failed: why, in words for the user
    records_updated = Signal(list)  # cached records replaced in place by a poll
    about_to_refresh = Signal()  # a refresh's rows are about to replace the cached ones (still readable now)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store: StoreAccess | None = None
        self.capabilities: ReaderCapabilities | None = None
        self.filters = Filters()
        self.sort_key = "uploaded_at"
        self.descending = True
        self.matching = -1  # records matching the query (-1: not known yet)
        self.everything = -1  # records in the store, unfiltered
        self._rows = 0
        self._more = False  # growing mode: the store has rows after the last one shown
        self._pages: OrderedDict[int, _Page] = OrderedDict()
        self._ids: dict[RecordId, int] = {}  # row per cached record
        self._tokens: dict[int, str | None] = {}  # page -> its ``next`` (the keyset token of the page after)
        self._wanted: set[int] = set()
        self._fetching: set[int] = set()
        self._viewport = (0, PAGE_ROWS - 1)
        self._generation = 0
        self._loading = False
        self._load_again = False
        self._refreshing = False
        self._refresh_again = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self.refresh)
        self._last_refresh = QElapsedTimer()  # since the last refresh started (invalid: none yet)
        self.reads = 0  # page reads started (tests and the benchmark look)

    # -- the store ------------------------------------------------------------------------------------
    def set_store(self, store: StoreAccess | None) -> None:
        self._store = store

    @property
    def random_access(self) -> bool:
        return self.capabilities is None or self.capabilities.random_access

    @property
    def base_query(self) -> RecordQuery:
        return self.filters.query(self.sort_key, self.descending)

    def sortable(self, column: int) -> bool:
        key = STORE_SORT_KEYS.get(column)
        return key is not None and (self.capabilities is None or key in self.capabilities.sort_keys)

    def set_filters(self, filters: Filters) -> None:
        if filters != self.filters:
            self.filters = filters
            self.load()

    def set_sort(self, sort_key: str, descending: bool) -> None:
        if (sort_key, descending) != (self.sort_key, self.descending):
            self.sort_key, self.descending = sort_key, descending
            self.load()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The header's sort goes to the store (a column it cannot sort by is refused: see :meth:`sortable`)."""
        if self.sortable(column):
            self.set_sort(STORE_SORT_KEYS[column], order == Qt.SortOrder.DescendingOrder)

    @property
    def sort_column(self) -> int:
        return next((c for c, k in STORE_SORT_KEYS.items() if k == self.sort_key), self.UPLOADED)

    def load(self) -> None:
        """A new query (or the first): count it and read the pages the viewport needs, in one job; the rows
        shown stay until the answer replaces them, so nothing flashes empty."""
        if self._store is None:
            return
        if self._loading:
            self._load_again = True
            return
        self._loading = True
        self._load_again = False
        self._generation += 1
        self._wanted.clear()
        self._fetching.clear()
        generation, query, filtered = self._generation, self.base_query, self.filters.active
        first_page = 0
        last_page = max(0, self._viewport[1] - self._viewport[0]) // PAGE_ROWS

        def work(reader: MetadataReader) -> _Loaded:
            from backend.store.records import RecordQuery

            capabilities = reader.capabilities
            pages = _read_pages(reader, query, first_page, last_page, None, random_access=capabilities.random_access)
            first = pages.get(0)
            matching = reader.count(query) if first is None or first[2] < 0 else first[2]
            everything = reader.count(RecordQuery(limit=1)) if filtered else matching
            return _Loaded(capabilities, matching, everything, {p: (r, n) for p, (r, n, _t) in pages.items()})

        def done(result: _Loaded) -> None:
            self._loading = False
            if generation == self._generation and not self._load_again:
                self._apply_load(result)
            if self._load_again:
                self.load()

        def failed(exc: BaseException) -> None:
            self._loading = False
            if self._load_again:
                self.load()
            elif generation == self._generation:
                self.failed.emit(describe_error(exc))

        self._store.run(work, done, failed, "browser: query")

    def _take_pages(self, result: _Loaded) -> None:
        """The cache becomes the answer's pages and totals (reads still under way are for the old rows: dropped)."""
        self._generation += 1
        self._pages.clear()
        self._ids.clear()
        self._tokens.clear()
        self._wanted.clear()
        self._fetching.clear()
        for number, (records, token) in sorted(result.pages.items()):
            self._store_page(number, records, token)
        self.matching, self.everything = result.matching, result.everything

    def _apply_load(self, result: _Loaded) -> None:
        if result.capabilities != self.capabilities:
            self.capabilities = result.capabilities
            self.capabilities_changed.emit(result.capabilities)
        self.beginResetModel()
        self._take_pages(result)
        self._rows = self._target_rows(result)
        self.endResetModel()
        self.totals_changed.emit()
        self.loaded.emit()

    def _target_rows(self, result: _Loaded) -> int:
        if self.random_access:
            return result.matching
        # growing: the pages read from the top, and more to fetch when the last one has a ``next``
        rows, number = 0, 0
        while number in result.pages:
            records, token = result.pages[number]
            rows += len(records)
            self._more = token is not None
            if token is None:
                break
            number += 1
        return rows

    def refresh(self) -> None:
        """Polls brought changes that may move rows: re-count and re-read the pages on screen (one job), then
        swap them in with one layout change, the persistent indexes (selection, current row) following their
        records."""
        if self._store is None or self._loading or self.capabilities is None:
            return
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        self._refresh_again = False
        self._last_refresh.start()
        generation, query, filtered = self._generation, self.base_query, self.filters.active
        first_page, last_page = self._viewport[0] // PAGE_ROWS, self._viewport[1] // PAGE_ROWS
        random_access = self.random_access
        if not random_access:
            first_page = 0

        def work(reader: MetadataReader) -> _Loaded:
            from backend.store.records import RecordQuery

            matching = reader.count(query)
            everything = reader.count(RecordQuery(limit=1)) if filtered else matching
            pages = _read_pages(reader, query, first_page, last_page, None, random_access=random_access, rows=matching)
            assert self.capabilities is not None
            return _Loaded(self.capabilities, matching, everything, {p: (r, n) for p, (r, n, _t) in pages.items()})

        def done(result: _Loaded) -> None:
            self._refreshing = False
            if generation == self._generation:
                self._apply_refresh(result)
            if self._refresh_again:
                self.refresh()

        def failed(exc: BaseException) -> None:
            self._refreshing = False
            if generation == self._generation:
                self.failed.emit(describe_error(exc))

        self._store.run(work, done, failed, "browser: refresh")

    def _apply_refresh(self, result: _Loaded) -> None:
        # rows are only added or removed at the end below, so a persistent index keeps its row until the layout
        # change moves it to where its record is now
        self.about_to_refresh.emit()
        ids = {i.row(): self._id_at(i.row()) for i in self.persistentIndexList()}
        self._take_pages(result)
        rows = self._target_rows(result)
        if rows > self._rows:
            self.beginInsertRows(QModelIndex(), self._rows, rows - 1)
            self._rows = rows
            self.endInsertRows()
        elif rows < self._rows:
            self.beginRemoveRows(QModelIndex(), rows, self._rows - 1)
            self._rows = rows
            self.endRemoveRows()
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()  # the rows removed at the end took theirs with them
        moved = []
        for index in persistent:
            rid = ids.get(index.row())
            row = self._ids.get(rid, -1) if rid is not None else -1
            moved.append(self.index(row, index.column()) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()
        self.totals_changed.emit()
        self.loaded.emit()

    # -- live changes ---------------------------------------------------------------------------------
    def apply_changes(self, records: Sequence[MetadataRecord]) -> None:
        """Records a poll reported (summary records and tombstones). A cached record whose order and filters
        are unchanged is replaced in place (one dataChanged per run of rows); anything else (a new record, a
        deletion, a record that moves or leaves the filter) may change what is on screen: :meth:`refresh`,
        at once or, within REFRESH_DELAY_MS of the last one, when that time is up."""
        if not records:
            return
        moved = False
        rows: list[int] = []
        updated: list[MetadataRecord] = []
        for record in records:
            rid = (record.bucket, record.key)
            row = self._ids.get(rid)
            if record.deleted or row is None:
                moved = True
                continue
            page = self._pages[row // PAGE_ROWS]
            old = page.records[row % PAGE_ROWS]
            if old.sort_value(self.sort_key) != record.sort_value(self.sort_key) or not self.filters.admits(record):
                moved = True
                continue
            page.records[row % PAGE_ROWS] = record
            page.display[row % PAGE_ROWS] = None
            rows.append(row)
            updated.append(record)
        for start, end in _runs(sorted(set(rows))):
            self.dataChanged.emit(self.index(start, 0), self.index(end, len(COLUMNS) - 1))
        if updated:
            self.records_updated.emit(updated)
        if moved and not self._refresh_timer.isActive():  # not restarted: a steady stream still refreshes
            since = self._last_refresh.elapsed() if self._last_refresh.isValid() else REFRESH_DELAY_MS
            if since >= REFRESH_DELAY_MS:
                self.refresh()
            else:
                self._refresh_timer.start(REFRESH_DELAY_MS - since)

    # -- paging ---------------------------------------------------------------------------------------
    def set_viewport(self, first: int, last: int) -> None:
        """The rows on screen: their pages and one either side are read, others are not kept from eviction."""
        self._viewport = (max(0, first), max(first, last))
        if self._rows:
            self._flush_timer.start()

    def _request(self, page: int) -> None:
        if page not in self._fetching and page not in self._wanted:
            self._wanted.add(page)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def _near(self) -> range:
        first, last = self._viewport
        last_page = max(0, self._rows - 1) // PAGE_ROWS + (1 if self._more and not self.random_access else 0)
        return range(max(0, first // PAGE_ROWS - 1), min(last_page, last // PAGE_ROWS + 1) + 1)

    def _flush(self) -> None:
        """Reads the wanted pages near the viewport, in runs of consecutive pages (one job each, keyset within
        the run); pages wanted for rows the user has scrolled past are forgotten."""
        if self._store is None or self._loading or not self._rows:
            return
        near = self._near()
        wanted = {p for p in self._wanted if p in near} | {p for p in near if p not in self._pages}
        wanted -= self._fetching
        self._wanted = wanted
        if not self.random_access:  # only pages whose predecessor's token is known can be read
            wanted = {p for p in wanted if p == 0 or self._tokens.get(p - 1)}
        for run in _page_runs(sorted(wanted)):
            if len(self._fetching) >= MAX_FETCHING:
                break
            self._fetch(run[0], run[-1])

    def _fetch(self, first: int, last: int) -> None:
        assert self._store is not None
        pages = set(range(first, last + 1))
        self._fetching |= pages
        self._wanted -= pages
        self.reads += 1
        generation, query, token, random_access, rows = (
            self._generation,
            self.base_query,
            self._tokens.get(first - 1),
            self.random_access,
            self._rows,
        )

        def work(reader: MetadataReader) -> dict[int, tuple[list[MetadataRecord], str | None, int]]:
            return _read_pages(reader, query, first, last, token, random_access=random_access, rows=rows)

        def done(result: dict[int, tuple[list[MetadataRecord], str | None, int]]) -> None:
            if generation != self._generation:
                return
            self._fetching -= pages
            for number, (records, next_token, _total) in sorted(result.items()):
                self._store_page(number, records, next_token)
                self._page_arrived(number, len(records), next_token)
            self._evict()
            if self._wanted:
                self._flush_timer.start()

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._fetching -= pages
            self.failed.emit(describe_error(exc))

        self._store.run(work, done, failed, f"browser: pages {first}-{last}")

    def _page_arrived(self, number: int, size: int, token: str | None) -> None:
        first = number * PAGE_ROWS
        if not self.random_access and first + size > self._rows and first <= self._rows:
            self.beginInsertRows(QModelIndex(), self._rows, first + size - 1)
            self._rows = first + size
            self._more = token is not None
            self.endInsertRows()
            return
        if size:
            end = min(first + size, self._rows) - 1
            if end >= first:
                self.dataChanged.emit(self.index(first, 0), self.index(end, len(COLUMNS) - 1))

    def _store_page(self, number: int, records: list[MetadataRecord], token: str | None) -> None:
        old = self._pages.pop(number, None)
        if old is not None:
            for record in old.records:
                self._ids.pop((record.bucket, record.key), None)
        self._pages[number] = _Page(list(records), [None] * len(records), token)
        self._tokens[number] = token
        first = number * PAGE_ROWS
        for offset, record in enumerate(records):
            self._ids[(record.bucket, record.key)] = first + offset

    def _evict(self) -> None:
        keep = set(self._near())
        for number in list(self._pages):
            if len(self._pages) <= MAX_PAGES:
                break
            if number not in keep:
                for record in self._pages.pop(number).records:
                    self._ids.pop((record.bucket, record.key), None)

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self.random_access and self._more

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            page = self._rows // PAGE_ROWS
            if self._rows % PAGE_ROWS == 0 and self._tokens.get(page - 1):
                self._request(page)

    @property
    def cached_pages(self) -> list[int]:
        return sorted(self._pages)

    # -- Qt model -------------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].align_right:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.sort_tooltip(section)
            if role == Qt.ItemDataRole.ForegroundRole and not self.sortable(section):
                return QColor(style.GREY)
        return None

    def sort_tooltip(self, section: int) -> str:
        title = COLUMNS[section].title
        if STORE_SORT_KEYS.get(section) is None:
            return f"{title} cannot be sorted: the notes are written by the app, the store has no order for them"
        if not self.sortable(section):
            return f"{title} cannot be sorted: this metadata store has no index for it (see the note above the list)"
        return f"Click to sort by {title.lower()} (the store sorts every file, not just those on screen)"

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        # Called for every role of every visible cell on each paint: plain-int roles, cached strings.
        if role not in _ROLES or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not 0 <= row < self._rows or not 0 <= col < len(COLUMNS):
            return None
        number, at = divmod(row, PAGE_ROWS)
        page = self._pages.get(number)
        if page is None or at >= len(page.records):
            if page is None:
                self._request(number)
            if role == _DISPLAY:
                return PLACEHOLDER if col == self.FILE else ""
            return None
        self._pages.move_to_end(number)
        if role == _DISPLAY:
            return page.texts(at)[col]
        record = page.records[at]
        if role == _SORT:
            return COLUMNS[col].sort(record)
        if role == _RECORD:
            return record
        if role == _ALIGN:
            return _RIGHT if COLUMNS[col].align_right else None
        look = status_look(record)
        if role == _DECORATION:
            return style.dot_icon(STATUS_COLORS.get(look, style.GREY)) if col == self.STATUS else None
        if role == _FOREGROUND:
            if col in (self.STATUS, self.NOTES):
                return _STATUS_TEXT.get(look, _STATUS_TEXT["FAILED"]) if look != "PROCESSED" else None
            return None
        if role == _BACKGROUND:
            return _FAILED_BACKGROUND if record.status != "PROCESSED" else None
        if role == _TOOLTIP:
            tip = COLUMNS[col].tooltip
            return style.tooltip(tip(record) if tip is not None else status_tooltip(record)) or None
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    # -- lookups (cached rows only) -------------------------------------------------------------------
    def clear(self) -> None:
        """Empty, as before the first query (the store changed or was torn down)."""
        self.beginResetModel()
        self._generation += 1
        self._refresh_timer.stop()
        self._pages.clear()
        self._ids.clear()
        self._tokens.clear()
        self._wanted.clear()
        self._fetching.clear()
        self._rows = 0
        self._more = False
        self._loading = self._refreshing = False
        self.matching = self.everything = -1
        self.endResetModel()
        self.totals_changed.emit()

    def _id_at(self, row: int) -> RecordId | None:
        record = self.record_at(row)
        return None if record is None else (record.bucket, record.key)

    def row_for(self, bucket: str, key: str) -> int:
        return self._ids.get((bucket, key), -1)

    def record_at(self, row: int) -> MetadataRecord | None:
        page = self._pages.get(row // PAGE_ROWS) if 0 <= row < self._rows else None
        at = row % PAGE_ROWS
        return page.records[at] if page is not None and at < len(page.records) else None

    def display_text(self, row: int, column: int) -> str:
        """The cell's text (what DisplayRole gives, without the Qt call); "" for a row not here."""
        page = self._pages.get(row // PAGE_ROWS)
        at = row % PAGE_ROWS
        return page.texts(at)[column] if page is not None and at < len(page.display) else ""

    def find(self, bucket: str, key: str) -> MetadataRecord | None:
        return self.record_at(self.row_for(bucket, key))

    def records(self) -> list[MetadataRecord]:
        """The cached records in row order (a window onto the store, not all of it)."""
        return [r for number in sorted(self._pages) for r in self._pages[number].records]


def _read_pages(
    reader: MetadataReader,
    query: RecordQuery,
    first: int,
    last: int,
    token: str | None,
    *,
    random_access: bool,
    rows: int = -1,
) -> dict[int, tuple[list[MetadataRecord], str | None, int]]:
    """Pages ``first``..``last`` of the query (on a worker): the first by keyset when the previous page's token
    is known, else by offset (a store without random access starts from the top), the rest by keyset. With the
    query's row count known, a page in the far half is read from the other end (the order reversed, a short
    offset): an offset walks the index up to the page, so the last page of a million rows costs what the first
    does. Such pages carry no token (it would point the other way): their neighbours are read the same way."""
    out: dict[int, tuple[list[MetadataRecord], str | None, int]] = {}
    if not random_access and first > 0 and not token:
        first = 0
    for number in range(first, last + 1):
        start = number * PAGE_ROWS
        if token:
            page = reader.list(replace(query, after=token))
        elif random_access and rows > 0 and start >= rows // 2:
            if start >= rows:
                break
            end = min(start + PAGE_ROWS, rows)
            flipped = reader.list(replace(query, descending=not query.descending, offset=rows - end, limit=end - start))
            out[number] = (list(reversed(flipped.records)), None, flipped.total)
            continue
        elif number == 0 or random_access:
            page = reader.list(replace(query, offset=start))
        else:
            break
        out[number] = (list(page.records), page.next, page.total)
        token = page.next
        if token is None:
            break
    return out


def _page_runs(pages: list[int]) -> Iterator[list[int]]:
    run: list[int] = []
    for page in pages:
        if run and page != run[-1] + 1:
            yield run
            run = []
        run.append(page)
    if run:
        yield run


def _display(record: MetadataRecord) -> tuple[str, ...]:
    """Display text per column, computed once per record version."""
    return tuple(str(column.display(record)) for column in COLUMNS)


def _runs(rows: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted row numbers as (first, last) of each consecutive run: [1, 2, 3, 7] -> (1, 3), (7, 7)."""
    if not rows:
        return
    start = prev = rows[0]
    for row in rows[1:]:
        if row != prev + 1:
            yield start, prev
            start = row
        prev = row
    yield start, prev
