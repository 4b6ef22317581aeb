"""Files the backend reads besides its own modules: the function's source, the CSV rules zipped into it, the
LocalStack constraints, the executor plugin and the compose file.

An installed app has them as package data under ``backend/_bundled/``, in the checkout's own layout
(``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml puts them there). Running from the source
checkout, where that folder does not exist, they are the checkout's own files: the checkout is the one source,
nothing is copied into it. Every function returns a real filesystem path, because its callers hand it to uv,
docker compose or a zip writer. Nothing here is ever written to: build outputs go under ``Settings.state_dir``.
"""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

from backend.config import PROJECT_ROOT
from backend.errors import CsvDropError

# The package-data folder inside ``backend`` in a wheel.
BUNDLE = "_bundled"

# Paths handed out by as_file() stay valid until the process ends: for a package imported from plain files (any
# normal install) they are the files themselves; only a zip import gets temporary copies, removed at exit.
_open_paths = ExitStack()
atexit.register(_open_paths.close)


class ResourceError(CsvDropError, RuntimeError):
    """A file CSV Drop ships with is missing: the installation is incomplete."""


def _real_path(resource: Traversable) -> Path:
    return _open_paths.enter_context(as_file(resource))


@functools.cache
def _root() -> Path:
    """``backend/_bundled`` when installed from a wheel, else the source checkout's root."""
    bundled = files("backend").joinpath(BUNDLE)
    if bundled.is_dir():
        return _real_path(bundled)
    return PROJECT_ROOT


def _shipped(relative: str) -> Path:
    path = _root() / relative
    if not path.exists():
        raise ResourceError(
            f"{relative} is missing from {_root()}: this CSV Drop installation is incomplete. Reinstall it "
            "from a wheel built by `uv build` (or run it from a full source checkout)."
        )
    return path


def function_source_dir() -> Path:
    """The function's modules and ``requirements.txt`` (``lambda/``: a folder, ``lambda`` being a keyword)."""
    return _shipped("lambda")


def function_requirements() -> Path:
    """The function's dependencies, which become its Lambda layer."""
    return _shipped("lambda/requirements.txt")


def csv_rules_dir() -> Path:
    """The ``csvtable`` package (standard library only), zipped into the function beside its modules. It is an
    ordinary package of the app, so it is found wherever Python imports it from."""
    return _real_path(files("csvtable"))


def localstack_constraints() -> Path:
    """The pinned versions LocalStack's own virtual environment is installed with."""
    return _shipped("stack/localstack-constraints.txt")


def executor_package() -> Path:
    """The source folder of the LocalStack executor plugin (a project of its own, installed by path)."""
    return _shipped("lambda_executor")


def compose_file() -> Path:
    """``docker-compose.yml``; its build context is its own folder (``stack/Dockerfile``, ``lambda_executor/``)."""
    return _shipped("docker-compose.yml")
