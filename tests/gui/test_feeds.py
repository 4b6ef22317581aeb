"""The feeds without a window: what they read through the backend comes out as signals, in order and in slices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gui_fakes import FakeBackend, make_notice, make_record

from backend.config import Settings
from backend.environment import Health
from backend.store import MetadataRecord
from gui.feeds import EnvironmentMonitor, NoticeFeed, RecordFeed
from gui.jobs import JobRunner


@pytest.fixture
def jobs(qapp: Any) -> Iterator[JobRunner]:
    runner = JobRunner(4)
    yield runner
    runner.shutdown()


def test_record_feed_starts_at_the_newest_revision_then_hands_on_changes_and_tombstones(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    backend.add_records(*[make_record(f"r{i}.csv", minutes=i) for i in range(2500)])
    feed = RecordFeed(settings, backend, jobs)
    batches: list[list[MetadataRecord]] = []
    feed.records.connect(batches.append)
    with qtbot.waitSignal(feed.ready, timeout=5000):
        feed.poll()
    assert batches == []  # the first read finds the cursor; it never loads the world
    assert backend.change_reads == 0  # one indexed list() call instead of walking the change log
    assert feed.cursor == "r:2500"

    backend.add_records(make_record("r7.csv", minutes=7, rows=70))
    backend.delete_record("test-bucket", "r9.csv")
    with qtbot.waitSignal(feed.caught_up, timeout=5000):
        feed.poll()
    assert [[(r.key, r.deleted, r.complete) for r in b] for b in batches] == [
        [("r7.csv", False, False), ("r9.csv", True, True)]  # summary records, and the tombstone
    ]
    feed.stop()


def test_record_feed_says_why_the_store_cannot_be_read(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    backend.store_error = "Cannot connect to MySQL at 127.0.0.1:3307. Is the local stack up?"
    feed = RecordFeed(settings, backend, jobs)
    with qtbot.waitSignal(feed.failed, timeout=5000) as failed:
        feed.poll()
    assert failed.args == [backend.store_error]
    backend.store_error = None
    with qtbot.waitSignal(feed.answered, timeout=5000):
        feed.poll()
    feed.stop()


def test_record_feed_reset_drops_the_answer_of_a_read_under_way(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    backend.add_records(make_record("old-store.csv"))
    backend.poll_delay = 0.3
    feed = RecordFeed(settings, backend, jobs)
    received: list[list[MetadataRecord]] = []
    feed.records.connect(received.append)
    feed.poll()
    feed.reset()  # the settings now point at another store
    qtbot.wait(600)
    assert received == []
    assert jobs.wait(3000)
    feed.stop()


def test_notice_feed_delivers_notices_oldest_first(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    for seconds in (30, 10, 20):
        backend.push_notice(make_notice(f"n{seconds}.csv", seconds=seconds))
    feed = NoticeFeed(settings, backend, jobs)
    with qtbot.waitSignal(feed.notices, timeout=5000) as arrived:
        feed.start()
    assert [n.key for n in arrived.args[0]] == ["n10.csv", "n20.csv", "n30.csv"]
    feed.stop()


def test_environment_monitor_checks_again_when_asked_during_a_check(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    """An answer that may predate a change (setup just finished) is followed by one more check."""
    monitor = EnvironmentMonitor(settings, backend, jobs)
    answers: list[dict[str, Health]] = []
    monitor.status.connect(answers.append)
    monitor.check()
    backend.env["trigger"] = Health(False, "not wired: run Set up environment")
    monitor.check()  # while the first check runs
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=5000)
    assert answers[-1]["trigger"].ok is False
    monitor.stop()
