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
