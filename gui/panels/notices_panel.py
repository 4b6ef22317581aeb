"""The notices panel: completion notices from the SNS topic (via the app's SQS queue), newest first."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from backend.notices import Notice
from gui import style
from gui.widgets import ListWidget, section_title

MAX_NOTICES = 300
KeyRole = Qt.ItemDataRole.UserRole + 1
NoticeRole = Qt.ItemDataRole.UserRole + 2
EMPTY_TITLE = "No notices yet"
EMPTY_HINT = "When the function finishes a file, it is announced here."


def notice_text(notice: Notice) -> str:
    """Two lines: what happened to which file, then the numbers (or the reason) and when."""
    when = style.local_time(notice.sent_at, seconds=True)
    if notice.status.upper() == "PROCESSED":
        rows, cols = style.human_count(notice.row_count), style.human_count(notice.column_count)
        warned = notice.warnings_count
        if warned:
            return (
                f"{notice.file_name} — processed with {warned} warning{'s' if warned != 1 else ''}\n"
                f"{rows} rows × {cols} columns · {when}"
            )
        return f"{notice.file_name} — processed\n{rows} rows × {cols} columns · {when}"
    return f"{notice.file_name} — failed\n{notice.error or 'no reason given'} · {when}"


def notice_color(notice: Notice) -> str:
    """Green processed, amber processed with warnings, red failed (as the file list)."""
    if notice.status.upper() != "PROCESSED":
        return style.RED
    return style.AMBER if notice.warnings_count else style.GREEN


class NoticesPanel(QWidget):
    """The "Notices (N)" heading, a Clear button and the list; clicking a notice emits
    ``record_requested(bucket, key)``."""

    record_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        gap = self.fontMetrics().height() // 2
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(gap // 2)
        head = QHBoxLayout()
        self.title = section_title("Notices")
        head.addWidget(self.title)
        head.addStretch(1)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove all notices from this list")
        self.clear_button.clicked.connect(self.clear)
        head.addWidget(self.clear_button)
        layout.addLayout(head)

        self.list = ListWidget()
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setAlternatingRowColors(True)
        side = self.fontMetrics().height() * 2 // 3
        self.list.setIconSize(QSize(side, side))
        self.list.setSpacing(1)
        self.list.set_empty_text(EMPTY_TITLE, EMPTY_HINT)
        self.list.setAccessibleName("Notices")
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        layout.addWidget(self.list, 1)
        self._seen: set[str] = set()

    def add_notice(self, notice: Notice) -> bool:
        """Insert at the top; False for a duplicate delivery (SQS is at-least-once)."""
        if notice.message_id in self._seen:
            return False
        self._seen.add(notice.message_id)
        item = QListWidgetItem(style.dot_icon(notice_color(notice)), notice_text(notice))
        item.setData(KeyRole, (notice.bucket, notice.key))
        item.setData(NoticeRole, notice)
        codes = notice.warning_codes
        warned = f"\nWarnings: {', '.join(codes)}" if codes and notice.status.upper() == "PROCESSED" else ""
        item.setToolTip(f"s3://{notice.bucket}/{notice.key}{warned}\nClick to show it in the file list.")
        self.list.insertItem(0, item)
        while self.list.count() > MAX_NOTICES:
            self.list.takeItem(self.list.count() - 1)
        self.title.setText(f"Notices ({self.count()})")
        return True

    def clear(self) -> None:
        """Empties the list; a notice already shown stays known, so a late redelivery does not come back."""
        self.list.clear()
        self.title.setText("Notices")

    def set_available(self) -> None:
        self.list.set_empty_text(EMPTY_TITLE, EMPTY_HINT)

    def set_unavailable(self, reason: str) -> None:
        self.list.set_empty_text(
            "Notices unavailable", f"{reason}\nUploads still finish when their file appears in the list."
        )

    def count(self) -> int:
        return self.list.count()

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        bucket, key = item.data(KeyRole)
        self.record_requested.emit(bucket, key)
