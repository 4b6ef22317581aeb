"""Messages LocalStack sends to its own SQS queues, handed to the SQS provider in process.

LocalStack delivers S3 event notifications and SNS -> SQS messages through its internal client: botocore
serialises and signs the request, the request runs the gateway's whole handler chain and parser, the response is
serialised, and botocore parses it back. Measured in LocalStack with per-thread CPU accounting on a 2-core machine
(`python -m bench load`, queue trigger): about 4 ms of CPU per call plus ~0.3 ms per message, while the provider's
own work is ~0.1 ms per message; at 25 files/s that was a quarter of LocalStack's CPU. `DirectSqs` offers the two
calls those senders make (SendMessage, SendMessageBatch) and calls the provider's methods with a request context
of its own; what they receive back is what the client would have returned (an error as a botocore ClientError).
The queue trigger's poller uses it too, for the calls it makes per batch (ReceiveMessage, DeleteMessageBatch,
ChangeMessageVisibilityBatch; patches.py): they were ~1 ms of LocalStack's CPU per file at batches of 10.
Only these in-process callers use it; every request from outside still goes through the gateway.
"""

from __future__ import annotations

from typing import Any

from csvdrop_lambda_executor.providers import client_error, request_context, running_provider


class DirectSqs:
    """Stands in for `connect_to(...).sqs.request_metadata(...)` in LocalStack's S3 and SNS senders."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def request_metadata(self, **_: Any) -> DirectSqs:
        return self  # the principal and source only matter to IAM enforcement, which the community core lacks

    def _call(self, operation: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from localstack.aws.api import ServiceException

        context = request_context("sqs", operation, self.account_id, self.region)
        try:
            return getattr(running_provider("sqs"), method)(context, *args, **kwargs)
        except ServiceException as exc:
            raise client_error(exc, operation, context) from exc

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        return self._call("SendMessageBatch", "send_message_batch", QueueUrl, Entries)

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        return self._call("DeleteMessageBatch", "delete_message_batch", QueueUrl, Entries)

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        return self._call("ChangeMessageVisibilityBatch", "change_message_visibility_batch", QueueUrl, Entries)

    def receive_message(
        self,
        *,
        QueueUrl: str,
        MaxNumberOfMessages: int | None = None,
        WaitTimeSeconds: int | None = None,
        VisibilityTimeout: int | None = None,
        AttributeNames: list[str] | None = None,
        MessageSystemAttributeNames: list[str] | None = None,
        MessageAttributeNames: list[str] | None = None,
    ) -> Any:
        response = self._call(
            "ReceiveMessage",
            "receive_message",
            QueueUrl,
            attribute_names=AttributeNames,
            message_system_attribute_names=MessageSystemAttributeNames,
            message_attribute_names=MessageAttributeNames,
            max_number_of_messages=MaxNumberOfMessages,
            visibility_timeout=VisibilityTimeout,
            wait_time_seconds=WaitTimeSeconds,
        )
        # The provider answers "no messages" with Messages=None, which the client's parser leaves out.
        return {key: value for key, value in response.items() if value is not None}

    # The parameters keep boto's names: the senders call these methods as they call the client's.
    def send_message(
        self,
        *,
        QueueUrl: str,
        MessageBody: str,
        DelaySeconds: int | None = None,
        MessageAttributes: dict[str, Any] | None = None,
        MessageSystemAttributes: dict[str, Any] | None = None,
        MessageDeduplicationId: str | None = None,
        MessageGroupId: str | None = None,
    ) -> Any:
        return self._call(
            "SendMessage",
            "send_message",
            QueueUrl,
            MessageBody,
            delay_seconds=DelaySeconds,
            message_attributes=MessageAttributes,
            message_system_attributes=MessageSystemAttributes,
            message_deduplication_id=MessageDeduplicationId,
            message_group_id=MessageGroupId,
        )


class ConnectWithDirectSqs:
    """`connect_to` for LocalStack's SNS publisher: its `.sqs` is DirectSqs, everything else the real factory's."""

    def __init__(self, connect_to: Any) -> None:
        self._connect_to = connect_to

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _FactoryWithDirectSqs(self._connect_to(*args, **kwargs), kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connect_to, name)


class _FactoryWithDirectSqs:
    def __init__(self, factory: Any, kwargs: dict[str, Any]) -> None:
        self._factory = factory
        self._kwargs = kwargs

    @property
    def sqs(self) -> DirectSqs:
        from localstack.constants import AWS_REGION_US_EAST_1, DEFAULT_AWS_ACCOUNT_ID

        account = self._kwargs.get("aws_access_key_id") or DEFAULT_AWS_ACCOUNT_ID
        return DirectSqs(account, self._kwargs.get("region_name") or AWS_REGION_US_EAST_1)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)
