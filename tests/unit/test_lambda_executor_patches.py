"""Stdlib parts of the LocalStack patches in the csvdrop-local plugin: the async cap and batched log delivery.

The patches themselves run against the real LocalStack in tests/integration/test_lambda_executor.py.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from queue import Queue
from typing import Any

import pytest
from lambda_loader import load_executor_module
from testsupport import wait_until

pool = load_executor_module("async_pool")
batching = load_executor_module("log_batching")


# --- the async cap -------------------------------------------------------------------------------------
def _blocked_in_submit(thread: threading.Thread) -> bool:
    """The thread waits for a slot: inside BoundedExecutor.submit, in the semaphore's acquire (its stack, as
    Python sees it; a submit that did not block would be past acquire at once)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None and frame.f_back is not None:
        caller = frame.f_back
        if frame.f_code.co_name == "acquire" and caller.f_code.co_name == "submit":
            return caller.f_code.co_filename == pool.__file__
        frame = caller
    return False


@pytest.mark.parametrize(("raw", "expected"), [("4", 4), (" 2 ", 2), ("off", None), ("0", None), ("OFF", None)])
def test_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int | None) -> None:
    monkeypatch.setenv(pool.ENV_VAR, raw)
    assert pool.async_concurrency() == expected


@pytest.mark.parametrize("raw", ["", "-3", "three"])
def test_unset_or_unusable_cap_means_the_cpus_at_least_two(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(pool.ENV_VAR, raw)
    assert pool.async_concurrency() == pool.default_concurrency() >= 2


def test_bounded_executor_holds_the_submitter_until_a_slot_frees() -> None:
    executor = pool.BoundedExecutor(2, thread_name_prefix="capped")
    release = threading.Event()
    running: list[int] = []
    peak = [0]
    lock = threading.Lock()

    def task(n: int) -> int:
        with lock:
            running.append(n)
            peak[0] = max(peak[0], len(running))
        release.wait(5)
        with lock:
            running.remove(n)
        return n

    first = [executor.submit(task, n) for n in range(2)]
    submitted = threading.Event()
    third: list[Any] = []

    def submit_third() -> None:
        third.append(executor.submit(task, 2))
        submitted.set()

    submitter = threading.Thread(target=submit_third)
    submitter.start()
    # Two running, nothing queued: the third submit waits (the poller would not fetch more events meanwhile).
    wait_until(lambda: _blocked_in_submit(submitter), 5, "the third submit to wait for a slot", interval=0.01)
    assert not submitted.is_set()
    release.set()
    assert submitted.wait(5)
    submitter.join()
    assert [f.result(5) for f in first] + [third[0].result(5)] == [0, 1, 2]
    assert peak[0] == 2
    executor.shutdown(wait=True)


def test_bounded_executor_refuses_work_after_shutdown_even_while_full() -> None:
    executor = pool.BoundedExecutor(1)
    gate = threading.Event()
    executor.submit(gate.wait, 5)
    errors: list[BaseException] = []

    def blocked_submit() -> None:
        try:
            executor.submit(print, "never")
        except RuntimeError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=blocked_submit)
    waiter.start()
    wait_until(lambda: _blocked_in_submit(waiter), 5, "the second submit to wait for a slot", interval=0.01)
    executor.shutdown(wait=False, cancel_futures=True)
    waiter.join(5)
    gate.set()
    assert not waiter.is_alive() and errors and "after shutdown" in str(errors[0])


# --- batched log delivery ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    log_group: str
    log_stream: str
    logs: str


STOP = object()


