"""The CSV rules of CSV Drop: how bytes become a table, shared by the desktop check and the Lambda.

Standard library only. The desktop app (``backend/validation.py``) imports it as a package; the function zip
ships it next to the Lambda's modules (``backend/packaging.py``), so both sides decide with the same code.

What a user calls "the table" is what a spreadsheet shows once the file is read right: the header row and
the data records under it. Real exports wrap that table in things that are not part of it, and every such
decision is written into the record (``header_line``, ``skipped_lines``, the full dialect, ``warnings``),
so a reader of the metadata can see what was decided and why. The rules, in order:

1. **Bytes -> text** (:func:`decode`): empty, known binary formats by their magic bytes, a byte-order mark,
   UTF-16 without BOM, strict UTF-8, cp1252, latin-1; mostly-control-character text is binary.
2. **Dialect** (:func:`sniff`) by consistency over the first records of the sample, not line 1: every
   candidate (delimiters ``, ; TAB | :`` and space; quote ``"`` or ``'``; doubled quotes or a backslash
   escape; spaces after the delimiter skipped or not) parses the sample, and is scored by how consistent its
   field counts are (CleverCSV's pattern score) times the share of cells that look like clean values
   (numbers, dates, words without stray delimiters or quotes). Ties go to the earlier candidate in that order.
   No candidate that splits rows into 2+ fields consistently: a single column (``delimiter`` None).
3. **Where the table is** (:func:`find_table`): the table's width is the most common field count; the
   table starts at the first record of that width that has two or more values (lines above it, title
   lines, ``#`` comments and lines with one value padded by delimiters, are the *preamble*); a header row
   one field wider or narrower right above it (Mechanical Turk exports, trailing delimiters on data rows
   only) is still the header. Lines of one value (or one value padded by delimiters) below the last data
   row are *footnotes*.
4. **Header** by contrast with the rows below: a column whose values below are all one kind (number with
   thousands separators or units, date in any common format, time, date-time, boolean, code) and whose first
   value is not of that kind says "header"; one whose first value is of that kind says "data". More data
   votes than header votes: the first row is data and the columns are ``column_1..n``. A second row with
   every name filled and only header votes above typed data makes a two-row header; the names join the
   parts of both with a space.
5. **Rows**: blank lines and, in a table of two or more columns, rows whose every field is empty are not
   data rows (counted in ``skipped_lines``; empty rows also warned about). A last column that is empty on
   every row and unnamed (trailing delimiters) is not a column. Rows with fewer fields than the table are
   padded with empty cells, rows with more have their extra fields left out of the columns (counted in the
   warning), when at least 40 % of the rows (header included) have the table's width; otherwise the
   file has no consistent table and fails with what was seen (:func:`assess_widths`).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SNIFF_BYTES = 64 * 1024
SNIFF_RECORDS = 200  # records of the sample that the table layout is judged on
DIALECT_RECORDS = 100  # records each dialect candidate parses (enough to tell; sniffing stays at ~1 ms)
TAIL_RECORDS = 40  # records at the end of the file that footnotes are looked for in
TYPE_CELLS = 1000  # cells scored per dialect candidate (enough to tell; keeps sniffing to a few ms)
CONTROL_CHAR_RATIO = 0.01
MIN_CONSISTENT_SHARE = 0.4  # rows of the table's width (header included) among all of its rows, for it to stand
WARNING_LINES = 20  # line numbers listed in one warning (the count is always complete)
DELIMITERS = (",", ";", "\t", "|", ":", " ")
NO_DELIMITER_CHARS = ("\x1f", "\x1e", "\x1d", "\x1c")

_ZIP_FIX = "export it as CSV (Excel: File > Save As > CSV UTF-8), or unzip it and upload the .csv inside"
# (signature, what the file is, what to do)
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data, not a plain-text CSV", "decompress it (gunzip) and upload the .csv inside"),
    (b"PK\x03\x04", "an Excel workbook or ZIP archive renamed .csv", _ZIP_FIX),
    (b"PK\x05\x06", "an Excel workbook or ZIP archive renamed .csv", _ZIP_FIX),
    (b"PK\x07\x08", "an Excel workbook or ZIP archive renamed .csv", _ZIP_FIX),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel (.xls) or other Office document renamed .csv",
        "open it in Excel or LibreOffice and export it as CSV",
    ),
    (b"%PDF-", "a PDF document, not a CSV", "export the table from its source application as CSV"),
    (b"BZh", "bzip2-compressed data, not a plain-text CSV", "decompress it (bunzip2) and upload the .csv inside"),
    (b"\xfd7zXZ\x00", "xz-compressed data, not a plain-text CSV", "decompress it (unxz) and upload the .csv inside"),
    (
        b"\x28\xb5\x2f\xfd",
        "zstd-compressed data, not a plain-text CSV",
        "decompress it (unzstd) and upload the .csv inside",
    ),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive, not a plain-text CSV", "extract it and upload the .csv inside"),
)
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20)])  # control characters other than \t \n \v \f \r

# Fields may be megabytes long (a 5 MB line is a valid CSV); the csv module's default cap is 128 KiB.
csv.field_size_limit(2**31 - 1)


class CsvError(ValueError):
    """The bytes hold no usable table; ``str(exc)`` says what is wrong and what to do, as sentences."""


# ---------------------------------------------------------------------------------------------- bytes -> text


@dataclass(frozen=True)
class Decoded:
    """How to read the bytes: ``buf[start:]`` is ASCII-compatible text in ``buf_encoding``."""

    encoding: str  # what the file is in (reported)
    has_bom: bool
    buf: bytes
    start: int
    buf_encoding: str

    def text(self) -> str:
        return self.buf[self.start :].decode(self.buf_encoding)

    def head(self, size: int = SNIFF_BYTES) -> str:
        return self.buf[self.start : self.start + size].decode(self.buf_encoding, errors="ignore")

    @property
    def complete_head(self) -> bool:
        return len(self.buf) - self.start <= SNIFF_BYTES


def check_magic(data: bytes) -> str | None:
    """A sentence if ``data`` starts like a known non-CSV format."""
    if data.startswith(b"BZh") and data[4:10] != b"1AY&SY":
        return None  # "BZh" alone is ordinary text; bzip2 needs its block magic too
    for magic, what, fix in MAGIC:
        if data.startswith(magic):
            return f"The file is {what}; {fix}."
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    half = len(head) // 2
    if odd.count(0) > 0.9 * half and even.count(0) < 0.1 * half:
        return "utf-16-le"
    if even.count(0) > 0.9 * half and odd.count(0) < 0.1 * half:
        return "utf-16-be"
    return None


def _decode_error(exc: UnicodeDecodeError, what: str) -> CsvError:
    return CsvError(
        f"The file {what} but is not valid {exc.encoding.upper()} (byte offset {exc.start}: {exc.reason}). "
        "Re-save it with one consistent encoding, preferably UTF-8 (Excel: Save As > CSV UTF-8)."
    )


def _check_control(text: str) -> None:
    head = text[:SNIFF_BYTES]
    # Counted in the UTF-8 bytes, where each of these characters is one byte and no other character has such a
    # byte (a regex over 64K characters took longer than the rest of decoding).
    raw = head.encode("utf-8", "surrogatepass")
    found = len(raw) - len(raw.translate(None, _CONTROL_BYTES))
    if found > max(8, CONTROL_CHAR_RATIO * len(head)):
        raise CsvError(
            f"The file is mostly not text ({found} control characters in its first {len(head)} characters), "
            "so it is not a CSV. Check that you picked the right file."
        )


def decode(data: bytes) -> Decoded:
    """Rule 1. UTF-16/32 text is re-encoded as UTF-8 so that every later step reads ASCII-compatible bytes."""
    if not data:
        raise CsvError("The file is empty (0 bytes). Export the data again; a CSV needs at least a header line.")
    magic = check_magic(data)
    if magic:
        raise CsvError(magic)
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, f"starts with a {enc.replace('-sig', '').upper()} byte-order mark") from None
            _check_control(text)
            if enc == "utf-8-sig":
                return Decoded(enc, True, data, len(bom), "utf-8")
            return Decoded(enc, True, text.encode("utf-8"), 0, "utf-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        enc16 = _utf16_without_bom(data[:4096])
        if enc16 is None:
            raise CsvError(
                f"The file contains binary data (a NUL byte at offset {nul}), so it is not a text CSV. "
                "Check that you picked the right file; a CSV is plain text you can open in a text editor."
            )
        try:
            text = data.decode(enc16)
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, "looks like UTF-16 without a byte-order mark") from None
        _check_control(text)
        return Decoded(enc16, False, text.encode("utf-8"), 0, "utf-8")
    for enc in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        _check_control(text)
        return Decoded(enc, False, data, 0, enc)
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


# ------------------------------------------------------------------------------------------------ values

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NUMBER_RE = re.compile(
    r"[+-]?\(?(?:[$€£¥]\s?)?"
    r"(?:\d{1,3}(?:[,' \u00a0]\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?|[.,]\d+)"
    r"(?:[eE][+-]?\d+)?\)?\s?(?:%|‰|[a-zA-Zµ°²³/]{1,4})?",
)
_DATE_RE = re.compile(
    rf"(?:\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}|\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}"
    rf"|\d{{1,2}}[- ]{_MONTH}[- ,]*\d{{2,4}}|{_MONTH} \d{{1,2}},? \d{{4}}|\d{{4}}-\d{{2}}|\d{{8}})",
    re.IGNORECASE,
)
_TIME_RE = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s?(?:[ap]\.?m\.?)?", re.IGNORECASE)
_DATETIME_RE = re.compile(
    rf"{_DATE_RE.pattern}(?:[T ]|, ){_TIME_RE.pattern}\s?(?:Z|[+-]\d{{2}}:?\d{{2}}|[A-Z]{{3,4}})?", re.IGNORECASE
)
# An identifier like AB-1234, E0123 or CC102-PDMI-001: digits and capital letters (not "field1").
_CODE_RE = re.compile(r"(?=[A-Z0-9/-]*\d)(?!(?:[^A-Z]*[A-Z]){9})[A-Z0-9][A-Z0-9/-]{0,19}")
_BOOLEANS = frozenset({"true", "false", "yes", "no"})
NULL_TOKENS = frozenset({"nan", "na", "n/a", "null", "none", "-", "--", ".", "?", "#n/a", "nil", "(null)"})


def value_kind(value: str) -> str:
    """What a value looks like: empty, number, date, time, datetime, boolean, code or string."""
    v = value.strip()
    if not v or v.lower() in NULL_TOKENS:
        return "empty"
    if v.isalpha():  # the common cases first: one word, a whole number
        return "boolean" if v.lower() in _BOOLEANS else "string"
    if v.isdigit() and len(v) not in (6, 8):  # (six or eight digits may be a date: 200801, 20080228)
        return "number"
    first = v[0]
    if first.isdigit() or first in "+-.($€£¥":
        if _NUMBER_RE.fullmatch(v) and not _DATE_RE.fullmatch(v):
            return "number"
    if v.lower() in _BOOLEANS:
        return "boolean"
    if first.isdigit() or first.isalpha():
        if _DATE_RE.fullmatch(v):
            return "date"
        if _DATETIME_RE.fullmatch(v):
            return "datetime"
        if _TIME_RE.fullmatch(v):
            return "time"
        if _CODE_RE.fullmatch(v) and not v.isalpha():
            return "code"
    return "string"


# --------------------------------------------------------------------------------------------------- dialect


@dataclass(frozen=True)
class Dialect:
    """How the file separates fields; ``delimiter`` None is a single column."""

    delimiter: str | None = ","
    quote_char: str = '"'
    escape_char: str | None = None
    double_quote: bool = True
    skip_initial_space: bool = False

    def separator(self, text: str | bytes) -> str:
        """The separator to split lines with: for a single column, a character the text never holds."""
        if self.delimiter is not None:
            return self.delimiter
        for ch in NO_DELIMITER_CHARS:
            probe: Any = ch if isinstance(text, str) else ch.encode()
            if probe not in text:
                return ch
        return ","

    def reader(self, lines: Iterable[str], separator: str | None = None) -> Any:
        """A csv.reader for this dialect (lenient about stray quotes, like pandas)."""
        return csv.reader(
            lines,
            delimiter=separator or self.delimiter or ",",
            quotechar=self.quote_char,
            escapechar=self.escape_char,
            doublequote=self.double_quote,
            skipinitialspace=self.skip_initial_space,
            strict=False,
        )

    @property
    def rfc4180(self) -> bool:
        """Quotes only doubled, nothing skipped: the parity rule of a vectorised scan holds."""
        return self.escape_char is None and self.double_quote and not self.skip_initial_space


def _parse(sample: str, dialect: Dialect, complete: bool, limit: int = DIALECT_RECORDS) -> list[list[str]]:
    rows: list[list[str]] = []
    reader = dialect.reader(io.StringIO(sample, newline=""), dialect.separator(sample))
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > limit:
                break
    except csv.Error:
        pass
    if not complete and len(rows) > 1 and len(rows) <= limit:
        rows.pop()  # the sample may end inside the last record
    return rows[:limit]


_STRONG = frozenset(",;\t|")


def _clean_cell(value: str, delimiter: str, quote: str) -> bool:
    v = value.strip()
    if not v or value_kind(v) != "string":
        return True
    if v[0] == quote or v[-1] == quote or "\\" + quote in v:
        return False  # a quote left at the edge or after a backslash: the quoting was not understood
    return not any(ch in _STRONG and ch != delimiter for ch in v)


def _pattern_score(widths: Sequence[int]) -> tuple[float, int, float]:
    """(CleverCSV's pattern score per row, the modal width, that width's share of the rows)."""
    counts = Counter(widths)
    n = len(widths)
    score = sum(c * (w - 1) / w for w, c in counts.items()) / (len(counts) * n)
    width, freq = max(counts.items(), key=lambda wc: (wc[1], wc[0]))
    return score, width, freq / n


def _type_score(rows: list[list[str]], width: int, dialect: Dialect) -> float:
    cells = good = 0
    delim = dialect.delimiter or ""
    for row in rows:
        if len(row) != width:
            continue
        for value in row:
            cells += 1
            good += _clean_cell(value, delim, dialect.quote_char)
        if cells >= TYPE_CELLS:
            break
    return good / cells if cells else 0.0


def _candidates(sample: str) -> Iterator[Dialect]:
    quotes = ['"']
    if "'" in sample and re.search(r"(?:^|[,;\t|: ])'[^'\r\n]*'(?:[,;\t|: ]|$)", sample, re.MULTILINE):
        quotes.append("'")
    for delim in DELIMITERS:
        if delim not in sample:
            continue
        for quote in quotes:
            # (A lone backslash is looked for first: one character is found far faster than two.)
            escaped = "\\" in sample and "\\" + quote in sample
            escapes: list[str | None] = [None, "\\"] if escaped else [None]
            skips = [False, True] if delim + " " in sample else [False]  # " " + skip: runs of spaces
            for esc in escapes:
                for skip in skips:
                    yield Dialect(delim, quote, esc, esc is None, skip)


def _content_rows(rows: Iterable[list[str]]) -> list[list[str]]:
    """Rows that say something about the dialect: not empty, not a ``#`` comment."""
    return [r for r in rows if "".join(r).strip() and not r[0].lstrip().startswith("#")]


