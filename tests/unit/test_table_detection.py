"""csvtable's decisions on the shapes real exports have, through the Lambda's profiler (the same rules run
in the desktop check: tests/unit/test_bad_corpus.py compares the two on every corpus file).

Each case is a shape named in the real-world corpus' failures (tests/data/realworld/), cut down to its
essence; the expected table is what a spreadsheet user would call the table."""

from __future__ import annotations

import pytest
from lambda_loader import load_lambda_module

import csvtable

m = load_lambda_module("csv_metadata")


def profile(text: str) -> dict:
    return m.profile_csv(text.encode())


def codes(got: dict) -> list[str]:
    return [w["code"] for w in got["warnings"]]


def test_a_comment_line_does_not_choose_the_delimiter() -> None:
    wide = ";".join(f"c{i}" for i in range(40))
    got = profile("# exported by tool, version 2, comma, separated, words\n" + wide + "\n" + "1;" * 39 + "1\n")
    assert (got["delimiter"], got["column_count"], got["row_count"], got["header_line"]) == (";", 40, 1, 2)
    assert got["skipped_lines"]["preamble"] == 1 and codes(got) == ["preamble_skipped"]


def test_title_lines_padded_by_delimiters_and_footnotes_are_not_rows() -> None:
    got = profile(
        ",,,\nNumber of things by state during 2010,,,\nState,Code,Count,Share\n"
        "Ohio,OH,12,0.5\nIowa,IA,3,0.25\n"
        '"Note: counts may include things counted twice, so the total should not be used",,,\n'
    )
    assert (got["row_count"], got["column_count"], got["header_line"]) == (2, 4, 3)
    assert got["column_names"] == ["State", "Code", "Count", "Share"]
    assert got["skipped_lines"] == {"preamble": 1, "footnotes": 1, "comments": 0, "empty_rows": 1, "blank_lines": 0}
    assert codes(got) == ["preamble_skipped", "footnotes_skipped", "empty_rows_skipped"]
    footnote = next(w for w in got["warnings"] if w["code"] == "footnotes_skipped")
    assert footnote["lines"] == [6]


def test_a_one_value_data_row_without_note_shape_stays_a_row() -> None:
    got = profile("text,date,n\nChicago,2020-01-01,4\nThis row has blanks,,\n")
    assert got["row_count"] == 2 and not got["warnings"]


def test_all_empty_rows_are_counted_and_reported_never_a_header() -> None:
    got = profile(",,,\n,,,\na,b,c,d\n1,2,3,4\n,,,\n5,6,7,8\n")
    assert (got["row_count"], got["column_names"], got["header_line"]) == (2, ["a", "b", "c", "d"], 3)
    assert got["skipped_lines"]["empty_rows"] == 3  # the two above the header too: every skipped line counts
    assert got["skipped_lines"]["preamble"] == 0  # they are empty rows, not title or note lines
    assert next(w for w in got["warnings"] if w["code"] == "empty_rows_skipped")["lines"] == [1, 2, 5]
    assert "empty_rows_skipped" in codes(got)


@pytest.mark.parametrize("first", ["2/28/2008,1:00:00,NaN", "28.02.2008,01:00,-", "1,234.5,12%,Feb 3 2020"])
def test_a_first_row_that_looks_like_data_is_data(first: str) -> None:
    width = first.count(",") + 1
    rows = {3: "3/1/2008,2:00:00,4.5\n3/2/2008,3:00:00,5.5\n", 4: "2,000.5,13%,Feb 4 2020\n7,1,5%,Mar 1 2021\n"}
    body = rows[width] if width == 4 else rows[3].replace("/", "." if "." in first else "/")
    if first.startswith("28.02"):
        body = "01.03.2008,02:00,4.5\n02.03.2008,03:00,5.5\n"
    got = profile(first + "\n" + body)
    assert got["has_header"] is False and got["header_line"] is None
    assert got["column_names"] == [f"column_{i + 1}" for i in range(width)]
    assert got["row_count"] == 3 and codes(got) == ["no_header"]


def test_trailing_delimiters_on_every_data_row_are_not_a_column() -> None:
    got = profile("a,b,c\n1,2,3,\n4,5,6,\n")
    assert (got["column_count"], got["column_names"]) == (3, ["a", "b", "c"])
    assert codes(got) == ["trailing_delimiter"]
    got = profile("a,b,c,\n1,2,3,\n4,5,6,\n")
    assert (got["column_count"], got["column_names"]) == (3, ["a", "b", "c"])


def test_a_header_longer_than_its_rows_keeps_its_names() -> None:
    got = profile("id,answer,comment,extra1,extra2\n1,yes,fine\n2,no,bad\n")
    assert (got["row_count"], got["column_count"]) == (2, 5)
    assert codes(got) == ["header_width"]
    assert [c["type"] for c in got["columns"]][3:] == ["empty", "empty"]


