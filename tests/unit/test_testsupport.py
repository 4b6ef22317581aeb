"""The suite's one poll loop, ``testsupport.wait_until``: what it returns, and what a timeout says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testsupport import NotYet, wait_until


def test_returns_the_first_truthy_value_and_stops_calling() -> None:
    answers: Iterator[object] = iter([None, 0, [], {"row": 1}, {"row": 2}])
    calls = []

    def condition() -> object:
        calls.append(1)
        return next(answers)

    assert wait_until(condition, 5, "a row", interval=0) == {"row": 1}
    assert len(calls) == 4


def test_timeout_names_what_was_awaited_and_the_last_value_seen() -> None:
    calls: list[int] = []

    def condition() -> NotYet:
        calls.append(1)
        return NotYet(f"call {len(calls)}")

    with pytest.raises(AssertionError) as failure:
        wait_until(condition, 0.05, "the answer", interval=0.01)
    message = str(failure.value)
    assert message.startswith("timed out after 0.05 s waiting for the answer; last seen: ")
    assert message.endswith(f"last seen: 'call {len(calls)}'")
    with pytest.raises(AssertionError, match=r"last seen: \[\]$"):
        wait_until(list, 0, "a non-empty list")


def test_not_yet_is_falsy_and_its_content_is_what_a_timeout_shows() -> None:
    assert not NotYet("anything")
    with pytest.raises(AssertionError, match=r"last seen: '3 keys without a record'$"):
        wait_until(lambda: NotYet("3 keys without a record"), 0, "every record")


def test_a_long_last_value_is_cut_short() -> None:
    with pytest.raises(AssertionError) as failure:
        wait_until(lambda: NotYet("x" * 10_000), 0, "something")
    assert len(str(failure.value)) < 2_200 and "10002 characters" in str(failure.value)


def test_an_exception_from_the_condition_ends_the_wait_at_once() -> None:
    def condition() -> bool:
        raise LookupError("the queue is gone")

    with pytest.raises(LookupError, match="the queue is gone"):
        wait_until(condition, 60, "a message")