def _one_name(first: list[str]) -> bool:
    """A first row that is one name (``full_name``), not a title: the file has one column, whose values
    may hold the delimiter (``Smith, John``)."""
    value = first[0].strip() if len(first) == 1 else ""
    return len(value) <= 30 and re.fullmatch(r"[^\W\d]\w*(?:[.-]\w+)*", value) is not None


def sniff(sample: str, complete: bool) -> Dialect:
    """Rule 2: the dialect that reads the start of the file as the most consistent, cleanest table."""
    scored: list[tuple[float, float, Dialect, list[list[str]], int]] = []
    for rank, dialect in enumerate(_candidates(sample)):
        rows = _content_rows(_parse(sample, dialect, complete))
        if not rows or any(rows == other[3] for other in scored):
            continue  # reads the sample exactly as an earlier (preferred) candidate does
        pattern, width, share = _pattern_score([len(r) for r in rows])
        if width < 2 or (dialect.delimiter in (":", " ") and share < 0.9) or _one_name(rows[0]):
            continue
        scored.append((pattern, share, dialect, rows, rank))
    if not scored:
        return Dialect(delimiter=None)
    best_pattern = max(s[0] for s in scored)
    best: tuple[float, int] | None = None
    chosen = Dialect(delimiter=None)
    contenders = [s for s in scored if s[0] >= best_pattern * 0.5]
    for pattern, _share, dialect, rows, rank in contenders:
        width = _pattern_score([len(r) for r in rows])[1]
        weak = dialect.delimiter in (":", " ")
        clean = _type_score(rows, width, dialect) if weak or len(contenders) > 1 else 1.0
        if dialect.delimiter in (":", " ") and clean < 0.9:
            continue  # a colon or space splits times and labels too: only a clean table makes it the delimiter
        score = pattern * clean
        if best is None or (round(score, 6), -rank) > best:
            best, chosen = (round(score, 6), -rank), dialect
    if best is None:
        return Dialect(delimiter=None)
    return _settle_initial_space(sample, chosen)


