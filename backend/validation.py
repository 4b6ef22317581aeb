"""The desktop app's local check of a file before it is uploaded (standard library only).

It applies the same rules as the Lambda's profiler (``lambda/csv_metadata.py``) to the start of the file, so
what is rejected here would fail there for the same reason, with the same advice:

* exists, is a file, is readable;
* ``size <= max_bytes`` (the ``max_file_bytes`` setting, 10 MiB = 10 * 1024 * 1024 bytes by default; a file of
  exactly the limit is accepted);
* not empty; not a known binary format by its first bytes (gzip, ZIP/xlsx, old Office, PDF, bzip2, xz, zstd,
  7-Zip: the same table as the Lambda's ``MAGIC``); no NUL bytes unless it is UTF-16/32;
* decodable: a BOM decides (UTF-8/16/32), else strict UTF-8, else cp1252, else latin-1; mostly-control-character
  text is binary;
* a dialect can be sniffed from the first 64 KiB (delimiter among ``, ; TAB |``), or it is a single column;
* the first 200 records (parsed with the ``csv`` module, so quoted newlines are handled) all have the header's
  number of fields, and no quoted field is left open at the end of the file.

The Lambda checks every row; this check reads at most ``max_bytes`` and parses at most 200 records, so a file
that is ragged only further down passes here and is reported FAILED after the upload.

The magic-byte table, the encoding rules and the dialect sniffer are duplicated from the Lambda on purpose:
the deployed function cannot import the desktop backend. ``tests/unit/test_bad_corpus.py`` checks that both
give the same verdict on every corpus file, and that the tables are equal.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import csv
import io
import multiprocessing
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 64 * 1024
SAMPLE_RECORDS = 200
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
NO_DELIMITER_CHARS = ("\x1f", "\x1e", "\x1d", "\x1c")
CONTROL_CHAR_RATIO = 0.01
SIZE_SETTING = "max_file_bytes (environment variable CSVDROP_MAX_FILE_BYTES, or `csvdrop config`)"

_ZIP_FIX = "export it as CSV (Excel: File > Save As > CSV UTF-8), or unzip it and upload the .csv inside"
# (signature, description, what to do): the same table as MAGIC in lambda/csv_metadata.py.
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed data, not a plain-text CSV", "decompress it (gunzip) and upload the .csv inside"),
    (b"PK\x03\x04", "an Excel workbook or ZIP archive renamed .csv", _ZIP_FIX),
    (b"PK\x05\x06", "an Excel workbook or ZIP archive renamed .csv", _ZIP_FIX),
    (b"PK\x07\x08", "an Excel workbook or ZIP archive renamed .csv", _ZIP_FIX),
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


# Fields may be megabytes long (a 5 MB line is a valid CSV); the csv module's default cap is 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on one file. ``reason`` (None when ok) names the file, what is wrong and what to do."""

    path: Path
    ok: bool
    reason: str | None
    size_bytes: int
    encoding: str | None = None
    delimiter: str | None = None
    column_count: int | None = None


class _Reject(Exception):
    """A reason (without the file name) why the file is not a usable CSV."""


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB ({n:,} bytes)" if n >= 1024 * 1024 else f"{n:,} bytes"


def check_magic(data: bytes) -> str | None:
    """A message if ``data`` starts like a known non-CSV format (same rules as the Lambda)."""
    if data.startswith(b"BZh") and data[4:10] != b"1AY&SY":
        return None
    for magic, what, fix in MAGIC:
        if data.startswith(magic):
            return f"the file is {what}; {fix}."
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


def _decode_error(exc: UnicodeDecodeError, what: str) -> _Reject:
    return _Reject(
        f"the file {what} but is not valid {exc.encoding.upper()} (byte offset {exc.start}: {exc.reason}); "
        "re-save it with one consistent encoding, preferably UTF-8 (Excel: Save As > CSV UTF-8)."
    )


