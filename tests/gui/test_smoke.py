"""The installed entry point starts, shows the window and quits cleanly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / ".venv" / "bin" / "csvdrop-gui"


@pytest.mark.skipif(not ENTRY.exists(), reason="csvdrop-gui is not installed in .venv")
def test_csvdrop_gui_quit_after(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        CSVDROP_CONFIG=str(tmp_path / "config" / "csvdrop" / "config.toml"),
        # Nothing listens here: the window must cope (lights, banner) and still quit on time.
        CSVDROP_AWS_ENDPOINT="http://127.0.0.1:9",
        CSVDROP_MYSQL_PORT="9",
    )
    proc = subprocess.run(
        [str(ENTRY), "--quit-after", "1500"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Error" not in proc.stderr, proc.stderr
