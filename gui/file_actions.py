"""What a user can do to the files selected in the list: download, delete, re-process, read the function's log
lines, copy their S3 URIs or a link.

:class:`FileActions` connects the window's actions (gui/actions.py) to the backend's file actions
(backend/files.py through gui/backend_api.py). Every call runs as a job; its outcome is said in the status bar,
or in a message box when something did not work. Several actions can run at once; closing the window cancels
the downloads (their files are never left half written: the backend writes a temporary file beside the target).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolButton,
    QWidget,
)

from gui import style
from gui.backend_api import describe_error
from gui.log_dialog import LogDialog

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.files import DeletedFile, Invocation, ReprocessOutcome
    from backend.store import MetadataRecord
    from gui.actions import WindowActions
    from gui.backend_api import BackendApi
    from gui.jobs import JobRunner, Report
    from gui.panels.browser_panel import BrowserPanel

FileId = tuple[str, str]  # (bucket, key)
LINK_EXPIRES_S = 3600
NAMES_SHOWN = 5  # a confirmation or a failure list names this many files, then "and N more"
STATUS_MS = 8000


def file_id(record: MetadataRecord) -> FileId:
    return (record.bucket, record.key)


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def file_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def some_names(names: Sequence[str]) -> str:
    """The first few names, one a line, then how many more."""
    shown = [f"• {name}" for name in names[:NAMES_SHOWN]]
    if len(names) > NAMES_SHOWN:
        shown.append(f"and {len(names) - NAMES_SHOWN:,} more")
    return "\n".join(shown)


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def download_targets(records: Sequence[MetadataRecord], folder: Path) -> list[tuple[MetadataRecord, Path]]:
    """Where each file goes in ``folder``: its key's last part; keys sharing it ("2025/a.csv", "2026/a.csv")
    get "a (2).csv" and so on, so one download never writes over another of the same batch."""
    taken: set[str] = set()
    planned = []
    for record in records:
        name = file_name(record.key)
        stem, dot, suffix = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem} ({n}){dot}{suffix}"
        taken.add(candidate.lower())
        planned.append((record, folder / candidate))
    return planned


@dataclass
class DownloadBatch:
    """One Download… command: its files in order, the bytes received of each, and the one cancel switch."""

    plan: list[tuple[MetadataRecord, Path]]
    overwrite: bool
    cancel: threading.Event = field(default_factory=threading.Event)
    received: dict[FileId, int] = field(default_factory=dict)
    totals: dict[FileId, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.totals = {file_id(r): max(0, r.size_bytes) for r, _ in self.plan}


@dataclass(frozen=True)
class Downloaded:
    record: MetadataRecord
    target: Path
    path: Path | None  # None: not downloaded (``error`` says why)
    error: BaseException | None = None


class DownloadProgress(QWidget):
    """The status bar's bytes-received bar of the downloads under way, with a button that cancels them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setPalette(style.progress_palette(self.bar.palette()))
        self.bar.setAccessibleName("Download progress")
        self.bar.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 30)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel the downloads (nothing half-downloaded is kept)")
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.setVisible(False)

    def show_progress(self, files: int, received: int, total: int) -> None:
        self.bar.setValue(int(1000 * received / total) if total > 0 else 0)
        self.bar.setFormat(f"Downloading {plural(files, 'file')}: {style.bytes_of(received, total)}")
        self.setVisible(True)


