"""The running LocalStack service providers that the extensions call into directly."""

from __future__ import annotations

from typing import Any

_running: dict[str, Any] = {}


def running_provider(service: str) -> Any:
    """The service's provider instance (loading the service if it is not yet)."""
    provider = _running.get(service)
    if provider is None:
        from localstack.services.plugins import SERVICE_PLUGINS

        plugin = SERVICE_PLUGINS.require(service)
        provider = _running[service] = getattr(plugin, "_provider", None) or plugin.lifecycle_hook
    return provider


def request_context(service: str, operation: str, account_id: str, region: str) -> Any:
    """A request context for calling a provider's operation in process, as the gateway would have made it."""
    from localstack.aws.api import RequestContext
    from localstack.aws.spec import load_service
    from rolo import Request

    model = load_service(service)
    context = RequestContext(Request("POST", "/"))
    context.service = model
    context.protocol = model.protocol
    context.operation = model.operation_model(operation)
    context.account_id = account_id
    context.region = region
    return context


def client_error(exc: Any, operation: str, context: Any) -> Any:
    """The botocore ClientError a client would have raised for a provider's ServiceException."""
    from botocore.exceptions import ClientError

    error = {"Code": exc.code, "Message": exc.message}
    meta = {"HTTPStatusCode": exc.status_code, "RequestId": context.request_id}
    return ClientError({"Error": error, "ResponseMetadata": meta}, operation)


class ClientStandIn:
    """Stands in for one of LocalStack's internal clients: what a subclass does not do in process goes to it."""

    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self._client = client
        self._account_id = account_id
        self._region = region

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
