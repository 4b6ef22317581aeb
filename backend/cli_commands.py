"""Pipeline commands of `csvdrop`: setup, teardown, upload, list, show, notices, reconcile."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.cli import _EXTRA_COMMANDS, UserError, _say, path_arg
from backend.config import Settings

if TYPE_CHECKING:
    from backend.store import MetadataRecord

_ICON = {
    "created": "+",
    "found": "=",
    "updated": "~",
    "failed": "!",
    "skipped": "-",
    "removed": "x",
    "absent": ".",
    "passed": "✓",
}


# ---------------------------------------------------------------- setup / teardown
def cmd_setup(settings: Settings, args: argparse.Namespace) -> int:
    from backend.provisioning import setup_steps

    failed = False
    for step in setup_steps(settings, args.notify_email):
        if sys.stdout.isatty():
            print(f"  ... {step.title}", end="\r", flush=True)
        started = time.monotonic()
        result = step.run()
        _say(
            f"{_ICON[result.status]} {step.title:<44} {result.status:<8} {result.detail}"
            f"  ({time.monotonic() - started:.1f} s)"
        )
        if result.status == "failed":
            failed = True
            break
    _say(
        "setup failed: fix the step above and run `csvdrop setup` again (it is safe to repeat)"
        if failed
        else "environment ready"
    )
    return 1 if failed else 0


def cmd_teardown(settings: Settings, args: argparse.Namespace) -> int:
    from backend.provisioning import teardown_steps

    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError("teardown deletes the bucket, its objects and the metadata: pass --yes to confirm")
        answer = input(
            f"Delete s3://{settings.bucket} with every object, the function, the topic, queues and "
            f"the metadata database '{settings.mysql_database}'? Type 'yes': "
        )
        if answer.strip().lower() != "yes":
            _say("nothing removed")
            return 1
    code = 0
    for step in teardown_steps(settings):
        result = step.run()
        _say(f"{_ICON[result.status]} {step.title:<40} {result.status:<8} {result.detail}")
        code = 1 if result.status == "failed" else code
    return code


# ---------------------------------------------------------------- upload
class _TerminalProgress:
    def __init__(self, total_files: int) -> None:
        self.lock = threading.Lock()
        self.total_files = total_files
        self.tty = sys.stdout.isatty()

    def update(self, name: str, sent: int, total: int) -> None:
        if not self.tty:
            return
        with self.lock:
            pct = 100 * sent / total if total else 100
            print(f"\r  {name[:50]:<50} {pct:5.1f}% {sent / 1e6:8.2f}/{total / 1e6:.2f} MB", end="", flush=True)

    def line(self, text: str) -> None:
        with self.lock:
            if self.tty:
                print("\r" + " " * 90 + "\r", end="")
            print(text, flush=True)


def cmd_upload(settings: Settings, args: argparse.Namespace) -> int:
    from backend.store import open_reader
    from backend.upload import UploadError, object_key_for, upload_file
    from backend.validation import expand_paths, validate_file

    paths = expand_paths(args.files)
    if not paths:
        raise UserError("no CSV files found in what you named")
    progress = _TerminalProgress(len(paths))
    valid: list[Path] = []
    rejected = 0
    for path in paths:
        check = validate_file(path, settings.max_file_bytes)
        if check.ok:
            valid.append(path)
        else:
            rejected += 1
            progress.line(f"rejected {path}: {check.reason}")
    uploaded: dict[str, tuple[Path, str]] = {}
    failed = 0

    def one(path: Path) -> tuple[Path, Any]:
        result = upload_file(
            settings,
            path,
            key=object_key_for(settings, path),
            on_progress=lambda sent, total: progress.update(path.name, sent, total),
        )
        return path, result

    with ThreadPoolExecutor(max_workers=max(1, settings.parallel_uploads)) as pool:
        futures = [pool.submit(one, p) for p in valid]
        for future in as_completed(futures):
            try:
                path, result = future.result()
            except UploadError as exc:
                failed += 1
                progress.line(f"failed   {exc}")
                continue
            uploaded[result.key] = (path, result.etag)
            rate = result.size_bytes / 1e6 / result.seconds if result.seconds else 0
            progress.line(
                f"uploaded {path} -> s3://{settings.bucket}/{result.key} "
                f"({result.size_bytes / 1e6:.2f} MB, {rate:.1f} MB/s)"
            )
    if args.wait and uploaded:
        reader = open_reader(settings)
        try:
            pending = dict(uploaded)
            deadline = time.monotonic() + args.timeout
            while pending and time.monotonic() < deadline:
                for key, (path, etag) in list(pending.items()):
                    record = reader.get(settings.bucket, key)
                    if record is not None and record.etag == etag:
                        del pending[key]
                        if record.status == "PROCESSED":
                            warned = (
                                f", {len(record.warnings)} warning{'s' if len(record.warnings) != 1 else ''}"
                                f" (see `csvdrop show {key}`)"
                                if record.warnings
                                else ""
                            )
                            progress.line(
                                f"processed {path}: {record.row_count} rows x {record.column_count} columns{warned}"
                            )
                        else:
                            failed += 1
                            progress.line(f"FAILED   {path}: {record.error}")
                time.sleep(0.2)
            for key, (path, _) in pending.items():
                failed += 1
                progress.line(f"timeout  {path}: no record for s3://{settings.bucket}/{key} after {args.timeout} s")
        finally:
            reader.close()
    return 1 if (failed or rejected) else 0


# ---------------------------------------------------------------- list / show
def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from backend.store import RecordQuery, open_reader

    reader = open_reader(settings)
    try:
        page = reader.list(
            RecordQuery(
                status=args.status,
                with_warnings=args.warnings,
                name_contains=args.name,
                limit=args.limit,
                sort=args.sort,
                descending=not args.ascending,
            )
        )
    finally:
        reader.close()
    if args.json:
        for record in page.records:
            print(json.dumps(record.to_json_dict(), ensure_ascii=False, default=str))
        return 0
    if not page.records:
        filtered = args.status or args.warnings or args.name
        _say("no records match" if filtered else "no records yet: upload a CSV with `csvdrop upload FILE`")
        return 0
    _say(f"{'STATUS':<10} {'WARN':>4} {'ROWS':>9} {'COLS':>5} {'SIZE':>10}  {'UPLOADED (UTC)':<19}  KEY")
    for r in page.records:
        uploaded = r.uploaded_at.strftime("%Y-%m-%d %H:%M:%S") if r.uploaded_at else "-"
        rows = "-" if r.row_count is None else str(r.row_count)
        cols = "-" if r.column_count is None else str(r.column_count)
        warned = str(len(r.warnings)) if r.warnings else "-"
        _say(f"{r.status:<10} {warned:>4} {rows:>9} {cols:>5} {r.size_bytes:>10}  {uploaded:<19}  {r.key}")
    _say(f"{len(page.records)} of {page.total} records")
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    from backend.store import open_reader

    reader = open_reader(settings)
    try:
        record = reader.get(args.bucket or settings.bucket, args.key)
    finally:
        reader.close()
    if record is None:
        raise UserError(
            f"no metadata for s3://{args.bucket or settings.bucket}/{args.key} (not uploaded, or not processed yet)"
        )
    data = record.to_json_dict()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return 0
    for line in show_lines(record):
        _say(line)
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
        for w in record.warnings:
            where = f" ({w.lines_text})" if w.lines else ""
            out.append(f"  [{w.code}] {w.message}{where}")
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
    for col in data.get("columns") or []:
        out.append(
            f"  {col['name']!s:<30} {col['type']:<9} nulls={col['null_count']} "
            f"distinct={col['distinct_count']} min={col.get('min')} max={col.get('max')}"
        )
    return out


# ---------------------------------------------------------------- notices
def cmd_notices(settings: Settings, args: argparse.Namespace) -> int:
    from backend.notices import NoticeReader

    reader = NoticeReader(settings)
    try:
        while True:
            for notice in reversed(reader.receive(wait_seconds=2 if args.follow else 1)):
                if args.json:
                    print(
                        json.dumps({**notice.__dict__, "sent_at": notice.sent_at.isoformat()}, default=str), flush=True
                    )
                else:
                    _say(f"{notice.sent_at:%H:%M:%S} {notice.status:<9} {notice.summary}")
            if not args.follow:
                return 0
    finally:
        reader.close()


# ---------------------------------------------------------------- reconcile
def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    from backend.reconcile import reconcile

    report = reconcile(settings, dry_run=args.dry_run, on_message=_say)
    _say(f"{report.objects} objects, {report.missing} without an up-to-date record, {report.redriven} re-processed")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("setup", help="create or repair the whole environment (idempotent)")
    p.add_argument("--notify-email", metavar="ADDRESS", help="also send notices to this email address")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("teardown", help="remove everything setup created")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_teardown)

    p = sub.add_parser("upload", help="validate and upload CSV files (folders: their .csv files)")
    p.add_argument("files", nargs="+", type=path_arg)
    p.add_argument("--wait", action="store_true", help="wait until each file's metadata record exists")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait with --wait")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("list", help="list metadata records")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--status", choices=["PROCESSED", "FAILED"])
    p.add_argument(
        "--warnings",
        action="store_true",
        help="only files processed with warnings (status PROCESSED, non-empty warnings)",
    )
    p.add_argument("--name", help="file name contains")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--sort", default="uploaded_at")
    p.add_argument("--ascending", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one file's metadata")
    p.add_argument("key")
    p.add_argument("--bucket")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("notices", help="print completion/failure notices")
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for new notices")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_notices)

    p = sub.add_parser("reconcile", help="find S3 objects without an up-to-date record and process them")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_reconcile)


_EXTRA_COMMANDS.append(register)
