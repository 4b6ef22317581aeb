"""The queue trigger on the real stack: S3 -> SQS ingest queue -> the function in batches, and back.

One environment of its own, set up with trigger="queue" and a 6 s visibility timeout (the function's timeout
too: the queue's must not be shorter), so a message the function gives back is delivered again within seconds.
Files are put straight into S3 with boto3; records are read from MySQL as the admin; notices from a reader
queue of the test's own, subscribed before the first file.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pipeline_helpers import mysql_row, wait_for_row
from testsupport import NotYet, mysql_admin, own_environment, set_up, wait_until

from backend import aws
from backend.config import Settings
from backend.environment import environment_status
from backend.notices import Notice, NoticeReader, ReaderIdentity
from backend.provisioning import (
    NOTIFICATION_IDS,
    QUEUE_NOTIFICATION_ID,
    dead_letter_queue_name,
    ingest_queue_name,
    teardown_steps,
)
from backend.steps import run_steps

pytestmark = [pytest.mark.stack]

VISIBILITY_S = 6
DISABLED_S = 30
FILES = 100
POISON = "poison.csv"


@pytest.fixture(scope="module")
def queued(stack: Settings) -> Settings:
    settings = own_environment(
        stack,
        "q" + uuid.uuid4().hex[:6],
        bucket_prefix="csvdrop-queue-",
        trigger="queue",
        queue_visibility_timeout_s=VISIBILITY_S,
        lambda_timeout_s=VISIBILITY_S,
    )
    set_up(settings)
    return settings


@pytest.fixture
def reader(queued: Settings) -> Iterator[NoticeReader]:
    notices = NoticeReader(queued, identity=ReaderIdentity("test", "queue-trigger", "app", uuid.uuid4().hex[:8]))
    notices.open()  # subscribed before the first file is put
    yield notices
    notices.close()


# ------------------------------------------------------------------------------------------ helpers
def _put(settings: Settings, keys: list[str]) -> None:
    s3 = aws.client(settings, "s3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=settings.bucket, Key=k, Body=f"k,v\n{k},1\n".encode()), keys))


def _queue_url(settings: Settings, name: str) -> str | None:
    sqs = aws.client(settings, "sqs")
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        return None


def _messages_in(settings: Settings, name: str) -> int:
    url = _queue_url(settings, name)
    assert url is not None, f"queue {name} is missing"
    counts = aws.client(settings, "sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in counts.values())


def _mapping(settings: Settings) -> dict[str, Any]:
    mappings = aws.client(settings, "lambda").list_event_source_mappings(FunctionName=settings.function_name)
    (mapping,) = mappings["EventSourceMappings"]
    return dict(mapping)


def _set_mapping(settings: Settings, enabled: bool) -> None:
    """Enables or disables the mapping and waits until its poller has stopped or started."""
    lam = aws.client(settings, "lambda")
    uuid_ = _mapping(settings)["UUID"]
    lam.update_event_source_mapping(UUID=uuid_, Enabled=enabled)
    want = "Enabled" if enabled else "Disabled"

    def settled() -> str | NotYet:
        state = str(lam.get_event_source_mapping(UUID=uuid_)["State"])
        return state if state == want else NotYet(state)

    wait_until(settled, 30, f"the mapping to be {want}")


def _notices_once_drained(settings: Settings, reader: NoticeReader, keys: list[str]) -> Counter[str]:
    """The notices of these keys, read once the ingest queue is empty (nothing is left to process, so no notice
    is still to come but the ones SNS is delivering) and the reader queue answered empty."""
    wait_until(
        lambda: True if _messages_in(settings, ingest_queue_name(settings)) == 0 else NotYet("messages left"),
        90,
        "the ingest queue to be empty",
    )
    seen: list[Notice] = []

    def all_read() -> bool | NotYet:
        batch = reader.receive(wait_seconds=2)
        seen.extend(batch)
        have = {n.key for n in seen}
        return True if not batch and have >= set(keys) else NotYet(f"{len(have & set(keys))} of {len(keys)}")

    wait_until(all_read, 60, "every notice")
    return Counter(n.key for n in seen if n.key in set(keys))


def _notification(settings: Settings) -> dict[str, Any]:
    current = aws.client(settings, "s3").get_bucket_notification_configuration(Bucket=settings.bucket)
    return dict(current)


# ------------------------------------------------------------------------------------------ tests
def test_setup_wires_s3_to_the_queue_to_the_function_and_back(queued: Settings, reader: NoticeReader) -> None:
    sqs, lam = aws.client(queued, "sqs"), aws.client(queued, "lambda")
    notification = _notification(queued)
    (config,) = notification["QueueConfigurations"]
    assert config["Id"] == QUEUE_NOTIFICATION_ID and config["QueueArn"].endswith(f":{ingest_queue_name(queued)}")
    assert sorted(config["Events"]) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert not [c for c in notification.get("LambdaFunctionConfigurations", []) if c["Id"] in NOTIFICATION_IDS]
    mapping = _mapping(queued)
    assert mapping["State"] == "Enabled" and mapping["EventSourceArn"] == config["QueueArn"]
    assert (mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (10, ["ReportBatchItemFailures"])
    attributes = sqs.get_queue_attributes(
        QueueUrl=_queue_url(queued, ingest_queue_name(queued)), AttributeNames=["All"]
    )
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 3 and redrive["deadLetterTargetArn"].endswith("-ingest-dlq")
    assert attributes["Attributes"]["VisibilityTimeout"] == str(VISIBILITY_S)
    env = lam.get_function_configuration(FunctionName=queued.function_name)["Environment"]["Variables"]
    assert env["MAX_RECEIVES"] == "3"
    assert environment_status(queued)["trigger"].ok

    _put(queued, ["queued/first.csv"])
    assert wait_for_row(queued, "queued/first.csv")["status"] == "PROCESSED"
    assert _notices_once_drained(queued, reader, ["queued/first.csv"]) == {"queued/first.csv": 1}

    direct = queued.replace(trigger="direct")
    set_up(direct)
    notification = _notification(direct)
    assert not notification.get("QueueConfigurations")
    assert [c["Id"] for c in notification["LambdaFunctionConfigurations"]] == ["csvdrop-process-csv"]
    assert lam.list_event_source_mappings(FunctionName=queued.function_name)["EventSourceMappings"] == []
    assert _queue_url(direct, ingest_queue_name(direct)) is None  # it was empty: removed with its mapping
    light = environment_status(direct)["trigger"]
    assert light.ok, light.detail
    _put(direct, ["direct/second.csv"])
    assert wait_for_row(direct, "direct/second.csv")["status"] == "PROCESSED"

    set_up(queued)
    light = environment_status(queued)["trigger"]
    assert light.ok and "batches of 10" in light.detail, light.detail
    _put(queued, ["queued/third.csv"])
    assert wait_for_row(queued, "queued/third.csv")["status"] == "PROCESSED"


def test_uploads_wait_in_the_queue_while_the_function_cannot_read_it(queued: Settings, reader: NoticeReader) -> None:
    keys = [f"outage/file-{i:03d}.csv" for i in range(FILES)]
    _set_mapping(queued, enabled=False)
    disabled_at = time.monotonic()
    _put(queued, keys)
    time.sleep(max(0.0, DISABLED_S - (time.monotonic() - disabled_at)))  # the outage lasts its 30 s
    assert [k for k in keys if mysql_row(queued, k) is not None] == []  # held back, not processed
    assert _messages_in(queued, ingest_queue_name(queued)) == FILES
    _set_mapping(queued, enabled=True)

    for key in keys:
        assert wait_for_row(queued, key, timeout=120)["status"] == "PROCESSED"
    assert _notices_once_drained(queued, reader, keys) == dict.fromkeys(keys, 1)
    assert _messages_in(queued, dead_letter_queue_name(queued)) == 0


@pytest.fixture
def refusing_poison(queued: Settings) -> Iterator[None]:
    """The database refuses poison.csv's PROCESSED record (a real refusal: a trigger SIGNALs), never a FAILED one."""
    condition = f"NEW.file_name = '{POISON}' AND NEW.status = 'PROCESSED'"
    conn = mysql_admin(queued)
    try:
        with conn.cursor() as cur:
            for when in ("INSERT", "UPDATE"):
                cur.execute(
                    f"CREATE TRIGGER refuse_poison_{when.lower()} BEFORE {when} ON csv_metadata FOR EACH ROW "
                    f"BEGIN IF {condition} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison refused by the "
                    "test trigger'; END IF; END"
                )
        yield
    finally:
        with conn.cursor() as cur:
            for when in ("insert", "update"):
                cur.execute(f"DROP TRIGGER IF EXISTS refuse_poison_{when}")
        conn.close()


