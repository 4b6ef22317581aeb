"""boto3 clients for the configured target (LocalStack endpoint or real AWS)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from backend.config import Settings

# LocalStack accepts any credentials; real AWS uses the normal credential chain (env, profile, SSO, role).
_LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def session(settings: Settings) -> boto3.Session:
    if settings.mode == "aws" and settings.aws_profile:
        return boto3.Session(profile_name=settings.aws_profile, region_name=settings.region)
    return boto3.Session(region_name=settings.region)


def client(settings: Settings, service: str, *, timeout_s: float = 10, retries: int = 2) -> Any:
    """A boto3 client. Short timeouts so a stopped endpoint is reported in seconds, not minutes."""
    cfg = Config(
        connect_timeout=timeout_s,
        read_timeout=max(timeout_s, 30),
        retries={"max_attempts": retries, "mode": "standard"},
        s3={"addressing_style": "path"} if settings.mode == "local" else None,
    )
    kwargs: dict[str, Any] = {"config": cfg, "region_name": settings.region}
    if settings.mode == "local":
        kwargs["endpoint_url"] = settings.endpoint_url
        kwargs.update(_LOCAL_CREDENTIALS)
    return session(settings).client(service, **kwargs)