def _settle_initial_space(sample: str, dialect: Dialect) -> Dialect:
    """Spaces after the delimiter are part of the separator when (nearly) every delimiter has one."""
    delim = dialect.delimiter
    if delim is None or delim == " ":
        return dialect
    total = sample.count(delim)
    spaced = sample.count(delim + " ")
    # ', "x"': a quote after the space only reads as a quote when the space is skipped.
    wanted = total > 0 and (spaced >= 0.9 * total or delim + " " + dialect.quote_char in sample)
    if wanted == dialect.skip_initial_space:
        return dialect
    return Dialect(delim, dialect.quote_char, dialect.escape_char, dialect.double_quote, wanted)


# ------------------------------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)  # (slots: a file's first 200 rows are made for every profile; a third faster)
class Row:
    """One record as the CSV rules see it: its index among all records (blank ones included), the physical
    line it starts on, and its fields ([] for a blank line)."""

    index: int
    line: int
    fields: list[str]

    @property
    def width(self) -> int:
        return len(self.fields)

    @property
    def empty(self) -> bool:
        """Every field empty (a blank line too); a field of spaces is a value."""
        return not any(self.fields)

    @property
    def filled(self) -> int:
        return sum(1 for v in self.fields if v.strip())


def read_rows(
    text: str, dialect: Dialect, first_index: int = 0, first_line: int = 1, limit: int | None = None
) -> list[Row]:
    """The records of ``text`` with their indices and starting lines (at most ``limit``). Strict first, so that
    a quoted field left open at the end is an error; then lenient about stray quotes, as pandas is."""
    for strict in (True, False):
        rows: list[Row] = []
        reader = dialect.reader(io.StringIO(text, newline=""), dialect.separator(text))
        if strict:
            reader = csv.reader(io.StringIO(text, newline=""), reader.dialect, strict=True)
        prev = 0
        try:
            for fields in reader:
                rows.append(Row(first_index + len(rows), first_line + prev, fields))
                prev = reader.line_num
                if limit is not None and len(rows) >= limit:
                    break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise QuoteNotClosed(first_line + prev) from None
            continue
        return rows
    return rows


