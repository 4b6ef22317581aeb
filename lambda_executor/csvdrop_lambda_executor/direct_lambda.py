"""The queue trigger's invocations handed to LocalStack's Lambda provider in process.

LocalStack's event source mapping invokes the function for each batch through its internal client: botocore
serialises and signs the request, the gateway's handler chain parses it, the answer is serialised and parsed
back. Measured in LocalStack with per-thread CPU accounting during `python -m bench load` (queue trigger, batches
of 10): ~6 ms of CPU per invocation besides the provider's own work, ~0.5 ms per file. `DirectLambda` stands in
for that client in the mapping's sender and calls the provider's Invoke with a request context of its own; the
answer has the client's shape (the payload as a stream, the request id in ResponseMetadata), an error comes
back as the client's ClientError would. Anything else asked of the client still goes to it.
"""

from __future__ import annotations

import io
from typing import Any

from csvdrop_lambda_executor.providers import ClientStandIn, client_error, request_context, running_provider


class DirectLambda(ClientStandIn):
    def invoke(
        self, *, FunctionName: str, Payload: str | bytes, InvocationType: str, Qualifier: str | None = None
    ) -> dict[str, Any]:
        from localstack.aws.api import ServiceException

        context = request_context("lambda", "Invoke", self._account_id, self._region)
        body = Payload.encode() if isinstance(Payload, str) else Payload
        try:
            response = running_provider("lambda").invoke(
                context, FunctionName, invocation_type=InvocationType, payload=io.BytesIO(body), qualifier=Qualifier
            )
        except ServiceException as exc:
            raise client_error(exc, "Invoke", context) from exc
        answer = {key: value for key, value in response.items() if value is not None}
        answer["Payload"] = io.BytesIO(response.get("Payload") or b"")
        answer["ResponseMetadata"] = {"RequestId": context.request_id, "HTTPStatusCode": response["StatusCode"]}
        return answer
