"""The docker compose file and stack/Dockerfile against the no-Docker launcher: parsing only, no stack."""

from __future__ import annotations

from pathlib import Path

import yaml
from testsupport import ROOT, isolated_settings

from backend.stack.localstack import LocalStackService


def test_compose_file_is_valid_and_mirrors_the_launcher(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"localstack", "mysql"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond loopback"
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["localstack"]["build"]["dockerfile"] == "stack/Dockerfile"
    assert "LOCALSTACK_AUTH_TOKEN" not in (ROOT / "docker-compose.yml").read_text()

    dockerfile = (ROOT / "stack" / "Dockerfile").read_text()
    assert "localstack-constraints.txt" in dockerfile and "lambda_executor" in dockerfile
    assert "localstack-core[runtime]==2026.3.0" in dockerfile
    launcher_env = LocalStackService(isolated_settings(tmp_path)).environment()
    path_specific = {
        "GATEWAY_LISTEN",
        "FILESYSTEM_ROOT",
        "LOCALSTACK_VOLUME_DIR",
        "CONFIG_DIR",
        "TMPDIR",
        "XDG_CACHE_HOME",
        "LOCALSTACK_HOST",
        "CSVDROP_SERVICE_PYTHON",
    }
    for key in (
        "OVERRIDE_IN_DOCKER",
        "GATEWAY_SERVER",
        "DISABLE_EVENTS",
        "SKIP_SSL_CERT_DOWNLOAD",
        "DNS_ADDRESS",
        "SQS_DISABLE_CLOUDWATCH_METRICS",
        "SERVICES",
        "EAGER_SERVICE_LOADING",
        "LAMBDA_RUNTIME_EXECUTOR",
        "PROVIDER_OVERRIDE_DYNAMODB",
        "LAMBDA_KEEPALIVE_MS",
        "LAMBDA_RETRY_BASE_DELAY",
        "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC",
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC",
        "IN_MEMORY_CLIENT",
    ):
        assert key not in path_specific
        assert f"{key}={launcher_env[key]}" in dockerfile, f"Dockerfile differs from the launcher on {key}"