class QuoteNotClosed(CsvError):
    def __init__(self, line: int) -> None:
        super().__init__(
            f"A quoted field starting on line {line} is never closed: the file ends inside quotes. "
            'Add the missing closing quote, or double any quote inside a quoted field ("").'
        )
        self.line = line


@dataclass(frozen=True)
class Warning_:
    code: str
    message: str
    lines: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "lines": self.lines[:WARNING_LINES]}


@dataclass
class Table:
    """Where the table is in the records, and what it is called (rules 3 and 4)."""

    width: int  # field count of the table's rows as parsed
    header: list[Row]  # the header row(s); [] without a header
    first_data: int  # record index of the first data row (may be past the end: no data rows)
    end: int  # record index after the last data row (footnotes start here)
    names: list[str]
    preamble: list[Row]
    footnotes: list[Row]
    warnings: list[Warning_] = field(default_factory=list)

    @property
    def has_header(self) -> bool:
        return bool(self.header)

    @property
    def header_line(self) -> int | None:
        return self.header[0].line if self.header else None

    @property
    def columns(self) -> int:
        return len(self.names)


def _lines(rows: Iterable[Row]) -> list[int]:
    return [r.line for r in rows]


def _cached_kinds() -> Callable[[str], str]:
    """:func:`value_kind` remembering its answers for one :func:`find_table` call (the rows it types overlap:
    the 20 below the first row, then the 20 below the second; and columns repeat their values)."""
    cache: dict[str, str] = {}

    def kind_of(value: str) -> str:
        kind = cache.get(value)
        if kind is None:
            kind = cache[value] = value_kind(value)
        return kind

    return kind_of


