"""Profile one CSV file held in memory: dialect, encoding, shape and per-column statistics.

``profile_csv(data)`` returns the content keys of the metadata record (docs/contracts.md, ``encoding`` ..
``sample_rows``) or raises :class:`CsvProfileError` with a message meant for the person who uploaded the
file (what is wrong and what to do; never a traceback).

How a file is read, in order (the desktop app's ``backend/validation.py`` applies the same first five rules
to the same bytes, so a file it accepts is not rejected here for a different reason):

1. Empty (0 bytes) -> error.
2. Magic bytes: gzip (1f 8b), ZIP/xlsx/docx (``PK\\x03\\x04``, ``PK\\x05\\x06``, ``PK\\x07\\x08``),
   old Office files (OLE2), PDF, bzip2, xz, zstd, 7-Zip -> error naming the format and the fix.
3. Encoding: a byte-order mark decides (UTF-32 before UTF-16, UTF-8 -> ``utf-8-sig``); a BOM file that does
   not decode is an error. Without a BOM: NUL bytes mean UTF-16 without BOM (every other byte NUL in the first
   4 KiB, reported as ``utf-16-le``/``utf-16-be``) or binary (error). Then strict UTF-8 (pure ASCII is
   reported as ``utf-8``), else ``cp1252``, else ``latin-1`` (never fails).
4. Text that is more than 1 % C0 control characters (other than tab, CR, LF, FF, VT) in the first 64 KiB is
   binary -> error.
5. Dialect from the first 64 KiB: quote char ``"`` (``'`` only when there is no ``"`` at all and
   ``'``-quoted fields exist); delimiter = the candidate among ``, ; TAB |`` that splits the *first* record
   into 2+ fields and gives the most consistent field count (ties: that order). No candidate: a
   single-column file, ``delimiter`` is ``None`` (there is nothing to separate) and the whole line is the
   value.

Then the whole file is scanned once (vectorised with numpy; Python's ``csv`` module as the fallback when
quote characters appear inside unquoted fields) for record boundaries outside quotes, field counts and line
terminators, and parsed once by pandas' C engine for the column statistics.

Decisions:

* Ragged rows are an error (FAILED): ``line 18 (data row 17) has 5 fields, but the header has 3``. A short row
  is as likely a shifted row as "trailing empties", the record format has no room for warnings, and a
  profile of misaligned columns would be wrong without saying so. Blank lines (zero characters) are not rows
  and are skipped everywhere (Python's ``csv`` yields ``[]`` for them, pandas skips them); a line of spaces is
  a row.
* A file whose last quoted field is never closed is an error naming the line where that quote opens.
* ``has_header``: the first record is the header unless it looks like data: some column whose other values
  are all numbers/booleans/dates has a first-row value of that same kind, and no column contradicts it.
  A single-record file is a header unless one of its fields is a number. Without a header, the column
  names are ``column_1`` .. ``column_N``.
* ``null_count`` counts empty cells ("" after unquoting); ``NA``, ``null``, ``-`` are ordinary values.
* Types: integer / float / boolean (``true``/``True``/``TRUE`` and the same for false) as pandas' C parser
  infers them; a whole-number column with empty cells (which pandas can only hold as float) is integer;
  date (``YYYY-MM-DD``) and datetime (ISO 8601) when every distinct value parses; a column with no value at
  all is ``empty``; everything else, including mixed columns, is ``string``. ``min``/``max`` for
  integer/float (finite values only) and date/datetime (ISO strings).
* ``sample_rows`` cells longer than 1000 characters are cut to 1000 characters + "…" (a 5 MB field
  would otherwise be stored five times over); column names are kept whole.
* Memory: the text is decoded once to check the encoding and dropped (UTF-16/32 are kept re-encoded as
  UTF-8); the scan works on 1 MiB pieces and keeps only positions; pandas reads the original bytes through a
  zero-copy view; nothing is written to /tmp. Measured peak for 10 MB: ~5-7x the file size, mostly pandas'
  frame and its strings.
* ``duplicate_row_count``: data rows whose text is identical to an earlier data row's (line end excluded);
  with consistent quoting that is the same as identical values.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

SNIFF_BYTES = 64 * 1024
SCAN_CHUNK = 1 << 20
SAMPLE_ROWS = 5
MAX_SAMPLE_CELL = 1000
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
# Internal separator for single-column files: any of these that does not occur in the file.
NO_DELIMITER_CHARS = ("\x1f", "\x1e", "\x1d", "\x1c")
CONTROL_CHAR_RATIO = 0.01

# (signature, description, what to do). Kept identical to backend/validation.py (_MAGIC); a test checks it.
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data, not a plain-text CSV", "decompress it (gunzip) and upload the .csv inside"),
    (b"PK\x03\x04", "an Excel workbook or ZIP archive renamed .csv",
     "export it as CSV (Excel: File > Save As > CSV UTF-8), or unzip it and upload the .csv inside"),
    (b"PK\x05\x06", "an Excel workbook or ZIP archive renamed .csv",
     "export it as CSV (Excel: File > Save As > CSV UTF-8), or unzip it and upload the .csv inside"),
    (b"PK\x07\x08", "an Excel workbook or ZIP archive renamed .csv",
     "export it as CSV (Excel: File > Save As > CSV UTF-8), or unzip it and upload the .csv inside"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or other Office document renamed .csv",
     "open it in Excel or LibreOffice and export it as CSV"),
    (b"%PDF-", "a PDF document, not a CSV", "export the table from its source application as CSV"),
    (b"BZh", "bzip2-compressed data, not a plain-text CSV", "decompress it (bunzip2) and upload the .csv inside"),
    (b"\xfd7zXZ\x00", "xz-compressed data, not a plain-text CSV", "decompress it (unxz) and upload the .csv inside"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data, not a plain-text CSV",
     "decompress it (unzstd) and upload the .csv inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive, not a plain-text CSV", "extract it and upload the .csv inside"),
)
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f]")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_BOOL_VALUES = frozenset({"true", "false"})


# Fields may be megabytes long (a 5 MB line is a valid CSV); the csv module's default cap is 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


class CsvProfileError(ValueError):
    """The file is not a usable CSV; ``str(exc)`` is a user-facing explanation with a hint."""


# ---------------------------------------------------------------------------------------------- bytes -> text


def check_magic(data: bytes) -> str | None:
    """A message if ``data`` starts like a known non-CSV format (same rules as backend/validation.py)."""
    if data.startswith(b"BZh") and data[4:10] != b"1AY&SY":
        return None  # "BZh" alone is ordinary text; bzip2 needs its block magic too
    for magic, what, fix in MAGIC:
        if data.startswith(magic):
            return f"The file is {what}; {fix}."
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the first bytes look like ASCII text in UTF-16 without a BOM."""
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


