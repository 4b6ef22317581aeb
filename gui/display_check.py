"""Can Qt open a window here? Asked before the QApplication exists.

Qt aborts (SIGABRT) when its platform plugin cannot load, with a message that blames the installation
("Reinstalling the application may fix this problem") rather than the missing system library. PySide6's xcb
plugin needs X libraries that a fresh Debian/Ubuntu machine may lack (libxcb-cursor0, libxcb-icccm4,
libxcb-keysyms1, ...). This check names what is missing and the command that installs it, so
``csvdrop-gui`` can exit with that instead of Qt's abort.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"})


def _qt_dir() -> Path | None:
    try:
        import PySide6
    except ImportError:  # pragma: no cover - the app cannot run at all then
        return None
    return Path(PySide6.__file__).resolve().parent / "Qt"


def missing_libraries(platform: str = "xcb") -> list[str]:
    """Shared libraries (sonames) that the platform plugin needs and the dynamic linker cannot find."""
    qt = _qt_dir()
    ldd = shutil.which("ldd")
    if qt is None or ldd is None:
        return []
    names = {
        "xcb": ["plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6"],
        "wayland": ["plugins/platforms/libqwayland.so", "lib/libQt6WaylandClient.so.6"],
    }[platform]
    missing: list[str] = []
    for name in names:
        path = qt / name
        if not path.exists():
            continue
        result = subprocess.run([ldd, str(path)], capture_output=True, text=True, check=False, timeout=30)
        for line in result.stdout.splitlines():
            m = re.match(r"\s*(\S+) => not found", line)
            if m and m.group(1) not in missing:
                missing.append(m.group(1))
    return missing


def debian_package(soname: str) -> str:
    """Debian's package for a library soname: libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 ->
    libxkbcommon-x11-0 (a '-' when the name itself ends in a digit)."""
    m = re.fullmatch(r"(.+)\.so\.(\d+)(?:\..*)?", soname)
    if not m:
        return soname
    base, version = m.group(1), m.group(2)
    return f"{base}-{version}" if base[-1].isdigit() else f"{base}{version}"


def display_problem(env: Mapping[str, str]) -> str | None:
    """A message saying why no window can open here and what to do, or None when one can."""
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip()
    if platform in HEADLESS_PLATFORMS:
        return None
    if platform not in ("", "xcb", "wayland"):
        return None  # a platform we do not know: let Qt say
    wayland = bool(env.get("WAYLAND_DISPLAY")) and platform in ("", "wayland")
    x11 = bool(env.get("DISPLAY")) and platform in ("", "xcb")
    if not wayland and not x11:
        which = {"xcb": "DISPLAY is not set", "wayland": "WAYLAND_DISPLAY is not set"}.get(
            platform, "neither DISPLAY nor WAYLAND_DISPLAY is set"
        )
        return (
            f"csvdrop-gui: no display to open the window on ({which}). Run it from a desktop session, "
            "or set QT_QPA_PLATFORM=offscreen for a headless run."
        )
    if wayland and not missing_libraries("wayland"):
        return None
    missing = missing_libraries("xcb") if x11 else missing_libraries("wayland")
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
    return (
        f"csvdrop-gui: the window cannot open: Qt's {'X11 (xcb)' if x11 else 'Wayland'} platform plugin needs "
        f"system libraries that are not installed: {', '.join(missing)}.\n"
        f"On Debian or Ubuntu install them with:\n    sudo apt-get install {packages}\n"
        "(./scripts/run-app.sh installs them by itself.) Then start csvdrop-gui again."
    )


def main() -> int:
    """``python -m gui.display_check``: the Debian packages the X11 plugin lacks, one per line (for set-up)."""
    for package in dict.fromkeys(debian_package(s) for s in missing_libraries("xcb")):
        print(package)
    return 0


if __name__ == "__main__":
    sys.exit(main())
