"""`csvdrop setup` and `csvdrop teardown`: the provisioning plans, run by the one step runner.

Both follow its rule: steps run in order and the first failed step stops the plan; the steps after it are
shown as not run. On a terminal the plan is a live table with a spinner on the running step; otherwise each
step is one line that starts with its status symbol (scripts and tests read those).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from backend.cli._common import CommandLineError, say, stdin_is_terminal, terminal_console, with_settings
from backend.config import Settings

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.spinner import Spinner
    from rich.table import Table

    from backend.steps import PlanOutcome, Status, Step, StepEvent, StepResult

# backend.steps (through boto3) takes seconds to import: it is imported when a plan runs, so that `--help` and
# shell completion, which load every command module, stay quick.

# One symbol per step status (a test checks that backend.steps.STATUSES has no status without one).
STEP_SYMBOLS: dict[Status, str] = {
    "created": "+",
    "found": "=",
    "updated": "~",
    "failed": "!",
    "skipped": "-",
    "removed": "x",
    "absent": ".",
    "passed": "✓",
}
STEP_STYLES: dict[Status, str] = {
    "created": "green",
    "found": "cyan",
    "updated": "yellow",
    "failed": "bold red",
    "skipped": "dim",
    "removed": "magenta",
    "absent": "dim",
    "passed": "bold green",
}
NOT_RUN_SYMBOL = "○"
PENDING_SYMBOL = "·"


@click.command("setup")
@click.option("--notify-email", metavar="ADDRESS", help="Also send notices to this email address.")
@with_settings
def setup_command(settings: Settings, *, notify_email: str | None) -> int:
    """Create or repair the whole environment (safe to repeat).

    Step by step: bucket, credentials, metadata database, notices, function, trigger (S3 -> Lambda, or S3 -> SQS
    -> Lambda in batches with the setting trigger = "queue"), then a smoke test that sends a tiny CSV end to end.
    The first failed step stops the plan."""
    from backend.provisioning import setup_steps

    outcome = run_plan(setup_steps(settings, notify_email))
    if outcome.ok:
        say("environment ready")
        return 0
    say("setup failed: fix the step above and run `csvdrop setup` again (it is safe to repeat)")
    return 1


@click.command("teardown")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when stdin is not a terminal).")
@with_settings
def teardown_command(settings: Settings, *, yes: bool) -> int:
    """Remove everything setup created.

    That is the bucket with every object in it, the function, the topic, the queues and the metadata
    database. Asks first unless --yes is given; without a terminal to ask on, --yes is required."""
    from backend.provisioning import teardown_steps

    if not yes:
        if not stdin_is_terminal():
            raise CommandLineError("teardown deletes the bucket, its objects and the metadata: pass --yes to confirm")
        answer = click.prompt(
            f"Delete s3://{settings.bucket} with every object, the function, the topic, queues and "
            f"the metadata database '{settings.mysql_database}'? Type 'yes'",
            default="",
            show_default=False,
        )
        if answer.strip().lower() != "yes":
            say("nothing removed")
            return 1
    outcome = run_plan(teardown_steps(settings))
    if outcome.ok:
        say("everything setup created is removed")
        return 0
    say("teardown stopped: fix the step above and run `csvdrop teardown` again (it is safe to repeat)")
    return 1


def run_plan(steps: Sequence[Step]) -> PlanOutcome:
    from backend.steps import run_steps

    console = terminal_console()
    if console is None:
        return run_steps(steps, PlainStepLines())
    from rich.live import Live

    table = LiveStepTable()
    with Live(table, console=console, refresh_per_second=10):
        return run_steps(steps, table)


class PlainStepLines:
    """A line per step as it ends: symbol, title, status, detail and time; then a line per step not run."""

    def __init__(self) -> None:
        self.title_width = 0

    def __call__(self, event: StepEvent) -> None:
        from backend.steps import PlanStarted, StepFinished, StepNotRun

        if isinstance(event, PlanStarted):
            self.title_width = max(map(len, event.titles), default=0)
        elif isinstance(event, StepFinished):
            result = event.result
            say(
                f"{STEP_SYMBOLS[result.status]} {event.title:<{self.title_width}} {result.status:<8} "
                f"{result.detail}  ({result.seconds:.1f} s)"
            )
        elif isinstance(event, StepNotRun):
            say(f"{NOT_RUN_SYMBOL} {event.title:<{self.title_width}} not run  ({event.reason})")


@dataclass
class _Row:
    title: str
    result: StepResult | None = None
    spinner: Spinner | None = None  # while the step runs; one instance, so its animation does not restart
    not_run_reason: str | None = None


class LiveStepTable:
    """The plan as a table that rich's Live redraws: every step from the start, a spinner on the running one.

    Events arrive on the thread running the plan while Live renders on its own, hence the lock."""

    def __init__(self) -> None:
        self._rows: list[_Row] = []
        self._lock = threading.Lock()

    def __call__(self, event: StepEvent) -> None:
        from backend.steps import PlanStarted, StepFinished, StepNotRun, StepStarted

        with self._lock:
            if isinstance(event, PlanStarted):
                self._rows = [_Row(title) for title in event.titles]
            elif isinstance(event, StepStarted):
                from rich.spinner import Spinner

                self._rows[event.index].spinner = Spinner("dots", style="cyan")
            elif isinstance(event, StepFinished):
                self._rows[event.index].spinner = None
                self._rows[event.index].result = event.result
            elif isinstance(event, StepNotRun):
                self._rows[event.index].not_run_reason = event.reason

    def __rich__(self) -> Table:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("", width=1)
        table.add_column("STEP", no_wrap=True)
        table.add_column("STATUS", no_wrap=True)
        table.add_column("DETAIL", overflow="fold")
        table.add_column("TIME", justify="right", no_wrap=True)
        with self._lock:
            for row in self._rows:
                symbol: RenderableType
                if row.result is not None:
                    style = STEP_STYLES[row.result.status]
                    symbol = Text(STEP_SYMBOLS[row.result.status], style=style)
                    status = Text(row.result.status, style=style)
                    detail, seconds = Text(row.result.detail), f"{row.result.seconds:.1f} s"
                elif row.spinner is not None:
                    symbol, status, detail, seconds = row.spinner, Text("running", style="cyan"), Text(""), ""
                elif row.not_run_reason is not None:
                    symbol, status = Text(NOT_RUN_SYMBOL, style="dim"), Text("not run", style="dim")
                    detail, seconds = Text(row.not_run_reason, style="dim"), ""
                else:
                    symbol, status, detail, seconds = Text(PENDING_SYMBOL, style="dim"), Text(""), Text(""), ""
                table.add_row(symbol, row.title, status, detail, seconds)
        return table


COMMANDS: tuple[click.Command, ...] = (setup_command, teardown_command)
