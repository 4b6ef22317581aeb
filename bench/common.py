"""Shared bench helpers: free ports, percentiles, a plain-text table."""

from __future__ import annotations

import math
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend.config import Settings, load_settings
from backend.stack import stack_down


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def stack_settings(label: str) -> Iterator[Settings]:
    """Settings for a stack of the benchmark's own: free ports, a new state folder, the shared LocalStack
    venv. The caller starts the stack (some time that); it is stopped and the folder removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix=f"csvdrop-bench-{label}-"))
    ls_port, my_port = free_port(), free_port()
    base = load_settings(env={})
    settings = base.replace(
        state_dir=state,
        localstack_venv=base.localstack_venv_dir,
        localstack_port=ls_port,
        aws_endpoint=f"http://127.0.0.1:{ls_port}",
        mysql_port=my_port,
    )
    try:
        yield settings
    finally:
        stack_down(settings)
        shutil.rmtree(state, ignore_errors=True)


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        print(f"## {title}\n(no rows)\n")
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print(f"## {title}")
    print("| " + " | ".join(c.ljust(widths[c]) for c in columns) + " |")
    print("|" + "|".join("-" * (widths[c] + 2) for c in columns) + "|")
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns) + " |")
    print(flush=True)
