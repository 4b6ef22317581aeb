"""LocalStack from the ``localstack-core`` package, run directly on the host (no Docker).

It is a service, not a library of the app, so it lives in its own virtual environment with pinned
constraints (``stack/localstack-constraints.txt``) plus our Lambda executor plugin (``lambda_executor/``),
which runs Python functions as local child processes instead of containers. Both are read through
:mod:`backend.resources` (package data when installed); the venv and all state live under ``Settings.state_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from backend import resources
from backend.config import Settings
from backend.stack.processes import (
    StackError,
    port_is_open,
    port_owner,
    read_pid,
    spawn,
    tail,
    terminate_tree,
    wait_until,
)

LOCALSTACK_VERSION = "2026.3.0"
EXECUTOR_NAME = "csvdrop-local"
# No `cloudwatch` (metrics): LocalStack records a metric per Lambda invocation with no switch to turn it off,
# ~6 ms of its CPU per invoke; CSV Drop uses Logs, not metrics.
SERVICES = "s3,lambda,sns,sqs,logs,secretsmanager,dynamodb,iam,sts,ses,events"
_INSTALL_STAMP = ".csvdrop-install-stamp"


def _inputs_digest() -> str:
    """Hash of everything installed into the service venv: a change means reinstall."""
    h = hashlib.sha256(LOCALSTACK_VERSION.encode())
    h.update(resources.localstack_constraints().read_bytes())
    executor = resources.executor_package()
    for path in sorted(executor.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".egg-info"):
            h.update(str(path.relative_to(executor)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _uv() -> list[str] | None:
    local = Path(sys.executable).parent / "uv"
    if local.exists():
        return [str(local)]
    found = shutil.which("uv")
    return [found] if found else None


def ensure_venv(settings: Settings, on_message: Callable[[str], None] | None = None) -> Path:
    """Create or update LocalStack's own venv; returns its python. Quick when nothing changed."""
    venv = settings.localstack_venv_dir
    python = venv / "bin" / "python"
    digest = _inputs_digest()
    stamp = venv / _INSTALL_STAMP
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    say = on_message or (lambda _msg: None)
    say(f"Installing LocalStack {LOCALSTACK_VERSION} and the csvdrop Lambda executor into {venv} (once, ~30 s)")
    base_python = settings.service_python or sys.executable
    uv = _uv()
    constraints = str(resources.localstack_constraints())
    executor = str(resources.executor_package())
    packages = [f"localstack-core[runtime]=={LOCALSTACK_VERSION}", executor]
    if uv:
        steps = [
            [*uv, "venv", "--quiet", "--allow-existing", "--python", base_python, str(venv)],
            [
                *uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                "-c",
                constraints,
                "--reinstall-package",
                "csvdrop-lambda-executor",
                *packages,
            ],
        ]
    else:
        steps = [
            [base_python, "-m", "venv", str(venv)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "-c",
                constraints,
                "--force-reinstall",
                "--no-deps",
                executor,
            ],
            [str(python), "-m", "pip", "install", "--quiet", "-c", constraints, *packages],
        ]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    for argv in steps:
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise StackError(
                f"Installing LocalStack failed ({' '.join(argv[:3])} ...):\n{(result.stderr or result.stdout)[-3000:]}"
            )
    stamp.write_text(digest)
    return python