def test_backslash_escaped_quotes_and_a_comma_space_separator() -> None:
    got = profile('id,text\n1,"say \\"hi\\", then go"\n2,"plain"\n3,"a \\"b\\""\n')
    assert (got["escape_char"], got["double_quote"], got["row_count"], got["column_count"]) == ("\\", False, 3, 2)
    got = profile('name, city, note\n"Doe, Jane", "Paris", "x"\n"Roe, Rick", "Oslo", "y"\n')
    assert got["skip_initial_space"] is True
    assert (got["row_count"], got["column_count"]) == (2, 3)
    assert got["sample_rows"][0] == ["Doe, Jane", "Paris", "x"]


@pytest.mark.parametrize("delimiter", [":", " ", "|", "\t", ";"])
def test_every_delimiter_of_the_rules(delimiter: str) -> None:
    rows = [["id", "name", "qty"], ["1", "ab", "10"], ["2", "cd", "20"], ["3", "ef", "30"]]
    got = profile("".join(delimiter.join(r) + "\n" for r in rows))
    assert (got["delimiter"], got["row_count"], got["column_count"]) == (delimiter, 3, 3)


def test_times_do_not_make_the_colon_a_delimiter() -> None:
    got = profile("when,value\n2024-01-01 10:00:00,5\n2024-01-01 11:30:00,6\n")
    assert (got["delimiter"], got["column_count"]) == (",", 2)


def test_comment_lines_among_the_rows_are_skipped() -> None:
    got = profile("# exported\nid,name\n1,english\n# a note in the middle\n2,french\n")
    assert (got["row_count"], got["header_line"]) == (2, 2)
    assert got["skipped_lines"]["comments"] == 1 and "comment_lines_skipped" in codes(got)


def test_value_kinds() -> None:
    kinds = {
        v: csvtable.value_kind(v)
        for v in [
            "1,234",
            "12%",
            "$1,200.50",
            "3 kg",
            "2/28/2008",
            "28-Feb-2008",
            "Feb 28, 2008",
            "1:00:00",
            "2008-02-28T01:00:00Z",
            "AB-1234",
            "field1",
            "NaN",
            "Yes",
            "Summary of it",
        ]
    }
    assert kinds == {
        "1,234": "number",
        "12%": "number",
        "$1,200.50": "number",
        "3 kg": "number",
        "2/28/2008": "date",
        "28-Feb-2008": "date",
        "Feb 28, 2008": "date",
        "1:00:00": "time",
        "2008-02-28T01:00:00Z": "datetime",
        "AB-1234": "code",
        "field1": "string",
        "NaN": "empty",
        "Yes": "boolean",
        "Summary of it": "string",
    }


def test_years_as_column_names_are_a_header() -> None:
    got = profile("Country,Code,1960,1961,1962\nAruba,ABW,4.8,4.6,4.4\nAndorra,AND,,,1.2\n")
    assert got["has_header"] is True and got["column_names"][2:] == ["1960", "1961", "1962"]


def test_a_pandas_index_header_is_a_header() -> None:
    got = profile(",0\n1821,269\n1822,321\n1823,585\n")
    assert (got["has_header"], got["row_count"], got["column_names"]) == (True, 3, ["", "0"])


def test_a_repeated_header_line_is_not_data() -> None:
    got = profile("id;name\nid;name\nid;name\n1;x\n2;y\n")
    assert (got["header_line"], got["row_count"], got["skipped_lines"]["preamble"]) == (3, 2, 2)


def test_names_written_as_the_last_comment_line() -> None:
    got = profile("# CAMS export\n# columns:\n# Observation period;TOA;GHI\n2020-01;1.5;2.5\n2020-02;1.6;2.6\n")
    assert (got["header_line"], got["row_count"], got["column_names"]) == (3, 2, ["Observation period", "TOA", "GHI"])


def test_key_value_lines_above_a_wide_table_and_a_totals_row_below() -> None:
    head = "Report:,Hourly output,,,\nSite:,Denver,,,\n,,,,\n"
    got = profile(head + "Month,Day,Hour,AC,DC\n1,1,0,0,0\n1,1,1,5,6\nTotals, , ,5,6\n")
    assert (got["header_line"], got["row_count"]) == (4, 2)
    assert got["skipped_lines"]["preamble"] == 2 and got["skipped_lines"]["footnotes"] == 1


def test_footnotes_after_a_gap_may_hold_a_delimiter() -> None:
    text = "Lat:\t45.0\nLon:\t8.0\n\ntime,a,b,c,d,e,f,g\n" + "20160101:0010,1,2,3,4,5,6,7\n" * 3
    got = profile(text + "\nGb(i): Beam irradiance (W/m2)\n\nPVGIS (c) European Union, 2001-2021\n")
    assert (got["delimiter"], got["header_line"], got["row_count"], got["column_count"]) == (",", 4, 3, 8)
    assert got["skipped_lines"]["footnotes"] == 2 and got["skipped_lines"]["preamble"] == 2
