"""Load benchmark on a private stack: 1,000 files of ~10 KB uploaded at once from the backend (`upload_file` in a
pool of `small_uploads_at_once` threads, as the app uploads files under 1 MiB), time until every record exists
in MySQL, for each trigger mode, and what it costs: CPU seconds per file of LocalStack (its own process) and of
the Lambda children, and peak memory (RSS, sampled every 100 ms) of LocalStack, the Lambda children, MySQL and
the app side (this process).

Baselines in the same run: the same files put into a bucket with no trigger (S3 alone: the floor under any
pipeline), and each trigger mode against the other; plus the files profiled in-process, serially
(`profile_csv`): the work itself.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from backend import aws
from backend.config import Settings
from backend.provisioning import run_setup
from backend.stack import stack_up
from backend.upload import upload_file
from bench.bench_pipeline import RecordWatcher, _profile_module, make_csv
from bench.common import stack_settings

MIB = 1024 * 1024
TRIGGERS = ("direct", "queue")


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def _cpu(proc: psutil.Process) -> float:
    try:
        times = proc.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(times.user + times.system)


class PeakMemory(threading.Thread):
    """Samples RSS every 100 ms: LocalStack (own pid), its descendants (Lambda children), mysqld, this process.
    Also adds up the CPU time of the Lambda children, which come and go (each one's last sample counts)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.localstack = psutil.Process(int((settings.state_dir / "localstack" / "localstack.pid").read_text()))
        self.mysqld = psutil.Process(int((settings.state_dir / "mysql" / "mysqld.pid").read_text()))
        self.app = psutil.Process(os.getpid())
        self.peak = {"localstack": 0, "lambda children": 0, "mysql": 0, "app (this process)": 0}
        self.max_children = 0
        self.children_cpu: dict[int, float] = {}
        self._stop = threading.Event()

    def _children(self) -> list[psutil.Process]:
        try:
            return list(self.localstack.children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> None:
        children = self._children()
        self.max_children = max(self.max_children, len(children))
        for child in children:
            self.children_cpu[child.pid] = _cpu(child)
        now = {
            "localstack": _rss(self.localstack),
            "lambda children": sum(_rss(c) for c in children),
            "mysql": _rss(self.mysqld),
            "app (this process)": _rss(self.app),
        }
        for name, value in now.items():
            self.peak[name] = max(self.peak[name], value)

    def cpu(self) -> tuple[float, float, float, float]:
        """CPU seconds so far: LocalStack's own, the Lambda children's, MySQL's, this process's (the app)."""
        self.sample()
        return _cpu(self.localstack), sum(self.children_cpu.values()), _cpu(self.mysqld), _cpu(self.app)

    def run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self.join()


@dataclass(frozen=True)
class Drop:
    files: int
    uploaded_s: float  # until the last upload was acknowledged
    elapsed_s: float  # until the last record existed (= uploaded_s when nothing is triggered)
    rows: int
    distinct: int
    localstack_cpu_s: float
    lambda_cpu_s: float
    mysql_cpu_s: float
    app_cpu_s: float

    @property
    def rate(self) -> float:
        return self.files / self.elapsed_s


def drop(
    settings: Settings, paths: list[Path], memory: PeakMemory, *, bucket: str, wait_for_records: bool, timeout_s: float
) -> Drop:
    """Uploads every file at once as the app does, then waits until each has exactly one record (when asked)."""
    watcher = RecordWatcher(settings) if wait_for_records else None
    prefix = f"load-{uuid.uuid4().hex[:6]}/"
    target = settings.replace(bucket=bucket)
    client = aws.client(target, "s3")
    cpu0 = memory.cpu()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=settings.small_uploads_at_once) as pool:  # as the app runs small files
        list(pool.map(lambda p: upload_file(target, p, key=prefix + p.name, client=client), paths))
    uploaded = time.perf_counter() - t0
    total = distinct = 0
    if watcher is not None:
        while time.perf_counter() - t0 < timeout_s:
            total, distinct = watcher.count(bucket, prefix)
            if total >= len(paths):
                break
            time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    # Work still under way for this drop (logs, deliveries) counts too: let it settle before reading the CPU.
    time.sleep(1.0)
    cpu1 = memory.cpu()
    used = [after - before for after, before in zip(cpu1, cpu0, strict=True)]
    return Drop(len(paths), uploaded, elapsed, total, distinct, *used)


def run(files: int = 1000, size: int = 10 * 1024, timeout_s: float = 600) -> list[dict[str, Any]]:
    with stack_settings("load") as settings:
        folder = settings.state_dir / "files"
        folder.mkdir()
        paths = []
        for i in range(files):
            path = folder / f"f{i:04d}.csv"
            path.write_bytes(make_csv(size, seed=i))
            paths.append(path)
        rows: list[dict[str, Any]] = []
        stack_up(settings, use_docker=False)
        bare = f"csvdrop-bench-no-trigger-{uuid.uuid4().hex[:6]}"
        aws.client(settings, "s3").create_bucket(Bucket=bare)
        memory = PeakMemory(settings)
        memory.sample()
        idle = dict(memory.peak)
        memory.start()
        results: dict[str, Drop] = {}
        results["S3 puts alone (no trigger)"] = drop(
            settings, paths, memory, bucket=bare, wait_for_records=False, timeout_s=timeout_s
        )
        for trigger in TRIGGERS:
            mode = settings.replace(trigger=trigger)
            outcome = run_setup(mode)
            assert outcome.ok, outcome.results
            # A warm-up drop so both modes meet warm execution environments; the measured drop is the second.
            drop(mode, paths[:50], memory, bucket=mode.bucket, wait_for_records=True, timeout_s=timeout_s)
            results[f"trigger = {trigger}"] = drop(
                mode, paths, memory, bucket=mode.bucket, wait_for_records=True, timeout_s=timeout_s
            )
        memory.stop()

        profile = _profile_module()
        t1 = time.perf_counter()
        for path in paths:
            profile.profile_csv(path.read_bytes())
        serial = time.perf_counter() - t1

        s3_alone = results["S3 puts alone (no trigger)"]
        direct = results["trigger = direct"]
        for label, result in results.items():
            triggered = label != "S3 puts alone (no trigger)"
            rows.append(
                {
                    "measure": f"{files} x {size // 1024} KB at once: {label}",
                    "files/s": f"{result.rate:.1f}",
                    "all records after": f"{result.elapsed_s:.1f} s" if triggered else "",
                    "uploads done after": f"{result.uploaded_s:.1f} s",
                    "rows (distinct, missing, duplicated)": (
                        f"{result.rows} ({result.distinct}, {files - result.distinct}, {result.rows - result.distinct})"
                        if triggered
                        else ""
                    ),
                    "LocalStack CPU ms/file": f"{result.localstack_cpu_s * 1000 / files:.1f}",
                    "Lambda CPU ms/file": f"{result.lambda_cpu_s * 1000 / files:.1f}" if triggered else "",
                    "MySQL CPU ms/file": f"{result.mysql_cpu_s * 1000 / files:.1f}" if triggered else "",
                    "app CPU ms/file": f"{result.app_cpu_s * 1000 / files:.1f}",
                    "vs S3 alone": f"{result.rate / s3_alone.rate:.2f}x" if triggered else "1.00x",
                    "vs direct": f"{result.rate / direct.rate:.2f}x" if triggered else "",
                }
            )
        rows.append(
            {
                "measure": f"the same {files} files profiled in-process, serially (the work itself)",
                "files/s": f"{files / serial:.0f}",
                "all records after": f"{serial:.2f} s",
            }
        )
        for name, peak in memory.peak.items():
            rows.append(
                {
                    "measure": f"peak RSS {name} (whole run)",
                    "files/s": f"{peak / MIB:.0f} MiB",
                    "all records after": f"idle {idle[name] / MIB:.0f} MiB"
                    + (f"; up to {memory.max_children} processes" if name == "lambda children" else ""),
                }
            )
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table("Load: 1,000 files at once from the backend, per trigger mode", run())
