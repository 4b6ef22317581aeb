"""One measured run of the metadata browser against a real MySQL store, in a process of its own (so its memory
is the window's alone). Run by bench/bench_browser.py: ``python -m bench.browser_window MODE CONFIG_JSON``
prints one JSON line of figures.

MODE ``window``: the real MainWindow (its real page-cache model and feed) over a real MySqlReader; the notices
and environment checks answer from memory, so only the store is on the network.
MODE ``legacy``: the load-everything model the window had before (bench/legacy_records.py, a frozen copy),
fed by ``changed_since`` pages exactly as its feed did: the baseline.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil
from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from backend.config import Settings, load_settings
from backend.environment import LIGHTS, Health
from backend.notices import Notice, NoticeSource, ReaderQueue
from backend.store import MetadataReader, open_reader
from gui.backend_api import Backend

WAIT_S = 120.0


class Gaps:
    """Milliseconds between ticks of a 5 ms timer: time the GUI thread could not turn the event loop."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def _tick(self) -> None:
        now = float(self._clock.elapsed())
        self.worst = max(self.worst, now - self._last)
        self._last = now

    def start(self) -> None:
        self._clock.start()
        self._last = 0.0
        self._timer.start()

    def reset(self) -> None:
        self._last = float(self._clock.elapsed())


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 1e6


def wait_for(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> float:
    """Seconds until ``condition`` holds, turning the event loop meanwhile (sleeping in it, not spinning, so
    the GUI thread's CPU time stays the work's own)."""
    started = time.perf_counter()
    loop = QEventLoop()
    while not condition():
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"condition not met in {timeout_s:.0f} s")
        QTimer.singleShot(2, loop.quit)
        loop.exec()
    return time.perf_counter() - started


class QuietNotices:
    def receive(self, wait_seconds: int = 1, max_messages: int = 10) -> list[Notice]:
        time.sleep(min(wait_seconds, 1))
        return []

    def close(self) -> None:
        pass


class StoreOnlyBackend(Backend):
    """The real backend, with the reader's credentials given (no Secrets Manager) and no LocalStack behind it."""

    def __init__(self, user: str, password: str) -> None:
        self._user, self._password = user, password

    def open_reader(self, settings: Settings) -> MetadataReader:
        return open_reader(settings, user=self._user, password=self._password)

    def open_notices(self, settings: Settings, on_open: Callable[[ReaderQueue], None] | None = None) -> NoticeSource:
        return QuietNotices()

    def environment_status(self, settings: Settings) -> dict[str, Health]:
        return {light: Health(True, "bench") for light in LIGHTS}


def _settings(config: dict[str, Any]) -> Settings:
    base = load_settings(env={})
    return base.replace(
        state_dir=Path(config["state_dir"]),
        mysql_port=int(config["mysql_port"]),
        mysql_database=config["database"],
        bucket=config["bucket"],
        metadata_store="mysql",
        poll_interval_ms=3_600_000,  # polls are triggered by the bench, one at a time
    )