@dataclass(frozen=True)
class Decoded:
    """How to read the bytes: ``buf[start:]`` is ASCII-compatible text in ``buf_encoding``."""

    encoding: str  # what the file is in (reported)
    has_bom: bool
    buf: bytes
    start: int
    buf_encoding: str


def _decode_error(exc: UnicodeDecodeError, what: str) -> CsvProfileError:
    return CsvProfileError(
        f"The file {what} but is not valid {exc.encoding.upper()} (byte offset {exc.start}: {exc.reason}). "
        "Re-save it with one consistent encoding, preferably UTF-8 (Excel: Save As > CSV UTF-8)."
    )


def decode(data: bytes) -> Decoded:
    """Steps 1-4 of the module docstring."""
    if not data:
        raise CsvProfileError("The file is empty (0 bytes). Export the data again; a CSV needs at least a header line.")
    magic = check_magic(data)
    if magic:
        raise CsvProfileError(magic)
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, f"starts with a {enc.replace('-sig', '').upper()} byte-order mark") from None
            if enc == "utf-8-sig":
                _check_control(text)
                return Decoded(enc, True, data, len(bom), "utf-8")
            _check_control(text)
            return Decoded(enc, True, text.encode("utf-8"), 0, "utf-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        enc16 = _utf16_without_bom(data[:4096])
        if enc16 is None:
            raise CsvProfileError(
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


def _check_control(text: str) -> None:
    head = text[:SNIFF_BYTES]
    found = _CONTROL_RE.findall(head)
    if found and len(found) > max(8, CONTROL_CHAR_RATIO * len(head)):
        raise CsvProfileError(
            f"The file is mostly not text ({len(found)} control characters in its first {len(head)} characters), "
            "so it is not a CSV. Check that you picked the right file."
        )


# --------------------------------------------------------------------------------------------------- dialect


def _records(text: str, delimiter: str, quote: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote))


def sniff_dialect(sample: str, complete: bool) -> tuple[str | None, str]:
    """(delimiter or None for a single column, quote char) from the start of the text (step 5)."""
    quote = '"'
    # The "'" test first: the pattern scans the whole sample (2 ms on 64 KB), and cannot match without one.
    single_quoted = r"(?:^|[,;\t|])'[^'\r\n]*'(?:[,;\t|]|$)"
    if '"' not in sample and "'" in sample and re.search(single_quoted, sample, re.MULTILINE):
        quote = "'"
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for rank, delim in enumerate(DELIMITER_CANDIDATES):
        if delim not in sample:
            continue
        rows = _records(sample, delim, quote)
        if not complete and len(rows) > 1:
            rows = rows[:-1]  # the sample may end inside the last record
        counts = [len(r) for r in rows if r]
        if not counts or counts[0] < 2:
            continue
        freq = Counter(counts).most_common(1)[0][1]
        score = (freq / len(counts), -rank)
        if best is None or score > best:
            best, chosen = score, delim
    return chosen, quote


def internal_delimiter(delimiter: str | None, text_or_bytes: str | bytes) -> str:
    """The separator actually used to split lines: for a single column, one that never occurs."""
    if delimiter is not None:
        return delimiter
    for ch in NO_DELIMITER_CHARS:
        probe: Any = ch if isinstance(text_or_bytes, str) else ch.encode()
        if probe not in text_or_bytes:
            return ch
    return ","


# ------------------------------------------------------------------------------------------------- structure


@dataclass
class _Structure:
    """Records of the file as the CSV rules see them (blank records included, in file order)."""

    blank: np.ndarray  # bool per record
    widths: np.ndarray  # fields per record (blank: 0)
    terminators: set[str]
    head: list[list[str]]  # the first SAMPLE_ROWS + 1 non-blank records, parsed
    record_lines: Any  # callable: record index -> physical line number where it starts
    record_text: Any  # (buffer, start offsets, end offsets) or the list of raw record strings
    tail: Any  # callable: record index -> (file object from that record to the end, its encoding)

    def duplicate_count(self, records: np.ndarray) -> int:
        """How many of these records repeat the exact text of an earlier one."""
        if isinstance(self.record_text, list):
            raw = self.record_text
            return int(records.size - len({raw[i] for i in records.tolist()}))
        buf, starts, ends = self.record_text
        spans = zip(starts[records].tolist(), ends[records].tolist(), strict=True)
        return int(records.size - len({buf[a:b] for a, b in spans}))


def _line_at(buf: bytes, start: int, offset: int) -> int:
    """Physical line number (1-based) of byte ``offset`` (relative to ``start``)."""
    end = start + offset
    return 1 + buf.count(b"\n", start, end) + buf.count(b"\r", start, end) - buf.count(b"\r\n", start, end)


def _scan_fast(d: Decoded, delim: str, quote: str) -> _Structure | None:
    """Vectorised scan, exact for RFC 4180 quoting (quotes only around whole fields, inner quotes doubled).

    Inside-quotes state is the parity of quote characters seen so far. Returns None when some quote is not
    at a field boundary (then the parity rule does not hold and the csv module decides). Works through the
    bytes in SCAN_CHUNK pieces, so the temporary masks stay small; only positions are kept.
    """
    a = np.frombuffer(d.buf, dtype=np.uint8)[d.start :]
    n = a.size
    qb, db = ord(quote), ord(delim)
    carry = False  # inside quotes at the end of the previous chunk
    last_open = -1
    lf_parts: list[np.ndarray] = []
    cr_parts: list[np.ndarray] = []
    d_parts: list[np.ndarray] = []
    for lo in range(0, n, SCAN_CHUNK):
        c = a[lo : lo + SCAN_CHUNK]
        isq = c == qb
        outside: np.ndarray | None = None
        if isq.any():
            inq = np.logical_xor.accumulate(isq)
            if carry:
                np.logical_not(inq, out=inq)
            qpos = np.flatnonzero(isq)
            opening = inq[qpos]
            ops, cls = qpos[opening] + lo, qpos[~opening] + lo
            # An opening quote follows a delimiter, a line end, the file start or a closing quote ("" escape);
            # a closing quote is followed by a delimiter, a line end, the file end or an opening quote.
            prev = a[np.maximum(ops - 1, 0)]
            if not ((ops == 0) | (prev == db) | (prev == 10) | (prev == 13) | (prev == qb)).all():
                return None
            nxt = a[np.minimum(cls + 1, n - 1)]
            if not ((cls + 1 >= n) | (nxt == db) | (nxt == 10) | (nxt == 13) | (nxt == qb)).all():
                return None
            if ops.size:
                last_open = int(ops[-1])
            carry = bool(inq[-1])
            outside = ~inq
        elif carry:
            continue  # the whole chunk is inside one quoted field
        for parts, byte in ((lf_parts, 10), (cr_parts, 13), (d_parts, db)):
            mask = c == byte
            if outside is not None:
                mask &= outside
            parts.append(np.flatnonzero(mask) + lo)
    if carry:
        raise _unterminated(_line_at(d.buf, d.start, last_open))
    empty = np.zeros(0, dtype=np.int64)
    lf_pos = np.concatenate(lf_parts) if lf_parts else empty
    cr_pos = np.concatenate(cr_parts) if cr_parts else empty
    dpos = np.concatenate(d_parts) if d_parts else empty
    del lf_parts, cr_parts, d_parts
    # A CR directly followed by an LF is one CRLF terminator.
    idx = np.searchsorted(lf_pos, cr_pos + 1)
    pair = (idx < lf_pos.size) & (lf_pos[np.minimum(idx, max(lf_pos.size - 1, 0))] == cr_pos + 1) \
        if lf_pos.size else np.zeros(cr_pos.size, dtype=bool)
    drop = np.zeros(lf_pos.size, dtype=bool)
    drop[idx[pair]] = True
    lf_pos = lf_pos[~drop]
    term = np.concatenate((lf_pos, cr_pos))
    tlen = np.concatenate((np.ones(lf_pos.size, np.int64), np.where(pair, 2, 1)))
    order = np.argsort(term, kind="stable")
    term, tlen = term[order], tlen[order]
    terminators: set[str] = set()
    if lf_pos.size:
        terminators.add("\n")
    if pair.any():
        terminators.add("\r\n")
    if (~pair).any():
        terminators.add("\r")
    starts = np.concatenate(([0], term + tlen))
    ends = np.concatenate((term, [n]))
    if starts[-1] >= n:  # the file ends with a terminator: no record after it
        starts, ends = starts[:-1], ends[:-1]
    blank = starts == ends
    widths = np.searchsorted(dpos, ends) - np.searchsorted(dpos, starts) + 1
    del dpos
    widths[blank] = 0

    nonblank = np.flatnonzero(~blank)
    head: list[list[str]] = []
    if nonblank.size:
        last = nonblank[min(SAMPLE_ROWS, nonblank.size - 1)]
        lo, hi = d.start + int(starts[nonblank[0]]), d.start + int(ends[last])
        text = d.buf[lo:hi].decode(d.buf_encoding)
        head = [r for r in _records(text, delim, quote) if r]

    def record_lines(i: int) -> int:
        return _line_at(d.buf, d.start, int(starts[i]))

    def tail(i: int) -> tuple[Any, str]:
        view = memoryview(d.buf)[d.start + int(starts[i]) :]
        return io.BufferedReader(_ByteView(view), buffer_size=1 << 20), d.buf_encoding

    return _Structure(blank, widths, terminators, head, record_lines,
                      (d.buf, starts + d.start, ends + d.start), tail)


def _scan_csv(d: Decoded, delim: str, quote: str) -> _Structure:
    """The same facts from Python's csv module (lenient about stray quotes, like pandas)."""
    text = d.buf[d.start :].decode(d.buf_encoding)
    last_ending = [""]
    current: list[str] = []

    def lines() -> Any:
        for line in io.StringIO(text, newline=""):
            stripped = line.rstrip("\r\n")
            last_ending[0] = line[len(stripped) :]
            current.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delim, quotechar=quote, strict=False)
    blank: list[bool] = []
    widths: list[int] = []
    start_lines: list[int] = []
    terminators: set[str] = set()
    head: list[list[str]] = []
    raw: list[str] = []
    offsets: list[int] = []
    prev_line = offset = 0
    for row in reader:
        record = "".join(current)
        current.clear()
        raw.append(record.removesuffix(last_ending[0]))
        offsets.append(offset)
        offset += len(record)
        start_lines.append(prev_line + 1)
        prev_line = reader.line_num
        blank.append(not row)
        widths.append(len(row))
        if last_ending[0]:
            terminators.add(last_ending[0])
        if row and len(head) <= SAMPLE_ROWS:
            head.append(row)
    return _Structure(np.array(blank, dtype=bool), np.array(widths, dtype=np.int64), terminators, head,
                      lambda i: start_lines[i], raw, lambda i: (io.StringIO(text[offsets[i] :]), "utf-8"))


