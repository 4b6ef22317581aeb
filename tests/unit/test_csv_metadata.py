"""lambda/csv_metadata.profile_csv: details the corpus does not pin down, big inputs and memory."""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from data import make_corpus
from lambda_loader import LAMBDA_DIR, load_lambda_module

m = load_lambda_module("csv_metadata")
CONTENT_KEYS = [
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
    "row_count",
    "column_count",
    "column_names",
    "duplicate_column_names",
    "columns",
    "duplicate_row_count",
    "sample_rows",
    "skipped_lines",
    "warnings",
]


def profile(text: str | bytes) -> dict:
    return m.profile_csv(text.encode() if isinstance(text, str) else text)


def error(text: str | bytes) -> str:
    with pytest.raises(m.CsvProfileError) as info:
        profile(text)
    return str(info.value)


def big_csv(rows: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "price", "name", "flag", "day", "qty", "note"])
    for i in range(rows):
        w.writerow(
            [
                i,
                f"{(i * 37) % 10000 / 100:.2f}",
                f"name{i % 500}",
                "true" if i % 3 else "false",
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "" if i % 7 == 0 else i % 1000,
                f"note {i}, with a comma",
            ]
        )
    return out.getvalue().encode()


def test_returns_exactly_the_content_keys_as_plain_json() -> None:
    got = profile("a,b\n1,x\n")
    assert list(got) == CONTENT_KEYS
    assert json.loads(json.dumps(got, allow_nan=False)) == got


def test_column_profiles() -> None:
    got = profile(
        "i,f,b,d,dt,s,e,mixed\n"
        "1,1.5,true,2024-01-31,2024-01-31T10:00:00Z,x,,1\n"
        ",2.25,False,2023-12-01,2024-02-01T11:30:00Z,y,,a\n"
        "-3,inf,TRUE,2024-06-15,2023-01-01T00:00:00Z,x,,2\n"
    )
    cols = {c["name"]: c for c in got["columns"]}
    # -3 and 1: one bin per whole value from -3 to 1, [e, e + 1)
    hist_i = {"edges": [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0], "counts": [1, 0, 0, 0, 1]}
    assert cols["i"] == {
        "name": "i",
        "type": "integer",
        "null_count": 1,
        "distinct_count": 2,
        "min": -3,
        "max": 1,
        "histogram": hist_i,
        "top_values": [],
    }
    assert cols["f"]["type"] == "float" and (cols["f"]["min"], cols["f"]["max"]) == (1.5, 2.25)  # inf is skipped
    assert cols["f"]["histogram"]["counts"] == [1] + [0] * 18 + [1]  # inf is in no bin either
    assert cols["b"] == {
        "name": "b",
        "type": "boolean",
        "null_count": 0,
        "distinct_count": 2,
        "min": None,
        "max": None,
        "histogram": None,
        "top_values": [["true", 2], ["false", 1]],
    }
    assert (cols["d"]["type"], cols["d"]["min"], cols["d"]["max"]) == ("date", "2023-12-01", "2024-06-15")
    assert cols["dt"]["type"] == "datetime" and cols["dt"]["min"].startswith("2023-01-01T00:00:00")
    assert cols["s"] == {
        "name": "s",
        "type": "string",
        "null_count": 0,
        "distinct_count": 2,
        "min": None,
        "max": None,
        "histogram": None,
        "top_values": [["x", 2], ["y", 1]],
    }
    assert cols["e"] == {
        "name": "e",
        "type": "empty",
        "null_count": 3,
        "distinct_count": 0,
        "min": None,
        "max": None,
        "histogram": None,
        "top_values": [],
    }
    assert cols["mixed"]["type"] == "string"
    assert cols["mixed"]["top_values"] == [["1", 1], ["2", 1], ["a", 1]]  # a three-way tie, in order of value


def test_na_words_are_values_not_nulls() -> None:
    col = profile("v,w\nNA,1\nnull,2\n,3\nN/A,4\n")["columns"][0]
    assert (col["type"], col["null_count"], col["distinct_count"]) == ("string", 1, 3)


def test_not_quite_dates_are_strings() -> None:
    assert profile("d\n2024-01-31\n2024-13-45\n")["columns"][0]["type"] == "string"


def test_boolean_with_empty_cells() -> None:
    col = profile("b,x\ntrue,1\n,2\nfalse,3\n")["columns"][0]
    assert (col["type"], col["null_count"], col["distinct_count"]) == ("boolean", 1, 2)
    assert col["top_values"] == [["false", 1], ["true", 1]]  # a tie, in order of value


