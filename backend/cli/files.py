"""`csvdrop get | rm | reprocess | logs | url`: what a desktop S3 client does to a file in the list.

KEY is the object's key in the configured bucket, or ``s3://BUCKET/KEY``. Commands that take several keys print
one line per key and exit 1 when one of them did not work out; the others are still done.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend.cli._common import (
    CommandLineError,
    print_json,
    say,
    stdin_is_terminal,
    terminal_console,
    with_settings,
)
from backend.config import Settings

if TYPE_CHECKING:
    from backend.files import ProgressCallback

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in "90", "90s", "15m", "1h30m", "2d" or "1w"; ValueError otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return float(cleaned)
    if not cleaned or _DURATION_PART.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 15m, 1h30m or 2d")
    return sum(float(number) * _UNITS[unit] for number, unit in _DURATION_PART.findall(cleaned))


class Duration(click.ParamType[float, object]):
    name = "DURATION"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def objects_named(settings: Settings, arguments: Sequence[str]) -> list[tuple[str, str]]:
    """(bucket, key) of each KEY argument: a key in the configured bucket, or s3://BUCKET/KEY."""
    from backend.files import FileActionError, parse_object_argument

    try:
        return [parse_object_argument(argument, settings.bucket) for argument in arguments]
    except FileActionError as exc:
        raise CommandLineError(str(exc)) from exc


def _objects(count: int) -> str:
    return f"{count} object{'s' if count != 1 else ''}"


def confirmation_refused(yes: bool, interactive: bool) -> bool:
    """Deleting needs --yes when there is no terminal to ask on."""
    return not yes and not interactive