def run_window(config: dict[str, Any]) -> dict[str, Any]:
    from gui.main_window import MainWindow
    from gui.records import COLUMNS, STORE_SORT_KEYS

    _app = QApplication.instance() or QApplication([])
    settings = _settings(config)
    backend = StoreOnlyBackend(config["reader_user"], config["reader_password"])
    base_mb = rss_mb()
    gaps = Gaps()
    gaps.start()
    out: dict[str, Any] = {}

    started = time.perf_counter()
    window = MainWindow(settings, backend)
    window.resize(1400, 900)
    window.show()
    out["construct_s"] = time.perf_counter() - started  # one blocking stretch: building the widgets
    gaps.reset()
    browser = window.browser
    model, view = browser.model, browser.view

    def first_row_shown() -> bool:
        return model.rowCount() > 0 and model.record_at(0) is not None

    wait_for(first_row_shown)
    out["first_screen_s"] = time.perf_counter() - started
    out["rows"] = model.rowCount()
    out["start_gap_ms"] = gaps.worst
    gaps.reset()
    gaps.worst = 0.0

    def settled_at(row: int) -> Callable[[], bool]:
        return lambda: model.record_at(row) is not None

    # scroll to the end: the last screen's rows are read (keyset from the end or one deep offset)
    op_gaps: dict[str, float] = {}
    gaps.reset()
    gaps.worst = 0.0
    t0 = time.perf_counter()
    view.scrollToBottom()
    wait_for(settled_at(model.rowCount() - 1))
    out["scroll_end_s"] = time.perf_counter() - t0
    op_gaps["scroll to the end"] = gaps.worst
    view.scrollToTop()
    wait_for(settled_at(0))

    def requery(action: Callable[[], None], label: str) -> float:
        done = threading.Event()

        def loaded() -> None:
            done.set()

        model.loaded.connect(loaded)
        worst_before = gaps.worst
        gaps.reset()
        gaps.worst = 0.0
        t = time.perf_counter()
        action()
        wait_for(done.is_set)
        wait_for(lambda: model.rowCount() == 0 or model.record_at(0) is not None)
        elapsed = time.perf_counter() - t
        model.loaded.disconnect(loaded)
        op_gaps[label] = gaps.worst
        gaps.worst = max(gaps.worst, worst_before)
        return elapsed

    sorts: dict[str, float] = {}
    for column in sorted(STORE_SORT_KEYS):
        title = COLUMNS[column].title
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            name = f"{title} {'asc' if order == Qt.SortOrder.AscendingOrder else 'desc'}"
            sorts[name] = requery(lambda c=column, o=order: view.sortByColumn(c, o), f"sort {name}")
    out["sorts_s"] = sorts
    uploaded = next(i for i, c in enumerate(COLUMNS) if c.title == "Uploaded")
    requery(lambda: view.sortByColumn(uploaded, Qt.SortOrder.DescendingOrder), "sort back to Uploaded desc")

    from gui.records import Filters

    out["name_filter_s"] = requery(lambda: model.set_filters(Filters(text=config["name_prefix"])), "name filter")
    out["name_filter_rows"] = model.rowCount()
    out["status_filter_s"] = requery(lambda: model.set_filters(Filters(status="FAILED")), "status filter")
    out["status_filter_rows"] = model.rowCount()
    requery(lambda: model.set_filters(Filters()), "filters cleared")

    out["browse_gap_ms"] = gaps.worst  # scroll, every sort, the filters
    out["op_gaps_ms"] = op_gaps
    # a poll bringing the changes the parent wrote (1,000 updated records, 100 deleted): GUI-thread CPU time
    # from the poll to the refreshed screen
    before_rows = model.rowCount()
    changes_ready = Path(config["changes_flag"])
    print(json.dumps({"ready_for_changes": True}), flush=True)
    wait_for(changes_ready.exists, timeout_s=600)
    gaps.reset()
    gaps.worst = 0.0
    cpu0 = time.thread_time()
    t0 = time.perf_counter()
    window.record_feed.poll()
    wait_for(lambda: model.rowCount() == before_rows - config["deleted"])
    wait_for(lambda: model.record_at(0) is not None)
    out["poll_wall_s"] = time.perf_counter() - t0
    out["poll_gui_cpu_ms"] = (time.thread_time() - cpu0) * 1000
    out["poll_gap_ms"] = gaps.worst
    out["rows_after_poll"] = model.rowCount()
    out["worst_gap_ms"] = max(out["start_gap_ms"], out["browse_gap_ms"], out["poll_gap_ms"])
    out["gui_mb"] = rss_mb()
    out["gui_growth_mb"] = out["gui_mb"] - base_mb
    window.close()
    return out


def run_legacy(config: dict[str, Any]) -> dict[str, Any]:
    from PySide6.QtWidgets import QTableView

    from bench.legacy_records import RecordFilterProxy, RecordTableModel

    app = QApplication.instance() or QApplication([])
    settings = _settings(config)
    base_mb = rss_mb()
    reader = open_reader(settings, user=config["reader_user"], password=config["reader_password"])
    model = RecordTableModel()
    proxy = RecordFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(RecordTableModel.UPLOADED, Qt.SortOrder.DescendingOrder)
    view.resize(1400, 800)
    view.show()
    gaps = Gaps()
    gaps.start()
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    cursor: str | None = None
    while True:  # the old feed: changed_since pages of 1,000, handed over 100 per event-loop turn
        records, cursor = reader.changed_since(cursor)
        for start in range(0, len(records), 100):
            model.upsert(records[start : start + 100])
            app.processEvents()
        if len(records) < 1000:
            break
    out["first_screen_s"] = time.perf_counter() - t0  # the old window showed the list once it had loaded
    out["rows"] = model.rowCount()

    def timed(action: Callable[[], object]) -> float:
        t = time.perf_counter()
        action()
        for _ in range(3):
            app.processEvents()
        return time.perf_counter() - t

    out["name_filter_s"] = timed(lambda: proxy.set_text(config["name_prefix"]))
    out["name_filter_rows"] = proxy.rowCount()
    proxy.set_text("")
    out["status_filter_s"] = timed(lambda: proxy.set_status("FAILED"))
    out["status_filter_rows"] = proxy.rowCount()
    proxy.set_status("")
    out["sorts_s"] = {
        "Rows desc": timed(lambda: view.sortByColumn(RecordTableModel.ROWS, Qt.SortOrder.DescendingOrder))
    }
    out["worst_gap_ms"] = gaps.worst
    out["gui_mb"] = rss_mb()
    out["gui_growth_mb"] = out["gui_mb"] - base_mb
    reader.close()
    return out


def main(argv: Sequence[str]) -> int:
    mode, config = argv[0], json.loads(argv[1])
    result = run_window(config) if mode == "window" else run_legacy(config)
    print(json.dumps({"result": result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
