"""LocalStack start-up hooks that make the local cloud fit a small machine (entry points in pyproject.toml): async
invocations capped per function (async_pool.py), Lambda logs delivered in batches (log_batching.py) to the logs
store in process (direct_logs.py), SQS event sources long-polled (below), S3 -> SQS notifications sent in batches
under load (group_send.py), LocalStack's own messages to SQS (S3 notifications, SNS deliveries, the event
sources' receives and deletes) handed to the SQS provider in process (direct_sqs.py), the event sources'
invocations handed to the Lambda provider in process (direct_lambda.py), full garbage collections on a timer,
and request log lines without unused copies. Each replaces one LocalStack internal, pinned by
stack/localstack-constraints.txt; tests/integration/test_lambda_executor.py and test_queue_trigger.py check what
they promise against the real LocalStack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

from csvdrop_lambda_executor.async_pool import BoundedExecutor, async_concurrency
from csvdrop_lambda_executor.direct_lambda import DirectLambda
from csvdrop_lambda_executor.direct_logs import DirectLogs
from csvdrop_lambda_executor.direct_sqs import ConnectWithDirectSqs, DirectSqs
from csvdrop_lambda_executor.group_send import GroupSender
from csvdrop_lambda_executor.log_batching import batched_log_loop

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def csvdrop_cap_async_invocations() -> None:
    cap = async_concurrency()
    if cap is None:
        return
    from localstack.services.lambda_.invocation.event_manager import Poller

    original_init = Poller.__init__

    def init_with_capped_pool(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        prefix = self.invoker_pool._thread_name_prefix
        self.invoker_pool.shutdown(wait=False)  # never used: its threads start lazily
        self.invoker_pool = BoundedExecutor(cap, thread_name_prefix=prefix)

    Poller.__init__ = init_with_capped_pool


@hooks.on_infra_start()
def csvdrop_batch_lambda_logs() -> None:
    from localstack.aws.connect import connect_to
    from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler
    from localstack.utils.aws.arns import parse_arn
    from localstack.utils.aws.client_types import ServicePrincipal

    def run_log_loop(self, *args, **kwargs) -> None:
        client = connect_to.with_assumed_role(
            region_name=self.region, role_arn=self.role_arn, service_principal=ServicePrincipal.lambda_
        ).logs
        logs = DirectLogs(client, parse_arn(self.role_arn)["account"], self.region)
        batched_log_loop(self.log_queue, self._shutdown_event, QUEUE_SHUTDOWN, logs, self.region)

    LogHandler.run_log_loop = run_log_loop


# How long one ReceiveMessage of the poller waits. LocalStack's SQS answers a waiting receive as soon as one
# message is visible, with what is visible then (services/sqs/models.py, receive), so the wait costs no latency.
# Shorter than AWS's 20 s because a receive cannot be interrupted: a mapping disabled or deleted meanwhile has its
# poller wait it out, and what that receive brings is put back (below), which counts as a receive for the
# dead-letter queue's maxReceiveCount. 2 s keeps that rare, for one request per 2 s while idle.
LONG_POLL_S = 2
# An empty answer sooner than this was not a wait (the queue is going away, the gateway stops): the worker's
# empty-poll backoff applies, so the loop cannot spin.
WAITED_AT_LEAST_S = 0.5


class _LongPollingClient:
    """The poller's SQS client (its own object: LocalStack makes one per mapping) with every receive waiting,
    and what a receive brings after the mapping stopped put back in the queue at once, unprocessed. Its
    receives, deletes and visibility changes go to the SQS provider in process (direct_sqs.py); anything else
    the poller asks goes to LocalStack's client."""

    def __init__(self, client: Any, sqs: DirectSqs, stopped: Callable[[], bool]) -> None:
        self._client = client
        self._sqs = sqs
        self._stopped = stopped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def receive_message(self, **params: Any) -> Any:
        params["WaitTimeSeconds"] = LONG_POLL_S
        # LocalStack's own parameters, its client turns them into headers: without a batching window the batch is
        # at most 10, which MaxNumberOfMessages already says.
        params.pop("sqs_override_wait_time_seconds", None)
        params.pop("sqs_override_max_message_count", None)
        response = self._sqs.receive_message(**params)
        messages = response.get("Messages") or []
        if not messages or not self._stopped():
            return response
        # Disabled (or deleted) while this receive waited: a disabled mapping invokes nothing.
        for first in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[first : first + 10])
            ]
            self._sqs.change_message_visibility_batch(QueueUrl=params["QueueUrl"], Entries=entries)
        return {**response, "Messages": []}

    def delete_message_batch(self, **params: Any) -> Any:
        params.pop("sqs_override_max_message_count", None)
        return self._sqs.delete_message_batch(**params)