def _column_kinds(rows: Sequence[Row], width: int, kind_of: Callable[[str], str]) -> list[str | None]:
    """Per column, the one kind its values have (None: mixed, strings or nothing)."""
    kinds: list[str | None] = []
    for j in range(width):
        # A string or a second kind settles the column as None: the values after it need not be looked at.
        kind: str | None = None
        for r in rows:
            if j >= r.width:
                continue
            mine = kind_of(r.fields[j])
            if mine == "empty":
                continue
            if mine == "string" or (kind is not None and mine != kind):
                kind = None
                break
            kind = mine
        kinds.append(kind)
    return kinds


def _votes(row: Row, kinds: Sequence[str | None], kind_of: Callable[[str], str]) -> tuple[int, int]:
    """(columns saying this row is a header, columns saying it is data), by contrast with the rows below."""
    header = data = 0
    for value, kind in zip(row.fields, kinds, strict=False):
        if kind is None:
            continue
        mine = kind_of(value)
        if mine == "empty":
            continue
        if mine == kind:
            data += 1
        else:
            header += 1
    return header, data


def _numbered_names(first: Row, below: Sequence[Row]) -> bool:
    """Names that are numbers: a run of three or more consecutive integers (years, 1..n) beside words, or an
    empty first name over an index column that has a value on every row (a pandas export: ``,0``)."""
    if not below:
        return False
    if first.fields[0] == "" and first.width >= 2 and all(r.fields[0].strip() for r in below):
        return True
    numbers = [int(v) for v in (f.strip() for f in first.fields) if v.isdigit()]
    words = [v for v in first.fields if value_kind(v) == "string"]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    return len(numbers) >= 3 and steps == {1} and bool(words)


def _is_text_line(row: Row) -> bool:
    """One value that reads as words (a title, a note, a comment), padded by delimiters or not."""
    values = [v.strip() for v in row.fields if v.strip()]
    return len(values) == 1 and value_kind(values[0]) == "string"


def _comment(row: Row, width: int) -> bool:
    """A ``#`` comment line above the table (a column named ``#`` is not one). Among the rows only
    :func:`is_comment` applies: there a ``#`` line of the table's width is data."""
    first = row.fields[0].lstrip()
    return first.startswith("#") and (row.width != width or (len(first) > 1 and (" " in first or row.filled == 1)))


