"""Load benchmark on a private stack: 500 files of ~10 KB uploaded at once from the backend (`upload_file` in a
thread pool, as the app does), time until every record exists in MySQL, and the PEAK memory (RSS, sampled
every 100 ms) of LocalStack (its own process), the Lambda children (sum over LocalStack's descendants),
MySQL and the app side (this process).

Baseline in the same run: the same 500 files profiled in-process, serially (`profile_csv`); the ratio is what
S3, the Lambda executor, Secrets Manager, MySQL and SNS add on top of the work itself.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil

from backend.config import Settings
from backend.provisioning import run_setup
from backend.stack import stack_up
from backend.upload import upload_file
from bench.bench_pipeline import RecordWatcher, _profile_module, make_csv
from bench.common import stack_settings

MIB = 1024 * 1024


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


class PeakMemory(threading.Thread):
    """Samples RSS every 100 ms: LocalStack (own pid), its descendants (Lambda children), mysqld, this process."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.localstack = psutil.Process(int((settings.state_dir / "localstack" / "localstack.pid").read_text()))
        self.mysqld = psutil.Process(int((settings.state_dir / "mysql" / "mysqld.pid").read_text()))
        self.app = psutil.Process(os.getpid())
        self.peak = {"localstack": 0, "lambda children": 0, "mysql": 0, "app (this process)": 0}
        self.max_children = 0
        self._stop = threading.Event()

    def sample(self) -> None:
        try:
            children = self.localstack.children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.max_children = max(self.max_children, len(children))
        now = {
            "localstack": _rss(self.localstack),
            "lambda children": sum(_rss(c) for c in children),
            "mysql": _rss(self.mysqld),
            "app (this process)": _rss(self.app),
        }
        for name, value in now.items():
            self.peak[name] = max(self.peak[name], value)

    def run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self.join()


def run(files: int = 500, size: int = 10 * 1024, timeout_s: float = 600) -> list[dict[str, Any]]:
    with stack_settings("load") as settings:
        folder = settings.state_dir / "files"
        folder.mkdir()
        paths = []
        for i in range(files):
            path = folder / f"f{i:03d}.csv"
            path.write_bytes(make_csv(size, seed=i))
            paths.append(path)
        rows: list[dict[str, Any]] = []
        stack_up(settings, use_docker=False)
        results = run_setup(settings).results
        assert all(r.status != "failed" for r in results), results
        watcher = RecordWatcher(settings)
        memory = PeakMemory(settings)
        memory.sample()
        idle = dict(memory.peak)
        memory.start()
        prefix = f"load-{uuid.uuid4().hex[:6]}/"
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=settings.parallel_uploads * 4) as pool:
            list(pool.map(lambda p: upload_file(settings, p, key=prefix + p.name), paths))
        uploaded = time.perf_counter() - t0
        total = distinct = 0
        while time.perf_counter() - t0 < timeout_s:
            total, distinct = watcher.count(settings.bucket, prefix)
            if total >= files:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
        memory.stop()

        profile = _profile_module()
        t1 = time.perf_counter()
        for path in paths:
            profile.profile_csv(path.read_bytes())
        serial = time.perf_counter() - t1
        rows.append(
            {
                "measure": f"{files} x {size // 1024} KB at once -> all records",
                "value": f"{elapsed:.1f} s",
                "detail": f"uploads done after {uploaded:.1f} s",
                "baseline": f"{serial:.2f} s in-process serial",
                "ratio": f"{elapsed / serial:.0f}x",
            }
        )
        rows.append(
            {
                "measure": "throughput",
                "value": f"{files / elapsed:.1f} files/s",
                "detail": f"{total} rows, {distinct} distinct, missing {files - distinct}, "
                f"duplicated {total - distinct}",
                "baseline": f"{files / serial:.0f} files/s",
                "ratio": f"{(files / serial) / (files / elapsed):.0f}x",
            }
        )
        for name, peak in memory.peak.items():
            rows.append(
                {
                    "measure": f"peak RSS {name}",
                    "value": f"{peak / MIB:.0f} MiB",
                    "detail": f"idle {idle[name] / MIB:.0f} MiB"
                    + (f"; up to {memory.max_children} processes" if name == "lambda children" else ""),
                    "baseline": "",
                    "ratio": "",
                }
            )
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table("Load: 500 files at once from the backend", run())
