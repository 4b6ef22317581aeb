"""Small reusable widgets: banners, the drop zone, views with empty-state text, status lights.

Not superqt's ``QElidingLabel`` for :class:`ElidedLabel`: its size hint is the width of the text it last elided, so
a label that was narrow when its text came stays that narrow (it even shows nothing when it had no room yet), and
it gives no tooltip with the whole text; what it would replace is the part we would have to write again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui import style

BANNER_COLORS = {"error": style.RED, "warning": style.ORANGE, "info": style.BLUE, "success": style.GREEN}
BANNER_ICONS = {"error": "✖", "warning": "⚠", "info": "ℹ", "success": "✔"}


class Banner(QFrame):
    """A coloured strip with a message, an optional action button and a close button."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.kind = "info"
        layout = QHBoxLayout(self)
        fm = self.fontMetrics()
        layout.setContentsMargins(fm.height() // 2, fm.height() // 4, fm.height() // 4, fm.height() // 4)
        self.icon = QLabel()
        self.icon.setFont(style.bold(self.font()))
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.action = QPushButton()
        self.action.hide()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self._dismiss)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self._callback: Callable[[], object] | None = None
        self.action.clicked.connect(self._run_action)

    def set_message(
        self, kind: str, text: str, action: str | None = None, callback: Callable[[], object] | None = None
    ) -> None:
        self.kind = kind
        color = BANNER_COLORS.get(kind, style.BLUE)
        self.setStyleSheet(
            f"QFrame#banner {{ background: {style.tint(color, 38).name(QColor.NameFormat.HexArgb)};"
            f" border: 1px solid {color}; border-radius: 4px; }}"
        )
        self.icon.setText(BANNER_ICONS.get(kind, ""))
        self.icon.setStyleSheet(f"color: {color};")
        self.label.setText(text)
        self._callback = callback
        self.action.setVisible(bool(action and callback))
        self.action.setText(action or "")

    def text(self) -> str:
        return self.label.text()

    def _run_action(self) -> None:
        if self._callback is not None:
            self._callback()

    def _dismiss(self) -> None:
        self.hide()
        self.closed.emit()


class BannerArea(QWidget):
    """Banners keyed by their source ("store", "upload", ...): a new message replaces that source's banner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._banners: dict[str, Banner] = {}
        self.hide()

    def show_message(
        self,
        key: str,
        kind: str,
        text: str,
        action: str | None = None,
        callback: Callable[[], object] | None = None,
    ) -> Banner:
        banner = self._banners.get(key)
        if banner is None:
            banner = Banner(self)
            banner.closed.connect(lambda k=key: self.clear(k))
            self._banners[key] = banner
            self._layout.addWidget(banner)
        banner.set_message(kind, text, action, callback)
        banner.show()
        self.show()
        return banner

    def clear(self, key: str) -> None:
        banner = self._banners.pop(key, None)
        if banner is not None:
            banner.hide()
            banner.deleteLater()
        if not self._banners:
            self.hide()

    def banner(self, key: str) -> Banner | None:
        return self._banners.get(key)

    def messages(self) -> dict[str, str]:
        return {key: banner.text() for key, banner in self._banners.items()}


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders in drag-and-drop data (remote URLs and plain text are ignored)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class DropZone(QFrame):
    """Accepts dropped files and folders; highlights while something droppable is dragged over it."""

    dropped = Signal(list)  # list[Path]
    drag_state_changed = Signal(str)  # "accept", "reject" or "" when the drag leaves

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setObjectName("dropzone")
        self._drag_state: str | None = None  # None, "accept" or "reject"

    @property
    def drag_state(self) -> str | None:
        return self._drag_state

    def _set_drag_state(self, state: str | None) -> None:
        if state != self._drag_state:
            self._drag_state = state
            self.update()
            self.drag_state_changed.emit(state or "")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self._set_drag_state("accept")
        else:
            event.ignore()
            self._set_drag_state("reject" if event.mimeData().hasUrls() else None)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._drag_state == "accept":
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_drag_state(None)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        self._set_drag_state(None)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.dropped.emit(paths)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._drag_state is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(style.BLUE if self._drag_state == "accept" else style.RED)
        width = max(2, self.fontMetrics().height() // 8)
        painter.setPen(QPen(color, width, Qt.PenStyle.DashLine))
        painter.setBrush(style.tint(color.name(), 30))
        r = QRectF(self.rect()).adjusted(width, width, -width, -width)
        painter.drawRoundedRect(r, 8, 8)
        painter.end()


class EmptyStatePainter:
    """Paints a title and guidance text in the middle of an empty item view's viewport."""

    def __init__(self, title: str, hint: str = "") -> None:
        self.title = title
        self.hint = hint

    def paint(self, view: QAbstractItemView) -> None:
        if not self.title:
            return
        painter = QPainter(view.viewport())
        rect = view.viewport().rect().adjusted(16, 8, -16, -8)
        palette = view.palette()
        fm = view.fontMetrics()
        title_font = style.bold(view.font(), 2)
        painter.setFont(title_font)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        title_h = fm.height() * 2
        total_h = title_h + (fm.height() * 3 if self.hint else 0)
        top = rect.top() + max(0, (rect.height() - total_h) // 2)
        title_rect = rect.adjusted(0, top - rect.top(), 0, 0)
        title_rect.setHeight(title_h)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, self.title)
        if self.hint:
            painter.setFont(view.font())
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            hint_rect = rect.adjusted(0, title_rect.bottom() - rect.top(), 0, 0)
            painter.drawText(
                hint_rect,
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                self.hint,
            )
        painter.end()


