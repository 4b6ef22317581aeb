"""Every command of the window in one place: its words, shortcut, tooltip and icon, and where it shows.

The window connects each action's ``triggered`` to whatever does the work. A panel's button that does the same
thing is bound to the action (:func:`bind_button`), so the button and the menu item say the same, do the same and
are enabled together.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QMenuBar, QStyle, QToolBar, QWidget

Shortcut = QKeySequence.StandardKey | str | None

_Pixmap = QStyle.StandardPixmap


class WindowActions:
    """The window's actions, owned by (and added to) ``window`` so their shortcuts work anywhere in it."""

    def __init__(self, window: QWidget) -> None:
        self._window = window
        self.add_files = self._make(
            "&Add files…", QKeySequence.StandardKey.Open, "Choose CSV files to upload", _Pixmap.SP_FileIcon
        )
        self.add_folder = self._make(
            "Add &folder…", "Ctrl+Shift+O", "Upload every CSV file in a folder", _Pixmap.SP_DirIcon
        )
        self.refresh = self._make(
            "&Refresh", QKeySequence.StandardKey.Refresh, "Refresh files and environment", _Pixmap.SP_BrowserReload
        )
        if self.refresh.shortcut().isEmpty():  # no platform refresh key (some Linux desktops)
            self.refresh.setShortcut(QKeySequence("F5"))
        self.setup = self._make(
            "&Set up environment…",
            "Ctrl+Shift+S",
            "Create the bucket, database, function and trigger",
            _Pixmap.SP_DialogApplyButton,
        )
        self.teardown = self._make(
            "&Tear down environment…", None, "Delete everything setup created", _Pixmap.SP_TrashIcon
        )
        self.settings = self._make(
            "Se&ttings…", "Ctrl+,", "Where files go and how uploads behave", _Pixmap.SP_FileDialogDetailedView
        )
        self.quit = self._make("&Quit", "Ctrl+Q", "Quit CSV Drop")
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.find = self._make("&Filter files", QKeySequence.StandardKey.Find)
        self.copy = self._make(
            "&Copy selected files",
            QKeySequence.StandardKey.Copy,
            "Copy the selected files' metadata as tab-separated text",
        )
        self.export = self._make(
            "&Export selected…", "Ctrl+E", "Save the selected files' metadata (or every file shown) as CSV or JSON"
        )
        self.clear_finished = self._make(
            "C&lear finished uploads", QKeySequence.StandardKey.Delete, "Remove finished rows from the upload queue"
        )
        self.retry_failed = self._make("Retry &failed uploads", "Ctrl+R", "Try failed and cancelled uploads again")
        self.cancel_selected = self._make("Ca&ncel selected uploads", None, "Stop the selected uploads")
        # What the file list's selection can be asked to do (gui/file_actions.py), as desktop S3 clients offer.
        # Ctrl+S: the file is saved to this computer. Delete belongs to whichever list has the focus (the window
        # scopes it and Clear finished uploads with :func:`scope_to`).
        self.download = self._make(
            "&Download…",
            QKeySequence.StandardKey.Save,
            "Save the selected files from the bucket to this computer",
            _Pixmap.SP_ArrowDown,
        )
        self.delete_files = self._make(
            "De&lete…",
            QKeySequence.StandardKey.Delete,
            "Delete the selected files from the bucket, with their records",
            _Pixmap.SP_TrashIcon,
        )
        self.reprocess = self._make(
            "Re-&process",
            None,
            "Run the function again on the selected files as they are in the bucket now",
            _Pixmap.SP_MediaPlay,
        )
        self.show_log = self._make(
            "Show function l&og",
            "Ctrl+L",
            "The function's log lines about the selected file",
            _Pixmap.SP_FileDialogInfoView,
        )
        self.copy_uri = self._make(
            "Copy S3 &URI", "Ctrl+Shift+C", "Copy the selected files' s3://bucket/key addresses, one a line"
        )
        self.copy_link = self._make(
            "Copy lin&k", None, "Copy a download link to the selected file that anyone can open for 1 hour"
        )
        self.about = self._make("&About CSV Drop")

    def _make(self, text: str, shortcut: Shortcut = None, tip: str = "", icon: _Pixmap | None = None) -> QAction:
        action = QAction(text, self._window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self._window.style().standardIcon(icon))
        self._describe(action, tip)
        self._window.addAction(action)
        return action

    @staticmethod
    def _describe(action: QAction, tip: str) -> None:
        tip = tip or action.text().rstrip("…")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(tip + (f" ({keys})" if keys else ""))
        action.setStatusTip(tip)

    def file_menu_actions(self) -> list[QAction | None]:
        """The file list's context menu (None: a separator), after its Copy and Export."""
        return [
            self.download,
            self.reprocess,
            self.show_log,
            None,
            self.copy_uri,
            self.copy_link,
            None,
            self.delete_files,
        ]

    def scope_to(self, action: QAction, widget: QWidget) -> None:
        """The action's shortcut works only while the focus is in ``widget`` (or inside it): two lists share the
        Delete key, each for its own rows. Its menu item and toolbar button still work from anywhere."""
        self._window.removeAction(action)
        widget.addAction(action)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def fill_menu_bar(self, bar: QMenuBar) -> None:
        menus: list[tuple[str, list[QAction | None]]] = [
            (
                "&File",
                [
                    self.add_files,
                    self.add_folder,
                    None,
                    self.download,
                    self.reprocess,
                    self.show_log,
                    self.delete_files,
                    None,
                    self.export,
                    None,
                    self.settings,
                    None,
                    self.quit,
                ],
            ),
            (
                "&Edit",
                [
                    self.copy,
                    self.copy_uri,
                    self.copy_link,
                    self.find,
                    None,
                    self.retry_failed,
                    self.cancel_selected,
                    self.clear_finished,
                ],
            ),
            ("&View", [self.refresh]),
            ("E&nvironment", [self.setup, self.teardown]),
            ("&Help", [self.about]),
        ]
        for title, actions in menus:
            menu = bar.addMenu(title)
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)

    def toolbar(self) -> QToolBar:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (
            self.add_files,
            self.add_folder,
            None,
            self.download,
            self.reprocess,
            self.delete_files,
            None,
            self.refresh,
            None,
            self.setup,
            self.settings,
        ):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        return toolbar


def bind_button(button: QAbstractButton, action: QAction, *, follow_enabled: bool = True) -> None:
    """The button triggers the action and shows its tooltip; with ``follow_enabled`` it is enabled when the
    action is (otherwise its panel decides, as for Copy and Export, which stay available from the keyboard)."""
    button.setToolTip(action.toolTip())
    button.clicked.connect(action.trigger)
    if follow_enabled:
        button.setEnabled(action.isEnabled())
        action.changed.connect(lambda: button.setEnabled(action.isEnabled()))
