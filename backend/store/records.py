"""The metadata record as the app sees it, the browser's query, and the reader interface."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

from backend.errors import CsvDropError

# MISSING: the record's object is no longer in S3 (``csvdrop reconcile`` found it gone and the function marked
# it; its ``error`` says so and what to do). Like FAILED it is "not profiled": status_rank 2 for both.
Status = Literal["PROCESSED", "FAILED", "MISSING"]
SortKey = Literal[
    "file_name",
    "key",
    "bucket",
    "status",
    "size_bytes",
    "uploaded_at",
    "processed_at",
    "duration_ms",
    "row_count",
    "column_count",
    "duplicate_row_count",
    "encoding",
    "revision",
    "updated_at",
]
SORT_KEYS: tuple[str, ...] = get_args(SortKey)
STATUSES: tuple[str, ...] = get_args(Status)
# Statuses the "FAILED" filter (and rank 2) covers: files that need the user to act before they are usable.
NOT_PROFILED: tuple[str, ...] = ("FAILED", "MISSING")


def status_rank(status: str, warning_count: int) -> int:
    """The store's sort/count bucket of a record, as the MySQL generated column ``status_rank`` computes it
    (migration 0004): PROCESSED 0, processed with warnings 1, FAILED or MISSING 2."""
    if status in NOT_PROFILED:
        return 2
    return 1 if warning_count > 0 else 0


# Exactly the keys of docs/contracts.md, in that order.
CONTRACT_KEYS: tuple[str, ...] = (
    "bucket",
    "key",
    "file_name",
    "status",
    "error",
    "warnings",
    "size_bytes",
    "etag",
    "sha256",
    "sequencer",
    "uploaded_at",
    "processed_at",
    "duration_ms",
    "encoding",
    "has_bom",
    "delimiter",
    "quote_char",
    "escape_char",
    "double_quote",
    "skip_initial_space",
    "has_header",
    "header_line",
    "line_terminator",
    "skipped_lines",
    "row_count",
    "column_count",
    "column_names",
    "duplicate_column_names",
    "columns",
    "duplicate_row_count",
    "sample_rows",
)
SKIPPED_LINE_KINDS: tuple[str, ...] = ("preamble", "footnotes", "comments", "empty_rows", "blank_lines")


class StoreError(CsvDropError, RuntimeError):
    """The metadata store cannot answer. ``str(error)`` is a complete message for the user, with what to
    do next."""


def iso_utc(value: datetime) -> str:
    """``2026-11-25T21:00:00.123456+00:00`` (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(value: Any) -> datetime:
    """An aware UTC datetime from a datetime (naive = UTC) or an ISO 8601 string."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a time: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass(frozen=True)
class Histogram:
    """Counts of a column's non-null values in equal-width bins between ``edges[0]`` and ``edges[-1]``
    (``len(edges) == len(counts) + 1``). For dates the edges are Unix seconds (UTC)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @classmethod
    def from_json(cls, data: Any) -> Histogram | None:
        if not isinstance(data, Mapping):
            return None
        try:
            edges = tuple(float(e) for e in data.get("edges") or ())
            counts = tuple(int(c) for c in data.get("counts") or ())
        except (TypeError, ValueError):  # a damaged record shows no chart rather than no record
            return None
        if not counts or len(edges) != len(counts) + 1 or not all(map(math.isfinite, edges)):
            return None
        if edges != tuple(sorted(edges)) or min(counts) < 0:
            return None
        return cls(edges, counts)

    def to_json_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts)}


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str
    null_count: int = 0
    distinct_count: int = 0
    min: float | int | str | None = None
    max: float | int | str | None = None
    # The column's distribution, drawn in the detail pane (records stored before contract v3 have neither):
    # ``histogram`` for number and date columns, ``top_values`` for text. See docs/contracts.md.
    histogram: Histogram | None = None
    top_values: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnProfile:
        return cls(
            name=str(data.get("name", "")),
            type=str(data.get("type", "string")),
            null_count=int(data.get("null_count") or 0),
            distinct_count=int(data.get("distinct_count") or 0),
            min=data.get("min"),
            max=data.get("max"),
            histogram=Histogram.from_json(data.get("histogram")),
            top_values=tuple(
                (str(item[0]), int(item[1]))
                for item in data.get("top_values") or ()
                if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], int)
            ),
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "null_count": self.null_count,
            "distinct_count": self.distinct_count,
            "min": self.min,
            "max": self.max,
            "histogram": None if self.histogram is None else self.histogram.to_json_dict(),
            "top_values": [[value, count] for value, count in self.top_values],
        }