class MiddleElideDelegate(QStyledItemDelegate):
    """Cuts long text in the middle: file names that share a long prefix keep their distinct ends visible
    ("department-of-…-ledger-0011.csv" rather than "department-of-r…" on every row). One line, also in a view
    that wraps its other columns: a name has no spaces to wrap at, and a wrapped one was cut at its end."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.WrapText


class TableView(QTableView):
    """A QTableView that shows guidance text while it has no rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_state = EmptyStatePainter("")

    def set_empty_text(self, title: str, hint: str = "") -> None:
        self.empty_state = EmptyStatePainter(title, hint)
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is None or model.rowCount() == 0:
            self.empty_state.paint(self)


class ListWidget(QListWidget):
    """A QListWidget that shows guidance text while it is empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_state = EmptyStatePainter("")

    def set_empty_text(self, title: str, hint: str = "") -> None:
        self.empty_state = EmptyStatePainter(title, hint)
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() == 0:
            self.empty_state.paint(self)


class ElidedLabel(QLabel):
    """A one-line label whose text never widens its layout: it takes the room it is given and is shortened with
    "…" when that is too little (the whole text is then its tooltip).

    A QLabel's minimum width is its text's width, so a status line that grows while uploads run made the window
    itself grow, and every table in it re-laid out and repainted in full on each change. ``elide`` says where
    the text is cut: at the end for sentences, in the middle for keys and paths (their ends tell them apart).
    ``copyable`` offers the whole text in a right-click Copy: what is painted is only part of it.
    """

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
        copyable: bool = False,
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = elide
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        if copyable:
            copy = QAction("Copy", self)
            copy.triggered.connect(lambda: QApplication.clipboard().setText(self._full))
            self.addAction(copy)
            self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.setText(text)

    def text(self) -> str:
        """The whole text, as set (what is painted may be shortened)."""
        return self._full

    def shown_text(self) -> str:
        """What is painted: the text, shortened to the label's width."""
        return super().text()

    def setText(self, text: str) -> None:
        if text == self._full:
            return
        self._full = text
        self._elide()
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("…"), super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        # size() rounds the text's width up, as elidedText measures it; horizontalAdvance rounds to the nearest
        # pixel, and a label given that much room ended its text in "…" with space to spare
        text_width = self.fontMetrics().size(Qt.TextFlag.TextSingleLine, self._full).width()
        width = text_width + margins.left() + margins.right()
        return QSize(width, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, self._mode, width)
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str) -> str:
    """``text`` with a zero-width space after each ``_``, ``-``, ``/`` and ``\\`` and after each ``.`` but the
    last: the places a file name or key can be split and still read well. Line breaking (Unicode's rules) finds
    none inside "pollock_survey__station_0042__2019.csv" and none before a digit after a hyphen."""
    last_dot = text.rfind(".")
    out = []
    for i, ch in enumerate(text):
        out.append(ch)
        if ch in "_-/\\" or (ch == "." and i != last_dot):
            out.append(ZERO_WIDTH_SPACE)
    return "".join(out)


