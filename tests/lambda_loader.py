"""Load a module from the ``lambda/`` folder (not a package: ``lambda`` is a Python keyword).

The Lambda's modules import each other by plain name (``import csv_metadata``), exactly as in the deployed
function, so the folder itself goes on ``sys.path``.
"""

from __future__ import annotations

import importlib
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
