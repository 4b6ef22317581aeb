"""Property tests: CSVs written by Python's csv module, read back by the profiler and the validator, must
give the counts Python's csv module reads from the same text (an independent reference, not our code)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Literal
from unittest import mock

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lambda_loader import load_lambda_module

from backend import validation

csv_metadata = load_lambda_module("csv_metadata")

# Field text: delimiters of every kind, double quotes, CR/LF, spaces, digits, non-ASCII. No single quote
# (a file with 'quoted' values and no double quote at all is read with quote char ' by design) and no
# control characters (binary by the rules).
FIELD = st.text(alphabet=st.sampled_from(list('ab xyz019.-,;\t|"\n\r\u00e9\u6771')), max_size=12)
NUMBER = st.integers(-1000, 1000).map(str)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str, int, list[list[str]]]:
    ncols = draw(st.integers(1, 6))
    nrows = draw(st.integers(0, 12))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting: Literal[0, 1] = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))  # csv.writer's type
    kinds = [draw(st.sampled_from(["text", "number"])) for _ in range(ncols)]
    rows = [[draw(FIELD if k == "text" else NUMBER) for k in kinds] for _ in range(nrows)]
    header = [f"col{chr(97 + i)}" for i in range(ncols)]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return buf.getvalue().encode(encoding), delimiter, ncols, rows


def csv_records(data: bytes, delimiter: str) -> list[list[str]]:
    """The csv module's records, less the rows the rules do not count: blank lines and rows of two or more
    fields that are all empty (csvtable, rule 5)."""
    text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8-sig")
    return [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(r) or len(r) == 1]


def note_like(row: list[str]) -> bool:
    """One text value alone in a row: below the data it may be a footnote (csvtable, rule 3), so the
    properties below hold for tables whose rows are not shaped like notes."""
    values = [v for v in row if v.strip()]
    return len(row) > 1 and len(values) == 1 and not values[0].strip().lstrip("+-").replace(".", "").isdigit()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_profile_matches_csv_module(case: tuple[bytes, str, int, list[list[str]]]) -> None:
    data, delimiter, ncols, rows = case
    records = csv_records(data, delimiter)
    assume(all(len(r) == ncols for r in records))  # the writer's own output is always consistent
    assume(not any(note_like(r) for r in records[1:]))
    # 'x, "y"' reads as a separator with a space after it (csvtable: skip_initial_space), not as csv's default.
    assume(f'{delimiter} "'.encode() not in data.replace(b"\x00", b""))
    got = csv_metadata.profile_csv(data)
    assert got["column_count"] == ncols
    assert got["row_count"] == len(records) - 1 == len([r for r in rows if any(r) or ncols == 1])
    assert got["has_header"] is True
    assert got["column_names"] == records[0]
    assert got["delimiter"] == (delimiter if ncols > 1 else None)
    assert got["sample_rows"] == records[1:6]
    for j, col in enumerate(got["columns"]):
        assert col["null_count"] == sum(1 for r in records[1:] if r[j] == ""), col
        if col["type"] == "string":
            values = {r[j] for r in records[1:] if r[j] != ""}
            assert col["distinct_count"] == len(values)
    data_rows = [tuple(r) for r in records[1:]]
    assert got["duplicate_row_count"] == len(data_rows) - len(set(data_rows))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_validator_matches_csv_module(case: tuple[bytes, str, int, list[list[str]]]) -> None:
    data, delimiter, ncols, _rows = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_bytes(data)
        got = validation.validate_file(path, 10**7)
    assert got.ok, got.reason
    assert got.column_count == ncols
    assert got.delimiter == (delimiter if ncols > 1 else None)


@st.composite
def lenient_files(draw: st.DrawFn) -> bytes:
    """Raw text with stray quotes anywhere: the fast scanner must hand over to the csv module, and agree."""
    ncols = draw(st.integers(2, 4))
    lines = [",".join(f"h{i}" for i in range(ncols))]
    cell = st.text(alphabet=st.sampled_from(list('ab1 "')), max_size=5).filter(lambda s: not s.startswith('"'))
    for _ in range(draw(st.integers(0, 8))):
        lines.append(",".join(draw(cell) for _ in range(ncols)))
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=200, deadline=None)
@given(lenient_files())
def test_stray_quotes_follow_csv_module(data: bytes) -> None:
    records = [r for r in csv.reader(io.StringIO(data.decode(), newline="")) if any(r)]
    assume(not any(note_like(r) for r in records[1:]))
    # ', "x"' reads as a ", " separator (csvtable: spaces after the delimiter are skipped), not as csv's default.
    assume(', "' not in data.decode())
    widths = {len(r) for r in records}
    try:
        got = csv_metadata.profile_csv(data)
    except csv_metadata.CsvProfileError as exc:
        assert len(widths) > 1, str(exc)
        return
    assert widths == {got["column_count"]}
    assert got["row_count"] == len(records) - 1
    assert got["sample_rows"] == records[1:6]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from([1, 2, 3, 5, 16]))
def test_scan_chunk_boundaries_do_not_matter(case: tuple[bytes, str, int, list[list[str]]], chunk: int) -> None:
    data = case[0]
    whole = csv_metadata.profile_csv(data)
    with mock.patch.object(csv_metadata, "SCAN_CHUNK", chunk):
        assert csv_metadata.profile_csv(data) == whole
