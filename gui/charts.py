"""Per-column pictures for the detail pane: a row per column with its name, type, a bar of its null share and a
small chart of its distribution (a histogram for numbers and dates, the most frequent values for text).

One painted widget holds every row (a record may have hundreds of columns: hundreds of widgets would take longer
to build than the pane has to show itself); it paints only the rows in sight. Where things go is computed by
:func:`layout_column` as :class:`Piece` rectangles with their text and tooltip, apart from painting, so the
layout can be checked without reading pixels and the tooltips come from the same rectangles that were drawn.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QHelpEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from gui import style

if TYPE_CHECKING:
    from backend.store.records import ColumnProfile, Histogram

TYPE_LABELS = {
    "integer": "Integer",
    "float": "Decimal",
    "boolean": "Boolean",
    "date": "Date",
    "datetime": "Date & time",
    "string": "Text",
    "empty": "Empty",
}
BAR_COLOR = style.BLUE
NULL_COLOR = style.GREY
SMALL_FONT = 0.88  # axis labels, counts and the numbers line, relative to the widget's font


def format_value(value: object) -> str:
    """A profile value as the pane shows it: thousands separators, 6 significant digits, "—" for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def percent(part: int, whole: int) -> str:
    """ "12.5%", never "0%" for a share above nothing or "100%" for one below all (a column with 3 nulls in a
    million rows is not null-free)."""
    if whole <= 0 or part <= 0:
        return "0%"
    share = 100.0 * part / whole
    if part >= whole:
        return "100%"
    if share < 0.1:
        return "<0.1%"
    if share > 99.9:
        return ">99.9%"
    return f"{share:.1f}%".replace(".0%", "%")


def _edge_text(value: float, kind: str, whole: bool) -> str:
    if kind in ("date", "datetime"):
        moment = datetime.fromtimestamp(value, UTC)
        if kind == "date":
            return moment.date().isoformat()
        return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")
    if whole:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def bin_text(histogram: Histogram, index: int, kind: str) -> str:
    """The values bin ``index`` holds, as people read them: "3", "3 – 5" (whole numbers: the edges are [a, b)),
    "2024-01-01 – 2024-01-10" (days), "1.5 – 1.54" (floats: [a, b), the last bin closed)."""
    lo, hi = histogram.edges[index], histogram.edges[index + 1]
    whole = kind == "integer" and lo.is_integer() and hi.is_integer() and hi > lo
    days = kind == "date" and hi > lo and (hi - lo) % 86_400 == 0
    if whole or days:
        step = 86_400.0 if days else 1.0
        last = hi - step
        first_text = _edge_text(lo, kind, True)
        return first_text if last <= lo else f"{first_text} – {_edge_text(last, kind, True)}"
    if hi == lo:
        return _edge_text(lo, kind, kind == "integer")
    return f"{_edge_text(lo, kind, False)} – {_edge_text(hi, kind, False)}"


@dataclass(frozen=True)
class Piece:
    """One painted thing of a row. ``kind``: name, null_track, null_fill, null_text, stats (type, distinct
    count, and min - max without a histogram), bin, bin_slot (a bin's hover area), baseline, axis, axis_max,
    value (a top value's label), value_bar, count, note (the values not listed). Rectangles are in the row's
    coordinates (logical pixels, the row's top at 0)."""

    kind: str
    rect: QRectF
    text: str = ""
    tip: str = ""


@dataclass(frozen=True)
class RowLayout:
    height: float
    pieces: tuple[Piece, ...]

    def of(self, kind: str) -> list[Piece]:
        return [p for p in self.pieces if p.kind == kind]


class _Metrics:
    """Sizes derived from the widget's font, so the rows grow with the user's font and scaling."""

    def __init__(self, font: QFont) -> None:
        self.font = font
        self.bold = style.bold(font)
        self.small = QFont(font)
        if font.pointSizeF() > 0:
            self.small.setPointSizeF(font.pointSizeF() * SMALL_FONT)
        self.fm = QFontMetricsF(font)
        self.fm_bold = QFontMetricsF(self.bold)
        self.fm_small = QFontMetricsF(self.small)
        self.line = math.ceil(self.fm.height())
        self.small_line = math.ceil(self.fm_small.height())
        self.pad = math.ceil(self.line * 0.4)
        self.gap = math.ceil(self.line * 0.6)
        self.bar_line = self.small_line + 3  # one top value
        # name, null bar, numbers
        self.left_height = self.line + self.line + self.small_line + 4


def row_height(profile: ColumnProfile, m: _Metrics) -> float:
    """A row's height, which depends on the profile and the font only (not the width): the rows' offsets are
    known without laying any of them out."""
    content = m.left_height
    if profile.histogram is None and profile.top_values:
        lines = len(profile.top_values) + (1 if profile.distinct_count > len(profile.top_values) else 0)
        content = max(content, lines * m.bar_line)
    return content + 2 * m.pad


