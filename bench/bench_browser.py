"""The metadata browser with 100,000 records: load time, filter time, sort time, memory.

Our model (gui/records.py: incremental upserts in pages of 1,000 as the store delivers them, cached display
texts and sort keys, QSortFilterProxyModel) against a baseline in the same run: QStandardItemModel filled with
the same texts and QSortFilterProxyModel's own fixed-string filter, the usual way such tables are built.
Both are shown in a QTableView (offscreen) so view costs are included.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QTableView

from backend.store.records import MetadataRecord
from gui.records import COLUMNS, RecordFilterProxy, RecordTableModel

PAGE = 1000  # records per store page (changed_since)
BATCH = 100  # records per event-loop turn, as gui.feeds.APPLY_BATCH


def make_records(n: int) -> list[MetadataRecord]:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    columns = [
        {"name": name, "type": kind, "null_count": 0, "distinct_count": 10, "min": None, "max": None}
        for name, kind in (
            ("id", "integer"),
            ("customer", "string"),
            ("amount", "float"),
            ("ordered_on", "date"),
            ("paid", "boolean"),
        )
    ]
    months = ["january", "february", "march", "april", "may", "june"]
    out = []
    for i in range(n):
        failed = i % 50 == 0
        out.append(
            MetadataRecord.from_json_dict(
                {
                    "bucket": "my-csv-bucket",
                    "key": f"sales/{2020 + i % 6}/{months[i % 6]}-{i}.csv",
                    "file_name": f"{months[i % 6]}-{i}.csv",
                    "status": "FAILED" if failed else "PROCESSED",
                    "error": "Line 18 has 5 fields, but the header has 3." if failed else None,
                    "size_bytes": 1000 + i * 7,
                    "etag": f"{i:032x}",
                    "sha256": f"{i:064x}",
                    "sequencer": f"{i:048X}",
                    "uploaded_at": (base + dt.timedelta(seconds=i)).isoformat(),
                    "processed_at": (base + dt.timedelta(seconds=i, milliseconds=300)).isoformat(),
                    "duration_ms": 12.5,
                    "encoding": "utf-8",
                    "has_bom": False,
                    "delimiter": ",",
                    "quote_char": '"',
                    "has_header": True,
                    "line_terminator": "\n",
                    "row_count": None if failed else i % 5000,
                    "column_count": None if failed else 5,
                    "column_names": [c["name"] for c in columns],
                    "duplicate_column_names": [],
                    "columns": [] if failed else columns,
                    "duplicate_row_count": 0,
                    "sample_rows": [["1", "Ada", "1.5", "2025-01-01", "true"]] * 5,
                },
                revision=i + 1,
            )
        )
    return out


def _rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 1e6


def _settle(app: QApplication) -> None:
    for _ in range(3):
        app.processEvents()


def _shown_view(proxy: QSortFilterProxyModel) -> QTableView:
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(RecordTableModel.UPLOADED, Qt.SortOrder.DescendingOrder)  # the window's default
    view.resize(1200, 700)
    view.show()
    return view


def _timed(app: QApplication, action: Callable[[], object]) -> float:
    """Seconds for the action plus the event-loop turns it causes (repaints, proxy updates)."""
    t0 = time.perf_counter()
    action()
    _settle(app)
    return time.perf_counter() - t0


def measure_ours(app: QApplication, records: list[MetadataRecord]) -> dict[str, Any]:
    before = _rss_mb()
    model = RecordTableModel()
    proxy = RecordFilterProxy()
    proxy.setSourceModel(model)
    view = _shown_view(proxy)
    t0 = time.perf_counter()
    worst_page = 0.0
    for start in range(0, len(records), BATCH):
        p0 = time.perf_counter()
        model.upsert(records[start : start + BATCH])
        app.processEvents()
        worst_page = max(worst_page, time.perf_counter() - p0)
    load = time.perf_counter() - t0
    filter_s = _timed(app, lambda: proxy.set_text("march"))
    shown = proxy.rowCount()
    proxy.set_text("")
    sort_s = _timed(app, lambda: view.sortByColumn(RecordTableModel.ROWS, Qt.SortOrder.DescendingOrder))
    update_s = _timed(app, lambda: model.upsert(records[:PAGE]))  # a poll that brings 1,000 changed records
    mem = _rss_mb() - before
    view.close()
    return {
        "load_s": load,
        "worst_page_ms": worst_page * 1000,
        "filter_s": filter_s,
        "shown": shown,
        "sort_s": sort_s,
        "update_s": update_s,
        "mem_mb": mem,
        "keep": (model, proxy, view),
    }


def measure_baseline(app: QApplication, records: list[MetadataRecord]) -> dict[str, Any]:
    before = _rss_mb()
    model = QStandardItemModel(0, len(COLUMNS))
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    view = _shown_view(proxy)
    t0 = time.perf_counter()
    for start in range(0, len(records), PAGE):
        for record in records[start : start + PAGE]:
            model.appendRow([QStandardItem(str(column.display(record))) for column in COLUMNS])
        app.processEvents()
    load = time.perf_counter() - t0
    filter_s = _timed(app, lambda: proxy.setFilterFixedString("march"))
    shown = proxy.rowCount()
    proxy.setFilterFixedString("")
    sort_s = _timed(app, lambda: view.sortByColumn(RecordTableModel.ROWS, Qt.SortOrder.DescendingOrder))
    mem = _rss_mb() - before
    view.close()
    return {
        "load_s": load,
        "filter_s": filter_s,
        "shown": shown,
        "sort_s": sort_s,
        "mem_mb": mem,
        "keep": (model, proxy, view),
    }


def run(n: int = 100_000) -> list[dict[str, Any]]:
    app = QApplication.instance() or QApplication([])
    t0 = time.perf_counter()
    records = make_records(n)
    build = time.perf_counter() - t0
    ours = measure_ours(app, records)
    base = measure_baseline(app, records)
    assert ours["shown"] == base["shown"], (ours["shown"], base["shown"])

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else ""

    return [
        {
            "measure": f"decode {n:,} records from store rows (MetadataRecord)",
            "ours": f"{build:.2f} s",
            "baseline": "",
            "ours/baseline": "",
        },
        {
            "measure": f"load {n:,} records in pages of {PAGE:,} (sorted newest first, as the window)",
            "ours": f"{ours['load_s']:.2f} s",
            "baseline": f"{base['load_s']:.2f} s",
            "ours/baseline": ratio(ours["load_s"], base["load_s"]),
        },
        {
            "measure": f"longest GUI-thread stall (one batch of {BATCH} + repaint)",
            "ours": f"{ours['worst_page_ms']:.0f} ms",
            "baseline": "",
            "ours/baseline": "",
        },
        {
            "measure": f"filter 'march' ({ours['shown']:,} rows shown)",
            "ours": f"{ours['filter_s'] * 1000:.0f} ms",
            "baseline": f"{base['filter_s'] * 1000:.0f} ms",
            "ours/baseline": ratio(ours["filter_s"], base["filter_s"]),
        },
        {
            "measure": "sort by rows",
            "ours": f"{ours['sort_s'] * 1000:.0f} ms",
            "baseline": f"{base['sort_s'] * 1000:.0f} ms",
            "ours/baseline": ratio(ours["sort_s"], base["sort_s"]),
        },
        {
            "measure": "poll bringing 1,000 changed records (sorted view)",
            "ours": f"{ours['update_s'] * 1000:.0f} ms",
            "baseline": "",
            "ours/baseline": "",
        },
        {
            "measure": "memory (RSS growth: model + proxy + view)",
            "ours": f"{ours['mem_mb']:.0f} MB",
            "baseline": f"{base['mem_mb']:.0f} MB",
            "ours/baseline": ratio(ours["mem_mb"], base["mem_mb"]),
        },
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table("Metadata browser", run())