def _unterminated(line: int) -> CsvProfileError:
    return CsvProfileError(
        f"A quoted field starting on line {line} is never closed: the file ends inside quotes. "
        'Add the missing closing quote, or double any quote inside a quoted field ("").'
    )


# ------------------------------------------------------------------------------------------------ values


def _kind(value: str) -> str:
    v = value.strip()
    if not v:
        return "empty"
    if _INT_RE.fullmatch(v) or _FLOAT_RE.fullmatch(v):
        return "number"
    if v.lower() in _BOOL_VALUES:
        return "boolean"
    if _DATE_RE.fullmatch(v) or _DATETIME_RE.fullmatch(v):
        return "date"
    return "string"


def detect_header(head: list[list[str]]) -> bool:
    """True unless the first record looks like data (see the module docstring)."""
    if not head:
        return True
    first, rest = head[0], head[1:]
    if not rest:
        return not any(_kind(v) == "number" for v in first)
    says_header = says_data = 0
    for j, value in enumerate(first):
        kinds = {_kind(r[j]) for r in rest if j < len(r)} - {"empty"}
        if len(kinds) != 1 or "string" in kinds:
            continue
        first_kind = _kind(value)
        if first_kind == "empty":
            continue
        if first_kind in kinds:
            says_data += 1
        else:
            says_header += 1
    return not (says_data and not says_header)


