"""Lambda log lines handed to LocalStack's CloudWatch Logs store in process.

Each batch of log lines (log_batching.py) was one PutLogEvents through LocalStack's internal client: botocore
serialises and signs it, the gateway's handler chain parses it, and the provider replays the request into moto.
Measured in LocalStack with per-thread CPU accounting during `python -m bench load` (queue trigger): ~6 ms of
CPU per call, ~0.6 ms per file, for moto's own work of a few tenths of a millisecond. `DirectLogs` stands in for
the client in the log loop and calls moto's backend directly, after the logs provider is loaded (its patches of
moto's models, subscription filters among them, then apply). Whatever it does not do itself goes to the client:
a missing group or stream (put_events then creates them through the client), and events a metric filter could
match (the provider's own step before moto's).
"""

from __future__ import annotations

from typing import Any

from csvdrop_lambda_executor.providers import ClientStandIn, running_provider


class DirectLogs(ClientStandIn):
    def put_log_events(self, *, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]) -> Any:
        from localstack.services.logs.models import get_moto_logs_backend
        from moto.logs.exceptions import ResourceNotFoundException

        running_provider("logs")
        backend = get_moto_logs_backend(self._account_id, self._region)
        if not backend.filters.metric_filters:
            try:
                token, rejected = backend.put_log_events(logGroupName, logStreamName, logEvents)
            except ResourceNotFoundException:
                pass
            else:
                return {"nextSequenceToken": token, **({"rejectedLogEventsInfo": rejected} if rejected else {})}
        return self._client.put_log_events(logGroupName=logGroupName, logStreamName=logStreamName, logEvents=logEvents)
