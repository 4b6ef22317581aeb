"""`csvdrop upload`: check files locally, upload them in parallel, and optionally wait for their records.

On a terminal each running upload has a progress bar (bytes sent, rate) under a bar for all files; otherwise
only the result lines are printed, one per file, which scripts and tests read:
``rejected PATH: why``, ``uploaded PATH -> s3://...``, ``failed   why``, and with --wait
``processed PATH: R rows x C columns``, ``FAILED   PATH: error`` or ``timeout  PATH: ...``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import click

from backend.cli._common import CommandLineError, say, terminal_console, with_settings
from backend.config import Settings, single_request

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from backend.store import MetadataRecord
    from backend.upload import UploadResult

Uploaded = dict[str, tuple[Path, str]]  # object key -> (the local file, the ETag of this upload)


@click.command("upload")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--wait", is_flag=True, help="Wait until each file's metadata record exists.")
@click.option("--timeout", type=float, default=120, show_default=True, help="Seconds to wait with --wait.")
@with_settings
def upload_command(settings: Settings, *, files: tuple[Path, ...], wait: bool, timeout: float) -> int:
    """Validate and upload CSV files (folders: the .csv files inside).

    Exits 0 when every file was uploaded (and, with --wait, processed, warnings included); 1 when one was
    rejected, failed to upload, got a FAILED record or no record within --timeout."""
    from backend.validation import expand_paths, validate_file

    paths = expand_paths(path.expanduser() for path in files)
    if not paths:
        raise CommandLineError("no CSV files found in what you named")
    console = terminal_console()
    display: UploadDisplay = PlainUploadDisplay() if console is None else TerminalUploadDisplay(console)
    accepted: list[tuple[Path, int]] = []
    rejected = 0
    for path in paths:
        check = validate_file(path, settings.max_file_bytes)
        if check.ok:
            accepted.append((path, check.size_bytes))
        else:
            rejected += 1
            display.line(f"rejected {path}: {check.reason}")
    uploaded, failed = upload_all(settings, accepted, display)
    if wait and uploaded:
        failed += wait_for_processing(settings, uploaded, timeout, display)
    return 1 if (failed or rejected) else 0


def upload_all(settings: Settings, files: Sequence[tuple[Path, int]], display: UploadDisplay) -> tuple[Uploaded, int]:
    """Uploads ``(path, size)`` pairs: settings.parallel_uploads large ones at a time, and small ones (one
    request each) settings.small_uploads_at_once at a time. Returns what was uploaded and how many failed."""
    from backend.upload import UploadError, object_key_for, upload_file

    uploaded: Uploaded = {}
    failed = 0
    if not files:
        return uploaded, failed
    cancel = threading.Event()

    def upload_one(path: Path, size: int) -> UploadResult:
        display.file_started(path, size)
        try:
            return upload_file(
                settings,
                path,
                key=object_key_for(settings, path),
                on_progress=lambda sent, total: display.file_progress(path, sent, total),
                cancel=cancel,
            )
        finally:
            display.file_done(path)

    with display.uploading(sum(size for _, size in files)):
        large = ThreadPoolExecutor(max_workers=max(1, settings.parallel_uploads))
        small = ThreadPoolExecutor(max_workers=settings.small_uploads_at_once)
        try:
            futures = {
                (small if single_request(size) else large).submit(upload_one, path, size): path for path, size in files
            }
            for future in as_completed(futures):
                path = futures[future]
                try:
                    result = future.result()
                except UploadError as exc:
                    failed += 1
                    display.line(f"failed   {exc}")
                    continue
                uploaded[result.key] = (path, result.etag)
                rate = result.size_bytes / 1e6 / result.seconds if result.seconds else 0
                display.line(
                    f"uploaded {path} -> s3://{settings.bucket}/{result.key} "
                    f"({result.size_bytes / 1e6:.2f} MB, {rate:.1f} MB/s)"
                )
        except BaseException:
            cancel.set()  # Ctrl-C: the running uploads stop at their next chunk instead of running to the end
            raise
        finally:
            for pool in (small, large):
                pool.shutdown(wait=True, cancel_futures=True)
    return uploaded, failed


def wait_for_processing(settings: Settings, uploaded: Uploaded, timeout: float, display: UploadDisplay) -> int:
    """Waits for the record of each upload and prints it as it comes. Returns how many did not end processed
    (a FAILED record, or none before the timeout)."""
    from backend.store import open_reader
    from backend.store.waiting import wait_for_records

    records: dict[str, MetadataRecord] = {}

    def arrived(key: str, record: MetadataRecord) -> None:
        records[key] = record
        path = uploaded[key][0]
        if record.status == "PROCESSED":
            count = len(record.warnings)
            warned = f", {count} warning{'s' if count != 1 else ''} (see `csvdrop show {key}`)" if count else ""
            display.line(f"processed {path}: {record.row_count} rows x {record.column_count} columns{warned}")
        else:
            display.line(f"FAILED   {path}: {record.error}")
        display.record_arrived()

    reader = open_reader(settings)
    try:
        with display.waiting(len(uploaded), timeout):
            missing = wait_for_records(
                reader,
                settings.bucket,
                {key: etag for key, (_, etag) in uploaded.items()},
                timeout_s=timeout,
                on_record=arrived,
            )
    finally:
        reader.close()
    for key in missing:
        display.line(f"timeout  {uploaded[key][0]}: no record for s3://{settings.bucket}/{key} after {timeout:g} s")
    return sum(1 for record in records.values() if record.status != "PROCESSED") + len(missing)


class UploadDisplay(Protocol):
    """What the upload command shows while it works. Progress calls come from the upload threads."""

    def line(self, text: str) -> None: ...

    def uploading(self, total_bytes: int) -> AbstractContextManager[None]: ...

    def file_started(self, path: Path, size: int) -> None: ...

    def file_progress(self, path: Path, sent: int, total: int) -> None: ...

    def file_done(self, path: Path) -> None: ...

    def waiting(self, count: int, timeout: float) -> AbstractContextManager[None]: ...

    def record_arrived(self) -> None: ...


class PlainUploadDisplay:
    """Result lines only: no bar would survive a pipe or a log file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            say(text)

    @contextmanager
    def uploading(self, total_bytes: int) -> Iterator[None]:
        yield

    def file_started(self, path: Path, size: int) -> None:
        pass

    def file_progress(self, path: Path, sent: int, total: int) -> None:
        pass

    def file_done(self, path: Path) -> None:
        pass

    @contextmanager
    def waiting(self, count: int, timeout: float) -> Iterator[None]:
        self.line(f"waiting for {count} record{'s' if count != 1 else ''} (up to {timeout:g} s)")
        yield

    def record_arrived(self) -> None:
        pass


