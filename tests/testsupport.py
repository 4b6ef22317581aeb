"""Helpers shared by test modules (not fixtures): import them from here, never from a conftest
(several conftest modules exist, and `from conftest import` would pick whichever was imported first)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from backend.config import Settings, load_settings
from backend.steps import PlanOutcome

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class NotYet:
    """A falsy answer from a ``wait_until`` condition that carries what it saw instead, so a timeout says more
    than "last value: None" (e.g. the record with the old ETag, or the keys still missing)."""

    seen: Any

    # Literal[False]: mypy then knows that a truthy answer is never a NotYet (see wait_until).
    def __bool__(self) -> Literal[False]:
        return False


# Returns T, without NotYet or None: only a truthy answer is returned, and neither of them ever is one.
def wait_until[T](condition: Callable[[], T | NotYet | None], timeout: float, what: str, *, interval: float = 0.1) -> T:
    """Calls ``condition`` until it returns something truthy and returns that. After ``timeout`` seconds it
    raises AssertionError naming ``what`` and the last value seen. The suite's one poll loop: a test waits for
    something it can observe (a record, a log line, a process state, a message), never for a fixed time.
    Exceptions from ``condition`` propagate at once (a test may wait for one with pytest.raises)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = value.seen if isinstance(value, NotYet) else value
            shown = repr(seen)
            if len(shown) > 2000:
                shown = shown[:2000] + f"... ({len(shown)} characters)"
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {shown}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def isolated_settings(folder: Path, **overrides: Any) -> Settings:
    """Settings for a test: the defaults plus ``overrides``, with the config file and the state folder inside
    ``folder`` (which the test owns). Never the process environment, never the user's config file."""
    overrides.setdefault("state_dir", folder / "state")
    return load_settings(env={}, config_path=folder / "csvdrop-config.toml", **overrides)


def own_environment(stack: Settings, tag: str, bucket_prefix: str = "csvdrop-env-", **overrides: Any) -> Settings:
    """Settings for an environment of its own on a stack: every name (bucket, function, topic, queues, role,
    layer, secrets, database, users, table) made from ``tag``, plus ``overrides``. Not set up."""
    return stack.replace(
        bucket=f"{bucket_prefix}{tag}",
        function_name=f"process_csv_{tag}",
        topic_name=f"notices-{tag}",
        queue_name=f"app-notices-{tag}",
        role_name=f"csvdrop-role-{tag}",
        layer_name=f"csvdrop-deps-{tag}",
        db_secret_name=f"csvdrop-{tag}/db-writer",
        reader_secret_name=f"csvdrop-{tag}/db-reader",
        mysql_database=f"csvdrop_{tag}",
        mysql_writer_user=f"w_{tag}",
        mysql_reader_user=f"r_{tag}",
        dynamodb_table=f"CsvDrop{tag}",
        **overrides,
    )


def set_up(settings: Settings) -> PlanOutcome:
    """`csvdrop setup` for a test: every step must succeed, and the smoke test must not have needed a
    re-send (the product re-sends a file whose S3 event LocalStack dropped; a test must see that drop)."""
    from backend.provisioning import SMOKE_RESENT, run_setup

    outcome = run_setup(settings)
    assert outcome.ok, f"setup failed: {outcome.failed}"
    resent = [r for r in outcome.results if SMOKE_RESENT in r.detail]
    assert not resent, f"setup passed only after re-sending the smoke-test file: {resent}"
    return outcome


def shared_localstack_venv() -> Path:
    """One LocalStack venv for every test session (installing it costs ~10-30 s; its inputs are hashed, so a
    change rebuilds it). A cache of the test suite's own, never the user's stack venv."""
    configured = os.environ.get("CSVDROP_TEST_LOCALSTACK_VENV")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "csvdrop" / "test-localstack-venv"


def mysql_admin(settings: Settings) -> Any:
    """A direct admin connection, for asserting on rows in MySQL independently of the app's reader."""
    import pymysql

    return pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=settings.mysql_admin_user,
        password=settings.mysql_admin_password,
        database=settings.mysql_database,
        autocommit=True,
        cursorclass=pymysql.cursors.DictCursor,
    )


def assert_environment_gone(settings: Settings) -> None:
    """What teardown promises, checked in the services themselves: no bucket, function, topic, queue or
    metadata database left under this environment's names."""
    from botocore.exceptions import ClientError

    from backend import aws
    from backend.notices import reader_queue_prefix

    s3 = aws.client(settings, "s3")
    try:
        s3.head_bucket(Bucket=settings.bucket)
        raise AssertionError(f"the bucket {settings.bucket} is still there")
    except ClientError:
        pass
    try:
        aws.client(settings, "lambda").get_function(FunctionName=settings.function_name)
        raise AssertionError(f"the function {settings.function_name} is still there")
    except ClientError:
        pass
    topics = aws.client(settings, "sns").list_topics()["Topics"]
    assert not [t for t in topics if t["TopicArn"].endswith(":" + settings.topic_name)], "the topic is still there"
    left = aws.client(settings, "sqs").list_queues(QueueNamePrefix=reader_queue_prefix(settings)).get("QueueUrls", [])
    assert not left, f"notice queues are still there: {left}"
    conn = mysql_admin(settings.replace(mysql_database=""))
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (settings.mysql_database,))
            assert not cur.fetchall(), f"the database {settings.mysql_database} is still there"
    finally:
        conn.close()


def validate_as_nobody(path: Path, max_bytes: int) -> str | None:
    """In a child process: become user `nobody`, then check ``path`` as the desktop app does (the modules are
    imported first, while the child may still read the checkout and the interpreter's files)."""
    from backend.validation import validate_file

    os.setgid(65534)
    os.setuid(65534)
    return validate_file(path, max_bytes).reason
