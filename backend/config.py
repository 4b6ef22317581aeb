"""Settings: defaults in one place, then a TOML config file, then ``CSVDROP_*`` environment variables.

Every part of CSV Drop (CLI, GUI, provisioning, stack launcher, tests) reads its settings from
:func:`load_settings`, so one ``csvdrop config`` shows exactly what the app talks to.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_type_hints

from backend.errors import CsvDropError

Mode = Literal["local", "aws"]
StoreKind = Literal["mysql", "dynamodb"]
TriggerKind = Literal["direct", "queue"]

# The source checkout's root when running from one; in an installed app it is site-packages. The app reads its
# shipped files through backend.resources and writes only under state_dir, never here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "CSVDROP_"
MB = 1024 * 1024
# Below this a file goes in one PutObject, whose answer carries the ETag. The managed transfer (a thread pool
# per call) and the HEAD it needs for the ETag cost the app and LocalStack more CPU than a small file's upload
# itself (`python -m bench load`); there is no progress worth drawing under a megabyte either.
SINGLE_REQUEST_BYTES = 1024 * 1024


# Such a file's upload is one short request that leaves its connection idle while LocalStack (or S3) answers,
# so `parallel_uploads` bounds large files and small ones run this many times as many at once: a drop of
# 1,000 x 10 KB went from 35 to 48 files/s end to end (`python -m bench load`, 3 against 12 at once).
SMALL_UPLOADS_PER_SLOT = 4


def single_request(size: int) -> bool:
    """Whether a file of ``size`` bytes is uploaded in one PutObject (and in the small files' lane)."""
    return size < SINGLE_REQUEST_BYTES


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "csvdrop" / "config.toml"


def default_state_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "csvdrop"


@dataclass(frozen=True)
class Settings:
    """Everything CSV Drop can be told. Field names are the config-file keys and, upper-cased with the
    ``CSVDROP_`` prefix, the environment variables (``aws_endpoint`` -> ``CSVDROP_AWS_ENDPOINT``)."""

    # Where the cloud is. "local": LocalStack at aws_endpoint (started by `csvdrop stack up` unless the
    # endpoint is already served). "aws": real AWS, credentials and endpoints from the usual AWS chain.
    mode: Mode = "local"
    aws_endpoint: str = "http://127.0.0.1:4566"
    region: str = "us-east-1"
    aws_profile: str = ""

    bucket: str = "my-csv-bucket"
    # Uploads land under this prefix ("" = bucket root, as in the seed design's README).
    key_prefix: str = ""
    function_name: str = "process_csv"
    lambda_runtime: str = "python3.13"
    lambda_timeout_s: int = 60
    lambda_memory_mb: int = 1024
    topic_name: str = "csv-metadata-notices"
    queue_name: str = "csvdrop-app-notices"
    db_secret_name: str = "csvdrop/db-writer"
    reader_secret_name: str = "csvdrop/db-reader"
    role_name: str = "csvdrop-process-csv-role"
    layer_name: str = "csvdrop-deps"

    # How uploads reach the function. "direct": S3 invokes it once per object (asynchronously, with Lambda's
    # retries). "queue": S3 -> an SQS ingest queue -> the function in batches (one transaction and one notice
    # batch per invocation; a file that keeps failing goes to a dead-letter queue after queue_max_receives).
    # The queue is the default: about 2x the files per second of direct for the same single-file latency
    # (`python -m bench load` / `pipeline`, README "Two triggers").
    trigger: TriggerKind = "queue"
    # Messages per invocation: 1..10 without a batching window (SNS PublishBatch takes 10 too), up to 10,000
    # with one (AWS's limits for an SQS event source).
    queue_batch_size: int = 10
    queue_batch_window_s: int = 0
    queue_max_receives: int = 3
    # 0 = 6 x lambda_timeout_s, AWS's guidance for a queue that feeds a function (it must be at least the
    # function's timeout, or a message becomes visible again while its invocation still runs).
    queue_visibility_timeout_s: int = 0

    metadata_store: StoreKind = "mysql"
    dynamodb_table: str = "MetadataTable"

    # The MySQL-compatible server ("RDS"). The admin account is used only by setup/teardown.
    mysql_host: str = "127.0.0.1"
    mysql_port: int = 3307
    mysql_database: str = "csvdrop"
    mysql_admin_user: str = "root"
    mysql_admin_password: str = ""
    mysql_writer_user: str = "csvdrop_writer"
    mysql_reader_user: str = "csvdrop_reader"
    # Host the Lambda uses to reach MySQL (differs from mysql_host under docker compose / real RDS).
    mysql_host_for_lambda: str = ""

    max_file_bytes: int = 10 * MB
    parallel_uploads: int = 3
    multipart_threshold_bytes: int = 8 * MB
    poll_interval_ms: int = 1000

    # Local stack (no Docker): ports, private state, the service's own virtual environment.
    localstack_port: int = 4566
    state_dir: Path = field(default_factory=default_state_dir)
    # Empty means "state_dir / localstack-venv"; tests share one venv across throwaway state dirs.
    localstack_venv: Path | None = None
    # Python used to build the LocalStack venv and to run python3.x Lambda functions ("" = search).
    service_python: str = ""
    # Async invocations of one function that the local stack runs at once (0 = its CPUs, at least 2). Each
    # is a local process whose cold start costs about a second of CPU: more of them than CPUs add cold
    # starts, not throughput. Real AWS scales by itself; this is not sent there.
    local_lambda_concurrency: int = 0

    config_path: Path = field(default_factory=default_config_path)

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint boto3 should use: None on real AWS."""
        return self.aws_endpoint or None if self.mode == "local" else None

    @property
    def small_uploads_at_once(self) -> int:
        """Files under SINGLE_REQUEST_BYTES uploaded at once: SMALL_UPLOADS_PER_SLOT per parallel upload."""
        return max(1, self.parallel_uploads) * SMALL_UPLOADS_PER_SLOT

    @property
    def queue_visibility_timeout(self) -> int:
        """The ingest queue's visibility timeout in seconds (queue_visibility_timeout_s, or its default)."""
        return self.queue_visibility_timeout_s or 6 * self.lambda_timeout_s

    @property
    def lambda_mysql_host(self) -> str:
        return self.mysql_host_for_lambda or self.mysql_host

    @property
    def localstack_venv_dir(self) -> Path:
        return self.localstack_venv or self.state_dir / "localstack-venv"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def public_dict(self) -> dict[str, Any]:
        """Effective settings for display: never a password."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if "password" in f.name:
                value = "***" if value else ""
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


_HINTS = get_type_hints(Settings)
# Whole-number settings with limits (AWS's, for the queue trigger): name -> (lowest, highest, what it means).
_RANGES: dict[str, tuple[int, int, str]] = {
    "queue_batch_size": (1, 10_000, "messages per invocation"),
    "queue_batch_window_s": (0, 300, "seconds to gather a batch"),
    "queue_max_receives": (1, 1000, "attempts before a message goes to the dead-letter queue"),
    "queue_visibility_timeout_s": (0, 43_200, "seconds (0 = 6 x lambda_timeout_s)"),
}


def _coerce(name: str, raw: Any) -> Any:
    hint = _HINTS[name]
    text = str(raw)
    if hint is int:
        try:
            number = int(text)
        except ValueError as exc:
            raise ConfigError(f"setting {name!r} must be a whole number, got {raw!r}") from exc
        if name in _RANGES:
            low, high, meaning = _RANGES[name]
            if not low <= number <= high:
                raise ConfigError(f"setting {name!r} must be from {low} to {high} ({meaning}), got {number}")
        return number
    if hint in (Path, Path | None):
        return Path(text).expanduser() if text else None
    if name == "mode" and text not in ("local", "aws"):
        raise ConfigError(f"setting 'mode' must be 'local' or 'aws', got {raw!r}")
    if name == "metadata_store" and text not in ("mysql", "dynamodb"):
        raise ConfigError(f"setting 'metadata_store' must be 'mysql' or 'dynamodb', got {raw!r}")
    if name == "trigger" and text not in ("direct", "queue"):
        raise ConfigError(
            f"setting 'trigger' must be 'direct' (S3 invokes the function) or 'queue' (S3 -> SQS -> the function "
            f"in batches), got {raw!r}"
        )
    return text


def check_settings(settings: Settings) -> Settings:
    """The limits that join two settings (each setting's own are checked as it is read); returns the settings."""
    s = settings
    for name in ("trigger", *_RANGES):
        _coerce(name, getattr(s, name))  # values set in code (replace, overrides) meet the same limits
    if s.queue_batch_size > 10 and s.queue_batch_window_s < 1:
        raise ConfigError(
            f"setting 'queue_batch_size' is {s.queue_batch_size}: more than 10 messages per invocation needs "
            "'queue_batch_window_s' of at least 1 (AWS's rule for SQS event sources); lower the batch size or set "
            "a window"
        )
    if s.queue_visibility_timeout_s and s.queue_visibility_timeout_s < s.lambda_timeout_s:
        raise ConfigError(
            f"setting 'queue_visibility_timeout_s' ({s.queue_visibility_timeout_s} s) is shorter than "
            f"'lambda_timeout_s' ({s.lambda_timeout_s} s): a message would be handed out again while the function "
            "still works on it (AWS refuses this); raise it, or set 0 for 6 x lambda_timeout_s"
        )
    return s


class ConfigError(CsvDropError, ValueError):
    """A setting has a value CSV Drop cannot use; the message names the setting."""


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    return dict(data.get("csvdrop", data))


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the config file, then the environment, then explicit overrides."""
    env = dict(os.environ if env is None else env)
    config_path = Path(env.get(ENV_PREFIX + "CONFIG") or overrides.get("config_path") or default_config_path())
    values: dict[str, Any] = {}
    names = {f.name for f in fields(Settings)}
    for key, raw in read_config_file(config_path).items():
        if key in names:
            values[key] = _coerce(key, raw)
    for name in names:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw)
    for name, value in overrides.items():
        values[name] = _coerce(name, value) if isinstance(value, str) else value
    values["config_path"] = config_path
    return check_settings(Settings(**values))


def save_settings(settings: Settings, keys: list[str] | None = None) -> Path:
    """Write (a subset of) the settings to the config file, keeping other keys already there."""
    path = settings.config_path
    current = read_config_file(path)
    public = settings.public_dict()
    for key in keys or list(public):
        if key in ("config_path",) or "password" in key:
            continue
        current[key] = public[key] if public[key] is not None else ""
    lines = ["[csvdrop]"] + [f"{k} = {_toml_value(v)}" for k, v in sorted(current.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)
