"""Notice readers without a cloud: the queue-naming rule, the per-machine slots that keep a reader's queue across
restarts, and what opening a queue says (botocore Stubber at the boto3 boundary, no network)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from testsupport import isolated_settings

from backend import notices
from backend.config import Settings
from backend.notices import (
    NoticeError,
    NoticeReader,
    ReaderIdentity,
    ReaderKind,
    TopicMissing,
    desktop_reader,
    open_reader_queue,
    reader_queue_name,
    reader_queue_prefix,
)

SQS_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
ACCOUNT = "123456789012"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return isolated_settings(tmp_path, aws_endpoint="http://127.0.0.1:9", region="eu-west-1")


@pytest.fixture(autouse=True)
def _no_slot_left_behind() -> Iterator[None]:
    # Only this test's own slots count: the process may hold slots of windows other test modules opened.
    before = set(notices._SLOTS)
    yield
    left = set(notices._SLOTS) - before
    assert not left, f"a test left a reader slot claimed: {left}"


# ------------------------------------------------------------------------------------------ naming
def test_a_plain_name_says_whose_queue_it_is(settings: Settings) -> None:
    reader = ReaderIdentity("alice", "laptop", "app", "1a2b3c4d")
    assert reader_queue_name(settings, reader) == "csvdrop-app-notices-alice-laptop-app-1a2b3c4d"
    assert reader_queue_name(settings, ReaderIdentity("alice", "laptop", "cli", "1a2b3c4d")).endswith("-cli-1a2b3c4d")


def test_odd_and_long_parts_are_cleaned_and_cut_but_prefix_kind_and_id_stay_whole(settings: Settings) -> None:
    long = settings.replace(queue_name="csvdrop.notices for the finance team (prod) " + "x" * 60)
    reader = ReaderIdentity(
        "Jürgen Müller-Lüdenscheidt@CORP", "build-agent-07.ci.eu-central-1.compute.internal" * 2, "cli", "9f8e7d6c"
    )
    name = reader_queue_name(long, reader)
    assert SQS_NAME.fullmatch(name), name
    assert len(name) <= 80
    prefix = reader_queue_prefix(long)
    assert len(prefix) <= notices.PREFIX_MAX and name.startswith(prefix + "-J-rgen-M")
    assert name.endswith("-cli-9f8e7d6c")
    assert "--" not in name


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    queue_name=st.text(min_size=1, max_size=80),
    user=st.text(max_size=64),
    host=st.text(max_size=300),
    kind=st.sampled_from(["app", "cli"]),
    reader_id=st.text(min_size=1, max_size=20),
)
def test_every_name_is_a_valid_sqs_name_stable_and_distinct_per_reader(
    queue_name: str, user: str, host: str, kind: ReaderKind, reader_id: str
) -> None:
    s = Settings(queue_name=queue_name)
    reader = ReaderIdentity(user, host, kind, reader_id)
    name = reader_queue_name(s, reader)
    assert SQS_NAME.fullmatch(name), name
    assert name == reader_queue_name(s, ReaderIdentity(user, host, kind, reader_id))  # stable
    assert name.startswith(reader_queue_prefix(s) + "-")  # setup and teardown find it by this prefix
    other_kind: ReaderKind = "cli" if kind == "app" else "app"
    assert reader_queue_name(s, ReaderIdentity(user, host, other_kind, reader_id)) != name
    if notices.clean_name_part(reader_id)[:16]:
        another = ReaderIdentity(user, host, kind, "z" + notices.clean_name_part(reader_id)[:15] + "q")
        assert reader_queue_name(s, another) != name


# ------------------------------------------------------------------------------------------ slots
def test_a_reader_keeps_its_id_across_restarts_and_readers_in_one_process_share_it(settings: Settings) -> None:
    first = NoticeReader(settings, kind="app")
    same_process = NoticeReader(settings, kind="app")  # the window's next reader while the old one closes
    assert same_process.identity == first.identity
    assert first.queue_name == reader_queue_name(settings, first.identity)
    assert re.fullmatch(r"[0-9a-f]{8}", first.identity.id)
    cli = NoticeReader(settings, kind="cli")
    assert cli.identity.id != first.identity.id and cli.identity.kind == "cli"
    for reader in (first, same_process, cli):
        reader.close()
    first.close()  # closing twice is harmless

    again = NoticeReader(settings, kind="app")  # the window, restarted
    try:
        assert again.identity == first.identity
        assert desktop_reader(settings, "app") == first.identity  # what setup prepares
    finally:
        again.close()


HOLD_SLOT = textwrap.dedent(
    """
    import sys
    from backend.config import Settings
    from backend.notices import NoticeReader
    from pathlib import Path

    reader = NoticeReader(Settings(state_dir=Path(sys.argv[1])), kind="cli")
    print(reader.identity.id, flush=True)
    sys.stdin.readline()
    reader.close()
    """
)


def test_a_second_terminal_at_the_same_time_gets_a_queue_of_its_own(settings: Settings) -> None:
    """Two `csvdrop notices` on one machine: the second takes the next slot, so the two never split notices."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(settings.state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        held_id = holder.stdout.readline().strip()
        second = NoticeReader(settings, kind="cli")
        try:
            assert second.identity.id != held_id
            assert desktop_reader(settings, "cli") == ReaderIdentity(
                second.identity.user, second.identity.host, "cli", held_id
            )
        finally:
            second.close()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    alone = NoticeReader(settings, kind="cli")  # the first terminal's slot is free again
    try:
        assert alone.identity.id == held_id
    finally:
        alone.close()