def test_header_only_and_blank_lines() -> None:
    got = profile("a,b\n\n\n")
    assert (got["row_count"], got["column_count"], got["sample_rows"], got["duplicate_row_count"]) == (0, 2, [], 0)
    assert [c["type"] for c in got["columns"]] == ["empty", "empty"]


def test_row_count_with_quoted_newlines_matches_csv_module() -> None:
    text = 'a,b\n"1\n2\n3",x\n"y\r\nz",""\n4,"5,6"\n'
    records = list(csv.reader(io.StringIO(text, newline="")))
    got = profile(text)
    assert got["row_count"] == len(records) - 1 == 3
    assert got["sample_rows"] == records[1:]


def test_single_column_with_blank_and_space_rows() -> None:
    got = profile('name\nalice\n\n  \n""\nbob')
    assert got["delimiter"] is None
    assert got["row_count"] == 4  # the blank line is not a row; "  " and "" are
    assert got["columns"][0]["null_count"] == 1


def test_has_header_detection() -> None:
    assert profile("id,amount\n1,2\n3,4\n")["has_header"] is True
    assert profile("name,city\nann,rome\nbob,oslo\n")["has_header"] is True
    got = profile("1,2\n3,4\n")
    assert got["has_header"] is False and got["row_count"] == 2 and got["column_names"] == ["column_1", "column_2"]
    assert profile("10,20\n")["has_header"] is False
    assert profile("alpha,beta\n")["has_header"] is True


def test_ragged_rows_are_padded_or_cut_with_a_warning_that_names_the_lines() -> None:
    got = profile('a,b,c\n1,2,3\n"multi\nline",2,3\n4,5\n6,7,8,9\n')
    assert (got["row_count"], got["column_count"]) == (4, 3)
    warned = {w["code"]: w for w in got["warnings"]}
    assert warned["ragged_rows_padded"]["lines"] == [5]
    assert warned["ragged_rows_extra"]["lines"] == [6]
    assert "1 non-empty value" in warned["ragged_rows_extra"]["message"]


def test_no_consistent_table_fails_with_what_was_seen() -> None:
    msg = error("a,b\n1,2,3\n4,5,6,7\n8,9,10,11,12\n1,2,3,4,5,6\n")
    assert "No consistent table: only 20% of the 5 rows have the table's 2 fields" in msg
    assert "delimiter ','" in msg and "line 2" in msg


def test_unterminated_quote_message() -> None:
    msg = error('a,b\n1,2\n3,"open\n4,5\n')
    assert "starting on line 3 is never closed" in msg


def test_errors_are_specific_and_short() -> None:
    assert "empty" in error(b"")
    assert "gzip" in error(b"\x1f\x8b\x08\x00rest")
    assert "Excel workbook or ZIP archive renamed .csv" in error(b"PK\x03\x04rest")
    assert "export it as CSV" in error(b"PK\x03\x04rest")
    assert "NUL byte at offset 3" in error(b"abc\x00def")
    assert "not valid UTF-8" in error(b"\xef\xbb\xbfa\xff")


def test_bzh_text_is_not_bzip2() -> None:
    assert profile("BZh,x\n1,2\n")["column_names"] == ["BZh", "x"]


def test_sample_cells_are_cut_at_1000_chars_names_are_not() -> None:
    got = profile("n" * 5000 + ",b\n" + "v" * 3000 + ",1\n")
    assert len(got["column_names"][0]) == 5000
    assert got["sample_rows"][0][0] == "v" * 1000 + "…"


def test_duplicate_rows_count_exact_repeats_only() -> None:
    assert profile("a,b\n1,x\n1,x\n1,y\n1,x\n")["duplicate_row_count"] == 2