_NOTE_START = re.compile(
    r"(?:note|notes|source|sources|footnote|n\.b\.|\*|†|‡|¹|²|³|\(\d+\)|\[\d+\]|\d+\)|#)", re.IGNORECASE
)


def is_comment(row: Row, width: int) -> bool:
    """A ``#`` comment line: a row of another width than the table's whose first field starts with ``#``
    (a column named ``#`` or a ``#``-tag value in a row of the table's width is not one)."""
    return width >= 2 and row.width != width and row.fields[:1] != [] and row.fields[0].lstrip().startswith("#")


_TOTALS = frozenset({"total", "totals", "grand total", "sum", "summe", "totaal", "totale"})


def _footnote_like(row: Row, width: int, after_gap: bool) -> bool:
    """One value that reads as a sentence, alone or padded by delimiters, below the table; or a totals row."""
    values = [v.strip() for v in row.fields if v.strip()]
    if values and values[0].lower().rstrip(":") in _TOTALS and row.fields[0].strip() == values[0]:
        return True
    if not values or value_kind(values[0]) != "string" or width < 2:
        return False
    if len(values) > 1:  # "Data (c) Someone, 2001-2021" after the table: fewer fields, set apart
        return after_gap and 2 * row.width <= width
    text = values[0]
    if row.width == 1:
        return True
    return after_gap or len(text) >= 40 or bool(_NOTE_START.match(text))


