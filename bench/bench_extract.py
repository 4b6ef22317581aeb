"""Benchmark: the Lambda's CSV extraction (``lambda/csv_metadata.profile_csv``) against plain
``pandas.read_csv`` + naive per-column statistics, and against the profiler as it was before the shared CSV
rules (``csvtable``, git revision PREVIOUS, read from the repository's history), on generated 1 MB, 10 MB
and 100 MB files, on a wide one (10,000 columns, 5 rows: per-column work with almost no rows) and on a 10 MB one
whose text column has a value per row (a million distinct values: the worst case for counting top values).

The cost of the column distributions (``histogram``/``top_values``, drawn by the detail pane) is the time of
``profile_csv(data)`` over ``profile_csv(data, distributions=False)`` on the same file (``dist_cost``): CPU time
(the profile runs on one core), the two alternated in one worker, the median of the pairs' ratios, so that a
machine busy with other work does not decide it (wall-clock ratios of 0.86 .. 1.46 were seen on a shared 2-CPU
machine where the parts that compute the distributions, timed alone, cost 2-5%).

Every measurement runs in a fresh subprocess, so one run cannot warm caches for the next. Peak memory is
that process's peak resident set (VmHWM, reset through /proc/self/clear_refs after imports) minus its
resident set with the file's bytes already loaded (the Lambda receives the object as bytes too).

    .venv/bin/python bench/bench_extract.py            # all sizes and the wide file
    .venv/bin/python bench/bench_extract.py 1 10       # only these sizes (MB)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES_MB = (1, 10, 100)
PREVIOUS = "d8f6caf"  # the last profiler with its own copy of the rules (before csvtable)


def make_csv(path: Path, size_mb: int) -> int:
    """A realistic mixed CSV of about ``size_mb`` MB (ints, floats, text, booleans, dates, empty cells,
    a quoted field with a comma): written with numpy/pandas in chunks, nothing held whole in memory."""
    import numpy as np
    import pandas as pd

    target = size_mb * 1_000_000
    rng = np.random.default_rng(size_mb)
    written, start, first = 0, 0, True
    with path.open("w", encoding="utf-8", newline="") as fh:
        while written < target:
            n = 20_000 if size_mb >= 10 else 2_000
            ids = np.arange(start, start + n)
            qty = rng.integers(0, 1000, n).astype(object)
            qty[rng.random(n) < 0.1] = ""
            frame = pd.DataFrame(
                {
                    "id": ids,
                    "price": (rng.random(n) * 1000).round(2),
                    "name": rng.choice(["alice", "bob", "carol", "dave", "eve", "frank"], n),
                    "city": np.char.add("city_", (ids % 5000).astype(str)),
                    "active": rng.choice(["true", "false"], n),
                    "day": (np.datetime64("2020-01-01") + (ids % 3000)).astype(str),
                    "qty": qty,
                    "note": np.char.add("note, number ", ids.astype(str)),
                }
            )
            text = frame.to_csv(index=False, header=first, lineterminator="\n")
            fh.write(text)
            written += len(text)
            start += n
            first = False
    return path.stat().st_size


WIDE_COLUMNS, WIDE_ROWS = 10_000, 5


def make_wide_csv(path: Path, columns: int = WIDE_COLUMNS, rows: int = WIDE_ROWS) -> int:
    """The shape of the corpus's wide_10000_columns.csv: small integers, a header of col_0 ... col_N."""
    header = ",".join(f"col_{i}" for i in range(columns))
    body = "\n".join(",".join(str((r * 7 + c) % 97) for c in range(columns)) for r in range(rows))
    path.write_text(header + "\n" + body + "\n", encoding="utf-8")
    return path.stat().st_size


WORKER = r"""
import gc, io, json, resource, sys, time
method, path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4] if len(sys.argv) > 4 else {lambda_dir!r})
import numpy as np, pandas as pd
import csv_metadata

def naive(data):
    df = pd.read_csv(io.BytesIO(data))
    out = []
    for name in df.columns:
        s = df[name]
        stats = {{"null": int(s.isna().sum()), "distinct": int(s.nunique())}}
        if pd.api.types.is_numeric_dtype(s):
            stats.update(min=s.min(), max=s.max())
        out.append(stats)
    return len(df), out, int(df.duplicated().sum())

def ours(data):
    return csv_metadata.profile_csv(data)

def without(data):
    return csv_metadata.profile_csv(data, distributions=False)

fn = {{"naive": naive, "no_distributions": without}}.get(method, ours)
fn(b"a,b\n1,x\n2,y\n")  # import-time work out of the measurement
data = open(path, "rb").read()
gc.collect()

def rss_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

try:  # reset the high-water mark, so import-time peaks do not hide the run's own
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = rss_kb("VmRSS")
except OSError:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times, cpu, bare_cpu = [], [], []
for _ in range(repeat):
    t, c = time.perf_counter(), time.process_time()
    result = fn(data)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
    del result
    gc.collect()
    if method == "with_and_without":  # alternated in one process: load that drifts hits both alike
        c = time.process_time()
        result = without(data)
        bare_cpu.append(time.process_time() - c)
        del result
        gc.collect()
peak = rss_kb("VmHWM")
ratios = sorted(a / b for a, b in zip(cpu, bare_cpu))
out = {{
    "seconds": min(times),
    "peak_mb": (peak - base) / 1024,
    "cpu": min(cpu),
    "bare_cpu": min(bare_cpu or cpu),
    "dist_cost": ratios[len(ratios) // 2] if ratios else 1.0,
}}
print(json.dumps(out))
"""


