"""`csvdrop stack up | status | down` as a user runs them: a private stack, the CLI, a real client (awscli)."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from pipeline_helpers import awscli, run_cli
from testsupport import free_port, isolated_settings, shared_localstack_venv

from backend.config import Settings
from backend.stack import StackError, stack_up
from backend.stack.localstack import LocalStackService
from backend.stack.mysql import MySqlService

pytestmark = [pytest.mark.stack]


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    state = Path(tempfile.mkdtemp(prefix="csvdrop-test-cli-stack-"))
    port = free_port()
    settings = isolated_settings(
        state,
        state_dir=state,
        localstack_venv=shared_localstack_venv(),
        localstack_port=port,
        aws_endpoint=f"http://127.0.0.1:{port}",
        mysql_port=free_port(),
    )
    yield settings
    run_cli(settings, "stack", "down")
    shutil.rmtree(state, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_status_awscli_down_leaves_nothing(private: Settings) -> None:
    up = run_cli(private, "stack", "up", timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    status = run_cli(private, "stack", "status", "--json")
    assert status.returncode == 0, status.stdout
    services = {s["name"]: s for s in json.loads(status.stdout)}
    assert services["localstack"]["healthy"] and services["localstack"]["managed"]
    assert services["mysql"]["healthy"] and services["mysql"]["managed"]

    made = awscli(private, "s3", "mb", "s3://cli-made-bucket")
    assert made.returncode == 0, made.stderr
    listed = awscli(private, "s3", "ls")
    assert "cli-made-bucket" in listed.stdout

    again = run_cli(private, "stack", "up")
    assert again.returncode == 0 and "already running" in again.stdout

    pids = [LocalStackService(private).managed_pid(), MySqlService(private).managed_pid()]
    assert all(pids)
    listening = {
        (c.laddr.ip, c.laddr.port)
        for pid in pids
        if pid
        for c in psutil.Process(pid).net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert ("127.0.0.1", private.localstack_port) in listening and ("127.0.0.1", private.mysql_port) in listening
    assert {ip for ip, _ in listening} == {"127.0.0.1"}, f"listening beyond loopback: {sorted(listening)}"
    descendants = [c.pid for pid in pids if pid for c in psutil.Process(pid).children(recursive=True)]
    down = run_cli(private, "stack", "down")
    assert down.returncode == 0, down.stderr
    assert not _listening(private.localstack_port) and not _listening(private.mysql_port)
    alive = [
        p
        for p in [*pids, *descendants]
        if p and psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert not alive, f"processes left behind: {alive}"
    status = run_cli(private, "stack", "status")
    assert status.returncode == 3 and "DOWN" in status.stdout


def test_mysql_data_is_kept_across_down_and_up(private: Settings) -> None:
    import pymysql

    assert run_cli(private, "stack", "up", timeout=300).returncode == 0
    conn = pymysql.connect(host="127.0.0.1", port=private.mysql_port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS keepme")
        cur.execute("CREATE TABLE IF NOT EXISTS keepme.t (v INT)")
        cur.execute("INSERT INTO keepme.t VALUES (42)")
    conn.close()
    assert run_cli(private, "stack", "down").returncode == 0
    assert run_cli(private, "stack", "up", timeout=300).returncode == 0
    conn = pymysql.connect(host="127.0.0.1", port=private.mysql_port, user="root")
    with conn.cursor() as cur:
        cur.execute("SELECT v FROM keepme.t")
        assert cur.fetchall() == ((42,),)
    conn.close()
    assert run_cli(private, "stack", "down").returncode == 0


def test_port_taken_by_something_else_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = isolated_settings(
            tmp_path,
            state_dir=tmp_path,
            localstack_venv=shared_localstack_venv(),
            localstack_port=port,
            aws_endpoint=f"http://127.0.0.1:{port}",
            mysql_port=free_port(),
        )
        with pytest.raises(StackError, match=rf"Port {port} .* is taken by .*not LocalStack"):
            stack_up(settings, use_docker=False)
        run_cli(settings, "stack", "down")


def test_cli_reports_errors_without_traceback(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = isolated_settings(
            tmp_path,
            state_dir=tmp_path,
            localstack_venv=shared_localstack_venv(),
            localstack_port=free_port(),
            mysql_port=port,
        )
        done = run_cli(settings, "stack", "up")
    assert done.returncode != 0
    assert f"Port {port}" in done.stderr and "Traceback" not in done.stderr + done.stdout


def test_localstack_start_failure_shows_the_log_tail(tmp_path: Path) -> None:
    """A broken service venv: `up` fails with the tail of LocalStack's log, and no process is left."""
    venv = tmp_path / "broken-venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    fake.write_text("#!/bin/sh\necho 'boom: LocalStack cannot start here' >&2\nexit 3\n")
    fake.chmod(0o755)
    settings = isolated_settings(
        tmp_path, state_dir=tmp_path, localstack_venv=venv, localstack_port=free_port(), mysql_port=free_port()
    )
    from backend.stack import localstack as ls_module

    (venv / ls_module._INSTALL_STAMP).write_text(ls_module._inputs_digest())
    with pytest.raises(StackError, match="boom: LocalStack cannot start here"):
        LocalStackService(settings).start()
