"""The queue trigger's builders: the bucket notification, the ingest queue's attributes and policy, the event
source mapping, the function's role and environment, and the trigger light."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from testsupport import isolated_settings

from backend.config import Settings
from backend.environment import trigger_health
from backend.provisioning import (
    NOTIFICATION_ID,
    QUEUE_NOTIFICATION_ID,
    Context,
    dead_letter_queue_name,
    function_environment,
    ingest_queue_attributes,
    ingest_queue_name,
    lambda_policy,
    mapping_changes,
    queue_attributes_differ,
    queue_trigger_problem,
    same_notifications,
    setup_steps,
    trigger_title,
    wanted_mapping,
    wanted_notifications,
    wanted_queue_notifications,
)

ACCOUNT = "000000000000"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:process_csv-ingest"
DLQ = f"arn:aws:sqs:us-east-1:{ACCOUNT}:process_csv-ingest-dlq"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:process_csv"


@pytest.fixture
def queued(tmp_path: Path) -> Settings:
    return isolated_settings(tmp_path, trigger="queue", key_prefix="incoming/")


def _context(settings: Settings) -> Context:
    return Context(
        settings,
        facts={
            "account": ACCOUNT,
            "topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:csv-metadata-notices",
            "writer_secret_arn": "arn:aws:secretsmanager:us-east-1:0:secret:w",
        },
    )


def test_queue_names_follow_the_function(queued: Settings) -> None:
    assert (ingest_queue_name(queued), dead_letter_queue_name(queued)) == (
        "process_csv-ingest",
        "process_csv-ingest-dlq",
    )


def test_the_queue_notification_has_the_direct_ones_events_and_prefix(queued: Settings) -> None:
    (config,) = wanted_queue_notifications(queued, QUEUE)
    (direct,) = wanted_notifications(queued, FUNCTION)
    assert config["Id"] == QUEUE_NOTIFICATION_ID and config["QueueArn"] == QUEUE
    assert "LambdaFunctionArn" not in config
    assert config["Events"] == direct["Events"] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert config["Filter"] == direct["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}
    assert direct["Id"] == NOTIFICATION_ID  # the direct one is untouched by the queue's


def test_same_notifications_compares_the_target_of_either_kind(queued: Settings) -> None:
    want = wanted_queue_notifications(queued, QUEUE)
    as_s3_answers = [{**want[0], "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "incoming/"}]}}}]
    assert same_notifications(as_s3_answers, want)
    assert not same_notifications([{**want[0], "QueueArn": DLQ}], want)
    assert not same_notifications([], want)
    assert same_notifications([], [])


def test_the_ingest_queue_redrives_to_the_dlq_and_only_the_bucket_may_send(queued: Settings) -> None:
    attributes = ingest_queue_attributes(queued, ACCOUNT, QUEUE, DLQ)
    assert attributes["VisibilityTimeout"] == "360"  # 6 x the function's 60 s
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": DLQ, "maxReceiveCount": 3}
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == QUEUE
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-csv-bucket"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }


def test_queue_attribute_drift_reads_json_as_data(queued: Settings) -> None:
    want = ingest_queue_attributes(queued, ACCOUNT, QUEUE, DLQ)
    # As SQS answers: the count as a string, the policy re-serialised with other spacing, extra attributes.
    have = {
        **want,
        "RedrivePolicy": json.dumps({"maxReceiveCount": "3", "deadLetterTargetArn": DLQ}),
        "Policy": json.dumps(json.loads(want["Policy"]), indent=2),
        "QueueArn": QUEUE,
    }
    assert queue_attributes_differ(have, want) == []
    changed = ingest_queue_attributes(
        queued.replace(queue_max_receives=5, queue_visibility_timeout_s=90), ACCOUNT, QUEUE, DLQ
    )
    assert queue_attributes_differ(have, changed) == ["RedrivePolicy", "VisibilityTimeout"]
    assert queue_attributes_differ({}, want) == sorted(want)


def _mapping(**overrides: Any) -> dict[str, Any]:
    mapping = {
        "UUID": "u-1",
        "EventSourceArn": QUEUE,
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "State": "Enabled",
    }
    return {**mapping, **overrides}


def test_the_mapping_reports_item_failures_and_is_updated_only_where_it_drifted(queued: Settings) -> None:
    assert wanted_mapping(queued) == {
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Enabled": True,
    }
    assert mapping_changes(queued, _mapping()) == {}
    assert mapping_changes(queued, _mapping(State="Disabled")) == {"Enabled": True}
    assert mapping_changes(queued, _mapping(FunctionResponseTypes=[], BatchSize=5)) == {
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    wider = queued.replace(queue_batch_size=50, queue_batch_window_s=2)
    assert mapping_changes(wider, _mapping()) == {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 2}


def test_the_role_reads_the_ingest_queue_only_with_the_queue_trigger(queued: Settings) -> None:
    def ingest_statement(settings: Settings) -> list[dict[str, Any]]:
        return [s for s in lambda_policy(_context(settings))["Statement"] if s["Sid"] == "IngestQueue"]

    (statement,) = ingest_statement(queued)
    assert statement["Resource"] == QUEUE
    assert sorted(statement["Action"]) == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
    ]
    assert ingest_statement(queued.replace(trigger="direct")) == []


def test_the_function_is_told_the_attempts_before_the_dlq_and_not_changed_by_a_switch(queued: Settings) -> None:
    env = function_environment(_context(queued.replace(queue_max_receives=4)))
    assert env["MAX_RECEIVES"] == "4"
    # Switching triggers must not update the function (LocalStack drops events during a version switch).
    assert function_environment(_context(queued.replace(trigger="direct"))) == function_environment(_context(queued))


def test_the_trigger_step_says_which_trigger(queued: Settings) -> None:
    assert trigger_title(queued) == "S3 -> SQS -> Lambda (batches of 10)"
    assert trigger_title(queued.replace(trigger="direct")) == "S3 -> Lambda trigger for every upload"
    titles = {step.name: step.title for step in setup_steps(queued.replace(queue_batch_size=4))}
    assert titles["trigger"] == "S3 -> SQS -> Lambda (batches of 4)"


def _notification(settings: Settings, queue: str = QUEUE) -> dict[str, Any]:
    other = {"Id": "someone-else", "QueueArn": "arn:aws:sqs:us-east-1:0:theirs", "Events": ["s3:ObjectCreated:*"]}
    return {"QueueConfigurations": [other, *wanted_queue_notifications(settings, queue)]}


def test_the_trigger_light_needs_the_queue_notification_and_an_enabled_mapping(queued: Settings) -> None:
    assert queue_trigger_problem(queued, _notification(queued), [_mapping()]) is None
    health = trigger_health(queued, _notification(queued), [_mapping()])
    assert health.ok and "process_csv-ingest -> process_csv (batches of 10)" in health.detail

    missing = trigger_health(queued, {"LambdaFunctionConfigurations": wanted_notifications(queued, FUNCTION)}, [])
    assert not missing.ok and "not sent to the ingest queue" in missing.detail
    elsewhere = queue_trigger_problem(queued, _notification(queued, DLQ), [_mapping()])
    assert elsewhere == "uploads go to another queue (process_csv-ingest-dlq): run Set up environment"
    no_prefix = _notification(queued.replace(key_prefix=""))
    assert "only some uploads" in str(queue_trigger_problem(queued, no_prefix, [_mapping()]))
    assert "event source mapping is missing" in str(queue_trigger_problem(queued, _notification(queued), []))
    disabled = trigger_health(queued, _notification(queued), [_mapping(State="Disabled")])
    assert not disabled.ok and "is Disabled: uploads wait in the queue" in disabled.detail


def test_the_direct_trigger_light_is_unchanged(queued: Settings) -> None:
    direct = queued.replace(trigger="direct")
    assert trigger_health(direct, {"LambdaFunctionConfigurations": wanted_notifications(direct, FUNCTION)}).ok
    assert not trigger_health(direct, _notification(queued), [_mapping()]).ok