def layout_column(profile: ColumnProfile, row_count: int | None, width: float, m: _Metrics) -> RowLayout:
    """Where every piece of ``profile``'s row goes in a row ``width`` wide. ``row_count``: the file's data
    rows (the null share's whole)."""
    pieces: list[Piece] = []
    height = row_height(profile, m)
    x0, inner = float(m.pad), max(width - 2 * m.pad, 40.0)
    has_chart = profile.histogram is not None or bool(profile.top_values)
    # The same width with or without a chart, so names, types and null bars line up from row to row.
    left_w = max(min(inner * 0.42, 27 * m.fm.averageCharWidth()), inner * 0.3)
    y = float(m.pad)

    # The name has the line to itself (the type is with the numbers below): real names run long.
    name = profile.name or "(no name)"
    shown = m.fm_bold.elidedText(name, Qt.TextElideMode.ElideMiddle, left_w)
    pieces.append(Piece("name", QRectF(x0, y, left_w, m.line), shown, name if shown != name else ""))
    y += m.line

    rows = row_count or 0
    nulls = profile.null_count
    share_text = percent(nulls, rows) + " null" if rows else f"{nulls:,} null"
    text_w = m.fm_small.horizontalAdvance(">99.9% null") + m.pad
    track_h = max(4.0, round(m.line * 0.45))
    track = QRectF(x0, y + (m.line - track_h) / 2, max(left_w - text_w, 20.0), track_h)
    tip = f"{nulls:,} of {rows:,} rows are empty ({percent(nulls, rows)})" if rows else f"{nulls:,} empty cells"
    pieces.append(Piece("null_track", track, "", tip))
    share = min(max(nulls / rows, 0.0), 1.0) if rows else 0.0
    if share > 0:
        # at least a pixel for a share above nothing, so "0.01% null" still shows
        pieces.append(
            Piece("null_fill", QRectF(track.x(), track.y(), max(track.width() * share, 1.0), track_h), "", tip)
        )
    pieces.append(Piece("null_text", QRectF(track.right() + m.pad / 2, y, text_w, m.line), share_text, tip))
    y += m.line

    stats = [TYPE_LABELS.get(profile.type, profile.type or "—"), f"{profile.distinct_count:,} distinct"]
    # (a histogram says its min and max under its ends)
    if profile.histogram is None and (profile.min is not None or profile.max is not None):
        low, high = format_value(profile.min), format_value(profile.max)
        stats.append(low if low == high else f"{low} – {high}")
    stats_text = " · ".join(stats)
    stats_w = left_w if has_chart else inner  # a record stored without distributions: room for min and max
    stats_shown = m.fm_small.elidedText(stats_text, Qt.TextElideMode.ElideRight, stats_w)
    pieces.append(
        Piece(
            "stats",
            QRectF(x0, y + 2, stats_w, m.small_line),
            stats_shown,
            stats_text if stats_shown != stats_text else "",
        )
    )

    if has_chart:
        chart = QRectF(x0 + left_w + m.gap, float(m.pad), inner - left_w - m.gap, height - 2 * m.pad)
        if profile.histogram is not None:
            pieces += _histogram_pieces(profile, profile.histogram, rows, chart, m)
        else:
            pieces += _top_value_pieces(profile, rows, chart, m)
    return RowLayout(height, tuple(pieces))


