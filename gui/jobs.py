"""Background jobs: a callable runs on a worker thread; its outcome comes back as signals on the GUI thread.

Same shape as Vorta's jobs manager / superqt's thread_worker: the worker catches every exception and
emits it, so nothing is ever raised on a pool thread, and the callbacks always run on the GUI thread
(the signal object lives there; Qt queues the emission).

Not superqt's ``create_worker``: its workers all run on ``QThreadPool.globalInstance()``, while the window needs
pools of its own (uploads limited to the ``parallel_uploads`` setting, file checks to two), to take back a queued
job when its upload is cancelled, and a shutdown that stops delivering outcomes and waits with a time limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

P = TypeVar("P")  # what a job reports while it runs (a small frozen dataclass, or a log line)
R = TypeVar("R")  # what it returns

Report = Callable[[P], None]


class JobSignals(QObject):
    started = Signal()
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)


class Job[Progress, Result](QRunnable):
    """Runs ``fn(report)``; ``report(value)`` emits ``progress``.

    The result is emitted as ``finished``, an exception as ``failed``.
    """

    def __init__(self, fn: Callable[[Report[Progress]], Result], name: str = "") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn: Final = fn
        self.name = name or getattr(fn, "__name__", "job")
        self.signals = JobSignals()

    def run(self) -> None:
        try:
            self.signals.started.emit()
            result = self.fn(self.signals.progress.emit)
        except Exception as exc:  # every failure goes back to the GUI thread as a value
            log.debug("job %s failed: %r", self.name, exc)
            self.signals.failed.emit(exc)
        else:
            self.signals.finished.emit(result)


class JobRunner(QObject):
    """A thread pool plus bookkeeping: holds each job until its outcome has reached the GUI thread."""

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, max_threads))
        self._active: set[Job[object, object]] = set()
        self._closed = False

    @property
    def max_threads(self) -> int:
        return self._pool.maxThreadCount()

    def set_max_threads(self, n: int) -> None:
        self._pool.setMaxThreadCount(max(1, n))

    def active_count(self) -> int:
        return len(self._active)

    def start(
        self,
        fn: Callable[[Report[P]], R],
        *,
        on_done: Callable[[R], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[P], None] | None = None,
        on_started: Callable[[], None] | None = None,
        name: str = "",
    ) -> Job[P, R]:
        job = Job(fn, name)
        self._active.add(job)

        def finished(result: R) -> None:
            self._active.discard(job)
            if on_done is not None and not self._closed:
                on_done(result)

        def failed(exc: BaseException) -> None:
            self._active.discard(job)
            if self._closed:
                return
            if on_error is not None:
                on_error(exc)
            else:
                log.error("background job %s failed", job.name, exc_info=exc)

        def progress(value: P) -> None:
            if on_progress is not None and not self._closed:
                on_progress(value)

        def started() -> None:
            if on_started is not None and not self._closed:
                on_started()

        job.signals.finished.connect(finished)
        job.signals.failed.connect(failed)
        if on_progress is not None:
            job.signals.progress.connect(progress)
        if on_started is not None:
            job.signals.started.connect(started)
        if self._closed:
            self._active.discard(job)
            return job
        self._pool.start(job)
        return job

    def try_take(self, job: Job[object, object]) -> bool:
        """Remove a job that has not started yet; True when it will never run."""
        if self._pool.tryTake(job):
            self._active.discard(job)
            return True
        return False

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Drop queued jobs, stop delivering outcomes, wait for running ones. True when all stopped."""
        self._closed = True
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)
