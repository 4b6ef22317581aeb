"""Fills a migrated MySQL metadata database with many realistic records, fast (benchmarks, paging tests).

:func:`seed_mysql` writes through the real schema with multi-row INSERTs, one transaction per batch: each
batch takes its revisions from ``csv_metadata_revision`` (locked like the writer does, so it may run beside a
live function) and adds its rows to ``csv_metadata_counts``. The records vary like real uploads: names that
share long prefixes and repeat across folders (ties), ~10% FAILED (no row/column counts, an error), ~10%
processed with warnings, sizes from bytes to gigabytes, uploads a minute apart (two years per million).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.config import Settings
from backend.store.records import status_rank
from backend.store.schema_mysql import admin_connect, check_database_name

_COLUMNS = (
    "key_hash",
    "bucket",
    "object_key",
    "file_name",
    "status",
    "error",
    "size_bytes",
    "etag",
    "sha256",
    "sequencer",
    "uploaded_at",
    "processed_at",
    "duration_ms",
    "encoding",
    "has_bom",
    "delimiter",
    "quote_char",
    "has_header",
    "line_terminator",
    "row_count",
    "column_count",
    "column_names",
    "duplicate_column_names",
    "column_profiles",
    "duplicate_row_count",
    "sample_rows",
    "header_line",
    "skipped_lines",
    "escape_char",
    "double_quote",
    "skip_initial_space",
    "warnings",
    "warning_count",
    "revision",
    "created_at",
    "updated_at",
)
_INSERT = (
    f"INSERT INTO csv_metadata ({', '.join(f'`{c}`' for c in _COLUMNS)}) "  # noqa: S608 - constant names only
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)
_COUNT_SQL = (
    "INSERT INTO csv_metadata_counts (bucket, status_rank, n) VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE n = n + %s"
)

_DEPARTMENTS = ("finance", "sales", "ops", "hr", "research", "marketing", "logistics", "support")
_STEMS = (
    "Monthly Sales Report",
    "Quarterly Revenue by Region",
    "customer_export",
    "Inventory Snapshot",
    "survey-results",
    "GL_Detail_Transactions",
    "web_analytics_sessions",
    "Payroll Summary",
    "sensor_readings_station",
    "Übersicht Aufträge",
    "données_clients",
    "shipments",
)
_ERRORS = (
    "The file is empty (0 bytes).",
    "Line 4,812: unterminated quoted field; the rest of the file is one field.",
    "Not a text file: the first bytes look like a ZIP archive (an .xlsx?). Save it as CSV.",
    "No delimiter: every line is one field, and nothing looks like a table.",
)
_COLUMN_NAMES = ("id", "date", "region", "product", "quantity", "unit_price", "total", "customer", "notes", "status")
_EPOCH = datetime(2025, 1, 1)


@dataclass(frozen=True)
class SeedReport:
    count: int
    seconds: float
    first_revision: int
    last_revision: int


def _row(rng: random.Random, i: int, bucket: str, prefix: str, *, revision: int, now: datetime) -> tuple[Any, ...]:
    stem = rng.choice(_STEMS)
    variant = rng.randrange(40)  # few variants per stem: many equal names in different folders
    name = f"{stem} {2025 + variant % 2}-{variant % 12 + 1:02d}{' (final)' if variant % 7 == 0 else ''}.csv"
    key = f"{prefix}{rng.choice(_DEPARTMENTS)}/{i:08d}/{name}"
    # Records are written as files arrive: upload times follow the index (one a minute, two years per million),
    # give or take a few minutes, so the store's revision order is roughly its upload order, as in real use.
    uploaded = _EPOCH + timedelta(seconds=i * 63 + rng.randrange(-300, 300), microseconds=rng.randrange(1_000_000))
    processed = uploaded + timedelta(milliseconds=rng.randrange(50, 20_000))
    size = int(10 ** rng.uniform(1, 9.5))
    roll = rng.random()
    failed = roll < 0.10
    warned = 0.10 <= roll < 0.20
    ncols = rng.randrange(2, len(_COLUMN_NAMES) + 1)
    names = list(_COLUMN_NAMES[:ncols])
    warnings = (
        [{"code": "ragged_rows", "message": "3 rows have fewer fields than the header.", "lines": [7, 19, 44]}]
        if warned
        else []
    )
    profiles = [
        {"name": n, "type": "integer" if n in ("id", "quantity") else "string", "null_count": 0, "distinct_count": 1}
        for n in names
    ]
    sha = hashlib.sha256(key.encode()).hexdigest()
    return (
        hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest(),
        bucket,
        key,
        name,
        "FAILED" if failed else "PROCESSED",
        rng.choice(_ERRORS) if failed else None,
        size,
        sha[:32],
        None if failed else sha,
        f"{i:016X}",
        uploaded,
        processed,
        float((processed - uploaded).total_seconds() * 1000),
        None if failed else "utf-8",
        False,
        None if failed else ",",
        None if failed else '"',
        None if failed else True,
        None if failed else "\n",
        None if failed else max(0, size // 80),
        None if failed else ncols,
        json.dumps([] if failed else names),
        "[]",
        json.dumps([] if failed else profiles),
        None if failed else 0,
        json.dumps([] if failed else [[str(i), "2025-01-01"][:ncols]]),
        None if failed else 1,
        None
        if failed
        else json.dumps({k: 0 for k in ("preamble", "footnotes", "comments", "empty_rows", "blank_lines")}),
        None,
        None if failed else True,
        None if failed else False,
        json.dumps(warnings),
        len(warnings),
        revision,
        now,
        now,
    )


def seed_mysql(
    settings: Settings,
    count: int,
    *,
    batch: int = 5000,
    bucket: str | None = None,
    prefix: str = "seed/",
    start: int = 0,
    random_seed: int = 0,
    admin_password: str | None = None,
) -> SeedReport:
    """Insert ``count`` records into ``settings.mysql_database`` (migrated; admin credentials of ``settings``).
    Keys are ``{prefix}{department}/{start + i:08d}/{name}``, so a second call with another ``start`` or
    ``prefix`` adds more rather than colliding. Returns how long it took and the revisions used."""
    if count < 0 or batch < 1:
        raise ValueError("count must be >= 0 and batch >= 1")
    bucket = bucket or settings.bucket
    rng = random.Random(random_seed)
    conn = admin_connect(settings, admin_password, check_database_name(settings.mysql_database))
    started = time.perf_counter()
    first = last = 0
    try:
        conn.autocommit(False)
        with conn.cursor() as cur:
            done = 0
            while done < count:
                size = min(batch, count - done)
                cur.execute("SELECT revision FROM csv_metadata_revision WHERE id = 1 FOR UPDATE")
                row = cur.fetchone()
                if row is None:
                    raise RuntimeError("the metadata database is not migrated (no revision counter row)")
                base = int(row[0])
                now = datetime.now(UTC).replace(tzinfo=None)  # the column holds naive UTC
                rows = [
                    _row(rng, start + done + j, bucket, prefix, revision=base + 1 + j, now=now) for j in range(size)
                ]
                cur.executemany(_INSERT, rows)
                cur.execute("UPDATE csv_metadata_revision SET revision = %s WHERE id = 1", (base + size,))
                per_rank: dict[int, int] = {}
                for r in rows:
                    rank = status_rank(str(r[4]), int(r[32]))
                    per_rank[rank] = per_rank.get(rank, 0) + 1
                for rank, n in sorted(per_rank.items()):
                    cur.execute(_COUNT_SQL, (bucket, rank, n, n))
                conn.commit()
                first = first or base + 1
                last = base + size
                done += size
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()
    return SeedReport(count, time.perf_counter() - started, first, last)
