"""Profile one CSV file held in memory: dialect, encoding, where the table is, shape and column statistics.

``profile_csv(data)`` returns the content keys of the metadata record (docs/contracts.md, ``encoding`` ..
``warnings``) or raises :class:`CsvProfileError` with a message meant for the person who uploaded the file
(what is wrong and what to do; never a traceback).

The CSV rules themselves (bytes -> text, dialect, where the table is, header, ragged rows) live in the
``csvtable`` package, shipped in the function zip next to this module and imported by the desktop app's
local check too: both sides decide with the same code. This module adds what needs the whole file:

* one scan of every record (vectorised with numpy for RFC 4180 quoting; Python's ``csv`` module for other
  dialects or when quote characters appear inside unquoted fields) for record boundaries outside quotes,
  field counts, all-empty rows and line terminators;
* the table's first records and last records, parsed, for ``csvtable.find_table`` (preamble, header,
  footnotes), and the field counts of all data rows for ``csvtable.assess_widths`` (ragged rows);
* one parse by pandas' C engine of the data rows for the column statistics.

Decisions:

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
  zero-copy view; nothing is written to /tmp. Measured peak for 10 MB: ~5-7x the file size, mostly the
  parsed columns and their strings.
* ``duplicate_row_count``: data rows whose text is identical to an earlier data row's (line end excluded);
  with consistent quoting that is the same as identical values.
* Distributions (drawn by the desktop app's detail pane), from the arrays the statistics already build (the
  sorted block of a numeric column; the unique values of a text column, counted with their codes):
  ``histogram`` for integer/float/date/datetime columns, HISTOGRAM_BINS equal-width bins of the non-null
  finite values (one bin when min == max). Whole-number columns (integers, and dates counted in days) split
  the whole values min .. max into bins of whole values, [e_k, e_k+1), the last edge max + 1 (max + 1 day):
  a bin never covers values the column cannot have, and bin widths differ by one value at most (fewer bins
  than HISTOGRAM_BINS when there are fewer values; a reader draws count / width to hide even that one).
  Float and datetime bins split [min, max] exactly, the last bin closed. Dates and datetimes are binned on
  Unix seconds (UTC; naive times taken as UTC). ``top_values`` for
  string/boolean columns: the TOP_VALUES most frequent values with exact counts, ties by value, each value
  cut to MAX_TOP_VALUE_CHARS characters (booleans as "true"/"false"). Counting is exact: the codes cost 8
  bytes a row beside the columns that hold every string already (the same bound as ``distinct_count``'s).
  Only the first MAX_DISTRIBUTION_COLUMNS columns get them, and only while their JSON stays within
  MAX_DISTRIBUTION_BYTES (a DynamoDB item holds 400 KB); later columns have ``histogram`` null and
  ``top_values`` [].
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import csvtable
from csvtable import Decoded, Dialect

SCAN_CHUNK = 1 << 20
SAMPLE_ROWS = 5
MAX_SAMPLE_CELL = 1000
MAX_EXTRA_COLUMNS = 256  # wider ragged rows are read without their extra fields (they are still counted)
HISTOGRAM_BINS = 20
TOP_VALUES = 10
MAX_TOP_VALUE_CHARS = 60
MAX_DISTRIBUTION_COLUMNS = 500
MAX_DISTRIBUTION_BYTES = 100_000  # all columns' histograms and top values, as JSON (UTF-8)
_SECONDS_PER_DAY = 86_400
_BIN_STEPS = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)  # (made once: a numpy call costs more than small bins)

_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PLAIN_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (\d takes any script's)
_FAST_DATES = (np.datetime64("1678-01-01", "D"), np.datetime64("2261-12-31", "D"))  # inside pandas' ns range
_ISO_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?")

CsvProfileError = csvtable.CsvError
check_magic = csvtable.check_magic
decode = csvtable.decode


@dataclass
class _Structure:
    """Records of the file as the CSV rules see them (blank records included, in file order)."""

    blank: np.ndarray  # bool per record: no characters at all
    empty: np.ndarray  # bool per record: every field empty (blank records included)
    hashed: np.ndarray  # bool per record: starts with "#" (a comment if its width is not the table's)
    widths: np.ndarray  # fields per record (blank: 0)
    terminators: set[str]
    record_line: Callable[[int], int]  # record index -> physical line number where it starts
    rows: Callable[[int, int], list[csvtable.Row]]  # records [i, j) parsed
    record_text: Any  # (buffer, start offsets, end offsets) or the list of raw record strings
    tail: Callable[[int], tuple[Any, str]]  # record index -> (file object from there to the end, its encoding)

    def duplicate_count(self, records: np.ndarray) -> int:
        """How many of these records repeat the exact text of an earlier one."""
        if isinstance(self.record_text, list):
            raw = self.record_text
            return int(records.size - len({raw[i] for i in records.tolist()}))
        buf, starts, ends = self.record_text
        starts, ends = starts[records], ends[records]
        if records.size >= _FINGERPRINT_FROM and len(buf) >= 8:
            # Only records whose fingerprints collide can be equal: compare the text of those alone.
            hashes = _fingerprints(buf, starts, ends)
            order = np.argsort(hashes)
            same = hashes[order[1:]] == hashes[order[:-1]]
            collide = np.zeros(records.size, dtype=bool)
            collide[1:] |= same
            collide[:-1] |= same
            chosen = order[collide]
            starts, ends = starts[chosen], ends[chosen]
        spans = zip(starts.tolist(), ends.tolist(), strict=True)
        return int(starts.size - len({buf[a:b] for a, b in spans}))


# From this many data records on, duplicate_count fingerprints the records with numpy first: building a set of
# every record's text was ~45% of profiling a 10 MB file.
_FINGERPRINT_FROM = 4096
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64)


def _fingerprints(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint per record [start, end) of ``buf`` (at least 8 bytes): its length and three 8-byte
    windows inside it (first, middle, last), read without copying the buffer. Equal texts give equal fingerprints;
    a record shorter than 8 bytes is its whole text, read from a window that stays inside the buffer."""
    window = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    out = np.empty(starts.size, dtype=np.uint64)
    step = 1 << 20  # records per piece: the temporaries stay small for files of millions of rows
    for first in range(0, starts.size, step):
        s, e = starts[first : first + step], ends[first : first + step]
        length = e - s
        long = length >= 8
        base = np.minimum(s, len(buf) - 8)
        shift = np.minimum(s - base, 7).astype(np.uint64) * np.uint64(8)
        kept = np.minimum(length, 7).astype(np.uint64) * np.uint64(8)
        short = (window[base] >> shift) & ((np.uint64(1) << kept) - np.uint64(1))
        head = np.where(long, window[np.where(long, s, 0)], short)
        middle = np.where(long, window[np.where(long, s + (length - 8) // 2, 0)], 0)
        last = np.where(long, window[np.where(long, e - 8, 0)], 0)
        out[first : first + step] = (
            head * _MIX[0] + middle * _MIX[1] + last * _MIX[2] + length.astype(np.uint64) * _MIX[3]
        )
    return out


def _breaks(buf: bytes, start: int, end: int, cr: bool) -> int:
    if not cr:
        return buf.count(b"\n", start, end)
    return buf.count(b"\n", start, end) + buf.count(b"\r", start, end) - buf.count(b"\r\n", start, end)


def _line_at(buf: bytes, start: int, offset: int) -> int:
    """Physical line number (1-based) of byte ``offset`` (relative to ``start``)."""
    return 1 + _breaks(buf, start, start + offset, buf.find(b"\r", start) >= 0)


class _Lines:
    """Physical line numbers of byte offsets, counting from whichever end of the file is nearer (the table's
    last records are looked at too: counting from the start would read all of a large file each time)."""

    def __init__(self, buf: bytes, start: int) -> None:
        self.buf, self.start, self.end = buf, start, len(buf)
        self.cr = buf.find(b"\r", start) >= 0
        self._total: int | None = None

    def __call__(self, offset: int) -> int:
        at = self.start + offset
        if at - self.start <= self.end - at:
            return 1 + _breaks(self.buf, self.start, at, self.cr)
        if self._total is None:
            self._total = _breaks(self.buf, self.start, self.end, self.cr)
        return 1 + self._total - _breaks(self.buf, at, self.end, self.cr)


def _scan_fast(d: Decoded, dialect: Dialect, delim: str) -> _Structure | None:
    """Vectorised scan, exact for RFC 4180 quoting (quotes only around whole fields, inner quotes doubled).

    Inside-quotes state is the parity of quote characters seen so far. Returns None when some quote is not
    at a field boundary (then the parity rule does not hold and the csv module decides). Works through the
    bytes in SCAN_CHUNK pieces, so the temporary masks stay small; only positions are kept.
    """
    a = np.frombuffer(d.buf, dtype=np.uint8)[d.start :]
    n = a.size
    qb, db = ord(dialect.quote_char), ord(delim)
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
        raise csvtable.QuoteNotClosed(_line_at(d.buf, d.start, last_open))
    empty = np.zeros(0, dtype=np.int64)
    lf_pos = np.concatenate(lf_parts) if lf_parts else empty
    cr_pos = np.concatenate(cr_parts) if cr_parts else empty
    dpos = np.concatenate(d_parts) if d_parts else empty
    del lf_parts, cr_parts, d_parts
    # A CR directly followed by an LF is one CRLF terminator.
    idx = np.searchsorted(lf_pos, cr_pos + 1)
    pair = (
        (idx < lf_pos.size) & (lf_pos[np.minimum(idx, max(lf_pos.size - 1, 0))] == cr_pos + 1)
        if lf_pos.size
        else np.zeros(cr_pos.size, dtype=bool)
    )
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

    # Only delimiters and quotes between its line ends: every field is empty ("" included).
    empty = blank.copy()
    short = np.flatnonzero(~blank & ((ends - starts) <= 3 * widths))  # room for nothing but ,"" pairs
    if short.size > 5000:  # many: count quotes in one pass over the file
        quotes = np.concatenate(([0], np.cumsum(a == qb)))
        in_record = quotes[ends[short]] - quotes[starts[short]]
        del quotes
    else:  # the usual few (or none): no pass over the whole file
        quote = bytes([qb])
        in_record = np.array(
            [
                d.buf.count(quote, d.start + int(b), d.start + int(e))
                for b, e in zip(starts[short], ends[short], strict=True)
            ],
            dtype=np.int64,
        )
    if short.size:
        empty[short] = (ends[short] - starts[short]) - (widths[short] - 1) == in_record
    hashed = ~blank & (a[np.minimum(starts, max(n - 1, 0))] == ord("#")) if n else np.zeros(starts.size, dtype=bool)

    line_of = _Lines(d.buf, d.start)

    def record_line(i: int) -> int:
        return line_of(int(starts[i]))

    def rows(i: int, j: int) -> list[csvtable.Row]:
        if j <= i:
            return []
        text = d.buf[d.start + int(starts[i]) : d.start + int(ends[j - 1])].decode(d.buf_encoding)
        return csvtable.read_rows(text, dialect, i, record_line(i), limit=j - i)

    def tail(i: int) -> tuple[Any, str]:
        view = memoryview(d.buf)[d.start + int(starts[i]) :]
        # (A buffer no larger than the rest of the file: pandas reading a small file through 1 MiB of buffer
        # took a fifth longer.)
        return io.BufferedReader(_ByteView(view), buffer_size=max(1, min(1 << 20, len(view)))), d.buf_encoding

    return _Structure(
        blank, empty, hashed, widths, terminators, record_line, rows, (d.buf, starts + d.start, ends + d.start), tail
    )


def _scan_csv(d: Decoded, dialect: Dialect, delim: str) -> _Structure:
    """The same facts from Python's csv module (any dialect; lenient about stray quotes, like pandas)."""
    text = d.text()
    last_ending = [""]
    current: list[str] = []

    def lines() -> Any:
        for line in io.StringIO(text, newline=""):
            stripped = line.rstrip("\r\n")
            last_ending[0] = line[len(stripped) :]
            current.append(line)
            yield line

    reader = dialect.reader(lines(), delim)
    parsed: list[csvtable.Row] = []
    terminators: set[str] = set()
    raw: list[str] = []
    offsets: list[int] = []
    prev_line = offset = 0
    try:
        for fields in reader:
            record = "".join(current)
            current.clear()
            raw.append(record.removesuffix(last_ending[0]))
            offsets.append(offset)
            offset += len(record)
            parsed.append(csvtable.Row(len(parsed), prev_line + 1, fields))
            prev_line = reader.line_num
            if last_ending[0]:
                terminators.add(last_ending[0])
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            raise
        raise csvtable.QuoteNotClosed(prev_line + 1) from None
    blank = np.array([not r.fields for r in parsed], dtype=bool)
    empty = np.array([not any(r.fields) for r in parsed], dtype=bool)  # every field empty ("" included)
    widths = np.array([r.width for r in parsed], dtype=np.int64)
    hashed = np.array([text.lstrip().startswith("#") for text in raw], dtype=bool)
    return _Structure(
        blank,
        empty,
        hashed,
        widths,
        terminators,
        lambda i: parsed[i].line,
        lambda i, j: parsed[i:j],
        raw,
        lambda i: (io.StringIO(text[offsets[i] :]), "utf-8"),
    )


# ------------------------------------------------------------------------------------------------ values


def _empty_profile(name: str, nulls: int) -> dict[str, Any]:
    return {"name": name, "type": "empty", "null_count": nulls, "distinct_count": 0, "min": None, "max": None}


def _no_distribution(profile: dict[str, Any]) -> dict[str, Any]:
    profile["histogram"] = None
    profile["top_values"] = []
    return profile


def _bin_counts(ordered: np.ndarray, interior: np.ndarray, cumulative: np.ndarray | None) -> list[int]:
    """Counts of ``ordered`` (ascending) in the bins that ``interior`` edges separate: [e_k, e_k+1), the last
    bin running to the end. ``cumulative``: running totals of each value's weight (values given once each)."""
    below = np.searchsorted(ordered, interior, side="left")
    if cumulative is not None:
        totals = np.concatenate(([0], cumulative))
        below, total = totals[below], int(totals[-1])
    else:
        total = int(ordered.size)
    counts: list[int] = np.diff(np.concatenate(([0], below, [total]))).tolist()
    return counts


def _histogram(
    ordered: np.ndarray, *, whole: bool, scale: float = 1.0, cumulative: np.ndarray | None = None
) -> dict[str, Any]:
    """``{"edges": [...], "counts": [...]}`` of ascending finite ``ordered`` (not empty). ``whole``: the values
    are whole numbers, binned in whole-width bins from min (see the module docstring). ``scale`` multiplies the
    edges as stored (days -> seconds)."""
    lo, hi = ordered[0].item(), ordered[-1].item()
    if lo == hi:
        total = int(ordered.size) if cumulative is None else int(cumulative[-1])
        return {"edges": [float(lo) * scale, float(hi) * scale], "counts": [total]}
    if whole:
        lo, hi = int(lo), int(hi)
        span = hi - lo + 1  # whole values from min to max; Python ints: no overflow near the int64 limits
        bins = min(HISTOGRAM_BINS, span)
        cuts = [lo + k * span // bins for k in range(bins + 1)]
        interior = np.array(cuts[1:-1], dtype=ordered.dtype)
        edges = [float(e) * scale for e in cuts]
    else:
        t = _BIN_STEPS
        # (Not linspace(lo, hi): hi - lo overflows for values near the float limits.) Interior edges rounded
        # to 12 digits: "0.3" instead of "0.30000000000000004" in the record, the same bins to any eye.
        cuts = lo * (1.0 - t) + hi * t
        interior = np.clip(np.array([float(f"{e:.12g}") for e in cuts[1:-1].tolist()]), lo, hi)
        edges = [float(lo) * scale, *(e * scale for e in interior.tolist()), float(hi) * scale]
    return {"edges": edges, "counts": _bin_counts(ordered, interior, cumulative)}


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool | np.bool_) else str(value)


def _label(value: Any) -> str:
    text = _text(value)
    return text if len(text) <= MAX_TOP_VALUE_CHARS else text[: MAX_TOP_VALUE_CHARS - 1] + "…"


def _top_values(uniques: Sequence[Any], counts: np.ndarray, *, strings: bool = False) -> list[list[Any]]:
    """The TOP_VALUES most frequent of ``uniques`` (``counts`` each) as [label, count], most frequent first,
    equal counts in order of value (``strings``: every value is a str already). Only the values tied at the
    cut are compared, as plain strings by a heap (a column of a million distinct values is a million-way tie:
    its first ten are picked without sorting it and without a Python key function per value, which cost more
    than the rest of the profile)."""
    n = len(uniques)
    if n > TOP_VALUES:
        cut = int(np.partition(counts, n - TOP_VALUES)[n - TOP_VALUES])
        above = np.flatnonzero(counts > cut).tolist()
        tied = np.flatnonzero(counts == cut)
    else:
        cut, above, tied = 0, list(range(n)), np.zeros(0, dtype=np.int64)
    chosen = [(_text(uniques[i]), int(counts[i])) for i in above]
    chosen.sort(key=lambda item: (-item[1], item[0]))
    if tied.size:
        values: Any = uniques if tied.size == n else np.asarray(uniques, dtype=object)[tied]
        if not strings:
            values = [_text(v) for v in values]
        chosen += [(v, cut) for v in heapq.nsmallest(TOP_VALUES - len(chosen), values)]
    return [[_label(v), c] for v, c in chosen]


def _profile_numeric(
    columns: Sequence[np.ndarray], cols: list[int], names: list[str], out: list[Any], distributions: bool
) -> None:
    """Integer/float/bool columns of one dtype, vectorised over the whole block (one numpy call per statistic)."""
    block = np.stack([columns[c] for c in cols], axis=1)
    n = block.shape[0]
    kind = block.dtype.kind
    want = [distributions and c < MAX_DISTRIBUTION_COLUMNS for c in cols]
    if kind == "b":
        trues = block.sum(axis=0)
        distinct = (trues > 0).astype(int) + (trues < n)
        for j, c in enumerate(cols):
            out[c] = {**_empty_profile(names[c], 0), "type": "boolean", "distinct_count": int(distinct[j])}
            if distributions:
                _no_distribution(out[c])
                if want[j]:
                    out[c]["top_values"] = _top_values([True, False], np.array([trues[j], n - trues[j]]))
        return
    if kind in "iu":
        srt = np.sort(block, axis=0)
        distinct = 1 + (srt[1:] != srt[:-1]).sum(axis=0)
        for j, c in enumerate(cols):
            out[c] = {
                "name": names[c],
                "type": "integer",
                "null_count": 0,
                "distinct_count": int(distinct[j]),
                "min": int(srt[0, j]),
                "max": int(srt[-1, j]),
            }
            if distributions:
                _no_distribution(out[c])
                if want[j]:
                    out[c]["histogram"] = _histogram(srt[:, j], whole=True)
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
            if distributions:
                _no_distribution(out[c])
            continue
        fin = srt[finite[:, j], j]
        lo, hi = (float(fin[0]), float(fin[-1])) if fin.size else (None, None)
        # A whole-number column with empty cells arrives as float (NaN needs a float); it is an integer column.
        whole = bool(integral[j] and nulls[j] and lo is not None and hi is not None)
        if whole:
            out[c] = {
                "name": names[c],
                "type": "integer",
                "null_count": int(nulls[j]),
                "distinct_count": int(distinct[j]),
                "min": int(lo),
                "max": int(hi),
            }
        else:
            out[c] = {
                "name": names[c],
                "type": "float",
                "null_count": int(nulls[j]),
                "distinct_count": int(distinct[j]),
                "min": lo,
                "max": hi,
            }
        if distributions:
            _no_distribution(out[c])
            if want[j] and fin.size:
                out[c]["histogram"] = _histogram(fin, whole=whole)


def _profile_text(name: str, values: np.ndarray, distributions: bool) -> dict[str, Any]:
    """A column pandas left as text (object array: strings, booleans with empty cells, mixed values; NaN for
    empty cells)."""
    mask = pd.isna(values)
    nulls = int(mask.sum())
    if nulls == len(values):
        profile = _empty_profile(name, nulls)
        return _no_distribution(profile) if distributions else profile
    if nulls:
        values = values[~mask]
    counts: np.ndarray | None = None
    if distributions:
        # factorize is the hash pass pd.unique makes (same order of first appearance), with each value's code:
        # the counts come from the codes without hashing again.
        codes, uniques = pd.factorize(values)
        counts = np.bincount(codes, minlength=len(uniques))
        del codes
    else:
        uniques = pd.unique(values)
    out = {**_empty_profile(name, nulls), "type": "string", "distinct_count": int(uniques.size)}
    dates: tuple[str, str, np.ndarray | None] | None = None
    inferred = pd.api.types.infer_dtype(uniques, skipna=False)
    if inferred == "boolean":
        out["type"] = "boolean"
    elif inferred == "string":
        first = uniques[0]
        kind = "date" if _ISO_DATE_RE.fullmatch(first) else "datetime" if _ISO_DATETIME_RE.fullmatch(first) else None
        if kind:
            dates = _parse_dates(uniques, kind, points=counts is not None)
            if dates is not None:
                out.update(type=kind, min=dates[0], max=dates[1])
    if counts is None:
        return out
    _no_distribution(out)
    if dates is not None and dates[2] is not None:
        points = dates[2]
        date = out["type"] == "date"
        order = np.argsort(points, kind="stable")
        out["histogram"] = _histogram(
            points[order], whole=date, scale=_SECONDS_PER_DAY if date else 1.0, cumulative=np.cumsum(counts[order])
        )
    else:
        out["top_values"] = _top_values(uniques, counts, strings=inferred == "string")
    return out


def _parse_dates(values: np.ndarray, kind: str, *, points: bool) -> tuple[str, str, np.ndarray | None] | None:
    """(min, max as ISO strings, ``points``: each value as days (date) or seconds (datetime) since the Unix
    epoch) of distinct strings that all parse as ``kind``; None when one does not."""
    if kind == "date" and all(map(_PLAIN_DATE_RE.fullmatch, values)):
        # The common case without pandas' to_datetime (a large share of a small file's profile). Within these
        # years every "YYYY-MM-DD" numpy accepts is the day pandas reads, in any unit pandas may pick (ns
        # included); numpy refuses the impossible days (2023-02-29) that pandas makes NaT: pandas decides then.
        try:
            days = np.array(values, dtype="datetime64[D]")
        except ValueError:
            days = None
        if days is not None and days.min() >= _FAST_DATES[0] and days.max() <= _FAST_DATES[1]:
            return str(days.min()), str(days.max()), days.astype(np.int64) if points else None
    fmt = "%Y-%m-%d" if kind == "date" else "ISO8601"
    try:
        parsed = pd.to_datetime(pd.Index(values, dtype=object), format=fmt, errors="coerce")
    except (ValueError, TypeError, OverflowError):  # e.g. mixed time zones
        return None
    if not isinstance(parsed, pd.DatetimeIndex) or parsed.isna().any():
        return None
    lo, hi = _iso(parsed.min(), kind), _iso(parsed.max(), kind)
    if not points:
        return lo, hi, None
    micros = parsed.as_unit("us").asi8  # UTC for zone-aware times; naive ones are taken as UTC
    return lo, hi, micros // (_SECONDS_PER_DAY * 1_000_000) if kind == "date" else micros / 1e6


def _iso(ts: Any, kind: str) -> str:
    return str(ts.date().isoformat()) if kind == "date" else str(ts.isoformat())


def _within_budget(columns: list[dict[str, Any]]) -> None:
    """Keep distributions in column order while their JSON fits MAX_DISTRIBUTION_BYTES; drop the rest."""
    used = 0
    for column in columns:
        if used > MAX_DISTRIBUTION_BYTES:
            _no_distribution(column)
            continue
        if column["histogram"] is None and not column["top_values"]:
            continue
        used += len(json.dumps([column["histogram"], column["top_values"]], ensure_ascii=False).encode())
        if used > MAX_DISTRIBUTION_BYTES:
            _no_distribution(column)


def profile_columns(
    columns: Sequence[np.ndarray], names: list[str], *, distributions: bool = True
) -> list[dict[str, Any]]:
    """One ColumnProfile per column, as pandas' C parser reads them (:func:`_read_columns`: int64, uint64,
    float64 or bool arrays, or object arrays of text with NaN for empty cells). ``distributions``: add
    ``histogram`` and ``top_values`` (False: the profile without them, for the benchmark's comparison)."""
    out: list[Any] = [None] * len(names)
    groups: dict[str, list[int]] = {}
    for c, values in enumerate(columns):
        numeric = values.dtype.kind in "biuf"
        groups.setdefault(values.dtype.str if numeric else "O", []).append(c)
    for kind, cols in groups.items():
        if kind == "O":
            for c in cols:
                if distributions and c >= MAX_DISTRIBUTION_COLUMNS:
                    out[c] = _no_distribution(_profile_text(names[c], columns[c], False))
                else:
                    out[c] = _profile_text(names[c], columns[c], distributions)
        else:
            _profile_numeric(columns, cols, names, out, distributions)
    if distributions:
        _within_budget(out)
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


def read_csv_options(encoding: str, sep: str, dialect: Dialect, *, width: int, keep: int | None) -> dict[str, Any]:
    """pandas.read_csv's arguments for the data records: every field text unless it parses, empty cells NaN."""
    return {
        "encoding": encoding,
        "sep": sep,
        "quotechar": dialect.quote_char,
        "escapechar": dialect.escape_char,
        "doublequote": dialect.double_quote,
        "skipinitialspace": dialect.skip_initial_space,
        "header": None,
        "names": list(range(width)),
        "usecols": range(keep) if keep is not None else None,
        "index_col": False,
        "skip_blank_lines": False,
        "keep_default_na": False,
        "na_values": [""],
        "engine": "c",
        "low_memory": False,
    }


def _read_columns(
    source: Any, encoding: str, sep: str, dialect: Dialect, *, width: int, nrows: int | None, keep: int | None
) -> list[np.ndarray]:
    """Parse ``nrows`` records from the first data record on (blank ones included, as NaN rows) into one array
    per column. (Not ``skiprows``: pandas' C tokenizer drops a leading empty field of the first row after rows
    skipped with CR line ends.) ``keep``: read only that many columns (a row with thousands of extra fields).

    The arrays are the C parser's own, taken before ``read_csv`` wraps them in a DataFrame: building that frame
    (and a Series per column to get them out again) cost more than parsing and profiling a file of a few
    hundred rows. ``TextFileReader._engine`` is private: pandas is pinned (requirements.txt, uv.lock), and the
    frame ``read_csv`` builds holds exactly these arrays (its text columns as ``str`` dtype over the same
    strings), so the profile is the same; tests/unit/test_profile_equivalence.py compares the two."""
    try:
        with pd.read_csv(
            source, **read_csv_options(encoding, sep, dialect, width=width, keep=keep), iterator=True
        ) as reader:
            arrays = reader._engine.read(nrows)[2]  # nrows None: to the end (no footnotes)
    except pd.errors.ParserError as exc:
        msg = str(exc)
        m = re.search(r"EOF inside string starting at row (\d+)", msg)
        if m:
            raise _QuoteNotClosed(int(m.group(1))) from None
        raise CsvProfileError(
            f"The file could not be parsed as CSV ({msg.splitlines()[0][:200]}). "
            "Check its quoting around that line, or export it again as CSV."
        ) from None
    return [arrays[c] for c in range(width if keep is None else keep)]


class _QuoteNotClosed(Exception):
    def __init__(self, row: int) -> None:
        self.row = row


def _cut(value: str) -> str:
    return value if len(value) <= MAX_SAMPLE_CELL else value[:MAX_SAMPLE_CELL] + "…"


def _lines(structure: _Structure, records: np.ndarray) -> list[int]:
    return [structure.record_line(int(i)) for i in records[: csvtable.WARNING_LINES]]


def profile_csv(data: bytes, *, distributions: bool = True) -> dict[str, Any]:
    """The content keys of the metadata record for ``data`` (see the module docstring). ``distributions``:
    as in :func:`profile_columns`."""
    d = decode(data)
    dialect = csvtable.sniff(d.head(), d.complete_head)
    sep = dialect.separator(d.buf)
    structure = _scan_fast(d, dialect, sep) if dialect.rfc4180 else None
    if structure is None:
        structure = _scan_csv(d, dialect, sep)
    n = int(structure.blank.size)
    if n == 0 or structure.empty.all():
        raise CsvProfileError("The file contains only empty lines. Export the data again with a header line.")
    head = structure.rows(0, min(n, csvtable.SNIFF_RECORDS))
    tail_from = max(0, n - csvtable.TAIL_RECORDS)
    tail = head[tail_from:] if n <= csvtable.SNIFF_RECORDS else structure.rows(tail_from, n)
    table = csvtable.find_table(head, tail, n)

    first, end, width = table.first_data, table.end, table.width
    if width == 1:
        structure.empty = structure.blank  # one column: "" is an empty value, only a blank line is no row
    region = np.zeros(n, dtype=bool)
    region[first:end] = True
    comment = (
        region & structure.hashed & (structure.widths != width) & ~structure.empty
        if width >= 2
        else np.zeros(n, dtype=bool)
    )
    data_idx = np.flatnonzero(region & ~structure.empty & ~comment)
    empty_idx = np.flatnonzero(structure.empty & ~structure.blank)  # above, in and below the table
    widths = structure.widths[data_idx]
    header_width = table.header[0].width if table.header else width
    table_width = max(width, header_width)
    row_count = int(data_idx.size)

    read: list[np.ndarray] | None = None  # the data rows' columns
    extra_values: int | None = 0
    last_column_empty = False
    if row_count:
        widest = int(widths.max())
        read_width = max(widest, table_width)
        keep = table_width if widest > table_width + MAX_EXTRA_COLUMNS else None
        try:
            read = _read_columns(
                *structure.tail(first),
                sep,
                dialect,
                width=read_width,
                nrows=end - first if end < n else None,
                keep=keep,
            )
        except _QuoteNotClosed as exc:
            raise csvtable.QuoteNotClosed(structure.record_line(min(first + exc.row, n - 1))) from None
        wanted = (region & ~structure.empty & ~comment)[first:end]
        got = len(read[0])
        if got <= wanted.size and (got < wanted.size or not wanted.all()):
            read = [values[wanted[:got]] for values in read]
        if got > wanted.size or len(read[0]) != row_count:  # (more rows than records: the same disagreement)
            raise CsvProfileError(
                f"The file's quoting is ambiguous: readers disagree on its rows ({row_count} vs "
                f"{got if got > wanted.size else len(read[0])}). "
                'Quote every field that contains a quote character, and double the quotes inside ("").'
            )
        if keep is None and read_width > table_width:
            extra_values = sum(int(np.count_nonzero(~pd.isna(values))) for values in read[table_width:])
            read = read[:table_width]
        elif keep is not None:
            extra_values = None
        last_column_empty = bool(pd.isna(read[width - 1]).all())

    shape = csvtable.assess_widths(
        table,
        dialect,
        widths=dict(zip(*np.unique(widths, return_counts=True), strict=True)) if row_count else {},
        short_lines=_lines(structure, data_idx[widths < width]),
        long_lines=_lines(structure, data_idx[widths > width]),
        extra_values=extra_values,
        empty_rows=_lines(structure, empty_idx),
        comment_lines=_lines(structure, np.flatnonzero(comment)),
        last_column_empty=last_column_empty,
    )
    names = table.names[: shape.columns]
    if read is not None:
        columns = profile_columns(read[: shape.columns], names, distributions=distributions)
        duplicate_rows = structure.duplicate_count(data_idx)
    else:
        columns = [_empty_profile(n, 0) for n in names]
        if distributions:
            columns = [_no_distribution(c) for c in columns]
        duplicate_rows = 0
    sample = [
        (r.fields + [""] * shape.columns)[: shape.columns]
        for r in itertools.islice(  # (the first few of up to SNIFF_RECORDS rows: stop looking once found)
            (
                r
                for r in head
                if first <= r.index < end
                and (r.fields if width == 1 else not r.empty)
                and not csvtable.is_comment(r, width)
            ),
            SAMPLE_ROWS,
        )
    ]

    counts = Counter(names) if table.has_header else Counter()
    terms = structure.terminators
    empty_rows = int(empty_idx.size)
    return {
        "encoding": d.encoding,
        "has_bom": d.has_bom,
        **csvtable.dialect_fields(dialect),
        "has_header": table.has_header,
        "header_line": table.header_line,
        "line_terminator": None if not terms else next(iter(terms)) if len(terms) == 1 else "mixed",
        "row_count": row_count,
        "column_count": shape.columns,
        "column_names": names,
        "duplicate_column_names": [n for n, c in counts.items() if c > 1],
        "columns": columns,
        "duplicate_row_count": duplicate_rows,
        "sample_rows": [[_cut(v) for v in r] for r in sample],
        "skipped_lines": csvtable.skipped_lines(
            table, empty_rows=empty_rows, blank_lines=int(structure.blank.sum()), comments=int(comment.sum())
        ),
        "warnings": [w.as_dict() for w in shape.warnings],
    }
