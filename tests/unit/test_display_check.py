"""gui.display_check: what csvdrop-gui says instead of Qt's abort when no window can open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gui import display_check

ENTRY = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "csvdrop-gui"


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libwayland-cursor.so.0", "libwayland-cursor0"),
    ],
)
def test_debian_package_names(soname: str, package: str) -> None:
    assert display_check.debian_package(soname) == package


def test_headless_platforms_need_nothing() -> None:
    assert display_check.display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_check.display_problem({"QT_QPA_PLATFORM": "minimal"}) is None


def test_no_display_says_so_and_how_to_run_headless() -> None:
    message = display_check.display_problem({})
    assert message is not None and "no display" in message and "QT_QPA_PLATFORM=offscreen" in message


def test_missing_libraries_are_named_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        display_check, "missing_libraries", lambda platform="xcb": ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    )
    message = display_check.display_problem({"DISPLAY": ":0"})
    assert message is not None
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in message
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in message
    monkeypatch.setattr(display_check, "missing_libraries", lambda platform="xcb": [])
    assert display_check.display_problem({"DISPLAY": ":0"}) is None


def test_the_real_plugin_is_checked_with_the_dynamic_linker() -> None:
    """On this machine the set-up installed the X libraries: nothing is missing (the assertion that fails
    when scripts/run-tests.sh's ensure_gui_packages did not run)."""
    assert display_check.missing_libraries("xcb") == []


@pytest.mark.skipif(not ENTRY.exists(), reason="csvdrop-gui is not installed in .venv")
def test_the_entry_point_exits_with_the_message_not_a_qt_abort() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}  # no DISPLAY, no QT_QPA_PLATFORM
    proc = subprocess.run(
        [sys.executable, "-m", "gui"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ENTRY.parents[2],
    )
    assert proc.returncode == 3, proc.stderr
    assert "no display to open the window on" in proc.stderr
    assert "Aborted" not in proc.stderr and "Traceback" not in proc.stderr