@pytest.mark.parametrize(
    ("shape", "terminator"),
    [("wide", "\n"), ("wide", "\r\n"), ("one short column", "\n"), ("long shared prefixes", "\r\n")],
)
def test_duplicate_rows_in_a_large_file_count_every_repeat(shape: str, terminator: str) -> None:
    """Above the fingerprint threshold: repeats are counted exactly, whatever the records share or lack (short
    records, equal first and last bytes, the last record without a line end)."""
    distinct = 3000
    if shape == "wide":
        unique = [f"{i},name {i % 97},{i * 7 % 1000}.5,2024-01-{1 + i % 28:02d}" for i in range(distinct)]
    elif shape == "one short column":
        unique = [str(i) for i in range(distinct)]
    else:  # equal length, same first 8 and last 8 bytes: only the middle differs
        unique = [f"prefix-{'x' * 20}{i:06d}{'y' * 20}-suffix" for i in range(distinct)]
    repeats = [unique[i * 7 % distinct] for i in range(2500)]
    rows = unique + repeats
    random.Random(5).shuffle(rows)
    text = "value" + ("" if shape != "wide" else ",b,c,d") + terminator + terminator.join(rows)
    got = profile(text)
    assert got["row_count"] == len(rows)
    assert got["duplicate_row_count"] == len(repeats)
    assert len(rows) >= m._FINGERPRINT_FROM  # the fingerprinted path, not the small files' one


