"""The local cloud: LocalStack + a MySQL-compatible server, started as plain processes (no Docker).

``stack_up`` is idempotent: a service already answering on its endpoint (started by us, by docker compose,
or named by the environment) is used as it is; only missing ones are started.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from backend.config import Settings
from backend.resources import compose_file
from backend.stack.localstack import LocalStackService
from backend.stack.mysql import MySqlService
from backend.stack.processes import StackError, tail

__all__ = ["ServiceStatus", "StackError", "stack_down", "stack_logs", "stack_status", "stack_up"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    endpoint: str
    healthy: bool
    detail: str
    managed: bool


def _services(settings: Settings) -> tuple[LocalStackService, MySqlService]:
    return LocalStackService(_localstack_settings(settings)), MySqlService(settings)


def _localstack_settings(settings: Settings) -> Settings:
    """The LocalStack port follows the endpoint when only the endpoint was configured."""
    port = urlparse(settings.aws_endpoint).port
    if port and port != settings.localstack_port and settings.localstack_port == 4566:
        return settings.replace(localstack_port=port)
    return settings


def docker_compose_available() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    result = subprocess.run([docker, "info"], capture_output=True, check=False, timeout=10)
    return result.returncode == 0


def stack_up(settings: Settings, on_message: Say | None = None, *, use_docker: bool | None = None) -> str:
    """Starts what is missing and says how LocalStack came up: "started" (a fresh, empty LocalStack), "docker",
    "aws" (nothing to start) or another word for one that was already answering. The environment inside a
    fresh LocalStack is put back by ``backend.environment.bring_up``, which calls this first."""
    say = on_message or (lambda _m: None)
    if settings.mode == "aws":
        say("mode = aws: nothing to start locally (using real AWS and the configured database).")
        return "aws"
    localstack, mysql = _services(settings)
    if use_docker is None:
        use_docker = not localstack.healthy() and docker_compose_available()
    if use_docker:
        say("Docker is running: starting the stack with docker compose (same LocalStack build and executor).")
        result = subprocess.run(
            ["docker", "compose", "-f", str(compose_file()), "up", "-d", "--wait"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"docker compose up failed:\n{result.stderr[-2000:]}")
        return "docker"
    started = time.monotonic()
    say(f"mysql: {mysql.start()} ({mysql.endpoint}) in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    outcome = localstack.start(say)
    say(f"localstack: {outcome} ({localstack.endpoint}) in {time.monotonic() - started:.1f} s")
    return outcome


def localstack_endpoint(settings: Settings) -> str:
    return _services(settings)[0].endpoint


def stack_down(settings: Settings, on_message: Say | None = None) -> None:
    say = on_message or (lambda _m: None)
    localstack, mysql = _services(settings)
    if localstack.managed_pid() and localstack.healthy():
        from backend.stack.snapshot import drain_writes

        # Acknowledged writes are in the S3 journal already; the barrier lets the ones under way finish.
        drain_writes(localstack.endpoint, say)
    say(f"localstack: {localstack.stop()}")
    say(f"mysql: {mysql.stop()}")


def stack_status(settings: Settings) -> list[ServiceStatus]:
    localstack, mysql = _services(settings)
    if settings.mode == "aws":
        return [
            ServiceStatus("aws", f"region {settings.region}", True, "real AWS (not started locally)", False),
            ServiceStatus("mysql", mysql.endpoint, mysql.healthy(), "configured database", False),
        ]
    health = localstack.health()
    ls_detail = "not answering"
    if health is not None:
        services = health.get("services", {})
        running = sorted(k for k, v in services.items() if v == "running") if isinstance(services, dict) else []
        ls_detail = f"version {health.get('version', '?')}; running: {', '.join(running) or 'none yet'}"
    my_ok = mysql.healthy()
    return [
        ServiceStatus(
            "localstack", localstack.endpoint, health is not None, ls_detail, localstack.managed_pid() is not None
        ),
        ServiceStatus(
            "mysql", mysql.endpoint, my_ok, "answering" if my_ok else "not answering", mysql.managed_pid() is not None
        ),
    ]


def stack_logs(settings: Settings, service: str = "localstack", lines: int = 50) -> tuple[Path, str]:
    localstack, mysql = _services(settings)
    path = localstack.log_file if service == "localstack" else mysql.log_file
    return path, tail(path, lines)
