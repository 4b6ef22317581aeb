"""The notices panel: completion notices from the SNS topic (via this window's own SQS queue), newest first."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from backend.notices import Notice
from gui import style
from gui.widgets import ListWidget, section_title

ModelIndex = QModelIndex | QPersistentModelIndex
MAX_NOTICES = 300
KeyRole = Qt.ItemDataRole.UserRole + 1
NoticeRole = Qt.ItemDataRole.UserRole + 2
EMPTY_TITLE = "No notices yet"
EMPTY_HINT = "When the function finishes a file, it is announced here."


def notice_parts(notice: Notice, *, short: bool = False) -> tuple[str, str, str, str]:
    """(file name, " — what happened", the numbers or the reason, " · when"): the two lines of a notice, in the
    pieces the list shortens differently (the name in the middle, the reason at its end; never the rest).
    ``short``: " — 2 warnings" for " — processed with 2 warnings" (the amber dot says the rest), when the name
    needs the room."""
    when = f" · {style.local_time(notice.sent_at, seconds=True)}"
    if notice.status.upper() == "PROCESSED":
        rows, cols = style.human_count(notice.row_count), style.human_count(notice.column_count)
        warned = notice.warnings_count
        what = " — processed"
        if warned:
            what = f" — {'' if short else 'processed with '}{warned} warning{'s' if warned != 1 else ''}"
        return notice.file_name, what, f"{rows} rows × {cols} columns", when
    return notice.file_name, " — failed", notice.error or "no reason given", when


def notice_text(notice: Notice) -> str:
    """Two lines: what happened to which file, then the numbers (or the reason) and when."""
    name, what, detail, when = notice_parts(notice)
    return f"{name}{what}\n{detail}{when}"


def notice_tooltip(notice: Notice) -> str:
    """Everything the two lines may have cut: the whole address, the whole reason, the warnings' codes."""
    lines = [f"s3://{notice.bucket}/{notice.key}"]
    if notice.status.upper() != "PROCESSED":
        lines.append(f"Failed: {notice.error or 'no reason given'}")
    elif notice.warning_codes:
        lines.append(f"Warnings: {', '.join(notice.warning_codes)}")
    lines.append("Click to show it in the file list.")
    return style.tooltip("\n".join(lines))


class NoticeDelegate(QStyledItemDelegate):
    """Paints a notice as two lines that each fit the list's width: the file name cut in the middle (names
    share long prefixes; their ends tell them apart) with what happened kept whole, then the numbers or the
    reason cut at the end with the time kept. Wrapping instead made a long name or error three to six lines."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        notice = index.data(NoticeRole)
        if not isinstance(notice, Notice):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        style_ = widget.style() if widget is not None else QApplication.style()
        text_rect = style_.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        opt.text = ""
        style_.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        fm = opt.fontMetrics
        margin = style_.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        rect = text_rect.adjusted(margin, 0, -margin, 0)
        width = rect.width()
        name, what, detail, when = notice_parts(notice)
        if fm.horizontalAdvance(name + what) > width:
            what = notice_parts(notice, short=True)[1]
        first = fit_pieces(fm, name, Qt.TextElideMode.ElideMiddle, what, width)
        second = fit_pieces(fm, detail, Qt.TextElideMode.ElideRight, when, width)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(role))
        top = rect.top() + (rect.height() - 2 * fm.lineSpacing()) // 2
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextSingleLine
        for n, line in enumerate((first, second)):
            painter.drawText(QRect(rect.left(), top + n * fm.lineSpacing(), width, fm.height()), flags, line)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        fm = option.fontMetrics
        # narrow: the lines are shortened to the list's width, so no notice asks for a horizontal scroll bar
        hint.setWidth(min(hint.width(), fm.horizontalAdvance("M") * 16))
        hint.setHeight(2 * fm.lineSpacing() + fm.height() // 2)
        return hint


def fit_pieces(fm: QFontMetrics, cut: str, mode: Qt.TextElideMode, keep: str, width: int) -> str:
    """``cut + keep`` in ``width`` pixels, shortening ``cut`` as ``mode`` says and ``keep`` only if it alone does
    not fit (then the whole line is cut at its end)."""
    whole = cut + keep
    if fm.horizontalAdvance(whole) <= width:
        return whole
    room = width - fm.horizontalAdvance(keep)
    if room < fm.horizontalAdvance("M") * 4:
        return fm.elidedText(whole, Qt.TextElideMode.ElideRight, width)
    return fm.elidedText(cut, mode, room) + keep


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
        self.list.setItemDelegate(NoticeDelegate(self.list))
        self.list.setWordWrap(False)
        self.list.setUniformItemSizes(True)  # two lines each, always
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
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
        item.setToolTip(notice_tooltip(notice))
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
