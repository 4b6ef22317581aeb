"""`csvdrop`: the command line. Every command prints a clear message and exits non-zero on failure;
no traceback reaches the user (run with CSVDROP_DEBUG=1 to see one)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from backend.config import ConfigError, Settings, load_settings

LOG = logging.getLogger("csvdrop")


class UserError(Exception):
    """An error whose message is meant for the user as it is."""


def _say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- stack
def cmd_stack(settings: Settings, args: argparse.Namespace) -> int:
    from backend import stack

    if args.action == "up":
        started = time.monotonic()
        from backend.environment import bring_up

        bring_up(settings, _say)
        _print_status(stack.stack_status(settings))
        _say(f"stack up in {time.monotonic() - started:.1f} s")
        return 0
    if args.action == "down":
        stack.stack_down(settings, _say)
        return 0
    if args.action == "status":
        statuses = stack.stack_status(settings)
        if args.json:
            print(json.dumps([s.__dict__ for s in statuses], indent=2))
        else:
            _print_status(statuses)
        return 0 if all(s.healthy for s in statuses) else 3
    path, text = stack.stack_logs(settings, args.service, args.lines)
    _say(f"==> {path} <==\n{text}")
    return 0


def _print_status(statuses: Sequence[Any]) -> None:
    for s in statuses:
        light = "healthy" if s.healthy else "DOWN"
        managed = "managed by csvdrop" if s.managed else "external"
        _say(f"{s.name:<11} {light:<8} {s.endpoint:<28} {managed:<19} {s.detail}")


# ---------------------------------------------------------------- config
def cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    public = settings.public_dict()
    public["endpoint_url"] = settings.endpoint_url
    if args.json:
        print(json.dumps(public, indent=2, default=str))
    else:
        width = max(map(len, public))
        for key, value in public.items():
            _say(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csvdrop", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", help="start/stop the local cloud (LocalStack + MySQL, no Docker needed)")
    p.add_argument("action", choices=["up", "down", "status", "logs"])
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.add_argument("--service", choices=["localstack", "mysql"], default="localstack", help="for logs")
    p.add_argument("--lines", type=int, default=50, help="for logs")
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("config", help="print the effective settings (never secrets)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Commands defined in other modules register themselves here (keeps this file about parsing and errors).
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("CSVDROP_LOG_LEVEL", "WARNING"), format="%(levelname)s %(message)s")
    from backend import cli_commands  # noqa: F401  (registers setup/upload/list/... commands)

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        code: int = args.func(settings, args)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ConfigError) as exc:
        print(f"csvdrop: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # every error reaches the user as a message, never as a traceback
        if os.environ.get("CSVDROP_DEBUG"):
            raise
        LOG.debug("unexpected error", exc_info=True)
        print(f"csvdrop: {exc}", file=sys.stderr)
        return 1


def path_arg(text: str) -> Path:
    return Path(text).expanduser()


if __name__ == "__main__":
    sys.exit(main())