def _empty_profile(name: str, nulls: int) -> dict[str, Any]:
    return {"name": name, "type": "empty", "null_count": nulls, "distinct_count": 0, "min": None, "max": None}


def _profile_numeric(frame: pd.DataFrame, cols: list[int], names: list[str], out: list[Any]) -> None:
    """Integer/float/bool columns, vectorised over the whole block (one numpy call per statistic)."""
    block = frame.iloc[:, cols].to_numpy()
    n = block.shape[0]
    kind = block.dtype.kind
    if kind == "b":
        distinct = block.any(axis=0).astype(int) + (~block).any(axis=0)
        for j, c in enumerate(cols):
            out[c] = {**_empty_profile(names[c], 0), "type": "boolean", "distinct_count": int(distinct[j])}
        return
    if kind in "iu":
        srt = np.sort(block, axis=0)
        distinct = 1 + (srt[1:] != srt[:-1]).sum(axis=0)
        for j, c in enumerate(cols):
            out[c] = {"name": names[c], "type": "integer", "null_count": 0, "distinct_count": int(distinct[j]),
                      "min": int(srt[0, j]), "max": int(srt[-1, j])}
        return
    block = block.astype(np.float64, copy=False)
    nan = np.isnan(block)
    nulls = nan.sum(axis=0)
    valid = n - nulls
    srt = np.sort(block, axis=0)  # NaN sorts last
    changes = (srt[1:] != srt[:-1]) & (np.arange(1, n)[:, None] < valid[None, :])
    distinct = (valid > 0).astype(int) + changes.sum(axis=0)
    finite = np.isfinite(srt)
    integral = np.all(nan | ((block == np.floor(block)) & (np.abs(block) < 2**53)), axis=0)
    for j, c in enumerate(cols):
        if valid[j] == 0:
            out[c] = _empty_profile(names[c], int(nulls[j]))
            continue
        fin = srt[finite[:, j], j]
        lo, hi = (float(fin[0]), float(fin[-1])) if fin.size else (None, None)
        # A whole-number column with empty cells arrives as float (NaN needs a float); it is an integer column.
        if integral[j] and nulls[j] and lo is not None and hi is not None:
            out[c] = {"name": names[c], "type": "integer", "null_count": int(nulls[j]),
                      "distinct_count": int(distinct[j]), "min": int(lo), "max": int(hi)}
        else:
            out[c] = {"name": names[c], "type": "float", "null_count": int(nulls[j]),
                      "distinct_count": int(distinct[j]), "min": lo, "max": hi}


