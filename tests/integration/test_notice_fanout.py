"""Every reader sees every notice (SNS fan-out, one SQS queue per reader), on the real stack.

Readers here are NoticeReader objects with identities of their own (other desktops) and `csvdrop notices --follow
--json` processes (two terminals on this machine: two slots, two queues). Files are put straight into S3 with
boto3, as any client would.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pipeline_helpers import VENV_BIN, deliver_marker, settings_env, wait_for_row
from testsupport import ROOT, NotYet, set_up, wait_until

from backend import aws
from backend.config import Settings
from backend.notices import (
    RETENTION_S,
    TAG_LAST_USED,
    TAG_TOPIC,
    Notice,
    NoticeReader,
    ReaderIdentity,
    desktop_reader,
    queue_arn,
    reader_queue_name,
    reader_queue_prefix,
)
from backend.provisioning import reader_queues, setup_steps, teardown_steps
from backend.steps import run_steps

pytestmark = [pytest.mark.stack]

FILES = 50


def _desk(name: str) -> ReaderIdentity:
    """A reader on another desktop: its own user, host and id."""
    return ReaderIdentity(f"user-{name}", f"desk-{name}", "app", uuid.uuid4().hex[:8])


def _put(settings: Settings, keys: list[str]) -> None:
    s3 = aws.client(settings, "s3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=settings.bucket, Key=k, Body=f"k,v\n{k},1\n".encode()), keys))


def _queue_exists(settings: Settings, name: str) -> bool:
    try:
        aws.client(settings, "sqs").get_queue_url(QueueName=name)
    except ClientError:
        return False
    return True


def _subscribed_endpoints(settings: Settings, topic: str) -> set[str]:
    sns = aws.client(settings, "sns")
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
    return {sub["Endpoint"] for page in pages for sub in page["Subscriptions"]}


def _account(settings: Settings) -> str:
    return str(aws.client(settings, "sts").get_caller_identity()["Account"])


def _topic(settings: Settings) -> str:
    return f"arn:aws:sns:{settings.region}:{_account(settings)}:{settings.topic_name}"


def _read_lines(stream: Any, into: list[str]) -> None:
    for line in iter(stream.readline, ""):
        into.append(line)


# ------------------------------------------------------------------------------------------ readers at work
@dataclass
class ThreadReader:
    """A NoticeReader polling in a thread of its own, as a window's feed does."""

    reader: NoticeReader
    seen: list[Notice] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.reader.open()  # subscribed before the first file is put
        self.thread = threading.Thread(target=self._run, name=self.reader.queue_name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.seen.extend(self.reader.receive(wait_seconds=1))
        except BaseException as exc:
            self.errors.append(exc)

    def keys(self) -> list[str]:
        return [n.key for n in self.seen]

    def finish(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(30)
        self.reader.close()


@dataclass
class CliReader:
    """`csvdrop notices --follow --json` in a process of its own: stdout is one notice per line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings) -> CliReader:
        process = subprocess.Popen(
            [str(VENV_BIN / "csvdrop"), "notices", "--follow", "--json"],
            env=settings_env(settings),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        cli = cls(process)
        for stream, into in ((process.stdout, cli.lines), (process.stderr, cli.errors)):
            threading.Thread(target=_read_lines, args=(stream, into), daemon=True).start()
        return cli

    def queue_name(self) -> str | None:
        """The queue it follows, once it has said so (it then is subscribed)."""
        said = [line for line in self.errors if line.startswith("following notices on queue ")]
        return said[0].split()[4] if said else None

    def keys(self) -> list[str]:
        return [json.loads(line)["key"] for line in list(self.lines)]

    def message_ids(self) -> list[str]:
        return [json.loads(line)["message_id"] for line in list(self.lines)]

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C: the command closes its reader and exits 130
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_reader_sees_every_notice_once(provisioned: Settings) -> None:
    """Two desktops' readers and two terminals on this machine, all at once, while 50 files are put."""
    prefix = f"fanout-{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}f{i:02d}.csv" for i in range(FILES)]
    threads = [ThreadReader(NoticeReader(provisioned, identity=_desk(name))) for name in ("a", "b")]
    clis: list[CliReader] = []
    try:
        for reader in threads:
            reader.start()
        clis = [CliReader.start(provisioned), CliReader.start(provisioned)]
        wait_until(
            lambda: all(cli.queue_name() for cli in clis) or NotYet([cli.errors for cli in clis]),
            90,
            "both `csvdrop notices --follow` to follow their queue",
        )
        names = [t.reader.queue_name for t in threads] + [str(cli.queue_name()) for cli in clis]
        assert len(set(names)) == 4, names  # one queue per reader, the two terminals' included
        assert all(name.startswith(reader_queue_prefix(provisioned) + "-") for name in names), names

        _put(provisioned, keys)

        def every_reader_has_every_key() -> bool | NotYet:
            missing = {
                name: FILES - len(set(keys) & set(got))
                for name, got in zip(names, [t.keys() for t in threads] + [c.keys() for c in clis], strict=True)
            }
            errors = [e for t in threads for e in t.errors]
            assert not errors, errors
            return not any(missing.values()) or NotYet(f"notices missing per reader: {missing}")

        wait_until(every_reader_has_every_key, 300, f"{FILES} notices at each of 4 readers", interval=0.5)
        # Everything sent before the marker has been through the pipeline: a duplicate would be here by now.
        marker = deliver_marker(provisioned, "fanout")
        readers: list[ThreadReader | CliReader] = [*threads, *clis]
        wait_until(
            lambda: all(marker["object_key"] in r.keys() for r in readers),
            60,
            "the marker's notice at each reader",
            interval=0.5,
        )
    finally:
        for reader in threads:
            reader.finish()
        for cli in clis:
            cli.finish()
    for name, got, ids in [
        *[(t.reader.queue_name, t.keys(), [n.message_id for n in t.seen]) for t in threads],
        *[(str(cli.queue_name()), cli.keys(), cli.message_ids()) for cli in clis],
    ]:
        mine = [k for k in got if k.startswith(prefix)]
        assert set(mine) == set(keys), name
        assert len(mine) == FILES, f"{name} got a notice twice: {sorted(k for k in mine if mine.count(k) > 1)}"
        assert len(ids) == len(set(ids)), f"{name} got one message twice"
    assert all(cli.process.returncode == 130 for cli in clis), [cli.errors for cli in clis]


# ------------------------------------------------------------------------------------------ closed for a while
def test_a_reader_closed_while_files_complete_sees_them_when_it_reads_again(
    provisioned: Settings, tmp_path: Path
) -> None:
    """A window on another desktop (its own state folder) is closed while 5 files complete, then opened again."""
    desktop = provisioned.replace(state_dir=tmp_path / "other-desktop")
    first = NoticeReader(desktop, kind="app")
    try:
        queue = first.open()
        assert queue.created and queue.note and "from now on" in queue.note
    finally:
        first.close()

    prefix = f"away-{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}f{i}.csv" for i in range(5)]
    _put(provisioned, keys)
    for key in keys:
        wait_for_row(provisioned, key)
    sqs = aws.client(provisioned, "sqs")
    url = sqs.get_queue_url(QueueName=first.queue_name)["QueueUrl"]

    def held() -> int | NotYet:
        count = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        return count if count >= len(keys) else NotYet(count)

    wait_until(held, 30, "the queue to hold the 5 notices while its reader is closed")

    opened: list[Any] = []
    again = NoticeReader(desktop, kind="app", on_open=opened.append)  # the window, restarted
    seen: dict[str, Notice] = {}
    try:
        assert again.queue_name == first.queue_name  # the same queue across restarts

        def all_five() -> bool | NotYet:
            seen.update((n.key, n) for n in again.receive(wait_seconds=1))
            return set(keys) <= seen.keys() or NotYet(sorted(set(keys) - seen.keys()))

        wait_until(all_five, 30, "the 5 notices sent while the reader was closed", interval=0)
    finally:
        again.close()
    assert all(seen[k].status == "PROCESSED" for k in keys)
    assert opened and not opened[0].created and opened[0].note is None  # closed for minutes: nothing missed


