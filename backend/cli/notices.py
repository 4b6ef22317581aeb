"""`csvdrop notices`: completion and failure notices from this terminal's own queue (read and removed from it).

The command's queue is its own, not the window's: every reader gets every notice (backend.notices). What it says
about the queue (created just now, notices missed) goes to stderr, so that stdout stays the notices alone.
"""

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
    """Print completion and failure notices, oldest first.

    Each run prints what completed since the last run on this machine (up to 4 days back); the window and
    other terminals get the same notices from queues of their own.
    """
    from backend.notices import NoticeReader, ReaderQueue

    console = None if as_json else terminal_console()
    opened: list[ReaderQueue] = []

    def on_open(queue: ReaderQueue) -> None:
        opened.append(queue)
        if queue.note:
            click.echo(queue.note, err=True)

    reader = NoticeReader(settings, kind="cli", on_open=on_open)
    try:
        first = True
        while True:
            received = reader.receive(wait_seconds=2 if follow else 1)
            if follow and first:  # the queue is subscribed now: what completes from here on will be printed
                where = f" on queue {opened[-1].name}" if opened else ""
                click.echo(f"following notices{where} (Ctrl-C to stop)", err=True)
            first = False
            for notice in reversed(received):
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
