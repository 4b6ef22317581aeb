"""The metadata browser against a real MySQL store of 10,000, 100,000 and 1,000,000 records.

A private MariaDB (the stack's own launcher, no LocalStack) is migrated with the real schema and filled by
backend/store/seeding.py. At each size the real window (gui.main_window.MainWindow over a real MySqlReader) runs in
a fresh process (bench/browser_window.py) so its memory is its own, and reports: window start to first screen,
scroll to the end, a sort by each sortable column, a name filter and a status filter (each from the request to the
first rows drawn), a poll bringing 1,000 changed and 100 deleted records (GUI-thread CPU time), the worst
event-loop gap and the process's memory. Baseline in the same run: the load-everything model the window had
before (bench/legacy_records.py, fed by changed_since as its feed did) at 100,000 records.

``python -m bench browser`` (all sizes), or ``CSVDROP_BENCH_BROWSER_SIZES=10000,100000`` for fewer.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.stack.mysql import MySqlService
from backend.store.schema_mysql import admin_connect, ensure_database_and_users
from backend.store.seeding import seed_mysql
from bench.common import stack_settings

SIZES = tuple(int(s) for s in os.environ.get("CSVDROP_BENCH_BROWSER_SIZES", "10000,100000,1000000").split(","))
BASELINE_SIZE = 100_000
CHANGED, DELETED = 1_000, 100
NAME_PREFIX = "Payroll"
ROOT = Path(__file__).resolve().parent.parent


def _child(mode: str, config: dict[str, Any], on_ready: Any = None) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.browser_window", mode, json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.stdout is not None
    result: dict[str, Any] | None = None
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("ready_for_changes") and on_ready is not None:
            on_ready()
        if "result" in message:
            result = message["result"]
    if proc.wait() != 0 or result is None:
        raise RuntimeError(f"bench.browser_window {mode} failed (exit {proc.returncode})")
    return result


def _write_changes(settings: Settings, writer_password: str, flag: Path) -> None:
    """1,000 records changed (as a re-process changes them: a new revision) and 100 deleted through the real
    writer (tombstones), then the flag file tells the window to poll."""
    sys.path.insert(0, str(ROOT / "lambda"))
    import store_writer

    conn = admin_connect(settings, None, settings.mysql_database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, bucket, object_key FROM csv_metadata WHERE deleted = 0 ORDER BY uploaded_at DESC LIMIT %s",
                (CHANGED + DELETED,),
            )
            rows = cur.fetchall()
            conn.begin()
            cur.execute("SELECT revision FROM csv_metadata_revision WHERE id = 1 FOR UPDATE")
            base = int(cur.fetchone()[0])
            cur.executemany(
                "UPDATE csv_metadata SET revision = %s, duration_ms = duration_ms + 1, updated_at = UTC_TIMESTAMP(6) "
                "WHERE id = %s",
                [(base + 1 + i, row[0]) for i, row in enumerate(rows[:CHANGED])],
            )
            cur.execute("UPDATE csv_metadata_revision SET revision = %s WHERE id = 1", (base + CHANGED,))
        conn.commit()
    finally:
        conn.close()
    writer = store_writer.MySqlWriter(
        host=settings.mysql_host,
        port=settings.mysql_port,
        user=settings.mysql_writer_user,
        password=writer_password,
        database=settings.mysql_database,
    )
    with writer:
        for _id, bucket, key in rows[CHANGED:]:
            if not writer.delete(bucket, key, "F" * 48):
                raise RuntimeError(f"the writer did not tombstone {key}")
    flag.touch()


def _row(measure: str, figures: dict[int, dict[str, Any]], pick: Any, target: str, unit: str = "ms") -> dict[str, Any]:
    row: dict[str, Any] = {"measure": measure}
    for size, result in figures.items():
        value = pick(result)
        row[f"{size:,}"] = "" if value is None else (f"{value * 1000:.0f} ms" if unit == "ms" else value)
    row["target"] = target
    return row


def run() -> list[dict[str, Any]]:
    with stack_settings("browser") as stack:
        settings = stack.replace(mysql_database="csvdrop_bench", bucket="bench-bucket")
        started = time.perf_counter()
        MySqlService(settings).start()
        writer_password, reader_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        ensure_database_and_users(settings, writer_password=writer_password, reader_password=reader_password)
        print(f"  MariaDB up and migrated in {time.perf_counter() - started:.1f} s", flush=True)
        base_config = {
            "state_dir": str(settings.state_dir),
            "mysql_port": settings.mysql_port,
            "database": settings.mysql_database,
            "bucket": settings.bucket,
            "reader_user": settings.mysql_reader_user,
            "reader_password": reader_password,
            "name_prefix": NAME_PREFIX,
            "deleted": DELETED,
        }
        ours: dict[int, dict[str, Any]] = {}
        baseline: dict[str, Any] = {}
        live = next_index = 0  # live records; the first index (in keys) not used yet
        seed_seconds: dict[int, float] = {}
        for size in SIZES:
            report = seed_mysql(settings, size - live, start=next_index, random_seed=size)
            next_index += report.count
            live = size
            seed_seconds[size] = report.seconds
            print(f"  seeded to {size:,} records ({report.seconds:.1f} s for {report.count:,})", flush=True)
            if size == BASELINE_SIZE:
                baseline = _child("legacy", base_config)
                print(f"  baseline at {size:,}: {baseline}", flush=True)
            flag = Path(tempfile.mkdtemp(prefix="csvdrop-bench-flag-")) / "changes-written"
            config = {**base_config, "changes_flag": str(flag)}
            ours[size] = _child("window", config, on_ready=lambda f=flag: _write_changes(settings, writer_password, f))
            live -= DELETED  # the poll's deletions: the next size tops the live rows up again
            print(f"  window at {size:,}: {ours[size]}", flush=True)

    sort_names = list(next(iter(ours.values()))["sorts_s"])
    rows = [
        _row("records in the list (live)", ours, lambda r: f"{r['rows']:,}", "", unit=""),
        _row("window start to first screen", ours, lambda r: r["first_screen_s"], "< 500 ms"),
        _row("scroll to the end", ours, lambda r: r["scroll_end_s"], "< 300 ms"),
    ]
    rows += [_row(f"sort: {name}", ours, lambda r, n=name: r["sorts_s"][n], "< 300 ms") for name in sort_names]
    rows += [
        _row("slowest sort", ours, lambda r: max(r["sorts_s"].values()), "< 300 ms"),
        _row(f"name filter '{NAME_PREFIX}'", ours, lambda r: r["name_filter_s"], "< 300 ms"),
        _row("  rows it matched", ours, lambda r: f"{r['name_filter_rows']:,}", "", unit=""),
        _row("status filter: failed", ours, lambda r: r["status_filter_s"], "< 300 ms"),
        _row("  rows it matched", ours, lambda r: f"{r['status_filter_rows']:,}", "", unit=""),
        _row(
            f"poll with {CHANGED:,} changes + {DELETED} deletions: GUI-thread CPU",
            ours,
            lambda r: r["poll_gui_cpu_ms"] / 1000,
            "< 50 ms",
        ),
        _row("  the same poll, wall clock to the refreshed screen", ours, lambda r: r["poll_wall_s"], ""),
        _row(
            "building the window (one blocking stretch, before the first turn)",
            ours,
            lambda r: r.get("construct_s"),
            "",
        ),
        _row("worst event-loop gap: start to first screen", ours, lambda r: r["start_gap_ms"] / 1000, "< 100 ms"),
        _row(
            "worst event-loop gap: scroll, sorts, filters",
            ours,
            lambda r: r["browse_gap_ms"] / 1000 if "browse_gap_ms" in r else None,
            "< 100 ms",
        ),
        _row(
            "  the operation with the worst gap",
            ours,
            lambda r: max(r["op_gaps_ms"].items(), key=lambda kv: kv[1])[0] if "op_gaps_ms" in r else None,
            "",
            unit="",
        ),
        _row("worst event-loop gap: the poll", ours, lambda r: r["poll_gap_ms"] / 1000, "< 100 ms"),
        _row("GUI process memory (RSS)", ours, lambda r: f"{r['gui_mb']:.0f} MB", "< 200 MB, flat", unit=""),
        _row("seeding these records (backend/store/seeding.py)", ours, lambda r: None, "", unit=""),
    ]
    for size, seconds in seed_seconds.items():
        rows[-1][f"{size:,}"] = f"{seconds:.0f} s"
    if baseline:
        size = f"{BASELINE_SIZE:,}"
        ours_at = ours.get(BASELINE_SIZE, {})

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.3f}x" if b else ""

        rows += [
            {"measure": f"BASELINE: load-everything model at {size} (before this change)"},
            {
                "measure": "  window start to the list shown",
                size: f"{baseline['first_screen_s'] * 1000:.0f} ms",
                "target": f"ours/baseline {ratio(ours_at.get('first_screen_s', 0), baseline['first_screen_s'])}",
            },
            {
                "measure": f"  name filter '{NAME_PREFIX}' (substring, in memory)",
                size: f"{baseline['name_filter_s'] * 1000:.0f} ms",
                "target": f"ours/baseline {ratio(ours_at.get('name_filter_s', 0), baseline['name_filter_s'])}",
            },
            {
                "measure": "  status filter: failed",
                size: f"{baseline['status_filter_s'] * 1000:.0f} ms",
                "target": f"ours/baseline {ratio(ours_at.get('status_filter_s', 0), baseline['status_filter_s'])}",
            },
            {
                "measure": "  sort: Rows desc",
                size: f"{baseline['sorts_s']['Rows desc'] * 1000:.0f} ms",
                "target": "ours/baseline "
                + ratio(ours_at.get("sorts_s", {}).get("Rows desc", 0), baseline["sorts_s"]["Rows desc"]),
            },
            {
                "measure": "  worst event-loop gap while loading",
                size: f"{baseline['worst_gap_ms']:.0f} ms",
            },
            {
                "measure": "  GUI process memory (RSS)",
                size: f"{baseline['gui_mb']:.0f} MB",
                "target": f"ours/baseline {ratio(ours_at.get('gui_mb', 0), baseline['gui_mb'])}",
            },
        ]
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table("Metadata browser against the real store", run())
