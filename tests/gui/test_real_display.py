"""The real window on a real X display, driven as a person would.

An X server of the test's own (Xvfb), the installed ``csvdrop-gui`` started with DISPLAY and no
QT_QPA_PLATFORM (as ./scripts/run-app.sh starts it: Qt picks its xcb plugin), real key events through the X
server (xdotool: Ctrl+O, a typed path, Enter), the real stack behind it. The file's record must reach MySQL
and the window's file list (its log says what the list shows), and a screenshot of the X screen must hold the
window's pixels. scripts/run-tests.sh installs Xvfb, xdotool and x11-apps (xwd) with the window's libraries.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.config import Settings, save_settings
from backend.store import open_reader
from backend.upload import object_key_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / ".venv" / "bin" / "csvdrop-gui"
SCREEN = (1280, 800)


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: scripts/run-tests.sh installs it (Debian package {package})"
    return found


@pytest.fixture
def display() -> Iterator[str]:
    xvfb = tool("Xvfb", "xvfb")
    number = next(
        n for n in range(90, 400) if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists()
    )
    server = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("the X server", lambda: Path(f"/tmp/.X11-unix/X{number}").exists() or server.poll() is not None, 20)
        assert server.poll() is None, "Xvfb exited at start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def xdotool(display: str, *args: str) -> str:
    result = subprocess.run(
        [tool("xdotool", "xdotool"), *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def window_id(display: str, name: str) -> str:
    return xdotool(display, "search", "--onlyvisible", "--name", name).split("\n")[0]


def read_xwd(data: bytes) -> tuple[int, int, int, int, bytes]:
    """(width, height, bytes per pixel, bytes per line, BGR(X) pixels) of a ZPixmap XWD dump of Xvfb's screen."""
    header = struct.unpack(">25I", data[:100])
    header_size, _version, pixmap_format, _depth, width, height = header[:6]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = header[7], header[11], header[12], header[19]
    assert pixmap_format == 2 and byte_order == 0 and bits_per_pixel in (24, 32), header
    start = header_size + 12 * ncolors
    return width, height, bits_per_pixel // 8, bytes_per_line, data[start : start + height * bytes_per_line]


def screenshot(display: str, target: Path) -> tuple[int, int, int, int, bytes]:
    xwd = tool("xwd", "x11-apps")
    dump = subprocess.run(
        [xwd, "-root", "-silent", "-display", display], capture_output=True, timeout=60, check=True
    ).stdout
    width, height, depth, stride, pixels = read_xwd(dump)
    from PySide6.QtGui import QImage

    fmt = QImage.Format.Format_BGR888 if depth == 3 else QImage.Format.Format_RGB32
    assert QImage(pixels, width, height, stride, fmt).save(str(target))
    return width, height, depth, stride, pixels


def colours_in(pixels: bytes, depth: int, stride: int, box: tuple[int, int, int, int]) -> int:
    """Distinct colours in a grid of samples of the box (x, y, width, height)."""
    x, y, w, h = box
    seen = set()
    for row in range(y, y + h, 7):
        for col in range(x, x + w, 5):
            at = row * stride + col * depth
            seen.add(pixels[at : at + 3])
    return len(seen)


def test_run_command_opens_the_window_on_x_and_a_person_adds_a_file(
    provisioned: Settings, display: str, tmp_path: Path
) -> None:
    assert ENTRY.exists(), "csvdrop-gui is not installed in .venv"
    config = tmp_path / "config" / "config.toml"
    save_settings(provisioned.replace(config_path=config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "CSVDROP_", "WAYLAND"))}
    env.update(DISPLAY=display, CSVDROP_CONFIG=str(config), XDG_CONFIG_HOME=str(tmp_path / "config"))
    name = f"real-display-{uuid.uuid4().hex[:8]}.csv"
    csv_file = tmp_path / name
    csv_file.write_text("city,visitors\nOslo,120\nLima,95\nPerth,41\n", encoding="utf-8")
    key = object_key_for(provisioned, csv_file)
    log = provisioned.state_dir / "logs" / "gui.log"

    console = tmp_path / "csvdrop-gui.out"
    with console.open("w") as out:  # a file, not a pipe: the app's check workers would hold a pipe open
        app = subprocess.Popen([str(ENTRY)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        window = wait_for(
            "the CSV Drop window to be mapped", lambda: app.poll() is None and window_id(display, "^CSV Drop"), 60
        )
        assert app.poll() is None
        geometry = xdotool(display, "getwindowgeometry", "--shell", window)
        assert "WIDTH=" in geometry, geometry
        xdotool(display, "windowfocus", "--sync", window)
        wait_for(
            "the window's first load of the file list",
            lambda: log.exists() and "file list loaded" in log.read_text(encoding="utf-8", errors="replace"),
            60,
        )

        xdotool(display, "key", "--clearmodifiers", "ctrl+o")
        dialog = wait_for("the Add CSV files dialog", lambda: window_id(display, "^Add CSV files"), 30)
        xdotool(display, "windowfocus", "--sync", dialog)
        xdotool(display, "type", "--delay", "15", str(csv_file))
        xdotool(display, "key", "Return")

        reader = open_reader(provisioned)
        try:
            record = wait_for(f"the record of {key} in MySQL", lambda: reader.get(provisioned.bucket, key), 120)
        finally:
            reader.close()
        assert (record.status, record.row_count, record.column_count) == ("PROCESSED", 3, 2)
        wait_for(
            f"the window's file list to show {key}",
            lambda: f"file list shows {key}: PROCESSED" in log.read_text(encoding="utf-8", errors="replace"),
            60,
        )

        shot = tmp_path / "real-display.png"
        width, height, depth, stride, pixels = screenshot(display, shot)
        assert (width, height) == SCREEN and shot.stat().st_size > 10_000
        fields = dict(
            line.split("=", 1)
            for line in xdotool(display, "getwindowgeometry", "--shell", window).splitlines()
            if "=" in line
        )
        box = (int(fields["X"]), int(fields["Y"]), int(fields["WIDTH"]), int(fields["HEIGHT"]))
        assert box[2] >= 600 and box[3] >= 400, box
        inside = colours_in(
            pixels,
            depth,
            stride,
            (max(0, box[0]), max(0, box[1]), min(box[2], width - box[0]), min(box[3], height - box[1])),
        )
        outside = colours_in(pixels, depth, stride, (0, height - 20, width, 20)) if box[1] + box[3] < height - 20 else 1
        assert inside > 20, f"the window's area of the screen has {inside} colours: nothing drawn ({shot})"
        assert outside <= 3, f"the screen outside the window is not the bare X background ({shot})"
    finally:
        app.terminate()
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(20)
    output = console.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in output, output
    assert "could not load the Qt platform plugin" not in output.lower(), output