# ------------------------------------------------------------------------------------------ get
@click.command("get")
@click.argument("key")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The file to write, or a folder to save into (default: the current folder, under the key's name).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@with_settings
def get_command(settings: Settings, *, key: str, output: Path | None, force: bool) -> int:
    """Download a file from the bucket.

    The bytes go to a temporary file next to the target, renamed once complete: a failed download leaves no
    half file. An existing file is not replaced without --force."""
    from backend.files import TargetExists, download, s3_uri

    [(bucket, name)] = objects_named(settings, [key])
    cancel = threading.Event()
    with _download_progress(name) as on_progress:
        try:
            path = download(
                settings,
                bucket,
                name,
                output.expanduser() if output is not None else None,
                on_progress=on_progress,
                cancel=cancel,
                overwrite=force,
            )
        except TargetExists as exc:
            raise CommandLineError(f"{exc} (pass --force to replace it)") from exc
        except BaseException:
            cancel.set()  # Ctrl-C: the transfer's threads stop at their next chunk
            raise
    say(f"downloaded {s3_uri(bucket, name)} -> {path} ({path.stat().st_size:,} bytes)")
    return 0


@contextmanager
def _download_progress(key: str) -> Iterator[ProgressCallback | None]:
    """A progress bar on a terminal; nothing when piped (the result line is what scripts read)."""
    console = terminal_console()
    if console is None:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(key.rsplit("/", 1)[-1], total=None)
        yield lambda received, total: progress.update(task, completed=received, total=total)


# ------------------------------------------------------------------------------------------ rm
@click.command("rm")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when stdin is not a terminal).")
@click.option(
    "--wait",
    "wait_s",
    type=Duration(),
    default="30s",
    show_default=True,
    help="How long to wait for the records to disappear (0: do not wait).",
)
@with_settings
def rm_command(settings: Settings, *, keys: tuple[str, ...], yes: bool, wait_s: float) -> int:
    """Delete files and their metadata records.

    The function removes a record when S3 tells it the object was deleted; rm waits for that (--wait) and names
    any key whose record is still listed. Exits 1 when a key had no object, could not be deleted or kept its
    record; the other keys are still deleted."""
    from backend.files import delete_files, s3_uri

    named = objects_named(settings, keys)
    if confirmation_refused(yes, stdin_is_terminal()):
        raise CommandLineError(
            f"rm deletes {_objects(len(named))} and the metadata for good: "
            "pass --yes to confirm (there is no terminal to ask on)"
        )
    if not yes:
        shown = ", ".join(s3_uri(bucket, key) for bucket, key in named[:5])
        more = f" and {len(named) - 5} more" if len(named) > 5 else ""
        if not click.confirm(f"Delete {shown}{more} and the metadata records?", default=False):
            say("nothing deleted")
            return 1
    failed = 0
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in named:
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, bucket_keys in by_bucket.items():
        outcome = delete_files(settings, bucket_keys, bucket=bucket, wait_s=wait_s)
        for deleted in outcome.files:
            say(deleted.message)
        failed += sum(1 for deleted in outcome.files if not deleted.ok)
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------ reprocess
@click.command("reprocess")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@with_settings
def reprocess_command(settings: Settings, *, keys: tuple[str, ...]) -> int:
    """Run the function again on files as they are now.

    The fresh profile replaces the record. Exits 1 when a file is gone, got a FAILED record or the function
    failed on it."""
    from backend.files import reprocess

    failed = 0
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in objects_named(settings, keys):
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, bucket_keys in by_bucket.items():
        for outcome in reprocess(settings, bucket_keys, bucket=bucket):
            request = f" (request {outcome.request_id})" if outcome.request_id else ""
            say(f"{outcome.message}{request}")
            failed += not outcome.ok
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------ logs
@click.command("logs")
@click.argument("key")
@click.option("--since", type=Duration(), help="Only invocations in this last while, e.g. 15m, 2h, 3d.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="The newest N invocations.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per invocation, one per line.")
@with_settings
def logs_command(settings: Settings, *, key: str, since: float | None, limit: int, as_json: bool) -> int:
    """The function's log lines about a file.

    Every line of each invocation that processed it, oldest first, grouped per invocation. Exits 1 when no
    invocation names the file."""
    from backend.files import log_lines, s3_uri

    [(bucket, name)] = objects_named(settings, [key])
    start = datetime.now(UTC) - timedelta(seconds=since) if since is not None else None
    invocations = log_lines(settings, bucket, name, since=start, limit=limit)
    if not invocations:
        window = f" in the last {_spoken(since)}" if since is not None else ""
        say(f"no invocation of {settings.function_name} names {s3_uri(bucket, name)}{window}")
        return 1
    for invocation in invocations:
        if as_json:
            print_json(
                {
                    "request_id": invocation.request_id,
                    "time": invocation.started_at.isoformat(),
                    "log_stream": invocation.log_stream,
                    "lines": list(invocation.lines),
                },
                indent=None,
            )
            continue
        say(f"--- {invocation.started_at:%Y-%m-%d %H:%M:%S} UTC  request {invocation.request_id}")
        for line in invocation.lines:
            say(line)
    return 0


def _spoken(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# ------------------------------------------------------------------------------------------ url
@click.command("url")
@click.argument("key")
@click.option(
    "--expires", type=Duration(), default="1h", show_default=True, help="How long the link works (at most 7d)."
)
@click.option("--s3", "as_s3_uri", is_flag=True, help="Print the s3:// URI instead of a link.")
@with_settings
def url_command(settings: Settings, *, key: str, expires: float, as_s3_uri: bool) -> int:
    """Print a download link to a file, or its s3:// URI.

    The link (a presigned URL) works without credentials until it expires."""
    from backend.files import FileActionError, presigned_url, s3_uri

    [(bucket, name)] = objects_named(settings, [key])
    if as_s3_uri:
        say(s3_uri(bucket, name))
        return 0
    try:
        say(presigned_url(settings, bucket, name, expires_s=int(expires)))
    except FileActionError as exc:
        raise CommandLineError(str(exc)) from exc
    return 0


COMMANDS: tuple[click.Command, ...] = (get_command, rm_command, reprocess_command, logs_command, url_command)