def _profile_text(name: str, s: pd.Series) -> dict[str, Any]:
    """A column pandas left as text (strings, booleans with empty cells, mixed values)."""
    values = s.to_numpy(dtype=object)
    mask = pd.isna(values)
    nulls = int(mask.sum())
    if nulls == len(values):
        return _empty_profile(name, nulls)
    if nulls:
        values = values[~mask]
    uniques = pd.unique(values)
    out = {**_empty_profile(name, nulls), "type": "string", "distinct_count": int(uniques.size)}
    inferred = pd.api.types.infer_dtype(uniques, skipna=False)
    if inferred == "boolean":
        out["type"] = "boolean"
    elif inferred == "string":
        first = uniques[0]
        kind = "date" if _DATE_RE.fullmatch(first) else "datetime" if _DATETIME_RE.fullmatch(first) else None
        if kind:
            parsed = _parse_dates(uniques, kind)
            if parsed is not None:
                out.update(type=kind, min=_iso(parsed.min(), kind), max=_iso(parsed.max(), kind))
    return out


def _parse_dates(values: np.ndarray, kind: str) -> pd.DatetimeIndex | None:
    fmt = "%Y-%m-%d" if kind == "date" else "ISO8601"
    try:
        parsed = pd.to_datetime(pd.Index(values, dtype=object), format=fmt, errors="coerce")
    except (ValueError, TypeError, OverflowError):  # e.g. mixed time zones
        return None
    if not isinstance(parsed, pd.DatetimeIndex) or parsed.isna().any():
        return None
    return parsed


