"""Formatting, colours and small painted icons shared by the widgets."""

from __future__ import annotations

import html
import time
from datetime import UTC, date, datetime

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QToolTip

GREEN = "#2e7d32"
RED = "#c62828"
ORANGE = "#e65100"
BLUE = "#1565c0"
PURPLE = "#6a1b9a"
GREY = "#757575"
AMBER = "#f9a825"
AMBER_TEXT = "#b26a00"  # amber dark enough to read as text on white


def mix(color: QColor, base: QColor, amount: float) -> QColor:
    """``amount`` (0..1) of ``color`` over ``base``: a pale ``color`` on a light base, a dim one on a dark base."""
    mixed = [
        amount * c + (1 - amount) * b
        for c, b in zip(
            (color.redF(), color.greenF(), color.blueF()), (base.redF(), base.greenF(), base.blueF()), strict=True
        )
    ]
    return QColor.fromRgbF(*mixed)


def progress_palette(palette: QPalette, color: QColor | str | None = None) -> QPalette:
    """``palette`` for a progress bar with its text inside: a pale fill (of ``color``, else the highlight) under
    text of one colour. With a strong fill the style draws the text light over the fill and dark beside it, and
    splits the character the fill's edge runs through into two halves hard to read."""
    out = QPalette(palette)
    fill = QColor(color) if color else out.color(QPalette.ColorRole.Highlight)
    out.setColor(QPalette.ColorRole.Highlight, mix(fill, out.color(QPalette.ColorRole.Base), 0.35))
    out.setColor(QPalette.ColorRole.HighlightedText, out.color(QPalette.ColorRole.Text))
    return out


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            if unit == "bytes":
                return f"{int(value):,} bytes" if int(value) != 1 else "1 byte"
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover


def compact_bytes(n: int | float | None) -> str:
    """A size in at most 8 characters for a narrow, right-aligned column: "697 B", "3.1 KB", "240 KB", "1.3 MB"
    ("697 bytes" was cut to "697 byt…").

    Units of 1,024 like every other size the window shows (the upload limit in Settings, the queue's progress),
    so a file's size agrees between the queue and the list: 1,400,000 bytes is 1.3 MB in both. One decimal below
    100 and none above: the column compares sizes at a glance; the exact count is the cell's tooltip.
    """
    if n is None:
        return "—"
    value = float(n)
    if abs(value) < 1024:
        return f"{int(value):,} B"
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:,.0f} {unit}"
    return f"{value:,.0f} TB"  # pragma: no cover


def exact_bytes(n: int | None) -> str:
    return "—" if n is None else f"{n:,} byte{'s' if n != 1 else ''}"


def bytes_of(done: int, total: int) -> str:
    """ "1.2 of 8.0 MB" (one unit when both share it), else "512 bytes of 1.5 MB"."""
    a, b = human_bytes(done), human_bytes(total)
    unit_a, unit_b = a.rsplit(" ", 1)[-1], b.rsplit(" ", 1)[-1]
    if unit_a == unit_b and unit_a != "bytes":
        return f"{a.rsplit(' ', 1)[0]} of {b}"
    return f"{a} of {b}"


def human_count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def human_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _local(value: datetime | str) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # fromtimestamp is the C library's localtime (DST-correct) and ~50x cheaper than astimezone() +
    # strftime: this runs for every row of a 100,000-record browser.
    return datetime.fromtimestamp(value.timestamp())


def local_time(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A timestamp in the user's time zone: time only for today, date and time otherwise (the detail pane and
    the notices, which have room for the whole date)."""
    if value is None or value == "":
        return "—"
    local = _local(value)
    if local is None:
        return str(value)
    clock = f"{local.hour:02d}:{local.minute:02d}" + (f":{local.second:02d}" if seconds else "")
    if local.date() == _today():
        return clock
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {clock}"


def short_time(value: datetime | str | None) -> str:
    """A timestamp for a list column, as short as the day allows: "16:59" today, "27 Nov 16:59" earlier this
    year, "2024-11-27" before that (the time of day matters less the older a file is; the tooltip has it all).

    The month is a word, so the day and month cannot be read the wrong way round in any country, and an
    English abbreviation, as the rest of the window is English.
    """
    if value is None or value == "":
        return "—"
    local = _local(value)
    if local is None:
        return str(value)
    today = _today()
    if local.date() == today:
        return f"{local.hour:02d}:{local.minute:02d}"
    if local.year == today.year:
        return f"{local.day} {MONTHS[local.month - 1]} {local.hour:02d}:{local.minute:02d}"
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"


def full_time(value: datetime | str | None) -> str:
    """Date and time to the second, always with the date (tooltips of the shortened times)."""
    if value is None or value == "":
        return "—"
    local = _local(value)
    if local is None:
        return str(value)
    return f"{local:%Y-%m-%d %H:%M:%S}"


def _today() -> date:
    now = time.time()
    if now - _TODAY_CHECKED[0] > 60:
        _TODAY_CHECKED[0] = now
        _TODAY[0] = datetime.fromtimestamp(now).date()
    return _TODAY[0]


_TODAY_CHECKED = [0.0]
_TODAY = [date.min]


def timestamp(value: datetime | str | None) -> float:
    """A sort key for a timestamp (0 for none)."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


