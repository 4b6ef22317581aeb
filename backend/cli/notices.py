"""`csvdrop notices`: completion and failure notices from the app's queue (read and removed from it)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from backend.cli._common import print_json, say, terminal_console, with_settings
from backend.config import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from backend.notices import Notice


@click.command("notices")
@click.option("--follow", "-f", is_flag=True, help="Keep waiting for new notices (Ctrl-C to stop).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, one line per notice.")
@with_settings
def notices_command(settings: Settings, *, follow: bool, as_json: bool) -> int:
    """Print completion and failure notices, oldest first."""
    from backend.notices import NoticeReader

    console = None if as_json else terminal_console()
    reader = NoticeReader(settings)
    try:
        while True:
            for notice in reversed(reader.receive(wait_seconds=2 if follow else 1)):
                if as_json:
                    print_json(notice_json(notice), indent=None)
                elif console is None:
                    say(f"{notice.sent_at:%H:%M:%S} {notice.status:<9} {notice.summary}")
                else:
                    _print_coloured(console, notice)
            if not follow:
                return 0
    finally:
        reader.close()


def notice_json(notice: Notice) -> dict[str, object]:
    return {**dataclasses.asdict(notice), "sent_at": notice.sent_at.isoformat()}


def _print_coloured(console: Console, notice: Notice) -> None:
    from rich.text import Text

    style = "red" if notice.status != "PROCESSED" else ("yellow" if notice.has_warnings else "green")
    console.print(Text.assemble(f"{notice.sent_at:%H:%M:%S} ", (f"{notice.status:<9}", style), f" {notice.summary}"))


COMMANDS: tuple[click.Command, ...] = (notices_command,)