@pytest.mark.parametrize("path", sorted(make_corpus.BAD_DIR.glob("*.csv")), ids=lambda p: p.name)
def test_csv_module_fallback_agrees_with_fast_scan(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy scan and the csv-module scan are two implementations of one set of rules."""
    data = path.read_bytes()
    try:
        fast: object = m.profile_csv(data)
    except m.CsvProfileError as exc:
        fast = ("error", str(exc).split(" (data row")[0].split(" is never")[0])
    for chunk in (1, 2, 7, 64):  # quotes, CRLF pairs and records split across scan chunks
        monkeypatch.setattr(m, "SCAN_CHUNK", chunk)
        try:
            chunked: object = m.profile_csv(data)
        except m.CsvProfileError as exc:
            chunked = ("error", str(exc).split(" (data row")[0].split(" is never")[0])
        assert chunked == fast, chunk
    monkeypatch.setattr(m, "_scan_fast", lambda *a: None)
    try:
        slow: object = m.profile_csv(data)
    except m.CsvProfileError as exc:
        slow = ("error", str(exc).split(" (data row")[0].split(" is never")[0])
    assert fast == slow


# How fast these profile is `python -m bench extract`'s question (against pandas, in the same run); a wall-clock
# limit here would only flake on a loaded machine. The timeouts catch a hang, not slowness.
@pytest.mark.timeout(120)
def test_ten_thousand_columns() -> None:
    data = make_corpus.SMALL["wide_10000_columns.csv"]()
    got = profile(data)
    assert got["column_count"] == 10_000 and got["row_count"] == 5
    assert got["column_names"] == [f"col_{i}" for i in range(10_000)]
    assert {c["type"] for c in got["columns"]} == {"integer"}


@pytest.mark.timeout(120)
def test_ten_mib_file_profiles_like_the_csv_module_counts_it() -> None:
    data = big_csv(150_000)
    assert len(data) > 9_000_000
    got = profile(data)
    header, *body = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert (got["row_count"], got["column_count"], got["column_names"]) == (len(body), len(header), header)
    types = ["integer", "float", "string", "boolean", "date", "integer", "string"]
    assert [c["type"] for c in got["columns"]] == types
    for i, column in enumerate(got["columns"]):
        values = [row[i] for row in body]
        expected = (values.count(""), len(set(values) - {""}))
        assert (column["null_count"], column["distinct_count"]) == expected, column["name"]
    assert (got["duplicate_row_count"], got["warnings"]) == (0, [])


def test_peak_memory_at_most_ten_times_the_file() -> None:
    data = big_csv(150_000)
    profile(big_csv(100))
    gc.collect()
    tracemalloc.start()
    try:
        profile(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * len(data), f"peak {peak / 1e6:.0f} MB for {len(data) / 1e6:.0f} MB"


def test_peak_rss_in_a_fresh_process() -> None:
    """tracemalloc misses the C parser's own buffers: the resident set of a clean process tells all."""
    code = f"""
import resource, sys
sys.path.insert(0, {str(LAMBDA_DIR)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
import csv_metadata, test_csv_metadata
data = test_csv_metadata.big_csv(150_000)
csv_metadata.profile_csv(test_csv_metadata.big_csv(100))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
csv_metadata.profile_csv(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(data), before * 1024, after * 1024)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
    )
    size, before, after = map(int, out.stdout.split())
    assert after - before < 10 * size, f"RSS grew {(after - before) / 1e6:.0f} MB for {size / 1e6:.0f} MB"


# ------------------------------------------------------------------------------------------ distributions


def column(text: str, index: int = 0) -> dict:
    return profile(text)["columns"][index]


def test_float_histogram_twenty_bins_known_by_hand() -> None:
    values = [0.0, 1.0, 2.5, 5.0, 5.0, 9.99, 10.0, 7.25]
    hist = column("v,x\n" + "".join(f"{v},1\n" for v in values) + ",2\n")["histogram"]
    assert hist["edges"] == [k * 0.5 for k in range(21)]  # 0 .. 10 in steps of 0.5
    expected = [0] * 20
    for v in values:
        expected[min(int(v / 0.5), 19)] += 1  # [a, b) bins, the last one closed at the max
    assert expected[0] == 1 and expected[19] == 2 and expected[14] == 1  # 0 | 9.99, 10 | 7.25
    assert hist["counts"] == expected


def test_whole_number_bins_cover_only_the_values_min_to_max() -> None:
    values = [*range(30), 7, 7, 29]
    hist = column("n\n" + "\n".join(map(str, values)) + "\n")["histogram"]
    edges = hist["edges"]
    assert len(edges) == 21 and edges[0] == 0 and edges[-1] == 30  # [0, 30): the values 0 .. 29
    assert all(e.is_integer() for e in edges)
    widths = {b - a for a, b in itertools.pairwise(edges)}
    assert widths == {1.0, 2.0}  # 30 values in 20 bins: one or two values each, never an empty range
    expected = [sum(1 for v in values if a <= v < b) for a, b in itertools.pairwise(edges)]
    assert hist["counts"] == expected and sum(expected) == len(values)
    few = column("n\n3\n5\n5\n")["histogram"]
    assert few == {"edges": [3.0, 4.0, 5.0, 6.0], "counts": [1, 0, 2]}  # fewer values than bins: one bin each


def test_one_bin_when_every_value_is_equal() -> None:
    assert column("n,x\n5,1\n5,2\n,3\n5,4\n")["histogram"] == {"edges": [5.0, 5.0], "counts": [3]}
    assert column("f\n2.5\n2.5\n")["histogram"] == {"edges": [2.5, 2.5], "counts": [2]}


def test_integers_with_empty_cells_and_huge_values() -> None:
    col = column("n,x\n1,a\n,b\n3,c\n")
    assert col["type"] == "integer" and col["histogram"] == {"edges": [1.0, 2.0, 3.0, 4.0], "counts": [1, 0, 1]}
    big = column(f"n\n{-(2**63)}\n{2**63 - 1}\n0\n")
    assert big["type"] == "integer" and sum(big["histogram"]["counts"]) == 3
    assert big["histogram"]["counts"][0] == 1 and big["histogram"]["counts"][-1] == 1


def test_date_histogram_in_days_on_unix_seconds() -> None:
    from datetime import UTC, datetime, timedelta

    days = ["2024-01-01"] * 3 + ["2024-01-02", "2024-01-05"]
    hist = column("d\n" + "\n".join(days) + "\n")["histogram"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert hist["edges"] == [(start + timedelta(days=k)).timestamp() for k in range(6)]  # Jan 1 .. Jan 6 midnight
    assert hist["counts"] == [3, 1, 0, 0, 1]


def test_datetime_histogram_is_utc() -> None:
    from datetime import UTC, datetime

    col = column("t\n2024-01-01T02:00:00+02:00\n2024-01-01T10:00:00+02:00\n2024-01-01T12:00:00+02:00\n")
    assert col["type"] == "datetime"
    hist = col["histogram"]
    assert hist["edges"][0] == datetime(2024, 1, 1, 0, 0, tzinfo=UTC).timestamp()
    assert hist["edges"][-1] == datetime(2024, 1, 1, 10, 0, tzinfo=UTC).timestamp()
    assert len(hist["counts"]) == 20 and hist["counts"][0] == 1 and hist["counts"][16] == 1 and hist["counts"][-1] == 1
    naive = column("t\n2024-01-01 00:00\n2024-01-02 00:00\n")["histogram"]  # no zone: taken as UTC
    assert naive["edges"][0] == datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def test_top_values_match_a_counter_ties_by_value_and_long_values_are_cut() -> None:
    import random
    from collections import Counter

    rng = random.Random(3)
    pool = [f"v{i:02d}" for i in range(25)] + ["x" * 80]
    values = [rng.choice(pool[: rng.randint(1, len(pool))]) for _ in range(3000)]
    values += ["x" * 80] * 2000  # the most frequent value, longer than 60 characters
    text = "name,n\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values)) + ",0\n"
    got = column(text)
    expected = sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))[:10]
    assert got["top_values"][0] == ["x" * 59 + "…", expected[0][1]]
    assert got["top_values"][1:] == [[v, c] for v, c in expected[1:]]
    assert got["histogram"] is None and got["null_count"] == 1


def test_top_values_of_a_million_distinct_values_stay_small_and_memory_bounded() -> None:
    """10 MB of values that all differ: the ten first in order of value, count 1, in a small record, and no
    more memory than the profile without distributions takes (the counts cost 8 bytes a row; the frame's
    million strings, which the profile needed before, are the peak)."""
    rows = 900_000
    keys = [f"k{(i * 7919) % rows:07d}" for i in range(rows)]
    data = ("key,n\n" + "".join(f"{k},{i % 3}\n" for i, k in enumerate(keys))).encode()
    assert len(data) > 9_000_000
    profile("key\nx\n")
    peaks = {}
    for distributions in (False, True):
        gc.collect()
        tracemalloc.start()
        try:
            got = m.profile_csv(data, distributions=distributions)
            _, peaks[distributions] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    col = got["columns"][0]
    assert col["distinct_count"] == rows
    assert col["top_values"] == [[k, 1] for k in sorted(keys)[:10]]
    assert len(json.dumps(got["columns"])) < 2000
    extra = peaks[True] - peaks[False]
    assert extra < 16 * rows, f"distributions took {extra / 1e6:.0f} MB more ({peaks[False] / 1e6:.0f} MB without)"


def test_distributions_stay_within_the_record_budget_for_500_wide_text_columns() -> None:
    """The worst case per column: ten 60-character values that JSON escapes (quotes) or that are 2 bytes in
    UTF-8. Distributions are kept in column order up to the budget; the rest say null / []."""
    width = 500
    cell = 'é"' * 40
    rows = [[f"{cell}{r}-{c}" for c in range(width)] for r in range(10)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[f"c{c}" for c in range(width)], *rows])
    got = profile(out.getvalue())
    cols = got["columns"]
    assert len(cols) == width
    kept = [c for c in cols if c["top_values"]]
    assert 0 < len(kept) < width
    assert cols[: len(kept)] == kept  # in column order
    assert all(c["histogram"] is None and c["top_values"] == [] for c in cols[len(kept) :])
    size = sum(len(json.dumps([c["histogram"], c["top_values"]], ensure_ascii=False).encode()) for c in kept)
    assert m.MAX_DISTRIBUTION_BYTES - 2000 < size <= m.MAX_DISTRIBUTION_BYTES  # filled up to the budget
    assert all(len(v) <= m.MAX_TOP_VALUE_CHARS for c in kept for v, _ in c["top_values"])


def test_past_the_column_limit_no_distributions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "MAX_DISTRIBUTION_COLUMNS", 2)
    cols = profile("a,b,c,d\n1,x,2024-01-01,y\n2,x,2024-01-02,z\n")["columns"]
    assert cols[0]["histogram"] is not None and cols[1]["top_values"] == [["x", 2]]
    assert [(c["histogram"], c["top_values"]) for c in cols[2:]] == [(None, [])] * 2


def test_without_distributions_the_profile_is_the_same_minus_the_two_keys() -> None:
    data = big_csv(3000)
    full = m.profile_csv(data)
    bare = m.profile_csv(data, distributions=False)
    assert bare["columns"] == [
        {k: v for k, v in c.items() if k not in ("histogram", "top_values")} for c in full["columns"]
    ]
    assert {k: v for k, v in full.items() if k != "columns"} == {k: v for k, v in bare.items() if k != "columns"}


def test_distributions_of_the_ten_mib_file_agree_with_the_csv_module() -> None:
    from collections import Counter

    data = big_csv(150_000)
    got = {c["name"]: c for c in profile(data)["columns"]}
    header, *body = list(csv.reader(io.StringIO(data.decode(), newline="")))
    for name in ("name", "note", "flag"):
        values = [row[header.index(name)] for row in body]
        expected = sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))[:10]
        assert got[name]["top_values"] == [[v, c] for v, c in expected], name
    qty = [int(row[header.index("qty")]) for row in body if row[header.index("qty")]]
    hist = got["qty"]["histogram"]
    edges = hist["edges"]
    assert edges[0] == min(qty) and edges[-1] == max(qty) + 1
    assert hist["counts"] == [sum(1 for v in qty if a <= v < b) for a, b in itertools.pairwise(edges)]
