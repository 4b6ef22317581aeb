"""Caps how many asynchronous invocations of one function run at once (``CSVDROP_LAMBDA_ASYNC_CONCURRENCY``).

LocalStack hands each function's queued async events (S3 notifications, SNS) to a thread pool sized for I/O
(``min(32, CPUs + 4)``: 6 on a 2-core machine), so a burst of uploads makes it start that many execution
environments. Here an environment is a local Python process whose cold start (imports, clients, the database
connection) costs about a second of CPU, and the CPUs are shared with LocalStack itself: environments beyond
the number of CPUs add cold starts, not throughput. Unlike reserved concurrency, which throttles the surplus into
delayed retries, the cap makes LocalStack's event poller wait for a free slot before it hands on the next event,
so it receives no more events (at most 10 at a time) until one can run: the surplus stays in the function's
event queue, in order, its visibility timeout not yet started.
Stdlib only (unit-tested without LocalStack); the patch is in patches.py.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

LOG = logging.getLogger(__name__)
ENV_VAR = "CSVDROP_LAMBDA_ASYNC_CONCURRENCY"


def default_concurrency() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(2, cpus)


def async_concurrency() -> int | None:
    """The cap: the environment's whole number; the CPUs (at least 2) when unset; "off": None (LocalStack's pool)."""
    raw = os.environ.get(ENV_VAR, "").strip().lower()
    if not raw:
        return default_concurrency()
    if raw in ("off", "0"):
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        LOG.warning("%s=%r is not a positive whole number or 'off'; using %d", ENV_VAR, raw, default_concurrency())
        return default_concurrency()
    return value


class BoundedExecutor:
    """A thread pool whose ``submit`` waits while ``workers`` tasks are running or queued."""

    def __init__(self, workers: int, thread_name_prefix: str = "") -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name_prefix)
        self._slots = threading.BoundedSemaphore(workers)
        self._closed = threading.Event()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        while not self._slots.acquire(timeout=0.5):
            if self._closed.is_set():
                raise RuntimeError("cannot schedule new futures after shutdown")
        try:
            future = self._pool.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _done: self._slots.release())
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed.set()
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
