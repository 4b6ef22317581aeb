"""Fakes at the network/process boundary for GUI tests: the real backend data types, fake I/O.

``FakeBackend`` implements :class:`gui.backend_api.BackendApi` (mypy checks it, see the end of this file).
Records, notices, steps, step results and health are the backend's own types, so the GUI is tested against
the shapes it will really get.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import gc
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from PySide6.QtCore import QElapsedTimer, QTimer

from backend import upload
from backend.config import Settings
from backend.environment import BringUp, Health
from backend.export import Format
from backend.files import (
    DeletedFile,
    DeleteOutcome,
    DownloadCancelled,
    FileActionError,
    Invocation,
    ReprocessOutcome,
    TargetExists,
)
from backend.notices import Notice, NoticeError, ReaderQueue
from backend.steps import PlanOutcome, Status, Step
from backend.store import SORT_KEYS, MetadataRecord, ReaderCapabilities, RecordPage, RecordQuery, Records, StoreError
from backend.upload import UploadCancelled, UploadError, UploadResult
from backend.validation import ValidationResult
from gui.backend_api import BackendApi

BUCKET = "test-bucket"
T0 = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)


def make_record(
    name: str,
    *,
    status: str = "PROCESSED",
    rows: int = 3,
    minutes: int = 0,
    bucket: str = BUCKET,
    error: str | None = None,
    revision: int = 0,
    columns: list[dict[str, Any]] | None = None,
    uploaded: datetime | None = None,
    warnings: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> MetadataRecord:
    cols = columns or [
        {"name": "id", "type": "integer", "null_count": 0, "distinct_count": rows, "min": 1, "max": rows},
        {"name": "city", "type": "string", "null_count": 1, "distinct_count": 2, "min": None, "max": None},
        {
            "name": "when",
            "type": "date",
            "null_count": 0,
            "distinct_count": rows,
            "min": "2026-01-01",
            "max": "2026-01-03",
        },
    ]
    processed = status == "PROCESSED"
    data = {
        "bucket": bucket,
        "key": name,
        "file_name": name.rsplit("/", 1)[-1],
        "status": status,
        "error": None if processed else (error or "The file is not valid UTF-8 or Latin-1 text."),
        "size_bytes": 100 + rows,
        "etag": "e" * 32,
        "sha256": "ab" * 32,
        "sequencer": f"{revision:016X}",
        "uploaded_at": (uploaded or T0 + timedelta(minutes=minutes)).isoformat(),
        "processed_at": ((uploaded or T0 + timedelta(minutes=minutes)) + timedelta(seconds=2)).isoformat(),
        "duration_ms": 12.5,
        "encoding": "utf-8" if processed else None,
        "has_bom": False,
        "delimiter": "," if processed else None,
        "quote_char": '"' if processed else None,
        "has_header": True if processed else None,
        "line_terminator": "\n" if processed else None,
        "row_count": rows if processed else None,
        "column_count": len(cols) if processed else None,
        "column_names": [c["name"] for c in cols] if processed else [],
        "duplicate_column_names": [],
        "columns": cols if processed else [],
        "duplicate_row_count": 0 if processed else None,
        "sample_rows": [["1", "Oslo", "2026-01-01"], ["2", "", "2026-01-02"]] if processed else [],
        "warnings": (warnings or []) if processed else [],
        "escape_char": None,
        "double_quote": True if processed else None,
        "skip_initial_space": False if processed else None,
        "header_line": 1 if processed else None,
        "skipped_lines": {"preamble": 0, "footnotes": 0, "comments": 0, "empty_rows": 0, "blank_lines": 0}
        if processed
        else None,
    }
    data.update(extra)
    return MetadataRecord.from_json_dict(data, revision=revision)


# Warnings as the profiler reports them (docs/contracts.md), for "processed with warnings" records.
SAMPLE_WARNINGS = [
    {"code": "preamble_skipped", "message": "Skipped 2 lines of text before the header.", "lines": [1, 2]},
    {
        "code": "ragged_rows",
        "message": "3 rows are shorter than the header; their missing fields are empty.",
        "lines": [7, 12, 13],
    },
]


def make_notice(
    name: str, *, status: str = "PROCESSED", seconds: int = 0, bucket: str = BUCKET, warning_codes: tuple[str, ...] = ()
) -> Notice:
    return Notice(
        message_id=f"msg-{name}-{seconds}",
        bucket=bucket,
        key=name,
        file_name=name.rsplit("/", 1)[-1],
        status=status,
        row_count=3 if status == "PROCESSED" else None,
        column_count=3 if status == "PROCESSED" else None,
        error=None if status == "PROCESSED" else "Unterminated quote on line 3.",
        sent_at=T0 + timedelta(seconds=seconds),
        warnings_count=len(warning_codes),
        warning_codes=warning_codes,
    )


def summary_of(record: MetadataRecord) -> MetadataRecord:
    """The record as a summary read returns it (backend/store/records.py: RecordQuery.summary)."""
    return replace(record, columns=(), column_names=(), sample_rows=(), complete=False)


def _comparable(value: Any) -> tuple[int, Any]:
    """NULL first, as MySQL orders it; times as seconds (keyset tokens carry them as JSON)."""
    if value is None:
        return (0, 0)
    if isinstance(value, datetime):
        return (1, value.timestamp())
    return (1, value)


class FakeReader:
    """A MetadataReader over the fake's change log, faithful to the Protocol: filters, the sorts of
    ``backend.capabilities`` (others refused), offset and keyset paging (opaque tokens), count, get, summary
    records, and tombstones in ``changed_since``. Every list/count call is recorded in ``backend.queries``."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.closed = False

    @property
    def capabilities(self) -> ReaderCapabilities:
        return self.backend.capabilities

    def _check(self, query: RecordQuery) -> None:
        self.backend.reader_calls += 1
        if self.backend.store_error:
            raise StoreError(self.backend.store_error)
        if query.sort not in self.capabilities.sort_keys:
            raise StoreError(f"This store cannot sort by {query.sort}.")
        if query.offset and not self.capabilities.random_access:
            raise StoreError("This store has no random access: page with RecordQuery.after.")
        if self.backend.list_delay:
            time.sleep(self.backend.list_delay)

    def _ordered(self, query: RecordQuery) -> tuple[list[tuple[Any, ...]], list[MetadataRecord]]:
        """The live records matching the filters in the query's order, with their order keys (cached per
        store revision, filters and sort)."""
        cache_key = (self.backend.revision, replace(query, limit=1, offset=0, after=None, summary=False))
        with self.backend.lock:
            cached = self.backend.ordered_cache.get(cache_key)
            if cached is not None:
                return cached
            live = [r for r in self.backend.current.values() if not r.deleted]
        text = (query.text or "").lower()
        rows = [
            r
            for r in live
            # the store's "FAILED" covers every record not profiled: MISSING (object gone) too
            if (query.status is None or r.status == query.status or (query.status, r.status) == ("FAILED", "MISSING"))
            and (not query.with_warnings or r.has_warnings)
            and (query.bucket is None or r.bucket == query.bucket)
            and (query.uploaded_from is None or r.uploaded_at >= query.uploaded_from)
            and (query.uploaded_to is None or r.uploaded_at < query.uploaded_to)
            and (not text or (r.key if "/" in text else r.file_name).lower().startswith(text))
        ]
        keyed = sorted(((_comparable(r.sort_value(query.sort)), r.bucket, r.key), r) for r in rows)
        records = [r for _, r in keyed]
        if query.descending:
            records.reverse()
        result = ([k for k, _ in keyed], records)  # the keys stay ascending, for bisect
        with self.backend.lock:
            self.backend.ordered_cache = {cache_key: result}
        return result

    def list(self, query: RecordQuery) -> RecordPage:
        self._check(query)
        self.backend.queries.append(query)
        keys, ordered = self._ordered(query)
        if query.after:
            last = json.loads(base64.urlsafe_b64decode(query.after))
            mark = ((last[0][0], last[0][1]), last[1], last[2])
            if query.descending:  # the rows after the mark are those below it
                start = len(keys) - bisect.bisect_left(keys, mark)
            else:
                start = bisect.bisect_right(keys, mark)
        else:
            start = query.offset
        page = ordered[start : start + query.limit]
        token = None
        if start + query.limit < len(ordered) and page:
            r = page[-1]
            k = (_comparable(r.sort_value(query.sort)), r.bucket, r.key)
            token = base64.urlsafe_b64encode(json.dumps([list(k[0]), k[1], k[2]]).encode()).decode()
        records = [summary_of(r) for r in page] if query.summary else page
        return RecordPage(records, len(ordered), token)

    def count(self, query: RecordQuery) -> int:
        self._check(replace(query, offset=0))
        self.backend.counts.append(query)
        return len(self._ordered(query)[1])

    def get(self, bucket: str, key: str) -> MetadataRecord | None:
        if self.backend.store_error:
            raise StoreError(self.backend.store_error)
        self.backend.gets.append((bucket, key))
        with self.backend.lock:
            record = self.backend.current.get((bucket, key))
        return None if record is None or record.deleted else record

    def changed_since(self, cursor: str | None, limit: int = 1000, *, summary: bool = False) -> tuple[Records, str]:
        self.backend.reader_calls += 1
        self.backend.change_reads += 1
        if self.backend.store_error:
            raise StoreError(self.backend.store_error)
        if self.backend.poll_delay:
            time.sleep(self.backend.poll_delay)
        # The real readers' contract (backend/store/records.py): oldest change first, at most `limit`, and the
        # cursor names the last change handed out, so the next call continues exactly where this one stopped.
        after = int(cursor.split(":")[1]) if cursor else 0
        with self.backend.lock:
            at = bisect.bisect_right(self.backend.log, after, key=lambda entry: entry[0])
            changed = self.backend.log[at : at + limit]
        last = changed[-1][0] if changed else after
        return [summary_of(r) if summary and not r.deleted else r for _, r in changed], f"r:{last}"

    def latest_cursor(self) -> str:
        self.backend.reader_calls += 1
        if self.backend.store_error:
            raise StoreError(self.backend.store_error)
        with self.backend.lock:
            return f"r:{self.backend.log[-1][0] if self.backend.log else 0}"

    def close(self) -> None:
        self.closed = True


