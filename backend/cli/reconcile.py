"""`csvdrop reconcile`: objects in the bucket without an up-to-date record are sent through the function again;
records whose object is gone are marked MISSING."""

from __future__ import annotations

import click

from backend.cli._common import say, with_settings
from backend.config import Settings


@click.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Only count what would be re-processed or marked MISSING.")
@with_settings
def reconcile_command(settings: Settings, *, dry_run: bool) -> int:
    """Re-process S3 objects without an up-to-date record, mark records of gone objects MISSING (safe any time)."""
    from backend.reconcile import describe_gone, reconcile

    report = reconcile(settings, dry_run=dry_run, on_message=say)
    say(f"{report.objects} objects, {report.missing} without an up-to-date record, {report.redriven} re-processed")
    gone = describe_gone(report, dry_run=dry_run)
    if gone:
        say(gone)
    return 0


COMMANDS: tuple[click.Command, ...] = (reconcile_command,)