DISTINCT_MB = 10


def make_distinct_csv(path: Path, size_mb: int = DISTINCT_MB) -> int:
    """An id and a text column whose every value differs (about a million rows in 10 MB), and a float."""
    import numpy as np

    rows = size_mb * 1_000_000 // 20
    rng = np.random.default_rng(7)
    ids = np.arange(rows)
    text = np.char.add("k", rng.permutation(rows).astype(str))
    price = (rng.random(rows) * 100).round(3).astype(str)
    lines = np.char.add(np.char.add(np.char.add(np.char.add(ids.astype(str), ","), text), ","), price)
    path.write_text("id,key,price\n" + "\n".join(lines.tolist()) + "\n", encoding="utf-8")
    return path.stat().st_size


def measure(method: str, path: Path, repeat: int, lambda_dir: Path | None = None) -> dict[str, float]:
    code = WORKER.format(lambda_dir=str(ROOT / "lambda"))
    extra = [str(lambda_dir)] if lambda_dir else []
    out = subprocess.run(
        [sys.executable, "-c", code, method, str(path), str(repeat), *extra],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(sizes_mb: tuple[int, ...] = SIZES_MB, wide: bool = True) -> list[dict]:
    """One row per file (each size, then the wide one): time and peak memory of both methods, and ours/naive
    ratios."""
    rows = []
    files: list[tuple[str, int | str]] = [(f"mixed, 8 columns, {size} MB", size) for size in sizes_mb]
    if wide:
        files.append((f"wide, {WIDE_COLUMNS:,} columns x {WIDE_ROWS} rows", 0))
        files.append((f"all-distinct text, {DISTINCT_MB} MB", "distinct"))
    with tempfile.TemporaryDirectory(prefix="csvdrop-bench-") as tmp:
        previous = _previous_profiler(Path(tmp) / "previous")
        for label, size in files:
            path = Path(tmp) / f"bench_{size}mb.csv"
            t = time.perf_counter()
            if size == "distinct":
                nbytes, repeat = make_distinct_csv(path), 3
            elif size:
                nbytes = make_csv(path, int(size))
                repeat = 15 if int(size) <= 1 else 5 if int(size) <= 10 else 1
            else:
                nbytes, repeat = make_wide_csv(path), 3
            gen_s = time.perf_counter() - t
            ours = measure("with_and_without", path, repeat)
            base = measure("naive", path, repeat)
            before = measure("profile_csv", path, repeat, previous) if previous else None
            rows.append(
                {
                    "file": label,
                    "size_mb": round(nbytes / 1e6, 1),
                    "generate_s": round(gen_s, 1),
                    "profile_csv_s": round(ours["seconds"], 3),
                    "naive_s": round(base["seconds"], 3),
                    "time_ratio": round(ours["seconds"] / base["seconds"], 2),
                    "cpu_s": round(ours["cpu"], 3),
                    "no_dist_cpu_s": round(ours["bare_cpu"], 3),
                    "dist_cost": round(ours["dist_cost"], 3),
                    "profile_csv_peak_mb": round(ours["peak_mb"], 1),
                    "naive_peak_mb": round(base["peak_mb"], 1),
                    "mem_ratio": round(ours["peak_mb"] / max(base["peak_mb"], 0.1), 2),
                    "profile_csv_peak_x_file": round(ours["peak_mb"] * 1024 * 1024 / nbytes, 1),
                    f"before_{PREVIOUS}_s": round(before["seconds"], 3) if before else "n/a",
                    "vs_before": round(ours["seconds"] / before["seconds"], 2) if before else "n/a",
                }
            )
            path.unlink()
    return rows


def _previous_profiler(folder: Path) -> Path | None:
    """The profiler of git revision PREVIOUS in ``folder`` (None without git or that revision)."""
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run(
        [git, "show", f"{PREVIOUS}:lambda/csv_metadata.py"], cwd=ROOT, capture_output=True, check=False
    )
    if result.returncode != 0:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "csv_metadata.py").write_bytes(result.stdout)
    return folder


def format_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    lines = [" | ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(r[c]).rjust(w) for c, w in zip(cols, widths, strict=True)) for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    chosen = tuple(int(a) for a in sys.argv[1:]) or SIZES_MB
    print(format_table(run(chosen, wide=not sys.argv[1:])))
    print(
        "time/memory: best of 15 runs (5 for 10 MB, 1 for 100 MB, 3 for the wide file); peak = growth of the "
        "worker's max RSS over its baseline with the file's bytes loaded; ratios = profile_csv / naive; "
        "dist_cost = CPU time of profile_csv / profile_csv(distributions=False), median of alternated pairs: the "
        "price of the column distributions"
    )
