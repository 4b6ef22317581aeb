"""The window against the real local stack: drop a file, watch it upload, get profiled and show up.

Uses the root conftest's session fixture ``provisioned`` (LocalStack + MariaDB, setup run).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_fixtures import MySqlTestDb, create_mysql_test_db, make_record

from backend.config import Settings
from backend.store import MetadataReader, open_reader
from backend.upload import UploadResult
from gui.backend_api import Backend
from gui.uploads import UploadState

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture
def real_window(qtbot: Any, provisioned: Settings, tmp_path: Path) -> Any:
    from gui.main_window import MainWindow

    win = MainWindow(provisioned.replace(config_path=tmp_path / "config.toml", poll_interval_ms=300))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown()


def test_dropped_file_is_uploaded_profiled_and_shown(qtbot: Any, real_window: Any, tmp_path: Path) -> None:
    win = real_window
    name = f"gui-{uuid.uuid4().hex[:8]}.csv"
    path = tmp_path / name
    path.write_text("id,city,amount\n1,Oslo,2.5\n2,Bergen,\n3,Oslo,7\n", encoding="utf-8")
    win.add_paths([path])
    qtbot.waitUntil(lambda: bool(win.uploads.items) and win.uploads.items[0].state.finished, timeout=180_000)
    item = win.uploads.items[0]
    assert item.state == UploadState.DONE, item.message
    assert item.message == "3 rows × 3 columns"
    qtbot.waitUntil(lambda: win.browser.model.find(win.settings.bucket, item.key) is not None, timeout=30_000)
    assert win.browser.select_record(win.settings.bucket, item.key)
    # the list holds summary rows: the detail pane reads the whole record (its columns) on a worker
    qtbot.waitUntil(lambda: win.detail.record is not None and win.detail.record.complete, timeout=30_000)
    text = win.detail.text()
    assert name in text and "amount\tDecimal\t1" in text
    qtbot.waitUntil(lambda: any(t.startswith(f"{name} — processed") for t in win.notices.texts()), timeout=60_000)
    qtbot.waitUntil(win.env_bar.all_ok, timeout=60_000)
    assert "store" not in win.banners.messages()
    assert "env" not in win.banners.messages()


def test_setup_from_the_window_finds_everything_in_place(qtbot: Any, real_window: Any) -> None:
    dialog = real_window.setup_environment()
    qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=300_000)
    assert dialog.succeeded is True, dialog.outcome.text()
    assert dialog.results and all(status != "failed" for _, status, _ in dialog.results)
    assert "Environment ready" in dialog.outcome.text()
    dialog.close()


def test_rejected_file_is_not_uploaded(qtbot: Any, real_window: Any, tmp_path: Path) -> None:
    win = real_window
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    win.add_paths([path])
    qtbot.waitUntil(lambda: bool(win.uploads.items) and win.uploads.items[0].state.finished, timeout=10_000)
    assert win.uploads.items[0].state == UploadState.REJECTED
    assert win.uploads.items[0].key is None


class _TestDatabaseBackend(Backend):
    """The real backend, reading a test database whose read-only password the test holds (the provisioned
    database's password lives in Secrets Manager; everything else is the product's own code)."""

    def __init__(self, db: MySqlTestDb) -> None:
        self.db = db

    def open_reader(self, settings: Settings) -> MetadataReader:
        return open_reader(settings, password=self.db.reader_password)


@pytest.fixture
def big_database(provisioned: Settings) -> Iterator[MySqlTestDb]:
    yield from create_mysql_test_db(provisioned)


def test_the_browser_shows_a_store_larger_than_one_read_through_pages(
    qtbot: Any, big_database: MySqlTestDb, tmp_path: Path
) -> None:
    """2,500 records written by the real writer into MySQL: the window counts them in the store, reads the first
    screen and, scrolled to the bottom, the last one (the store's order both ways), and a record changed afterwards
    arrives through the revision cursor into its row."""
    from backend.store import RecordQuery
    from gui.main_window import MainWindow

    total = 2_500
    writer = big_database.writer()
    try:
        for i in range(total):
            writer.upsert(
                make_record(key=f"paged/{i:05d}.csv", sequencer=f"{i + 1:020X}", bucket=big_database.settings.bucket)
            )
    finally:
        writer.close()
    with big_database.reader() as reader:
        newest = reader.list(RecordQuery(limit=1)).records[0].key
        oldest = reader.list(RecordQuery(limit=1, descending=False)).records[0].key
    settings = big_database.settings.replace(config_path=tmp_path / "config.toml", poll_interval_ms=300)
    win = MainWindow(settings, _TestDatabaseBackend(big_database))
    qtbot.addWidget(win)
    win.show()
    model = win.browser.model
    try:
        qtbot.waitUntil(lambda: model.rowCount() == total and model.record_at(0) is not None, timeout=120_000)
        top = model.record_at(0)
        assert top is not None and top.key == newest
        assert model.record_at(total - 1) is None  # not read: the window reads what it shows
        win.browser.view.scrollToBottom()
        qtbot.waitUntil(lambda: model.record_at(total - 1) is not None, timeout=30_000)
        bottom = model.record_at(total - 1)
        assert bottom is not None and bottom.key == oldest
        win.browser.view.scrollToTop()
        qtbot.waitUntil(lambda: model.record_at(0) is not None, timeout=30_000)
        writer = big_database.writer()
        try:
            writer.upsert(
                make_record(
                    key=newest,
                    sequencer=f"{total + 1:020X}",
                    bucket=big_database.settings.bucket,
                    row_count=777,
                )
            )
        finally:
            writer.close()

        def changed() -> bool:
            record = model.find(big_database.settings.bucket, newest)
            return record is not None and record.row_count == 777

        qtbot.waitUntil(changed, timeout=30_000)
        assert model.rowCount() == total
    finally:
        win.shutdown()


class _HeldUploadBackend(Backend):
    """The real backend, whose upload holds after its first bytes until the window cancels it: the test then
    clicks Cancel while the multipart upload to the real S3 is under way, never after it has finished."""

    def __init__(self) -> None:
        self.sending = threading.Event()

    def upload_file(
        self,
        settings: Settings,
        path: Path,
        *,
        key: str | None,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
    ) -> UploadResult:
        assert cancel is not None

        def hold_then_report(sent: int, total: int) -> None:
            if not self.sending.is_set():
                self.sending.set()
                cancel.wait(60)
            if on_progress is not None:
                on_progress(sent, total)

        return super().upload_file(settings, path, key=key, on_progress=hold_then_report, cancel=cancel)


def test_cancelling_an_upload_leaves_nothing_in_the_bucket(qtbot: Any, provisioned: Settings, tmp_path: Path) -> None:
    from backend import aws
    from gui.main_window import MainWindow

    name = f"cancelled-{uuid.uuid4().hex[:8]}.csv"
    path = tmp_path / name
    with path.open("w", encoding="utf-8") as out:
        out.write("id,city,amount\n")
        for i in range(380_000):
            out.write(f"{i},Trondheim,{i % 997}.25\n")
    # Above the multipart threshold (so the cancel must abort a multipart upload) and below the size limit.
    assert provisioned.multipart_threshold_bytes < path.stat().st_size <= provisioned.max_file_bytes
    backend = _HeldUploadBackend()
    win = MainWindow(provisioned.replace(config_path=tmp_path / "config.toml"), backend)
    qtbot.addWidget(win)
    win.show()
    try:
        win.add_paths([path])
        qtbot.waitUntil(backend.sending.is_set, timeout=60_000)
        item = win.uploads.items[0]
        assert item.state == UploadState.UPLOADING
        win.uploads_panel.run_row_action(0)  # the row's Cancel button
        qtbot.waitUntil(lambda: item.state == UploadState.CANCELLED, timeout=60_000)
        s3 = aws.client(provisioned, "s3")
        listed = s3.list_objects_v2(Bucket=provisioned.bucket, Prefix=item.key or name)
        assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
        pending = s3.list_multipart_uploads(Bucket=provisioned.bucket, Prefix=item.key or name)
        assert not pending.get("Uploads"), "the cancelled multipart upload was left open in S3"
    finally:
        win.shutdown()


def test_teardown_from_the_window_removes_the_environment(
    qtbot: Any, separate_environment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testsupport import assert_environment_gone

    from gui import main_window
    from gui.main_window import MainWindow

    settings = separate_environment.replace(config_path=separate_environment.state_dir / "gui-config.toml")
    monkeypatch.setattr(main_window, "confirm_teardown", lambda _parent, _settings: True)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    try:
        dialog = win.teardown_environment()
        assert dialog is not None
        qtbot.waitUntil(lambda: dialog.succeeded is not None, timeout=300_000)
        assert dialog.succeeded is True, dialog.outcome.text()
        items = [dialog.table.item(row, 1) for row in range(dialog.table.rowCount())]
        shown = [item.text() if item is not None else None for item in items]
        assert shown and all(text is not None and text.endswith("Removed") for text in shown), shown
        dialog.close()
    finally:
        win.shutdown()
    assert_environment_gone(settings)
