"""Load on the real stack: 500 small CSV files uploaded at once through the backend (not the GUI).

Every file must get exactly one record (COUNT(*) == COUNT(DISTINCT key) == 500), and every record must be the
right one (its upload's ETag, PROCESSED with the file's shape). How fast is `python -m bench load`'s question
(files/s against an in-process baseline); here a generous wait only keeps a stuck pipeline from hanging the run.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from testsupport import NotYet, mysql_admin, wait_until

from backend.config import Settings
from backend.upload import upload_file

pytestmark = [pytest.mark.stack, pytest.mark.slow]

FILES = 500


def small_csv(i: int) -> bytes:
    """A few KB, distinct per file (so every ETag differs), 5 columns, 40 + i % 7 rows."""
    lines = ["id,name,amount,day,ok"]
    lines += [
        f"{r},name {i}-{r},{r * 1.25:.2f},2026-01-{1 + r % 28:02d},{'true' if r % 2 else 'false'}"
        for r in range(40 + i % 7)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.timeout(900)
def test_500_files_at_once_all_recorded_once(provisioned: Settings, tmp_path: Path) -> None:
    prefix = f"load-{uuid.uuid4().hex[:8]}/"
    paths = []
    for i in range(FILES):
        path = tmp_path / f"f{i:03d}.csv"
        path.write_bytes(small_csv(i))
        paths.append(path)

    with ThreadPoolExecutor(max_workers=provisioned.small_uploads_at_once) as pool:
        results = list(pool.map(lambda p: upload_file(provisioned, p, key=prefix + p.name), paths))
    etags = {r.key: r.etag for r in results}
    assert len(etags) == FILES

    conn = mysql_admin(provisioned)
    like = prefix.replace("_", r"\_") + "%"

    def rows_under_prefix() -> list[dict[str, Any]]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT object_key, etag, status, row_count, column_count, error FROM csv_metadata"
                " WHERE bucket = %s AND object_key LIKE %s",
                (provisioned.bucket, like),
            )
            return list(cur.fetchall())

    def every_upload_recorded() -> list[dict[str, Any]] | NotYet:
        rows = rows_under_prefix()
        current = sum(row["etag"] == etags.get(row["object_key"]) for row in rows)
        return rows if current >= FILES else NotYet(f"{current} of {FILES} records with their upload's ETag")

    try:
        rows = wait_until(every_upload_recorded, 600, f"a record for each of the {FILES} uploads", interval=0.5)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) AS n, COUNT(DISTINCT object_key) AS d FROM csv_metadata"
                " WHERE bucket = %s AND object_key LIKE %s",
                (provisioned.bucket, like),
            )
            counts = cur.fetchone()
    finally:
        conn.close()
    assert (int(counts["n"]), int(counts["d"])) == (FILES, FILES), counts
    assert {row["object_key"] for row in rows} == set(etags)
    for row in rows:
        i = int(row["object_key"][len(prefix) + 1 : len(prefix) + 4])
        assert row["etag"] == etags[row["object_key"]], row["object_key"]
        assert row["status"] == "PROCESSED", row["error"]
        assert (row["row_count"], row["column_count"]) == (40 + i % 7, 5), row["object_key"]
