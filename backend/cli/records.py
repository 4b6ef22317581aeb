"""`csvdrop list` and `csvdrop show`: the metadata records, for people and (with --json) for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from backend.cli._common import CommandLineError, print_json, say, terminal_console, with_settings
from backend.config import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from backend.store import MetadataRecord

LIST_COLUMNS = ("STATUS", "WARN", "ROWS", "COLS", "SIZE", "UPLOADED (UTC)", "KEY")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, one line per record.")
@click.option(
    "--status",
    type=click.Choice(["PROCESSED", "FAILED", "MISSING"]),
    help="Only records with this status (FAILED includes MISSING: records whose object is gone).",
)
@click.option(
    "--warnings",
    is_flag=True,
    help="Only files processed with warnings (status PROCESSED, non-empty warnings).",
)
@click.option("--name", metavar="TEXT", help="Only keys that contain this text (any case).")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many records (1-10000).")
@click.option(
    "--sort",
    default="uploaded_at",
    show_default=True,
    metavar="FIELD",
    shell_complete=lambda _context, _parameter, incomplete: _sort_keys_starting(incomplete),
    help="Record field to sort by, e.g. file_name, size_bytes, row_count, processed_at.",
)
@click.option("--ascending", is_flag=True, help="Smallest/oldest first (default: newest first).")
@with_settings
def list_command(
    settings: Settings,
    *,
    as_json: bool,
    status: str | None,
    warnings: bool,
    name: str | None,
    limit: int,
    sort: str,
    ascending: bool,
) -> int:
    """List metadata records, newest upload first."""
    from backend.store import RecordQuery, open_reader

    try:
        query = RecordQuery(
            status=status, with_warnings=warnings, name_contains=name, limit=limit, sort=sort, descending=not ascending
        )
    except ValueError as exc:  # the query names what it accepts (every sortable field, the limit's range)
        raise CommandLineError(str(exc)) from exc
    reader = open_reader(settings)
    try:
        page = reader.list(query)
        total = page.total if page.total >= 0 else reader.count(query)
    finally:
        reader.close()
    if as_json:
        for record in page.records:
            print_json(record.to_json_dict(), indent=None)
        return 0
    if not page.records:
        filtered = status or warnings or name
        say("no records match" if filtered else "no records yet: upload a CSV with `csvdrop upload FILE`")
        return 0
    console = terminal_console()
    if console is None:
        for line in list_lines(page.records, total):
            say(line)
    else:
        _record_table(console, page.records, total)
    return 0


def _sort_keys_starting(prefix: str) -> list[str]:
    """For shell completion only: the store package is imported when asked, not whenever the CLI starts."""
    from backend.store import SORT_KEYS

    return [key for key in SORT_KEYS if key.startswith(prefix)]


def _cells(record: MetadataRecord) -> tuple[str, str, str, str, str, str, str]:
    return (
        record.status,
        str(len(record.warnings)) if record.warnings else "-",
        "-" if record.row_count is None else str(record.row_count),
        "-" if record.column_count is None else str(record.column_count),
        str(record.size_bytes),
        record.uploaded_at.strftime("%Y-%m-%d %H:%M:%S") if record.uploaded_at else "-",
        record.key,
    )


def list_lines(records: Sequence[MetadataRecord], total: int) -> list[str]:
    """The plain table: aligned columns, the key last (it may hold spaces), then "N of M records"."""
    return [
        _plain_row(LIST_COLUMNS),
        *(_plain_row(_cells(record)) for record in records),
        f"{len(records)} of {total} records",
    ]


def _plain_row(cells: Sequence[str]) -> str:
    status, warned, rows, cols, size, uploaded, key = cells
    return f"{status:<10} {warned:>4} {rows:>9} {cols:>5} {size:>10}  {uploaded:<19}  {key}"


def _record_table(console: Console, records: Sequence[MetadataRecord], total: int) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, caption=f"{len(records)} of {total} records")
    for heading in LIST_COLUMNS:
        numeric = heading in ("WARN", "ROWS", "COLS", "SIZE")
        if heading == "KEY":  # the one column that gives way on a narrow terminal: whole, over several lines
            table.add_column(heading, overflow="fold")
        else:
            table.add_column(heading, justify="right" if numeric else "left", no_wrap=True)
    for record in records:
        status, *middle, key = _cells(record)
        style = "red" if record.status != "PROCESSED" else ("yellow" if record.warnings else "green")
        table.add_row(Text(status, style=style), *middle, key)
    console.print(table)


@click.command("show")
@click.argument("key")
@click.option("--bucket", help="The bucket the key is in (default: the configured bucket).")
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")
@with_settings
def show_command(settings: Settings, *, key: str, bucket: str | None, as_json: bool) -> int:
    """Show one file's metadata.

    Its warnings with their lines, the skipped lines, the full dialect and the column profiles."""
    from backend.store import open_reader

    bucket = bucket or settings.bucket
    reader = open_reader(settings)
    try:
        record = reader.get(bucket, key)
    finally:
        reader.close()
    if record is None:
        raise CommandLineError(f"no metadata for s3://{bucket}/{key} (not uploaded, or not processed yet)")
    if as_json:
        print_json(record.to_json_dict())
        return 0
    for line in show_lines(record):
        say(line)
    return 0


def _char(value: str | None) -> str:
    """A dialect character as a Python literal, so tabs, spaces and backslashes are visible."""
    return "none" if value is None else repr(value)


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def show_lines(record: MetadataRecord) -> list[str]:
    """`csvdrop show KEY` for people: the record's facts, its warnings with their lines, what was skipped, the
    full dialect, then the columns."""
    data = record.to_json_dict()
    out: list[str] = []
    for key in ("bucket", "key", "status", "error"):
        out.append(f"{key:<20} {data.get(key)}")
    if record.warnings:
        out.append(f"warnings ({len(record.warnings)}, processed with warnings):")
        for warning in record.warnings:
            where = f" ({warning.lines_text})" if warning.lines else ""
            out.append(f"  [{warning.code}] {warning.message}{where}")
    elif record.status == "PROCESSED":
        out.append(f"{'warnings':<20} none")
    for key in (
        "size_bytes",
        "sha256",
        "has_header",
        "header_line",
        "row_count",
        "column_count",
        "duplicate_row_count",
        "uploaded_at",
        "processed_at",
    ):
        out.append(f"{key:<20} {data.get(key)}")
    if record.status == "PROCESSED":
        skipped = record.skipped_lines
        if skipped is None:
            out.append(f"{'skipped lines':<20} unknown")
        else:
            out.append(
                f"{'skipped lines':<20} preamble={skipped.preamble} footnotes={skipped.footnotes} "
                f"comments={skipped.comments} empty_rows={skipped.empty_rows} "
                f"blank_lines={skipped.blank_lines}"
            )
        out.append("dialect:")
        line_ends = {"\n": "LF (\\n)", "\r\n": "CRLF (\\r\\n)", "\r": "CR (\\r)"}
        for name, value in (
            ("encoding", f"{record.encoding}{' with BOM' if record.has_bom else ''}"),
            ("delimiter", _char(record.delimiter)),
            ("quote_char", _char(record.quote_char)),
            ("escape_char", _char(record.escape_char)),
            ("double_quote", _yes_no(record.double_quote)),
            ("skip_initial_space", _yes_no(record.skip_initial_space)),
            ("line_terminator", line_ends.get(record.line_terminator or "", str(record.line_terminator))),
        ):
            out.append(f"  {name:<18} {value}")
    if record.columns:
        out.append("columns:")
    for column in data.get("columns") or []:
        out.append(
            f"  {column['name']!s:<30} {column['type']:<9} nulls={column['null_count']} "
            f"distinct={column['distinct_count']} min={column.get('min')} max={column.get('max')}"
        )
    return out


COMMANDS: tuple[click.Command, ...] = (list_command, show_command)
