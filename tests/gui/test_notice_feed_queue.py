"""The window's notices come from a queue of its own: the real backend opens the window's reader slot, and what the
backend says about the queue when it opens it (created, notices missed) reaches the status bar."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from gui_fakes import FakeBackend, make_notice

from backend.config import Settings
from backend.notices import NoticeReader, ReaderQueue, desktop_reader, reader_queue_name
from gui.backend_api import Backend
from gui.feeds import NoticeFeed
from gui.jobs import JobRunner

MISSED = (
    "Notices were last read 2026-01-02 03:04 UTC, more than 4 days ago: queue 'q' keeps notices for 4 days, so "
    "older ones are gone. The file list has every record."
)


@pytest.fixture
def jobs(qapp: Any) -> Iterator[JobRunner]:
    runner = JobRunner(2)
    yield runner
    runner.shutdown()


def test_the_real_backend_reads_from_the_windows_own_slot(settings: Settings) -> None:
    reader = Backend().open_notices(settings)  # no network until its first read
    try:
        assert isinstance(reader, NoticeReader)
        assert reader.identity.kind == "app"
        assert reader.identity == desktop_reader(settings, "app")  # the queue setup prepares for this desktop
        assert reader.queue_name == reader_queue_name(settings, reader.identity)
    finally:
        reader.close()


def test_what_the_queue_says_when_opened_is_noted_once(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    backend.notice_queue = ReaderQueue("q", "url", "arn", created=False, note=MISSED)
    backend.push_notice(make_notice("a.csv"))
    feed = NoticeFeed(settings, backend, jobs)
    notes: list[str] = []
    feed.note.connect(notes.append)
    with qtbot.waitSignal(feed.notices, timeout=5000):
        feed.start()
    backend.push_notice(make_notice("b.csv", seconds=1))
    with qtbot.waitSignal(feed.notices, timeout=5000):
        feed.poll_soon()
    assert notes == [MISSED]  # said when the reader opened its queue, not on every read
    assert backend.notice_readers_opened == 1
    feed.stop()


def test_a_queue_with_nothing_to_say_notes_nothing(
    qtbot: Any, settings: Settings, backend: FakeBackend, jobs: JobRunner
) -> None:
    feed = NoticeFeed(settings, backend, jobs)
    notes: list[str] = []
    feed.note.connect(notes.append)
    with qtbot.waitSignal(feed.answered, timeout=5000):
        feed.start()
    assert notes == []
    feed.stop()


def test_the_window_shows_the_note_in_its_status_bar(qtbot: Any, backend: FakeBackend, window: Any) -> None:
    # The window's feed opened its reader at start-up; a reader opened after a failure reports its queue again.
    backend.notice_queue = ReaderQueue("q", "url", "arn", created=True, note=MISSED)
    backend.notice_error = "The notices queue 'q' was deleted."
    qtbot.waitUntil(lambda: window.notices.list.empty_state.title == "Notices unavailable", timeout=5000)
    backend.notice_error = None
    window.notice_feed.poll()  # now, not after the retry pause
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == MISSED, timeout=5000)


def test_a_read_in_flight_when_the_window_closes_still_closes_its_reader(
    qtbot: Any, settings: Settings, backend: FakeBackend
) -> None:
    """The window closes while a long poll is out: the reader that poll brings back is closed (its claim on the
    window's queue slot released), although a closing job runner no longer hands the result to the feed."""
    runner = JobRunner(2)
    backend.notice_gate = threading.Event()
    feed = NoticeFeed(settings, backend, runner)
    feed.start()
    qtbot.waitUntil(backend.notice_reading.is_set, timeout=5000)
    feed.stop()
    backend.notice_gate.set()
    assert runner.shutdown(5000)
    assert backend.notice_readers and all(reader.closed for reader in backend.notice_readers)