def _iso(ts: Any, kind: str) -> str:
    return str(ts.date().isoformat()) if kind == "date" else str(ts.isoformat())


def profile_frame(frame: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    """One ColumnProfile per column of ``frame`` (columns 0..N-1, empty cells as NaN)."""
    out: list[Any] = [None] * len(names)
    groups: dict[str, list[int]] = {}
    for c, dtype in enumerate(frame.dtypes):
        numeric = isinstance(dtype, np.dtype) and dtype.kind in "biuf"
        groups.setdefault(dtype.str if numeric else "O", []).append(c)
    for kind, cols in groups.items():
        if kind == "O":
            for c in cols:
                out[c] = _profile_text(names[c], frame[c])
        else:
            _profile_numeric(frame, cols, names, out)
    return out


# ------------------------------------------------------------------------------------------------- profile


class _ByteView(io.RawIOBase):
    """A read-only file over part of a bytes object, without copying it (BytesIO(view) would copy)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view, self._pos = view, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self._view) - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n


def _read_frame(source: Any, encoding: str, sep: str, quote: str, width: int) -> pd.DataFrame:
    """Parse from the first data record on. (Not ``skiprows``: pandas' C tokenizer drops a leading empty
    field of the first row after rows skipped with CR line ends.)"""
    try:
        return pd.read_csv(
            source,
            encoding=encoding,
            sep=sep,
            quotechar=quote,
            doublequote=True,
            header=None,
            names=list(range(width)),
            index_col=False,
            skip_blank_lines=False,
            keep_default_na=False,
            na_values=[""],
            engine="c",
            low_memory=False,
        )
    except pd.errors.ParserError as exc:
        msg = str(exc)
        m = re.search(r"EOF inside string starting at row (\d+)", msg)
        if m:
            raise _QuoteNotClosed(int(m.group(1))) from None
        raise CsvProfileError(
            f"The file could not be parsed as CSV ({msg.splitlines()[0][:200]}). "
            "Check its quoting around that line, or export it again as CSV."
        ) from None


class _QuoteNotClosed(Exception):
    def __init__(self, row: int) -> None:
        self.row = row


def _fields(k: int) -> str:
    return "1 field" if k == 1 else f"{k} fields"


def _cut(value: str) -> str:
    return value if len(value) <= MAX_SAMPLE_CELL else value[:MAX_SAMPLE_CELL] + "…"


def profile_csv(data: bytes) -> dict[str, Any]:
    """The content keys of the metadata record for ``data`` (see the module docstring)."""
    d = decode(data)
    head_text = d.buf[d.start : d.start + SNIFF_BYTES].decode(d.buf_encoding, errors="ignore")
    delimiter, quote = sniff_dialect(head_text, complete=len(d.buf) - d.start <= SNIFF_BYTES)
    sep = internal_delimiter(delimiter, d.buf)

    structure = _scan_fast(d, sep, quote)
    if structure is None:
        structure = _scan_csv(d, sep, quote)
    nonblank = np.flatnonzero(~structure.blank)
    if nonblank.size == 0:
        raise CsvProfileError("The file contains only empty lines. Export the data again with a header line.")

    has_header = detect_header(structure.head)
    widths = structure.widths[nonblank]
    width = int(widths[0])
    bad = np.flatnonzero(widths != width)
    if bad.size:
        k = int(bad[0])
        line = structure.record_lines(int(nonblank[k]))
        row = k if has_header else k + 1
        first = "the header has" if has_header else "the first row has"
        delim_name = {"\t": "tab", None: "none (single column)"}.get(delimiter, repr(delimiter))
        raise CsvProfileError(
            f"Line {line} (data row {row}) has {_fields(int(widths[k]))}, but {first} {width}. Every row needs the "
            f"same number of fields (delimiter: {delim_name}); quote values that contain the delimiter, and "
            "check that row for a missing or extra delimiter."
        )

    head = structure.head
    if has_header:
        names = list(head[0])
        data_idx = nonblank[1:]
        sample = head[1 : SAMPLE_ROWS + 1]
    else:
        names = [f"column_{i + 1}" for i in range(width)]
        data_idx = nonblank
        sample = head[:SAMPLE_ROWS]
    row_count = int(data_idx.size)

    if row_count:
        skip = int(data_idx[0])
        try:
            frame = _read_frame(*structure.tail(skip), sep, quote, width)
        except _QuoteNotClosed as exc:
            raise _unterminated(structure.record_lines(min(skip + exc.row, len(structure.blank) - 1))) from None
        blank_after = structure.blank[skip:]
        if blank_after.any():
            frame = frame.loc[~blank_after[: len(frame)]].reset_index(drop=True)
        if len(frame) != row_count:
            raise CsvProfileError(
                f"The file's quoting is ambiguous: readers disagree on its rows ({row_count} vs {len(frame)}). "
                'Quote every field that contains a quote character, and double the quotes inside ("").'
            )
        columns = profile_frame(frame, names)
        duplicate_rows = structure.duplicate_count(data_idx)
    else:
        columns = [{"name": n, "type": "empty", "null_count": 0, "distinct_count": 0, "min": None, "max": None}
                   for n in names]
        duplicate_rows = 0

    counts = Counter(names) if has_header else Counter()
    terms = structure.terminators
    return {
        "encoding": d.encoding,
        "has_bom": d.has_bom,
        "delimiter": delimiter,
        "quote_char": quote,
        "has_header": has_header,
        "line_terminator": None if not terms else next(iter(terms)) if len(terms) == 1 else "mixed",
        "row_count": row_count,
        "column_count": width,
        "column_names": names,
        "duplicate_column_names": [n for n, c in counts.items() if c > 1],
        "columns": columns,
        "duplicate_row_count": duplicate_rows,
        "sample_rows": [[_cut(v) for v in r] for r in sample],
    }
