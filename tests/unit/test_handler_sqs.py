"""The Lambda handler's queue mode (SQS batches of S3 notifications) and its lost-object marking, with fake
S3, SNS and writer (the store's own side of a batch runs against MariaDB in
tests/integration/test_store_writer_batch.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lambda_loader import load_lambda_module

handler = load_lambda_module("handler")
store_writer = load_lambda_module("store_writer")

TOPIC = "arn:aws:sns:us-east-1:000000000000:csvdrop-test"
CSV = b"id,name\n1,a\n2,b\n"


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeS3:
    """Objects by key; a key in ``denied`` answers every read with AccessDenied."""

    def __init__(self, objects: dict[str, bytes], denied: tuple[str, ...] = ()) -> None:
        self.objects = objects
        self.denied = denied
        self.reads: list[str] = []

    def get_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None) -> dict[str, Any]:
        self.reads.append(Key)
        if Key in self.denied:
            raise _client_error("AccessDenied", "GetObject")
        if Key not in self.objects:
            raise _client_error("NoSuchKey", "GetObject")
        data = self.objects[Key]
        return {
            "Body": io.BytesIO(data),
            "ContentLength": len(data),
            "ETag": f'"etag-{Key}"',
            "LastModified": dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC),
        }

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise _client_error("404", "HeadObject")
        return {"ContentLength": len(self.objects[Key])}


class FakeWriter(store_writer.Writer):  # type: ignore[name-defined]  # the lambda folder is loaded by path
    """Stores in memory; a record whose key is in ``refuse`` is refused (as a trigger or constraint would),
    unless it is a FAILED record. ``down`` makes every call fail as an unreachable database does."""

    def __init__(self, refuse: tuple[str, ...] = (), down: bool = False) -> None:
        self.refuse = refuse
        self.down = down
        self.batches: list[list[dict[str, Any]]] = []
        self.missing: list[tuple[str, str]] = []
        self.live: set[tuple[str, str]] = set()

    def upsert_many(self, records: list[Mapping[str, Any]], *, reprocess: bool = False) -> list[bool | Exception]:
        if self.down:
            raise store_writer.StoreWriteError("cannot connect to the metadata database csvdrop at db:3306")
        self.batches.append([dict(r) for r in records])
        out: list[bool | Exception] = []
        for record in records:
            if record["key"] in self.refuse and record["status"] != "FAILED":
                out.append(store_writer.StoreWriteError(f"storing metadata for {record['key']} failed: refused"))
            else:
                self.live.add((record["bucket"], record["key"]))
                out.append(True)
        return out

    def mark_missing(self, bucket: str, key: str) -> bool:
        self.missing.append((bucket, key))
        return (bucket, key) in self.live


class FakeSns:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.published: list[dict[str, Any]] = []

    def publish_batch(self, *, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]) -> dict[str, Any]:
        assert TopicArn == TOPIC
        self.batches.append(PublishBatchRequestEntries)
        return {"Successful": [{"Id": e["Id"], "MessageId": "m"} for e in PublishBatchRequestEntries], "Failed": []}

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.published.append(kwargs)
        return {"MessageId": "m"}


@pytest.fixture()
def fakes(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeS3, FakeWriter, FakeSns]:
    s3, writer, sns = FakeS3({}), FakeWriter(), FakeSns()
    monkeypatch.setitem(handler._clients, "s3", s3)
    monkeypatch.setitem(handler._clients, "sns", sns)
    monkeypatch.setattr(handler, "_writer", writer)
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    monkeypatch.delenv("MAX_RECEIVES", raising=False)
    return s3, writer, sns


def s3_record(key: str, name: str = "ObjectCreated:Put", bucket: str = "bkt") -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": name,
        "eventTime": "2026-11-25T21:00:01.000Z",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": key.replace(" ", "+"), "size": 10, "eTag": f"etag-{key}", "sequencer": "0A"},
        },
    }


def message(message_id: str, *records: dict[str, Any], receives: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "eventSource": "aws:sqs",
        "body": json.dumps({"Records": list(records)}),
        "attributes": {"ApproximateReceiveCount": str(receives)},
    }


def stored_keys(writer: FakeWriter) -> list[tuple[str, str]]:
    return [(r["key"], r["status"]) for batch in writer.batches for r in batch]


def test_a_poison_record_fails_only_its_own_message(fakes: tuple[FakeS3, FakeWriter, FakeSns]) -> None:
    s3, writer, sns = fakes
    s3.objects.update({"in/a.csv": CSV, "in/poison.csv": CSV, "in/b c.csv": CSV, "in/empty.csv": b""})
    writer.refuse = ("in/poison.csv",)
    event = {
        "Records": [
            message("m-1", s3_record("in/a.csv")),
            message("m-2", s3_record("in/poison.csv")),
            message("m-3", s3_record("in/b c.csv"), s3_record("in/empty.csv")),
        ]
    }
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    # One store call for the whole batch; the non-CSV is a FAILED record, stored: a success.
    assert stored_keys(writer) == [
        ("in/a.csv", "PROCESSED"),
        ("in/poison.csv", "PROCESSED"),
        ("in/b c.csv", "PROCESSED"),
        ("in/empty.csv", "FAILED"),
    ]
    # One PublishBatch with the three stored records' notices, none for the refused one.
    (entries,) = sns.batches
    assert [json.loads(json.loads(e["Message"])["default"])["key"] for e in entries] == [
        "in/a.csv",
        "in/b c.csv",
        "in/empty.csv",
    ]
    assert [e["Subject"] for e in entries] == [
        "CSV processed: a.csv",
        "CSV processed: b c.csv",
        "CSV FAILED: empty.csv",
    ]
    assert sns.published == []


def test_notice_entries_match_single_publish_and_are_chunked_by_ten(
    fakes: tuple[FakeS3, FakeWriter, FakeSns],
) -> None:
    s3, writer, sns = fakes
    keys = [f"in/f{i:02}.csv" for i in range(23)]
    s3.objects.update(dict.fromkeys(keys, CSV))
    event = {"Records": [message(f"m-{i}", s3_record(k)) for i, k in enumerate(keys)]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert [len(b) for b in sns.batches] == [10, 10, 3]
    entries = [e for b in sns.batches for e in b]
    assert len({e["Id"] for e in entries}) == 23
    assert [json.loads(json.loads(e["Message"])["default"])["key"] for e in entries] == keys
    # Each entry carries what a single Publish of the same record carries.
    record = writer.batches[0][0]
    handler.publish_notice(record)
    (single,) = sns.published
    assert {k: v for k, v in entries[0].items() if k != "Id"} == {k: v for k, v in single.items() if k != "TopicArn"}
    assert entries[0]["MessageStructure"] == "json"
    assert set(entries[0]["MessageAttributes"]) == {"status", "warnings_count", "bucket", "file_extension"}


def test_s3_test_event_is_ignored(fakes: tuple[FakeS3, FakeWriter, FakeSns]) -> None:
    s3, writer, sns = fakes
    body = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-25T21:00:00.000Z", "Bucket": "bkt"}
    event = {"Records": [{"messageId": "t-1", "eventSource": "aws:sqs", "body": json.dumps(body), "attributes": {}}]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert (s3.reads, writer.batches, sns.batches) == ([], [], [])


def test_last_attempt_stores_a_failed_record_and_still_reports_the_message(
    fakes: tuple[FakeS3, FakeWriter, FakeSns],
) -> None:
    s3, writer, sns = fakes
    s3.objects.update({"in/poison.csv": CSV, "in/ok.csv": CSV})
    writer.refuse = ("in/poison.csv",)
    event = {
        "Records": [message("m-1", s3_record("in/poison.csv"), receives=3), message("m-2", s3_record("in/ok.csv"))]
    }
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    first, second = writer.batches
    assert [r["key"] for r in first] == ["in/poison.csv", "in/ok.csv"]
    (failed,) = second  # in a store call (a transaction) of its own
    assert failed["key"] == "in/poison.csv" and failed["status"] == "FAILED"
    assert failed["error"] == "Could not be stored after 3 attempts: storing metadata for in/poison.csv failed: refused"
    assert failed["sequencer"] == first[0]["sequencer"] and failed["etag"] == first[0]["etag"]
    assert "columns" not in failed and failed["warnings"] == []  # the profile the store refused is not kept
    subjects = [e["Subject"] for b in sns.batches for e in b]
    assert subjects == ["CSV processed: ok.csv", "CSV FAILED: poison.csv"]


def test_max_receives_comes_from_the_environment(
    fakes: tuple[FakeS3, FakeWriter, FakeSns], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, writer, _ = fakes
    s3.objects["in/poison.csv"] = CSV
    writer.refuse = ("in/poison.csv",)
    monkeypatch.setenv("MAX_RECEIVES", "5")
    event = {"Records": [message("m-1", s3_record("in/poison.csv"), receives=3)]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert len(writer.batches) == 1  # not the last delivery yet: no FAILED record
    event = {"Records": [message("m-1", s3_record("in/poison.csv"), receives=5)]}
    handler.lambda_handler(event, None)
    assert writer.batches[-1][0]["error"].startswith("Could not be stored after 5 attempts: ")


def test_an_unreadable_object_fails_its_message_and_is_failed_on_the_last_attempt(
    fakes: tuple[FakeS3, FakeWriter, FakeSns],
) -> None:
    s3, writer, _ = fakes
    s3.objects.update({"in/locked.csv": CSV, "in/ok.csv": CSV})
    s3.denied = ("in/locked.csv",)
    event = {"Records": [message("m-1", s3_record("in/locked.csv")), message("m-2", s3_record("in/ok.csv"))]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert stored_keys(writer) == [("in/ok.csv", "PROCESSED")]
    event = {"Records": [message("m-1", s3_record("in/locked.csv"), receives=3)]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    failed = writer.batches[-1][0]
    assert (failed["key"], failed["status"]) == ("in/locked.csv", "FAILED")
    assert failed["error"].startswith("Could not be stored after 3 attempts: reading it from S3 failed: ")
    assert "AccessDenied" in failed["error"]
    assert failed["etag"] == "etag-in/locked.csv" and failed["size_bytes"] == 10


def test_an_unreachable_store_fails_the_whole_batch(fakes: tuple[FakeS3, FakeWriter, FakeSns]) -> None:
    s3, writer, sns = fakes
    s3.objects.update({"in/a.csv": CSV, "in/b.csv": CSV})
    writer.down = True
    event = {"Records": [message("m-1", s3_record("in/a.csv")), message("m-2", s3_record("in/b.csv"), receives=3)]}
    with pytest.raises(store_writer.StoreWriteError, match="cannot connect"):
        handler.lambda_handler(event, None)
    assert sns.batches == []


def test_skips_folders_and_replaced_objects_and_fails_a_body_that_is_not_a_notification(
    fakes: tuple[FakeS3, FakeWriter, FakeSns],
) -> None:
    s3, writer, sns = fakes
    event = {
        "Records": [
            message("m-1", s3_record("in/folder/"), s3_record("in/gone.csv")),  # gone: replaced or deleted since
            {"messageId": "m-2", "eventSource": "aws:sqs", "body": "not json", "attributes": {}},
            {"messageId": "m-3", "eventSource": "aws:sqs", "body": '{"hello": 1}', "attributes": {}},
        ]
    }
    assert handler.lambda_handler(event, None) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]
    }
    assert s3.reads == ["in/gone.csv"]
    assert (writer.batches, sns.batches) == ([], [])


def test_removals_in_a_batch_use_the_deletion_path(
    fakes: tuple[FakeS3, FakeWriter, FakeSns], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, writer, _ = fakes
    s3.objects["in/new.csv"] = CSV
    removed: list[str] = []

    def remove(bucket: str, key: str, **kw: Any) -> dict[str, Any]:
        if key == "in/broken.csv":
            raise store_writer.StoreWriteError("storing metadata for s3://bkt/in/broken.csv failed: x")
        removed.append(key)
        return {}

    monkeypatch.setattr(handler, "remove_object", remove)
    event = {
        "Records": [
            message("m-1", s3_record("in/old.csv", "ObjectRemoved:Delete"), s3_record("in/new.csv")),
            message("m-2", s3_record("in/broken.csv", "ObjectRemoved:Delete")),
        ]
    }
    assert handler.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert removed == ["in/old.csv"]
    assert stored_keys(writer) == [("in/new.csv", "PROCESSED")]


def test_sns_wrapped_notifications_are_unwrapped(fakes: tuple[FakeS3, FakeWriter, FakeSns]) -> None:
    s3, writer, _ = fakes
    s3.objects["in/a.csv"] = CSV
    body = {"Type": "Notification", "Message": json.dumps({"Records": [s3_record("in/a.csv")]})}
    event = {"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": json.dumps(body), "attributes": {}}]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert stored_keys(writer) == [("in/a.csv", "PROCESSED")]


# ---------------------------------------------------------------------------------------------- lost objects
def test_missing_objects_are_marked_and_present_ones_left_alone(fakes: tuple[FakeS3, FakeWriter, FakeSns]) -> None:
    s3, writer, sns = fakes
    s3.objects["in/here.csv"] = CSV
    writer.live = {("bkt", "in/lost.csv")}
    event = {
        "csvdrop_missing": [
            {"bucket": "bkt", "key": "in/here.csv"},
            {"bucket": "bkt", "key": "in/lost.csv"},
            {"bucket": "bkt", "key": "in/never-recorded.csv"},
        ]
    }
    assert handler.lambda_handler(event, None) == {
        "results": [
            {"bucket": "bkt", "key": "in/here.csv", "missing": False, "marked": False},
            {"bucket": "bkt", "key": "in/lost.csv", "missing": True, "marked": True},
            {"bucket": "bkt", "key": "in/never-recorded.csv", "missing": True, "marked": False},
        ]
    }
    assert writer.missing == [("bkt", "in/lost.csv"), ("bkt", "in/never-recorded.csv")]
    assert (sns.batches, sns.published) == ([], [])


# ---------------------------------------------------------------------------------------------- base writer
class _LoopWriter(store_writer.Writer):  # type: ignore[name-defined]
    def upsert(self, record: Mapping[str, Any], *, reprocess: bool = False) -> bool:
        if record["key"] == "bad":
            raise ValueError("record field 'sequencer' is required")
        if record["key"] == "down":
            raise store_writer.StoreWriteError("cannot connect")
        return record["key"] == "new"


def test_the_default_upsert_many_isolates_bad_records_but_not_outages() -> None:
    writer = _LoopWriter()
    results = writer.upsert_many([{"key": "new"}, {"key": "bad"}, {"key": "dup"}])
    assert results[0] is True and results[2] is False
    assert isinstance(results[1], ValueError)
    with pytest.raises(store_writer.StoreWriteError):
        writer.upsert_many([{"key": "new"}, {"key": "down"}])


class FakeSqs:
    def __init__(self) -> None:
        self.changes: list[tuple[str, list[dict[str, Any]]]] = []

    def get_queue_url(self, *, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, Any]:
        return {"QueueUrl": f"https://sqs.example/{QueueOwnerAWSAccountId}/{QueueName}"}

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.changes.append((QueueUrl, Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_failed_messages_come_back_after_seconds_and_on_the_last_delivery_at_once(
    fakes: tuple[FakeS3, FakeWriter, FakeSns], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not after the queue's visibility timeout (minutes): 5 s, 10 s ...; the last delivery's message at once,
    on its way to the dead-letter queue. A stored message is left alone (the poller deletes it)."""
    s3, writer, _sns = fakes
    sqs = FakeSqs()
    monkeypatch.setitem(handler._clients, "sqs", sqs)
    monkeypatch.setattr(handler, "_queue_urls", {})
    s3.objects.update({"in/ok.csv": CSV, "in/p1.csv": CSV, "in/p2.csv": CSV, "in/p3.csv": CSV})
    writer.refuse = ("in/p1.csv", "in/p2.csv", "in/p3.csv")
    arn = "arn:aws:sqs:us-east-1:000000000000:process_csv-ingest"
    messages = [
        message("ok", s3_record("in/ok.csv")),
        message("p1", s3_record("in/p1.csv"), receives=1),
        message("p2", s3_record("in/p2.csv"), receives=2),
        message("p3", s3_record("in/p3.csv"), receives=3),
    ]
    for m in messages:
        m.update(receiptHandle=f"rh-{m['messageId']}", eventSourceARN=arn)
    answer = handler.lambda_handler({"Records": messages}, None)
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == ["p1", "p2", "p3"]
    assert sqs.changes == [
        (
            "https://sqs.example/000000000000/process_csv-ingest",
            [
                {"Id": "0", "ReceiptHandle": "rh-p1", "VisibilityTimeout": 5},
                {"Id": "1", "ReceiptHandle": "rh-p2", "VisibilityTimeout": 10},
                {"Id": "2", "ReceiptHandle": "rh-p3", "VisibilityTimeout": 0},
            ],
        )
    ]
    writer.down = True  # the whole batch fails: every message comes back soon
    sqs.changes.clear()
    with pytest.raises(store_writer.StoreWriteError):
        handler.lambda_handler({"Records": messages[:2]}, None)
    assert [[e["VisibilityTimeout"] for e in entries] for _url, entries in sqs.changes] == [[5, 5]]


