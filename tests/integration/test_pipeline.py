"""The pipeline end to end on the real stack: S3 upload -> Lambda (local executor) -> MySQL row + SNS notice."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import awscli, deliver_marker, independent_shape, mysql_row, run_cli, wait_for_row
from testsupport import NotYet, wait_until

from backend import aws
from backend.config import Settings
from backend.notices import Notice, NoticeReader
from backend.reconcile import synthetic_event
from backend.upload import upload_file

pytestmark = [pytest.mark.stack]

# name -> (bytes, encoding, delimiter) of files that must be PROCESSED with the csv module's shape.
GOOD = {
    "quoted_newlines.csv": (
        b'id,comment,score\n1,"line one\nline two",3.5\n2,"say ""hi"", ok",4\n3,plain,5\n',
        "utf-8",
        ",",
    ),
    "semicolon.csv": ("name;city;amount\nAnna;Köln;12,5\nBen;Graz;7\n".encode(), "utf-8", ";"),
    "tabs.tsv.csv": (b"a\tb\tc\n1\t2\t3\n4\t5\t6\n7\t8\t9\n", "utf-8", "\t"),
    "latin1.csv": ("name,city\nJosé,Málaga\nFrançois,Besançon\n".encode("latin-1"), "latin-1", ","),
    "bom.csv": ("\ufeffid,value\n1,a\n2,b\n".encode(), "utf-8", ","),
    "header_only.csv": (b"alpha,beta,gamma\n", "utf-8", ","),
    "crlf.csv": (b"x,y\r\n1,2\r\n3,4\r\n", "utf-8", ","),
}
BAD = {
    "empty.csv": b"",
    "binary.csv": bytes(range(256)) * 8,
    "archive.csv": b"\x1f\x8b\x08\x00" + bytes(64),
}


def _unique(name: str) -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}/{name}"


@pytest.fixture(scope="module")
def s3(provisioned: Settings) -> Any:
    return aws.client(provisioned, "s3")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_app_upload_matches_independent_shape(provisioned: Settings, tmp_path: Path, name: str) -> None:
    data, encoding, delimiter = GOOD[name]
    path = tmp_path / name
    path.write_bytes(data)
    key = _unique(name)
    result = upload_file(provisioned, path, key=key)
    row = wait_for_row(provisioned, key, result.etag)
    rows, cols, names = independent_shape(data, encoding, delimiter)
    assert row["status"] == "PROCESSED", row["error"]
    assert (row["row_count"], row["column_count"], row["column_names"]) == (rows, cols, names)
    assert row["delimiter"] == delimiter
    assert row["size_bytes"] == len(data)
    assert row["error"] is None


@pytest.mark.parametrize("name", ["quoted_newlines.csv", "semicolon.csv", "latin1.csv"])
def test_awscli_upload_is_processed_the_same_way(provisioned: Settings, tmp_path: Path, name: str) -> None:
    data, encoding, delimiter = GOOD[name]
    path = tmp_path / name
    path.write_bytes(data)
    key = _unique("with spaces + ünïcode " + name)
    done = awscli(provisioned, "s3", "cp", str(path), f"s3://{provisioned.bucket}/{key}")
    assert done.returncode == 0, done.stderr
    row = wait_for_row(provisioned, key)
    rows, cols, names = independent_shape(data, encoding, delimiter)
    assert row["status"] == "PROCESSED", row["error"]
    assert (row["row_count"], row["column_count"], row["column_names"]) == (rows, cols, names)
    assert row["file_name"] == key.rsplit("/", 1)[-1]


@pytest.mark.parametrize("name", sorted(BAD))
def test_not_a_csv_gets_failed_record_and_failure_notice(provisioned: Settings, s3: Any, name: str) -> None:
    key = _unique(name)
    put = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=BAD[name])
    row = wait_for_row(provisioned, key, put["ETag"].strip('"'))
    assert row["status"] == "FAILED"
    assert row["error"] and "Traceback" not in row["error"] and len(row["error"]) > 15
    notices = _wait_notices(provisioned, {key})
    assert notices[key].status == "FAILED"
    assert notices[key].error == row["error"]


_seen_notices: dict[str, Notice] = {}


def _wait_notices(settings: Settings, keys: set[str], timeout: float = 30) -> dict[str, Notice]:
    """Notices for these keys (other tests' notices are kept for their own assertions)."""
    reader = NoticeReader(settings)

    def all_arrived() -> bool | NotYet:
        for notice in reader.receive(wait_seconds=1):  # a long poll: no pause needed between calls
            _seen_notices[notice.key] = notice
        missing = keys - _seen_notices.keys()
        return not missing or NotYet(f"no notice for {sorted(missing)}")

    try:
        wait_until(all_arrived, timeout, f"the notices of {sorted(keys)}", interval=0)
    finally:
        reader.close()
    return {k: _seen_notices[k] for k in keys}


def test_success_notice_carries_rows_and_columns(provisioned: Settings, s3: Any) -> None:
    key = _unique("notice.csv")
    s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"a,b\n1,2\n3,4\n")
    notice = _wait_notices(provisioned, {key})[key]
    assert (notice.status, notice.row_count, notice.column_count) == ("PROCESSED", 2, 2)


