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
    Column(
        "Processed", lambda r: style.local_time(r.processed_at), lambda r: style.timestamp(r.processed_at)
    ),
    Column("Notes", notes_for, lambda r: notes_for(r).lower()),
    Column("Key", lambda r: r.key, lambda r: (r.key or "").lower()),
)


class RecordTableModel(QAbstractTableModel):
    """Flat table of MetadataRecords; ``upsert`` inserts new rows and updates known ones in place."""

    FILE, STATUS, ROWS, COLUMNS_, SIZE, UPLOADED, PROCESSED, NOTES, KEY = range(len(COLUMNS))
    records_changed = Signal(list)  # the records just inserted or updated

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[Any] = []
        self._rows: dict[tuple[str, str], int] = {}

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].align_right:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        if not 0 <= index.column() < len(COLUMNS):
            return None
        record = self._records[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.display(record)
        if role == SortRole:
            return column.sort(record)
        if role == RecordRole:
            return record
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        color = STATUS_COLORS.get(record.status, style.GREY)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == self.STATUS:
            return style.dot_icon(color)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() in (self.STATUS, self.NOTES):
            if record.status != "PROCESSED":
                return QColor(color)
        if role == Qt.ItemDataRole.BackgroundRole and record.status == "FAILED":
            return style.tint(style.RED, 22)
        if role == Qt.ItemDataRole.ToolTipRole:
            if record.status != "PROCESSED":
                return f"{record.file_name} could not be profiled:\n{record.error}"
            return f"s3://{record.bucket}/{record.key}"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

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
            self.endInsertRows()
        if changed:
            self.records_changed.emit(changed)
        return len(new), len(set(updated_rows))

    def clear(self) -> None:
        self.beginResetModel()
        self._records.clear()
        self._rows.clear()
        self.endResetModel()

    def row_for(self, bucket: str, key: str) -> int:
        row = self._rows.get((bucket, key))
        return -1 if row is None else row

    def record_at(self, row: int) -> Any:
        return self._records[row] if 0 <= row < len(self._records) else None

    def find(self, bucket: str, key: str) -> Any:
        return self.record_at(self.row_for(bucket, key))

    def records(self) -> list[Any]:
        return list(self._records)


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
        a, b = left.data(SortRole), right.data(SortRole)
        if a == b:  # a stable tie-break on the file name keeps the order from jumping between ticks
            model = self.sourceModel()
            ra = model.index(left.row(), 0).data(SortRole)
            rb = model.index(right.row(), 0).data(SortRole)
            return bool(ra < rb)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)
