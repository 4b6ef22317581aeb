"""`csvdrop config`: the effective settings (defaults, then the config file, then CSVDROP_* variables)."""

from __future__ import annotations

from typing import Any

import click

from backend.cli._common import print_json, say, terminal_console, with_settings
from backend.config import Settings


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="The settings as one JSON object.")
@with_settings
def config_command(settings: Settings, *, as_json: bool) -> int:
    """Print the effective settings (never secrets)."""
    shown = effective_settings(settings)
    if as_json:
        print_json(shown)
        return 0
    console = terminal_console()
    if console is None:
        width = max(map(len, shown))
        for key, value in shown.items():
            say(f"{key:<{width}}  {value}")
        return 0
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, caption=f"from defaults, {settings.config_path} and CSVDROP_* variables")
    table.add_column("SETTING", style="bold")
    table.add_column("VALUE", overflow="fold")
    for key, value in shown.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)
    return 0


def effective_settings(settings: Settings) -> dict[str, Any]:
    """The public settings plus the endpoint boto3 really uses (None on real AWS)."""
    shown = settings.public_dict()
    shown["endpoint_url"] = settings.endpoint_url
    return shown


COMMANDS: tuple[click.Command, ...] = (config_command,)
