"""Every claim of README's Security section, proven on the real stack (and, for export/keys, on the code).

- hostile CSV content is stored verbatim (parameterised SQL) and the schema is intact;
- the generated DB passwords appear nowhere but Secrets Manager (function config, logs, notices, LocalStack's
  log, the app's log, `csvdrop config --json`, error messages, the repository);
- the function's IAM policy is exactly README's list; the DB users have exactly README's grants;
- every listening socket of the stack's processes is bound to 127.0.0.1;
- exported CSV neutralises formulas; upload keys never escape their prefix.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import subprocess
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import psutil
import pymysql
import pytest
from pipeline_helpers import independent_shape, run_cli, wait_for_row
from testsupport import ROOT, NotYet, isolated_settings, mysql_admin, wait_until

from backend import aws
from backend.config import Settings
from backend.export import FORMULA_STARTS, export_records
from backend.notices import desktop_reader, reader_queue_name
from backend.provisioning import FAILED_EVENTS_QUEUE_SUFFIX, ingest_queue_name
from backend.store import StoreError, open_reader
from backend.store.records import RecordQuery
from backend.upload import UploadError, object_key_for, sanitize_key_part, upload_file

stack = pytest.mark.stack

HOSTILE_CSV = (
    b'"Robert\'); DROP TABLE csv_metadata;--","<img src=x onerror=alert(1)>","=cmd|\' /C calc\'!A0",n\n'
    b"\"' OR '1'='1\",<script>alert('x')</script>,@SUM(1+1)*cmd|' /C calc'!A0,1\n"
    b'"1); DELETE FROM csv_metadata;--","</td><td onmouseover=alert(1)>","+1+1",2\n'
    b'"%_\\%","\\\\x00\\\'; SELECT SLEEP(5);--","-2-3",3\n'
    b'"\t=tab","\r=cr","@x",4\n'
)


def _schema(settings: Settings) -> tuple[Any, ...]:
    conn = mysql_admin(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
                (settings.mysql_database,),
            )
            columns = tuple(tuple(r.values()) for r in cur.fetchall())
            cur.execute(
                "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS"
                " WHERE TABLE_SCHEMA = %s ORDER BY 1, 2, SEQ_IN_INDEX",
                (settings.mysql_database,),
            )
            indexes = tuple(tuple(r.values()) for r in cur.fetchall())
    finally:
        conn.close()
    return columns, indexes


# ------------------------------------------------------------------------------------------ SQL injection
@stack
@pytest.mark.parametrize("name", ["sql_names.csv", "html_names.csv", "formulas.csv", "hostile_values.csv"])
def test_hostile_content_is_stored_verbatim_and_the_schema_is_intact(provisioned: Settings, name: str) -> None:
    data = HOSTILE_CSV if name == "hostile_values.csv" else (ROOT / "tests/data/bad" / name).read_bytes()
    before = _schema(provisioned)
    key = f"sec-{uuid.uuid4().hex[:8]}/{name}"
    put = aws.client(provisioned, "s3").put_object(Bucket=provisioned.bucket, Key=key, Body=data)
    row = wait_for_row(provisioned, key, str(put["ETag"]).strip('"'))
    assert row["status"] == "PROCESSED", row["error"]
    rows, cols, names = independent_shape(data, "utf-8", ",")
    assert (row["row_count"], row["column_count"], row["column_names"]) == (rows, cols, names)
    text = data.decode()
    expected_rows = [r for r in csv.reader(io.StringIO(text, newline=""))][1:6]
    assert row["sample_rows"] == expected_rows, "values were altered on their way into MySQL"
    assert [c["name"] for c in row["column_profiles"]] == names
    assert _schema(provisioned) == before
    # The app's reader (a different code path: SELECT with LIKE) returns the same text.
    reader = open_reader(provisioned)
    try:
        page = reader.list(RecordQuery(name_contains=key, limit=5))
    finally:
        reader.close()
    assert [r.key for r in page.records] == [key]
    assert list(page.records[0].column_names) == names


@stack
def test_reader_filter_text_is_data_not_sql(provisioned: Settings) -> None:
    reader = open_reader(provisioned)
    try:
        for text in ("' OR '1'='1", "%", "_", "\\", "'); DROP TABLE csv_metadata;--", "\x00"):
            page = reader.list(RecordQuery(name_contains=text, limit=1000))
            assert all(text.lower() in r.key.lower() for r in page.records), text
    finally:
        reader.close()
    assert "csv_metadata" in {t for (t,) in _tables(provisioned)}


def _tables(settings: Settings) -> list[tuple[str]]:
    conn = pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=settings.mysql_admin_user,
        password=settings.mysql_admin_password,
        database=settings.mysql_database,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            return list(cur.fetchall())
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ secrets
def _secret(settings: Settings, name: str) -> dict[str, Any]:
    value = aws.client(settings, "secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    secret: dict[str, Any] = json.loads(value)
    return secret


@pytest.fixture(scope="module")
def passwords(provisioned: Settings) -> dict[str, str]:
    writer = _secret(provisioned, provisioned.db_secret_name)
    reader = _secret(provisioned, provisioned.reader_secret_name)
    assert writer["username"] == provisioned.mysql_writer_user
    assert reader["username"] == provisioned.mysql_reader_user
    found = {"writer": str(writer["password"]), "reader": str(reader["password"])}
    assert all(len(p) >= 16 for p in found.values()), "generated passwords are short"
    assert found["writer"] != found["reader"]
    return found


def _leaks(text: str, passwords: dict[str, str]) -> list[str]:
    return [who for who, pw in passwords.items() if pw in text]


@pytest.fixture(scope="module")
def exercised_keys(provisioned: Settings) -> tuple[str, str]:
    """Make the function log, notify and fail at least once, so there is something to search: the keys of
    the file it processed and of the one it failed."""
    s3 = aws.client(provisioned, "s3")
    key = f"sec-{uuid.uuid4().hex[:8]}/ok.csv"
    put = s3.put_object(Bucket=provisioned.bucket, Key=key, Body=b"a,b\n1,2\n")
    wait_for_row(provisioned, key, str(put["ETag"]).strip('"'))
    bad = f"sec-{uuid.uuid4().hex[:8]}/bad.csv"
    put = s3.put_object(Bucket=provisioned.bucket, Key=bad, Body=b"\x1f\x8b\x08\x00" + bytes(40))
    wait_for_row(provisioned, bad, str(put["ETag"]).strip('"'))
    return key, bad


@pytest.fixture(scope="module")
def exercised(provisioned: Settings, exercised_keys: tuple[str, str]) -> Settings:
    """The stack, once the function has processed and failed a file (``exercised_keys``)."""
    return provisioned


@stack
def test_passwords_not_in_function_configuration(exercised: Settings, passwords: dict[str, str]) -> None:
    lam = aws.client(exercised, "lambda")
    config = lam.get_function_configuration(FunctionName=exercised.function_name)
    assert "DB_SECRET_ARN" in config["Environment"]["Variables"]
    assert not _leaks(json.dumps(config, default=str), passwords)
    function = lam.get_function(FunctionName=exercised.function_name)
    function.pop("Code", None)
    assert not _leaks(json.dumps(function, default=str), passwords)


@stack
def test_passwords_not_in_cloudwatch_logs(
    exercised: Settings, exercised_keys: tuple[str, str], passwords: dict[str, str]
) -> None:
    logs = aws.client(exercised, "logs")
    group = f"/aws/lambda/{exercised.function_name}"

    def with_the_exercised_invocations() -> str | NotYet:
        """The whole log, once the invocations that processed and failed a file are in it (searching before
        they arrive would pass whatever they wrote)."""
        messages: list[str] = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            messages += [e["message"] for e in page.get("events", [])]
        text = "\n".join(messages)
        missing = [key for key in exercised_keys if f"{exercised.bucket}/{key} rows=" not in text]
        return text if not missing else NotYet(f"no log line of the invocations for {missing}")

    text = wait_until(with_the_exercised_invocations, 30, "the exercised invocations' logs", interval=0.5)
    assert not _leaks(text, passwords)


@stack
def test_passwords_not_in_notices(exercised: Settings, passwords: dict[str, str]) -> None:
    sqs = aws.client(exercised, "sqs")
    bodies: list[str] = []
    window = desktop_reader(exercised, "app")  # the notices reach each reader's own queue: this desktop's window's
    assert window is not None
    for name in (reader_queue_name(exercised, window), exercised.function_name + FAILED_EVENTS_QUEUE_SUFFIX):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        for _ in range(5):  # peek: visibility 0 leaves the notices for the app and other tests
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            )
            bodies += [json.dumps(m) for m in got.get("Messages", [])]
    assert any("csvdrop.metadata" in b for b in bodies), "no notice to look at"
    assert not _leaks("\n".join(bodies), passwords)


@stack
def test_passwords_not_in_any_log_or_state_file(exercised: Settings, passwords: dict[str, str]) -> None:
    """LocalStack's log, the app's log (if any), MySQL's log: every file of the stack's state but the
    database files themselves."""
    log = exercised.state_dir / "localstack" / "localstack.log"
    assert log.is_file() and log.stat().st_size > 0
    searched, leaked = 0, []
    for path in exercised.state_dir.rglob("*"):
        if not path.is_file() or "mysql/data" in path.as_posix() or path.stat().st_size > 64 * 1024 * 1024:
            continue
        data = path.read_bytes()
        searched += 1
        leaked += [f"{path}: {who}" for who, pw in passwords.items() if pw.encode() in data]
    assert searched > 1
    assert not leaked, leaked


@stack
def test_passwords_not_in_cli_config_or_error_messages(
    exercised: Settings, passwords: dict[str, str], tmp_path: Path
) -> None:
    s = exercised.replace(mysql_admin_password=passwords["writer"])
    done = run_cli(s, "config", "--json")
    assert done.returncode == 0
    assert not _leaks(done.stdout + done.stderr, passwords)
    # A reader that cannot reach its database, or may not read it: the message names no password.
    messages = []
    for broken in (exercised.replace(mysql_port=1), exercised.replace(mysql_database="not_ours")):
        reader = open_reader(broken, password=passwords["reader"])
        try:
            with pytest.raises(StoreError) as info:
                reader.list(RecordQuery(limit=1))
            messages.append(str(info.value))
        finally:
            reader.close()
    wrong_user = open_reader(exercised, user=exercised.mysql_writer_user, password=passwords["reader"])
    try:
        with pytest.raises(StoreError) as info:
            wrong_user.list(RecordQuery(limit=1))
        messages.append(str(info.value))
    finally:
        wrong_user.close()
    listed = run_cli(exercised.replace(mysql_port=1), "list", "--json")
    assert listed.returncode != 0
    messages.append(listed.stdout + listed.stderr)
    # A failing upload (no such bucket) and a failing invocation of the function itself.
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    with pytest.raises(UploadError) as up:
        upload_file(exercised.replace(bucket=f"no-such-{uuid.uuid4().hex[:8]}"), path)
    messages.append(str(up.value))
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": f"no-such-{uuid.uuid4().hex[:8]}"},
                    "object": {"key": "x.csv", "eTag": "0" * 32, "sequencer": "0"},
                },
            }
        ]
    }
    answer = aws.client(exercised, "lambda").invoke(
        FunctionName=exercised.function_name, Payload=json.dumps(event).encode()
    )
    assert "FunctionError" in answer
    messages.append(answer["Payload"].read().decode())
    assert all(m.strip() for m in messages)
    assert not _leaks("\n".join(messages), passwords), messages


@stack
def test_passwords_not_in_the_repository(passwords: dict[str, str]) -> None:
    for pw in passwords.values():
        found = subprocess.run(
            ["git", "grep", "--untracked", "-I", "-l", "-F", "-e", pw],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert found.returncode == 1, f"git grep found a password in: {found.stdout} {found.stderr}"


# ------------------------------------------------------------------------------------------ IAM
def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@stack
def test_lambda_role_grants_exactly_readme_actions(provisioned: Settings) -> None:
    s = provisioned
    iam = aws.client(s, "iam")
    account = aws.client(s, "sts").get_caller_identity()["Account"]
    role = s.role_name
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["csvdrop-least-privilege"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    doc = iam.get_role_policy(RoleName=role, PolicyName="csvdrop-least-privilege")["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    granted: set[tuple[str, str]] = set()
    for st in doc["Statement"]:
        assert st["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & st.keys(), st
        for action in _as_list(st["Action"]):
            for resource in _as_list(st["Resource"]):
                granted.add((action, resource))
    secret_arn = aws.client(s, "secretsmanager").describe_secret(SecretId=s.db_secret_name)["ARN"]
    topic_arn = f"arn:aws:sns:{s.region}:{account}:{s.topic_name}"
    log_group = f"arn:aws:logs:{s.region}:{account}:log-group:/aws/lambda/{s.function_name}:*"
    # README, Security: "grants only: s3:GetObject on the bucket's objects, secretsmanager:GetSecretValue on
    # its secret, sns:Publish on its topic, logs:CreateLogStream/PutLogEvents on its own log group,
    # sqs:SendMessage on its failed-events queue".
    expected = {
        ("s3:GetObject", f"arn:aws:s3:::{s.bucket}/*"),
        ("secretsmanager:GetSecretValue", secret_arn),
        ("sns:Publish", topic_arn),
        ("logs:CreateLogStream", log_group),
        ("logs:PutLogEvents", log_group),
        ("sqs:SendMessage", f"arn:aws:sqs:{s.region}:{account}:{s.function_name}{FAILED_EVENTS_QUEUE_SUFFIX}"),
    }
    if s.trigger == "queue":  # README: "with the queue trigger, reading and settling messages of its ingest queue"
        ingest = f"arn:aws:sqs:{s.region}:{account}:{ingest_queue_name(s)}"
        expected |= {
            (action, ingest)
            for action in (
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ChangeMessageVisibility",
            )
        }
    assert granted == expected, f"extra: {granted - expected}; missing: {expected - granted}"
    for action, resource in granted:
        assert "*" not in action
        # The only wildcards README allows: "the bucket's objects" and "its own log group" (its streams).
        assert "*" not in resource or resource in (f"arn:aws:s3:::{s.bucket}/*", log_group), resource


# ------------------------------------------------------------------------------------------ DB users
def _grants(conn: Any, user: str, host: str) -> dict[str, set[str]]:
    """SHOW GRANTS as {object: privileges}."""
    out: dict[str, set[str]] = {}
    with conn.cursor() as cur:
        cur.execute("SHOW GRANTS FOR %s@%s", (user, host))
        for row in cur.fetchall():
            line = next(iter(row.values()))
            assert line.startswith("GRANT ") and " ON " in line, line
            privileges, rest = line[len("GRANT ") :].split(" ON ", 1)
            target = rest.split(" TO ", 1)[0].replace("`", "")
            assert "WITH GRANT OPTION" not in rest, line
            out.setdefault(target, set()).update(p.strip() for p in privileges.split(","))
    return out


def _connect_as(settings: Settings, user: str, password: str) -> Any:
    return pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=user,
        password=password,
        database=settings.mysql_database,
        autocommit=True,
    )


@stack
def test_database_users_have_exactly_readme_grants(provisioned: Settings, passwords: dict[str, str]) -> None:
    s, db = provisioned, provisioned.mysql_database
    admin = mysql_admin(s)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT Host FROM mysql.user WHERE User = %s", (s.mysql_writer_user,))
            hosts = sorted(r["Host"] for r in cur.fetchall())
        assert hosts
        for host in hosts:
            writer = _grants(admin, s.mysql_writer_user, host)
            assert writer.pop("*.*") == {"USAGE"}, writer
            assert writer.pop(f"{db}.csv_metadata") == {"SELECT", "INSERT", "UPDATE"}
            revision = writer.pop(f"{db}.csv_metadata_revision")
            assert "UPDATE" in revision and revision <= {"SELECT", "INSERT", "UPDATE"}, revision
            assert writer.pop(f"{db}.csv_metadata_counts") == {"SELECT", "INSERT", "UPDATE"}
            assert writer == {}, f"writer has more: {writer}"
            reader = _grants(admin, s.mysql_reader_user, host)
            assert reader == {
                "*.*": {"USAGE"},
                f"{db}.csv_metadata": {"SELECT"},
                f"{db}.csv_metadata_counts": {"SELECT"},
            }, reader
    finally:
        admin.close()


def _denied(conn: Any, sql: str) -> None:
    with conn.cursor() as cur, pytest.raises(pymysql.err.MySQLError) as info:
        cur.execute(sql)
    assert info.value.args[0] in (1142, 1044, 1227, 1370), info.value  # "command denied"


@stack
def test_reader_cannot_write_and_writer_cannot_delete_or_drop(provisioned: Settings, passwords: dict[str, str]) -> None:
    s = provisioned
    reader = _connect_as(s, s.mysql_reader_user, passwords["reader"])
    writer = _connect_as(s, s.mysql_writer_user, passwords["writer"])
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM csv_metadata")
            before = cur.fetchone()[0]
        _denied(reader, "INSERT INTO csv_metadata (key_hash) VALUES ('x')")
        _denied(reader, "UPDATE csv_metadata SET status = 'FAILED' WHERE 1 = 0")
        _denied(reader, "DELETE FROM csv_metadata")
        _denied(reader, "DROP TABLE csv_metadata")
        _denied(reader, "UPDATE csv_metadata_revision SET revision = revision WHERE 1 = 0")
        _denied(reader, "SELECT * FROM schema_migrations")
        _denied(writer, "DELETE FROM csv_metadata")
        _denied(writer, "DROP TABLE csv_metadata")
        _denied(writer, "TRUNCATE TABLE csv_metadata")
        _denied(writer, "ALTER TABLE csv_metadata ADD COLUMN evil INT")
        _denied(writer, "CREATE TABLE evil (id INT)")
        _denied(writer, "DELETE FROM csv_metadata_revision")
        _denied(writer, "SELECT * FROM mysql.user")
        with writer.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM csv_metadata")
            assert cur.fetchone()[0] >= before
    finally:
        reader.close()
        writer.close()
    assert "csv_metadata" in {t for (t,) in _tables(s)}


# ------------------------------------------------------------------------------------------ sockets
def _stack_processes(settings: Settings) -> tuple[psutil.Process, list[psutil.Process], psutil.Process]:
    ls_pid = int((settings.state_dir / "localstack" / "localstack.pid").read_text().strip())
    my_pid = int((settings.state_dir / "mysql" / "mysqld.pid").read_text().strip())
    localstack = psutil.Process(ls_pid)
    return localstack, localstack.children(recursive=True), psutil.Process(my_pid)


@stack
def test_every_listening_socket_is_loopback_only(exercised: Settings) -> None:
    if not (exercised.state_dir / "localstack" / "localstack.pid").exists():
        pytest.skip("not a stack this session started (CSVDROP_TEST_EXTERNAL_STACK)")
    localstack, children, mysqld = _stack_processes(exercised)
    pids = {localstack.pid, mysqld.pid, *(c.pid for c in children)}
    listening: list[tuple[int, str, int, str]] = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.pid not in pids:
            continue
        if conn.status == psutil.CONN_LISTEN or (conn.type == 2 and not conn.raddr):  # TCP LISTEN, or UDP
            assert conn.laddr, f"a listening socket without a local address: {conn}"
            listening.append((conn.pid, conn.laddr.ip, conn.laddr.port, conn.status))
    ports = {(pid, port) for pid, _ip, port, _ in listening}
    assert (localstack.pid, exercised.localstack_port) in ports, listening
    assert (mysqld.pid, exercised.mysql_port) in ports, listening
    assert any("python" in " ".join(c.cmdline()).lower() for c in children), "no Lambda child to look at"
    wrong = [c for c in listening if c[1] != "127.0.0.1"]
    assert not wrong, f"bound beyond loopback: {wrong}"


# ------------------------------------------------------------------------------------------ export
HOSTILE_CELLS = [
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    '=HYPERLINK("x")',
    "-",
    "+",
    "=",
    "@",
]


def test_export_neutralises_formula_cells(tmp_path: Path) -> None:
    records = []
    for i, cell in enumerate(HOSTILE_CELLS):
        records.append(
            {
                "bucket": "b",
                "key": cell,
                "file_name": cell,
                "status": "FAILED",
                "error": cell,
                "row_count": -1 * i,
                "size_bytes": 1.5,
                "column_names": [cell],
                "sample_rows": [[cell]],
                "has_header": None,
                "encoding": "utf-8",
            }
        )
    path = tmp_path / "out.csv"
    assert export_records(records, path, "csv") == len(records)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert len(body) == len(records)
    for i, (row, cell) in enumerate(zip(body, HOSTILE_CELLS, strict=True)):
        got = dict(zip(header, row, strict=True))
        for column in ("key", "file_name", "error"):
            assert got[column] == "'" + cell, (column, got[column])
        assert got["row_count"] == str(-i)  # numbers stay numbers
        assert got["status"] == "FAILED" and got["encoding"] == "utf-8"
        for column, value in zip(header, row, strict=True):
            if column not in ("row_count", "size_bytes"):  # numbers are numbers, not formulas
                assert not value.startswith(FORMULA_STARTS), (column, value)
    assert set(FORMULA_STARTS) >= {"=", "+", "-", "@", "\t", "\r"}


def test_export_json_keeps_values_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    export_records([{"key": c} for c in HOSTILE_CELLS], path, "json")
    assert [r["key"] for r in json.loads(path.read_text(encoding="utf-8"))] == HOSTILE_CELLS


# ------------------------------------------------------------------------------------------ keys
HOSTILE_NAMES = [
    "../../x.csv",
    "/etc/passwd",
    "..\\x.csv",
    "..\\..\\windows\\system32\\x.csv",
    "..",
    ".",
    "",
    "   ",
    "....//....//x.csv",
    "a/../../b.csv",
    "./.hidden.csv",
    "x\x00y.csv",
    "new\nline.csv",
    "tab\there.csv",
    "bell\x07\x1b[31m.csv",
    "del\x7f.csv",
    "c1\x85\x9b31m.csv",
    "\u202ereversed.csv",
    "ｆｕｌｌ／ｗｉｄｔｈ.csv",
    "n" * 1000 + ".csv",
    "日" * 1000 + ".csv",
    "." * 1000,
    "/" * 1000,
    "../" * 333 + "x.csv",
]


@pytest.mark.parametrize("prefix", ["uploads/", "uploads", "a/b/", "../up/", "/abs/x/"])
@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n[:24]))
def test_object_keys_never_escape_the_prefix(prefix: str, name: str, tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, key_prefix=prefix)
    clean_prefix = "/".join(p for p in prefix.split("/") if p not in ("", ".", "..")) + "/"
    for key in (
        object_key_for(settings, Path("ignored.csv"), name=name),
        object_key_for(settings, Path(name) if name else Path("x.csv")),
    ):
        assert key.startswith(clean_prefix), key
        last = key[len(clean_prefix) :]
        assert last and "/" not in last and "\\" not in last, key
        assert last not in (".", "..") and not last.startswith("."), key
        assert posixpath.normpath(key).startswith(clean_prefix)
        assert not [c for c in key if unicodedata.category(c) == "Cc"], f"control characters in {key!r}"
        assert len(last.encode("utf-8")) <= 255 and len(key.encode("utf-8")) <= 1024
        assert unicodedata.is_normalized("NFC", key)


def test_long_names_keep_their_extension() -> None:
    for name in ("n" * 1000 + ".csv", "日" * 1000 + ".csv"):
        clean = sanitize_key_part(name)
        assert clean.endswith(".csv") and len(clean.encode()) <= 255
        assert clean.encode("utf-8").decode("utf-8") == clean
