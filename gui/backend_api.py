"""The one place the GUI calls the backend.

Every method here may block (network, database, disk): call them from a job (:mod:`gui.jobs`), never on
the GUI thread. Backend modules are imported when first used, so the window still opens (and says what
is missing) while a backend module is unavailable. Tests pass their own object with the same methods.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from backend.config import Settings

log = logging.getLogger(__name__)

# Backend exception classes whose str() is already a message for the user (checked by class name so
# this module does not import every backend module up front).
USER_FACING_ERRORS = frozenset(
    {
        "ConfigError",
        "UploadError",
        "UploadCancelled",
        "StoreError",
        "NoticeError",
        "ProvisioningError",
        "StackError",
        "ExportError",
    }
)


def is_user_facing(exc: BaseException) -> bool:
    return any(cls.__name__ in USER_FACING_ERRORS for cls in type(exc).__mro__)


def is_cancelled(exc: BaseException) -> bool:
    return any(cls.__name__ == "UploadCancelled" for cls in type(exc).__mro__)


def describe_error(exc: BaseException) -> str:
    """A message for the user: the backend's own message, or a short description of a surprise."""
    if is_user_facing(exc):
        return str(exc) or type(exc).__name__
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("backend"):
        return f"This build of CSV Drop is missing the module {exc.name}; reinstall or update it."
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    log.error("unexpected error in a background job", exc_info=exc)
    text = str(exc)
    return f"Unexpected error ({type(exc).__name__}{': ' + text if text else ''}). Details are in the log."


def _module(name: str) -> Any:
    """``backend.<name>``, imported on first use (typed Any: some modules land after the GUI)."""
    return importlib.import_module(f"backend.{name}")


class Backend:
    """Thin, blocking calls into ``backend.*``."""

    # -- local files -------------------------------------------------------------------------------
    def expand_paths(self, paths: Sequence[Path]) -> list[Path]:
        return list(_module("validation").expand_paths(list(paths)))

    def validate_file(self, path: Path, max_bytes: int) -> Any:
        return _module("validation").validate_file_isolated(path, max_bytes)

    # -- upload ------------------------------------------------------------------------------------
    def object_key_for(self, settings: Settings, path: Path) -> str:
        from backend import upload

        return str(upload.object_key_for(settings, path))

    def upload_file(
        self,
        settings: Settings,
        path: Path,
        *,
        key: str | None,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
    ) -> Any:
        from backend import upload

        return upload.upload_file(settings, path, key=key, on_progress=on_progress, cancel=cancel)

    # -- metadata store and notices ----------------------------------------------------------------
    def open_reader(self, settings: Settings) -> Any:
        from backend import store

        return store.open_reader(settings)

    def open_notices(self, settings: Settings) -> Any:
        from backend import notices

        return notices.NoticeReader(settings)

    # -- environment -------------------------------------------------------------------------------
    def environment_status(self, settings: Settings) -> dict[str, Any]:
        from backend import environment

        return dict(environment.environment_status(settings))

    def setup_steps(self, settings: Settings, notify_email: str | None = None) -> list[Any]:
        from backend import provisioning

        return list(provisioning.setup_steps(settings, notify_email=notify_email))

    def teardown_steps(self, settings: Settings) -> list[Any]:
        from backend import provisioning

        return list(provisioning.teardown_steps(settings))

    def stack_up(self, settings: Settings, on_message: Callable[[str], None] | None = None) -> None:
        from backend import environment

        environment.bring_up(settings, on_message=on_message)

    def stack_status(self, settings: Settings) -> list[Any]:
        from backend import stack

        return list(stack.stack_status(settings))

    # -- files written by the GUI --------------------------------------------------------------------
    def export_records(self, records: Iterable[Any], path: Path, fmt: str) -> None:
        _module("export").export_records(list(records), path, fmt)

    def save_settings(self, settings: Settings, keys: list[str] | None = None) -> Path:
        from backend import config

        return config.save_settings(settings, keys)