def describe_lines(lines: Sequence[int], limit: int = 12) -> str:
    """ "line 4", "lines 3, 7 and 9", "lines 3-5, 9 and 12", "lines 1, 3, 5 … (40 lines)": runs of consecutive
    numbers collapse, and past ``limit`` pieces the rest is counted, not listed."""
    numbers = sorted(set(lines))
    if not numbers:
        return ""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    pieces: list[str] = []
    for a, b in runs:
        pieces += [str(a)] if a == b else ([str(a), str(b)] if b == a + 1 else [f"{a}-{b}"])
    if len(pieces) > limit:
        return "lines " + ", ".join(pieces[:limit]) + f" … ({len(numbers):,} lines)"
    if len(pieces) == 1:
        return "lines " + pieces[0]
    return "lines " + ", ".join(pieces[:-1]) + " and " + pieces[-1]


@dataclass(frozen=True)
class RecordWarning:
    """Something the profiler worked around in a file it still processed (docs/contracts.md)."""

    code: str
    message: str
    lines: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> RecordWarning:
        if not isinstance(data, Mapping):
            return cls(code="warning", message=str(data))
        return cls(
            code=str(data.get("code") or "warning"),
            message=str(data.get("message") or ""),
            lines=tuple(int(n) for n in data.get("lines") or ()),
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "lines": list(self.lines)}

    @property
    def lines_text(self) -> str:
        """The lines as people read them: "lines 3-5 and 9" ("" when the warning names none)."""
        return describe_lines(self.lines)


@dataclass(frozen=True)
class SkippedLines:
    """Physical lines that are not data rows: text before the header, notes after the table, ``#`` comment
    lines among the rows, rows whose fields are all empty, and lines with no characters at all."""

    preamble: int = 0
    footnotes: int = 0
    comments: int = 0
    empty_rows: int = 0
    blank_lines: int = 0

    @classmethod
    def from_json(cls, data: Any) -> SkippedLines | None:
        if not isinstance(data, Mapping):
            return None
        return cls(**{kind: int(data.get(kind) or 0) for kind in SKIPPED_LINE_KINDS})

    def to_json_dict(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in SKIPPED_LINE_KINDS}

    @property
    def total(self) -> int:
        return self.preamble + self.footnotes + self.comments + self.empty_rows + self.blank_lines

    def describe(self) -> str:
        """ "none", or e.g. "2 preamble lines, 1 footnote line, 3 blank lines"."""
        parts = []
        for count, one, many in (
            (self.preamble, "preamble line", "preamble lines"),
            (self.footnotes, "footnote line", "footnote lines"),
            (self.comments, "comment line", "comment lines"),
            (self.empty_rows, "empty row", "empty rows"),
            (self.blank_lines, "blank line", "blank lines"),
        ):
            if count:
                parts.append(f"{count:,} {one if count == 1 else many}")
        return ", ".join(parts) or "none"


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