class FakeNoticeReader:
    def __init__(self, backend: FakeBackend, on_open: Callable[[ReaderQueue], None] | None = None) -> None:
        self.backend = backend
        self.on_open = on_open
        self.opened = False
        self.closed = False

    def receive(self, wait_seconds: int = 1, max_messages: int = 10) -> list[Notice]:
        self.backend.notice_reading.set()
        if self.backend.notice_gate is not None:  # a long poll the test lets return when it wants
            self.backend.notice_gate.wait(10)
        if self.backend.notice_error:
            raise NoticeError(self.backend.notice_error)
        if not self.opened:  # as the real reader: the queue is opened (and reported) on the first read
            self.opened = True
            if self.on_open is not None:
                self.on_open(self.backend.notice_queue)
        with self.backend.lock:
            out, self.backend.notices[:] = self.backend.notices[:max_messages], self.backend.notices[max_messages:]
        if not out:
            time.sleep(min(0.05, wait_seconds))
        return out

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeAction:
    """A step's action: instead of talking to AWS it waits ``delay`` seconds, then reports ``status`` and
    ``detail`` (or raises ``error``, which the real Step.run turns into a failed result)."""

    status: Status = "created"
    detail: str = ""
    delay: float = 0.0
    error: Exception | None = None
    ran: bool = False

    def __call__(self) -> tuple[Status, str]:
        time.sleep(self.delay)
        self.ran = True
        if self.error is not None:
            raise self.error
        return self.status, self.detail