def _log_batch_failure(future: Any) -> None:
    exc = future.exception()
    if exc is not None:  # as LocalStack's poll loop logs a failed batch: its messages return after their timeout
        LOG.warning("Polling or batch processing failed: %s", exc)


@hooks.on_infra_start()
def csvdrop_long_poll_sqs_event_sources() -> None:
    """SQS event source mappings without a batching window short-poll in LocalStack: every poll that finds
    nothing backs off up to LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC (10 s), every one that finds
    something sleeps LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC (1 s): an upload waits seconds for its
    invocation and a backlog drains one batch a second. Long-polled instead, like AWS's pollers, a message is
    handed on as it arrives; the stack launcher sets the poll interval to 0 and the empty-poll backoff short,
    which leaves nothing to wait for. A stopped mapping's poller (disabled, deleted, or replaced by an update)
    hands on nothing more."""
    import time

    from localstack.services.lambda_.event_source_mapping.esm_worker import EsmWorker
    from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException
    from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
    from localstack.utils.aws.arns import parse_arn

    original_init = SqsPoller.__init__
    original_poll_events = SqsPoller.poll_events

    def init_long_polling(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        self.csvdrop_stopped = False
        # A window: LocalStack already waits for it. (Changing the window makes a new poller.)
        if not self.maximum_batching_window:
            arn = parse_arn(self.source_arn)
            sqs = DirectSqs(arn["account"], arn["region"])
            self.source_client = _LongPollingClient(self.source_client, sqs, lambda: self.csvdrop_stopped)

    def poll_events(self, *args, **kwargs) -> None:
        started = time.monotonic()
        try:
            return original_poll_events(self, *args, **kwargs)
        except EmptyPollResultsException:
            if not isinstance(self.source_client, _LongPollingClient):
                raise
            if time.monotonic() - started < WAITED_AT_LEAST_S:
                raise  # not a wait: the worker's backoff keeps the loop from spinning
            return None  # a full wait with nothing: poll again at once

    def marking_stop(original: Callable[..., Any], stopped: bool) -> Callable[..., Any]:
        def mark_then_call(self, *args, **kwargs) -> Any:
            if isinstance(self.poller, SqsPoller):
                self.poller.csvdrop_stopped = stopped
            return original(self, *args, **kwargs)

        return mark_then_call

    original_handle_messages = SqsPoller.handle_messages

    def handle_messages_concurrently(self, messages, *args, **kwargs) -> None:
        # LocalStack's poller invokes the function and waits for it before it receives again: one batch at a
        # time, so the function's waits (S3 reads, the database, SNS) leave the other CPU idle. AWS's pollers run
        # batches of a standard queue concurrently; here up to the async cap (the CPUs, at least 2) at once. The
        # pool's submit waits for a free slot, so the poller receives nothing it cannot start: the rest stays in
        # the queue, its visibility timeout not started. Each batch still deletes only its own messages.
        pool = getattr(self, "csvdrop_batch_pool", None)
        if pool is None or self.is_fifo_queue:
            return original_handle_messages(self, messages, *args, **kwargs)
        future = pool.submit(original_handle_messages, self, messages, *args, **kwargs)
        future.add_done_callback(_log_batch_failure)

    def init_with_batch_pool(self, *args, **kwargs) -> None:
        init_long_polling(self, *args, **kwargs)
        cap = async_concurrency()
        if cap and cap > 1:
            self.csvdrop_batch_pool = BoundedExecutor(cap, thread_name_prefix="csvdrop-sqs-batch")

    original_close = SqsPoller.close

    def close_with_batch_pool(self, *args, **kwargs) -> None:
        pool = getattr(self, "csvdrop_batch_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)  # batches under way finish; the poller's replacement has a pool of its own
        return original_close(self, *args, **kwargs)

    SqsPoller.__init__ = init_with_batch_pool
    SqsPoller.close = close_with_batch_pool
    SqsPoller.poll_events = poll_events
    SqsPoller.handle_messages = handle_messages_concurrently
    EsmWorker.stop = marking_stop(EsmWorker.stop, True)
    EsmWorker.delete = marking_stop(EsmWorker.delete, True)
    EsmWorker.start = marking_stop(EsmWorker.start, False)


@hooks.on_infra_start()
def csvdrop_batch_s3_queue_notifications() -> None:
    """S3's notifications to an SQS queue go through GroupSender: one SendMessageBatch for those that arrive
    while a send is under way, instead of one SendMessage each (see group_send.py), handed to the SQS provider
    in process (direct_sqs.py)."""
    import json

    from localstack.services.s3.notifications import SqsNotifier
    from localstack.utils.aws import arns
    from localstack.utils.aws.arns import parse_arn

    def send(queue_arn: Any, batch: list[tuple[str, dict[str, Any]]]) -> None:
        arn = parse_arn(queue_arn)
        sqs = DirectSqs(arn["account"], arn["region"])
        entries = [
            {"Id": str(i), "MessageBody": body, "MessageSystemAttributes": attributes}
            for i, (body, attributes) in enumerate(batch)
        ]
        response = sqs.send_message_batch(QueueUrl=arns.sqs_queue_url_for_arn(queue_arn), Entries=entries)
        for failed in response.get("Failed", []):
            LOG.error("S3 notification not sent to %s: %s", queue_arn, failed)

    sender: GroupSender[tuple[str, dict[str, Any]]] = GroupSender(send)

    def notify(self, ctx, config) -> None:
        message = json.dumps(self._get_event_payload(ctx, config.get("Id")))
        attributes = {"AWSTraceHeader": {"DataType": "String", "StringValue": ctx.xray}} if ctx.xray else {}
        sender.submit(config["QueueArn"], (message, attributes))

    SqsNotifier.notify = notify


@hooks.on_infra_start()
def csvdrop_sns_to_sqs_in_process() -> None:
    """SNS deliveries to SQS subscriptions are handed to the SQS provider in process (direct_sqs.py)."""
    from localstack.services.sns import publisher

    publisher.connect_to = ConnectWithDirectSqs(publisher.connect_to)  # type: ignore[assignment]


@hooks.on_infra_start()
def csvdrop_event_source_invokes_in_process() -> None:
    """The event source mappings' invocations go to the Lambda provider in process (direct_lambda.py)."""
    from localstack.services.lambda_.event_source_mapping.senders.lambda_sender import LambdaSender
    from localstack.utils.aws.arns import parse_arn

    original_init = LambdaSender.__init__

    def init_with_direct_invokes(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        arn = parse_arn(self.target_arn)
        self.target_client = DirectLambda(self.target_client, arn["account"], arn["region"])

    LambdaSender.__init__ = init_with_direct_invokes


# How often LocalStack's full garbage collection runs, in seconds (see below).
FULL_COLLECTION_EVERY_S = 120


@hooks.on_infra_start()
def csvdrop_full_collections_on_a_timer() -> None:
    """CPython starts a full (generation 2) collection whenever the objects that survived younger collections
    reach a quarter of the heap, and LocalStack's heap (every loaded service model, every stored object) is large:
    measured with per-thread CPU accounting during `python -m bench load`, one full collection took 0.6-1.2 s, about
    2 ms of LocalStack CPU per uploaded file, all of it holding the GIL while requests waited. Young collections
    still run as usual (they free most short-lived cycles); the full one runs on a timer instead, in a thread of
    its own, so a burst of uploads no longer pays for it and an idle LocalStack still frees what it no longer holds."""
    import gc
    import threading
    import time

    threshold0, threshold1, _ = gc.get_threshold()
    gc.set_threshold(threshold0, threshold1, 1_000_000_000)

    def collect_now_and_then() -> None:
        while True:
            time.sleep(FULL_COLLECTION_EVERY_S)
            gc.collect()

    threading.Thread(target=collect_now_and_then, name="csvdrop-full-gc", daemon=True).start()


@hooks.on_infra_start()
def csvdrop_plain_request_log() -> None:
    """LocalStack's request log line ("AWS s3.PutObject => 200") is built with the request's and response's
    headers copied into the record, for a trace formatter it only installs at DEBUG level; at INFO the copies
    are thrown away, at 0.3 ms of CPU per request (per-thread CPU accounting during `python -m bench load`). Below
    DEBUG the same line is now logged without them; at DEBUG LocalStack's own code runs."""
    from localstack.aws.handlers.logging import ResponseLogger

    original_log = ResponseLogger._log

    def log_plainly(self, context, response) -> None:
        internal = context.is_internal_call
        if context.operation:
            logger = self.internal_aws_logger if internal else self.aws_logger
        else:
            logger = self.internal_http_logger if internal else self.http_logger
        if logger.isEnabledFor(logging.DEBUG):
            return original_log(self, context, response)
        if not logger.isEnabledFor(logging.INFO):
            return None
        if not context.operation:
            logger.info("%s %s => %d", context.request.method, context.request.path, response.status_code)
        elif context.service_exception:
            service, operation = context.service.service_name, context.operation.name
            code = context.service_exception.code
            logger.info("AWS %s.%s => %d (%s)", service, operation, response.status_code, code)
        else:
            service, operation = context.service.service_name, context.operation.name
            logger.info("AWS %s.%s => %s", service, operation, response.status_code)
        return None

    ResponseLogger._log = log_plainly