def test_same_event_twice_leaves_one_record(provisioned: Settings, s3: Any) -> None:
    key = _unique("twice.csv")
    put = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"k,v\n1,2\n")
    etag = put["ETag"].strip('"')
    first = wait_for_row(provisioned, key, etag)
    lam = aws.client(provisioned, "lambda")
    event = json.dumps(synthetic_event(provisioned.bucket, key, etag, 8)).encode()
    for _ in range(2):
        response = lam.invoke(FunctionName=provisioned.function_name, Payload=event)
        assert "FunctionError" not in response, response["Payload"].read()
    again = mysql_row(provisioned, key)
    assert again is not None
    assert again["revision"] == first["revision"], "a duplicate event rewrote the record"


def test_newer_upload_of_same_key_updates_the_record(provisioned: Settings, s3: Any) -> None:
    key = _unique("replaced.csv")
    first = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"a\n1\n")
    wait_for_row(provisioned, key, first["ETag"].strip('"'))
    second = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"a,b,c\n1,2,3\n4,5,6\n")
    row = wait_for_row(provisioned, key, second["ETag"].strip('"'))
    assert (row["row_count"], row["column_count"]) == (2, 3)


def test_keys_are_url_decoded(provisioned: Settings, s3: Any) -> None:
    key = _unique("a+b c%20d ünï 日本.csv")
    s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"x\n1\n")
    row = wait_for_row(provisioned, key)
    assert row["object_key"] == key


def test_cli_upload_wait_and_list_json_contract(provisioned: Settings, tmp_path: Path) -> None:
    path = tmp_path / f"cli-{uuid.uuid4().hex[:6]}.csv"
    path.write_text("when,amount,ok\n2026-01-02,1.5,true\n2026-01-03,2.5,false\n")
    done = run_cli(provisioned, "upload", str(path), "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "processed" in done.stdout and "2 rows x 3 columns" in done.stdout
    listed = run_cli(provisioned, "list", "--json", "--name", path.stem)
    assert listed.returncode == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(records) == 1
    record = records[0]
    required = {
        "bucket",
        "key",
        "file_name",
        "status",
        "size_bytes",
        "sha256",
        "encoding",
        "delimiter",
        "has_header",
        "row_count",
        "column_count",
        "column_names",
        "columns",
        "error",
        "uploaded_at",
        "processed_at",
    }
    assert required <= record.keys()
    assert record["column_names"] == ["when", "amount", "ok"]
    assert [c["type"] for c in record["columns"]] == ["date", "float", "boolean"]
    # the distributions the detail pane draws, through the real Lambda, MySQL and CLI: both values counted
    when, amount, ok = record["columns"]
    assert sum(amount["histogram"]["counts"]) == 2 and sum(when["histogram"]["counts"]) == 2
    assert (amount["histogram"]["edges"][0], amount["histogram"]["edges"][-1]) == (1.5, 2.5)
    assert ok["histogram"] is None and ok["top_values"] == [["false", 1], ["true", 1]]
    assert record["uploaded_at"].endswith("+00:00")
    shown = run_cli(provisioned, "show", record["key"], "--json")
    assert json.loads(shown.stdout)["sha256"] == record["sha256"]


def test_cli_rejects_invalid_file_without_uploading(provisioned: Settings, tmp_path: Path, s3: Any) -> None:
    path = tmp_path / f"bad-{uuid.uuid4().hex[:6]}.csv"
    path.write_bytes(b"\x00\x01\x02binary")
    done = run_cli(provisioned, "upload", str(path))
    assert done.returncode != 0
    assert path.name in done.stdout and "Traceback" not in done.stdout + done.stderr
    listed = s3.list_objects_v2(Bucket=provisioned.bucket, Prefix=path.name)
    assert listed.get("KeyCount", 0) == 0


def test_config_json_never_prints_secrets(provisioned: Settings) -> None:
    env_settings = provisioned.replace(mysql_admin_password="hunter2-secret")
    done = run_cli(env_settings, "config", "--json")
    assert done.returncode == 0
    assert "hunter2-secret" not in done.stdout
    assert json.loads(done.stdout)["bucket"] == provisioned.bucket


def test_second_setup_finds_everything(provisioned: Settings) -> None:
    done = run_cli(provisioned, "setup")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line[:1] in "+=~!-✓"]
    statuses = {line[0] for line in lines}
    assert "+" not in statuses and "!" not in statuses, done.stdout