class MeetingS3(FakeS3):
    """Each read waits until `party` reads are under way at once (a barrier): a batch whose reads ran one
    after another would never get past the first. Counts the reads under way at most."""

    def __init__(self, objects: dict[str, bytes], party: int) -> None:
        super().__init__(objects)
        self.barrier = threading.Barrier(party, timeout=10)
        self.lock = threading.Lock()
        self.under_way = self.most_at_once = 0

    def get_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None) -> dict[str, Any]:
        with self.lock:
            self.under_way += 1
            self.most_at_once = max(self.most_at_once, self.under_way)
        try:
            self.barrier.wait()
            return super().get_object(Bucket=Bucket, Key=Key, IfMatch=IfMatch)
        finally:
            with self.lock:
                self.under_way -= 1


def test_a_batchs_reads_run_ahead_of_its_profiling(
    fakes: tuple[FakeS3, FakeWriter, FakeSns], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, writer, _ = fakes
    keys = ["in/a.csv", "in/b.csv", "in/c.csv"]
    s3 = MeetingS3(dict.fromkeys(keys, CSV), party=3)
    monkeypatch.setitem(handler._clients, "s3", s3)
    event = {"Records": [message(f"m-{i}", s3_record(key)) for i, key in enumerate(keys)]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert s3.most_at_once == 3
    assert stored_keys(writer) == [(key, "PROCESSED") for key in keys]  # stored in the batch's order


def test_reads_ahead_hold_at_most_the_byte_budget(
    fakes: tuple[FakeS3, FakeWriter, FakeSns], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, writer, _ = fakes
    keys = [f"in/f{i}.csv" for i in range(5)]
    s3 = MeetingS3(dict.fromkeys(keys, CSV), party=1)  # no waiting: only the count matters
    monkeypatch.setitem(handler._clients, "s3", s3)
    monkeypatch.setattr(handler, "READ_AHEAD_BYTES", 10)  # each event says 10 bytes: one read at a time
    event = {"Records": [message(f"m-{i}", s3_record(key)) for i, key in enumerate(keys)]}
    assert handler.lambda_handler(event, None) == {"batchItemFailures": []}
    assert s3.most_at_once == 1
    assert sorted(s3.reads) == keys
    assert stored_keys(writer) == [(key, "PROCESSED") for key in keys]


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 12 Oct 2009 17:50:00 GMT",  # S3's LastModified header
        "Mon, 30 Nov 2026 03:05:59 GMT",
        "2026-11-30T03:05:59.123Z",  # ISO 8601, as XML and JSON bodies carry timestamps
        "2026-11-30T03:05:59+00:00",
        1764471959.5,  # epoch seconds (JSON protocols)
        "1764471959",
    ],
)
def test_the_functions_timestamp_parser_agrees_with_botocores(value: Any) -> None:
    from botocore.utils import parse_timestamp

    ours, theirs = handler._parse_timestamp(value), parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() == dt.timedelta(0)
    assert handler.ordering_token("", ours) == handler.ordering_token("", theirs)


def test_the_functions_s3_client_reads_last_modified_with_its_timestamp_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.awsrequest import AWSResponse

    seen: list[Any] = []
    parse = handler._parse_timestamp

    def parse_and_note(value: Any) -> dt.datetime:
        seen.append(value)
        return parse(value)

    monkeypatch.setattr(handler, "_parse_timestamp", parse_and_note)

    class Body:
        def stream(self, **_: Any) -> Any:
            yield b"a,b"

        def read(self, *_: Any) -> bytes:
            return b"a,b"

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = {"Last-Modified": "Mon, 30 Nov 2026 03:05:59 GMT", "Content-Length": "3", "ETag": '"e"'}
        return AWSResponse(request.url, 200, headers, Body())

    client = handler._session().client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y", config=handler._CLIENT_CONFIG
    )
    client.meta.events.register("before-send", answer)
    got = client.get_object(Bucket="b", Key="k.csv")
    assert got["LastModified"] == dt.datetime(2026, 11, 30, 3, 5, 59, tzinfo=dt.UTC)
    assert seen == ["Mon, 30 Nov 2026 03:05:59 GMT"]
