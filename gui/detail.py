"""The detail pane: everything the profile says about the selected file."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.charts import TYPE_LABELS, ColumnProfilesView, format_value
from gui.records import STATUS_COLORS, STATUS_LABELS, STATUS_TEXT_COLORS, s3_address, status_look
from gui.widgets import ElidedLabel, WrappingLabel

if TYPE_CHECKING:
    from backend.store import MetadataRecord
    from backend.store.records import RecordWarning

__all__ = ["TYPE_LABELS", "DetailPane"]
COLUMN_HEADINGS = ("Column", "Type", "Nulls", "Distinct", "Min", "Max")
_fmt = format_value


LINE_ENDS = {"\n": "LF (\\n)", "\r\n": "CRLF (\\r\\n)", "\r": "CR (\\r)", "mixed": "mixed"}


def _delimiter_text(record: MetadataRecord) -> str:
    delimiter = record.delimiter
    if not delimiter:
        return "—"
    text = f"{style.delimiter_name(delimiter)} ({delimiter!r})"
    if record.skip_initial_space:
        text += ", spaces after it skipped"
    return text


def _quotes_text(record: MetadataRecord) -> str:
    """The quote character and how a quote inside a quoted field is written."""
    if record.status != "PROCESSED":
        return "—"
    quote = record.quote_char
    if not quote:
        return "none"
    name = {'"': "double quote", "'": "single quote"}.get(quote, "quote")
    text = f"{name} ({quote})"
    escape = record.escape_char
    doubled = record.double_quote
    if escape:
        return f"{text}, escaped with {escape} inside fields"
    if doubled:
        return f"{text}, doubled inside fields"
    return text


def _header_text(record: MetadataRecord) -> str:
    has_header = record.has_header
    if has_header is None:
        return "—"
    if not has_header:
        return "no (columns are numbered)"
    line = record.header_line
    return f"line {line:,}" if line else "yes"


def _skipped_text(record: MetadataRecord) -> str:
    skipped = record.skipped_lines
    return "—" if skipped is None else str(skipped.describe())


def _short_hash(sha: str | None) -> str:
    return f"{sha[:16]}…{sha[-8:]}" if sha and len(sha) > 28 else (sha or "—")


def _fit_height(table: QTableWidget, max_rows: int = 10) -> None:
    """Tall enough for its rows (up to ``max_rows``; it scrolls beyond), so the pane does not waste space."""
    rows = min(table.rowCount(), max_rows)
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(rows))
    if table.horizontalScrollBar().maximum() > 0 or table.columnCount() > 4:
        height += table.horizontalScrollBar().sizeHint().height()
    table.setFixedHeight(height)


def _text(item: QTableWidgetItem | None) -> str:
    return item.text() if item is not None else ""


def _readonly_table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    table.verticalHeader().setDefaultSectionSize(int(table.fontMetrics().height() * 1.5))
    table.setShowGrid(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustIgnored)
    table.setMinimumWidth(table.fontMetrics().horizontalAdvance("M") * 12)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    return table


def _callout(name: str, colour: str, tint: int) -> QLabel:
    """A selectable, wrapping label in a tinted box with a border of ``colour`` (the error, the warnings)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setObjectName(name)
    label.setStyleSheet(
        f"QLabel#{name} {{ background: {style.tint(colour, tint).name(QColor.NameFormat.HexArgb)};"
        f" border: 1px solid {colour}; border-radius: 4px; padding: 6px; }}"
    )
    return label