# ------------------------------------------------------------------------------------------ setup and teardown
def test_setup_removes_reader_queues_unused_for_longer_than_the_retention(
    provisioned: Settings, tmp_path: Path
) -> None:
    away = provisioned.replace(state_dir=tmp_path / "desktop-away")  # a desktop whose window stayed closed
    stale = NoticeReader(away, kind="app")
    fresh = NoticeReader(provisioned, identity=_desk("fresh"))
    try:
        stale.open()
        fresh.open()
    finally:
        stale.close()
        fresh.close()
    sqs = aws.client(provisioned, "sqs")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=RETENTION_S + 3600)
    sqs.tag_queue(
        QueueUrl=sqs.get_queue_url(QueueName=stale.queue_name)["QueueUrl"],
        Tags={TAG_LAST_USED: long_ago.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    record = tmp_path / "desktop-away" / "notice-readers" / "app-0.json"
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "last_read": {stale.queue_name: long_ago.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
    topic = _topic(provisioned)
    stale_arn = queue_arn(provisioned, _account(provisioned), stale.queue_name)
    assert stale_arn in _subscribed_endpoints(provisioned, topic)

    outcome = set_up(provisioned)

    step = next(r for r in outcome.results if r.name == "queue")
    assert step.status == "updated" and stale.queue_name in step.detail, step
    assert not _queue_exists(provisioned, stale.queue_name)
    assert stale_arn not in _subscribed_endpoints(provisioned, topic)
    assert _queue_exists(provisioned, fresh.queue_name)
    for kind in ("app", "cli"):  # this desktop's own queues stay
        reader = desktop_reader(provisioned, kind)
        assert reader is not None and _queue_exists(provisioned, reader_queue_name(provisioned, reader))

    back = NoticeReader(away, kind="app")  # the window of the desktop that was away, opened again
    try:
        queue = back.open()
    finally:
        back.close()
    assert queue.name == stale.queue_name and queue.created
    assert queue.note is not None and "created again" in queue.note and "not shown" in queue.note


@pytest.fixture
def small_environment(provisioned: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A topic and reader queues of their own on the session's stack (the rest of `provisioned` is not touched),
    plus the one shared queue an older version's setup made."""
    tag = uuid.uuid4().hex[:6]
    # Its own function name too: the notices teardown also removes "<function_name>-failed-events", and the
    # session's environment must keep its queue (a later `csvdrop setup` test would find it re-created).
    settings = provisioned.replace(
        topic_name=f"fanout-topic-{tag}",
        queue_name=f"fanout-{tag}",
        function_name=f"fanout-fn-{tag}",
        state_dir=tmp_path / "state",
    )
    topic = next(s for s in setup_steps(settings) if s.name == "topic").run()
    assert topic.status == "created", topic
    sqs, sns = aws.client(settings, "sqs"), aws.client(settings, "sns")
    legacy = sqs.create_queue(QueueName=settings.queue_name)["QueueUrl"]
    legacy_arn = sqs.get_queue_attributes(QueueUrl=legacy, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic.detail, Protocol="sqs", Endpoint=legacy_arn)
    yield settings
    run_steps([s for s in teardown_steps(settings) if s.name == "notices"])


def test_teardown_removes_every_reader_queue_and_no_other_environments(small_environment: Settings) -> None:
    settings = small_environment
    # Another environment whose queue_name starts like this one's: its queues share our name prefix.
    neighbour = settings.replace(topic_name=settings.topic_name + "-b", queue_name=settings.queue_name + "-b")
    assert next(s for s in setup_steps(neighbour) if s.name == "topic").run().status == "created"
    queue_step = next(s for s in setup_steps(settings) if s.name == "queue").run()
    assert queue_step.status == "created", queue_step
    assert f"removed the shared queue {settings.queue_name}" in queue_step.detail
    assert not _queue_exists(settings, settings.queue_name)

    readers = [NoticeReader(settings, identity=_desk(n)) for n in ("x", "y")]
    theirs = NoticeReader(neighbour, identity=_desk("n"))
    try:
        for reader in [*readers, theirs]:
            reader.open()
    finally:
        for reader in [*readers, theirs]:
            reader.close()
    found = {q.name for q in reader_queues(_context(settings))}
    ours = {r.queue_name for r in readers} | {
        reader_queue_name(settings, r) for r in (desktop_reader(settings, "app"), desktop_reader(settings, "cli")) if r
    }
    assert found == ours and len(ours) == 4  # the neighbour's queue is not ours, although it starts like ours
    tags = aws.client(settings, "sqs").list_queue_tags(
        QueueUrl=aws.client(settings, "sqs").get_queue_url(QueueName=readers[0].queue_name)["QueueUrl"]
    )["Tags"]
    assert tags[TAG_TOPIC] == _topic(settings)

    outcome = run_steps([s for s in teardown_steps(settings) if s.name == "notices"])

    (result,) = outcome.results
    assert result.status == "removed" and "4 reader queue(s)" in result.detail, result
    assert not any(_queue_exists(settings, name) for name in ours)
    assert _queue_exists(neighbour, theirs.queue_name)
    run_steps([s for s in teardown_steps(neighbour) if s.name == "notices"])
    assert not _queue_exists(neighbour, theirs.queue_name)


def _context(settings: Settings) -> Any:
    from backend.provisioning import Context

    return Context(settings)


def test_a_readers_queue_allows_only_the_topic_keeps_notices_four_days_and_is_subscribed_once(
    provisioned: Settings,
) -> None:
    desk = _desk("policy")
    for _ in range(2):  # opened on two days: the second time finds the queue and its subscription in place
        reader = NoticeReader(provisioned, identity=desk)
        try:
            queue = reader.open()
        finally:
            reader.close()
    sqs, sns = aws.client(provisioned, "sqs"), aws.client(provisioned, "sns")
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["Policy", "MessageRetentionPeriod"])[
        "Attributes"
    ]
    assert attributes["MessageRetentionPeriod"] == str(4 * 24 * 3600)
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == queue.arn
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": _topic(provisioned)}}
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=_topic(provisioned))
    subs = [s for page in pages for s in page["Subscriptions"] if s["Endpoint"] == queue.arn]
    assert len(subs) == 1
    raw = sns.get_subscription_attributes(SubscriptionArn=subs[0]["SubscriptionArn"])["Attributes"]
    assert raw["RawMessageDelivery"] == "true"
    sns.unsubscribe(SubscriptionArn=subs[0]["SubscriptionArn"])  # a made-up desktop: leave nothing behind
    sqs.delete_queue(QueueUrl=queue.url)
