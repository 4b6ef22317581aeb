"""The metadata browser's models: store records, updated in place as ``changed_since`` reports them."""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from gui import style

if TYPE_CHECKING:
    from backend.store import MetadataRecord
    from backend.store.records import RecordWarning

ModelIndex = QModelIndex | QPersistentModelIndex

SortRole = Qt.ItemDataRole.UserRole + 1
RecordRole = Qt.ItemDataRole.UserRole + 2

# The three looks of a record. The store's status is PROCESSED or FAILED; WARNINGS is the GUI's name for a
# PROCESSED record with a non-empty ``warnings`` ("processed with warnings").
WARNINGS = "WARNINGS"
STATUS_LABELS = {"PROCESSED": "Processed", WARNINGS: "Processed with warnings", "FAILED": "Failed"}
STATUS_COLORS = {"PROCESSED": style.GREEN, WARNINGS: style.AMBER, "FAILED": style.RED}
STATUS_TEXT_COLORS = {"PROCESSED": style.GREEN, WARNINGS: style.AMBER_TEXT, "FAILED": style.RED}


SortValue = str | int | float
SortKeys = tuple[SortValue, ...]  # one sort value per column

record_id: Callable[[MetadataRecord], tuple[str, str]] = operator.attrgetter("bucket", "key")


def status_look(record: MetadataRecord) -> str:
    """ "PROCESSED", "WARNINGS" (processed with warnings) or "FAILED" (any other status)."""
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


MAX_INSERT_RUNS = 16  # more separate insert positions than this: append and re-sort instead
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


