"""Completion and failure notices: SNS -> the app's SQS queue (raw delivery) -> Notice objects."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from backend import aws
from backend.aws import explain
from backend.config import Settings
from backend.errors import CsvDropError

_MISSING_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class NoticeError(CsvDropError, RuntimeError):
    """Notices cannot be read; the message says why and what to do."""


class QueueMissing(NoticeError):
    pass


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


class NoticeReader:
    """Reads and deletes notices from the app's queue. Not thread-safe: one reader per worker."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._sqs = client or aws.client(settings, "sqs", timeout_s=5, retries=1)
        self._queue_url: str | None = None

    def queue_url(self) -> str:
        if self._queue_url is None:
            try:
                self._queue_url = str(self._sqs.get_queue_url(QueueName=self.settings.queue_name)["QueueUrl"])
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc, "does not exist", "create") from exc
        return self._queue_url

    def _error(self, exc: Exception, missing: str, verb: str) -> NoticeError:
        """The user-facing error for a failed SQS call: a missing queue says how to get it back."""
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING_QUEUE:
            return QueueMissing(
                f"The notices queue '{self.settings.queue_name}' {missing}. "
                f"Run 'Set up environment' (csvdrop setup) to {verb} it."
            )
        return NoticeError(explain(exc, self.settings))

    def receive(self, wait_seconds: int = 1, max_messages: int = 10) -> list[Notice]:
        url = self.queue_url()
        try:
            response = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["SentTimestamp"],
            )
        except (ClientError, BotoCoreError) as exc:
            self._queue_url = None
            raise self._error(exc, "was deleted", "recreate") from exc
        messages = response.get("Messages", [])
        notices = [n for n in (parse_notice(m) for m in messages) if n is not None]
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            try:
                self._sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            except (ClientError, BotoCoreError):
                pass  # undeleted messages come back after the visibility timeout; the app dedups by id
        return sorted(notices, key=lambda n: n.sent_at, reverse=True)

    def close(self) -> None:
        self._sqs.close()
