"""The profiler's shortcuts give what the plain pandas calls give.

``csv_metadata._read_columns`` takes pandas' C parser's arrays before ``read_csv`` builds its DataFrame (a
private attribute; pandas is pinned), and ``_parse_dates`` reads plain ``YYYY-MM-DD`` dates with numpy instead
of ``pd.to_datetime``. Both are checked here against the public calls they stand for.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data import make_corpus
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_loader import load_lambda_module

m = load_lambda_module("csv_metadata")

TYPED = (
    b"i,f,b,bb,d,dt,s,e,big,u\n"
    b"1,1.5,true,true,2024-01-31,2024-01-31T10:00:00Z,x,,9223372036854775807,18446744073709551615\n"
    b",,False,,2023-12-01,2024-02-01T11:30:00+02:00,,,-9223372036854775808,0\n"
    b"-3,inf,TRUE,false,,2023-01-01T00:00:00Z,1,,1,5\n"
    b"4,-0.0,false,,1999-02-28,,\xc3\xbc,,2,\n"
)
FILES = [
    *(p for p in sorted(make_corpus.BAD_DIR.glob("*.csv")) if p.stat().st_size < 200_000),
    *sorted((Path(make_corpus.HERE) / "realworld" / "files").rglob("*.csv"))[:60],
]


def frame_columns(data: bytes) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """(``_read_columns``'s arrays, the same columns out of ``pd.read_csv``'s DataFrame) for the data rows of
    ``data`` as profile_csv reads them; None when the file has no data rows."""
    d = m.decode(data)
    dialect = m.csvtable.sniff(d.head(), d.complete_head)
    sep = dialect.separator(d.buf)
    structure = (m._scan_fast(d, dialect, sep) if dialect.rfc4180 else None) or m._scan_csv(d, dialect, sep)
    n = int(structure.blank.size)
    if n == 0 or structure.empty.all():
        return None
    head = structure.rows(0, min(n, m.csvtable.SNIFF_RECORDS))
    tail = structure.rows(max(0, n - m.csvtable.TAIL_RECORDS), n)
    table = m.csvtable.find_table(head, tail, n)
    if table.first_data >= n:
        return None
    width = max(int(structure.widths[table.first_data :].max()), table.width)
    nrows = table.end - table.first_data if table.end < n else None
    got = m._read_columns(*structure.tail(table.first_data), sep, dialect, width=width, nrows=nrows, keep=None)
    source, encoding = structure.tail(table.first_data)
    frame = pd.read_csv(source, **m.read_csv_options(encoding, sep, dialect, width=width, keep=None), nrows=nrows)
    expected = []
    for c, dtype in enumerate(frame.dtypes):
        numeric = isinstance(dtype, np.dtype) and dtype.kind in "biuf"
        expected.append(frame[c].to_numpy() if numeric else frame[c].to_numpy(dtype=object))
    return got, expected


def _with_data_rows(path: Path) -> bool:
    try:
        return frame_columns(path.read_bytes()) is not None
    except m.CsvProfileError:
        return False  # not a table: nothing for pandas to read


TABLES = [p for p in FILES if _with_data_rows(p)]


def test_most_corpus_files_have_data_rows_to_compare() -> None:
    assert len(FILES) > 80
    assert len(TABLES) >= len(FILES) - 20


@pytest.mark.parametrize("path", TABLES, ids=lambda p: str(p.relative_to(make_corpus.HERE)))
def test_read_columns_are_the_frames_columns(path: Path) -> None:
    pair = frame_columns(path.read_bytes())
    assert pair is not None
    got, expected = pair
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        if a.dtype.kind == "O":
            assert [x if isinstance(x, str | bool) else "<NaN>" for x in a.tolist()] == [
                x if isinstance(x, str | bool) else "<NaN>" for x in b.tolist()
            ]
            assert [type(x) for x in a.tolist()] == [type(x) for x in b.tolist()]
        else:
            np.testing.assert_array_equal(a, b)


def test_typed_columns_and_the_profile_of_them() -> None:
    pair = frame_columns(TYPED)
    assert pair is not None
    got, expected = pair
    assert [a.dtype.kind for a in got] == ["f", "f", "b", "O", "O", "O", "O", "f", "i", "O"]
    assert m.profile_columns(got, list("abcdefghij")) == m.profile_columns(expected, list("abcdefghij"))


def pandas_dates(values: list[str]) -> tuple[str, str, list[int]] | None:
    """What ``_parse_dates`` gave before its numpy shortcut (pd.to_datetime for every date column)."""
    try:
        parsed = pd.to_datetime(pd.Index(values, dtype=object), format="%Y-%m-%d", errors="coerce")
    except (ValueError, TypeError, OverflowError):
        return None
    if parsed.isna().any():
        return None
    days = parsed.as_unit("us").asi8 // (86_400 * 1_000_000)
    return parsed.min().date().isoformat(), parsed.max().date().isoformat(), days.tolist()


def shortcut_dates(values: list[str]) -> tuple[str, str, list[int]] | None:
    got = m._parse_dates(np.array(values, dtype=object), "date", points=True)
    return None if got is None else (got[0], got[1], got[2].tolist())


EDGES = [
    ["2024-02-29", "2000-02-29", "1970-01-01"],
    ["2023-02-29"],
    ["2024-13-01"],
    ["2024-00-10"],
    ["2024-04-31"],
    ["1678-01-01", "2261-12-31"],
    ["1677-12-31", "2024-01-01"],
    ["2262-01-01"],
    ["0001-01-01", "9999-12-31"],
    ["1900-02-29"],
    ["2024-1-01"],
]


@pytest.mark.parametrize("values", EDGES, ids=",".join)
def test_date_shortcut_edges(values: list[str]) -> None:
    assert shortcut_dates(values) == pandas_dates(values)


plain_dates = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(plain_dates, min_size=1, max_size=6, unique=True))
def test_date_shortcut_matches_to_datetime(values: list[str]) -> None:
    assert shortcut_dates(values) == pandas_dates(values)


def test_profile_of_make_csv_files_is_the_frames() -> None:
    from bench.bench_pipeline import make_csv

    for size in (2_000, 10_240, 102_400):
        pair = frame_columns(make_csv(size, seed=3))
        assert pair is not None
        got, expected = pair
        names = [f"c{i}" for i in range(len(got))]
        assert m.profile_columns(got, names) == m.profile_columns(expected, names)