class WrappingLabel(QTextEdit):
    """Selectable text like a word-wrapped QLabel's, that also wraps words longer than its width: at ``_ - . /``
    when it can, else anywhere, so a long file name never runs off the edge or widens its pane.

    A QLabel cannot: it wraps at spaces only, and its minimum width is its longest word's. Zero-width spaces
    give the wrap its places; they are taken out again of what Copy puts on the clipboard and of :meth:`text`.
    Its height is always its text's at its width (the text's height-for-width).
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setReadOnly(True)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a label: no stop for the Tab key
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDocumentMargin(0)
        self.viewport().setAutoFillBackground(False)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Base, Qt.GlobalColor.transparent)
        self.setPalette(palette)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text == self._text and self.document().characterCount() > 1:
            return
        self._text = text
        self.setPlainText(breakable(text))
        self._fit_height()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        document = self.document().clone()
        document.setTextWidth(max(1, width - self._extra().width()))
        height = math.ceil(document.size().height()) + self._extra().height()
        document.deleteLater()
        return height

    def sizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance(self._text) + self._extra().width() + 1
        return QSize(width, self.heightForWidth(max(1, self.width())))

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("M") * 4, self.fontMetrics().height())

    def line_count(self) -> int:
        """How many lines the text takes at the current width."""
        document = self.document()
        return sum(document.findBlockByNumber(b).layout().lineCount() for b in range(document.blockCount()))

    def createMimeDataFromSource(self) -> QMimeData:
        mime = QMimeData()
        mime.setText(self.textCursor().selection().toPlainText().replace(ZERO_WIDTH_SPACE, ""))
        return mime

    def _extra(self) -> QSize:
        """The frame and margins around the text."""
        margins = self.contentsMargins()
        return QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _fit_height(self, *_args: object) -> None:
        height = math.ceil(self.document().size().height()) + self._extra().height()
        if self.minimumHeight() != height or self.maximumHeight() != height:
            self.setFixedHeight(height)


class StatusLight(QWidget):
    """A coloured dot and a name: green ok, red failing, grey unknown, amber checking."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.ok: bool | None = None
        self.detail = "Not checked yet"
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(4)
        self.dot = QLabel()
        self.label = QLabel(name)
        layout.addWidget(self.dot)
        layout.addWidget(self.label)
        self.set_checking()

    def _icon(self, color: str) -> None:
        size = self.fontMetrics().height() * 3 // 4
        self.dot.setPixmap(style.dot_icon(color, size).pixmap(size, size))

    def set_checking(self) -> None:
        self._icon(style.AMBER)
        self.setToolTip(f"{self.name}: checking…")

    def set_health(self, ok: bool | None, detail: str) -> None:
        self.ok = ok
        self.detail = detail
        self._icon(style.GREEN if ok else style.RED if ok is False else style.GREY)
        state = "OK" if ok else "problem" if ok is False else "unknown"
        self.setToolTip(f"{self.name}: {state}\n{detail}")


def section_title(text: str, parent: QWidget | None = None) -> QLabel:
    """The bold heading of a panel ("Uploads", "Files in …", "Notices", "Details")."""
    label = QLabel(text, parent)
    label.setFont(style.bold(label.font(), 1))
    return label