def test_an_unwritable_state_folder_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(NoticeError, match="state_dir"):
        NoticeReader(settings.replace(state_dir=blocker), kind="app")


# ------------------------------------------------------------------------------------------ opening a queue
READER = ReaderIdentity("alice", "laptop", "app", "1a2b3c4d")


def _clients(settings: Settings) -> tuple[Any, Any, Stubber, Stubber]:
    kwargs: dict[str, Any] = {
        "region_name": settings.region,
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    sqs, sns = boto3.client("sqs", **kwargs), boto3.client("sns", **kwargs)
    return sqs, sns, Stubber(sqs), Stubber(sns)


def _topic(settings: Settings) -> str:
    return f"arn:aws:sns:{settings.region}:{ACCOUNT}:{settings.topic_name}"


def test_a_missing_topic_says_run_setup_and_creates_no_queue(settings: Settings) -> None:
    sqs, sns, sqs_stub, sns_stub = _clients(settings)
    sns_stub.add_client_error("get_topic_attributes", "NotFound", "Topic does not exist", 404)
    with sqs_stub, sns_stub, pytest.raises(TopicMissing) as missing:
        open_reader_queue(settings, READER, sqs=sqs, sns=sns, account=ACCOUNT)
    message = str(missing.value)
    assert settings.topic_name in message and "csvdrop setup" in message
    assert reader_queue_name(settings, READER) in message
    sqs_stub.assert_no_pending_responses()  # and an SQS call would have found no stubbed answer


def test_a_new_queue_gets_retention_policy_tags_and_a_raw_subscription(settings: Settings) -> None:
    sqs, sns, sqs_stub, sns_stub = _clients(settings)
    name = reader_queue_name(settings, READER)
    arn = f"arn:aws:sqs:{settings.region}:{ACCOUNT}:{name}"
    now = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    sns_stub.add_response("get_topic_attributes", {"Attributes": {}}, {"TopicArn": _topic(settings)})
    sqs_stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue", "", 400)
    sqs_stub.add_response(
        "create_queue",
        {"QueueUrl": f"https://sqs/{name}"},
        {
            "QueueName": name,
            "Attributes": {"MessageRetentionPeriod": "345600", "Policy": ANY},
            "tags": {
                "csvdrop:role": "notice-reader",
                "csvdrop:topic": _topic(settings),
                "csvdrop:reader": "alice@laptop app",
                "csvdrop:last-used": "2026-03-04T05:06:07Z",
            },
        },
    )
    sns_stub.add_response(
        "subscribe",
        {"SubscriptionArn": _topic(settings) + ":sub"},
        {
            "TopicArn": _topic(settings),
            "Protocol": "sqs",
            "Endpoint": arn,
            "Attributes": {"RawMessageDelivery": "true"},
            "ReturnSubscriptionArn": True,
        },
    )
    with sqs_stub, sns_stub:
        queue = open_reader_queue(settings, READER, sqs=sqs, sns=sns, account=ACCOUNT, now=now)
    assert (queue.name, queue.arn, queue.created) == (name, arn, True)
    assert queue.note is not None and "created" in queue.note and "from now on" in queue.note
    policy = notices.queue_policy(arn, _topic(settings))
    assert policy["Statement"][0]["Condition"] == {"ArnEquals": {"aws:SourceArn": _topic(settings)}}


def _existing_queue(settings: Settings, sqs_stub: Stubber, sns_stub: Stubber) -> None:
    name = reader_queue_name(settings, READER)
    sns_stub.add_response("get_topic_attributes", {"Attributes": {}})
    sqs_stub.add_response("get_queue_url", {"QueueUrl": f"https://sqs/{name}"})
    sqs_stub.add_response("set_queue_attributes", {})
    sqs_stub.add_response("tag_queue", {})
    sns_stub.add_response("subscribe", {"SubscriptionArn": _topic(settings) + ":sub"})


@pytest.mark.parametrize(
    ("closed_for", "said"),
    [
        (dt.timedelta(days=1), None),  # a day: everything is still in the queue
        (dt.timedelta(days=5), "more than 4 days ago"),
    ],
)
def test_a_reader_back_after_a_while_is_told_only_when_it_may_have_missed_notices(
    settings: Settings, closed_for: dt.timedelta, said: str | None
) -> None:
    sqs, sns, sqs_stub, sns_stub = _clients(settings)
    _existing_queue(settings, sqs_stub, sns_stub)
    now = dt.datetime.now(dt.UTC)
    with sqs_stub, sns_stub:
        queue = open_reader_queue(settings, READER, sqs=sqs, sns=sns, account=ACCOUNT, last_read=now - closed_for)
    assert queue.created is False
    if said is None:
        assert queue.note is None
    else:
        assert queue.note is not None and said in queue.note and "file list has every record" in queue.note


def test_a_queue_removed_while_its_reader_was_away_is_created_again_and_says_so(settings: Settings) -> None:
    sqs, sns, sqs_stub, sns_stub = _clients(settings)
    sns_stub.add_response("get_topic_attributes", {"Attributes": {}})
    sqs_stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue", "", 400)
    sqs_stub.add_response("create_queue", {"QueueUrl": "https://sqs/q"})
    sns_stub.add_response("subscribe", {"SubscriptionArn": "arn:sub"})
    last = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    with sqs_stub, sns_stub:
        queue = open_reader_queue(settings, READER, sqs=sqs, sns=sns, account=ACCOUNT, last_read=last)
    assert queue.note is not None
    assert "created again" in queue.note and "2026-01-02 03:04 UTC" in queue.note and "not shown" in queue.note


def test_refused_permissions_name_the_queue_and_what_the_credentials_need(settings: Settings) -> None:
    sqs, sns, sqs_stub, sns_stub = _clients(settings)
    sns_stub.add_response("get_topic_attributes", {"Attributes": {}})
    sqs_stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue", "", 400)
    sqs_stub.add_client_error("create_queue", "AccessDenied", "not authorized to perform sqs:createqueue", 403)
    with sqs_stub, sns_stub, pytest.raises(NoticeError) as refused:
        open_reader_queue(settings, READER, sqs=sqs, sns=sns, account=ACCOUNT)
    message = str(refused.value)
    assert reader_queue_name(settings, READER) in message
    assert "sqs:GetQueueUrl, CreateQueue" in message and "sns:GetTopicAttributes and sns:Subscribe" in message
    assert f"{reader_queue_prefix(settings)}-*" in message


def _stubbed_clients(settings: Settings, *, exists: bool) -> tuple[Any, list[Stubber]]:
    """A client_for that answers one queue opening (created or found) without a network."""
    sqs, sns, sqs_stub, sns_stub = _clients(settings)
    sts = boto3.client("sts", region_name=settings.region, aws_access_key_id="t", aws_secret_access_key="t")
    sts_stub = Stubber(sts)
    sts_stub.add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "UserId": "AIDAEXAMPLE"},
    )
    sns_stub.add_response("get_topic_attributes", {"Attributes": {}})
    if exists:
        sqs_stub.add_response("get_queue_url", {"QueueUrl": "https://sqs/q"})
        sqs_stub.add_response("set_queue_attributes", {})
        sqs_stub.add_response("tag_queue", {})
    else:
        sqs_stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue", "", 400)
        sqs_stub.add_response("create_queue", {"QueueUrl": "https://sqs/q"})
    sns_stub.add_response("subscribe", {"SubscriptionArn": "arn:sub"})
    stubs = [sqs_stub, sns_stub, sts_stub]
    for stub in stubs:
        stub.activate()
    return {"sqs": sqs, "sns": sns, "sts": sts}.__getitem__, stubs


def test_the_last_read_is_remembered_per_environment(settings: Settings) -> None:
    """A reader that read environment A yesterday and opens environment B for the first time is told B's queue is
    new, not that it "was created again"; back on A, its queue is found and nothing was missed."""
    env_b = settings.replace(queue_name="other-env-notices", topic_name="other-env-topic")
    for environment, exists, said in [
        (settings, False, "created for the window of"),
        (env_b, False, "created for the window of"),
        (settings, True, None),
    ]:
        client_for, stubs = _stubbed_clients(environment, exists=exists)
        reader = NoticeReader(environment, kind="app", client_for=client_for)
        try:
            note = reader.open().note
        finally:
            reader.close()
        for stub in stubs:
            stub.assert_no_pending_responses()
        assert (note is None) if said is None else (note is not None and said in note), note
