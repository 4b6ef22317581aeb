"""`csvdrop` against the session's real stack, in-process: what the commands print is checked against what is in
MySQL, S3 and the notices queue. Settings reach the CLI the way they reach a user's shell: CSVDROP_* variables."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pipeline_helpers import mysql_row, settings_env

from backend.cli import csvdrop
from backend.cli.setup import STEP_SYMBOLS
from backend.config import Settings
from backend.upload import object_key_for

pytestmark = [pytest.mark.stack]

Invoke = Callable[..., Result]
CSV = "when,amount,ok\n2026-01-02,1.5,true\n2026-01-03,2.5,false\n"


def _environment_of(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CSVDROP_"):
            monkeypatch.delenv(name)
    for name, value in settings_env(settings).items():
        if name.startswith(("CSVDROP_", "AWS_")):
            monkeypatch.setenv(name, value)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(csvdrop, list(args), catch_exceptions=False)


@pytest.fixture()
def cli(provisioned: Settings, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    _environment_of(provisioned, monkeypatch)
    return _invoke


@pytest.fixture(scope="module")
def uploaded(provisioned: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Result]]:
    """One CSV uploaded with `csvdrop upload --wait`: (its path, its object key, what the command printed)."""
    path = tmp_path_factory.mktemp("cli") / f"cli-{uuid.uuid4().hex[:8]}.csv"
    path.write_text(CSV)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _environment_of(provisioned, monkeypatch)
        done = _invoke("upload", str(path), "--wait", "--timeout", "90")
    yield path, object_key_for(provisioned, path), done


def _row(settings: Settings, key: str) -> dict[str, Any]:
    row = mysql_row(settings, key)
    assert row is not None, f"no row for {key}"
    for name in ("column_names", "column_profiles"):
        if isinstance(row.get(name), (str, bytes)):
            row[name] = json.loads(row[name])
    return row


def test_upload_wait_then_list_and_show_read_the_record_back(
    cli: Invoke, provisioned: Settings, uploaded: tuple[Path, str, Result]
) -> None:
    path, key, done = uploaded
    assert done.exit_code == 0, done.output
    assert f"processed {path}: 2 rows x 3 columns" in done.stdout.splitlines()
    row = _row(provisioned, key)
    assert (row["status"], row["row_count"], row["column_count"]) == ("PROCESSED", 2, 3)
    assert row["column_names"] == ["when", "amount", "ok"]

    listed = cli("list", "--name", path.stem)
    assert listed.exit_code == 0, listed.output
    header, line, total = listed.stdout.splitlines()
    assert header.split()[:5] == ["STATUS", "WARN", "ROWS", "COLS", "SIZE"]
    assert line.split()[:5] == [
        "PROCESSED",
        "-",
        str(row["row_count"]),
        str(row["column_count"]),
        str(row["size_bytes"]),
    ]
    assert line.endswith(f"  {key}") and total == "1 of 1 records"

    shown = cli("show", key)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    for expected in (
        f"bucket               {provisioned.bucket}",
        f"key                  {key}",
        "status               PROCESSED",
        "warnings             none",
        f"sha256               {row['sha256']}",
        f"row_count            {row['row_count']}",
        f"column_count         {row['column_count']}",
        "  delimiter          ','",
    ):
        assert expected in lines, shown.stdout
    columns = [line.split()[:2] for line in lines[lines.index("columns:") + 1 :]]
    assert columns == [["when", "date"], ["amount", "float"], ["ok", "boolean"]]


def test_list_json_is_the_record_in_mysql(
    cli: Invoke, provisioned: Settings, uploaded: tuple[Path, str, Result]
) -> None:
    path, key, _ = uploaded
    listed = cli("list", "--json", "--name", path.stem)
    assert listed.exit_code == 0, listed.output
    (record,) = [json.loads(line) for line in listed.stdout.splitlines()]
    row = _row(provisioned, key)
    assert (record["key"], record["status"], record["sha256"]) == (key, "PROCESSED", row["sha256"])
    assert (record["row_count"], record["column_count"]) == (row["row_count"], row["column_count"])
    assert record["column_names"] == row["column_names"]
    assert [c["type"] for c in record["columns"]] == ["date", "float", "boolean"]
    shown = cli("show", key, "--json")
    assert json.loads(shown.stdout) == record


def test_notices_prints_the_completion_notice(cli: Invoke, uploaded: tuple[Path, str, Result]) -> None:
    path, _, _ = uploaded
    printed = ""
    deadline = time.monotonic() + 30
    while path.name not in printed and time.monotonic() < deadline:
        done = cli("notices")  # each call takes what is in the queue (and removes it)
        assert done.exit_code == 0, done.output
        printed += done.stdout
    line = next((line for line in printed.splitlines() if path.name in line), None)
    assert line is not None, f"no notice for {path.name}; printed:\n{printed}"
    assert re.fullmatch(rf"\d\d:\d\d:\d\d PROCESSED {re.escape(path.name)}: 2 rows x 3 columns", line), line


def test_reconcile_dry_run_counts_and_sends_nothing(cli: Invoke, uploaded: tuple[Path, str, Result]) -> None:
    done = cli("reconcile", "--dry-run")
    assert done.exit_code == 0, done.output
    # the count line; a line about records of gone objects may follow it
    summary = next(line for line in done.stdout.splitlines() if " without an up-to-date record, " in line)
    counted = re.fullmatch(r"(\d+) objects, (\d+) without an up-to-date record, 0 re-processed", summary)
    assert counted is not None, done.stdout
    assert int(counted[1]) >= 1  # at least the file uploaded above
    assert "re-processing" not in done.stdout


def test_stack_status_json(cli: Invoke, provisioned: Settings) -> None:
    done = cli("stack", "status", "--json")
    assert done.exit_code == 0, done.output
    services = {service["name"]: service for service in json.loads(done.stdout)}
    assert set(services) == {"localstack", "mysql"}
    assert all(service["healthy"] for service in services.values())
    assert services["mysql"]["endpoint"].endswith(f":{provisioned.mysql_port}")


def test_setup_on_the_provisioned_stack_finds_everything(cli: Invoke, provisioned: Settings) -> None:
    from backend.provisioning import setup_steps

    done = cli("setup")
    assert done.exit_code == 0, done.output
    status_of = {symbol: status for status, symbol in STEP_SYMBOLS.items()}
    *step_lines, last = done.stdout.splitlines()
    statuses: dict[str, str] = {}
    for line, title in zip(step_lines, [step.title for step in setup_steps(provisioned)], strict=True):
        assert line[2:].startswith(title), line
        statuses[title] = status_of[line[0]]
    assert set(statuses.values()) <= {"found", "skipped", "passed"}, done.stdout
    assert statuses["Smoke test: a tiny CSV end to end"] == "passed"
    assert last == "environment ready"