def fake_step(
    name: str,
    title: str,
    status: Status = "created",
    detail: str = "",
    *,
    delay: float = 0.0,
    error: Exception | None = None,
    settings: Settings | None = None,
) -> Step:
    """A real backend.steps.Step whose action is a :class:`FakeAction`."""
    action = FakeAction(status, detail or f"{title}: ok", delay, error)
    return Step(name, title, action, settings or Settings())


def step_ran(step: Step) -> bool:
    return isinstance(step.action, FakeAction) and step.action.ran


@dataclass
class FakeBackend:
    """Behaviour knobs are plain attributes; tests flip them."""

    chunk: int = 64
    chunk_delay: float = 0.002
    upload_errors: dict[str, str] = field(default_factory=dict)  # file name -> UploadError message
    upload_gate: threading.Event | None = None  # uploads wait for it (to observe the "uploading" state)
    auto_process: bool = False  # a finished upload gets a record in the store, as the Lambda would
    after_record: Callable[[], object] | None = None  # runs on the upload's worker once its record is written
    store_error: str | None = None
    notice_error: str | None = None
    # The queue each notice reader reports when it opens it (what the real reader says about its own queue).
    notice_queue: ReaderQueue = field(
        default_factory=lambda: ReaderQueue("csvdrop-app-notices-tester-host-app-0a1b2c3d", "url", "arn", False)
    )
    notice_readers_opened: int = 0
    notice_readers: list[FakeNoticeReader] = field(default_factory=list)
    notice_gate: threading.Event | None = None
    notice_reading: threading.Event = field(default_factory=threading.Event)
    poll_delay: float = 0.0
    env: dict[str, Health] = field(
        default_factory=lambda: {
            "localstack": Health(True, "LocalStack 4.x at http://127.0.0.1:4566"),
            "database": Health(True, "127.0.0.1:3307: MariaDB 11"),
            "function": Health(True, "process_csv: Active"),
            "trigger": Health(True, "s3://test-bucket -> process_csv"),
        }
    )
    steps: list[Step] = field(default_factory=list)
    teardown: list[Step] = field(default_factory=list)
    # What bring_up reports as the setup it re-ran (a fresh LocalStack that held an environment); None: none.
    restored_setup: PlanOutcome | None = None
    stack_started: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[tuple[int, MetadataRecord]] = field(default_factory=list)
    current: dict[tuple[str, str], MetadataRecord] = field(default_factory=dict)  # the newest version per file
    revision: int = 0
    capabilities: ReaderCapabilities = field(
        default_factory=lambda: ReaderCapabilities(
            SORT_KEYS, "Name starts with…, or a key prefix like folder/", random_access=True
        )
    )
    list_delay: float = 0.0
    queries: list[RecordQuery] = field(default_factory=list)  # every list() call, in order
    counts: list[RecordQuery] = field(default_factory=list)
    gets: list[tuple[str, str]] = field(default_factory=list)
    change_reads: int = 0
    ordered_cache: dict[Any, tuple[list[tuple[Any, ...]], list[MetadataRecord]]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    reader_calls: int = 0
    uploads_running: int = 0
    max_parallel_seen: int = 0
    uploaded: list[str] = field(default_factory=list)
    saved: list[tuple[Settings, list[str] | None]] = field(default_factory=list)
    # File actions: every call is recorded as (method name, bucket, keys); objects are the keys with a record.
    file_actions: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    file_action_error: str | None = None  # each file action raises FileActionError(this) when set
    file_bytes: bytes = b"a,b\n1,2\n"  # what download_file writes

    # -- test helpers --------------------------------------------------------------------------------
    def add_records(self, *records: MetadataRecord) -> None:
        """New or changed records, each with the next revision (as the store's writer stamps them)."""
        with self.lock:
            for record in records:
                self.revision += 1
                stamped = replace(record, revision=self.revision)
                self.log.append((self.revision, stamped))
                self.current[(record.bucket, record.key)] = stamped

    def delete_record(self, bucket: str, key: str) -> None:
        """The object was removed: a tombstone, as the writer leaves one."""
        with self.lock:
            record = self.current[(bucket, key)]
            self.revision += 1
            tombstone = replace(record, deleted=True, revision=self.revision)
            self.log.append((self.revision, tombstone))
            self.current[(bucket, key)] = tombstone

    def push_notice(self, notice: Notice) -> None:
        with self.lock:
            self.notices.append(notice)

    # -- Backend API ---------------------------------------------------------------------------------
    # Local checks are not at the network boundary: the real backend.validation runs.
    def expand_paths(self, paths: Sequence[Path]) -> list[Path]:
        from backend.validation import expand_paths

        return expand_paths(list(paths))

    def validate_file(self, path: Path, max_bytes: int) -> ValidationResult:
        from backend.validation import validate_file_isolated

        return validate_file_isolated(path, max_bytes)  # as the real facade (gui/backend_api.py)

    def object_key_for(self, settings: Settings, path: Path) -> str:
        return upload.object_key_for(settings, path)  # the real rule: prefix and sanitising included

    def upload_file(
        self,
        settings: Settings,
        path: Path,
        *,
        key: str | None,
        on_progress: Callable[[int, int], None] | None,
        cancel: threading.Event | None,
    ) -> UploadResult:
        with self.lock:
            self.uploads_running += 1
            self.max_parallel_seen = max(self.max_parallel_seen, self.uploads_running)
        try:
            start = time.monotonic()
            size = path.stat().st_size
            if self.upload_gate is not None:
                while not self.upload_gate.wait(0.01):
                    if cancel is not None and cancel.is_set():
                        raise UploadCancelled("Upload cancelled.")
            message = self.upload_errors.get(path.name)
            if message:
                raise UploadError(message)
            sent = 0
            while sent < size:
                if cancel is not None and cancel.is_set():
                    raise UploadCancelled("Upload cancelled.")
                sent = min(size, sent + self.chunk)
                if on_progress:
                    on_progress(sent, size)
                time.sleep(self.chunk_delay)
            self.uploaded.append(key or path.name)
            if self.auto_process:
                # stamped now, as S3's LastModified would be: the app tells a fresh record from an old one by it
                self.add_records(
                    make_record(key or path.name, rows=3, bucket=settings.bucket, uploaded=datetime.now(UTC))
                )
                if self.after_record is not None:  # the function answered before the upload's answer came back
                    self.after_record()
            return UploadResult(key or path.name, "e" * 32, size, time.monotonic() - start)
        finally:
            with self.lock:
                self.uploads_running -= 1

    def open_reader(self, settings: Settings) -> FakeReader:
        if self.store_error:
            raise StoreError(self.store_error)
        return FakeReader(self)

    def open_notices(
        self, settings: Settings, on_open: Callable[[ReaderQueue], None] | None = None
    ) -> FakeNoticeReader:
        if self.notice_error:
            raise NoticeError(self.notice_error)
        self.notice_readers_opened += 1
        reader = FakeNoticeReader(self, on_open)
        self.notice_readers.append(reader)
        return reader

    def environment_status(self, settings: Settings) -> dict[str, Health]:
        return dict(self.env)

    def setup_steps(self, settings: Settings, notify_email: str | None = None) -> list[Step]:
        return self.steps

    def teardown_steps(self, settings: Settings) -> list[Step]:
        return self.teardown

    def bring_up(self, settings: Settings, on_message: Callable[[str], None] | None = None) -> BringUp:
        if on_message:
            on_message("Starting LocalStack on port 4566…")
            on_message("Starting MariaDB on port 3307…")
        self.stack_started = True
        self.env["localstack"] = Health(True, "up")
        self.env["database"] = Health(True, "up")
        return BringUp("started", self.restored_setup)

    # -- file actions: the store's records stand for the bucket's objects ---------------------------------
    def _file_action(self, name: str, bucket: str, keys: Sequence[str]) -> None:
        with self.lock:
            self.file_actions.append((name, bucket, tuple(keys)))
        if self.file_action_error:
            raise FileActionError(self.file_action_error)

    def _current(self, bucket: str, key: str) -> MetadataRecord | None:
        with self.lock:
            found = [record for _, record in self.log if record.bucket == bucket and record.key == key]
        return found[-1] if found and not found[-1].deleted else None

    def download_file(
        self,
        settings: Settings,
        bucket: str,
        key: str,
        dest: Path,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
        overwrite: bool = False,
    ) -> Path:
        from backend.files import download_target

        self._file_action("download_file", bucket, [key])
        if self._current(bucket, key) is None:
            raise FileActionError(f"no object s3://{bucket}/{key}: nothing to download")
        target = download_target(key, dest)  # the real rule: a folder gets the key's last part
        if target.exists() and not overwrite:
            raise TargetExists(target, f"s3://{bucket}/{key}")
        size = len(self.file_bytes)
        for sent in range(0, size, self.chunk):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled(f"download of s3://{bucket}/{key} cancelled")
            if on_progress:
                on_progress(sent, size)
            time.sleep(self.chunk_delay)
        target.write_bytes(self.file_bytes)
        if on_progress:
            on_progress(size, size)
        return target

    def delete_files(
        self, settings: Settings, bucket: str, keys: Sequence[str], *, wait_s: float = 30.0
    ) -> DeleteOutcome:
        self._file_action("delete_files", bucket, keys)
        outcomes: list[DeletedFile] = []
        for key in dict.fromkeys(keys):
            record = self._current(bucket, key)
            if record is None:
                outcomes.append(DeletedFile(bucket, key, "missing"))
                continue
            # as the function does on ObjectRemoved: a tombstone, which changed_since reports as deleted
            self.add_records(dataclasses.replace(record, deleted=True))
            outcomes.append(DeletedFile(bucket, key, "deleted"))
        return DeleteOutcome(tuple(outcomes))

    def reprocess_files(self, settings: Settings, bucket: str, keys: Sequence[str]) -> list[ReprocessOutcome]:
        self._file_action("reprocess_files", bucket, keys)
        outcomes: list[ReprocessOutcome] = []
        for key in dict.fromkeys(keys):
            record = self._current(bucket, key)
            if record is None:
                outcomes.append(ReprocessOutcome(bucket, key, "missing", f"s3://{bucket}/{key} was deleted"))
                continue
            self.add_records(dataclasses.replace(record, processed_at=datetime.now(UTC)))  # a new revision
            state: Literal["processed", "failed"] = "processed" if record.status == "PROCESSED" else "failed"
            outcomes.append(
                ReprocessOutcome(bucket, key, state, f"re-processed s3://{bucket}/{key}: {record.status}", "req-1")
            )
        return outcomes

    def file_log_lines(
        self, settings: Settings, bucket: str, key: str, *, since: datetime | None = None, limit: int = 20
    ) -> list[Invocation]:
        self._file_action("file_log_lines", bucket, [key])
        record = self._current(bucket, key)
        if record is None:
            return []
        request = "0f1e2d3c-0000-4000-8000-000000000001"
        lines = (
            f"START RequestId: {request} Version: $LATEST",
            f"[INFO]\t{record.processed_at:%Y-%m-%dT%H:%M:%S}.000Z\t{request}\t"
            f"{record.status} {bucket}/{key} rows={record.row_count} stored=True in 3.0 ms",
            f"END RequestId: {request}",
            f"REPORT RequestId: {request}\tDuration: 3.00 ms",
        )
        return [Invocation(request, record.processed_at, "2026/01/01/[$LATEST]0123abcd", lines)][-limit:]

    def presigned_url(self, settings: Settings, bucket: str, key: str, expires_s: int = 3600) -> str:
        self._file_action("presigned_url", bucket, [key])
        return f"{settings.aws_endpoint}/{bucket}/{quote(key)}?X-Amz-Expires={expires_s}&X-Amz-Signature=fake"

    def export_records(self, records: Iterable[MetadataRecord], path: Path, fmt: Format) -> int:
        from backend.export import export_records

        return export_records(list(records), path, fmt)

    def save_settings(self, settings: Settings, keys: list[str] | None = None) -> Path:
        from backend.config import save_settings

        path = save_settings(settings, keys)
        self.saved.append((settings, keys))  # after the write: tests wait on this list, then read the file
        return path


class EventLoopGaps:
    """Milliseconds between ticks of a 10 ms timer: a gap well above 10 ms is time the GUI thread was busy.

    Use as a context manager around the work; ``gaps`` holds every gap, ``worst`` the largest after the first.
    """

    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def _tick(self) -> None:
        now = self._clock.elapsed()
        self.gaps.append(now - self._last)
        self._last = now

    def __enter__(self) -> EventLoopGaps:
        # Earlier tests in this process leave tens of thousands of dead objects (windows, boto3 clients of the
        # real-stack tests); the collector's pass over them is theirs, not the work measured here (a 100 ms
        # generation-1 collection was caught inside this window).
        gc.collect()
        self._clock.start()
        self._last = self._clock.elapsed()
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.stop()

    @property
    def worst(self) -> float:
        return max(self.gaps[1:])


def _implements_the_api(fake: FakeBackend) -> BackendApi:
    return fake  # mypy checks here that FakeBackend has every method of BackendApi, with the same types
