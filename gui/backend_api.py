"""The one place the GUI calls the backend: :class:`BackendApi`, typed in the backend's own types.

Every method may block (network, database, disk): call them from a job (:mod:`gui.jobs`), never on the GUI
thread. :class:`Backend` is the real implementation; tests pass their own object, checked against the same
Protocol by mypy, so a fake cannot drift from what the window really receives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from backend.errors import CsvDropError

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.environment import BringUp, Health
    from backend.export import Format
    from backend.files import DeleteOutcome, Invocation, ReprocessOutcome
    from backend.notices import NoticeSource, ReaderQueue
    from backend.steps import Step
    from backend.store import MetadataReader, MetadataRecord
    from backend.upload import UploadResult
    from backend.validation import ValidationResult

log = logging.getLogger(__name__)


def is_user_facing(exc: BaseException) -> bool:
    return isinstance(exc, CsvDropError)


def is_cancelled(exc: BaseException) -> bool:
    from backend.upload import UploadCancelled

    return isinstance(exc, UploadCancelled)


def describe_error(exc: BaseException) -> str:
    """A message for the user: the backend's own message, or a short description of a surprise."""
    if is_user_facing(exc):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    log.error("unexpected error in a background job", exc_info=exc)
    text = str(exc)
    return f"Unexpected error ({type(exc).__name__}{': ' + text if text else ''}). Details are in the log."


class BackendApi(Protocol):
    """What the window needs from the backend, and nothing else."""

    # -- local files
    def expand_paths(self, paths: Sequence[Path]) -> list[Path]: ...

    def validate_file(self, path: Path, max_bytes: int) -> ValidationResult: ...

    # -- upload
    def object_key_for(self, settings: Settings, path: Path) -> str: ...

    def upload_file(
        self,
        settings: Settings,
        path: Path,
        *,
        key: str | None,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
    ) -> UploadResult: ...

    # -- metadata store and notices
    def open_reader(self, settings: Settings) -> MetadataReader: ...

    def open_notices(
        self, settings: Settings, on_open: Callable[[ReaderQueue], None] | None = None
    ) -> NoticeSource: ...

    # -- environment
    def environment_status(self, settings: Settings) -> dict[str, Health]: ...

    def setup_steps(self, settings: Settings, notify_email: str | None = None) -> list[Step]: ...

    def teardown_steps(self, settings: Settings) -> list[Step]: ...

    def bring_up(self, settings: Settings, on_message: Callable[[str], None] | None = None) -> BringUp: ...

    # -- file actions on objects in the bucket
    def download_file(
        self,
        settings: Settings,
        bucket: str,
        key: str,
        dest: Path,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
        overwrite: bool = False,
    ) -> Path: ...

    def delete_files(
        self, settings: Settings, bucket: str, keys: Sequence[str], *, wait_s: float = 30.0
    ) -> DeleteOutcome: ...

    def reprocess_files(self, settings: Settings, bucket: str, keys: Sequence[str]) -> list[ReprocessOutcome]: ...

    def file_log_lines(
        self, settings: Settings, bucket: str, key: str, *, since: datetime | None = None, limit: int = 20
    ) -> list[Invocation]: ...

    def presigned_url(self, settings: Settings, bucket: str, key: str, expires_s: int = 3600) -> str: ...

    # -- files written by the GUI
    def export_records(self, records: Iterable[MetadataRecord], path: Path, fmt: Format) -> int: ...

    def save_settings(self, settings: Settings, keys: list[str] | None = None) -> Path: ...


class Backend:
    """Thin, blocking calls into ``backend.*`` (implements :class:`BackendApi`).

    Each method imports its backend module when first called, on a worker: boto3 and pymysql cost more than a
    second to import, which would otherwise come before the window shows.
    """

    def expand_paths(self, paths: Sequence[Path]) -> list[Path]:
        from backend import validation

        return validation.expand_paths(list(paths))

    def validate_file(self, path: Path, max_bytes: int) -> ValidationResult:
        from backend import validation

        return validation.validate_file_isolated(path, max_bytes)

    def object_key_for(self, settings: Settings, path: Path) -> str:
        from backend import upload

        return upload.object_key_for(settings, path)

    def upload_file(
        self,
        settings: Settings,
        path: Path,
        *,
        key: str | None,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
    ) -> UploadResult:
        from backend import upload

        return upload.upload_file(settings, path, key=key, on_progress=on_progress, cancel=cancel)

    def open_reader(self, settings: Settings) -> MetadataReader:
        from backend import store

        return store.open_reader(settings)

    def open_notices(self, settings: Settings, on_open: Callable[[ReaderQueue], None] | None = None) -> NoticeSource:
        """The window's reader: its own queue (the window's slot on this machine), told to ``on_open``."""
        from backend import notices

        return notices.NoticeReader(settings, kind="app", on_open=on_open)

    def environment_status(self, settings: Settings) -> dict[str, Health]:
        from backend import environment

        return environment.environment_status(settings)

    def setup_steps(self, settings: Settings, notify_email: str | None = None) -> list[Step]:
        from backend import provisioning

        return provisioning.setup_steps(settings, notify_email=notify_email)

    def teardown_steps(self, settings: Settings) -> list[Step]:
        from backend import provisioning

        return provisioning.teardown_steps(settings)

    def bring_up(self, settings: Settings, on_message: Callable[[str], None] | None = None) -> BringUp:
        from backend import environment

        return environment.bring_up(settings, on_message=on_message)

    def download_file(
        self,
        settings: Settings,
        bucket: str,
        key: str,
        dest: Path,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
        overwrite: bool = False,
    ) -> Path:
        from backend import files

        return files.download(settings, bucket, key, dest, on_progress=on_progress, cancel=cancel, overwrite=overwrite)

    def delete_files(
        self, settings: Settings, bucket: str, keys: Sequence[str], *, wait_s: float = 30.0
    ) -> DeleteOutcome:
        from backend import files

        return files.delete_files(settings, keys, bucket=bucket, wait_s=wait_s)

    def reprocess_files(self, settings: Settings, bucket: str, keys: Sequence[str]) -> list[ReprocessOutcome]:
        from backend import files

        return files.reprocess(settings, keys, bucket=bucket)

    def file_log_lines(
        self, settings: Settings, bucket: str, key: str, *, since: datetime | None = None, limit: int = 20
    ) -> list[Invocation]:
        from backend import files

        return files.log_lines(settings, bucket, key, since=since, limit=limit)

    def presigned_url(self, settings: Settings, bucket: str, key: str, expires_s: int = 3600) -> str:
        from backend import files

        return files.presigned_url(settings, bucket, key, expires_s)

    def export_records(self, records: Iterable[MetadataRecord], path: Path, fmt: Format) -> int:
        from backend import export

        return export.export_records(records, path, fmt)

    def save_settings(self, settings: Settings, keys: list[str] | None = None) -> Path:
        from backend import config

        return config.save_settings(settings, keys)


def _conforms(backend: Backend) -> BackendApi:
    return backend  # mypy checks here that Backend implements every method of BackendApi
