"""Real-world corpus: our table detection against the usual readers, on the same files in the same run.

Each reader's table (rows, columns, header) is judged against the expectation its source gives
(tests/data/realworld/sources/*.json, via tests/data/realworld/corpus.py). "Wrong, no warning" is the
number that matters: a reader that returns another table without a word. The peers never warn, so every
wrong table of theirs is silent; ours counts as warned when the record carries warnings.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "lambda")]

from data.realworld import corpus  # noqa: E402

Reading = tuple[int | None, int | None, bool | None, bool, str | None]  # rows, columns, header, warned, error


def ours(path: Path) -> Reading:
    import csv_metadata

    try:
        got = csv_metadata.profile_csv(path.read_bytes())
    except csv_metadata.CsvProfileError as exc:
        return None, None, None, True, str(exc)
    return got["row_count"], got["column_count"], got["has_header"], bool(got["warnings"]), None


def _duckdb(null_padding: bool) -> Callable[[Path], Reading]:
    import duckdb

    def read(path: Path) -> Reading:
        con = duckdb.connect()
        try:
            options = ", null_padding = true" if null_padding else ""
            quoted = str(path).replace("'", "''")
            sniff = con.execute(f"SELECT HasHeader FROM sniff_csv('{quoted}'{options})").fetchall()
            columns = con.execute(f"SELECT * FROM read_csv('{quoted}'{options}) LIMIT 0").description or []
            count = con.execute(f"SELECT count(*) FROM read_csv('{quoted}'{options})").fetchall()
            return count[0][0], len(columns), bool(sniff[0][0]) if sniff else None, False, None
        except Exception as exc:
            return None, None, None, False, f"{type(exc).__name__}: {exc}"
        finally:
            con.close()

    return read


def clevercsv_reader(path: Path) -> Reading:
    import clevercsv

    try:
        frame = clevercsv.read_dataframe(str(path))
        return len(frame), frame.shape[1], None, False, None
    except Exception as exc:
        return None, None, None, False, f"{type(exc).__name__}: {exc}"


def pandas_sniff(path: Path) -> Reading:
    try:
        frame = pd.read_csv(path, sep=None, engine="python", encoding_errors="replace")
        return len(frame), frame.shape[1], True, False, None
    except Exception as exc:
        return None, None, None, False, f"{type(exc).__name__}: {exc}"


def _text(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "utf-16", "cp1252", "latin-1"):
        with contextlib.suppress(UnicodeDecodeError):
            if enc == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return data.decode(enc)
    return data.decode("latin-1")


def csv_sniffer(path: Path) -> Reading:
    try:
        text = _text(path)
        sample = text[: 64 * 1024]
        dialect = csv.Sniffer().sniff(sample)
        header = csv.Sniffer().has_header(sample)
        records = [r for r in csv.reader(io.StringIO(text, newline=""), dialect) if r]
        return len(records) - (1 if header else 0), len(records[0]) if records else 0, header, False, None
    except Exception as exc:
        return None, None, None, False, f"{type(exc).__name__}: {exc}"


READERS: dict[str, Callable[[Path], Reading]] = {
    "CSV Drop (csvtable)": ours,
    "DuckDB read_csv (defaults)": _duckdb(False),
    "DuckDB read_csv (null_padding)": _duckdb(True),
    "CleverCSV read_dataframe": clevercsv_reader,
    "pandas sep=None": pandas_sniff,
    "csv.Sniffer": csv_sniffer,
}


def score(files: list[corpus.CorpusFile]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    rows: list[dict[str, Any]] = []
    misses: dict[str, list[str]] = {}
    for name, reader in READERS.items():
        tally = {"exact": 0, "wrong": 0, "refused": 0, "silent": 0}
        misses[name] = []
        started = time.perf_counter()
        for f in files:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                n, cols, header, warned, error = reader(f.path)
            verdict = corpus.judge(f.expect, n, cols, header, None, warned=warned, error=error)
            tally[verdict.outcome] += 1
            tally["silent"] += verdict.silently_wrong
            if verdict.outcome != "exact":
                misses[name].append(f"{f.name}: {verdict.got[:80]} ({verdict.why})")
        total = len(files)
        rows.append(
            {
                "reader": name,
                "exact tables": f"{tally['exact']} ({tally['exact'] / total:.0%})",
                "wrong, no warning": tally["silent"],
                "wrong, warned": tally["wrong"] - tally["silent"],
                "refused a valid file": tally["refused"],
                "seconds": f"{time.perf_counter() - started:.1f}",
            }
        )
    best_peer = max(int(str(r["exact tables"]).split()[0]) for r in rows[1:])
    ours_exact = int(str(rows[0]["exact tables"]).split()[0])
    rows[0]["vs best peer"] = f"{ours_exact - best_peer:+d} files"
    return rows, misses


def run() -> list[dict[str, Any]]:
    files = corpus.materialise()
    print(
        f"{len(files)} files from {len({f.package for f in files})} packages "
        f"({sum(f.kind == 'open-data export' for f in files)} open-data exports)"
    )
    rows, misses = score(files)
    print("Files CSV Drop does not read exactly (each warned or refused with a reason):")
    for line in misses[next(iter(READERS))]:
        print("  -", line)
    return rows