class FakeLogs:
    """The slice of a boto3 Logs client the loop uses; groups and streams must exist, as in CloudWatch."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

        class ResourceAlreadyExistsException(Exception):
            pass

    def __init__(self, fail_streams: AbstractSet[str] = frozenset()) -> None:
        self.streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.groups: set[str] = set()
        self.calls: list[tuple[str, str, int]] = []
        self.fail_streams = fail_streams

    def create_log_group(self, logGroupName: str) -> None:
        if logGroupName in self.groups:
            raise self.exceptions.ResourceAlreadyExistsException(logGroupName)
        self.groups.add(logGroupName)

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        self.streams.setdefault((logGroupName, logStreamName), [])

    def put_log_events(self, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]) -> None:
        if logStreamName in self.fail_streams:
            raise OSError("logs service unavailable")
        if logGroupName not in self.groups or (logGroupName, logStreamName) not in self.streams:
            raise self.exceptions.ResourceNotFoundException(logStreamName)
        self.calls.append((logGroupName, logStreamName, len(logEvents)))
        self.streams[(logGroupName, logStreamName)].extend(logEvents)


def _invocation(stream: str, n: int) -> Item:
    lines = f"START RequestId: {n}\nline {n}\n\nEND RequestId: {n}\nREPORT RequestId: {n}\n"
    return Item("/aws/lambda/f", stream, lines)


def _run(items: list[Any], logs: FakeLogs) -> None:
    queue: Queue = Queue()
    for item in [*items, STOP]:
        queue.put(item)
    batching.batched_log_loop(queue, threading.Event(), STOP, logs, "us-east-1")


def test_a_backlog_becomes_one_request_per_stream_in_order_with_every_line() -> None:
    logs = FakeLogs()
    items = [_invocation(f"stream-{n % 3}", n) for n in range(30)]
    _run(items, logs)
    assert sorted(call[1] for call in logs.calls) == ["stream-0", "stream-1", "stream-2"]
    for s in range(3):
        messages = [e["message"] for e in logs.streams[("/aws/lambda/f", f"stream-{s}")]]
        expected = [
            line + "\n"
            for n in range(s, 30, 3)
            for line in (f"START RequestId: {n}", f"line {n}", f"END RequestId: {n}", f"REPORT RequestId: {n}")
        ]
        assert messages == expected  # the empty line is dropped, as CloudWatch requires


def test_one_waiting_item_is_one_request_as_before() -> None:
    logs = FakeLogs()
    _run([_invocation("s", 1)], logs)
    assert logs.calls == [("/aws/lambda/f", "s", 4)]


def test_a_failing_stream_does_not_stop_delivery_to_the_others() -> None:
    logs = FakeLogs(fail_streams={"bad"})
    _run([_invocation("bad", 1), _invocation("good", 2)], logs)
    assert [call[1] for call in logs.calls] == ["good"]


def test_stop_ends_the_loop_after_delivering_what_came_before_it() -> None:
    logs = FakeLogs()
    queue: Queue = Queue()
    for item in (_invocation("s", 1), STOP, _invocation("s", 2)):
        queue.put(item)
    batching.batched_log_loop(queue, threading.Event(), STOP, logs, "us-east-1")
    delivered = [e["message"] for e in logs.streams[("/aws/lambda/f", "s")]]
    assert delivered == ["START RequestId: 1\n", "line 1\n", "END RequestId: 1\n", "REPORT RequestId: 1\n"]
    assert queue.qsize() == 1


def test_batches_respect_cloudwatch_count_and_size_limits() -> None:
    events = [{"timestamp": 1, "message": "x" * 99} for _ in range(25)]  # 125 bytes each with the overhead
    assert [len(c) for c in batching.chunked(events, max_events=10, max_bytes=10_000)] == [10, 10, 5]
    assert [len(c) for c in batching.chunked(events, max_events=100, max_bytes=1_000)] == [8, 8, 8, 1]
    huge = [{"timestamp": 1, "message": "é" * 600_000}, {"timestamp": 1, "message": "ok"}]
    assert [len(c) for c in batching.chunked(huge)] == [1, 1]  # 1.2 MB of UTF-8 alone; never an empty batch


# --- S3 -> SQS notifications grouped under load ----------------------------------------------------------
group_send = load_executor_module("group_send")


def test_a_lone_notification_is_sent_at_once_by_its_own_thread() -> None:
    sent: list[tuple[Any, list[str], str]] = []
    sender = group_send.GroupSender(lambda target, batch: sent.append((target, batch, threading.current_thread().name)))
    sender.submit("queue-a", "n1")
    assert sent == [("queue-a", ["n1"], threading.current_thread().name)]


def test_notifications_arriving_during_a_send_go_out_next_in_batches_of_ten_in_order() -> None:
    first_send_started, release_first = threading.Event(), threading.Event()
    sent: list[tuple[Any, list[int]]] = []

    def send(target: Any, batch: list[int]) -> None:
        sent.append((target, batch))
        if batch == [0]:
            first_send_started.set()
            assert release_first.wait(10)

    sender = group_send.GroupSender(send)
    first = threading.Thread(target=sender.submit, args=("queue-a", 0))
    first.start()
    assert first_send_started.wait(10)
    for n in range(1, 24):  # the first send is under way: these only wait in the sender's list
        sender.submit("queue-a", n)
    sender.submit("queue-b", 100)  # another queue is not held up by queue-a's send
    assert sent == [("queue-a", [0]), ("queue-b", [100])]
    release_first.set()
    first.join(10)
    assert sent[2:] == [("queue-a", list(range(1, 11))), ("queue-a", list(range(11, 21))), ("queue-a", [21, 22, 23])]


def test_a_failed_send_does_not_strand_the_notifications_behind_it() -> None:
    sent: list[list[int]] = []
    in_send, release = threading.Event(), threading.Event()

    def send(target: Any, batch: list[int]) -> None:
        if batch == [0]:
            in_send.set()
            assert release.wait(10)
            raise RuntimeError("SQS refused")
        sent.append(batch)

    sender = group_send.GroupSender(send)
    first = threading.Thread(target=sender.submit, args=("q", 0))
    first.start()
    assert in_send.wait(10)
    sender.submit("q", 1)
    sender.submit("q", 2)
    release.set()
    first.join(10)
    assert sent == [[1, 2]]
    sender.submit("q", 3)  # and the sender is free again: the next one goes at once
    assert sent[-1] == [3]
