"""The metadata browser's models: store records, updated in place as ``changed_since`` reports them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

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

ModelIndex = QModelIndex | QPersistentModelIndex

SortRole = Qt.ItemDataRole.UserRole + 1
RecordRole = Qt.ItemDataRole.UserRole + 2

STATUS_LABELS = {"PROCESSED": "Processed", "FAILED": "Failed"}
STATUS_COLORS = {"PROCESSED": style.GREEN, "FAILED": style.RED}


def record_id(record: Any) -> tuple[str, str]:
    return (record.bucket, record.key)


def notes_for(record: Any) -> str:
    if record.status != "PROCESSED":
        return str(record.error or "Could not be profiled")
    notes = []
    dup_rows = getattr(record, "duplicate_row_count", None)
    if dup_rows:
        notes.append(f"{dup_rows:,} duplicate row{'s' if dup_rows != 1 else ''}")
    dup_cols = getattr(record, "duplicate_column_names", None)
    if dup_cols:
        notes.append("repeated column names: " + ", ".join(dup_cols))
    if getattr(record, "has_header", True) is False:
        notes.append("no header row")
    return "; ".join(notes)


_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


class Column:
    def __init__(
        self,
        title: str,
        display: Callable[[Any], str],
        sort: Callable[[Any], Any],
        align_right: bool = False,
    ) -> None:
        self.title = title
        self.display = display
        self.sort = sort
        self.align_right = align_right


COLUMNS: tuple[Column, ...] = (
    Column("File", lambda r: r.file_name, lambda r: (r.file_name or "").lower()),
    Column("Status", lambda r: STATUS_LABELS.get(r.status, str(r.status)), lambda r: str(r.status)),
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
    Column("Size", lambda r: style.human_bytes(r.size_bytes), lambda r: r.size_bytes or 0, True),
    Column("Uploaded", lambda r: style.local_time(r.uploaded_at), lambda r: style.timestamp(r.uploaded_at)),
    Column("Processed", lambda r: style.local_time(r.processed_at), lambda r: style.timestamp(r.processed_at)),
    Column("Notes", notes_for, lambda r: notes_for(r).lower()),
    Column("Key", lambda r: r.key, lambda r: (r.key or "").lower()),
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
_FAILED_TEXT = QColor(STATUS_COLORS["FAILED"])
_FAILED_BACKGROUND = style.tint(style.RED, 22)


class RecordTableModel(QAbstractTableModel):
    """Flat table of MetadataRecords; ``upsert`` inserts new rows and updates known ones in place."""

    FILE, STATUS, ROWS, COLUMNS_, SIZE, UPLOADED, PROCESSED, NOTES, KEY = range(len(COLUMNS))
    records_changed = Signal(list)  # the records just inserted or updated

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[Any] = []
        self._keys: list[tuple[Any, ...]] = []  # sort keys per row, computed once per record version
        self._display: list[tuple[str, ...]] = []  # display texts per row, likewise
        self._rows: dict[tuple[str, str], int] = {}

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].align_right:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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
        failed = record.status != "PROCESSED"
        if role == _DECORATION:
            return style.dot_icon(STATUS_COLORS.get(record.status, style.GREY)) if col == self.STATUS else None
        if role == _FOREGROUND:
            return _FAILED_TEXT if failed and col in (self.STATUS, self.NOTES) else None
        if role == _BACKGROUND:
            return _FAILED_BACKGROUND if record.status == "FAILED" else None
        if role == _TOOLTIP:
            if record.status != "PROCESSED":
                return f"{record.file_name} could not be profiled:\n{record.error}"
            return f"s3://{record.bucket}/{record.key}"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    # -- changes -------------------------------------------------------------------------------------
    def upsert(self, records: Iterable[Any]) -> tuple[int, int]:
        """Insert new records at the end, update known ones in place. Returns (inserted, updated)."""
        new: list[Any] = []
        pending: dict[tuple[str, str], int] = {}
        updated_rows: list[int] = []
        changed: list[Any] = []
        for record in records:
            rid = record_id(record)
            row = self._rows.get(rid)
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
        if new:
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

    def clear(self) -> None:
        self.beginResetModel()
        self._records.clear()
        self._keys.clear()
        self._display.clear()
        self._rows.clear()
        self.endResetModel()

    def row_for(self, bucket: str, key: str) -> int:
        row = self._rows.get((bucket, key))
        return -1 if row is None else row

    def sort_key(self, row: int, column: int) -> Any:
        return self._keys[row][column]

    def record_at(self, row: int) -> Any:
        return self._records[row] if 0 <= row < len(self._records) else None

    def find(self, bucket: str, key: str) -> Any:
        return self.record_at(self.row_for(bucket, key))

    def records(self) -> list[Any]:
        return list(self._records)


def _display(record: Any) -> tuple[str, ...]:
    return tuple(str(column.display(record)) for column in COLUMNS)


def _sort_keys(record: Any) -> tuple[Any, ...]:
    return tuple(column.sort(record) for column in COLUMNS)


def _runs(rows: list[int]) -> Iterable[tuple[int, int]]:
    start = prev = None
    for row in rows:
        if start is None:
            start = prev = row
        elif prev is not None and row == prev + 1:
            prev = row
        else:
            yield start, prev  # type: ignore[misc]
            start = prev = row
    if start is not None:
        yield start, prev  # type: ignore[misc]


class RecordFilterProxy(QSortFilterProxyModel):
    """Text filter (file name, key, error) + status filter; sorting on :data:`SortRole`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._status = ""
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    @property
    def text(self) -> str:
        return self._text

    @property
    def status(self) -> str:
        return self._status

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._text:
            self.beginFilterChange()
            self._text = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str) -> None:
        """ "" for all, or "PROCESSED" / "FAILED"."""
        if status != self._status:
            self.beginFilterChange()
            self._status = status
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, RecordTableModel):
            return True
        record = model.record_at(source_row)
        if record is None:
            return False
        if self._status and record.status != self._status:
            return False
        if self._text:
            haystack = f"{record.file_name}\n{record.key}\n{record.error or ''}".lower()
            return all(word in haystack for word in self._text.split())
        return True

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:
        model = self.sourceModel()
        if isinstance(model, RecordTableModel):  # cached keys: no QModelIndex.data round trips
            a, b = model.sort_key(left.row(), left.column()), model.sort_key(right.row(), right.column())
            if a == b:  # tie-break on name, then key, so the order never jumps between ticks
                ka, kb = model.sort_key(left.row(), 0), model.sort_key(right.row(), 0)
                if ka == kb:
                    return bool(model.sort_key(left.row(), 8) < model.sort_key(right.row(), 8))
                return bool(ka < kb)
        else:
            a, b = left.data(SortRole), right.data(SortRole)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)
