"""`csvdrop stack up | down | status | logs`: the local cloud (LocalStack + MySQL) as processes or docker compose."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from backend.cli._common import OrderedGroup, print_json, say, terminal_console, with_settings
from backend.config import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from backend.stack import ServiceStatus

EXIT_SERVICE_DOWN = 3


@click.group("stack", cls=OrderedGroup)
def stack_group() -> None:
    """Start, stop and check the local cloud (LocalStack + MySQL).

    The services run as plain processes (no Docker needed), or with docker compose when Docker runs."""


@stack_group.command("up")
@with_settings
def stack_up_command(settings: Settings) -> int:
    """Start the services that are not running (safe to repeat).

    When LocalStack starts empty, the objects kept in its S3 journal are put back and the environment that was
    set up is set up again."""
    from backend.environment import bring_up
    from backend.stack import stack_status

    started = time.monotonic()
    result = bring_up(settings, say)
    show_services(stack_status(settings))
    say(f"stack up in {time.monotonic() - started:.1f} s")
    # The services run, but the environment they held is not whole again: say so in the exit code too.
    return 0 if result.ready else 1


@stack_group.command("down")
@with_settings
def stack_down_command(settings: Settings) -> int:
    """Stop the services csvdrop started (S3 writes are paused first; every acknowledged upload is on disk)."""
    from backend.stack import stack_down

    stack_down(settings, say)
    return 0


@stack_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="The services as a JSON list.")
@with_settings
def stack_status_command(settings: Settings, *, as_json: bool) -> int:
    """Show whether each service answers (exit code 3 when one does not)."""
    from backend.stack import stack_status

    services = stack_status(settings)
    if as_json:
        print_json([dataclasses.asdict(service) for service in services])
    else:
        show_services(services)
    return 0 if all(service.healthy for service in services) else EXIT_SERVICE_DOWN


@stack_group.command("logs")
@click.option(
    "--service",
    type=click.Choice(["localstack", "mysql"]),
    default="localstack",
    show_default=True,
    help="Whose log to print.",
)
@click.option("--lines", type=int, default=50, show_default=True, help="How many lines from the end.")
@with_settings
def stack_logs_command(settings: Settings, *, service: str, lines: int) -> int:
    """Print the end of a service's log file."""
    from backend.stack import stack_logs

    path, text = stack_logs(settings, service, lines)
    say(f"==> {path} <==\n{text}")
    return 0


def show_services(services: Sequence[ServiceStatus]) -> None:
    console = terminal_console()
    if console is None:
        for service in services:
            light = "healthy" if service.healthy else "DOWN"
            managed = "managed by csvdrop" if service.managed else "external"
            say(f"{service.name:<11} {light:<8} {service.endpoint:<28} {managed:<19} {service.detail}")
    else:
        _service_table(console, services)


def _service_table(console: Console, services: Sequence[ServiceStatus]) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD)
    for heading in ("SERVICE", "STATE", "ENDPOINT", "STARTED BY", "DETAIL"):
        table.add_column(heading)
    for service in services:
        light = Text("healthy", style="green") if service.healthy else Text("DOWN", style="bold red")
        table.add_row(
            service.name, light, service.endpoint, "csvdrop" if service.managed else "external", service.detail
        )
    console.print(table)


COMMANDS: tuple[click.Command, ...] = (stack_group,)