@dataclass(frozen=True)
class MetadataRecord:
    """One stored record: the contract fields plus the store's ``revision`` and ``updated_at``."""

    bucket: str
    key: str
    file_name: str
    status: str
    error: str | None
    size_bytes: int
    etag: str
    sha256: str | None
    sequencer: str
    uploaded_at: datetime
    processed_at: datetime
    duration_ms: float
    encoding: str | None
    has_bom: bool
    delimiter: str | None
    quote_char: str | None
    has_header: bool | None
    line_terminator: str | None
    row_count: int | None
    column_count: int | None
    column_names: tuple[str, ...]
    duplicate_column_names: tuple[str, ...]
    columns: tuple[ColumnProfile, ...]
    duplicate_row_count: int | None
    sample_rows: tuple[tuple[str, ...], ...]
    # migration 0002 / contract v2 (records stored before it read as: no warnings, the rest unknown)
    warnings: tuple[RecordWarning, ...] = ()
    escape_char: str | None = None
    double_quote: bool | None = None
    skip_initial_space: bool | None = None
    header_line: int | None = None
    skipped_lines: SkippedLines | None = None
    revision: int = 0
    updated_at: datetime | None = field(default=None, compare=False)
    # Not contract keys. ``deleted``: a tombstone (the object was removed; changed_since reports it once so
    # every window drops the row; list/count/get never return one). ``complete``: False when the record came
    # from a summary read (RecordQuery.summary), which leaves out columns, column_names and sample_rows.
    deleted: bool = False
    complete: bool = True

    @property
    def has_warnings(self) -> bool:
        """Processed with warnings: the file was profiled, and something in it was worked around."""
        return self.status == "PROCESSED" and bool(self.warnings)

    def to_json_dict(self) -> dict[str, Any]:
        """Exactly the contract keys (docs/contracts.md), times as ISO 8601 UTC strings."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "file_name": self.file_name,
            "status": self.status,
            "error": self.error,
            "warnings": [w.to_json_dict() for w in self.warnings],
            "size_bytes": self.size_bytes,
            "etag": self.etag,
            "sha256": self.sha256,
            "sequencer": self.sequencer,
            "uploaded_at": iso_utc(self.uploaded_at),
            "processed_at": iso_utc(self.processed_at),
            "duration_ms": self.duration_ms,
            "encoding": self.encoding,
            "has_bom": self.has_bom,
            "delimiter": self.delimiter,
            "quote_char": self.quote_char,
            "escape_char": self.escape_char,
            "double_quote": self.double_quote,
            "skip_initial_space": self.skip_initial_space,
            "has_header": self.has_header,
            "header_line": self.header_line,
            "line_terminator": self.line_terminator,
            "skipped_lines": None if self.skipped_lines is None else self.skipped_lines.to_json_dict(),
            "row_count": self.row_count,
            "column_count": self.column_count,
            "column_names": list(self.column_names),
            "duplicate_column_names": list(self.duplicate_column_names),
            "columns": [c.to_json_dict() for c in self.columns],
            "duplicate_row_count": self.duplicate_row_count,
            "sample_rows": [list(r) for r in self.sample_rows],
        }

    @classmethod
    def from_json_dict(
        cls, data: Mapping[str, Any], *, revision: int = 0, updated_at: datetime | None = None
    ) -> MetadataRecord:
        """Build from contract keys (missing optional ones default to null/empty)."""
        duration = float(data.get("duration_ms") or 0.0)
        key = str(data["key"])
        return cls(
            bucket=str(data["bucket"]),
            key=key,
            file_name=str(data.get("file_name") or key.rsplit("/", 1)[-1]),
            status=str(data.get("status") or "FAILED"),
            error=_opt_str(data.get("error")),
            size_bytes=int(data.get("size_bytes") or 0),
            etag=str(data.get("etag") or ""),
            sha256=_opt_str(data.get("sha256")),
            sequencer=str(data.get("sequencer") or ""),
            uploaded_at=parse_utc(data["uploaded_at"]),
            processed_at=parse_utc(data.get("processed_at") or data["uploaded_at"]),
            duration_ms=duration if math.isfinite(duration) else 0.0,
            encoding=_opt_str(data.get("encoding")),
            has_bom=bool(data.get("has_bom") or False),
            delimiter=_opt_str(data.get("delimiter")),
            quote_char=_opt_str(data.get("quote_char")),
            has_header=_opt_bool(data.get("has_header")),
            line_terminator=_opt_str(data.get("line_terminator")),
            row_count=_opt_int(data.get("row_count")),
            column_count=_opt_int(data.get("column_count")),
            column_names=tuple(str(n) for n in data.get("column_names") or ()),
            duplicate_column_names=tuple(str(n) for n in data.get("duplicate_column_names") or ()),
            columns=tuple(ColumnProfile.from_json(c) for c in data.get("columns") or ()),
            duplicate_row_count=_opt_int(data.get("duplicate_row_count")),
            sample_rows=tuple(tuple(str(v) for v in row) for row in data.get("sample_rows") or ()),
            warnings=tuple(RecordWarning.from_json(w) for w in data.get("warnings") or ()),
            escape_char=_opt_str(data.get("escape_char")),
            double_quote=_opt_bool(data.get("double_quote")),
            skip_initial_space=_opt_bool(data.get("skip_initial_space")),
            header_line=_opt_int(data.get("header_line")),
            skipped_lines=SkippedLines.from_json(data.get("skipped_lines")),
            revision=revision,
            updated_at=updated_at,
        )

    def sort_value(self, sort: str) -> Any:
        return getattr(self, sort)


@dataclass(frozen=True)
class RecordQuery:
    """What the browser asks for. ``name_contains`` matches anywhere in the object key, case-insensitively;
    ``uploaded_from`` is inclusive, ``uploaded_to`` exclusive (naive datetimes are UTC). ``with_warnings``
    keeps only records processed with warnings (status PROCESSED and a non-empty ``warnings``). ``status``
    "FAILED" keeps every record that was not profiled, MISSING ones (object gone) included; "MISSING" only those."""

    status: str | None = None
    with_warnings: bool = False
    name_contains: str | None = None
    uploaded_from: datetime | None = None
    uploaded_to: datetime | None = None
    bucket: str | None = None
    sort: str = "uploaded_at"
    descending: bool = True
    limit: int = 100
    offset: int = 0
    # The browser's indexed text filter: the rule it follows is the reader's capabilities.text_rule.
    text: str | None = None
    # Keyset paging: RecordPage.next of the previous page (same filters and sort); offset is then ignored.
    after: str | None = None
    # Leave out the heavy fields (columns, column_names, sample_rows): the records come back complete=False.
    summary: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"cannot sort by {self.sort!r}; choose one of {', '.join(SORT_KEYS)}")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if not 0 < self.limit <= 10_000:
            raise ValueError("limit must be between 1 and 10000")
        if self.offset < 0:
            raise ValueError("offset must not be negative")


@dataclass(frozen=True)
class RecordPage:
    records: Sequence[MetadataRecord]
    total: int  # rows matching the query's filters, ignoring limit/offset; -1 when not counted (see count())
    next: str | None = None  # pass as RecordQuery.after for the page after this one; None: this was the last


@dataclass(frozen=True)
class ReaderCapabilities:
    """What a store can do on the server, for the browser to offer it or say it cannot."""

    sort_keys: tuple[str, ...]  # sorts served by an index; others are refused by list() with a StoreError
    text_rule: str  # how RecordQuery.text matches, for the filter's placeholder, e.g. "Name starts with…"
    random_access: bool  # list() with a large offset is cheap (an index walk), not a walk through every page
    notes: tuple[str, ...] = ()  # what the browser should tell the user about this store's limits


Records = list[MetadataRecord]


class MetadataReader(Protocol):
    """Read side of the metadata store (MySQL or DynamoDB). Methods raise only :class:`StoreError`."""

    @property
    def capabilities(self) -> ReaderCapabilities: ...

    def list(self, query: RecordQuery) -> RecordPage:
        """One page of live (not deleted) records matching the query, in its order. ``total`` is count() when
        the store knows it without walking the matches (MySQL: no text/name/date filter, from its counts
        table), else -1: call count() then. A sort not in ``capabilities.sort_keys`` raises StoreError."""
        ...

    def count(self, query: RecordQuery) -> int:
        """How many live records match the query's filters."""
        ...

    def get(self, bucket: str, key: str) -> MetadataRecord | None: ...

    def changed_since(self, cursor: str | None, limit: int = 1000, *, summary: bool = False) -> tuple[Records, str]:
        """Records changed after ``cursor`` (None = from the beginning), oldest change first, at most
        ``limit``, and the cursor to pass next time. Call again while a full page comes back. Deletions come
        as tombstones (``deleted=True``)."""
        ...

    def latest_cursor(self) -> str:
        """The ``changed_since`` cursor of the store as it is now (its newest revision), read without walking the
        change log: a window starts from here and reads only what changes after."""
        ...

    def close(self) -> None: ...


def decode_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    prefix, _, number = cursor.partition(":")
    if prefix != "r" or not number.isdigit():
        raise StoreError(f"invalid change cursor {cursor!r}; start again without one")
    return int(number)


def encode_cursor(revision: int) -> str:
    return f"r:{revision}"
