"""backend.aws: one boto3 session per target, shared by every client (no network: clients are only made)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from testsupport import isolated_settings

from backend import aws
from backend.config import Settings


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return isolated_settings(tmp_path, aws_endpoint="http://127.0.0.1:9", region="eu-west-1")


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile alpha]\nregion = eu-west-1\n[profile beta]\nregion = eu-west-1\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setattr(aws, "_SESSIONS", {})


def test_clients_of_one_target_share_a_session(local: Settings) -> None:
    first = aws.session(local)
    s3, sqs = aws.client(local, "s3"), aws.client(local, "sqs")
    assert aws.session(local) is first
    assert aws.session(local.replace(bucket="other", poll_interval_ms=5000)) is first
    assert s3.meta.endpoint_url == sqs.meta.endpoint_url == "http://127.0.0.1:9"
    assert s3.meta.region_name == "eu-west-1"
    assert s3.meta.config.s3 == {"addressing_style": "path"}


def test_another_region_or_profile_gets_its_own_session(local: Settings, profiles: None) -> None:
    alpha = local.replace(mode="aws", aws_profile="alpha")
    sessions = {
        id(aws.session(s))
        for s in (local, local.replace(region="us-east-1"), alpha, local.replace(mode="aws", aws_profile="beta"))
    }
    assert len(sessions) == 4
    assert aws.session(alpha).profile_name == "alpha"
    assert aws.client(alpha, "s3").meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"


def test_clients_made_from_many_threads_at_once(local: Settings, profiles: None) -> None:
    """The GUI makes clients on several worker threads at once: every one works, and they share one session."""
    services = ["s3", "sqs", "sns", "lambda", "logs", "secretsmanager", "dynamodb", "iam"] * 3
    made: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(services))

    def make(service: str) -> None:
        start.wait()
        try:
            made.append(aws.client(local, service).meta.service_model.service_name)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(made) == sorted(services)
    assert len(aws._SESSIONS) == 1