class FileActions(QObject):
    """The file actions of ``window`` on ``browser``'s selection. ``files_changed`` says the bucket changed (a
    deletion or a re-process): the window polls the store so the list shows it soon."""

    files_changed = Signal()

    def __init__(
        self,
        window: QMainWindow,
        *,
        settings: Callable[[], Settings],
        backend: BackendApi,
        jobs: JobRunner,
        commands: WindowActions,
        browser: BrowserPanel,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.backend = backend
        self.jobs = jobs
        self.commands = commands
        self.browser = browser
        self.deleting: set[FileId] = set()
        self.downloads: list[DownloadBatch] = []
        self.log_dialogs: dict[FileId, LogDialog] = {}
        self.progress = DownloadProgress()
        window.statusBar().insertPermanentWidget(0, self.progress)
        self.progress.cancel_button.clicked.connect(self.cancel_downloads)

        c = commands
        for action, slot in (
            (c.download, self.download),
            (c.delete_files, self.delete),
            (c.reprocess, self.reprocess),
            (c.show_log, self.show_log),
            (c.copy_uri, self.copy_uri),
            (c.copy_link, self.copy_link),
        ):
            action.triggered.connect(slot)
        menu: list[QAction] = []
        for item in [None, *c.file_menu_actions()]:
            if item is None:
                separator = QAction(self)
                separator.setSeparator(True)
                menu.append(separator)
            else:
                menu.append(item)
        browser.add_menu_actions(*menu)
        c.scope_to(c.delete_files, browser.view)  # the Delete key deletes files only from the file list

        view, model = browser.view, browser.model
        view.selectionModel().selectionChanged.connect(self.update_enabled)
        for signal in (model.modelReset, model.layoutChanged, model.rowsRemoved, model.rowsInserted):
            signal.connect(self.update_enabled)
        self.update_enabled()

    # -- state ---------------------------------------------------------------------------------------
    def selection(self) -> list[MetadataRecord]:
        return self.browser.selected_records()

    def _live(self, records: Sequence[MetadataRecord]) -> list[MetadataRecord]:
        """The records an action on the bucket's objects can take: not deleted, nor being deleted."""
        return [r for r in records if not r.deleted and file_id(r) not in self.deleting]

    def update_enabled(self, *_args: object) -> None:
        records = self.selection()
        n = len(records)
        all_live = n > 0 and len(self._live(records)) == n
        c = self.commands
        c.download.setEnabled(all_live)
        c.delete_files.setEnabled(all_live)
        c.reprocess.setEnabled(all_live)
        c.show_log.setEnabled(n == 1)  # a deleted file's runs are still in the log
        c.copy_uri.setEnabled(n > 0)
        c.copy_link.setEnabled(n == 1 and all_live)

    def say(self, text: str, ms: int = STATUS_MS) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _chosen(self, *, one: bool = False) -> list[MetadataRecord]:
        """The live selection (the shortcut of a disabled action never fires, but a menu may be stale)."""
        records = self._live(self.selection())
        if not records:
            self.say("Select files in the list first.", 3000)
        elif one and len(records) != 1:
            self.say("Select one file for this.", 3000)
            return []
        return records

    # -- download ------------------------------------------------------------------------------------
    def download(self) -> None:
        records = self._chosen()
        if not records:
            return
        state = self.browser.state
        start = Path(str(state.value("dialogs/download_dir", "") or Path.home()))
        if len(records) == 1:
            record = records[0]
            # the save dialog itself asks before replacing a file
            path_text, _filter = QFileDialog.getSaveFileName(
                self.window, f"Download {record.file_name}", str(start / file_name(record.key))
            )
            if not path_text:
                return
            path = Path(path_text)
            state.setValue("dialogs/download_dir", str(path.parent))
            self.start_download([(record, path)], overwrite=True)
            return
        folder_text = QFileDialog.getExistingDirectory(
            self.window, f"Download {plural(len(records), 'file')} into", str(start)
        )
        if not folder_text:
            return
        folder = Path(folder_text)
        state.setValue("dialogs/download_dir", str(folder))
        plan = download_targets(records, folder)

        def existing(_report: Report[None]) -> list[Path]:  # the folder may be on a slow or network drive
            return [target for _record, target in plan if target.exists()]

        self.jobs.start(
            existing,
            on_done=lambda found: self._ask_overwrite(plan, found),
            on_error=lambda exc: self.say(f"Cannot download into {folder}: {describe_error(exc)}"),
            name="download: check targets",
        )

    def _ask_overwrite(self, plan: list[tuple[MetadataRecord, Path]], found: list[Path]) -> None:
        if not found:
            self.start_download(plan, overwrite=False)
            return
        answer = QMessageBox.question(
            self.window,
            "Replace files?",
            f"{plural(len(found), 'file')} of this name already exist{'s' if len(found) == 1 else ''} in "
            f"{found[0].parent}:\n{some_names([p.name for p in found])}\n\n"
            "Yes replaces them; No downloads only the other files.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.start_download(plan, overwrite=True)
        elif answer == QMessageBox.StandardButton.No:
            skipped = set(found)
            rest = [(r, t) for r, t in plan if t not in skipped]
            if rest:
                self.start_download(rest, overwrite=False)
            else:
                self.say("Nothing downloaded: every file is there already.")

    def start_download(self, plan: list[tuple[MetadataRecord, Path]], *, overwrite: bool) -> DownloadBatch:
        batch = DownloadBatch(plan, overwrite)
        self.downloads.append(batch)
        settings, backend = self.settings(), self.backend

        def work(report: Report[tuple[FileId, int, int]]) -> list[Downloaded]:
            results: list[Downloaded] = []
            for record, target in plan:
                if batch.cancel.is_set():
                    break
                rid = file_id(record)
                last = [-1]

                def progress(received: int, total: int, rid: FileId = rid, last: list[int] = last) -> None:
                    step = received * 200 // total if total > 0 else 0  # at most 200 reports a file
                    if step != last[0] or received == total:
                        last[0] = step
                        report((rid, received, total))

                try:
                    path = backend.download_file(
                        settings,
                        record.bucket,
                        record.key,
                        target,
                        on_progress=progress,
                        cancel=batch.cancel,
                        overwrite=overwrite,
                    )
                except Exception as exc:  # one file's failure is that file's; the others still come
                    results.append(Downloaded(record, target, None, exc))
                else:
                    results.append(Downloaded(record, target, path))
            return results

        def progress(value: tuple[FileId, int, int]) -> None:
            rid, received, total = value
            batch.received[rid] = received
            if total > 0:
                batch.totals[rid] = total
            self._show_progress()

        self.jobs.start(
            work,
            on_done=lambda results: self._downloaded(batch, results),
            on_error=lambda exc: self._download_failed(batch, exc),
            on_progress=progress,
            name="download",
        )
        self._show_progress()
        return batch

    def _show_progress(self) -> None:
        if not self.downloads:
            self.progress.setVisible(False)
            return
        files = sum(len(b.plan) for b in self.downloads)
        received = sum(sum(b.received.values()) for b in self.downloads)
        total = sum(sum(b.totals.values()) for b in self.downloads)
        self.progress.show_progress(files, received, max(total, received))

    def _finished(self, batch: DownloadBatch) -> None:
        if batch in self.downloads:
            self.downloads.remove(batch)
        self._show_progress()

    def _downloaded(self, batch: DownloadBatch, results: list[Downloaded]) -> None:
        self._finished(batch)
        done = [r for r in results if r.path is not None]
        failed = [r for r in results if r.path is None]
        if batch.cancel.is_set():
            kept = (
                f"; {plural(len(done), 'file')} had finished and {'were' if len(done) != 1 else 'was'} kept"
                if done
                else ""
            )
            self.say(f"Download cancelled: no partly downloaded file was left{kept}.")
            return
        if done and not failed:
            if len(done) == 1 and done[0].path is not None:
                self.say(f"Downloaded {done[0].record.file_name} to {done[0].path}")
            else:
                self.say(f"Downloaded {plural(len(done), 'file')} to {done[0].target.parent}")
            return
        lines = [f"{r.record.file_name}: {describe_error(r.error)}" for r in failed if r.error is not None]
        title = (
            f"Could not download {failed[0].record.file_name}"
            if len(results) == 1
            else f"{plural(len(failed), 'file')} of {len(results):,} not downloaded"
        )
        self.say(title)
        QMessageBox.warning(self.window, title, "\n\n".join(sentence(line) for line in lines[: NAMES_SHOWN * 2]))

    def _download_failed(self, batch: DownloadBatch, exc: BaseException) -> None:
        self._finished(batch)
        QMessageBox.warning(self.window, "Download failed", describe_error(exc))

    def cancel_downloads(self) -> None:
        for batch in self.downloads:
            batch.cancel.set()
        if self.downloads:
            self.say("Cancelling the downloads…", 3000)

    def shutdown(self) -> None:
        """The window closes: the downloads stop (their temporary files are removed) and the log windows close."""
        for batch in self.downloads:
            batch.cancel.set()
        for dialog in list(self.log_dialogs.values()):
            dialog.close()

    # -- delete --------------------------------------------------------------------------------------
    def delete(self) -> None:
        records = self._chosen()
        if not records:
            return
        buckets = sorted({r.bucket for r in records})
        where = buckets[0] if len(buckets) == 1 else f"{len(buckets)} buckets"
        if len(records) == 1:
            title = f"Delete {records[0].file_name}?"
            what = f"{s3_uri(records[0].bucket, records[0].key)} will be deleted from the bucket, and its record"
        else:
            title = f"Delete {plural(len(records), 'file')}?"
            what = (
                f"{plural(len(records), 'file')} will be deleted from {where}:\n{some_names([r.key for r in records])}"
                "\n\nThe files are deleted from the bucket, and their records"
            )
        answer = QMessageBox.question(
            self.window,
            title,
            f"{what} from the list. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        ids = [file_id(r) for r in records]
        self.deleting.update(ids)
        self.update_enabled()
        settings, backend = self.settings(), self.backend
        by_bucket: dict[str, list[str]] = {}
        for bucket, key in ids:
            by_bucket.setdefault(bucket, []).append(key)

        def work(_report: Report[None]) -> list[DeletedFile]:
            outcomes: list[DeletedFile] = []
            for bucket, keys in by_bucket.items():
                outcomes.extend(backend.delete_files(settings, bucket, keys).files)
            return outcomes

        def done(outcomes: list[DeletedFile]) -> None:
            self._deleted(ids)
            gone = [o for o in outcomes if o.ok]
            trouble = [o for o in outcomes if not o.ok]
            if not trouble:
                self.say(
                    f"Deleted {file_name(gone[0].key)}" if len(gone) == 1 else f"Deleted {plural(len(gone), 'file')}"
                )
                return
            title = (
                f"Could not delete {file_name(trouble[0].key)}"
                if len(outcomes) == 1
                else f"Deleted {len(gone):,} of {plural(len(outcomes), 'file')}"
            )
            self.say(title)
            text = "\n\n".join(sentence(o.message) for o in trouble[: NAMES_SHOWN * 2])
            if len(trouble) > NAMES_SHOWN * 2:
                text += f"\n\nand {len(trouble) - NAMES_SHOWN * 2:,} more"
            QMessageBox.warning(self.window, title, text)

        def failed(exc: BaseException) -> None:
            self._deleted(ids)
            QMessageBox.warning(self.window, "Delete failed", describe_error(exc))

        self.say(f"Deleting {records[0].file_name if len(records) == 1 else plural(len(records), 'file')}…", 0)
        self.jobs.start(work, on_done=done, on_error=failed, name="delete files")

    def _deleted(self, ids: list[FileId]) -> None:
        self.deleting.difference_update(ids)
        self.update_enabled()
        self.files_changed.emit()

    # -- re-process ----------------------------------------------------------------------------------
    def reprocess(self) -> None:
        records = self._chosen()
        if not records:
            return
        settings, backend = self.settings(), self.backend
        by_bucket: dict[str, list[str]] = {}
        for record in records:
            by_bucket.setdefault(record.bucket, []).append(record.key)

        def work(_report: Report[None]) -> list[ReprocessOutcome]:
            outcomes: list[ReprocessOutcome] = []
            for bucket, keys in by_bucket.items():
                outcomes.extend(backend.reprocess_files(settings, bucket, keys))
            return outcomes

        def failed(exc: BaseException) -> None:
            self.say("Re-processing failed")
            QMessageBox.warning(self.window, "Re-processing failed", describe_error(exc))

        what = records[0].file_name if len(records) == 1 else plural(len(records), "file")
        self.say(f"Re-processing {what}…", 0)
        self.jobs.start(work, on_done=self._reprocessed, on_error=failed, name="reprocess")

    def _reprocessed(self, outcomes: list[ReprocessOutcome]) -> None:
        self.files_changed.emit()
        trouble = [o for o in outcomes if o.state not in ("processed", "failed")]
        if len(outcomes) == 1:
            text = sentence(outcomes[0].message)
            self.say(text)
            if trouble:
                QMessageBox.warning(self.window, f"Could not re-process {file_name(outcomes[0].key)}", text)
            return
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
        words = {
            "processed": "processed",
            "failed": "FAILED",
            "missing": "deleted",
            "skipped": "skipped",
            "error": "not run",
        }
        parts = ", ".join(f"{counts[state]:,} {word}" for state, word in words.items() if counts.get(state))
        summary = f"Re-processed {plural(len(outcomes), 'file')}: {parts}"
        self.say(summary)
        if trouble:
            QMessageBox.warning(
                self.window, summary, "\n\n".join(sentence(o.message) for o in trouble[: NAMES_SHOWN * 2])
            )

    # -- function log --------------------------------------------------------------------------------
    def show_log(self) -> LogDialog | None:
        records = self.selection()
        if len(records) != 1:
            self.say("Select one file to read the function's lines about it.", 3000)
            return None
        record = records[0]
        rid = file_id(record)
        dialog = self.log_dialogs.get(rid)
        if dialog is not None:
            dialog.show()
            dialog.raise_()
            dialog.activateWindow()
            dialog.reload()
            return dialog
        dialog = LogDialog(record.file_name, s3_uri(*rid), self.window)
        self.log_dialogs[rid] = dialog
        dialog.destroyed.connect(lambda *_a, rid=rid: self.log_dialogs.pop(rid, None))
        settings, backend = self.settings(), self.backend

        def fetch(done: Callable[[list[Invocation]], None], failed: Callable[[str], None]) -> None:
            def alive() -> bool:
                return self.log_dialogs.get(rid) is dialog

            self.jobs.start(
                lambda _report: backend.file_log_lines(settings, rid[0], rid[1]),
                on_done=lambda invocations: done(invocations) if alive() else None,
                on_error=lambda exc: failed(describe_error(exc)) if alive() else None,
                name="function log",
            )

        dialog.show()
        dialog.load(fetch)
        return dialog

    # -- copy ----------------------------------------------------------------------------------------
    def copy_uri(self) -> None:
        records = self.selection()
        if not records:
            self.say("Select files in the list first.", 3000)
            return
        QGuiApplication.clipboard().setText("\n".join(s3_uri(r.bucket, r.key) for r in records))
        what = f"the S3 URI of {records[0].file_name}" if len(records) == 1 else plural(len(records), "S3 URI")
        self.say(f"Copied {what}", 3000)

    def copy_link(self) -> None:
        records = self._chosen(one=True)
        if not records:
            return
        record = records[0]
        settings, backend = self.settings(), self.backend

        def done(url: str) -> None:
            QGuiApplication.clipboard().setText(url)
            self.say(f"Copied a link to {record.file_name}: anyone with it can download the file for 1 hour.")

        self.jobs.start(
            lambda _report: backend.presigned_url(settings, record.bucket, record.key, LINK_EXPIRES_S),
            on_done=done,
            on_error=lambda exc: self.say(f"Cannot make a link to {record.file_name}: {describe_error(exc)}"),
            name="copy link",
        )