class LocalStackService:
    name = "localstack"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "localstack"
        self.pid_file = self.home / "localstack.pid"
        self.log_file = self.home / "localstack.log"
        self.host = "127.0.0.1"
        self.port = settings.localstack_port

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def health(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as resp:
                data: dict[str, object] = json.loads(resp.read())
                return data
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def healthy(self) -> bool:
        return self.health() is not None

    def managed_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def environment(self) -> dict[str, str]:
        dirs = {name: self.home / name for name in ("fs", "volume", "config", "tmp", "cache")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "LOCALSTACK_", "VIRTUAL_ENV", "PYTHON")) and k != "PATH"
        }
        env.update(
            PATH=f"{self.settings.localstack_venv_dir / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            # This machine may carry /.dockerenv; without this LocalStack writes to /var/lib/localstack.
            OVERRIDE_IN_DOCKER="0",
            GATEWAY_LISTEN=f"{self.host}:{self.port}",
            # LocalStack's Twisted server bound to GATEWAY_LISTEN's host (its own binds every interface;
            # hypercorn binds correctly but costs LocalStack twice the CPU per request): see server.py.
            GATEWAY_SERVER="csvdrop-twisted",
            FILESYSTEM_ROOT=str(dirs["fs"]),
            LOCALSTACK_VOLUME_DIR=str(dirs["volume"]),
            CONFIG_DIR=str(dirs["config"]),
            TMPDIR=str(dirs["tmp"]),
            XDG_CACHE_HOME=str(dirs["cache"]),
            DISABLE_EVENTS="1",
            SKIP_SSL_CERT_DOWNLOAD="1",
            DNS_ADDRESS="0",
            SQS_DISABLE_CLOUDWATCH_METRICS="1",
            SERVICES=SERVICES,
            # LocalStack's internal clients (S3 -> Lambda, SNS -> SQS, log delivery) call the gateway
            # in-process instead of over HTTP: about a third less CPU per invocation.
            IN_MEMORY_CLIENT="1",
            EAGER_SERVICE_LOADING="0",
            LAMBDA_RUNTIME_EXECUTOR=EXECUTOR_NAME,
            # DynamoDB Local needs Java 21 and a download; our plugin serves DynamoDB from moto instead.
            PROVIDER_OVERRIDE_DYNAMODB="moto",
            LAMBDA_KEEPALIVE_MS=os.environ.get("LAMBDA_KEEPALIVE_MS", "600000"),
            # Async retries after 5 s and 10 s (AWS: about 1 and 2 minutes): a local fault heals quickly.
            LAMBDA_RETRY_BASE_DELAY=os.environ.get("LAMBDA_RETRY_BASE_DELAY", "5"),
            # The queue trigger's mapping long-polls (patches.py): no sleep after a batch, and the empty-poll backoff
            # (for a queue that answers at once, not after its 2 s wait) short, so an upload never waits on it.
            LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC="0",
            LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC="0.5",
            LOCALSTACK_HOST=f"{self.host}:{self.port}",
            CSVDROP_SERVICE_PYTHON=self.settings.service_python,
            # Every acknowledged S3 write is on disk before its 200 (the core keeps S3 in memory): durable_s3.py.
            # Set to "" to turn the journal off (the benchmark's baseline).
            CSVDROP_S3_JOURNAL_DIR=os.environ.get("CSVDROP_S3_JOURNAL_DIR", str(self.home / "s3-journal")),
        )
        if self.settings.local_lambda_concurrency > 0:  # else the plugin's default: the CPUs, at least 2
            env["CSVDROP_LAMBDA_ASYNC_CONCURRENCY"] = str(self.settings.local_lambda_concurrency)
        return env

    def start(self, on_message: Callable[[str], None] | None = None) -> str:
        if self.managed_pid():
            if wait_until(self.healthy, 30):
                return "already running"
            raise StackError(
                f"LocalStack (pid {self.managed_pid()}) is running but not healthy. "
                f"Log {self.log_file}:\n{tail(self.log_file)}"
            )
        if port_is_open(self.host, self.port):
            if self.healthy():
                return f"found LocalStack already answering at {self.endpoint} (not managed by csvdrop)"
            raise StackError(
                f"Port {self.port} on {self.host} is taken by {port_owner(self.port)}, which is not LocalStack. "
                "Stop it, or choose another port with CSVDROP_LOCALSTACK_PORT and CSVDROP_AWS_ENDPOINT."
            )
        python = ensure_venv(self.settings, on_message)
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")
        pid = spawn(
            [str(python), "-m", "localstack.runtime.main"],
            env=self.environment(),
            log_file=self.log_file,
            cwd=self.home,
        )
        self.pid_file.write_text(str(pid))

        def ready_or_dead() -> bool:
            return self.healthy() or read_pid(self.pid_file) is None

        wait_until(ready_or_dead, 60)
        if not self.healthy():
            pid_alive = read_pid(self.pid_file)
            if pid_alive:
                terminate_tree(pid_alive, timeout_s=5)
            raise StackError(f"LocalStack failed to start. Last lines of {self.log_file}:\n{tail(self.log_file)}")
        return "started"

    def stop(self) -> str:
        pid = self.managed_pid()
        if pid is None:
            return "not running"
        # SIGTERM shutdown takes ~5 s; once it hung in the SQS metrics thread, hence the kill fallback.
        terminate_tree(pid, timeout_s=12)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"
