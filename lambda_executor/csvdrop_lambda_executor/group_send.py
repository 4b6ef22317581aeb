"""S3 -> SQS notifications sent in batches when they come faster than one request can carry them.

LocalStack's S3 sends each event notification to SQS in a SendMessage of its own. Through LocalStack's internal
client that cost about 5 ms of LocalStack CPU per notification on a 2-core machine (as much as the PutObject that
caused it) and a SendMessageBatch of 10 about 0.5 ms per message; the sends now go to the SQS provider in
process (direct_sqs.py), where a batch still takes the queue's lock once. `GroupSender` sends like a group
commit: the first notification for a queue is sent at once by the thread that made it (no wait, so a single
upload is not delayed); what arrives for that queue while a send is under way is left with the sender, which
sends it next, up to 10 per request. Nothing is held back on a timer. A notification in the sender's list is in
LocalStack's memory only, exactly like one in the notifier's thread pool it replaces: after a crash `csvdrop
stack up`'s reconcile finds objects without records.
Stdlib only (unit-tested without LocalStack); the patch is in patches.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

LOG = logging.getLogger(__name__)
SQS_BATCH_LIMIT = 10


class GroupSender[T]:
    def __init__(self, send: Callable[[Hashable, list[T]], None], limit: int = SQS_BATCH_LIMIT) -> None:
        self._send = send
        self._limit = limit
        self._lock = threading.Lock()
        self._pending: dict[Hashable, list[T]] = {}
        self._sending: set[Hashable] = set()

    def submit(self, target: Hashable, item: T) -> None:
        """Sends `item` to `target`, now or as part of the send already under way for that target."""
        with self._lock:
            self._pending.setdefault(target, []).append(item)
            if target in self._sending:
                return
            self._sending.add(target)
        while True:
            with self._lock:
                waiting = self._pending.get(target, [])
                if not waiting:
                    self._pending.pop(target, None)
                    self._sending.discard(target)
                    return
                batch, self._pending[target] = waiting[: self._limit], waiting[self._limit :]
            try:
                self._send(target, batch)
            except Exception:  # one failed request must not strand what waits behind it
                LOG.exception("sending %d notification(s) to %s failed", len(batch), target)
