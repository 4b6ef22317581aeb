"""The desktop app's local check of a file before it is uploaded.

It reads the file with the same CSV rules as the Lambda (the ``csvtable`` package, which the function zip
ships too), so what is rejected here would fail there for the same reason, with the same advice:

* exists, is a file, is readable;
* ``size <= max_bytes`` (the ``max_file_bytes`` setting, 10 MiB = 10 * 1024 * 1024 bytes by default; a file of
  exactly the limit is accepted);
* bytes -> text, dialect and where the table is, by ``csvtable`` (empty, binary formats, encodings, control
  characters; preamble, header, footnotes);
* the first ``SAMPLE_RECORDS`` records hold a consistent table (``csvtable.assess_widths``: at least 40 % of
  the rows have the table's width; ragged rows beyond that are padded or cut by the Lambda, with a warning),
  and no quoted field is left open at the end of the file.

The Lambda checks every row; this check parses at most ``SAMPLE_RECORDS`` records, so a file that is
inconsistent only further down passes here and is reported FAILED after the upload.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import csvtable

SAMPLE_RECORDS = 1000
SIZE_SETTING = "max_file_bytes (environment variable CSVDROP_MAX_FILE_BYTES, or `csvdrop config`)"
MAGIC = csvtable.MAGIC
BOMS = csvtable.BOMS
check_magic = csvtable.check_magic


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


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB ({n:,} bytes)" if n >= 1024 * 1024 else f"{n:,} bytes"


def _sentence(message: str) -> str:
    """csvtable speaks in sentences; after "name: " the first word is lower-case."""
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message


def check_table(text: str, dialect: csvtable.Dialect) -> int:
    """The table's column count from the first SAMPLE_RECORDS records; raises csvtable.CsvError."""
    rows = csvtable.read_rows(text, dialect, limit=SAMPLE_RECORDS + 1)
    whole = len(rows) <= SAMPLE_RECORDS
    if not whole:
        rows.pop()
    # Without the whole file, footnotes cannot be told apart: the table runs to the end of the sample.
    table = csvtable.find_table(
        rows[: csvtable.SNIFF_RECORDS],
        rows[-csvtable.TAIL_RECORDS :] if whole else [],
        len(rows) if whole else len(rows) + 1,
    )
    width = table.width
    widths: Counter[int] = Counter()
    short: list[int] = []
    long: list[int] = []
    empty: list[int] = []
    comments: list[int] = []
    extra = 0
    last_empty = True
    for row in rows:
        if row.empty and row.fields and width > 1:
            empty.append(row.line)  # above, in and below the table
            continue
        if not table.first_data <= row.index < table.end or not row.fields:
            continue
        elif csvtable.is_comment(row, width):
            comments.append(row.line)
        else:
            widths[row.width] += 1
            (short if row.width < width else long if row.width > width else []).append(row.line)
            extra += sum(1 for v in row.fields[table.columns :] if v)
            last_empty = last_empty and (row.width < width or not row.fields[width - 1])
    shape = csvtable.assess_widths(
        table,
        dialect,
        widths=widths,
        short_lines=short,
        long_lines=long,
        extra_values=extra,
        empty_rows=empty,
        comment_lines=comments,
        last_column_empty=last_empty and bool(widths),
    )
    return shape.columns


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
        decoded = csvtable.decode(data)
        del data
        encoding = decoded.encoding
        dialect = csvtable.sniff(decoded.head(), decoded.complete_head)
        delimiter = dialect.delimiter
        columns = check_table(decoded.text(), dialect)
    except csvtable.CsvError as exc:
        return fail(_sentence(str(exc)), encoding=encoding, delimiter=delimiter)
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
                max_workers=2, mp_context=multiprocessing.get_context("spawn"), initializer=_yield_cpu
            )
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
