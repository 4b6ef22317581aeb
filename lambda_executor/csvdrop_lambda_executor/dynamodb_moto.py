"""LocalStack service provider ``dynamodb:moto``: DynamoDB served by moto inside LocalStack.

LocalStack's own DynamoDB runs Amazon's DynamoDB Local, which it downloads with a Java 21 runtime on first
use; on a machine without internet access that fails ("Installation of java 21 failed") and every call is a
500. moto (already in LocalStack's venv, it backs many LocalStack services) implements the DynamoDB API
in-process. Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto``.

moto's DynamoDB backend is not safe under concurrent transactions (lost writes were seen), so requests are
serialised: a local emulator's throughput is not the point, correctness is.
"""

from __future__ import annotations

import threading
from typing import Any

from localstack.services.plugins import Service, aws_provider


def _serialised(table: dict[str, Any]) -> dict[str, Any]:
    lock = threading.Lock()

    def wrap(handler: Any) -> Any:
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return handler(*args, **kwargs)

        return locked

    return {operation: wrap(handler) for operation, handler in table.items()}


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher

    class MotoDynamoDBProvider(DynamodbApi):
        """Every operation falls through to moto."""

    return Service.for_provider(
        MotoDynamoDBProvider(),
        dispatch_table_factory=lambda provider: _serialised(MotoFallbackDispatcher(provider)),
    )