def decode_text(data: bytes) -> tuple[str, str]:
    """(text without BOM, encoding name) by the Lambda's rules; raises _Reject."""
    if not data:
        raise _Reject("the file is empty (0 bytes); export the data again, a CSV needs at least a header line.")
    magic = check_magic(data)
    if magic:
        raise _Reject(magic)
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError as exc:
                label = enc.replace("-sig", "").upper()
                raise _decode_error(exc, f"starts with a {label} byte-order mark") from None
            return _check_control(text), enc
    nul = data.find(b"\x00")
    if nul >= 0:
        enc16 = _utf16_without_bom(data[:4096])
        if enc16 is None:
            raise _Reject(
                f"the file contains binary data (a NUL byte at offset {nul}), so it is not a text CSV; check that "
                "you picked the right file (a CSV is plain text you can open in a text editor)."
            )
        try:
            return _check_control(data.decode(enc16)), enc16
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, "looks like UTF-16 without a byte-order mark") from None
    for enc in ("utf-8", "cp1252"):
        try:
            return _check_control(data.decode(enc)), enc
        except UnicodeDecodeError:
            continue
    return _check_control(data.decode("latin-1")), "latin-1"


def _check_control(text: str) -> str:
    head = text[:SNIFF_BYTES]
    found = _CONTROL_RE.findall(head)
    if found and len(found) > max(8, CONTROL_CHAR_RATIO * len(head)):
        raise _Reject(
            f"the file is mostly not text ({len(found)} control characters in its first {len(head)} "
            "characters), so it is not a CSV; check that you picked the right file."
        )
    return text


def _records(text: str, delimiter: str, quote: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote))


def sniff_dialect(sample: str, complete: bool) -> tuple[str | None, str]:
    """(delimiter or None for a single column, quote char): the Lambda's rules."""
    quote = '"'
    # The "'" test first, as in the Lambda: the pattern scans the whole sample, and cannot match without one.
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
            rows = rows[:-1]
        counts = [len(r) for r in rows if r]
        if not counts or counts[0] < 2:
            continue
        freq = Counter(counts).most_common(1)[0][1]
        score = (freq / len(counts), -rank)
        if best is None or score > best:
            best, chosen = score, delim
    return chosen, quote


def internal_delimiter(delimiter: str | None, text: str) -> str:
    if delimiter is not None:
        return delimiter
    for ch in NO_DELIMITER_CHARS:
        if ch not in text:
            return ch
    return ","


def _fields(k: int) -> str:
    return "1 field" if k == 1 else f"{k} fields"


def _check_records(text: str, delimiter: str | None, quote: str) -> int:
    """Column count from the first SAMPLE_RECORDS records; raises _Reject on ragged rows or an open quote."""
    sep = internal_delimiter(delimiter, text)
    width: int | None = None
    for strict in (True, False):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar=quote, strict=strict)
        width, seen, prev_line = None, 0, 0
        try:
            for row in reader:
                start_line, prev_line = prev_line + 1, reader.line_num
                if not row:
                    continue  # blank line: not a record (as in the Lambda)
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    name = {"\t": "tab", None: "none (single column)"}.get(delimiter, repr(delimiter))
                    raise _Reject(
                        f"line {start_line} has {_fields(len(row))}, but the header has {width}; every row needs "
                        f"the same number of fields (delimiter: {name}); quote values that contain the "
                        "delimiter, and check that row for a missing or extra delimiter."
                    )
                seen += 1
                if seen >= SAMPLE_RECORDS:
                    break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise _Reject(
                    f"a quoted field starting on line {prev_line + 1} is never closed: the file ends inside "
                    'quotes; add the missing closing quote, or double any quote inside a quoted field ("").'
                ) from None
            continue  # a stray quote inside a field: read it leniently, as the Lambda does
        break
    if width is None:
        raise _Reject("the file contains only empty lines; export the data again with a header line.")
    return width


