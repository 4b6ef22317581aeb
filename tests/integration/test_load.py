"""Load on the real stack: 500 small CSV files uploaded at once through the backend (not the GUI).

Every file must get exactly one record (COUNT(*) == COUNT(DISTINCT key) == 500) within the time budget, and
every record must be the right one (its upload's ETag, PROCESSED with the file's shape).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from testsupport import mysql_admin

from backend.config import Settings
from backend.upload import upload_file

pytestmark = [pytest.mark.stack, pytest.mark.slow]

FILES = 500
BUDGET_S = 90.0


def small_csv(i: int) -> bytes:
    """A few KB, distinct per file (so every ETag differs), 5 columns, 40 + i % 7 rows."""
    lines = ["id,name,amount,day,ok"]
    lines += [
        f"{r},name {i}-{r},{r * 1.25:.2f},2026-01-{1 + r % 28:02d},{'true' if r % 2 else 'false'}"
        for r in range(40 + i % 7)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_500_files_at_once_all_recorded_once(provisioned: Settings, tmp_path: Path) -> None:
    prefix = f"load-{uuid.uuid4().hex[:8]}/"
    paths = []
    for i in range(FILES):
        path = tmp_path / f"f{i:03d}.csv"
        path.write_bytes(small_csv(i))
        paths.append(path)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=provisioned.parallel_uploads * 4) as pool:
        results = list(pool.map(lambda p: upload_file(provisioned, p, key=prefix + p.name), paths))
    uploaded_s = time.monotonic() - started
    etags = {r.key: r.etag for r in results}
    assert len(etags) == FILES

    conn = mysql_admin(provisioned)
    like = prefix.replace("_", r"\_") + "%"
    try:
        current = 0
        deadline = started + BUDGET_S + 60
        while True:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT COUNT(*) AS n, COUNT(DISTINCT object_key) AS d FROM csv_metadata"
                    " WHERE bucket = %s AND object_key LIKE %s",
                    (provisioned.bucket, like),
                )
                counts = cur.fetchone()
            total, distinct = int(counts["n"]), int(counts["d"])
            if total >= FILES or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        with conn.cursor() as cur:
            cur.execute(
                "SELECT object_key, etag, status, row_count, column_count, error FROM csv_metadata"
                " WHERE bucket = %s AND object_key LIKE %s",
                (provisioned.bucket, like),
            )
            rows = list(cur.fetchall())
    finally:
        conn.close()
    print(f"\n{FILES} files: uploads {uploaded_s:.1f} s, all records {elapsed:.1f} s ({FILES / elapsed:.1f} files/s)")
    assert (total, distinct) == (FILES, FILES), f"{total} rows, {distinct} distinct keys after {elapsed:.0f} s"
    for row in rows:
        current += row["etag"] == etags[row["object_key"]]
        i = int(row["object_key"][len(prefix) + 1 : len(prefix) + 4])
        assert row["status"] == "PROCESSED", row["error"]
        assert (row["row_count"], row["column_count"]) == (40 + i % 7, 5), row["object_key"]
    assert current == FILES
    assert elapsed < BUDGET_S, f"all {FILES} records took {elapsed:.0f} s (budget {BUDGET_S:.0f} s)"
