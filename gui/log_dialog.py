"""The function's log lines about one file, in a window of their own that stays open beside the main one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from gui import style

if TYPE_CHECKING:
    from backend.files import Invocation


def invocations_text(invocations: Sequence[Invocation]) -> str:
    """Newest invocation first, each under a line naming when it ran and its request id; its own lines oldest
    first, as the function wrote them."""
    parts = []
    for invocation in sorted(invocations, key=lambda i: i.started_at, reverse=True):
        head = f"── {style.local_time(invocation.started_at, seconds=True)} · request {invocation.request_id} ──"
        parts.append("\n".join([head, *invocation.lines]))
    return "\n\n".join(parts)


class LogDialog(QDialog):
    """Non-modal: loads with ``load(fetch)`` where ``fetch(done, failed)`` starts the read on a worker."""

    def __init__(self, file_label: str, uri: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.uri = uri
        self._fetch: Callable[[], None] | None = None
        self.setWindowTitle(f"Function log — {file_label}")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setAccessibleName("Function log lines")
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.reload_button = QPushButton("Reload")
        self.copy_button = QPushButton("Copy all")
        buttons.addButton(self.reload_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        self.reload_button.clicked.connect(self.reload)
        self.copy_button.clicked.connect(self.copy_all)
        layout.addWidget(buttons)
        fm = self.fontMetrics()
        self.resize(fm.horizontalAdvance("M") * 80, fm.height() * 30)

    def load(self, fetch: Callable[[Callable[[list[Invocation]], None], Callable[[str], None]], None]) -> None:
        self._fetch = lambda: fetch(self.show_invocations, self.show_error)
        self.reload()

    def reload(self) -> None:
        if self._fetch is None:
            return
        self.status.setText(f"Reading the function's log lines about {self.uri}…")
        self.reload_button.setEnabled(False)
        self._fetch()

    def show_invocations(self, invocations: list[Invocation]) -> None:
        self.reload_button.setEnabled(True)
        if not invocations:
            self.status.setText(
                f"The function has logged nothing about {self.uri} yet. If the file was just uploaded, its lines "
                "can take a few seconds to arrive: Reload."
            )
            self.text.setPlainText("")
            self.copy_button.setEnabled(False)
            return
        n = len(invocations)
        self.status.setText(f"{n} run{'s' if n != 1 else ''} of the function on {self.uri}, newest first.")
        self.text.setPlainText(invocations_text(invocations))
        self.copy_button.setEnabled(True)

    def show_error(self, message: str) -> None:
        self.reload_button.setEnabled(True)
        self.status.setText(message[:1].upper() + message[1:])
        self.text.setPlainText("")
        self.copy_button.setEnabled(False)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