def find_table(head: Sequence[Row], tail: Sequence[Row], total: int) -> Table:
    """Rules 3-4 from the first records (``head``) and the last ones (``tail``) of a file of ``total`` records.

    ``head`` and ``tail`` may overlap (a small file: pass the same rows twice); blank rows are included.
    """
    content = [r for r in head if any(r.fields)]  # (not r.empty; these loops run over every row of the head)
    if not content:
        raise CsvError("The file contains only empty lines. Export the data again with a header line.")
    shaping = [r for r in content if not r.fields[0].lstrip().startswith("#")] or content  # comments aside
    counts = Counter(len(r.fields) for r in shaping)
    # Ties: the width seen first (a Counter keeps the order widths were first seen in; max keeps the first
    # of equal counts).
    width = max(counts, key=counts.__getitem__)
    if width == 1:
        content = [r for r in head if r.fields]  # one column: "" is an empty value, not an empty row
    # The first row of the table's width that is mostly filled (a header or a data row; "Key:,value,,,,"
    # lines above a wide table are not), else the first with two values, else the first of that width.
    start = None
    for enough in (width // 2 + 1 if width >= 4 else 2, 2, 0):
        start = next(
            (
                k
                for k, r in enumerate(content)
                if r.width == width and (r.filled >= enough or width == 1) and not _comment(r, width)
            ),
            None,
        )
        if start is not None:
            break
    if start is None:
        start = next(k for k, r in enumerate(content) if r.width == width)
    first = content[start]
    below = [r for r in content[start + 1 : start + 21] if r.width == width]
    kind_of = _cached_kinds()
    kinds = _column_kinds(below, width, kind_of)

    header: list[Row] = []
    says_header, says_data = _votes(first, kinds, kind_of)
    if _numbered_names(first, below):
        says_header += says_data + 1
    if not below:
        header = [first] if not any(value_kind(v) == "number" for v in first.fields) else []
    elif says_data <= says_header:
        header = [first]
    if not header and start > 0:
        above = content[start - 1]
        if above.index == first.index - 1 and above.width >= 2 and above.filled >= 2 and above.width != width:
            up_header, up_data = _votes(Row(above.index, above.line, above.fields[:width]), kinds, kind_of)
            untyped = below and not any(kinds) and not any(value_kind(v) == "number" for v in above.fields)
            if not up_data and (up_header or untyped):
                header, start = [above], start - 1  # a header wider or narrower than its rows
    if (
        not header
        and start > 0
        and content[start - 1].width == width
        and _numbered_names(content[start - 1], [first, *below])
    ):
        header, start = [content[start - 1]], start - 1  # ",0": a pandas export's index and column names
    if not header and start > 0 and _comment(content[start - 1], width) and content[start - 1].width == width:
        named = content[start - 1]  # "# Observation period;TOA;GHI": the names, written as a comment
        header, start = [Row(named.index, named.line, [named.fields[0].lstrip("# "), *named.fields[1:]])], start - 1
    if not header:
        # Without a header, rows above the first full row belong to the table unless they are text or comments.
        while (
            start > 0
            and not _comment(content[start - 1], width)
            and not _is_text_line(content[start - 1])
            and 2 * content[start - 1].width >= width
        ):
            start -= 1
        first = content[start]
    if header and len(header) == 1:
        while start + 1 < len(content) and content[start + 1].fields == header[0].fields:
            start += 1  # the same header line repeated: the last copy heads the rows
            header = [content[start]]
        if first.fields == header[0].fields:
            first = header[0]
    data_from = start + len(header)
    if header and header[0] is first and data_from < len(content) and any(k for k in kinds):
        second = content[data_from]
        rest = [r for r in content[data_from + 1 : data_from + 21] if r.width == width]
        # (The values of the second row first: when one is a number or date, which is the usual data row, the
        # kinds of the rows below it need not be worked out.)
        if (
            second.width == width
            and second.filled == width
            and rest
            and not any(kind_of(v) in ("number", "date", "datetime") for v in second.fields)
        ):
            h2, d2 = _votes(second, _column_kinds(rest, width, kind_of), kind_of)
            if h2 and not d2:
                header.append(second)
                data_from += 1

    preamble = [r for r in head if r.index < content[start].index and not r.empty]
    table_rows = content[data_from:]
    first_data = table_rows[0].index if table_rows else (header[-1].index + 1 if header else total)

    # Footnotes: sentences after the last row of the table's shape.
    footnotes: list[Row] = []
    rows_after = [r for r in tail if r.index >= first_data]
    for k in range(len(rows_after) - 1, -1, -1):
        row = rows_after[k]
        if row.empty:
            continue
        after_gap = k > 0 and rows_after[k - 1].empty
        if _footnote_like(row, width, after_gap or bool(footnotes)) or is_comment(row, width):
            footnotes.append(row)
            continue
        break
    footnotes.reverse()
    if footnotes and len(footnotes) >= sum(1 for r in rows_after if not r.empty):
        footnotes = []  # nothing of the table's shape after the header: they are the data
    end = footnotes[0].index if footnotes else total

    names = _names(header, width)
    table = Table(width, header, first_data, end, names, preamble, footnotes)
    if preamble:
        table.warnings.append(
            Warning_(
                "preamble_skipped",
                f"{_count(len(preamble), 'line')} above the table "
                f"{'were' if len(preamble) > 1 else 'was'} skipped (title, comment or note lines); "
                f"the {'header' if header else 'first row'} is on line {content[start].line}.",
                _lines(preamble),
            )
        )
    if len(header) > 1:
        table.warnings.append(
            Warning_(
                "multi_row_header",
                f"The header spans lines {header[0].line}-{header[-1].line}; each column's name joins its parts.",
                _lines(header),
            )
        )
    if not header:
        table.warnings.append(
            Warning_(
                "no_header",
                f"The first row (line {first.line}) looks like data, not names: it is counted as data and the "
                f"columns are named column_1..column_{len(names)}.",
                [first.line],
            )
        )
    if header and header[0].width > width and not any(v.strip() for v in header[0].fields[width:]):
        table.names = names[:width]
        table.warnings.append(
            Warning_(
                "trailing_delimiter",
                f"The header (line {header[0].line}) ends with "
                f"{'a delimiter' if header[0].width == width + 1 else 'delimiters'}"
                " that the rows do not have: the empty name is not a column.",
                [header[0].line],
            )
        )
    elif header and header[0].width != width:
        more = header[0].width > width
        gap = abs(header[0].width - width)
        what = f"{gap} {'more' if more else 'fewer'} name{'s' if gap > 1 else ''} than"
        extra = ", ".join(names[width:][:5]) + (", …" if gap > 5 else "")
        fix = (
            f"the last {_count(gap, 'column')} ({extra}) {'are' if gap > 1 else 'is'} empty on every row"
            if more
            else f"the columns without a name are called column_{header[0].width + 1} on"
        )
        table.warnings.append(
            Warning_(
                "header_width",
                f"The header (line {header[0].line}) has {what} the rows have fields; {fix}.",
                [header[0].line],
            )
        )
    if footnotes:
        table.warnings.append(
            Warning_(
                "footnotes_skipped",
                f"{_count(len(footnotes), 'line')} below the table {'were' if len(footnotes) > 1 else 'was'} "
                "skipped (notes, footnotes or a totals row, not data rows).",
                _lines(footnotes),
            )
        )
    return table


def _names(header: list[Row], width: int) -> list[str]:
    if not header:
        return [f"column_{i + 1}" for i in range(width)]
    n = max(width, header[0].width)
    if len(header) == 1:
        names = list(header[0].fields)
    else:
        names = [
            " ".join(p for p in (h.fields[j].strip() if j < h.width else "" for h in header) if p) for j in range(n)
        ]
    names += [f"column_{i + 1}" for i in range(len(names), n)]
    return names[:n]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# ------------------------------------------------------------------------------------------------- the rows


@dataclass(frozen=True)
class Shape:
    """The decision on the rows of a table, given how many fields they have (rule 5)."""

    columns: int  # after dropping a trailing-delimiter column
    warnings: list[Warning_]


def assess_widths(
    table: Table,
    dialect: Dialect,
    *,
    widths: Mapping[int, int],
    short_lines: Sequence[int],
    long_lines: Sequence[int],
    extra_values: int | None,
    empty_rows: Sequence[int],
    comment_lines: Sequence[int],
    last_column_empty: bool,
) -> Shape:
    """Rule 5 for the data rows of ``table``: ``widths`` counts data rows by field count (empty rows left out),
    ``short_lines``/``long_lines`` are the first lines of rows narrower/wider than the table (any number, used
    for the warnings), ``extra_values`` counts the non-empty values beyond the table's width (None: not counted),
    ``empty_rows`` the lines of all-empty rows, ``last_column_empty``: no data row has a value in the last
    column, ``comment_lines`` the lines of ``#`` comments among the rows (:func:`is_comment`, not counted in
    ``widths``). Raises :class:`CsvError` when no consistent table exists."""
    warnings = list(table.warnings)
    rows = sum(widths.values())
    width = table.width
    fitting = widths.get(width, 0)
    short = sum(c for w, c in widths.items() if w < width)
    long = rows - fitting - short
    with_header = 1 if table.header and table.header[0].width == width else 0
    if rows and (fitting + with_header) / (rows + with_header) < MIN_CONSISTENT_SHARE:
        common = ", ".join(f"{_count(c, 'row')} of {w}" for w, c in sorted(widths.items(), key=lambda x: -x[1])[:4])
        names = {"\t": "tab", None: "none (single column)", " ": "space"}
        delim = names.get(dialect.delimiter, repr(dialect.delimiter))
        first = (list(short_lines) + list(long_lines))[:1]
        raise CsvError(
            f"No consistent table: only {(fitting + with_header) / (rows + with_header):.0%} of the "
            f"{rows + with_header:,} rows have the table's "
            f"{_count(width, 'field')} (delimiter {delim}; field counts: {common})"
            + (f"; the first row that differs is line {first[0]}" if first else "")
            + f". No delimiter gives the same number of fields on more than {MIN_CONSISTENT_SHARE:.0%} of the lines: "
            "quote values that contain the delimiter, or export the file again."
        )
    header_width = table.header[0].width if table.header else width
    columns = table.columns
    if (
        last_column_empty
        and rows
        and columns > 1
        and columns == width
        and (not table.header or not table.names[-1].strip())
    ):
        columns -= 1
        warnings.append(
            Warning_("trailing_delimiter", "Every row ends with a delimiter: the empty last field is not a column.", [])
        )
    elif table.header and header_width == width - 1 and last_column_empty:
        columns = header_width
        warnings = [w for w in warnings if w.code != "header_width"]
        warnings.append(
            Warning_(
                "trailing_delimiter",
                f"The data rows end with a delimiter that the header (line {table.header[0].line}) does not have: "
                "the empty last field is not a column.",
                [],
            )
        )
    if short:
        warnings.append(
            Warning_(
                "ragged_rows_padded",
                f"{_count(short, 'row')} {'have' if short > 1 else 'has'} fewer than {width} fields; the missing "
                "cells are empty.",
                list(short_lines),
            )
        )
    if long:
        warnings.append(
            Warning_(
                "ragged_rows_extra",
                f"{_count(long, 'row')} {'have' if long > 1 else 'has'} more than {width} fields; the extra fields "
                + (f"({_count(extra_values, 'non-empty value')}) " if extra_values is not None else "")
                + "are not in any column.",
                list(long_lines),
            )
        )
    if comment_lines:
        warnings.append(
            Warning_(
                "comment_lines_skipped",
                f"{_count(len(comment_lines), 'comment line')} (starting with #) among the rows "
                f"{'are' if len(comment_lines) > 1 else 'is'} not counted as data.",
                list(comment_lines),
            )
        )
    if empty_rows:
        warnings.append(
            Warning_(
                "empty_rows_skipped",
                f"{_count(len(empty_rows), 'row')} with every field empty {'are' if len(empty_rows) > 1 else 'is'} "
                "not counted as data (nor as a header).",
                list(empty_rows),
            )
        )
    return Shape(columns, warnings)


def skipped_lines(table: Table, *, empty_rows: int, blank_lines: int, comments: int) -> dict[str, int]:
    return {
        "preamble": len(table.preamble),
        "footnotes": len(table.footnotes),
        "comments": comments,
        "empty_rows": empty_rows,
        "blank_lines": blank_lines,
    }


def dialect_fields(dialect: Dialect) -> dict[str, Any]:
    return {
        "delimiter": dialect.delimiter,
        "quote_char": dialect.quote_char,
        "escape_char": dialect.escape_char,
        "double_quote": dialect.double_quote,
        "skip_initial_space": dialect.skip_initial_space,
    }
