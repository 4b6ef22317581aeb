"""Root test configuration.

The real-stack fixtures start one private LocalStack + MariaDB per test session, on free ports with state in
a temporary folder, so the suite never touches a user's own stack (4566/3307) and leaves no process behind.
Set CSVDROP_TEST_EXTERNAL_STACK=1 to run against the stack described by the usual settings instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never read the developer's own config file or stack state.
os.environ["CSVDROP_CONFIG"] = os.path.join(tempfile.gettempdir(), "csvdrop-test-no-config.toml")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from backend.config import Settings, load_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _shared_localstack_venv() -> Path:
    """One LocalStack venv for every test session (installing it costs ~10-30 s; its inputs are hashed)."""
    return load_settings(env={}).localstack_venv_dir


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """A running local cloud (LocalStack with the csvdrop executor + MariaDB) as Settings."""
    if os.environ.get("CSVDROP_TEST_EXTERNAL_STACK"):
        yield load_settings()
        return
    from backend.stack import stack_down, stack_up

    state = Path(tempfile.mkdtemp(prefix="csvdrop-test-stack-"))
    ls_port, my_port = free_port(), free_port()
    settings = load_settings(
        env={},
        state_dir=state,
        localstack_venv=_shared_localstack_venv(),
        localstack_port=ls_port,
        aws_endpoint=f"http://127.0.0.1:{ls_port}",
        mysql_port=my_port,
    )
    messages: list[str] = []
    try:
        stack_up(settings, messages.append, use_docker=False)
    except Exception:
        stack_down(settings)
        raise
    try:
        yield settings
    finally:
        stack_down(settings)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def provisioned(stack: Settings) -> Settings:
    """The stack with `csvdrop setup` run on it (bucket, store, topic, queue, function, trigger)."""
    from backend.provisioning import run_setup

    results = run_setup(stack)
    failed = [r for r in results if r.status == "failed"]
    assert not failed, f"setup failed: {failed}"
    return stack


def mysql_admin(settings: Settings):  # type: ignore[no-untyped-def]
    """A direct admin connection, for asserting on rows in MySQL independently of the app's reader."""
    import pymysql

    return pymysql.connect(host=settings.mysql_host, port=settings.mysql_port, user=settings.mysql_admin_user,
                           password=settings.mysql_admin_password, database=settings.mysql_database,
                           autocommit=True, cursorclass=pymysql.cursors.DictCursor)