TOOLTIP_CHARS = 72  # a tooltip line longer than this wraps


def tooltip(text: str) -> str:
    """``text`` as a tooltip, its lines kept, wrapped at about TOOLTIP_CHARS characters.

    Qt shows a plain-text tooltip on one line as wide as the screen, so a long error or a row's notes ran off
    it; rich text wraps, but Qt picks a narrow width for it (a 250-character error came out six lines of 30).
    A table of a set width is the one width rich text keeps. Short lines are kept as they are.
    """
    if not text:
        return ""
    body = html.escape(text, quote=False)
    if max(len(line) for line in text.splitlines()) <= TOOLTIP_CHARS:
        return f"<p style='white-space:pre'>{body}</p>"
    width = QFontMetrics(QToolTip.font()).averageCharWidth() * TOOLTIP_CHARS
    return f"<table width={width}><tr><td style='white-space:pre-wrap'>{body}</td></tr></table>"


def delimiter_name(delim: str | None) -> str:
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space", ":": "colon"}
    if not delim:
        return "—"
    return names.get(delim, repr(delim))


def tint(color: str, alpha: int = 40) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


_DOTS: dict[tuple[str, int], QIcon] = {}


def dot_icon(color: str, size: int = 12) -> QIcon:
    """A filled circle; painted at the screen's device pixel ratio so it stays crisp at 200 %."""
    icon = _DOTS.get((color, size))
    if icon is None:
        icon = _DOTS[(color, size)] = _paint_dot(color, size)
    return icon


def _paint_dot(color: str, size: int) -> QIcon:
    app = QApplication.instance()
    ratio = 2.0
    if isinstance(app, QApplication):
        screen = app.primaryScreen()
        ratio = max(screen.devicePixelRatio() if screen else 1.0, 1.0)
    pix = QPixmap(int(size * ratio), int(size * ratio))
    pix.setDevicePixelRatio(ratio)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(color)
    p.setPen(QPen(fill.darker(130), 1))
    p.setBrush(fill)
    p.drawEllipse(QRectF(1.5, 1.5, size - 3, size - 3))
    p.end()
    return QIcon(pix)


def app_icon() -> QIcon:
    """The CSV Drop icon: a sheet with a grid and a drop arrow, painted (no image files to ship)."""
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        pix = QPixmap(size, size)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = size / 64
        path = QPainterPath()
        path.addRoundedRect(QRectF(6 * s, 4 * s, 52 * s, 56 * s), 8 * s, 8 * s)
        p.fillPath(path, QColor(BLUE))
        p.setPen(QPen(QColor(255, 255, 255, 150), max(1.0, 2 * s)))
        for y in (20, 30, 40):
            p.drawLine(int(14 * s), int(y * s), int(50 * s), int(y * s))
        p.drawLine(int(28 * s), int(14 * s), int(28 * s), int(46 * s))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#ffffff"))
        arrow = QPainterPath()
        arrow.moveTo(38 * s, 30 * s)
        arrow.lineTo(58 * s, 30 * s)
        arrow.lineTo(48 * s, 44 * s)
        arrow.closeSubpath()
        p.drawPath(arrow)
        p.drawRect(QRectF(44 * s, 18 * s, 8 * s, 13 * s))
        p.end()
        icon.addPixmap(pix)
    return icon


def bold(font: QFont, delta_pt: float = 0.0) -> QFont:
    f = QFont(font)
    f.setBold(True)
    if delta_pt and f.pointSizeF() > 0:
        f.setPointSizeF(f.pointSizeF() + delta_pt)
    return f