def test_email_notices_are_delivered(provisioned: Settings, s3: Any) -> None:
    """`setup --notify-email` subscribes an address; LocalStack delivers through its SES message store."""
    import urllib.request

    address = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    done = run_cli(provisioned, "setup", "--notify-email", address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"email notices to {address}" in done.stdout
    key = _unique("emailed.csv")
    s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"a,b\n1,2\n")

    def mails() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{provisioned.aws_endpoint}/_aws/ses", timeout=5) as resp:
            messages = json.loads(resp.read()).get("messages", [])
        return [
            m for m in messages if address in json.dumps(m.get("Destination", {})) and "emailed.csv" in json.dumps(m)
        ]

    body = json.dumps(wait_until(mails, 30, f"an email to {address} about emailed.csv", interval=0.5)[0])
    assert "1 rows x 2 columns" in body


# ------------------------------------------------------------------------ every accepted name is processed
def test_upload_wait_processes_tsv_and_mixed_case_names(provisioned: Settings, tmp_path: Path) -> None:
    """The local check accepts any file name; the trigger takes every object under the prefix, so `csvdrop
    upload --wait` gets a record for a .tsv and a .Csv at once (it used to wait out its timeout) and exits 0."""
    from backend.upload import object_key_for

    tag = uuid.uuid4().hex[:6]
    tsv = tmp_path / f"tabs-{tag}.tsv"
    tsv.write_bytes(b"a\tb\tc\n1\t2\t3\n4\t5\t6\n")
    mixed = tmp_path / f"Mixed-{tag}.Csv"
    mixed.write_bytes(b"x,y\n1,2\n")
    # Waiting out --timeout would print "timeout" for a file instead of its record; how fast the records come
    # is `python -m bench pipeline`'s business.
    done = run_cli(provisioned, "upload", str(tsv), str(mixed), "--wait", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"processed {tsv}: 2 rows x 3 columns" in done.stdout
    assert f"processed {mixed}: 1 rows x 2 columns" in done.stdout
    assert "timeout" not in done.stdout
    tsv_row = wait_for_row(provisioned, object_key_for(provisioned, tsv), timeout=5)
    assert (tsv_row["status"], tsv_row["delimiter"], tsv_row["file_name"]) == ("PROCESSED", "\t", tsv.name)
    mixed_row = wait_for_row(provisioned, object_key_for(provisioned, mixed), timeout=5)
    assert (mixed_row["status"], mixed_row["row_count"]) == ("PROCESSED", 1)


def test_upload_wait_exit_code_follows_the_record(provisioned: Settings, tmp_path: Path) -> None:
    """A .txt name the old trigger ignored, whose quote opens near the end and never closes (past what the local
    check reads): the function answers with a record, and `upload --wait` exits as documented (1 for a FAILED
    record, 0 for a processed one) well before its timeout."""
    path = tmp_path / f"late-quote-{uuid.uuid4().hex[:6]}.txt"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 30_000 + b'3,"never closed\n4,5\n')
    done = run_cli(provisioned, "upload", str(path), "--wait", "--timeout", "60")
    if "rejected" in done.stdout:
        pytest.skip("the local check rejects this file itself; nothing reaches the function")
    assert "timeout" not in done.stdout, done.stdout
    if f"FAILED   {path}:" in done.stdout:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    else:
        assert f"processed {path}" in done.stdout and done.returncode == 0, done.stdout + done.stderr


