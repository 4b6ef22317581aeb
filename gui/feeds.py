"""What the window learns by polling, without a widget in sight: the store's records, the notices, the environment.

Each feed is a QObject on the GUI thread. Its reads run as jobs (:mod:`gui.jobs`), so no network call ever
blocks the GUI thread, and what it learns comes back as signals for the window to hand to its panels. A feed
reads with the settings it was last given; :meth:`reset` forgets the old store (its cursor, its open
connection) and drops the answers of reads still under way, so nothing from the old store shows up after.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from gui import style
from gui.backend_api import BackendApi, describe_error

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.environment import Health
    from backend.notices import Notice, NoticeSource, ReaderQueue
    from backend.store import MetadataReader, MetadataRecord
    from gui.jobs import JobRunner, Report

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # changed_since's default page: a full page means more are waiting
MAX_PAGES_PER_POLL = 5
NOTICE_NEXT_MS = 100
NOTICE_RETRY_MS = 10_000
ENV_REFRESH_MS = 30_000


def _close_later(jobs: JobRunner, reader: MetadataReader | NoticeSource | None) -> None:
    """Closes on a worker: closing a connection to a store that stopped answering can block."""
    if reader is not None:
        jobs.start(lambda _report: _close_quietly(reader), name="close reader")


def _close_if_stopped(feed: RecordFeed | NoticeFeed, reader: MetadataReader | NoticeSource) -> None:
    """On the worker, after a read: a feed stopped meanwhile (the window is closing) will never take this reader
    back, and a closing job runner no longer delivers the result, so the worker closes it (its connection, and
    for notices the reader's claim on its queue)."""
    if feed.stopped:
        _close_quietly(reader)


def _close_quietly(reader: MetadataReader | NoticeSource) -> None:
    try:
        reader.close()
    except Exception:  # closing a broken connection may fail; there is nothing left to do with it
        log.debug("close failed", exc_info=True)


class RecordFeed(QObject):
    """What changed in the store: every tick asks for the changes after the last cursor (``changed_since``,
    summary records and tombstones) and hands them on in one ``records`` signal per read.

    It never loads the world: the first read only finds where the store is now (``latest_cursor``) and says
    ``ready``; the browser reads its own pages. A big backlog comes in pages, at most MAX_PAGES_PER_POLL per
    read, the rest in the next round.
    """

    records = Signal(object)  # list[MetadataRecord]: changed since the last read, tombstones (deleted=True) included
    ready = Signal()  # the first read found the store's cursor: what changes from now on comes as ``records``
    caught_up = Signal()  # a read brought everything the store had
    answered = Signal()  # a read succeeded
    failed = Signal(str)  # a read failed: why, in words for the user

    def __init__(self, settings: Settings, backend: BackendApi, jobs: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._backend = backend
        self._jobs = jobs
        self._generation = 0
        self._reader: MetadataReader | None = None
        self._cursor: str | None = None  # changed_since position
        self._started = False  # the cursor is known (set by the first read)
        self._polling = False
        self._stopped = False
        self.timer = QTimer(self)
        self.timer.setInterval(max(100, settings.poll_interval_ms))
        self.timer.timeout.connect(self.poll)

    @property
    def interval_ms(self) -> int:
        return self.timer.interval()

    @property
    def cursor(self) -> str | None:
        return self._cursor

    def set_settings(self, settings: Settings) -> None:
        self._settings = settings
        self.timer.setInterval(max(100, settings.poll_interval_ms))

    def start(self) -> None:
        self.poll()
        self.timer.start()

    def poll(self) -> None:
        """Read what changed now (a no-op while a read is under way)."""
        if self._polling or self._stopped:
            return
        self._polling = True
        generation, settings, cursor, reader = self._generation, self._settings, self._cursor, self._reader
        starting = not self._started

        def work(_report: Report[None]) -> tuple[MetadataReader, list[MetadataRecord], str | None, bool]:
            r = reader if reader is not None else self._backend.open_reader(settings)
            out: list[MetadataRecord] = []
            new_cursor, more = cursor, False
            try:
                if starting:
                    new_cursor = r.latest_cursor()
                else:
                    for _page in range(MAX_PAGES_PER_POLL):
                        records, new_cursor = r.changed_since(new_cursor, PAGE_SIZE, summary=True)
                        out.extend(records)
                        more = len(records) >= PAGE_SIZE
                        if not more:
                            break
            except Exception:
                _close_quietly(r)
                raise
            _close_if_stopped(self, r)
            return r, out, new_cursor, more

        def done(result: tuple[MetadataReader, list[MetadataRecord], str | None, bool]) -> None:
            self._polling = False
            r, records, new_cursor, more = result
            if generation != self._generation:
                _close_later(self._jobs, r)
                return
            self._reader, self._cursor = r, new_cursor
            self.answered.emit()
            if starting:
                self._started = True
                self.ready.emit()
            if records:
                self.records.emit(records)
            if more:  # a big backlog: keep the GUI responsive, fetch the rest in the next round
                QTimer.singleShot(0, self.poll)
            else:
                self.caught_up.emit()

        def failed(exc: BaseException) -> None:
            self._polling = False
            if generation != self._generation:
                return
            self._reader = None
            self.failed.emit(describe_error(exc))

        self._jobs.start(work, on_done=done, on_error=failed, name="poll records")

    def reset(self) -> None:
        self._generation += 1
        _close_later(self._jobs, self._reader)
        self._reader = None
        self._cursor = None
        self._started = False
        self._polling = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """No more reads; the open connection is closed on a worker (and one a read in flight brings back, by
        that read's worker: see _close_if_stopped)."""
        self._stopped = True
        self.timer.stop()
        self.reset()


class NoticeFeed(QObject):
    """Completion notices from this window's own queue: one long-poll after another, slower after a failure.

    The queue is the window's alone (every reader gets every notice); what the backend says about it when it
    opens it (created just now, notices missed while the window was closed) comes out as ``note``.
    """

    notices = Signal(object)  # list[Notice], oldest first
    answered = Signal()  # the queue answered (with or without notices)
    failed = Signal(str)  # the queue could not be read: why, in words for the user
    note = Signal(str)  # what the window should say about its queue (created, notices missed)

    def __init__(self, settings: Settings, backend: BackendApi, jobs: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._backend = backend
        self._jobs = jobs
        self._generation = 0
        self._reader: NoticeSource | None = None
        self._running = False
        self._stopped = False
        # Queues opened by readers on workers, with the generation they were opened for; handed on by the GUI
        # thread when their read ends (deque append and popleft are atomic: no lock between the two threads).
        self._opened: deque[tuple[int, ReaderQueue]] = deque()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.poll)

    def set_settings(self, settings: Settings) -> None:
        self._settings = settings

    def start(self) -> None:
        self.timer.start(0)

    def poll_soon(self) -> None:
        """Read now, unless a read is under way or already due."""
        if not self._running and not self.timer.isActive():
            self.timer.start(0)

    def poll(self) -> None:
        if self._running or self._stopped:
            return
        self._running = True
        generation, settings, reader = self._generation, self._settings, self._reader

        def opened(queue: ReaderQueue) -> None:
            self._opened.append((generation, queue))

        def work(_report: Report[None]) -> tuple[NoticeSource, list[Notice]]:
            r = reader if reader is not None else self._backend.open_notices(settings, on_open=opened)
            try:
                notices = r.receive(wait_seconds=1)
            except Exception:
                _close_quietly(r)
                raise
            _close_if_stopped(self, r)
            return r, list(notices)

        def done(result: tuple[NoticeSource, list[Notice]]) -> None:
            self._running = False
            r, notices = result
            if generation != self._generation:
                _close_later(self._jobs, r)
            else:
                self._reader = r
                self._say_opened()
                self.answered.emit()
                if notices:
                    self.notices.emit(sorted(notices, key=lambda n: style.timestamp(n.sent_at)))
            if not self._stopped:
                self.timer.start(NOTICE_NEXT_MS)

        def failed(exc: BaseException) -> None:
            self._running = False
            if generation == self._generation:
                self._reader = None
                self._say_opened()
                self.failed.emit(describe_error(exc))
            if not self._stopped:
                self.timer.start(NOTICE_RETRY_MS)

        self._jobs.start(work, on_done=done, on_error=failed, name="receive notices")

    def _say_opened(self) -> None:
        while self._opened:
            generation, queue = self._opened.popleft()
            if generation == self._generation and queue.note:
                self.note.emit(queue.note)

    def reset(self) -> None:
        self._generation += 1
        _close_later(self._jobs, self._reader)
        self._reader = None
        self._running = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()
        self.reset()


class EnvironmentMonitor(QObject):
    """The status lights' source: checks the environment now and then, and whenever asked."""

    checking = Signal()  # a check the user is waiting for has started
    status = Signal(object)  # dict[str, Health], keyed as backend.environment.LIGHTS
    failed = Signal(str)  # the check itself failed: why, in words for the user

    def __init__(self, settings: Settings, backend: BackendApi, jobs: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._backend = backend
        self._jobs = jobs
        self._generation = 0
        self._running = False
        self._again = False
        self._stopped = False
        self.timer = QTimer(self)
        self.timer.setInterval(ENV_REFRESH_MS)
        self.timer.timeout.connect(lambda: self.check(quiet=True))

    def set_settings(self, settings: Settings) -> None:
        self._settings = settings

    def start(self) -> None:
        self.check()
        self.timer.start()

    def check(self, quiet: bool = False) -> None:
        """Check now; ``quiet`` keeps the lights as they are until the answer comes."""
        if self._stopped:
            return
        if self._running:  # a check is under way; its answer may predate what changed: check again
            self._again = True
            return
        self._running = True
        self._again = False
        if not quiet:
            self.checking.emit()
        generation, settings = self._generation, self._settings

        def done(status: dict[str, Health]) -> None:
            self._running = False
            if generation == self._generation:
                self.status.emit(status)
            if self._again:
                self.check(quiet=True)

        def failed(exc: BaseException) -> None:
            self._running = False
            if generation == self._generation:
                self.failed.emit(describe_error(exc))
            if self._again:
                self.check(quiet=True)

        self._jobs.start(
            lambda _report: self._backend.environment_status(settings),
            on_done=done,
            on_error=failed,
            name="environment",
        )

    def reset(self) -> None:
        """Answers of a check under way are about the old settings: drop them."""
        self._generation += 1

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()