def test_a_file_the_database_refuses_ends_in_the_dlq_and_does_not_hold_up_its_batch(
    queued: Settings, reader: NoticeReader, refusing_poison: None
) -> None:
    good = [f"mixed/good-{i}.csv" for i in range(5)]
    poison = f"mixed/{POISON}"
    _set_mapping(queued, enabled=False)  # so the poison and the good files are read in one batch
    _put(queued, [poison, *good])
    _set_mapping(queued, enabled=True)

    rows = {key: wait_for_row(queued, key) for key in good}
    assert {row["status"] for row in rows.values()} == {"PROCESSED"}
    failed = wait_for_row(queued, poison, timeout=90)  # written on the last of its 3 deliveries
    assert failed["status"] == "FAILED"
    assert "after 3 attempts" in failed["error"] and "poison refused by the test trigger" in failed["error"]
    # Revisions are committed in order: the good files were stored before the poison's last attempt.
    assert max(row["revision"] for row in rows.values()) < failed["revision"]

    dlq = dead_letter_queue_name(queued)
    wait_until(lambda: True if _messages_in(queued, dlq) == 1 else NotYet("not yet"), 60, "the poison in the DLQ")
    sqs = aws.client(queued, "sqs")
    (message,) = sqs.receive_message(QueueUrl=_queue_url(queued, dlq), WaitTimeSeconds=2)["Messages"]
    (record,) = json.loads(message["Body"])["Records"]
    assert record["s3"]["object"]["key"] == poison
    assert _notices_once_drained(queued, reader, good) == dict.fromkeys(good, 1)


def test_teardown_removes_the_mapping_and_both_queues(queued: Settings) -> None:
    outcome = run_steps(teardown_steps(queued))
    assert outcome.ok, outcome.failed
    assert _queue_url(queued, ingest_queue_name(queued)) is None
    assert _queue_url(queued, dead_letter_queue_name(queued)) is None
    mappings = aws.client(queued, "lambda").list_event_source_mappings()["EventSourceMappings"]
    assert [m for m in mappings if m["EventSourceArn"].endswith(f":{ingest_queue_name(queued)}")] == []
