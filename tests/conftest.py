"""Root test configuration.

The real-stack fixtures start one private LocalStack + MariaDB per test session, on free ports with state in
a temporary folder, so the suite never touches a user's own stack (4566/3307) and leaves no process behind.
Set CSVDROP_TEST_EXTERNAL_STACK=1 to run against the stack described by the usual settings instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from testsupport import free_port, isolated_settings, own_environment, set_up, shared_localstack_venv

from backend.config import Settings, load_settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _isolate_from_the_users_settings_and_cloud() -> None:
    """Tests never read or write the developer's settings, stack state or cloud account, whatever their shell
    holds: the XDG folders the app reads point into a throwaway folder for the session (subprocesses such as
    `csvdrop` and `csvdrop-gui` inherit it), CSVDROP_* and AWS credential variables are dropped, and the AWS
    config/credential files point at nothing. Only the variables that steer the test run itself are kept."""
    if os.environ.get("CSVDROP_TEST_EXTERNAL_STACK"):  # the developer asked for their own stack and settings
        return
    home = Path(tempfile.mkdtemp(prefix="csvdrop-test-home-"))
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    keep = {"CSVDROP_CORPUS_CACHE", "CSVDROP_DEBUG", "CSVDROP_LOG_LEVEL"}
    for name in list(os.environ):
        steers_the_tests = name in keep or name.startswith("CSVDROP_TEST_")
        if (name.startswith("CSVDROP_") and not steers_the_tests) or name in _AWS_ACCOUNT_VARIABLES:
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = str(home / "aws-config-absent")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "aws-credentials-absent")
    os.environ["CSVDROP_CONFIG"] = str(home / "config" / "csvdrop" / "config.toml")


_AWS_ACCOUNT_VARIABLES = {
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
}
_isolate_from_the_users_settings_and_cloud()


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
    settings = isolated_settings(
        state,
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


@pytest.fixture
def separate_environment(stack: Settings) -> Settings:
    """An environment of its own on the session's stack (its own names), set up, for a test that tears it
    down: the shared `provisioned` one stays whole for the other tests."""
    settings = own_environment(stack, uuid.uuid4().hex[:6], bucket_prefix="csvdrop-teardown-")
    set_up(settings)
    return settings


@pytest.fixture(scope="session")
def provisioned(stack: Settings) -> Settings:
    """The stack with `csvdrop setup` run on it (bucket, store, topic, queue, function, trigger)."""
    set_up(stack)
    return stack


@pytest.fixture(scope="session")
def restartable_stack() -> Iterator[Settings]:
    """A private, provisioned stack that tests may stop, kill and restart (never the session `stack` others
    share): one per session for the fault tests of every folder, as each start costs ~30 s. The direct trigger:
    tests/integration/test_faults.py tests its faults (the queue trigger's are in test_queue_trigger.py); the
    other users do not depend on the trigger."""
    from private_stack import private_stack

    with private_stack("restartable", trigger="direct") as settings:
        yield settings
