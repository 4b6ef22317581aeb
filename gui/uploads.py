"""The upload queue: one row per dropped file, from local validation to "done" in the metadata store."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor

from backend.config import single_request
from backend.store.records import MetadataRecord
from gui import style
from gui.backend_api import BackendApi, describe_error, is_cancelled
from gui.jobs import Job, JobRunner, Report

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.notices import Notice
    from backend.upload import UploadResult
    from backend.validation import ValidationResult

ModelIndex = QModelIndex | QPersistentModelIndex

# A file still "processing" this long after its upload probably has no trigger to process it.
PROCESSING_HINT_AFTER_S = 90.0
PROGRESS_EVERY_S = 0.1
CHECK_STARTS_PER_TURN = 4  # file checks started per turn of the event loop (see _start_checks)


_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


# What an upload job reports while it runs.
@dataclass(frozen=True)
class KeyChosen:
    key: str  # the object key the file goes to


@dataclass(frozen=True)
class BytesSent:
    sent: int
    total: int


UploadProgress = KeyChosen | BytesSent


class UploadState(StrEnum):
    QUEUED = "queued"
    VALIDATING = "validating"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def color(self) -> str:
        return STATE_COLORS[self]


FINISHED = frozenset({UploadState.DONE, UploadState.FAILED, UploadState.REJECTED, UploadState.CANCELLED})
CANCELLABLE = frozenset({UploadState.QUEUED, UploadState.VALIDATING, UploadState.UPLOADING})
RETRYABLE = frozenset({UploadState.FAILED, UploadState.REJECTED, UploadState.CANCELLED})
STATE_COLORS = {
    UploadState.QUEUED: style.GREY,
    UploadState.VALIDATING: style.GREY,
    UploadState.UPLOADING: style.BLUE,
    UploadState.PROCESSING: style.PURPLE,
    UploadState.DONE: style.GREEN,
    UploadState.FAILED: style.RED,
    UploadState.REJECTED: style.ORANGE,
    UploadState.CANCELLED: style.GREY,
}

_ids = itertools.count(1)


@dataclass(eq=False)
class UploadItem:
    path: Path
    state: UploadState = UploadState.VALIDATING
    id: int = field(default_factory=lambda: next(_ids))
    size: int = 0
    sent: int = 0
    speed: float = 0.0
    message: str = "Checking the file…"
    bucket: str = ""
    key: str | None = None
    etag: str | None = None
    started_wall: float = 0.0
    uploaded_mono: float = 0.0
    seconds: float = 0.0
    cancel: threading.Event = field(default_factory=threading.Event)
    job: Job[object, object] | None = None
    # Bumped by cancel/retry: outcomes of an earlier attempt's jobs are ignored.
    attempt: int = 0
    # Uploaded, but nothing will (or did) profile it: retry is offered.
    stalled: bool = False
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=30))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def s3_url(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else ""

    def progress_text(self) -> str:
        return self.progress_texts()[0]

    def progress_texts(self) -> list[str]:
        """The progress text, then shorter forms of it for a narrow column: the bar shows the first that fits."""
        if self.state == UploadState.UPLOADING:
            sent = style.bytes_of(self.sent, self.size)
            percent = f"{100 * self.sent // self.size}%" if self.size else sent
            if self.speed > 0:
                return [f"{sent} · {style.human_bytes(self.speed)}/s", sent, percent]
            return [sent, percent]
        if self.state in (UploadState.PROCESSING, UploadState.DONE):
            return [
                f"{style.human_bytes(self.size)} in {style.human_duration(self.seconds)}",
                style.human_bytes(self.size),
            ]
        if self.state == UploadState.QUEUED:
            return [f"{style.human_bytes(self.size)} · waiting", "waiting"]
        if self.size:
            return [style.human_bytes(self.size)]
        return [""]

    def fraction(self) -> float | None:
        """0..1 for the progress bar; None when no bar should be drawn."""
        if self.state == UploadState.UPLOADING:
            return self.sent / self.size if self.size else 0.0
        if self.state in (UploadState.PROCESSING, UploadState.DONE):
            return 1.0
        if self.state == UploadState.QUEUED:
            return 0.0
        if self.state in (UploadState.FAILED, UploadState.CANCELLED) and self.size and self.sent:
            return self.sent / self.size
        return None


class UploadQueueModel(QAbstractTableModel):
    FILE, STATE, PROGRESS, DETAILS, ACTION = range(5)
    HEADERS = ("File", "Status", "Progress", "Details", "")
    ItemRole = Qt.ItemDataRole.UserRole + 1
    SortRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.items: list[UploadItem] = []

    # -- Qt model API --------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if 0 <= section < len(self.HEADERS):
                return self.HEADERS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item = self.items[index.row()]
        col = index.column()
        if role == self.ItemRole:
            return item
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.FILE:
                return item.name
            if col == self.STATE:
                return item.state.label
            if col == self.PROGRESS:
                return item.progress_text()
            if col == self.DETAILS:
                return item.message
            if col == self.ACTION:
                return action_for(item)
            return None
        if role == self.SortRole:
            return (item.name.lower(), item.state.value, item.sent, item.message, "")[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [str(item.path), f"{item.state.label}: {item.message}"]
            if item.key:
                lines.append(item.s3_url)
            return "\n".join(lines)
        if role == Qt.ItemDataRole.DecorationRole and col == self.STATE:
            return style.dot_icon(item.state.color)
        if role == Qt.ItemDataRole.ForegroundRole and col in (self.STATE, self.DETAILS):
            if item.state in (UploadState.FAILED, UploadState.REJECTED):
                return QColor(item.state.color)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    # -- changes -------------------------------------------------------------------------------------
    def add(self, items: Sequence[UploadItem]) -> None:
        if not items:
            return
        first = len(self.items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        self.items.extend(items)
        self.endInsertRows()

    def changed(self, item: UploadItem) -> None:
        row = self.row_of(item)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

    def remove(self, items: Iterable[UploadItem]) -> None:
        doomed = set(id(i) for i in items)
        # Remove contiguous runs from the bottom so row numbers stay valid.
        row = len(self.items) - 1
        while row >= 0:
            if id(self.items[row]) in doomed:
                end = row
                while row - 1 >= 0 and id(self.items[row - 1]) in doomed:
                    row -= 1
                self.beginRemoveRows(QModelIndex(), row, end)
                del self.items[row : end + 1]
                self.endRemoveRows()
            row -= 1

    def row_of(self, item: UploadItem) -> int:
        try:
            return self.items.index(item)  # identity comparison (eq=False), in C
        except ValueError:
            return -1

    def item_at(self, row: int) -> UploadItem | None:
        return self.items[row] if 0 <= row < len(self.items) else None


def _without_name(reason: str | None, path: Path) -> str:
    """ "x.csv: the file is empty" -> "The file is empty" (the row already shows the name)."""
    if not reason:
        return ""
    prefix = f"{path.name}: "
    if reason.startswith(prefix):
        reason = reason[len(prefix) :]
        return reason[:1].upper() + reason[1:]
    return reason


def can_retry(item: UploadItem) -> bool:
    return item.state in RETRYABLE or (item.state == UploadState.PROCESSING and item.stalled)


def _retried_by_retry_all(item: UploadItem) -> bool:
    return item.state in (UploadState.FAILED, UploadState.CANCELLED) or (can_retry(item) and item.stalled)


def action_for(item: UploadItem) -> str:
    if item.state in CANCELLABLE:
        return "Cancel"
    if can_retry(item):
        return "Retry"
    return ""


class UploadManager(QObject):
    """Runs validation and uploads on worker threads and keeps the queue model up to date."""

    summary_changed = Signal(str)
    # (banner key, message) — the window shows it as a banner; empty message clears it.
    problem = Signal(str, str)
    uploaded = Signal(object)  # an UploadItem that reached "processing"

    def __init__(self, settings: Settings, backend: BackendApi, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.backend = backend
        self.model = UploadQueueModel(self)
        self._checks = JobRunner(2, self)
        # (item, attempt) whose check has not been started yet; started a few per event-loop turn
        self._check_backlog: deque[tuple[UploadItem, int]] = deque()
        # Large files parallel_uploads at a time; small ones (one short request each) in a wider lane of their own.
        self._uploads = JobRunner(settings.parallel_uploads, self)
        self._small_uploads = JobRunner(settings.small_uploads_at_once, self)
        self._hint_timer = QTimer(self)
        self._hint_timer.setInterval(5000)
        self._hint_timer.timeout.connect(self._check_stale)
        self._hint_timer.start()
        self.model.rowsInserted.connect(self._emit_summary)
        self.model.rowsRemoved.connect(self._emit_summary)
        self.model.dataChanged.connect(self._emit_summary)

    # -- public --------------------------------------------------------------------------------------
    @property
    def items(self) -> list[UploadItem]:
        return self.model.items

    def set_settings(self, settings: Settings) -> None:
        self.settings = settings
        self._uploads.set_max_threads(settings.parallel_uploads)
        self._small_uploads.set_max_threads(settings.small_uploads_at_once)

    def add_paths(self, paths: Sequence[Path]) -> None:
        """Files and folders (their .csv files) from a drop or a file dialog; listing happens on a worker."""
        paths = list(paths)
        if not paths:
            return

        def expand(_report: Report[None]) -> list[Path]:
            return self.backend.expand_paths(paths)

        def done(found: list[Path]) -> None:
            if not found:
                folders = [p.name for p in paths]
                self.problem.emit("add", f"No CSV files found in {', '.join(folders)}.")
                return
            self.problem.emit("add", "")
            self.add_files(found)

        self._checks.start(
            expand,
            on_done=done,
            on_error=lambda exc: self.problem.emit("add", f"Could not read the dropped items: {describe_error(exc)}"),
            name="expand",
        )

    def add_files(self, files: Sequence[Path]) -> list[UploadItem]:
        active = {item.path for item in self.items if not item.state.finished}
        new: list[UploadItem] = []
        skipped = 0
        for path in files:
            if path in active:
                skipped += 1
                continue
            active.add(path)
            new.append(UploadItem(path=path, bucket=self.settings.bucket))
        self.model.add(new)
        self._check_backlog.extend((item, item.attempt) for item in new)
        self._start_checks()
        if skipped:
            self.problem.emit("add", f"{skipped} file(s) already in the queue were not added again.")
        return new

    def cancel(self, item: UploadItem) -> None:
        if item.state not in CANCELLABLE:
            return
        item.cancel.set()
        if item.state == UploadState.UPLOADING:  # the worker notices the event and raises UploadCancelled
            item.message = "Cancelling…"
            self.model.changed(item)
            return
        if item.job is not None:
            self._uploads.try_take(item.job)
            self._small_uploads.try_take(item.job)
            self._checks.try_take(item.job)
        item.attempt += 1
        self._set(item, UploadState.CANCELLED, "Cancelled — press Retry to upload it.")

    def mark_stalled(self, item: UploadItem, message: str) -> None:
        """Uploaded, but nothing is going to profile it (no trigger): say so and offer Retry."""
        if item.state == UploadState.PROCESSING:
            item.stalled = True
            item.message = message
            self.model.changed(item)

    def retry(self, item: UploadItem) -> None:
        if not can_retry(item):
            return
        item.stalled = False
        item.attempt += 1
        item.cancel = threading.Event()
        item.sent = 0
        item.speed = 0.0
        item.samples.clear()
        item.bucket = self.settings.bucket
        self._set(item, UploadState.VALIDATING, "Checking the file…")
        self._validate(item)
        self._update_failure_banner()

    def retry_all_failed(self) -> None:
        for item in list(self.items):
            if _retried_by_retry_all(item):
                self.retry(item)

    def clear_finished(self) -> int:
        done = [item for item in self.items if item.state.finished]
        self.model.remove(done)
        self._update_failure_banner()
        return len(done)

    def remove(self, items: Iterable[UploadItem]) -> None:
        items = list(items)
        for item in items:
            self.cancel(item)
        self.model.remove([i for i in items if i.state.finished])

    def active_count(self) -> int:
        return sum(1 for item in self.items if item.state in CANCELLABLE)

    def has_finished(self) -> bool:
        """Some rows are done with (what "Clear finished" removes)."""
        return any(item.state.finished for item in self.items)

    def has_failed(self) -> bool:
        """Some rows are worth a retry (what "Retry failed" retries)."""
        return any(_retried_by_retry_all(item) for item in self.items)

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        for item in self.items:
            item.cancel.set()
        self._hint_timer.stop()
        ok_checks = self._checks.shutdown(timeout_ms)
        ok_small = self._small_uploads.shutdown(timeout_ms)
        return self._uploads.shutdown(timeout_ms) and ok_small and ok_checks

    # -- processing results from the metadata store and the notice queue ------------------------------
    def on_records(self, records: Iterable[MetadataRecord]) -> None:
        waiting = [i for i in self.items if i.state == UploadState.PROCESSING]
        if not waiting:
            return
        for record in records:
            if record.deleted:  # a tombstone says the object is gone, not that it was processed
                continue
            for item in waiting:
                if item.state == UploadState.PROCESSING and self._matches(item, record):
                    self._processed(item, record)

    def on_notice(self, notice: Notice) -> None:
        for item in self.items:
            if item.state == UploadState.PROCESSING and item.key == notice.key and item.bucket == notice.bucket:
                self._processed(item, notice)

    def check_existing(self, item: UploadItem, record: MetadataRecord) -> None:
        """A record already in the browser when the upload finished (very fast function)."""
        if item.state == UploadState.PROCESSING and self._matches(item, record, require_fresh=True):
            self._processed(item, record)

    @staticmethod
    def _matches(item: UploadItem, record: MetadataRecord, *, require_fresh: bool = False) -> bool:
        if record.key != item.key or record.bucket != item.bucket:
            return False
        if require_fresh:
            uploaded = style.timestamp(record.uploaded_at)
            return uploaded >= item.started_wall - 5
        return True

    def _processed(self, item: UploadItem, outcome: MetadataRecord | Notice) -> None:
        """``outcome``: the file's metadata record or its notice (both say status, error, rows and columns; a
        record lists its warnings, a notice counts them)."""
        if outcome.status.upper() == "PROCESSED":
            warnings = len(outcome.warnings) if isinstance(outcome, MetadataRecord) else outcome.warnings_count
            warned = f" · processed with {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
            rows, cols = style.human_count(outcome.row_count), style.human_count(outcome.column_count)
            self._set(item, UploadState.DONE, f"{rows} rows × {cols} columns{warned}")
        else:
            self._set(
                item,
                UploadState.FAILED,
                f"Uploaded, but the file could not be profiled: {outcome.error or 'no reason given'}. "
                "Fix the file and press Retry.",
            )
        self._update_failure_banner()

    # -- internals -----------------------------------------------------------------------------------
    def _set(self, item: UploadItem, state: UploadState, message: str) -> None:
        item.state = state
        item.message = message
        self.model.changed(item)

    def _start_checks(self) -> None:
        """Starts the backlog's checks a few at a time: starting a job costs the GUI thread about a
        millisecond (a QRunnable, its signal connections), so a drop of hundreds of files must not start
        them all in one turn of the event loop."""
        for _ in range(min(CHECK_STARTS_PER_TURN, len(self._check_backlog))):
            item, attempt = self._check_backlog.popleft()
            if item.attempt == attempt and item.state == UploadState.VALIDATING:  # not cancelled meanwhile
                self._validate(item)
        if self._check_backlog:
            QTimer.singleShot(0, self, self._start_checks)

    def _validate(self, item: UploadItem) -> None:
        max_bytes = self.settings.max_file_bytes
        path = item.path
        attempt = item.attempt

        def check(_report: Report[None]) -> ValidationResult:
            return self.backend.validate_file(path, max_bytes)

        def done(result: ValidationResult) -> None:
            if item.attempt != attempt or item.state != UploadState.VALIDATING:
                return
            item.size = result.size_bytes
            if not result.ok:
                self._set(item, UploadState.REJECTED, _without_name(result.reason, path) or "Not a usable CSV.")
                return
            parts = [f"{result.column_count} columns" if result.column_count else "", result.encoding or ""]
            if result.delimiter:
                parts.append(f"{style.delimiter_name(result.delimiter)}-separated")
            item.message = "Valid CSV (" + ", ".join(p for p in parts if p) + ") — waiting for a free upload slot"
            self._set(item, UploadState.QUEUED, item.message)
            self._start_upload(item)

        def failed(exc: BaseException) -> None:
            if item.attempt == attempt and item.state == UploadState.VALIDATING:
                self._set(item, UploadState.REJECTED, f"Could not check the file: {describe_error(exc)}")

        item.job = self._checks.start(check, on_done=done, on_error=failed, name=f"validate {path.name}")

    def _start_upload(self, item: UploadItem) -> None:
        settings = self.settings
        item.bucket = settings.bucket
        cancel = item.cancel
        path = item.path
        attempt = item.attempt

        def work(report: Report[UploadProgress]) -> UploadResult:
            key = self.backend.object_key_for(settings, path)
            report(KeyChosen(key))
            last = [0.0]

            def on_progress(sent: int, total: int) -> None:
                now = time.monotonic()
                if sent >= total or now - last[0] >= PROGRESS_EVERY_S:
                    last[0] = now
                    report(BytesSent(sent, total))

            return self.backend.upload_file(settings, path, key=key, on_progress=on_progress, cancel=cancel)

        def started() -> None:
            if item.attempt != attempt or item.state != UploadState.QUEUED:
                return
            item.started_wall = time.time()
            item.samples.clear()
            item.samples.append((time.monotonic(), 0))
            self._set(item, UploadState.UPLOADING, f"Uploading to s3://{item.bucket}/…")

        def progress(event: UploadProgress) -> None:
            if item.attempt != attempt or item.state != UploadState.UPLOADING:
                return
            if isinstance(event, KeyChosen):
                item.key = event.key
                item.message = f"Uploading to {item.s3_url}"
            else:
                now = time.monotonic()
                item.sent, item.size = event.sent, event.total or item.size
                item.samples.append((now, item.sent))
                while len(item.samples) > 2 and now - item.samples[0][0] > 3.0:
                    item.samples.popleft()
                t0, s0 = item.samples[0]
                if now - t0 > 0.05:
                    item.speed = (item.sent - s0) / (now - t0)
            self.model.changed(item)

        def done(result: UploadResult) -> None:
            if item.attempt != attempt or item.state not in (UploadState.UPLOADING, UploadState.QUEUED):
                return
            item.key = result.key
            item.etag = result.etag
            item.size = result.size_bytes
            item.sent = item.size
            item.seconds = result.seconds
            item.uploaded_mono = time.monotonic()
            self._set(item, UploadState.PROCESSING, f"Uploaded to {item.s3_url} — waiting for the profile…")
            self.uploaded.emit(item)

        def failed(exc: BaseException) -> None:
            if item.attempt != attempt or item.state not in (UploadState.UPLOADING, UploadState.QUEUED):
                return
            if is_cancelled(exc) or item.cancel.is_set():
                self._set(item, UploadState.CANCELLED, "Cancelled — press Retry to upload it.")
                return
            self._set(item, UploadState.FAILED, _without_name(describe_error(exc), path))
            self._update_failure_banner()

        lane = self._small_uploads if single_request(item.size) else self._uploads
        item.job = lane.start(
            work,
            on_done=done,
            on_error=failed,
            on_progress=progress,
            on_started=started,
            name=f"upload {path.name}",
        )

    def _check_stale(self) -> None:
        now = time.monotonic()
        for item in self.items:
            if item.state == UploadState.PROCESSING and now - item.uploaded_mono > PROCESSING_HINT_AFTER_S:
                waited = style.human_duration(now - item.uploaded_mono)
                hint = (
                    f"Uploaded to {item.s3_url}, no profile after {waited}"
                    " — is the trigger set up? Check the Environment lights (F5)."
                )
                if not item.stalled:
                    self.mark_stalled(item, hint)

    def _update_failure_banner(self) -> None:
        failed = [i for i in self.items if i.state == UploadState.FAILED]
        if not failed:
            self.problem.emit("upload", "")
        elif len(failed) == 1:
            self.problem.emit("upload", f"Upload of {failed[0].name} failed: {failed[0].message}")
        else:
            self.problem.emit("upload", f"{len(failed)} uploads failed — each row says what to do, then press Retry.")

    def _emit_summary(self, *_args: object) -> None:
        self.summary_changed.emit(self.summary())

    def summary(self) -> str:
        counts: dict[UploadState, int] = {}
        for item in self.items:
            counts[item.state] = counts.get(item.state, 0) + 1
        order = [
            (UploadState.UPLOADING, "uploading"),
            (UploadState.VALIDATING, "checking"),
            (UploadState.QUEUED, "waiting"),
            (UploadState.PROCESSING, "processing"),
            (UploadState.DONE, "done"),
            (UploadState.FAILED, "failed"),
            (UploadState.REJECTED, "rejected"),
            (UploadState.CANCELLED, "cancelled"),
        ]
        parts = [f"{counts[state]} {word}" for state, word in order if counts.get(state)]
        return " · ".join(parts)
