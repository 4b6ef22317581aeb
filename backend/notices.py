"""Completion and failure notices: SNS -> one SQS queue per reader (raw delivery) -> Notice objects.

Every reader (each window, each `csvdrop notices`) has a queue of its own subscribed to the topic, so every
reader gets every notice; readers sharing one queue would split the notices between them. A reader's queue is
created on first use and named after whose it is (:func:`reader_queue_name`). The part of the name that keeps it
the same across restarts is a short id kept under ``state_dir``, one per *slot*: a reader holds its slot's lock
while open, so the window reopened tomorrow gets yesterday's queue, while a second window or terminal open at
the same time takes the next slot and a queue of its own.

A queue keeps what arrives while its reader is closed for RETENTION_S (4 days). Readers tag their queue with
their last use; setup removes the queues nobody used for longer than that, teardown removes them all.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from backend import aws
from backend.aws import error_code, explain
from backend.config import Settings
from backend.errors import CsvDropError

log = logging.getLogger(__name__)

MISSING_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class NoticeError(CsvDropError, RuntimeError):
    """Notices cannot be read; the message says why and what to do."""


class QueueMissing(NoticeError):
    """The reader's queue was deleted under it; the next read creates it again."""


class TopicMissing(NoticeError):
    """The environment's topic does not exist: setup has not run, or teardown removed it."""


@dataclass(frozen=True)
class Notice:
    message_id: str
    bucket: str
    key: str
    file_name: str
    status: str
    row_count: int | None
    column_count: int | None
    error: str | None
    sent_at: dt.datetime
    sequencer: str = ""
    warnings_count: int = 0
    warning_codes: tuple[str, ...] = ()

    @property
    def has_warnings(self) -> bool:
        return self.status == "PROCESSED" and self.warnings_count > 0

    @property
    def summary(self) -> str:
        if self.status == "PROCESSED":
            shape = f"{self.file_name}: {self.row_count} rows x {self.column_count} columns"
            if self.warnings_count:
                plural = "s" if self.warnings_count != 1 else ""
                return f"{shape}, {self.warnings_count} warning{plural} ({', '.join(self.warning_codes)})"
            return shape
        return f"{self.file_name}: {self.error}"


def parse_notice(message: dict[str, Any]) -> Notice | None:
    """A Notice from an SQS message (raw SNS delivery, or the SNS envelope when raw delivery is off)."""
    try:
        body = json.loads(message.get("Body", ""))
        if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
            body = json.loads(body["Message"])
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("type") != "csvdrop.metadata":
        return None
    sent_ms = message.get("Attributes", {}).get("SentTimestamp")
    sent_at = dt.datetime.fromtimestamp(int(sent_ms) / 1000, dt.UTC) if sent_ms else dt.datetime.now(dt.UTC)
    return Notice(
        message_id=str(message.get("MessageId", "")),
        bucket=str(body.get("bucket", "")),
        key=str(body.get("key", "")),
        file_name=str(body.get("file_name", "")),
        status=str(body.get("status", "")),
        row_count=body.get("row_count"),
        column_count=body.get("column_count"),
        error=body.get("error"),
        sent_at=sent_at,
        sequencer=str(body.get("sequencer") or ""),
        warnings_count=_count(body.get("warnings_count")),
        warning_codes=tuple(str(c) for c in body.get("warning_codes") or () if c),
    )


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


class NoticeSource(Protocol):
    """What the app and the CLI read notices through (NoticeReader, or a test's stand-in of the same shape)."""

    def receive(self, wait_seconds: int = 1, max_messages: int = 10) -> list[Notice]: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------ reader queues
RETENTION_DAYS = 4
# What a queue keeps while its reader is closed, and how long setup waits before it removes an unused one.
RETENTION_S = RETENTION_DAYS * 24 * 3600
# How often an open reader renews its queue's last-use tag: often enough against a threshold of days, rarely
# enough to cost nothing.
LAST_USED_EVERY_S = 3600
QUEUE_NAME_MAX = 80  # SQS: at most 80 characters of A-Z a-z 0-9 _ -
PREFIX_MAX = 48  # the environment's part; what is left names the reader
USER_MAX = 16
ID_LENGTH = 8
TAG_ROLE = "csvdrop:role"
ROLE_READER = "notice-reader"
TAG_TOPIC = "csvdrop:topic"
TAG_READER = "csvdrop:reader"
TAG_LAST_USED = "csvdrop:last-used"
READERS_DIR = "notice-readers"  # under state_dir: one id (and lock) per reader slot
MAX_SLOTS = 32
KEEP_READS = 16  # environments a slot remembers its last read of

