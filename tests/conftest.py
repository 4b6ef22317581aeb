"""Root test configuration.

The real-stack fixtures start one private LocalStack + MariaDB per test session, on free ports with state in
a temporary folder, so the suite never touches a user's own stack (4566/3307) and leaves no process behind.
Set CSVDROP_TEST_EXTERNAL_STACK=1 to run against the stack described by the usual settings instead.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never read the developer's own config file or stack state.
os.environ["CSVDROP_CONFIG"] = os.path.join(tempfile.gettempdir(), "csvdrop-test-no-config.toml")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testsupport import free_port, shared_localstack_venv

from backend.config import Settings, load_settings


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """A running local cloud (LocalStack with the csvdrop executor + MariaDB) as Settings."""
    if os.environ.get("CSVDROP_TEST_EXTERNAL_STACK"):
        yield load_settings()
        return
    from backend.environment import bring_up
    from backend.stack import stack_down

    state = Path(tempfile.mkdtemp(prefix="csvdrop-test-stack-"))
    ls_port, my_port = free_port(), free_port()
    settings = load_settings(
        env={},
        state_dir=state,
        localstack_venv=shared_localstack_venv(),
        localstack_port=ls_port,
        aws_endpoint=f"http://127.0.0.1:{ls_port}",
        mysql_port=my_port,
    )
    messages: list[str] = []
    try:
        bring_up(settings, messages.append, use_docker=False)
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

    results = run_setup(stack).results
    failed = [r for r in results if r.status == "failed"]
    assert not failed, f"setup failed: {failed}"
    return stack