class TerminalUploadDisplay:
    """rich progress: while uploading, a bar for all files and one per running upload (hidden once done);
    while waiting, a spinner with records arrived of expected. Result lines print above the bars."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._tasks: dict[Path, TaskID] = {}
        self._sent: dict[Path, int] = {}
        self._records: TaskID | None = None

    def line(self, text: str) -> None:
        from rich.text import Text

        # soft_wrap: the terminal wraps a long line, rich does not break it, so a path copied from it is whole
        self.console.print(Text(text), soft_wrap=True)

    @contextmanager
    def uploading(self, total_bytes: int) -> Iterator[None]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        with progress:
            self._progress = progress
            self._overall = progress.add_task("all files", total=total_bytes)
            try:
                yield
            finally:
                self._progress = None

    def file_started(self, path: Path, size: int) -> None:
        with self._lock:
            if self._progress is not None:
                self._tasks[path] = self._progress.add_task(path.name, total=size)

    def file_progress(self, path: Path, sent: int, total: int) -> None:
        with self._lock:
            if self._progress is None or path not in self._tasks:
                return
            self._sent[path] = sent
            self._progress.update(self._tasks[path], completed=sent, total=total)
            if self._overall is not None:
                self._progress.update(self._overall, completed=sum(self._sent.values()))

    def file_done(self, path: Path) -> None:
        with self._lock:
            if self._progress is not None and path in self._tasks:
                self._progress.update(self._tasks[path], visible=False)

    @contextmanager
    def waiting(self, count: int, timeout: float) -> Iterator[None]:
        from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        with progress:
            self._progress = progress
            self._records = progress.add_task(f"waiting for records (up to {timeout:g} s)", total=count)
            try:
                yield
            finally:
                self._progress = None

    def record_arrived(self) -> None:
        if self._progress is not None and self._records is not None:
            self._progress.advance(self._records)


COMMANDS: tuple[click.Command, ...] = (upload_command,)
