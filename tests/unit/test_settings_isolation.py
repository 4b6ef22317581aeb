"""The suite never depends on, or touches, the developer's settings or cloud (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from testsupport import isolated_settings

from backend.config import Settings, load_settings

HOSTILE = """[csvdrop]
mode = "aws"
bucket = "someone-elses-production-bucket"
region = "ap-southeast-2"
mysql_host = "prod-db.example.com"
"""


def _defaults() -> dict[str, object]:
    return {f.name: f.default for f in fields(Settings) if f.name in ("mode", "bucket", "region", "mysql_host")}


@pytest.fixture
def hostile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's config folder whose config.toml points at a real AWS account."""
    config_home = tmp_path / "user-config"
    (config_home / "csvdrop").mkdir(parents=True)
    (config_home / "csvdrop" / "config.toml").write_text(HOSTILE, encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.delenv("CSVDROP_CONFIG", raising=False)
    return config_home


def test_the_hostile_file_is_what_a_bare_load_would_read(hostile_home: Path) -> None:
    """Proves the fixture bites: the app's own fallback reads the user's file (as it should for users)."""
    settings = load_settings(env={})
    assert (settings.mode, settings.bucket) == ("aws", "someone-elses-production-bucket")


def test_test_settings_ignore_the_users_config_file(hostile_home: Path, tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path / "mine")
    assert {name: getattr(settings, name) for name in _defaults()} == _defaults()
    assert settings.config_path.is_relative_to(tmp_path / "mine")
    assert settings.state_dir.is_relative_to(tmp_path / "mine")


def test_the_session_points_every_default_folder_away_from_the_user() -> None:
    """What a subprocess of the suite (the CLI, the app) sees: a throwaway config file and data folder, no
    CSVDROP_* settings and no AWS account from the developer's shell."""
    if os.environ.get("CSVDROP_TEST_EXTERNAL_STACK"):
        pytest.skip("the developer asked for their own stack and settings")
    code = (
        "from backend.config import load_settings; s = load_settings(); "
        "print(s.config_path); print(s.state_dir); print(s.mode)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    config_path, state_dir, mode = Path(out[0]), Path(out[1]), out[2]
    assert "csvdrop-test-home-" in str(config_path) and "csvdrop-test-home-" in str(state_dir)
    assert mode == "local"
    assert not any(name.startswith("AWS_ACCESS") or name == "AWS_PROFILE" for name in os.environ)
