"""Export metadata records to a CSV or JSON file (the GUI's "Export…", usable from anywhere).

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) are prefixed with ``'`` so opening the export in Excel/LibreOffice is safe.
Stdlib only; never imports Qt.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from backend.errors import CsvDropError

Format = Literal["csv", "json"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(CsvDropError, RuntimeError):
    """The export could not be written; the message says why (for the user)."""


class _HasJson(Protocol):
    def to_json_dict(self) -> dict[str, Any]: ...


def neutralise(text: str) -> str:
    """A cell value that spreadsheets show as text, never evaluate."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _as_dict(record: _HasJson | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    return dict(record.to_json_dict())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # numbers stay numbers (a negative number is not a formula)
    if isinstance(value, list | tuple | dict):
        return neutralise(json.dumps(value, ensure_ascii=False, default=str))
    return neutralise(str(value))


def export_records(records: Iterable[_HasJson | Mapping[str, Any]], path: Path, fmt: Format) -> int:
    """Write the records (contract keys, docs/contracts.md) to ``path``; returns how many were written."""
    if fmt not in ("csv", "json"):
        raise ExportError(f"Unknown export format {fmt!r}: choose csv or json.")
    rows = [_as_dict(r) for r in records]
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            text = json.dumps(rows, indent=2, ensure_ascii=False, default=str)
            tmp.write_text(text + "\n", encoding="utf-8")
        else:
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(keys)
                for row in rows:
                    writer.writerow([_cell(row.get(k)) for k in keys])
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return len(rows)