class RecordTableModel(QAbstractTableModel):
    """Flat table of MetadataRecords; ``upsert`` inserts new rows and updates known ones in place."""

    FILE, STATUS, ROWS, COLUMNS_, SIZE, UPLOADED, PROCESSED, NOTES, KEY = range(len(COLUMNS))
    records_changed = Signal(list)  # the records just inserted or updated

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[MetadataRecord] = []
        self._keys: list[SortKeys] = []  # sort keys per row, computed once per record version
        self._display: list[tuple[str, ...]] = []  # display texts per row, likewise
        # row per record id. Every id is in it; the rows are rebuilt only when asked for after rows moved
        # (an insert above them, a sort): rebuilding it for every batch of 100 made loading 100,000 records
        # quadratic.
        self._rows: dict[tuple[str, str], int] = {}
        self._rows_stale = False
        # the rows' order keys in ascending order (reversed rows when sorted descending), kept in step
        # with inserts so placing a batch is a bisect, not a pass over every row
        self._ascending: list[SortKeys] | None = None
        self._sort_order: tuple[int, Qt.SortOrder] | None = None

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].align_right:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        # Called for every role of every visible cell on each paint: plain-int roles, cached strings.
        if role not in _ROLES or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not 0 <= row < len(self._records) or not 0 <= col < len(COLUMNS):
            return None
        if role == _DISPLAY:
            return self._display[row][col]
        if role == _SORT:
            return self._keys[row][col]
        record = self._records[row]
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
            return _FAILED_BACKGROUND if record.status == "FAILED" else None
        if role == _TOOLTIP:
            tip = COLUMNS[col].tooltip
            return style.tooltip(tip(record) if tip is not None else status_tooltip(record)) or None
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    # -- changes -------------------------------------------------------------------------------------
    def upsert(self, records: Iterable[MetadataRecord]) -> tuple[int, int]:
        """Insert new records at the end, update known ones in place. Returns (inserted, updated)."""
        new: list[MetadataRecord] = []
        pending: dict[tuple[str, str], int] = {}
        updated_rows: list[int] = []
        changed: list[MetadataRecord] = []
        for record in records:
            rid = record_id(record)
            row = self._row_index()[rid] if rid in self._rows else None
            if row is not None:
                self._records[row] = record
                self._keys[row] = _sort_keys(record)
                self._display[row] = _display(record)
                updated_rows.append(row)
            elif rid in pending:  # the same key twice in one batch: the later one wins
                new[pending[rid]] = record
            else:
                pending[rid] = len(new)
                new.append(record)
            changed.append(record)
        for start, end in _runs(sorted(set(updated_rows))):
            self.dataChanged.emit(self.index(start, 0), self.index(end, len(COLUMNS) - 1))
        if updated_rows:
            self._ascending = None
            self._apply_sort()  # an update may have moved a row
        if new and self._sort_order is not None:
            self._insert_sorted(new)
        elif new:
            first = len(self._records)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, record in enumerate(new):
                self._rows[record_id(record)] = first + offset
            self._records.extend(new)
            self._keys.extend(_sort_keys(r) for r in new)
            self._display.extend(_display(r) for r in new)
            self.endInsertRows()
        if changed:
            self.records_changed.emit(changed)
        return len(new), len(set(updated_rows))

    # -- sorting -------------------------------------------------------------------------------------
    # The model sorts itself on its cached keys (one list.sort, C-level key lookups) and the proxy only
    # filters: a proxy sorting through a Python lessThan makes ~1.7 million Python calls for 100,000 rows
    # (36 s measured in bench/bench_browser.py); this takes well under a second.
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            self._sort_order = None
            return
        self._sort_order = (column, order)
        self._ascending = None
        self._apply_sort()

    def _order_keys(self, keys: list[SortKeys]) -> list[SortKeys]:
        """(sort column, file name, key) per row: ties break on name then key, so rows never swap
        places between polls. itemgetter keeps the loop in C for 100,000 rows."""
        assert self._sort_order is not None
        return list(map(operator.itemgetter(self._sort_order[0], 0, 8), keys))

    def _row_index(self) -> dict[tuple[str, str], int]:
        if self._rows_stale:
            self._rows = dict(zip(map(record_id, self._records), range(len(self._records)), strict=True))
            self._rows_stale = False
        return self._rows

    def _ascending_keys(self) -> list[SortKeys]:
        if self._ascending is None:
            self._ascending = self._order_keys(self._keys)
            if self._sort_order is not None and self._sort_order[1] == Qt.SortOrder.DescendingOrder:
                self._ascending.reverse()
        return self._ascending

    def _insert_sorted(self, new: list[MetadataRecord]) -> None:
        """Each new record goes where the sort puts it; records landing in the same gap go in as one
        insert (new uploads sorted newest-first land together at the top)."""
        assert self._sort_order is not None
        descending = self._sort_order[1] == Qt.SortOrder.DescendingOrder
        new_keys = [_sort_keys(r) for r in new]
        self._rows.update(dict.fromkeys(map(record_id, new), -1))  # known from now on; rows once rebuilt
        self._rows_stale = True
        entries = sorted(
            zip(self._order_keys(new_keys), new_keys, new, strict=True), key=operator.itemgetter(0), reverse=descending
        )
        ascending = self._ascending_keys()
        runs: list[tuple[int, list[SortKeys], list[MetadataRecord], list[SortKeys]]] = []
        for order_key, keys, record in entries:
            pos = bisect.bisect_right(ascending, order_key)
            row = len(ascending) - pos if descending else pos
            if runs and runs[-1][0] == row:
                runs[-1][1].append(keys)
                runs[-1][2].append(record)
                runs[-1][3].append(order_key)
            else:
                runs.append((row, [keys], [record], [order_key]))
        if len(runs) > MAX_INSERT_RUNS:  # scattered: one append and one re-sort beat many inserts
            first = len(self._records)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._records.extend(new)
            self._keys.extend(new_keys)
            self._display.extend(_display(r) for r in new)
            self._rows_stale = True
            self._ascending = None
            self.endInsertRows()
            self._apply_sort()
            return
        shift = 0
        size = len(ascending)
        for gap, keys_run, records, order_run in runs:
            row = gap + shift
            self.beginInsertRows(QModelIndex(), row, row + len(records) - 1)
            self._records[row:row] = records
            self._keys[row:row] = keys_run
            self._display[row:row] = [_display(r) for r in records]
            # the same rows in the ascending list: at the mirrored place, in ascending order
            at = size - gap if descending else gap + shift
            ascending[at:at] = order_run[::-1] if descending else order_run
            self._rows_stale = True
            self.endInsertRows()
            shift += len(records)

    def _apply_sort(self) -> None:
        if self._sort_order is None or len(self._records) < 2:
            return
        order = self._sort_order[1]
        keys = self._order_keys(self._keys)
        permutation = sorted(range(len(keys)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        if all(old == new for new, old in enumerate(permutation)):
            return
        self.layoutAboutToBeChanged.emit()
        new_row = [0] * len(permutation)
        for new, old in enumerate(permutation):
            new_row[old] = new
        self._records = [self._records[i] for i in permutation]
        self._keys = [self._keys[i] for i in permutation]
        self._display = [self._display[i] for i in permutation]
        self._rows_stale = True
        self._ascending = None
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent, [self.index(new_row[i.row()], i.column()) if i.isValid() else i for i in persistent]
        )
        self.layoutChanged.emit()

    def clear(self) -> None:
        self.beginResetModel()
        self._records.clear()
        self._keys.clear()
        self._display.clear()
        self._rows.clear()
        self._rows_stale = False
        self._ascending = None
        self.endResetModel()

    def row_for(self, bucket: str, key: str) -> int:
        row = self._row_index().get((bucket, key))
        return -1 if row is None else row

    def display_text(self, row: int, column: int) -> str:
        """The cell's text (what DisplayRole gives, without the Qt call)."""
        return self._display[row][column]

    def search_text(self, row: int) -> str:
        return self._display[row][-1]

    def record_at(self, row: int) -> MetadataRecord | None:
        return self._records[row] if 0 <= row < len(self._records) else None

    def find(self, bucket: str, key: str) -> MetadataRecord | None:
        return self.record_at(self.row_for(bucket, key))

    def records(self) -> list[MetadataRecord]:
        return list(self._records)


def _display(record: MetadataRecord) -> tuple[str, ...]:
    """Display text per column, then the lower-cased text the filter searches (cached with them)."""
    texts = tuple(str(column.display(record)) for column in COLUMNS)
    warned = "\n".join(f"{w.code}\n{w.message}" for w in record.warnings)
    return (*texts, f"{record.file_name}\n{record.key}\n{record.error or ''}\n{warned}".lower())


def _sort_keys(record: MetadataRecord) -> SortKeys:
    return tuple(column.sort(record) for column in COLUMNS)


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


class RecordFilterProxy(QSortFilterProxyModel):
    """Text filter (file name, key, error, warnings) + status filter. Sorting is the source model's (see
    RecordTableModel.sort): this proxy keeps the source order, so the view's sort requests go there."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._words: list[str] = []
        self._status = ""
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._text:
            self.beginFilterChange()
            self._text = text
            self._words = text.split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str) -> None:
        """ "" for all, "PROCESSED" (every processed file, with or without warnings), "WARNINGS" (processed with
        warnings only) or "FAILED"."""
        if status != self._status:
            self.beginFilterChange()
            self._status = status
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if not self._text and not self._status:  # called for every row after each source layout change
            return True
        model = self.sourceModel()
        if not isinstance(model, RecordTableModel):
            return True
        record = model.record_at(source_row)
        if record is None:
            return False
        if self._status == WARNINGS:
            if status_look(record) != WARNINGS:
                return False
        elif self._status and record.status != self._status:
            return False
        if self._text:
            haystack = model.search_text(source_row)
            return all(word in haystack for word in self._words)
        return True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)