ReaderKind = Literal["app", "cli"]
KIND_TITLES: dict[ReaderKind, str] = {"app": "the window", "cli": "csvdrop notices"}

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_-]+")


def clean_name_part(text: str) -> str:
    """``text`` with every run of characters SQS does not allow in a name turned into one dash."""
    return re.sub(r"-{2,}", "-", _NOT_IN_NAMES.sub("-", text)).strip("-")


@dataclass(frozen=True)
class ReaderIdentity:
    """Whose queue it is: a user on a host, a window or the CLI, and the id that keeps it across restarts."""

    user: str
    host: str
    kind: ReaderKind
    id: str

    @property
    def description(self) -> str:
        return f"{KIND_TITLES[self.kind]} of {self.user}@{self.host}"


def reader_queue_prefix(settings: Settings) -> str:
    """What every reader queue of this environment starts with (then a dash): the ``queue_name`` setting."""
    return clean_name_part(settings.queue_name)[:PREFIX_MAX].rstrip("-") or "csvdrop-notices"


def reader_queue_name(settings: Settings, reader: ReaderIdentity) -> str:
    """``<queue_name>-<user>-<host>-<app|cli>-<id>``, at most 80 characters of [A-Za-z0-9_-]. The environment's
    prefix, the kind and the id are always whole (the prefix finds the queues, the id tells them apart); the
    user and host are shortened to fit."""
    prefix = reader_queue_prefix(settings)
    tail = f"{reader.kind}-{clean_name_part(reader.id)[:16] or 'reader'}"
    room = QUEUE_NAME_MAX - len(prefix) - len(tail) - 2
    user = clean_name_part(reader.user)[:USER_MAX].strip("-") or "user"
    host = clean_name_part(reader.host) or "host"
    who = f"{user}-{host}"[: max(0, room)].strip("-")
    return f"{prefix}-{who}-{tail}" if who else f"{prefix}-{tail}"


def topic_arn(settings: Settings, account: str) -> str:
    return f"arn:aws:sns:{settings.region}:{account}:{settings.topic_name}"


def queue_arn(settings: Settings, account: str, name: str) -> str:
    return f"arn:aws:sqs:{settings.region}:{account}:{name}"


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's numeric user)
        return "user"


def _local_host() -> str:
    return socket.gethostname().split(".")[0] or "host"


# A reader's slot: a lock file held while it is open and a small JSON file with its id and when it last read.
if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass
class _Slot:
    key: tuple[str, ReaderKind]
    lock_fd: int
    record: Path
    identity: ReaderIdentity
    # When each of its queues was last read (one per environment the slot's reader has read notices of).
    last_read: dict[str, dt.datetime]
    users: int = 1


# Readers of one kind in one process share a slot: the window replaces its reader after a failure or a settings
# change while the old one is still being closed on a worker, and must keep its queue when it does.
_SLOTS: dict[tuple[str, ReaderKind], _Slot] = {}
_SLOTS_LOCK = threading.Lock()


def _slot_key(settings: Settings, kind: ReaderKind) -> tuple[str, ReaderKind]:
    return str(settings.state_dir.expanduser().absolute()), kind


def _readers_dir(settings: Settings) -> Path:
    return settings.state_dir.expanduser() / READERS_DIR


