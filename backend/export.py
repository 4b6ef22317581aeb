"""Export metadata records to a CSV or JSON file (the GUI's "Export…", usable from anywhere).

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) are prefixed with ``'`` so opening the export in Excel/LibreOffice is safe.
Stdlib only; never imports Qt.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
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
    """Write the records (contract keys, docs/contracts.md) to ``path``; returns how many were written.

    Records stream: one is in memory at a time (an export of a whole store of a million records is a walk through
    its pages), written to a temporary file that replaces ``path`` only when complete; every record has the
    contract's keys, the CSV header. Plain mappings (of any keys) are gathered first: the header is their union."""
    if fmt not in ("csv", "json"):
        raise ExportError(f"Unknown export format {fmt!r}: choose csv or json.")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write("[")
                for record in records:
                    text = json.dumps(_as_dict(record), indent=2, ensure_ascii=False, default=str)
                    fh.write(("," if count else "") + "\n  " + text.replace("\n", "\n  "))
                    count += 1
                fh.write("\n]\n" if count else "]\n")
        else:
            rows, keys = _rows_and_header(records)
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(keys)
                for row in rows:
                    writer.writerow([_cell(row.get(k)) for k in keys])
                    count += 1
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed read of the records leaves no half export behind
        raise
    return count


def _rows_and_header(records: Iterable[_HasJson | Mapping[str, Any]]) -> tuple[Iterator[dict[str, Any]], list[str]]:
    """The rows as dicts, lazily, and the CSV header: the contract's keys for records (each has them all), the union
    of the keys for plain mappings (read in full first)."""
    it = iter(records)
    first = next(it, None)
    if first is None:
        return iter(()), []
    if not isinstance(first, Mapping):
        keys = list(_as_dict(first))
        return (_as_dict(r) for r in itertools.chain([first], it)), keys
    rows = [_as_dict(first), *(_as_dict(r) for r in it)]
    union: dict[str, None] = {}
    for row in rows:
        union.update(dict.fromkeys(row))
    return iter(rows), list(union)