def test_setup_replaces_the_older_csv_only_trigger(provisioned: Settings, s3: Any) -> None:
    """An older version's two csv-only S3 -> Lambda configurations become this version's trigger: the ingest
    queue (the default), for every object under the prefix, removals too."""
    from backend.environment import environment_status
    from backend.provisioning import NOTIFICATION_IDS, QUEUE_NOTIFICATION_ID, ingest_queue_name, run_setup

    assert provisioned.trigger == "queue"

    def ours() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        config = s3.get_bucket_notification_configuration(Bucket=provisioned.bucket)
        lambdas = [c for c in config.get("LambdaFunctionConfigurations", []) if c["Id"] in NOTIFICATION_IDS]
        return lambdas, [c for c in config.get("QueueConfigurations", []) if c["Id"] == QUEUE_NOTIFICATION_ID]

    wanted_events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]  # removals write the tombstones

    def assert_queue_trigger() -> None:
        lambdas, (queue,) = ours()
        assert lambdas == []
        assert queue["QueueArn"].endswith(":" + ingest_queue_name(provisioned))
        assert sorted(queue["Events"]) == wanted_events
        rules = queue.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        assert [(r["Name"].lower(), r["Value"]) for r in rules if r["Value"]] == (
            [("prefix", provisioned.key_prefix)] if provisioned.key_prefix else []
        )
        assert environment_status(provisioned)["trigger"].ok is True

    assert_queue_trigger()  # setup wrote one configuration: every object under the prefix
    arn = aws.client(provisioned, "lambda").get_function_configuration(FunctionName=provisioned.function_name)[
        "FunctionArn"
    ]
    older = [
        {
            "Id": ident,
            "LambdaFunctionArn": arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {
                "Key": {
                    "FilterRules": [
                        {"Name": "prefix", "Value": provisioned.key_prefix},
                        {"Name": "suffix", "Value": suffix},
                    ]
                }
            },
        }
        for ident, suffix in zip(NOTIFICATION_IDS, (".csv", ".CSV"), strict=True)
    ]
    s3.put_bucket_notification_configuration(
        Bucket=provisioned.bucket, NotificationConfiguration={"LambdaFunctionConfigurations": older}
    )
    assert environment_status(provisioned)["trigger"].ok is False

    results = {r.name: r for r in run_setup(provisioned).results}
    assert all(r.status != "failed" for r in results.values()), results
    assert results["trigger"].status == "updated"
    assert_queue_trigger()
    assert {r.name: r for r in run_setup(provisioned).results}["trigger"].status == "found"

    key = _unique("notes.txt")  # a name the older trigger ignored
    put = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"a,b\n1,2\n")
    row = wait_for_row(provisioned, key, put["ETag"].strip('"'))
    assert row["status"] == "PROCESSED"


def test_folder_placeholder_gets_no_record(provisioned: Settings, s3: Any) -> None:
    """The trigger takes every object, but an S3 console "folder" (a key ending in /) is not a file."""
    folder = _unique("folder/")
    s3.put_object(Bucket=provisioned.bucket, Key=folder, Body=b"")
    deliver_marker(provisioned, "after-folder")  # the function has had its turn at the folder too
    assert mysql_row(provisioned, folder) is None


# ------------------------------------------------------------------------ records processed with warnings
def test_cli_show_and_list_a_record_processed_with_warnings(provisioned: Settings) -> None:
    """A record with warnings stored by the function's own writer (from the function's secret) is printed by
    `csvdrop show` (JSON and plain) and found by `csvdrop list --warnings`."""
    from lambda_loader import load_lambda_module
    from store_fixtures import WARNINGS, warned_record

    store_writer = load_lambda_module("store_writer")
    key = _unique("warned.csv")
    env = {
        "DB_SECRET_ARN": provisioned.db_secret_name,
        "AWS_ENDPOINT_URL": provisioned.aws_endpoint,
        "AWS_REGION": provisioned.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    with store_writer.open_writer(env) as writer:
        assert writer.upsert(warned_record(key=key, bucket=provisioned.bucket, sequencer="FFFF"))
        assert writer.upsert(warned_record(key=key + ".clean.csv", bucket=provisioned.bucket, warnings=[]))

    shown = run_cli(provisioned, "show", key, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["status"] == "PROCESSED"
    assert data["warnings"] == WARNINGS
    assert data["skipped_lines"] == {"preamble": 3, "footnotes": 2, "comments": 0, "empty_rows": 1, "blank_lines": 5}
    assert (data["header_line"], data["escape_char"], data["double_quote"], data["skip_initial_space"]) == (
        4,
        "\\",
        False,
        True,
    )
    assert (data["delimiter"], data["quote_char"]) == (";", '"')

    plain = run_cli(provisioned, "show", key)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert "warnings (3, processed with warnings):" in lines
    assert "  [preamble_skipped] Skipped 2 title lines before the header. (lines 1 and 2)" in lines
    assert (
        "  [ragged_rows] 2 rows have fewer fields than the header; the missing ones are empty. (lines 9 and 14)"
    ) in lines
    assert "skipped lines        preamble=3 footnotes=2 comments=0 empty_rows=1 blank_lines=5" in lines
    assert "header_line          4" in lines
    for expected in (
        "  delimiter          ';'",
        "  quote_char         '\"'",
        "  escape_char        '\\\\'",
        "  double_quote       no",
        "  skip_initial_space yes",
        "  line_terminator    CRLF (\\r\\n)",
    ):
        assert expected in lines, plain.stdout

    listed = run_cli(provisioned, "list", "--warnings", "--json", "--name", key)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["key"] for line in listed.stdout.splitlines()] == [key]
    everything = run_cli(provisioned, "list", "--json", "--name", key)
    assert len(everything.stdout.splitlines()) == 2
    table = run_cli(provisioned, "list", "--warnings", "--name", key)
    assert table.returncode == 0 and "WARN" in table.stdout.splitlines()[0]
    row = next(line for line in table.stdout.splitlines() if line.endswith(key))
    assert row.split()[:2] == ["PROCESSED", "3"]
