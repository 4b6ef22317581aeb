"""Load a module from the ``lambda/`` folder (not a package: ``lambda`` is a Python keyword), or a stdlib-only
module of the LocalStack plugin in ``lambda_executor/``.

The Lambda's modules import each other by plain name (``import csv_metadata``), exactly as in the deployed
function, so the folder itself goes on ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"


def load_lambda_module(name: str) -> ModuleType:
    """Import ``lambda/<name>.py`` as the top-level module ``name`` (cached in sys.modules like any import)."""
    path = str(LAMBDA_DIR)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(name)


EXECUTOR_DIR = Path(__file__).resolve().parent.parent / "lambda_executor" / "csvdrop_lambda_executor"


def load_executor_module(name: str) -> ModuleType:
    """Load a stdlib-only module of the LocalStack plugin by path (the package itself needs LocalStack)."""
    spec = importlib.util.spec_from_file_location(
        f"csvdrop_lambda_executor_{name}_under_test", EXECUTOR_DIR / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
