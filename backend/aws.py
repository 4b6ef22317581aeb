"""boto3 clients for the configured target (LocalStack endpoint or real AWS)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from backend.config import Settings

if TYPE_CHECKING:
    import boto3

# LocalStack accepts any credentials; real AWS uses the normal credential chain (env, profile, SSO, role).
_LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}

# One session per (profile, region). A new boto3 session loads and parses every service model again: five
# clients cost about 780 ms of CPU and 29,000 objects of garbage that way, against 20 ms from a warm session.
# The desktop app makes clients on worker threads (health checks every 30 s, uploads, polling), where that
# CPU holds the GIL the GUI thread needs. botocore sessions are not thread-safe, hence the lock; clients are.
# A session reads the credential chain once: static keys edited while the app runs apply after a restart
# (refreshable credentials, such as SSO and assumed roles, refresh by themselves).
_SESSIONS: dict[tuple[str, str], boto3.Session] = {}
_SESSIONS_LOCK = threading.RLock()  # re-entrant: client() holds it while session() takes it


def session(settings: Settings) -> boto3.Session:
    """The process's session for this target (created on first use)."""
    import boto3  # here, not at module level: boto3 costs most of a second, before the window could show

    key = (settings.aws_profile if settings.mode == "aws" else "", settings.region)
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(key)
        if found is None:
            profile, region = key
            found = _SESSIONS[key] = boto3.Session(profile_name=profile or None, region_name=region)
        return found


def client(
    settings: Settings, service: str, *, timeout_s: float = 10, retries: int = 2, signature_version: str | None = None
) -> Any:
    """A boto3 client. Short timeouts so a stopped endpoint is reported in seconds, not minutes.
    ``signature_version="s3v4"`` for presigned URLs: botocore presigns with the legacy SigV2 in us-east-1."""
    from botocore.config import Config

    cfg = Config(
        connect_timeout=timeout_s,
        read_timeout=max(timeout_s, 30),
        retries={"max_attempts": retries, "mode": "standard"},
        s3={"addressing_style": "path"} if settings.mode == "local" else None,
        signature_version=signature_version,
    )
    kwargs: dict[str, Any] = {"config": cfg, "region_name": settings.region}
    if settings.mode == "local":
        kwargs["endpoint_url"] = settings.endpoint_url
        kwargs.update(_LOCAL_CREDENTIALS)
    with _SESSIONS_LOCK:
        return session(settings).client(service, **kwargs)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ("NoSuchBucket", "ResourceNotFoundException" ...), else ""."""
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def explain(exc: BaseException, settings: Settings, path: Path | None = None) -> str:
    """A user-facing explanation of an AWS/network error with what to do about it."""
    where = f"{path.name}: " if path else ""
    if isinstance(exc, EndpointConnectionError) or "Could not connect" in str(exc):
        if settings.mode == "local":
            return (
                f"{where}cannot reach LocalStack at {settings.aws_endpoint}. Start it with "
                "`csvdrop stack up` (or the app's Environment panel), then retry."
            )
        return f"{where}cannot reach AWS ({exc}). Check your network connection, then retry."
    if isinstance(exc, NoCredentialsError):
        return (
            f"{where}no AWS credentials found. Configure a profile (`aws configure`) or set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then retry."
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ServiceUnavailable", "503", "SlowDown") and settings.mode == "local":
            return (
                f"{where}the local stack is stopping or busy: start it with `csvdrop stack up` "
                "(or the app's Environment panel), then retry."
            )
        if code == "NoSuchBucket":
            return (
                f"{where}the bucket '{settings.bucket}' does not exist. Run 'Set up environment' "
                "(or `csvdrop setup`), then retry."
            )
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return f"{where}AWS refused the request ({code}). Check the credentials and the bucket policy."
        return f"{where}S3 said {code or 'error'}: {exc.response.get('Error', {}).get('Message', exc)}"
    return f"{where}{exc}"
