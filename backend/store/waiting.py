"""The one wait loop for "until the record exists": `csvdrop upload --wait` and the setup smoke test."""

from __future__ import annotations

import time
from collections.abc import Callable

from backend.store.records import MetadataReader, MetadataRecord

POLL_SECONDS = 0.2


def wait_for_records(
    reader: MetadataReader,
    bucket: str,
    pending: dict[str, str],
    *,
    timeout_s: float,
    on_record: Callable[[str, MetadataRecord], None] | None = None,
    between_polls: Callable[[dict[str, str]], None] | None = None,
    poll_s: float = POLL_SECONDS,
) -> dict[str, str]:
    """Polls the store until every ``key -> etag`` in ``pending`` has a record of that very upload (an older
    record of the same key does not count), calling ``on_record`` for each as it appears.

    ``between_polls`` may change ``pending`` (the smoke test sends a fresh object, with a new ETag, when an
    event was dropped). Returns what is still pending when ``timeout_s`` has passed: empty means all arrived.
    """
    deadline = time.monotonic() + timeout_s
    while pending:
        for key, etag in list(pending.items()):
            record = reader.get(bucket, key)
            if record is not None and record.etag == etag:
                del pending[key]
                if on_record is not None:
                    on_record(key, record)
        if not pending or time.monotonic() >= deadline:
            break
        if between_polls is not None:
            between_polls(pending)
        time.sleep(poll_s)
    return pending