def _read_record(record: Path) -> tuple[str, dict[str, dt.datetime]]:
    """(id, last read per queue) from a slot's record; an empty id when there is none yet (or it is unreadable)."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", {}
    if not isinstance(data, dict):
        return "", {}
    reads = data.get("last_read")
    times = {str(q): _parse_time(t) for q, t in reads.items()} if isinstance(reads, dict) else {}
    return clean_name_part(str(data.get("id") or ""))[:16], {q: t for q, t in times.items() if t is not None}


def _write_record(record: Path, reader_id: str, last_read: dict[str, dt.datetime]) -> None:
    recent = sorted(last_read.items(), key=lambda item: item[1], reverse=True)[:KEEP_READS]
    data = {"id": reader_id, "last_read": {queue: _format_time(when) for queue, when in recent}}
    tmp = record.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
    tmp.replace(record)  # whole or not at all: setup reads records without taking their lock


def _identity_of(kind: ReaderKind, record: Path) -> tuple[ReaderIdentity, dict[str, dt.datetime]]:
    """The slot's identity, giving it an id on first use (the caller holds the slot's lock)."""
    reader_id, last_read = _read_record(record)
    if not reader_id:
        reader_id = secrets.token_hex(ID_LENGTH // 2)
        _write_record(record, reader_id, {})
    return ReaderIdentity(_local_user(), _local_host(), kind, reader_id), last_read


def _slot_error(folder: Path, exc: OSError) -> NoticeError:
    return NoticeError(
        f"Cannot keep this notice reader's id in {folder} ({exc.strerror or exc}). Check that the state folder "
        "(the state_dir setting) exists and is writable."
    )


def _claim_slot(settings: Settings, kind: ReaderKind) -> _Slot:
    key = _slot_key(settings, kind)
    folder = _readers_dir(settings)
    with _SLOTS_LOCK:
        held = _SLOTS.get(key)
        if held is not None:
            held.users += 1
            return held
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for number in range(MAX_SLOTS):
                fd = os.open(folder / f"{kind}-{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                if not _try_lock(fd):  # another process's reader of this kind has it
                    os.close(fd)
                    continue
                record = folder / f"{kind}-{number}.json"
                try:
                    identity, last_read = _identity_of(kind, record)
                except OSError:
                    _unlock(fd)
                    os.close(fd)
                    raise
                slot = _SLOTS[key] = _Slot(key, fd, record, identity, last_read)
                return slot
        except OSError as exc:
            raise _slot_error(folder, exc) from exc
    raise NoticeError(
        f"{MAX_SLOTS} notice readers ({KIND_TITLES[kind]}) are open on this machine already (their ids are in "
        f"{folder}): close some, then retry."
    )


def _release_slot(slot: _Slot) -> None:
    with _SLOTS_LOCK:
        slot.users -= 1
        if slot.users > 0:
            return
        _SLOTS.pop(slot.key, None)
        try:
            _unlock(slot.lock_fd)
        finally:
            os.close(slot.lock_fd)


def _note_read(slot: _Slot, queue: str, when: dt.datetime) -> None:
    with _SLOTS_LOCK:
        slot.last_read[queue] = when
        try:
            _write_record(slot.record, slot.identity.id, slot.last_read)
        except OSError:  # only the "you missed some" note depends on it
            log.warning("could not note the last read in %s", slot.record, exc_info=True)


def desktop_reader(settings: Settings, kind: ReaderKind) -> ReaderIdentity | None:
    """The identity of this machine's first reader of ``kind`` (the one a window or terminal opened alone
    gets), creating its id if it has none; None only in the instant another process is giving it one."""
    key = _slot_key(settings, kind)
    folder = _readers_dir(settings)
    record = folder / f"{kind}-0.json"
    with _SLOTS_LOCK:
        held = _SLOTS.get(key)
        if held is not None and held.record == record:
            return held.identity
        reader_id, _last = _read_record(record)
        if reader_id:  # written once, never changed: no lock needed to read it
            return ReaderIdentity(_local_user(), _local_host(), kind, reader_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / f"{kind}-0.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if not _try_lock(fd):
                    return None
                try:
                    return _identity_of(kind, record)[0]
                finally:
                    _unlock(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _slot_error(folder, exc) from exc


# ------------------------------------------------------------------------------------------ opening a queue
@dataclass(frozen=True)
class ReaderQueue:
    """A reader's queue, ready: it exists, only the topic may send to it, and it is subscribed."""

    name: str
    url: str
    arn: str
    created: bool
    # What the reader's user should know about what they may have missed (None: nothing was missed).
    note: str | None = None