def validate_file(path: Path, max_bytes: int) -> ValidationResult:
    """Check one file before upload (see the module docstring)."""
    name = path.name or str(path)
    size = 0

    def fail(reason: str, encoding: str | None = None, delimiter: str | None = None) -> ValidationResult:
        return ValidationResult(path, False, f"{name}: {reason}", size, encoding, delimiter)

    try:
        st = path.stat()
    except FileNotFoundError:
        return fail("the file does not exist (moved, renamed or deleted?); pick it again.")
    except OSError as exc:
        return fail(f"the file cannot be read ({exc.strerror or exc}); check its permissions.")
    if path.is_dir():
        return fail("is a folder, not a file; drop the folder itself to add the .csv files inside it.")
    size = st.st_size
    if size > max_bytes:
        return fail(
            f"the file is {_human(size)}, above the upload limit of {_human(max_bytes)}; split the file, or "
            f"raise the setting {SIZE_SETTING}."
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except PermissionError:
        return fail("the file cannot be read (permission denied); check its permissions or copy it elsewhere.")
    except OSError as exc:
        return fail(f"the file cannot be read ({exc.strerror or exc}); check that it is still available.")
    size = len(data)
    if size > max_bytes:  # grew since stat()
        return fail(f"the file is above the upload limit of {_human(max_bytes)}; raise the setting {SIZE_SETTING}.")
    encoding: str | None = None
    delimiter: str | None = None
    try:
        text, encoding = decode_text(data)
        del data
        delimiter, quote = sniff_dialect(text[:SNIFF_BYTES], complete=len(text) <= SNIFF_BYTES)
        columns = _check_records(text, delimiter, quote)
    except _Reject as exc:
        return fail(str(exc), encoding=encoding, delimiter=delimiter)
    return ValidationResult(path, True, None, size, encoding, delimiter, columns)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders -> their ``*.csv`` files (recursive, any case of ``.csv``, sorted, hidden files
    and folders skipped). Each file once, first occurrence kept."""
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        try:
            key = os.path.normcase(str(p.resolve()))
        except OSError:
            key = str(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for p in paths:
        if p.is_dir():
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found += [Path(root) / f for f in files if f.lower().endswith(".csv") and not f.startswith(".")]
            for f in sorted(found):
                add(f)
        else:
            add(p)
    return out


# --- isolated validation ---------------------------------------------------------------------------
# The desktop app validates dozens of files while it paints progress. Done in one of its threads, the
# pure-Python parsing holds the GIL and the GUI thread waits for it (stalls of 100-300 ms were measured
# with 50 files). Worker processes have their own interpreters, so the GUI only waits on a pipe.
_POOL_LOCK = threading.Lock()
_POOL: concurrent.futures.ProcessPoolExecutor | None = None


def _yield_cpu() -> None:
    """Worker start-up: run below the app's priority. Two busy workers on a 2-core machine otherwise take both
    cores from the GUI process while a big drop is checked (measured: 30 ms of its 110 ms stalls)."""
    if hasattr(os, "nice"):
        os.nice(10)


def _pool() -> concurrent.futures.ProcessPoolExecutor:
    global _POOL  # noqa: PLW0603 - one pool of worker processes per application
    with _POOL_LOCK:
        if _POOL is None:
            # "spawn": never fork a process that runs Qt threads.
            _POOL = concurrent.futures.ProcessPoolExecutor(
                max_workers=2, mp_context=multiprocessing.get_context("spawn"), initializer=_yield_cpu)
            atexit.register(_POOL.shutdown, wait=False, cancel_futures=True)
        return _POOL


def validate_file_isolated(path: Path, max_bytes: int) -> ValidationResult:
    """validate_file in a worker process; falls back to this process if the worker cannot run."""
    global _POOL  # noqa: PLW0603
    try:
        return _pool().submit(validate_file, path, max_bytes).result()
    except (concurrent.futures.process.BrokenProcessPool, OSError, RuntimeError):
        with _POOL_LOCK:
            _POOL = None
        return validate_file(path, max_bytes)