class DetailPane(QWidget):
    """Shows one MetadataRecord: summary, error, per-column profile and the sample rows.

    A summary record (``complete=False``: read without its columns and sample rows) shows what it has and
    "Loading columns…" where the rest goes, and asks for the whole record with :attr:`full_record_wanted`
    (bucket, key); whoever fetches it hands it to :meth:`show_record`. A summary of the record already shown
    whole (the list refreshing its row) leaves the pane as it is.
    """

    full_record_wanted = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record: MetadataRecord | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)

        self.empty = QLabel(
            "<b>No file selected</b><br><br>Select a file in the list to see its columns, "
            "inferred types, null and distinct counts, and the first rows."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setForegroundRole(self.empty.foregroundRole())
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 12px;")
        self.stack.addWidget(self.empty)

        body = QWidget()
        layout = QVBoxLayout(body)
        fm = self.fontMetrics()
        layout.setContentsMargins(fm.height() // 2, fm.height() // 2, fm.height() // 2, fm.height() // 2)
        layout.setSpacing(fm.height() // 2)

        # The file name wraps wherever it must (real names are long and have no spaces); the address under it
        # is one line cut in the middle (its start is the bucket and folders, its end the name above).
        self.title = WrappingLabel()
        self.title.setFont(style.bold(self.font(), 3))
        self.title.setAccessibleName("File name")
        self.subtitle = QLabel()
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.address = ElidedLabel(elide=Qt.TextElideMode.ElideMiddle, copyable=True)
        self.address.setStyleSheet("color: palette(placeholder-text);")
        self.address.setAccessibleName("S3 address")
        heading = QVBoxLayout()  # name, status and address read as one block
        heading.setSpacing(fm.height() // 6)
        heading.addWidget(self.title)
        heading.addWidget(self.subtitle)
        heading.addWidget(self.address)
        layout.addLayout(heading)

        self.error = _callout("detailError", style.RED, 30)
        layout.addWidget(self.error)
        self.warnings = _callout("detailWarnings", style.AMBER, 40)
        self.warnings.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.warnings)
        self._warnings_plain = ""

        self.facts = QGridLayout()
        self.facts.setHorizontalSpacing(fm.height())
        self.facts.setVerticalSpacing(fm.height() // 4)
        self._fact_labels: dict[str, QLabel] = {}
        # (left, right) per row; a row without a right fact spans the width. Short values pair up; the long
        # ones (the dialect, the times, the hash) get a row each, so a narrow pane wraps them, never clips.
        rows: list[tuple[tuple[str, str], tuple[str, str] | None]] = [
            (("size", "Size"), ("rows", "Rows")),
            (("columns", "Columns"), ("duplicates", "Duplicate rows")),
            (("encoding", "Encoding"), ("line_ends", "Line ends")),
            (("header", "Header row"), None),
            (("skipped", "Skipped lines"), None),
            (("delimiter", "Delimiter"), None),
            (("quotes", "Quotes"), None),
            (("uploaded", "Uploaded"), None),
            (("processed", "Processed"), None),
            (("sha256", "SHA-256"), None),
        ]
        places = [(fact, row, col) for row, pair in enumerate(rows) for col, fact in enumerate(pair) if fact]
        for (key, title), row, col in places:
            name = QLabel(title + ":")
            name.setStyleSheet("color: palette(placeholder-text);")
            name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            value = QLabel()
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(key in ("delimiter", "quotes", "skipped"))  # times and numbers never wrap
            value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            self.facts.addWidget(name, row, col * 2)
            self.facts.addWidget(value, row, col * 2 + 1, 1, 1 if rows[row][1] else 3)
            self._fact_labels[key] = value
        self.facts.setColumnStretch(1, 1)
        self.facts.setColumnStretch(3, 1)
        layout.addLayout(self.facts)

        self.loading = QLabel("Loading columns and sample rows…")
        self.loading.setStyleSheet("color: palette(placeholder-text);")
        self.loading.setAccessibleName("Loading")
        layout.addWidget(self.loading)

        # The sample rows before the columns: the sample is at most 5 rows, the columns may be hundreds of rows
        # of pictures; this way both are in reach without scrolling past the other.
        self.sample_title = QLabel("Sample rows")
        self.sample_title.setFont(style.bold(self.font(), 1))
        layout.addWidget(self.sample_title)
        self.sample = _readonly_table([])
        self.sample.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.sample.horizontalHeader().setStretchLastSection(False)
        layout.addWidget(self.sample)

        self.columns_title = QLabel("Columns")
        self.columns_title.setFont(style.bold(self.font(), 1))
        layout.addWidget(self.columns_title)
        self.columns = ColumnProfilesView()
        layout.addWidget(self.columns)
        layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.stack.addWidget(scroll)
        self.show_record(None)

    @property
    def is_loading(self) -> bool:
        """A summary record is shown and its columns and sample rows are awaited."""
        return self.record is not None and not self.record.complete

    def show_record(self, record: MetadataRecord | None) -> None:
        """Show ``record`` (None: nothing selected). An incomplete one shows "Loading…" for its columns and
        sample rows and emits :attr:`full_record_wanted`, unless it is a summary of the record shown whole."""
        current = self.record
        if (
            record is not None
            and not record.complete
            and current is not None
            and current.complete
            and (current.bucket, current.key, current.revision) == (record.bucket, record.key, record.revision)
        ):
            return
        self.record = record
        if record is None:
            self.stack.setCurrentWidget(self.empty)
            return
        self.stack.setCurrentIndex(1)
        status = str(record.status)
        look = status_look(record)
        color = STATUS_TEXT_COLORS.get(look, STATUS_COLORS.get(look, style.GREY))
        self.title.setText(record.file_name or record.key)
        self.subtitle.setText(
            f"<span style='color:{color}; font-weight:bold'>● {STATUS_LABELS.get(look, html.escape(status))}</span>"
        )
        self.address.setText(s3_address(record))
        self.error.setVisible(status != "PROCESSED")
        # A MISSING record keeps the profile of the object it had: the facts below are what the file was.
        heading = "The object is gone:" if status == "MISSING" else "Could not be profiled:"
        self.error.setText(f"<b>{heading}</b> {html.escape(record.error or 'no reason given')}")
        self._show_warnings(record.warnings if status == "PROCESSED" else ())

        encoding = record.encoding
        facts = {
            "size": style.compact_bytes(record.size_bytes),
            "rows": style.human_count(record.row_count),
            "columns": style.human_count(record.column_count),
            "duplicates": style.human_count(record.duplicate_row_count),
            "encoding": (encoding + (" with BOM" if record.has_bom else "")) if encoding else "—",
            "delimiter": _delimiter_text(record),
            "quotes": _quotes_text(record),
            "line_ends": LINE_ENDS.get(record.line_terminator or "", "—"),
            "header": _header_text(record),
            "skipped": _skipped_text(record),
            "uploaded": style.local_time(record.uploaded_at, seconds=True),
            "processed": style.local_time(record.processed_at, seconds=True),
            "sha256": _short_hash(record.sha256),
        }
        for key, value in facts.items():
            self._fact_labels[key].setText(value)
        self._fact_labels["sha256"].setToolTip(record.sha256 or "")
        self._fact_labels["size"].setToolTip(style.exact_bytes(record.size_bytes))

        loading = not record.complete
        self.loading.setVisible(loading)
        if loading:
            self.full_record_wanted.emit(record.bucket, record.key)
        # A summary has no columns: it must not read as a file of none (nor keep the last record's).
        profiles = () if loading else record.columns
        self.columns_title.setText(f"Columns ({len(profiles)})" if profiles else "Columns")
        self.columns.set_profiles(profiles, record.row_count)
        self.columns.setVisible(bool(profiles))
        self.columns_title.setVisible(bool(profiles))

        em = self.fontMetrics().horizontalAdvance("M")
        names = () if loading else record.column_names
        rows = () if loading else record.sample_rows
        width = max([len(names)] + [len(r) for r in rows]) if (names or rows) else 0
        headers = [names[i] if i < len(names) and names[i] else f"({i + 1})" for i in range(width)]
        self.sample.clear()
        self.sample.setColumnCount(width)
        self.sample.setHorizontalHeaderLabels(headers)
        self.sample.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, value in enumerate(cells):
                item = QTableWidgetItem(str(value))
                item.setToolTip(str(value))  # cells are cut at 24 "M" widths
                self.sample.setItem(r, c, item)
        for c, name in enumerate(headers):
            head = self.sample.horizontalHeaderItem(c)
            if head is not None:
                head.setToolTip(name)
        self.sample.resizeColumnsToContents()
        header = self.sample.horizontalHeader()
        limit = em * 24
        for c in range(width):
            header.resizeSection(c, min(header.sectionSize(c), limit))
        shown = len(rows)
        total = record.row_count
        self.sample_title.setText(
            f"Sample rows (first {shown} of {total:,})" if shown and total is not None else "Sample rows"
        )
        _fit_height(self.sample)
        self.sample.setVisible(bool(rows))
        self.sample_title.setVisible(bool(rows))

    def _show_warnings(self, warnings: Sequence[RecordWarning]) -> None:
        """The amber box: each warning's message and the lines it concerns."""
        self.warnings.setVisible(bool(warnings))
        if not warnings:
            self.warnings.clear()
            self.warnings.setToolTip("")
            self._warnings_plain = ""
            return
        count = f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
        rich = [f"<b>Processed with {count}</b>"]
        plain = [f"Processed with {count}"]
        for w in warnings:
            where = w.lines_text
            message = w.message or w.code
            rich.append(f"• {html.escape(message)}" + (f" <i>({html.escape(where)})</i>" if where else ""))
            plain.append(f"• {message}" + (f" ({where})" if where else ""))
        self.warnings.setText("<br>".join(rich))
        self.warnings.setToolTip("Warning codes: " + ", ".join(w.code for w in warnings))
        self._warnings_plain = "\n".join(plain)

    def text(self) -> str:
        """Everything shown, as plain text (tests and "copy details")."""
        if self.record is None:
            return self.empty.text()
        parts = [self.title.text(), self.subtitle.text(), self.address.text()]
        if self.error.isVisible() or self.record.status != "PROCESSED":
            parts.append(self.error.text())
        if self._warnings_plain:
            parts.append(self._warnings_plain)
        parts += [f"{k}: {v.text()}" for k, v in self._fact_labels.items()]
        if self.is_loading:
            parts.append(self.loading.text())
        parts.append("\t".join(COLUMN_HEADINGS))
        for row, col in enumerate(self.columns.profiles):
            values = [
                col.name or f"(column {row + 1})",
                TYPE_LABELS.get(col.type, col.type or "—"),
                _fmt(col.null_count),
                _fmt(col.distinct_count),
                _fmt(col.min),
                _fmt(col.max),
            ]
            parts.append("\t".join(values))
        table = self.sample
        parts.append("\t".join(_text(table.horizontalHeaderItem(c)) for c in range(table.columnCount())))
        for r in range(table.rowCount()):
            parts.append("\t".join(_text(table.item(r, c)) for c in range(table.columnCount())))
        return "\n".join(parts)
