"""``csvdrop-gui``: the desktop window.

``--quit-after MS`` (or ``CSVDROP_GUI_QUIT_AFTER=MS``) closes the window after that long: a smoke test.
Unexpected exceptions are logged and shown in a dialog instead of a traceback (as Vorta's __main__ does).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from backend.config import ConfigError, Settings, default_config_path, load_settings

log = logging.getLogger("gui")
QUIT_ENV = "CSVDROP_GUI_QUIT_AFTER"


def setup_logging(settings: Settings | None) -> Path | None:
    """Log to ``<state_dir>/logs/gui.log`` (rotated); warnings also to stderr."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("csvdrop-gui: %(levelname)s %(message)s"))
    root.addHandler(console)
    if settings is None:
        return None
    path = settings.state_dir / "logs" / "gui.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


class ExceptHook:
    """Log unexpected exceptions and show them in a dialog; never re-enter while the dialog is open."""

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path
        self._showing = False

    def __call__(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        log.error("unexpected error:\n%s", details)
        app = QApplication.instance()
        if self._showing or not isinstance(app, QApplication):
            return
        self._showing = True
        try:
            box = QMessageBox(app.activeWindow())
            box.setIcon(QMessageBox.Icon.Critical)
            box.setWindowTitle("CSV Drop — something went wrong")
            box.setText("CSV Drop hit an unexpected problem. Your uploads and settings are not affected.")
            where = f"\n\nThe details are also in {self.log_path}." if self.log_path else ""
            box.setInformativeText(f"{kind.__name__}: {value}{where}")
            box.setDetailedText(details)
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
            box.exec()
        finally:
            self._showing = False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="csvdrop-gui", description="CSV Drop desktop window.")
    parser.add_argument(
        "--quit-after",
        type=int,
        metavar="MS",
        default=int(os.environ.get(QUIT_ENV) or 0) or None,
        help=f"close after MS milliseconds (smoke test; also ${QUIT_ENV})",
    )
    parser.add_argument("--config", type=Path, help="config file to use instead of the default")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        from gui.display_check import display_problem

        no_window = display_problem(os.environ)
        if no_window:  # Qt would abort with a message about reinstalling; say what is missing instead
            print(no_window, file=sys.stderr)
            return 3
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("CSV Drop")
    app.setOrganizationName("csvdrop")
    app.setDesktopFileName("csvdrop")
    app.setStyle("Fusion")

    from gui import style

    app.setWindowIcon(style.app_icon())

    settings: Settings | None = None
    problem = ""
    try:
        settings = load_settings(**({"config_path": args.config} if args.config else {}))
    except ConfigError as exc:
        problem = str(exc)
    log_path = setup_logging(settings)
    sys.excepthook = ExceptHook(log_path)

    if settings is None:
        # A broken config file: say which setting is wrong, then run on defaults without touching the file.
        broken = args.config or Path(os.environ.get("CSVDROP_CONFIG") or default_config_path())
        settings = Settings(config_path=broken.with_name("config.invalid-fallback.toml"))
        log.warning("config problem: %s", problem)

    from gui.main_window import MainWindow

    window = MainWindow(settings)
    if problem:
        window.banners.show_message(
            "config", "error", f"The settings could not be read: {problem} Using the defaults for now."
        )
    window.show()
    if args.quit_after:
        QTimer.singleShot(max(0, args.quit_after), window.close)
    code = app.exec()
    stopped = window.shutdown()
    logging.shutdown()
    if not stopped:
        # A worker is still inside a network call; leaving now is safe, waiting on it is not.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
