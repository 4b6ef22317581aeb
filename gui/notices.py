"""The notices panel: completion notices from the SNS topic (via the app's SQS queue), newest first."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QListWidgetItem, QVBoxLayout, QWidget

from gui import style
from gui.widgets import ListWidget

MAX_NOTICES = 300
KeyRole = Qt.ItemDataRole.UserRole + 1
NoticeRole = Qt.ItemDataRole.UserRole + 2


def notice_text(notice: Any) -> str:
    """Two lines: what happened to which file, then the numbers (or the reason) and when."""
    when = style.local_time(notice.sent_at, seconds=True)
    if str(notice.status).upper() == "PROCESSED":
        rows, cols = style.human_count(notice.row_count), style.human_count(notice.column_count)
        warned = _warnings_count(notice)
        if warned:
            return (
                f"{notice.file_name} — processed with {warned} warning{'s' if warned != 1 else ''}\n"
                f"{rows} rows × {cols} columns · {when}"
            )
        return f"{notice.file_name} — processed\n{rows} rows × {cols} columns · {when}"
    return f"{notice.file_name} — failed\n{notice.error or 'no reason given'} · {when}"


def _warnings_count(notice: Any) -> int:
    return int(getattr(notice, "warnings_count", 0) or 0)


def notice_color(notice: Any) -> str:
    """Green processed, amber processed with warnings, red failed (as the file list)."""
    if str(notice.status).upper() != "PROCESSED":
        return style.RED
    return style.AMBER if _warnings_count(notice) else style.GREEN


class NoticesPanel(QWidget):
    """A list of notices; clicking one emits ``record_requested(bucket, key)``."""

    record_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = ListWidget()
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(1)
        side = self.fontMetrics().height() * 2 // 3
        self.list.setIconSize(QSize(side, side))
        self.list.setSpacing(1)
        self.list.set_empty_text("No notices yet", "When the function finishes a file, it is announced here.")
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        layout.addWidget(self.list)
        self._seen: set[str] = set()

    def add_notice(self, notice: Any) -> bool:
        """Insert at the top; False for a duplicate delivery (SQS is at-least-once)."""
        if notice.message_id in self._seen:
            return False
        self._seen.add(notice.message_id)
        item = QListWidgetItem(style.dot_icon(notice_color(notice)), notice_text(notice))
        item.setData(KeyRole, (notice.bucket, notice.key))
        item.setData(NoticeRole, notice)
        codes = tuple(getattr(notice, "warning_codes", ()) or ())
        warned = f"\nWarnings: {', '.join(codes)}" if codes and str(notice.status).upper() == "PROCESSED" else ""
        item.setToolTip(f"s3://{notice.bucket}/{notice.key}{warned}\nClick to show it in the file list.")
        self.list.insertItem(0, item)
        while self.list.count() > MAX_NOTICES:
            self.list.takeItem(self.list.count() - 1)
        return True

    def count(self) -> int:
        return self.list.count()

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        bucket, key = item.data(KeyRole)
        self.record_requested.emit(bucket, key)
