"""The pure parts of the file actions (backend/files.py, `csvdrop get|rm|reprocess|logs|url`): KEY arguments, the
re-process event, the function's answer in words, log lines grouped per invocation, durations, and the commands'
refusals that come before any request.

The same actions on the real stack: tests/integration/test_file_actions.py (hence this name: mypy wants one
module per name)."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from backend.cli import csvdrop
from backend.cli.files import confirmation_refused, parse_duration
from backend.config import Settings
from backend.files import (
    DeletedFile,
    FileActionError,
    command,
    download_target,
    group_invocations,
    interpret_result,
    names_object,
    parse_object_argument,
    presigned_url,
    reprocess_event,
)

Invoke = Callable[..., Result]


@pytest.fixture()
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """`csvdrop ARGS` in-process, settings from the test's own (absent) config file, and an endpoint where
    nothing listens: a command that reached the network would fail with a different message."""
    for name in list(os.environ):
        if name.startswith("CSVDROP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CSVDROP_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CSVDROP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CSVDROP_AWS_ENDPOINT", "http://127.0.0.1:9")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(csvdrop, list(args), input=input, catch_exceptions=False)

    return run


# ------------------------------------------------------------------------------------------ KEY arguments
@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("data/sales.csv", ("my-csv-bucket", "data/sales.csv")),
        ("s3://other/data/sales.csv", ("other", "data/sales.csv")),
        ("s3://other/a b/ü.csv", ("other", "a b/ü.csv")),
        ("s3://other/dir/", ("other", "dir/")),
        ("s3:/not-a-uri.csv", ("my-csv-bucket", "s3:/not-a-uri.csv")),
    ],
)
def test_a_key_argument_is_a_key_in_the_bucket_or_an_s3_uri(argument: str, expected: tuple[str, str]) -> None:
    assert parse_object_argument(argument, "my-csv-bucket") == expected


@pytest.mark.parametrize("argument", ["s3://", "s3://bucket", "s3://bucket/", ""])
def test_a_key_argument_naming_no_object_is_refused(argument: str) -> None:
    with pytest.raises(FileActionError, match="names no object"):
        parse_object_argument(argument, "my-csv-bucket")


def test_the_cli_reads_the_s3_form_and_refuses_a_bucket_alone(invoke: Invoke) -> None:
    done = invoke("url", "--s3", "s3://other/a b.csv")
    assert (done.exit_code, done.stdout) == (0, "s3://other/a b.csv\n")
    done = invoke("url", "--s3", "plain.csv")
    assert done.stdout == "s3://my-csv-bucket/plain.csv\n"
    refused = invoke("get", "s3://other")
    assert refused.exit_code == 2
    assert refused.stderr == "csvdrop: 's3://other' names no object: write s3://BUCKET/KEY, or only the KEY\n"


def test_suggested_commands_are_quoted_for_a_shell() -> None:
    assert command("logs", "b", "a b.csv") == "csvdrop logs 's3://b/a b.csv'"
    assert command("show", "b", "x.csv") == "csvdrop show x.csv --bucket b"


# ------------------------------------------------------------------------------------------ rm refuses first
def test_rm_without_a_terminal_and_without_yes_refuses_before_deleting(invoke: Invoke) -> None:
    done = invoke("rm", "a.csv", "s3://other/b.csv")
    assert done.exit_code == 2
    assert done.stderr == (
        "csvdrop: rm deletes 2 objects and the metadata for good: pass --yes to confirm "
        "(there is no terminal to ask on)\n"
    )
    assert done.stdout == ""


def test_only_a_terminal_or_yes_allows_deleting() -> None:
    assert confirmation_refused(yes=False, interactive=False)
    assert not confirmation_refused(yes=True, interactive=False)
    assert not confirmation_refused(yes=False, interactive=True)


def test_rm_answered_no_on_a_terminal_deletes_nothing(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.cli.files.stdin_is_terminal", lambda: True)
    done = invoke("rm", "a.csv", input="n\n")
    assert done.exit_code == 1
    assert "Delete s3://my-csv-bucket/a.csv and the metadata records? [y/N]" in done.stdout
    assert done.stdout.rstrip().endswith("nothing deleted")


def test_delete_outcomes_say_what_to_do() -> None:
    remains = DeletedFile("b", "x y.csv", "record_remains", " after 30 s").message
    assert remains.startswith("deleted s3://b/x y.csv, but its record is still listed after 30 s")
    assert "`csvdrop reconcile`" in remains and "`csvdrop show 'x y.csv' --bucket b`" in remains
    assert DeletedFile("b", "k", "missing").message.startswith("no object s3://b/k: nothing deleted")
    assert not DeletedFile("b", "k", "missing").ok and DeletedFile("b", "k", "deleted").ok


# ------------------------------------------------------------------------------------------ reprocess
def test_the_reprocess_event_is_s3_shaped_with_the_key_quoted_as_s3_quotes_it() -> None:
    event = reprocess_event("bkt", [("dir/a b+c ü.csv", "0123abcd", "0055AED6DCD90281E5")])
    assert event == {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "bkt"},
                    "object": {
                        "key": "dir%2Fa+b%2Bc+%C3%BC.csv",
                        "eTag": "0123abcd",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ],
        "csvdrop_reprocess": True,
    }
    # the function decodes keys with unquote_plus, as S3 encodes them
    assert urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"]) == "dir/a b+c ü.csv"
    json.dumps(event)  # it is sent as the invocation's JSON payload


def test_the_functions_answer_in_words() -> None:
    error = json.dumps({"errorType": "OperationalError", "errorMessage": '(2003, "Can\'t connect to MySQL")'})
    state, message = interpret_result("b", "k.csv", "Unhandled", error.encode())
    assert state == "error"
    assert message == (
        'the function failed on s3://b/k.csv (OperationalError: (2003, "Can\'t connect to MySQL")); '
        "its lines: `csvdrop logs s3://b/k.csv`"
    )
    answer = {"results": [{"bucket": "b", "key": "k.csv", "status": "PROCESSED", "stored": True}]}
    assert interpret_result("b", "k.csv", None, json.dumps(answer).encode()) == (
        "processed",
        "re-processed s3://b/k.csv: PROCESSED",
    )
    answer = {"results": [{"bucket": "b", "key": "k.csv", "status": "FAILED", "stored": True}]}
    assert interpret_result("b", "k.csv", None, json.dumps(answer).encode())[0] == "failed"
    gone = {"results": [{"bucket": "b", "key": "k.csv", "skipped": "NoSuchKey"}]}
    assert interpret_result("b", "k.csv", None, json.dumps(gone).encode()) == (
        "missing",
        "s3://b/k.csv was deleted; nothing to re-process",
    )
    assert interpret_result("b", "k.csv", None, b'{"results": []}')[0] == "error"


# ------------------------------------------------------------------------------------------ logs
R1 = "11111111-aaaa-4bbb-8ccc-000000000001"
R2 = "22222222-aaaa-4bbb-8ccc-000000000002"
R3 = "33333333-aaaa-4bbb-8ccc-000000000003"


def _event(stream: str, stamp: int, message: str) -> dict[str, object]:
    return {"logStreamName": stream, "timestamp": stamp, "message": message + "\n", "eventId": f"{stamp}"}


def _invocation(stream: str, stamp: int, request: str, key: str) -> list[dict[str, object]]:
    return [
        _event(stream, stamp, f"START RequestId: {request} Version: $LATEST"),
        _event(stream, stamp, f"[INFO]\t2026-11-29T10:00:00.000Z\t{request}\tFound credentials in environment"),
        _event(stream, stamp, f"[INFO]\t2026-11-29T10:00:00.001Z\t{request}\tPROCESSED b/{key} rows=2 stored=True"),
        _event(stream, stamp, f"END RequestId: {request}"),
        _event(stream, stamp, f"REPORT RequestId: {request}\tDuration: 12.00 ms\tBilled Duration: 12 ms"),
    ]


def test_log_lines_are_grouped_per_invocation_from_start_to_report() -> None:
    # two invocations in one stream with one time (LocalStack stamps a batch at once), another stream between
    events = [
        *_invocation("s1", 1000, R1, "a.csv"),
        *_invocation("s2", 1000, R2, "b.csv"),
        *_invocation("s1", 1000, R3, "a.csv.bak"),
    ]
    grouped = group_invocations(events)
    assert [(i.request_id, i.log_stream, len(i.lines)) for i in grouped] == [
        (R1, "s1", 5),
        (R2, "s2", 5),
        (R3, "s1", 5),
    ]
    assert grouped[0].lines[0] == f"START RequestId: {R1} Version: $LATEST"
    assert grouped[0].lines[-1].startswith(f"REPORT RequestId: {R1}")
    assert grouped[0].started_at == datetime.fromtimestamp(1, UTC)
    assert [i.request_id for i in grouped if any(names_object(line, "b", "a.csv") for line in i.lines)] == [R1]


def test_lines_before_the_window_join_their_request_id_and_unnamed_ones_are_dropped() -> None:
    events = [
        _event("s1", 500, f"[INFO]\t2026-11-29T10:00:00.000Z\t{R1}\tPROCESSED b/a.csv rows=2 stored=True"),
        _event("s1", 500, "a line of no invocation"),
        _event("s1", 500, f"END RequestId: {R1}"),
        *_invocation("s1", 900, R2, "a.csv"),
    ]
    grouped = group_invocations(events)
    assert [(i.request_id, len(i.lines)) for i in grouped] == [(R1, 2), (R2, 5)]


def test_a_span_cut_by_a_new_start_ends_there() -> None:
    crashed = _invocation("s1", 100, R1, "a.csv")[:3]  # the environment died: no END, no REPORT
    grouped = group_invocations([*crashed, *_invocation("s1", 200, R2, "a.csv")])
    assert [(i.request_id, len(i.lines)) for i in grouped] == [(R1, 3), (R2, 5)]


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("[INFO]\tt\tid\tPROCESSED b/dir/a.csv rows=3 stored=True in 1.0 ms", True),
        ("[INFO]\tt\tid\tFAILED b/dir/a.csv rows=None stored=True in 1.0 ms", True),
        ("[INFO]\tt\tid\tskipping b/dir/a.csv: PreconditionFailed (object replaced ...)", True),
        ("[ERROR]\tt\tid\tcould not store the record of s3://b/dir/a.csv; the invocation fails", True),
        ("[ERROR]\tt\tid\tprofiling b/dir/a.csv failed:", True),
        ("[INFO]\tt\tid\tDELETED b/dir/a.csv tombstone=True", True),
        ("[INFO]\tt\tid\tPROCESSED b/dir/a.csv.bak rows=3 stored=True", False),
        ("[INFO]\tt\tid\tPROCESSED xb/dir/a.csv rows=3 stored=True", False),
        ("[INFO]\tt\tid\tPROCESSED b/other/dir/a.csv rows=3", False),
    ],
)
def test_a_line_names_the_object_only_when_the_key_ends_there(line: str, named: bool) -> None:
    assert names_object(line, "b", "dir/a.csv") is named


# ------------------------------------------------------------------------------------------ small parts
@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "1h 2", "soon"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_a_bad_duration_is_a_usage_error(invoke: Invoke) -> None:
    done = invoke("url", "k.csv", "--expires", "soon")
    assert done.exit_code == 2
    assert "'soon' is not a duration" in done.stderr


def test_download_target_is_the_file_or_the_keys_name_in_the_folder(tmp_path: Path) -> None:
    assert download_target("dir/a.csv", tmp_path) == tmp_path / "a.csv"
    assert download_target("dir/a.csv", tmp_path / "b.csv") == tmp_path / "b.csv"
    with pytest.raises(FileActionError, match="no file name to save under"):
        download_target("dir/", tmp_path)


def test_a_link_lasts_at_most_seven_days(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, config_path=tmp_path / "none.toml")
    with pytest.raises(FileActionError, match="can last 1 s to 7 days"):
        presigned_url(settings, "b", "k.csv", expires_s=8 * 86400)
