"""Delivers Lambda logs to CloudWatch Logs in batches: one PutLogEvents per log stream per drain of the queue.

LocalStack's ``LogHandler`` makes one internal PutLogEvents call per invocation, and that call (a botocore
request, signed, parsed by the gateway and dispatched to moto) costs LocalStack more CPU than the invocation
itself: about 45% of its CPU during a run of warm invokes. During a burst the handler's queue fills faster than
one call per item can empty it, so the loop below takes everything waiting, groups it by log stream (keeping
each stream's order) and sends each group as one request, within CloudWatch's batch limits. Nothing changes when
invocations are sparse: a queue with one item gives one call, as before. Stdlib only (unit-tested without
LocalStack); patches.py puts the loop in place of LocalStack's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from queue import Empty, Queue
from threading import Event
from typing import Any

LOG = logging.getLogger(__name__)
# CloudWatch PutLogEvents limits: 10,000 events and 1,048,576 bytes (UTF-8 message bytes + 26 per event).
MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_ITEMS_PER_DRAIN = 1_000


def split_lines(text: str) -> list[str]:
    """As LocalStack does: one event per line, newline kept, empty lines dropped (CloudWatch refuses them)."""
    return [line + "\n" for line in text.split("\n") if line]


def chunked(
    events: list[dict[str, Any]], max_events: int = MAX_EVENTS, max_bytes: int = MAX_BYTES
) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD
        if chunk and (len(chunk) >= max_events or size + event_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += event_size
    if chunk:
        yield chunk


def group_by_stream(items: list[Any]) -> dict[tuple[str, str], list[str]]:
    """Items with ``log_group``, ``log_stream`` and ``logs``; each stream's lines in arrival order."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for item in items:
        grouped.setdefault((item.log_group, item.log_stream), []).extend(split_lines(item.logs))
    return grouped


def drain(queue: Queue, stop_item: object, limit: int = MAX_ITEMS_PER_DRAIN) -> tuple[list[Any], bool]:
    """Blocks for one item, then takes what else is waiting: (items, whether ``stop_item`` was seen)."""
    first = queue.get()
    if first is stop_item:
        return [], True
    items = [first]
    while len(items) < limit:
        try:
            item = queue.get_nowait()
        except Empty:
            break
        if item is stop_item:
            return items, True
        items.append(item)
    return items, False


def put_events(logs_client: Any, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    """PutLogEvents, creating the group and stream the first time (as LocalStack's loop does)."""
    try:
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    except logs_client.exceptions.ResourceNotFoundException:
        try:
            logs_client.create_log_group(logGroupName=group)
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def batched_log_loop(queue: Queue, shutdown: Event, stop_item: object, logs_client: Any, region: str) -> None:
    while not shutdown.is_set():
        items, stopping = drain(queue, stop_item)
        timestamp = int(time.time() * 1000)  # LocalStack, too, stamps an invocation's lines with one time
        for (group, stream), lines in group_by_stream(items).items():
            events = [{"timestamp": timestamp, "message": line} for line in lines]
            for chunk in chunked(events):
                try:
                    put_events(logs_client, group, stream, chunk)
                except Exception as exc:  # as in LocalStack's loop: a failed delivery is logged, never fatal
                    LOG.warning("Error saving logs to group %s in region %s: %s", group, region, exc)
        if stopping:
            return
