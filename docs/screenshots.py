"""Render the CSV Drop window offscreen to PNG files in docs/, with made-up data (no stack needed).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py
    QT_QPA_PLATFORM=offscreen QT_SCALE_FACTOR=2 .venv/bin/python docs/screenshots.py   # *-2x.png

Writes: window-empty.png, window-drag.png, window-uploads.png, window-browser.png, setup-dialog.png,
settings-dialog.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.environment import Health  # noqa: E402

DOCS = Path(__file__).resolve().parent
NOW = datetime.now(UTC).replace(microsecond=0)


class OfflineBackend:
    """Answers nothing: the screenshots hand their data to the window as its feeds would."""

    def __getattr__(self, name: str) -> Any:
        def unavailable(*_a: Any, **_k: Any) -> Any:
            raise RuntimeError("screenshots run offline")

        return unavailable


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


def settle(app: QApplication, ms: int = 150) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


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

    tmp = Path(tempfile.mkdtemp(prefix="csvdrop-shots-"))
    settings = Settings(config_path=tmp / "config.toml", state_dir=tmp / "state")
    healthy = {
        "localstack": Health(True, "LocalStack 4.4 at http://127.0.0.1:4566"),
        "database": Health(True, "127.0.0.1:3307: MariaDB 11.4"),
        "function": Health(True, "process_csv: Active"),
        "trigger": Health(True, "s3://my-csv-bucket -> process_csv"),
    }

    # 1. First start: nothing uploaded yet, environment not set up.
    win = MainWindow(settings, OfflineBackend(), autostart=False)  # type: ignore[arg-type]
    win.record_feed.stop()  # the records are handed in below, as the feed would
    win.resize(1280, 840)
    win.browser.mark_loaded()
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
    win.record_feed.records.emit([record("orders-2025.csv", 1, 48211, cols=6)])
    win.notice_feed.notices.emit([notice("orders-2025.csv", 20, 48211, cols=6)])
    settle(app)
    save(win, "window-uploads", scale)

    # 3. The browser with records and the detail pane.
    win.uploads.model.remove(list(win.uploads.items))
    win.uploads._update_failure_banner()
    win.banners.clear("uploads-upload")
    win.record_feed.records.emit(
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
        ]
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

    # 4. The setup dialog, half-way through.
    dialog = OperationDialog("setup", settings, OfflineBackend(), win.jobs, win)  # type: ignore[arg-type]
    steps = [
        ("Create the upload bucket", "found", "s3://my-csv-bucket already exists"),
        ("Store database credentials", "found", "csvdrop/db-writer, csvdrop/db-reader"),
        ("Create the metadata database", "created", "csvdrop on 127.0.0.1:3307 (schema v3)"),
        ("Create the notification topic", "created", "arn:aws:sns:us-east-1:000000000000:csv-metadata-notices"),
        ("Create the app's notice queue", "updated", "csvdrop-app-notices subscribed to the topic"),
        ("Create the function role", "running", ""),
        ("Publish the dependency layer", "pending", ""),
        ("Deploy the function", "pending", ""),
        ("Connect the bucket to the function", "pending", ""),
        ("Smoke test: upload a sample file", "pending", ""),
    ]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