def _histogram_pieces(profile: ColumnProfile, hist: Histogram, rows: int, chart: QRectF, m: _Metrics) -> list[Piece]:
    pieces: list[Piece] = []
    bars = QRectF(chart.x(), chart.y() + 2, chart.width(), chart.height() - m.small_line - 4)
    counts = hist.counts
    # Heights are count per unit of width: whole-number bins may differ by one value in width (30 values in 20
    # bins), and a bin of two values holding twice the rows of a bin of one is no peak.
    widths = [b - a for a, b in zip(hist.edges, hist.edges[1:], strict=False)]
    density = [c / w for c, w in zip(counts, widths, strict=True)] if min(widths) > 0 else [float(c) for c in counts]
    top = max(density) or 1.0
    n = len(counts)
    slot = bars.width() / n
    # a gap between bars once they are wide enough to show one (20 bins in a narrow pane touch)
    gap = 1.0 if slot >= 4 else 0.0
    total = sum(counts)
    for i, count in enumerate(counts):
        left = bars.x() + i * slot
        tip = f"{bin_text(hist, i, profile.type)}: {count:,} value{'s' if count != 1 else ''}"
        if total:
            tip += f" ({percent(count, rows or total)} of {'rows' if rows else 'values'})"
        if count:
            h = max(bars.height() * density[i] / top, 1.0)  # a single value in a tall bin still shows
            rect = QRectF(left + gap / 2, bars.bottom() - h, max(slot - gap, 1.0), h)
        else:
            rect = QRectF(left + gap / 2, bars.bottom(), max(slot - gap, 1.0), 0.0)
        # the hover area is the whole slot (a bin of one value is a sliver): the tip is on the slot's rect
        pieces.append(Piece("bin", rect, str(count), tip))
        pieces.append(Piece("bin_slot", QRectF(left, bars.y(), slot, bars.height()), "", tip))
    pieces.append(Piece("baseline", QRectF(bars.x(), bars.bottom(), bars.width(), 1.0)))
    # The profile's own min and max (a whole-number histogram's last edge is max + 1); a time as its edge, in
    # UTC without the seconds' zeros and the offset ("2025-01-01T00:41:00+00:00" is too long for the axis).
    use_edges = profile.type == "datetime" or profile.min is None or profile.max is None
    low = _edge_text(hist.edges[0], profile.type, False) if use_edges else profile.min
    high = _edge_text(hist.edges[-1], profile.type, False) if use_edges else profile.max
    axis_y = bars.bottom() + 3
    low_text, high_text = format_value(low), format_value(high)
    half = chart.width() / 2 - m.pad / 2
    low_label, high_label = low_text, high_text
    if profile.type == "datetime" and max(map(m.fm_small.horizontalAdvance, (low_text, high_text))) > half:
        low_label, high_label = low_text[:10], high_text[:10]  # the days, when the times do not fit
    low_shown = m.fm_small.elidedText(low_label, Qt.TextElideMode.ElideRight, half)
    high_shown = m.fm_small.elidedText(high_label, Qt.TextElideMode.ElideLeft, half)
    pieces.append(Piece("axis", QRectF(chart.x(), axis_y, half, m.small_line), low_shown, f"lowest: {low_text}"))
    if high_text != low_text:
        high_rect = QRectF(chart.right() - half, axis_y, half, m.small_line)
        pieces.append(Piece("axis_max", high_rect, high_shown, f"highest: {high_text}"))
    return pieces


def _top_value_pieces(profile: ColumnProfile, rows: int, chart: QRectF, m: _Metrics) -> list[Piece]:
    pieces: list[Piece] = []
    values = profile.top_values
    top = max((c for _, c in values), default=1) or 1
    count_w = max(m.fm_small.horizontalAdvance(f"{c:,}") for _, c in values) + 2
    label_w = max(min(chart.width() * 0.45, 18 * m.fm_small.averageCharWidth()), 24.0)
    bar_x = chart.x() + label_w + m.pad / 2
    bar_room = max(chart.right() - count_w - m.pad / 2 - bar_x, 8.0)
    bar_h = max(m.bar_line - 5.0, 3.0)
    for i, (value, count) in enumerate(values):
        y = chart.y() + i * m.bar_line
        label = value if value != "" else "(empty text)"
        shown = m.fm_small.elidedText(label, Qt.TextElideMode.ElideRight, label_w)
        tip = f"{label}: {count:,} row{'s' if count != 1 else ''}"
        if rows:
            tip += f" ({percent(count, rows)})"
        w = max(bar_room * count / top, 1.0)
        pieces.append(Piece("value", QRectF(chart.x(), y, label_w, m.bar_line), shown, tip))
        pieces.append(Piece("value_bar", QRectF(bar_x, y + (m.bar_line - bar_h) / 2, w, bar_h), "", tip))
        pieces.append(Piece("count", QRectF(bar_x + w + m.pad / 2, y, count_w, m.bar_line), f"{count:,}", tip))
    others = profile.distinct_count - len(values)
    if others > 0:
        # The rest in one line: how many other values, and (with the row count) how many rows they fill.
        rest = (rows - profile.null_count - sum(c for _, c in values)) if rows else 0
        text = f"{others:,} other value{'s' if others != 1 else ''}" + (
            f": {rest:,} row{'s' if rest != 1 else ''} ({percent(rest, rows)})" if rest > 0 else ""
        )
        y = chart.y() + len(values) * m.bar_line
        shown = m.fm_small.elidedText(text, Qt.TextElideMode.ElideRight, chart.width())
        pieces.append(Piece("note", QRectF(chart.x(), y, chart.width(), m.bar_line), shown, text))
    return pieces


