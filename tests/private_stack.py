"""A private local cloud for tests that stop, kill or restart its services (never the shared session stack).

Free ports, a temporary state folder, the LocalStack venv every test session shares; setup run on it. The
services are stopped and the folder removed even when the test fails; the service logs are kept in
``$TMPDIR/csvdrop-test-faults-logs/`` for a post-mortem.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from testsupport import free_port, isolated_settings, set_up, shared_localstack_venv

from backend.config import Settings
from backend.environment import bring_up
from backend.stack.localstack import LocalStackService
from backend.stack.mysql import MySqlService

LOGS = Path(tempfile.gettempdir()) / "csvdrop-test-faults-logs"


def setup_or_fail(settings: Settings) -> None:
    try:
        set_up(settings)
    except AssertionError as failure:
        log = LocalStackService(settings).log_file
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
        raise AssertionError(f"{failure}\nLocalStack log (tail):\n{tail}") from None


def stop_services(settings: Settings) -> None:
    """Stops whatever of the stack runs (no snapshot: its state folder is thrown away)."""
    for service in (LocalStackService(settings), MySqlService(settings)):
        try:
            service.stop()
        except Exception as exc:  # keep stopping the other one
            print(f"stopping {service.name} failed: {exc}")


def _keep_logs(settings: Settings, label: str) -> None:
    LOGS.mkdir(exist_ok=True)
    for log in (LocalStackService(settings).log_file, MySqlService(settings).log_file):
        if log.exists():
            shutil.copy(log, LOGS / f"{label}-{log.name}")


@contextmanager
def private_stack(label: str, **overrides: Any) -> Iterator[Settings]:
    """A running, provisioned LocalStack + MariaDB of one's own, as Settings (``overrides``: other settings,
    e.g. the trigger). Skips the caller when the suite runs against an external stack
    (CSVDROP_TEST_EXTERNAL_STACK): tests that stop services need their own."""
    if os.environ.get("CSVDROP_TEST_EXTERNAL_STACK"):
        pytest.skip(f"{label}: stops or restarts services, so it needs its own private stack")
    state = Path(tempfile.mkdtemp(prefix=f"csvdrop-test-{label}-"))
    ls_port, my_port = free_port(), free_port()
    settings = isolated_settings(
        state,
        localstack_venv=shared_localstack_venv(),  # shared, as in tests/conftest.py
        localstack_port=ls_port,
        aws_endpoint=f"http://127.0.0.1:{ls_port}",
        mysql_port=my_port,
        **overrides,
    )
    try:
        bring_up(settings, print, use_docker=False)
        setup_or_fail(settings)
        yield settings
    finally:
        stop_services(settings)
        _keep_logs(settings, label)
        shutil.rmtree(state, ignore_errors=True)
