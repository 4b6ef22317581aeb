"""Files the backend reads besides its own modules: the function source, the LocalStack constraints, the
executor plugin and the compose file. Placeholder paths into the checkout (the packaging work replaces them
with package data read through importlib.resources)."""

from __future__ import annotations

from pathlib import Path

from backend.config import PROJECT_ROOT


def compose_file() -> Path:
    return PROJECT_ROOT / "docker-compose.yml"