def _format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def last_used(tags: dict[str, str]) -> dt.datetime | None:
    """When a reader last used the queue with these tags (None: not tagged by a reader)."""
    return _parse_time(tags.get(TAG_LAST_USED))


def reader_tags(reader: ReaderIdentity, topic: str, now: dt.datetime) -> dict[str, str]:
    return {
        TAG_ROLE: ROLE_READER,
        TAG_TOPIC: topic,
        TAG_READER: f"{reader.user}@{reader.host} {reader.kind}"[:256],
        TAG_LAST_USED: _format_time(now),
    }


def queue_policy(queue: str, topic: str) -> dict[str, Any]:
    """Only the environment's topic may send to a reader queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "csvdrop-sns",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ],
    }


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _missed_note(
    name: str, created: bool, last_read: dt.datetime | None, now: dt.datetime, reader: ReaderIdentity
) -> str | None:
    if created and last_read is None:
        return (
            f"Notices queue '{name}' created for {reader.description}: notices of files completed from now on "
            "arrive in it."
        )
    if created and last_read is not None:
        return (
            f"Notices queue '{name}' was created again: the old one was removed (it was last read {_when(last_read)}; "
            f"setup removes queues unused for more than {RETENTION_DAYS} days, teardown removes them all). Notices "
            "of files completed in between are not shown; the file list has every record."
        )
    if last_read is not None and (now - last_read).total_seconds() > RETENTION_S:
        return (
            f"Notices were last read {_when(last_read)}, more than {RETENTION_DAYS} days ago: queue '{name}' keeps "
            f"notices for {RETENTION_DAYS} days, so older ones are gone. The file list has every record."
        )
    return None


def open_reader_queue(
    settings: Settings,
    reader: ReaderIdentity,
    *,
    sqs: Any,
    sns: Any,
    account: str,
    last_read: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ReaderQueue:
    """Creates the reader's queue if it does not exist, (re)sets its retention and policy, subscribes it to the
    topic (raw delivery; subscribing again is a no-op) and marks it used now. Raises NoticeError."""
    now = now or dt.datetime.now(dt.UTC)
    name = reader_queue_name(settings, reader)
    topic = topic_arn(settings, account)
    arn = queue_arn(settings, account, name)
    attributes = {"MessageRetentionPeriod": str(RETENTION_S), "Policy": json.dumps(queue_policy(arn, topic))}
    tags = reader_tags(reader, topic, now)
    try:
        try:
            # A queue made for a topic that is not there would never get a notice: say "run setup" instead.
            sns.get_topic_attributes(TopicArn=topic)
        except ClientError as exc:
            if error_code(exc) in ("NotFound", "NotFoundException"):
                raise TopicMissing(
                    f"The notices topic '{settings.topic_name}' does not exist, so queue '{name}' cannot receive "
                    "notices. Run 'Set up environment' (csvdrop setup) to create it."
                ) from exc
            raise
        try:
            url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
            created = False
        except ClientError as exc:
            if error_code(exc) not in MISSING_QUEUE:
                raise
            url = str(sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"])
            created = True
        if not created:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
            sqs.tag_queue(QueueUrl=url, Tags=tags)
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )
    except (ClientError, BotoCoreError) as exc:
        raise queue_error(settings, name, exc) from exc
    return ReaderQueue(name, url, arn, created, _missed_note(name, created, last_read, now, reader))


def queue_error(settings: Settings, name: str, exc: BaseException) -> NoticeError:
    """The user-facing error for a failed call about a reader queue: which queue, and what to do."""
    code = error_code(exc)
    if code in ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"):
        return NoticeError(
            f"The notices queue '{name}' was deleted less than a minute ago, and AWS lets its name be used "
            "again only after 60 s; it is created on the next try."
        )
    if code in ("AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException"):
        return NoticeError(
            f"AWS refused to set up the notices queue '{name}' ({code}). The app's credentials need "
            f"sqs:GetQueueUrl, CreateQueue, SetQueueAttributes, TagQueue, ReceiveMessage and DeleteMessage on "
            f"the queues named {reader_queue_prefix(settings)}-*, and sns:GetTopicAttributes and sns:Subscribe "
            f"on the topic {settings.topic_name} (README, Security)."
        )
    return NoticeError(f"Notices queue '{name}': {explain(exc, settings)}")


# ------------------------------------------------------------------------------------------ the reader
class NoticeReader:
    """Reads and deletes notices from this reader's own queue. Not thread-safe: one reader per worker.

    ``kind`` picks the slot (and so the queue) on this machine; ``identity`` names the reader outright instead
    (tests, tools). ``on_open`` is told about the queue each time the reader opens it: on its first read, and
    again after the queue was deleted under it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        kind: ReaderKind = "app",
        identity: ReaderIdentity | None = None,
        on_open: Callable[[ReaderQueue], None] | None = None,
        client_for: Callable[[str], Any] | None = None,
    ) -> None:
        self.settings = settings
        self._slot = None if identity is not None else _claim_slot(settings, kind)
        self.identity = identity if identity is not None else self._require_slot().identity
        self.queue_name = reader_queue_name(settings, self.identity)
        self._on_open = on_open
        self._client_for = client_for or (lambda service: aws.client(settings, service, timeout_s=5, retries=1))
        self._clients: dict[str, Any] = {}
        self._queue: ReaderQueue | None = None
        self._marked_at = 0.0
        self._closed = False

    def _require_slot(self) -> _Slot:
        assert self._slot is not None
        return self._slot

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client_for(service)
        return self._clients[service]

    def open(self) -> ReaderQueue:
        """The reader's queue, created and subscribed on first use."""
        if self._queue is None:
            try:
                account = str(self._client("sts").get_caller_identity()["Account"])
            except (ClientError, BotoCoreError) as exc:
                raise queue_error(self.settings, self.queue_name, exc) from exc
            now = dt.datetime.now(dt.UTC)
            self._queue = open_reader_queue(
                self.settings,
                self.identity,
                sqs=self._client("sqs"),
                sns=self._client("sns"),
                account=account,
                last_read=self._slot.last_read.get(self.queue_name) if self._slot else None,
                now=now,
            )
            self._marked_at = time.monotonic()
            if self._slot is not None:
                _note_read(self._slot, self.queue_name, now)
            if self._on_open is not None:
                self._on_open(self._queue)
        return self._queue

    def queue_url(self) -> str:
        return self.open().url

    def receive(self, wait_seconds: int = 1, max_messages: int = 10) -> list[Notice]:
        url = self.open().url
        sqs = self._client("sqs")
        try:
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["SentTimestamp"],
            )
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in MISSING_QUEUE:
                self._queue = None  # the next read creates it again
                raise QueueMissing(
                    f"The notices queue '{self.queue_name}' was deleted (by teardown, or by setup after "
                    f"{RETENTION_DAYS} days unused): notices sent since then are lost. The next read creates it "
                    "again; if the environment itself was removed, run 'Set up environment' (csvdrop setup) first."
                ) from exc
            raise queue_error(self.settings, self.queue_name, exc) from exc
        messages = response.get("Messages", [])
        notices = [n for n in (parse_notice(m) for m in messages) if n is not None]
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            try:
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            except (ClientError, BotoCoreError):
                pass  # undeleted messages come back after the visibility timeout; the app dedups by id
        self._mark_used(url)
        return sorted(notices, key=lambda n: n.sent_at, reverse=True)

    def _mark_used(self, url: str) -> None:
        """Renews the last-use tag now and then, so setup never removes the queue of a reader that is open."""
        if time.monotonic() - self._marked_at < LAST_USED_EVERY_S:
            return
        self._marked_at = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        try:
            self._client("sqs").tag_queue(QueueUrl=url, Tags={TAG_LAST_USED: _format_time(now)})
        except (ClientError, BotoCoreError):
            log.warning("could not renew the last-use tag of %s", self.queue_name, exc_info=True)
        if self._slot is not None:
            _note_read(self._slot, self.queue_name, now)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._slot is not None:
                if self._queue is not None:
                    _note_read(self._slot, self.queue_name, dt.datetime.now(dt.UTC))
                _release_slot(self._slot)
        finally:
            for client in self._clients.values():
                client.close()
