"""Render the CSV Drop window offscreen to PNG files in docs/, with made-up data (no stack needed).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py
    QT_QPA_PLATFORM=offscreen QT_SCALE_FACTOR=2 .venv/bin/python docs/screenshots.py   # *-2x.png
    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py realistic             # only the realistic ones

Writes: window-empty.png, window-drag.png, window-uploads.png, window-browser.png, setup-dialog.png,
settings-dialog.png, and window-realistic.png / window-realistic-failed.png: the window with 1,252 records shaped
like the real ones it was rendered against (long names sharing long prefixes, sizes from bytes to tens of MB,
failures with the profiler's long errors, warnings with long notes, dates over two years).
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.environment import Health  # noqa: E402

DOCS = Path(__file__).resolve().parent
NOW = datetime.now(UTC).replace(microsecond=0)


class OfflineBackend:
    """Answers nothing: the screenshots hand their notices to the window as its feeds would."""

    def __getattr__(self, name: str) -> Any:
        def unavailable(*_a: Any, **_k: Any) -> Any:
            raise RuntimeError("screenshots run offline")

        return unavailable


class ShotStore(OfflineBackend):
    """An in-memory metadata store the window reads as it reads MySQL: the file list asks it for counts and
    pages (sorted and filtered here, with the real MySQL reader's capabilities), the detail pane for whole
    records. Everything else is offline."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], Any] = {}

    def add(self, records: list[Any]) -> None:
        self.records.update({(r.bucket, r.key): r for r in records})

    def open_reader(self, _settings: Settings) -> ShotReader:
        return ShotReader(self)


class ShotReader:
    """backend.store.MetadataReader over a :class:`ShotStore` (``after`` tokens are positions: the data of a
    screenshot does not change while a page is read)."""

    def __init__(self, store: ShotStore) -> None:
        self.store = store

    @property
    def capabilities(self) -> Any:
        from backend.store.mysql import CAPABILITIES

        return CAPABILITIES

    def _matching(self, query: Any) -> list[Any]:
        text = (query.text or "").lower()
        rows = [
            r
            for r in self.store.records.values()
            if (
                query.status is None or r.status == query.status or (query.status == "FAILED" and r.status == "MISSING")
            )
            and (not query.with_warnings or r.has_warnings)
            and (query.uploaded_from is None or r.uploaded_at >= query.uploaded_from)
            and (query.uploaded_to is None or r.uploaded_at < query.uploaded_to)
            and (not text or (r.key.lower() if "/" in text else r.file_name.lower()).startswith(text))
        ]

        def order(r: Any) -> tuple[Any, ...]:
            value = r.sort_value(query.sort)
            if query.sort == "status":  # as MySQL's status_rank: processed, with warnings, failed
                value = 2 if r.status in ("FAILED", "MISSING") else int(r.has_warnings)
            elif query.sort in ("file_name", "key"):
                value = value.lower()
            return (-1 if value is None else value, r.bucket, r.key)

        return sorted(rows, key=order, reverse=query.descending)

    def list(self, query: Any) -> Any:
        from dataclasses import replace

        from backend.store import RecordPage

        rows = self._matching(query)
        start = int(query.after) if query.after else query.offset
        page = rows[start : start + query.limit]
        end = start + len(page)
        if query.summary:
            page = [replace(r, columns=(), column_names=(), sample_rows=(), complete=False) for r in page]
        return RecordPage(page, len(rows), str(end) if end < len(rows) else None)

    def count(self, query: Any) -> int:
        return len(self._matching(query))

    def get(self, bucket: str, key: str) -> Any:
        return self.store.records.get((bucket, key))

    def changed_since(self, cursor: str | None, limit: int = 1000, *, summary: bool = False) -> tuple[list[Any], str]:
        return [], cursor or "r:0"

    def latest_cursor(self) -> str:
        return "r:0"  # the changes are handed to the window by fill(), as the feed would report them

    def close(self) -> None:
        pass


def record(
    name: str,
    minutes_ago: int,
    rows: int,
    *,
    failed: str | None = None,
    cols: int = 5,
    warnings: list[dict[str, Any]] | None = None,
) -> Any:
    from backend.store import MetadataRecord

    columns = [
        {
            "name": "order_id",
            "type": "integer",
            "null_count": 0,
            "distinct_count": rows,
            "min": 10001,
            "max": 10000 + rows,
        },
        {"name": "customer", "type": "string", "null_count": 3, "distinct_count": max(1, rows // 3)},
        {"name": "country", "type": "string", "null_count": 0, "distinct_count": 14},
        {"name": "amount", "type": "float", "null_count": 12, "distinct_count": rows - 40, "min": 0.5, "max": 18250.0},
        {
            "name": "ordered_on",
            "type": "date",
            "null_count": 0,
            "distinct_count": 365,
            "min": "2025-01-01",
            "max": "2025-12-31",
        },
        {"name": "paid", "type": "boolean", "null_count": 0, "distinct_count": 2},
    ][:cols]
    uploaded = NOW - timedelta(minutes=minutes_ago)
    ok = failed is None
    return MetadataRecord.from_json_dict(
        {
            "bucket": "my-csv-bucket",
            "key": name,
            "status": "PROCESSED" if ok else "FAILED",
            "error": failed,
            "size_bytes": rows * 61 + 80,
            "etag": "9b2cf535f27731c974343645a3985328",
            "sha256": "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
            "uploaded_at": uploaded.isoformat(),
            "processed_at": (uploaded + timedelta(seconds=2)).isoformat(),
            "encoding": "utf-8" if ok else None,
            "delimiter": "," if ok else None,
            "has_header": True if ok else None,
            "header_line": (3 if warnings else 1) if ok else None,
            "quote_char": '"' if ok else None,
            "double_quote": True if ok else None,
            "skip_initial_space": False if ok else None,
            "skipped_lines": {
                "preamble": 2 if warnings else 0,
                "footnotes": 2 if warnings else 0,
                "comments": 0,
                "empty_rows": 1 if warnings else 0,
                "blank_lines": 0,
            }
            if ok
            else None,
            "warnings": warnings or [],
            "row_count": rows if ok else None,
            "column_count": len(columns) if ok else None,
            "column_names": [c["name"] for c in columns] if ok else [],
            "columns": columns if ok else [],
            "duplicate_row_count": (2 if rows % 7 == 0 else 0) if ok else None,
            "sample_rows": [
                row[: len(columns)]
                for row in (
                    ["10001", "Ada Lovelace", "GB", "129.90", "2025-01-01", "true"],
                    ["10002", "Grace Hopper", "US", "18.00", "2025-01-01", "true"],
                    ["10003", "Alan Turing", "GB", "", "2025-01-02", "false"],
                    ["10004", "Edsger Dijkstra", "NL", "2450.00", "2025-01-02", "true"],
                    ["10005", "Barbara Liskov", "US", "77.25", "2025-01-03", "false"],
                )
            ]
            if ok
            else [],
        }
    )


def notice(name: str, seconds_ago: int, rows: int | None, error: str | None = None, cols: int = 5) -> Any:
    from backend.notices import Notice

    return Notice(
        message_id=f"m-{name}",
        bucket="my-csv-bucket",
        key=name,
        file_name=name.rsplit("/", 1)[-1],
        status="FAILED" if error else "PROCESSED",
        row_count=rows,
        column_count=None if error else cols,
        error=error,
        sent_at=NOW - timedelta(seconds=seconds_ago),
    )


# -- realistic data ----------------------------------------------------------------------------------
# What the window was rendered against on the real stack: 1,252 files from public data portals and survey
# exports, whose names share long prefixes and differ at the end, and the profiler's own long messages.
REAL_ERRORS = [
    "No consistent table: only 41% of the 1,874 rows have the table's 14 fields (delimiter ','; field counts: "
    "766 rows of 14, 702 rows of 15, 398 rows of 13, 8 rows of 2); the first row that differs is line 3. No "
    "delimiter gives the same number of fields on more than 90% of the lines: quote values that contain the "
    "delimiter, or export the file again.",
    "The file looks like UTF-16 without a byte-order mark but is not valid UTF-16-LE (byte offset 131071: "
    "truncated data). Re-save it with one consistent encoding, preferably UTF-8 (Excel: Save As > CSV UTF-8).",
    "The file contains binary data (a NUL byte at offset 2048), so it is not a text CSV. Check that you picked "
    "the right file; a CSV is plain text you can open in a text editor.",
    "The file's quoting is ambiguous: readers disagree on its rows (48211 vs 48209). Quote every field that "
    'contains a quote character, and double the quotes inside ("").',
    "A quoted field that starts on line 9,412 is never closed: the rest of the file (38,118 lines) would be one "
    "value. Close the quote, or export the file again with its quoting intact.",
]
REAL_WARNINGS = [
    {
        "code": "preamble_skipped",
        "message": "4 lines above the table were skipped (title, comment or note lines); the header is on line 5.",
        "lines": [1, 2, 3, 4],
    },
    {
        "code": "footnotes_skipped",
        "message": "6 lines below the table were skipped (notes, footnotes or a totals row, not data rows).",
        "lines": [2051, 2052, 2053, 2054, 2055, 2056],
    },
    {
        "code": "ragged_rows_padded",
        "message": "37 rows have fewer than 23 fields; the missing cells are empty.",
        "lines": [88, 89, 412, 413, 977, 1204, 1205, 1206, 1830, 1999],
    },
    {
        "code": "header_width",
        "message": "The header (line 1) has 2 more names than the rows have fields; the last 2 columns "
        "(remarks_free_text_entered_by_field_officer, qa_flag) are empty on every row.",
        "lines": [1],
    },
    {
        "code": "empty_rows_skipped",
        "message": "12 rows with every field empty are not counted as data (nor as a header).",
        "lines": [140, 141, 610, 611, 612, 890],
    },
]
DEPARTMENTS = [
    "transport",
    "regional-operations",
    "health-and-aged-care",
    "education",
    "environment-and-heritage",
    "treasury-and-finance",
]
OPEN_DATA = [
    "NYPD_Motor_Vehicle_Collisions_-_Crashes_2024-03-15T0412.csv",
    "Border_Crossing_Entry_Data_20251127.csv",
    "annual-enterprise-survey-2023-financial-year-provisional.csv",
    "edu_recipients_by_state_fy10.csv",
    "Electric_Vehicle_Population_Data (1).csv",
    "Lobbyist_Registrations_and_Reported_Activities_2012_to_Present.csv",
    "business-financial-data-september-2025-quarter.csv",
    "Hospital General Information - Copy (3) - FINAL.csv",
]
SURVEY_COLUMNS = [
    ("station_id", "string"),
    ("sampled_at", "datetime"),
    ("latitude_decimal_degrees", "float"),
    ("longitude_decimal_degrees", "float"),
    ("depth_m", "float"),
    ("pollock_count", "integer"),
    ("mean_fork_length_mm", "float"),
    ("water_temperature_celsius", "float"),
    ("remarks_free_text_entered_by_field_officer", "string"),
    ("qa_flag", "boolean"),
]


def realistic_names(rng: random.Random) -> list[tuple[str, str]]:
    """(file name, key) for 1,252 files: survey stations, department ledgers, open-data exports."""
    names: list[tuple[str, str]] = []
    for station in range(1, 241):
        for year in rng.sample(range(2014, 2025), 4):
            name = f"pollock_survey__station_{station:04d}__{year}.csv"
            names.append((name, f"surveys/bering-sea/pollock/{year}/{name}"))
    for dept in DEPARTMENTS:
        for year in range(2019, 2026):
            for quarter in range(1, 5):
                for suffix in ("final", "draft-v2", "final-revised-after-audit"):
                    if rng.random() < 0.65:
                        name = f"department-of-{dept}-ledger-{year}-q{quarter}-{suffix}.csv"
                        names.append((name, f"finance/ledgers/department-of-{dept}/{year}/{name}"))
    for name in OPEN_DATA:
        names.append((name, f"open-data/{name.replace(' ', '_')}"))
    rng.shuffle(names)
    return names[:1252]


def realistic_record(
    rng: random.Random, name: str, key: str, uploaded: datetime, *, failed: str | None = None, warned: int = 0
) -> Any:
    from backend.store import MetadataRecord

    size = int(
        rng.choice([697, 1_843, 3_200, 48_000, 212_000, 1_400_000, 8_650_000, 48_300_000]) * rng.uniform(0.8, 1.2)
    )
    if name.startswith("pollock"):
        spec = SURVEY_COLUMNS
    else:
        spec = [
            ("transaction_id", "integer"),
            ("posted_on", "date"),
            ("cost_centre_code", "string"),
            ("supplier_name_as_registered", "string"),
            ("amount_excluding_gst_aud", "float"),
            ("gst_aud", "float"),
            ("approved", "boolean"),
        ]
    rows = max(1, size // 96)
    ok = failed is None
    columns = [
        {
            "name": col,
            "type": kind,
            "null_count": rng.randrange(0, rows // 20 + 1),
            "distinct_count": rng.randrange(1, rows + 1),
            "min": 0.0 if kind == "float" else (1 if kind == "integer" else None),
            "max": round(rng.uniform(10, 99_999), 2) if kind == "float" else (rows if kind == "integer" else None),
        }
        for col, kind in spec
    ]
    warnings = rng.sample(REAL_WARNINGS, warned) if ok else []
    codes = {w["code"] for w in warnings}
    duplicates = min(rng.choice([0, 0, 0, 0, 3, 498, 12_907]), rows // 3) if ok else None
    return MetadataRecord.from_json_dict(
        {
            "bucket": "my-csv-bucket",
            "key": key,
            "file_name": name,
            "status": "PROCESSED" if ok else "FAILED",
            "error": failed,
            "size_bytes": size,
            "etag": "9b2cf535f27731c974343645a3985328",
            "sha256": "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
            "uploaded_at": uploaded.isoformat(),
            "processed_at": (uploaded + timedelta(seconds=rng.randrange(1, 40))).isoformat(),
            "encoding": rng.choice(["utf-8", "utf-8", "cp1252"]) if ok else None,
            "delimiter": "," if ok else None,
            "has_header": True if ok else None,
            "header_line": 5 if "preamble_skipped" in codes else (1 if ok else None),
            "quote_char": '"' if ok else None,
            "double_quote": True if ok else None,
            "skip_initial_space": False if ok else None,
            "line_terminator": "\r\n" if ok else None,
            "skipped_lines": {
                "preamble": 4 if "preamble_skipped" in codes else 0,
                "footnotes": 6 if "footnotes_skipped" in codes else 0,
                "comments": 0,
                "empty_rows": 12 if "empty_rows_skipped" in codes else 0,
                "blank_lines": 0,
            }
            if ok
            else None,
            "warnings": warnings,
            "row_count": rows if ok else None,
            "column_count": len(columns) if ok else None,
            "column_names": [c["name"] for c in columns] if ok else [],
            "duplicate_column_names": [],
            "columns": columns if ok else [],
            "duplicate_row_count": duplicates,
            "sample_rows": [
                [
                    f"ST-{rng.randrange(1, 241):04d}" if kind == "string" else f"{rng.uniform(0, 500):.2f}"
                    for _col, kind in spec
                ]
                for _ in range(5)
            ]
            if ok
            else [],
        }
    )


def realistic_records(now: datetime) -> list[Any]:
    """1,252 records over two years (the newest today), about 1 in 25 failed and 1 in 8 with warnings."""
    rng = random.Random(20251127)
    records = []
    for i, (name, key) in enumerate(realistic_names(rng)):
        if i < 40:  # today's batch
            uploaded = now - timedelta(minutes=3 * i + rng.randrange(3))
        else:
            uploaded = now - timedelta(days=rng.uniform(1, 700))
        roll = rng.random()
        if i in (4, 17):  # today's notices show a failure and a warning whatever the dice say
            roll = 0.0 if i == 4 else 0.1
        failed = rng.choice(REAL_ERRORS) if roll < 0.04 else None
        warned = rng.randrange(2, 4) if i == 17 else rng.randrange(1, 4) if 0.04 <= roll < 0.17 else 0
        records.append(realistic_record(rng, name, key, uploaded, failed=failed, warned=warned))
    # One of today's objects was lost (a local cloud that stopped before the S3 journal existed) and
    # `csvdrop reconcile` marked its record: the list shows the state, the record keeps the lost file's profile.
    lost = next(i for i in range(14, 40) if records[i].status == "PROCESSED" and not records[i].has_warnings)
    records[lost] = dataclasses.replace(
        records[lost],
        status="MISSING",
        error=f"The object s3://my-csv-bucket/{records[lost].key} is no longer in S3 (it was lost, e.g. by a local "
        "cloud that stopped without saving it); upload the file again.",
    )
    return records


def realistic_notices(records: list[Any]) -> list[Any]:
    """A notice for each of today's newest files, as the queue delivered them (oldest first)."""
    from backend.notices import Notice

    # Marking a record MISSING sends no notice (readers see it change in the list).
    newest = sorted((r for r in records if r.status != "MISSING"), key=lambda r: r.uploaded_at, reverse=True)[:12]
    return [
        Notice(
            message_id=f"m-{r.key}",
            bucket=r.bucket,
            key=r.key,
            file_name=r.file_name,
            status=r.status,
            row_count=r.row_count,
            column_count=r.column_count,
            error=r.error,
            sent_at=r.processed_at,
            warnings_count=len(r.warnings),
            warning_codes=tuple(w.code for w in r.warnings),
        )
        for r in reversed(newest)
    ]


def render_realistic(app: QApplication, settings: Settings, scale: str) -> None:
    """The window with the real-world-shaped records: a long-named file with warnings selected, then a failure."""
    from gui.main_window import MainWindow

    records = realistic_records(NOW)
    store = ShotStore()
    win = MainWindow(settings, store, autostart=False)  # type: ignore[arg-type]
    win.resize(1280, 840)
    win.environment.status.emit(
        {
            "localstack": Health(True, "LocalStack 4.4 at http://127.0.0.1:4566"),
            "database": Health(True, "127.0.0.1:3307: MariaDB 11.4"),
            "function": Health(True, "process_csv: Active"),
            "trigger": Health(True, "s3://my-csv-bucket -> process_csv"),
        }
    )
    win.show()
    settle(app, 50)
    fill(app, win, store, records)
    win.notice_feed.notices.emit(realistic_notices(records))
    from gui.uploads import UploadItem, UploadState

    tmp = Path(tempfile.mkdtemp(prefix="csvdrop-shots-files-"))
    uploads = [
        (
            "department-of-environment-and-heritage-ledger-2025-q4-final-revised-after-audit.csv",
            UploadState.UPLOADING,
            48_300_000,
            20_100_000,
            "Uploading to s3://my-csv-bucket/department-of-environment-and-heritage-ledger-2025-q4-final-revised-"
            "after-audit.csv",
        ),
        (
            "pollock_survey__station_0241__2025.csv",
            UploadState.PROCESSING,
            1_400_000,
            1_400_000,
            "Uploaded to s3://my-csv-bucket/pollock_survey__station_0241__2025.csv — waiting for the profile…",
        ),
        (
            "pollock_survey__station_0242__2025.csv",
            UploadState.QUEUED,
            697,
            0,
            "Valid CSV (10 columns, utf-8, comma-separated) — waiting for a free upload slot",
        ),
        (
            "Hospital General Information - Copy (3) - FINAL.xlsx",
            UploadState.REJECTED,
            3_200,
            0,
            "Hospital General Information - Copy (3) - FINAL.xlsx is an Excel workbook, not a CSV file: save it as "
            "CSV (File ▸ Save As ▸ CSV UTF-8).",
        ),
    ]
    items = []
    for name, state, size, sent, message in uploads:
        item = UploadItem(path=tmp / name, state=state, size=size, sent=sent, message=message, bucket="my-csv-bucket")
        item.key = name if state != UploadState.REJECTED else None
        item.seconds = 3.1
        if state == UploadState.UPLOADING:
            item.speed = 6_400_000
        items.append(item)
    win.uploads.model.add(items)
    newest = sorted(records, key=lambda r: r.uploaded_at, reverse=True)
    warned = next(r for r in newest if r.warnings and r.file_name.startswith("pollock") and len(r.warnings) > 1)
    settle(app)  # laid out with the queue and notices first: the selected row is then scrolled to the middle
    select(app, win, store, warned)
    settle(app)
    save(win, "window-realistic", scale)
    # the last failure of last year: the rows about it show both older dates ("2025-12-30") and this year's
    new_year = datetime(NOW.year, 1, 1, tzinfo=UTC)
    failed = max(
        (r for r in newest if r.status == "FAILED" and r.uploaded_at < new_year),
        key=lambda r: r.uploaded_at,
    )
    select(app, win, store, failed)
    bar = win.browser.view.horizontalScrollBar()
    bar.setValue(bar.maximum())  # the Notes and Key columns, right of what the pane shows at first
    settle(app)
    save(win, "window-realistic-failed", scale)
    win.shutdown(1000)
    win.close()


def fill(app: QApplication, win: Any, store: ShotStore, records: list[Any]) -> None:
    """The records land in the store; the window reads them as it would: the list's first query when it has
    none yet, else the feed's report of what changed (the uploads match theirs, the list reads its pages again).
    Returns once the reads are done: no placeholder rows on the screen."""
    store.add(records)
    if not win.browser.loaded:
        win.browser.load()
    else:
        win.record_feed.records.emit(records)
    model = win.browser.model
    end = time.monotonic() + 10
    while time.monotonic() < end:
        settle(app, 50)
        if win.browser.loaded and model.rowCount() == model.matching == len(store.records):
            if not win.jobs.active_count() and not model._refresh_timer.isActive():
                return
    raise RuntimeError("the file list did not read the store")


def select(app: QApplication, win: Any, store: ShotStore, record: Any) -> None:
    """Scrolls the record's row to the middle of the list (its pages are read), then selects it."""
    model, view = win.browser.model, win.browser.view
    keys = [(r.bucket, r.key) for r in ShotReader(store)._matching(model.base_query)]
    row = keys.index((record.bucket, record.key))
    view.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)
    end = time.monotonic() + 10
    while model.row_for(record.bucket, record.key) != row or win.jobs.active_count():
        if time.monotonic() > end:
            raise RuntimeError(f"row {row} ({record.key}) was not read")
        settle(app, 50)
    win.browser.select_record(record.bucket, record.key)
    view.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)


def settle(app: QApplication, ms: int = 150) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def save_with_context_menu(app: QApplication, win: Any, name: str, scale: str) -> Path:
    """The window with the file list's context menu open over the selected row (the menu is a popup window of its
    own: painted onto the window's picture where it opened)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter

    view = win.browser.view
    rect = view.visualRect(view.currentIndex())
    menu = win.browser.context_menu()
    menu.popup(view.viewport().mapToGlobal(QPoint(rect.left() + rect.width() // 2, rect.center().y())))
    settle(app)
    shot = win.grab()
    painter = QPainter(shot)
    painter.drawPixmap(win.mapFromGlobal(menu.pos()), menu.grab())
    painter.end()
    menu.close()
    menu.deleteLater()
    path = DOCS / f"{name}{scale}.png"
    shot.save(str(path))
    print(path)
    return path


def orders_csv(rows: int = 5000, seed: int = 1) -> bytes:
    """A made-up order export with the shapes the detail pane draws: skewed amounts, a few dominant cities,
    dates over a year, a mostly empty column, long free text."""
    import csv
    import io

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["order_id", "amount_eur", "customer_city", "status", "ordered_on", "shipped_at", "is_gift",
                     "remarks", "discount"])  # fmt: skip
    cities = ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Drammen", "Fredrikstad", "Kristiansand",
              "Sandnes", "Ålesund", "Bodø", "Molde"]  # fmt: skip
    for i in range(rows):
        shipped = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"
        writer.writerow(
            [
                1000 + i,
                f"{rng.lognormvariate(3.5, 0.6):.2f}",
                rng.choices(cities, weights=[30, 20, 15, 12, 6, 5, 4, 3, 2, 1, 1, 1])[0],
                rng.choice(["shipped", "shipped", "shipped", "pending", "cancelled", ""]),
                f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                shipped if rng.random() > 0.3 else "",
                rng.choice(["true", "false", "false"]),
                rng.choice(["", "", "", "call before delivery", "leave at the door", "fragile"]),
                "" if rng.random() < 0.9 else rng.randint(5, 30),
            ]
        )
    return out.getvalue().encode()


def save_detail_charts(app: QApplication, name: str, scale: str) -> Path:
    """The detail pane of a file profiled by the real profiler (lambda/csv_metadata.py), scrolled to its columns."""
    from backend.store import MetadataRecord
    from gui.detail import DetailPane

    sys.path.insert(0, str(DOCS.parent / "lambda"))
    import csv_metadata

    data = orders_csv()
    profile = csv_metadata.profile_csv(data)
    rec = MetadataRecord.from_json_dict(
        {
            "bucket": "my-csv-bucket",
            "key": "sales/orders-2025.csv",
            "status": "PROCESSED",
            "size_bytes": len(data),
            "uploaded_at": (NOW - timedelta(minutes=3)).isoformat(),
            "processed_at": (NOW - timedelta(minutes=3) + timedelta(seconds=1)).isoformat(),
            "sequencer": "0" * 48,
            "etag": "9b2cf535f27731c974343645a3985328",
            "sha256": "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
            **profile,
        }
    )
    pane = DetailPane()
    pane.resize(520, 1100)
    pane.show()
    pane.show_record(rec)
    settle(app)
    return save(pane, name, scale)


def save(widget: QWidget, name: str, scale: str) -> Path:
    path = DOCS / f"{name}{scale}.png"
    widget.grab().save(str(path))
    print(path.relative_to(ROOT))
    return path


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    scale = "-2x" if float(os.environ.get("QT_SCALE_FACTOR") or 1) >= 2 else ""
    from backend.steps import PlanStarted, StepFinished, StepResult, StepStarted
    from gui.environment import OperationDialog
    from gui.main_window import MainWindow
    from gui.uploads import UploadItem, UploadState

    if sys.argv[1:] == ["realistic"]:
        real_tmp = Path(tempfile.mkdtemp(prefix="csvdrop-shots-real-"))
        render_realistic(app, Settings(config_path=real_tmp / "config.toml", state_dir=real_tmp / "state"), scale)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="csvdrop-shots-"))
    settings = Settings(config_path=tmp / "config.toml", state_dir=tmp / "state")
    healthy = {
        "localstack": Health(True, "LocalStack 4.4 at http://127.0.0.1:4566"),
        "database": Health(True, "127.0.0.1:3307: MariaDB 11.4"),
        "function": Health(True, "process_csv: Active"),
        "trigger": Health(True, "s3://my-csv-bucket -> process_csv"),
    }

    # 1. First start: nothing uploaded yet, environment not set up.
    store = ShotStore()
    win = MainWindow(settings, store, autostart=False)  # type: ignore[arg-type]
    win.resize(1280, 840)
    fill(app, win, store, [])  # the empty store's answer: "No files yet"
    first_start = {
        "localstack": Health(True, "LocalStack 4.4 at http://127.0.0.1:4566"),
        "database": Health(True, "127.0.0.1:3307: MariaDB 11.4"),
        "function": Health(False, "not deployed: run Set up environment"),
        "trigger": Health(False, "not wired: run Set up environment"),
    }
    win.environment.status.emit(first_start)
    win.show()
    settle(app)
    save(win, "window-empty", scale)
    drop_zone = win.uploads_panel.drop_zone
    drop_zone._set_drag_state("accept")  # what dragging files over the window looks like
    settle(app, 50)
    save(win, "window-drag", scale)
    drop_zone._set_drag_state(None)

    # 2. Uploads in progress, with a rejected file and a failure.
    win.environment.status.emit(healthy)
    items = []
    specs = [
        ("orders-2025.csv", UploadState.DONE, 1_240_000, 1_240_000, "48,211 rows × 6 columns"),
        (
            "customers.csv",
            UploadState.PROCESSING,
            310_000,
            310_000,
            "Uploaded to s3://my-csv-bucket/customers.csv — waiting for the profile…",
        ),
        (
            "inventory-march.csv",
            UploadState.UPLOADING,
            8_400_000,
            3_150_000,
            "Uploading to s3://my-csv-bucket/inventory-march.csv",
        ),
        ("returns.csv", UploadState.UPLOADING, 2_100_000, 1_900_000, "Uploading to s3://my-csv-bucket/returns.csv"),
        (
            "suppliers.csv",
            UploadState.QUEUED,
            96_000,
            0,
            "Valid CSV (7 columns, utf-8, semicolon-separated) — waiting for a free upload slot",
        ),
        (
            "budget.xlsx",
            UploadState.REJECTED,
            48_500,
            0,
            "budget.xlsx is an Excel workbook, not a CSV file: save it as CSV (File ▸ Save As ▸ CSV UTF-8).",
        ),
        (
            "q4-export.csv",
            UploadState.FAILED,
            5_000_000,
            1_200_000,
            "The connection to http://127.0.0.1:4566 was lost: is the local stack running? Then press Retry.",
        ),
    ]
    for name, state, size, sent, message in specs:
        item = UploadItem(
            path=tmp / name,
            state=state,
            size=size,
            sent=sent,
            message=message,
            bucket="my-csv-bucket",
            key=name,
            seconds=2.4,
        )
        if state == UploadState.UPLOADING:
            item.speed = 1_800_000 if name.startswith("inv") else 950_000
        items.append(item)
    win.uploads.model.add(items)
    win.uploads._update_failure_banner()
    fill(app, win, store, [record("orders-2025.csv", 1, 48211, cols=6)])
    win.notice_feed.notices.emit([notice("orders-2025.csv", 20, 48211, cols=6)])
    settle(app)
    save(win, "window-uploads", scale)

    # 3. The browser with records and the detail pane.
    win.uploads.model.remove(list(win.uploads.items))
    win.uploads._update_failure_banner()
    win.banners.clear("uploads-upload")
    fill(
        app,
        win,
        store,
        [
            record("sales/2025/january.csv", 190, 12_408),
            record("sales/2025/february.csv", 160, 11_873),
            record("sales/2025/march.csv", 120, 13_950),
            record("customers.csv", 42, 3_120),
            record(
                "legacy/export.csv",
                35,
                0,
                failed="Line 418 has an unterminated quote: the file ends inside "
                "a quoted field. Fix the quote and upload it again.",
            ),
            record("inventory-march.csv", 12, 88_240),
            record("returns.csv", 6, 1_904),
            record(
                "open-data/edu_recipients_by_state_fy10.csv",
                3,
                53,
                warnings=[
                    {
                        "code": "preamble_skipped",
                        "lines": [1, 2],
                        "message": "2 lines above the table were skipped "
                        "(title, comment or note lines); the header is on line 3.",
                    },
                    {
                        "code": "footnotes_skipped",
                        "lines": [57, 58],
                        "message": "2 lines below the table were skipped (notes or footnotes, not data rows).",
                    },
                    {
                        "code": "empty_rows_skipped",
                        "lines": [56],
                        "message": "1 row with every field empty is not counted as data.",
                    },
                ],
            ),
        ],
    )
    win.notice_feed.notices.emit(
        [
            notice("sales/2025/march.csv", 7200, 13_950),
            notice("customers.csv", 2500, 3_120),
            notice("legacy/export.csv", 2100, None, "Line 418 has an unterminated quote."),
            notice("inventory-march.csv", 700, 88_240),
            notice("returns.csv", 350, 1_904),
        ]
    )
    win.browser.select_record("my-csv-bucket", "sales/2025/march.csv")
    settle(app)
    save(win, "window-browser", scale)
    win.browser.select_record("my-csv-bucket", "open-data/edu_recipients_by_state_fy10.csv")
    settle(app)
    save(win, "window-warnings", scale)
    win.browser.select_record("my-csv-bucket", "sales/2025/march.csv")
    settle(app)
    save_with_context_menu(app, win, "window-context-menu", scale)
    save_detail_charts(app, "detail-charts", scale)

    # 4. The setup dialog, half-way through.
    dialog = OperationDialog("setup", settings, OfflineBackend(), win.jobs, win)  # type: ignore[arg-type]
    # The real plan's titles (backend/provisioning.py), with details as a first setup on LocalStack writes them.
    from backend.provisioning import SETUP_PLAN

    details = {
        "bucket": ("found", "bucket s3://my-csv-bucket"),
        "secrets": (
            "created",
            "csvdrop/db-writer (writer, for the Lambda), csvdrop/db-reader (read-only, for the app)",
        ),
        "database": ("created", "csvdrop on 127.0.0.1:3307: applied migration 0001, 0002; created users"),
        "dynamodb": ("skipped", "metadata_store is mysql"),
        "topic": ("created", "arn:aws:sns:us-east-1:000000000000:csv-metadata-notices"),
        "queue": ("created", "this desktop's: csvdrop-app-notices-alice-laptop-app-3f9c2a1b (window), …"),
        "email": ("skipped", "no --notify-email given"),
        "failed_events": ("created", "process_csv-failed-events keeps events the function could not process"),
        "role": ("running", ""),
    }
    steps = [(title, *details.get(name, ("pending", ""))) for name, title, _ in SETUP_PLAN]
    dialog.running = True
    dialog.show_event(PlanStarted(tuple(title for title, _, _ in steps)))
    for i, (title, status, detail) in enumerate(steps):
        if status != "pending":
            dialog.show_event(StepStarted(i, title))
        if status not in ("pending", "running"):
            dialog.show_event(StepFinished(i, title, StepResult(f"step{i}", status, detail)))  # type: ignore[arg-type]
    dialog.show()
    settle(app)
    save(dialog, "setup-dialog", scale)
    dialog.running = False
    dialog.close()

    # 5. Settings.
    from gui.settings_dialog import SettingsDialog

    prefs = SettingsDialog(settings.replace(config_path=Path.home() / ".config/csvdrop/config.toml"), win)
    prefs.show()
    settle(app, 50)
    save(prefs, "settings-dialog", scale)
    prefs.close()
    win.shutdown(1000)
    win.close()

    # 6. Real-world-shaped data (its own window and state file: nothing carried over from the tidy shots).
    real_tmp = Path(tempfile.mkdtemp(prefix="csvdrop-shots-real-"))
    render_realistic(app, Settings(config_path=real_tmp / "config.toml", state_dir=real_tmp / "state"), scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