class ColumnProfilesView(QWidget):
    """Every column of one record as a row of pictures; as tall as its rows (the pane scrolls it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._profiles: tuple[ColumnProfile, ...] = ()
        self._row_count: int | None = None
        self._offsets: list[float] = [0.0]  # top of each row, and the bottom of the last
        self._cache: dict[tuple[int, int], RowLayout] = {}
        self._metrics = _Metrics(self.font())
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a stop in the window's keyboard order, as the table was
        self.setAccessibleName("Column profiles")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    # --------------------------------------------------------------------------------------------- data
    def set_profiles(self, profiles: Sequence[ColumnProfile], row_count: int | None) -> None:
        self._profiles = tuple(profiles)
        self._row_count = row_count
        self._relayout()

    @property
    def profiles(self) -> tuple[ColumnProfile, ...]:
        return self._profiles

    def _relayout(self) -> None:
        self._metrics = _Metrics(self.font())
        self._cache.clear()
        offsets = [0.0]
        for profile in self._profiles:
            offsets.append(offsets[-1] + row_height(profile, self._metrics))
        self._offsets = offsets
        self.setFixedHeight(math.ceil(offsets[-1]))
        self.setAccessibleDescription(f"{len(self._profiles)} columns")
        self.updateGeometry()
        self.update()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._relayout()
        super().changeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(int(self._metrics.fm.averageCharWidth() * 60), math.ceil(self._offsets[-1]))

    def minimumSizeHint(self) -> QSize:
        return QSize(int(self._metrics.fm.averageCharWidth() * 30), math.ceil(self._offsets[-1]))

    # ------------------------------------------------------------------------------------------- layout
    def row_rect(self, index: int) -> QRectF:
        top = self._offsets[index]
        return QRectF(0, top, self.width(), self._offsets[index + 1] - top)

    def row_layout(self, index: int) -> RowLayout:
        """Row ``index`` laid out at the widget's width (row coordinates; add row_rect(index).top())."""
        key = (index, self.width())
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 2000:  # resized many times: keep the memory of the current width only
                self._cache.clear()
            found = self._cache[key] = layout_column(
                self._profiles[index], self._row_count, float(self.width()), self._metrics
            )
        return found

    def row_at(self, y: float) -> int | None:
        index = bisect.bisect_right(self._offsets, y) - 1
        return index if 0 <= index < len(self._profiles) else None

    def piece_at(self, pos: QPointF) -> Piece | None:
        """The topmost piece with a tooltip under ``pos`` (widget coordinates)."""
        index = self.row_at(pos.y())
        if index is None:
            return None
        local = QPointF(pos.x(), pos.y() - self._offsets[index])
        for piece in reversed(self.row_layout(index).pieces):
            if piece.tip and piece.rect.adjusted(0, -1, 0, 1).contains(local):
                return piece
        return None

    def text(self) -> str:
        """What the rows say, one line per column (tests, "copy details")."""
        lines = []
        for i in range(len(self._profiles)):
            layout = self.row_layout(i)
            words = [p.text for p in layout.pieces if p.text and p.kind not in ("bin",)]
            lines.append("  ".join(words))
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------------- events
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            piece = self.piece_at(QPointF(event.pos()))
            if piece is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), style.tooltip(piece.tip), self)
            return True
        return super().event(event)

    def resizeEvent(self, event: object) -> None:
        self._cache.clear()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self._profiles:
            return
        area = QRectF(event.rect())
        first = self.row_at(area.top()) or 0
        last = self.row_at(area.bottom())
        last = len(self._profiles) - 1 if last is None else last
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        palette = self.palette()
        for index in range(first, last + 1):
            rect = self.row_rect(index)
            if index % 2:
                painter.fillRect(rect, palette.color(QPalette.ColorRole.AlternateBase))
            painter.save()
            painter.translate(0, rect.top())
            self._paint_row(painter, self.row_layout(index), palette)
            painter.restore()
        painter.end()

    def _paint_row(self, painter: QPainter, layout: RowLayout, palette: QPalette) -> None:
        m = self._metrics
        text = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        center = Qt.AlignmentFlag.AlignVCenter
        for piece in layout.pieces:
            kind, rect = piece.kind, piece.rect
            if kind == "name":
                painter.setFont(m.bold)
                painter.setPen(text)
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | center), piece.text)
            elif kind == "null_track":
                painter.fillRect(rect, style.tint(NULL_COLOR, 45))
            elif kind == "null_fill":
                painter.fillRect(rect, QColor(NULL_COLOR))
            elif kind in ("null_text", "stats", "count", "note"):
                painter.setFont(m.small)
                painter.setPen(muted if kind != "count" else text)
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | center), piece.text)
            elif kind == "axis":
                painter.setFont(m.small)
                painter.setPen(muted)
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), piece.text)
            elif kind == "axis_max":
                painter.setFont(m.small)
                painter.setPen(muted)
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop), piece.text)
            elif kind == "baseline":
                painter.fillRect(rect, style.tint(NULL_COLOR, 110))
            elif kind == "bin" and rect.height() > 0:
                painter.fillRect(rect, QColor(BAR_COLOR))
            elif kind == "value":
                painter.setFont(m.small)
                painter.setPen(text)
                painter.drawText(rect, int(Qt.AlignmentFlag.AlignRight | center), piece.text)
            elif kind == "value_bar":
                painter.fillRect(rect, QColor(BAR_COLOR))
