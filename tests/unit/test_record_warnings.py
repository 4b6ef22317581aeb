"""Records processed with warnings, without a server: the Lambda's SNS notice and defaults, the app's notice
parsing, the record type, and `csvdrop show`'s plain text."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from lambda_loader import load_lambda_module
from store_fixtures import WARNINGS, expected_json, make_record, warned_record

from backend.cli.records import show_lines
from backend.notices import parse_notice
from backend.store import MetadataRecord
from backend.store.records import describe_lines

handler = load_lambda_module("handler")

NEW_KEYS = ("header_line", "skipped_lines", "escape_char", "double_quote", "skip_initial_space", "warnings")


class FakeSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.published.append(kwargs)
        return {"MessageId": "m-1"}


@pytest.fixture()
def sns(monkeypatch: pytest.MonkeyPatch) -> FakeSns:
    fake = FakeSns()
    monkeypatch.setitem(handler._clients, "sns", fake)
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:csvdrop-test")
    return fake


def _published(sns: FakeSns) -> tuple[dict[str, Any], dict[str, Any], str]:
    (call,) = sns.published
    message = json.loads(call["Message"])
    return call, json.loads(message["default"]), message["email"]


def test_notice_of_a_record_processed_with_warnings(sns: FakeSns) -> None:
    warnings = [*WARNINGS, {"code": "ragged_rows", "message": "One more short row.", "lines": [20]}]
    record = warned_record(key="in/report.csv", warnings=warnings, row_count=10, column_count=3)
    handler.publish_notice(record)
    call, notice, email = _published(sns)
    assert call["Subject"] == "CSV processed with 4 warnings: report.csv"
    assert notice["status"] == "PROCESSED"
    assert notice["warnings_count"] == 4
    assert notice["warning_codes"] == ["preamble_skipped", "ragged_rows", "hostile"]  # distinct, first-seen order
    assert email == (
        "report.csv: 10 rows x 3 columns, processed with 4 warnings: "
        "Skipped 2 title lines before the header. (lines 1, 2); "
        "2 rows have fewer fields than the header; the missing ones are empty. (lines 9, 14); "
        "'; DROP TABLE csv_metadata; -- <b>ünï 😀</b>; One more short row. (line 20)"
    )
    assert call["MessageAttributes"]["status"] == {"DataType": "String", "StringValue": "PROCESSED"}
    assert call["MessageAttributes"]["warnings_count"] == {"DataType": "Number", "StringValue": "4"}


def test_notice_without_warnings_and_of_a_failure(sns: FakeSns) -> None:
    handler.publish_notice(make_record(key="ok.csv", row_count=3, column_count=2))
    call, notice, email = _published(sns)
    assert call["Subject"] == "CSV processed: ok.csv"
    assert email == "ok.csv: 3 rows x 2 columns"
    assert (notice["warnings_count"], notice["warning_codes"]) == (0, [])
    sns.published.clear()
    handler.publish_notice(make_record(key="bad.csv", status="FAILED", error="Line 3 has 4 fields.", warnings=[]))
    call, notice, email = _published(sns)
    assert call["Subject"] == "CSV FAILED: bad.csv"
    assert email == "bad.csv: Line 3 has 4 fields."
    assert (notice["status"], notice["warnings_count"], notice["warning_codes"]) == ("FAILED", 0, [])
    assert call["MessageAttributes"]["warnings_count"]["StringValue"] == "0"


def test_many_warnings_are_counted_in_the_email(sns: FakeSns) -> None:
    warnings = [{"code": f"w{i}", "message": f"Problem {i}.", "lines": [i]} for i in range(8)]
    handler.publish_notice(warned_record(warnings=warnings))
    _call, notice, email = _published(sns)
    assert notice["warnings_count"] == 8
    assert "processed with 8 warnings: Problem 0. (line 0); " in email
    assert email.endswith("Problem 4. (line 4); and 3 more")


def test_the_app_reads_the_warning_fields_of_a_notice() -> None:
    notice = handler.notice_for(warned_record(key="in/report.csv", row_count=10, column_count=3))
    parsed = parse_notice({"MessageId": "m-1", "Body": json.dumps(notice), "Attributes": {"SentTimestamp": "0"}})
    assert parsed is not None
    assert (parsed.warnings_count, parsed.warning_codes) == (3, ("preamble_skipped", "ragged_rows", "hostile"))
    assert parsed.has_warnings
    assert parsed.summary == "report.csv: 10 rows x 3 columns, 3 warnings (preamble_skipped, ragged_rows, hostile)"
    old = {k: v for k, v in notice.items() if k not in ("warnings_count", "warning_codes")}  # an older function's
    parsed_old = parse_notice({"MessageId": "m-2", "Body": json.dumps(old)})
    assert parsed_old is not None and parsed_old.warnings_count == 0 and not parsed_old.has_warnings


# ------------------------------------------------------------------------------------ handler defaults
class FakeS3:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {
            "Body": io.BytesIO(self.data),
            "ContentLength": len(self.data),
            "ETag": '"etag-1"',
            "LastModified": dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC),
        }


class FakeWriter:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def upsert(self, record: dict[str, Any], *, reprocess: bool = False) -> bool:
        self.records.append(dict(record))
        return True


def _process(monkeypatch: pytest.MonkeyPatch, data: bytes) -> dict[str, Any]:
    writer = FakeWriter()
    monkeypatch.setitem(handler._clients, "s3", FakeS3(data))
    monkeypatch.setattr(handler, "_writer", writer)
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    handler.process_object("bkt", "in/x.csv", etag="etag-1", sequencer="01")
    (record,) = writer.records
    return record


def test_every_record_has_the_new_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    processed = _process(monkeypatch, b"id,name\n1,a\n2,b\n")
    assert processed["status"] == "PROCESSED", processed.get("error")
    assert set(NEW_KEYS) <= processed.keys()
    assert isinstance(processed["warnings"], list)
    assert processed["header_line"] is None or isinstance(processed["header_line"], int)
    assert isinstance(processed["skipped_lines"], dict)
    failed = _process(monkeypatch, b"")
    assert failed["status"] == "FAILED"
    assert {k: failed[k] for k in NEW_KEYS} == {
        "header_line": None,
        "skipped_lines": None,
        "escape_char": None,
        "double_quote": None,
        "skip_initial_space": None,
        "warnings": [],
    }


def test_folder_placeholders_are_not_files(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = FakeS3(b"")
    monkeypatch.setitem(handler._clients, "s3", s3)
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "bkt"}, "object": {"key": "in/folder/", "size": 0}},
            }
        ]
    }
    assert handler.lambda_handler(event, None) == {
        "results": [{"bucket": "bkt", "key": "in/folder/", "skipped": "folder"}]
    }
    assert s3.calls == 0


# ------------------------------------------------------------------------------------ store normalisation
def test_writer_normalises_and_caps_warnings() -> None:
    store_writer = load_lambda_module("store_writer")
    many = [{"code": "c", "message": "m" * 1500, "lines": list(range(500))}] * 70 + ["not an object"]
    norm = store_writer.normalize_record(warned_record(warnings=many, skipped_lines={"preamble": "2"}))
    assert len(norm["warnings"]) == store_writer.MAX_WARNINGS
    assert len(norm["warnings"][0]["lines"]) == store_writer.MAX_WARNING_LINES
    assert len(norm["warnings"][0]["message"]) == store_writer.MAX_WARNING_MESSAGE + 1
    assert norm["skipped_lines"] == {"preamble": 2, "footnotes": 0, "comments": 0, "empty_rows": 0, "blank_lines": 0}
    legacy = store_writer.normalize_record({k: v for k, v in make_record().items() if k not in NEW_KEYS})
    assert {k: legacy[k] for k in NEW_KEYS} == {
        "header_line": None,
        "skipped_lines": None,
        "escape_char": None,
        "double_quote": None,
        "skip_initial_space": None,
        "warnings": [],
    }
    odd = store_writer.normalize_record(warned_record(warnings=["plain text", {"code": "x", "lines": "7"}]))
    assert odd["warnings"] == [
        {"code": "warning", "message": "plain text", "lines": []},
        {"code": "x", "message": "", "lines": []},
    ]


# ------------------------------------------------------------------------------------ record type and CLI
def _record(**overrides: Any) -> MetadataRecord:
    return MetadataRecord.from_json_dict(expected_json(warned_record(**overrides)), revision=1)


def test_record_type_round_trip_and_flags() -> None:
    record = _record()
    assert record.has_warnings and record.to_json_dict() == expected_json(warned_record())
    assert record.skipped_lines is not None and record.skipped_lines.total == 11
    assert record.skipped_lines.describe() == "3 preamble lines, 2 footnote lines, 1 empty row, 5 blank lines"
    hash(record)  # still frozen and hashable
    assert not _record(warnings=[]).has_warnings
    failed = MetadataRecord.from_json_dict(expected_json(make_record(status="FAILED", error="x")))
    assert not failed.has_warnings


@pytest.mark.parametrize(
    "lines,text",
    [
        ([], ""),
        ([4], "line 4"),
        ([9, 3], "lines 3 and 9"),
        ([3, 4, 5, 9, 12], "lines 3-5, 9 and 12"),
        (list(range(1, 60, 2)), "lines 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23 … (30 lines)"),
    ],
)
def test_describe_lines(lines: list[int], text: str) -> None:
    assert describe_lines(lines) == text


def test_show_plain_text_lists_warnings_skipped_lines_and_dialect() -> None:
    lines = show_lines(_record())
    text = "\n".join(lines)
    assert lines[:3] == [
        "bucket               bkt",
        "key                  warned/report.csv",
        "status               PROCESSED",
    ]
    assert "warnings (3, processed with warnings):" in lines
    assert "  [preamble_skipped] Skipped 2 title lines before the header. (lines 1 and 2)" in lines
    assert (
        "  [ragged_rows] 2 rows have fewer fields than the header; the missing ones are empty. (lines 9 and 14)"
    ) in lines
    assert "  [hostile] '; DROP TABLE csv_metadata; -- <b>ünï 😀</b>" in lines
    assert "header_line          4" in lines
    assert "skipped lines        preamble=3 footnotes=2 comments=0 empty_rows=1 blank_lines=5" in lines
    for expected in (
        "  encoding           utf-8",
        "  delimiter          ';'",
        "  quote_char         '\"'",
        "  escape_char        '\\\\'",
        "  double_quote       no",
        "  skip_initial_space yes",
        "  line_terminator    CRLF (\\r\\n)",
    ):
        assert expected in lines, text
    clean = show_lines(_record(warnings=[]))
    assert "warnings             none" in clean
    failed = show_lines(MetadataRecord.from_json_dict(expected_json(make_record(status="FAILED", error="bad"))))
    assert "error                bad" in failed and not any(line.startswith("dialect") for line in failed)


def test_export_carries_the_new_keys(tmp_path: Any) -> None:
    import csv

    from backend.export import export_records

    record = _record()
    export_records([record], tmp_path / "out.json", "json")
    (exported,) = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert {k: exported[k] for k in NEW_KEYS} == {k: record.to_json_dict()[k] for k in NEW_KEYS}
    export_records([record], tmp_path / "out.csv", "csv")
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert json.loads(row["warnings"]) == WARNINGS
    assert json.loads(row["skipped_lines"]) == {
        "preamble": 3,
        "footnotes": 2,
        "comments": 0,
        "empty_rows": 1,
        "blank_lines": 5,
    }
    assert (row["header_line"], row["escape_char"], row["double_quote"], row["skip_initial_space"]) == (
        "4",
        "\\",
        "false",
        "true",
    )
