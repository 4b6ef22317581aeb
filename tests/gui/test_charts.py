"""The detail pane's per-column pictures (gui/charts.py): rendered offscreen at 1x and 2x and read back pixel by
pixel, their layout and tooltips, and the pane around them (loading state, records without distributions, 200
columns in one painted widget)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from gui_fakes import make_record
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QWidget

from backend.store.records import ColumnProfile, Histogram
from gui.charts import BAR_COLOR, NULL_COLOR, ColumnProfilesView, bin_text, percent
from gui.detail import DetailPane

WHITE = QColor("#ffffff")


def render(view: QWidget, dpr: float) -> QImage:
    image = QImage(int(view.width() * dpr), int(view.height() * dpr), QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(dpr)
    image.fill(WHITE)
    view.render(image)
    return image


def pixel(image: QImage, x: float, y: float) -> QColor:
    dpr = image.devicePixelRatio()
    return QColor(image.pixel(int(x * dpr), int(y * dpr)))


def view_of(*profiles: ColumnProfile, rows: int | None = 100, width: int = 600) -> ColumnProfilesView:
    view = ColumnProfilesView()
    view.set_profiles(profiles, rows)
    view.resize(width, view.height())
    return view


INTEGER = ColumnProfile(
    name="amount",
    type="integer",
    null_count=25,
    distinct_count=20,
    min=0,
    max=19,
    histogram=Histogram(
        tuple(float(e) for e in range(21)), (5, 0, 3, 0, 0, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 57)
    ),
)
TEXT = ColumnProfile(
    name="city",
    type="string",
    null_count=10,
    distinct_count=5,
    top_values=(("Oslo", 50), ("Bergen", 25), ("Trondheim-" + "x" * 50, 10)),
)


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_histogram_bars_where_counts_are_above_zero_and_none_where_zero(qapp: Any, dpr: float) -> None:
    view = view_of(INTEGER)
    image = render(view, dpr)
    bins = view.row_layout(0).of("bin")
    assert [int(p.text) for p in bins] == list(INTEGER.histogram.counts)  # type: ignore[union-attr]
    bar = QColor(BAR_COLOR)
    for piece in bins:
        x = piece.rect.center().x()
        bottom = view.row_layout(0).of("baseline")[0].rect.top() - 0.5
        if int(piece.text):
            assert pixel(image, x, bottom) == bar, piece.tip
            assert pixel(image, x, piece.rect.top() + 0.5) == bar, piece.tip
            assert pixel(image, x, piece.rect.top() - 2) != bar  # the bar ends where its count says
        else:
            assert pixel(image, x, bottom) == pixel(image, 0.5, 0.5), piece.tip  # the row's background
    # heights follow the counts (bins of equal width): the tallest is the 57, the 1 is 57 times lower
    heights = {int(p.text): p.rect.height() for p in bins if int(p.text)}
    assert heights[57] == pytest.approx(heights[9] * 57 / 9, rel=0.02)
    assert heights[1] >= 1.0
    # min and max under the ends
    assert [p.text for p in view.row_layout(0).of("axis") + view.row_layout(0).of("axis_max")] == ["0", "19"]


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_null_bar_fill_is_the_null_share_of_the_track(qapp: Any, dpr: float) -> None:
    view = view_of(INTEGER, rows=100)  # 25 of 100 rows empty
    image = render(view, dpr)
    layout = view.row_layout(0)
    track = layout.of("null_track")[0].rect
    y = int(track.center().y() * dpr)
    filled = sum(
        1
        for x in range(int(track.left() * dpr), int(track.right() * dpr))
        if QColor(image.pixel(x, y)) == QColor(NULL_COLOR)
    )
    assert filled == pytest.approx(0.25 * track.width() * dpr, abs=2)
    assert layout.of("null_text")[0].text == "25% null"
    assert "25 of 100 rows are empty (25%)" in layout.of("null_text")[0].tip


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_top_values_bars_labels_and_counts(qapp: Any, dpr: float) -> None:
    view = view_of(TEXT, rows=100)
    image = render(view, dpr)
    layout = view.row_layout(0)
    labels = layout.of("value")
    assert [p.text for p in labels[:2]] == ["Oslo", "Bergen"]
    assert labels[2].text.endswith("…") and labels[2].text.startswith("Trondheim")  # elided to its room
    assert labels[2].tip.startswith("Trondheim-" + "x" * 50 + ": 10 rows")  # the whole value in the tooltip
    assert [p.text for p in layout.of("count")] == ["50", "25", "10"]
    bars = layout.of("value_bar")
    assert bars[1].rect.width() == pytest.approx(bars[0].rect.width() / 2, abs=0.5)
    for piece in bars:
        assert pixel(image, piece.rect.center().x(), piece.rect.center().y()) == QColor(BAR_COLOR)
        assert pixel(image, piece.rect.right() + 2, piece.rect.center().y()) != QColor(BAR_COLOR)
    assert layout.of("note")[0].text == "2 other values: 5 rows (5%)"  # 100 - 10 empty - 85 shown
    assert layout.of("null_text")[0].text == "10% null"
    assert "Oslo" in view.text() and "Bergen" in view.text()


def test_a_profile_stored_without_distributions_shows_the_null_bar_and_the_numbers(qapp: Any) -> None:
    old = ColumnProfile(name="price", type="float", null_count=3, distinct_count=40, min=1.5, max=99.25)
    view = view_of(old, rows=60)
    image = render(view, 1.0)
    layout = view.row_layout(0)
    assert not layout.of("bin") and not layout.of("value")
    assert layout.of("stats")[0].text == "Decimal · 40 distinct · 1.5 – 99.25"
    assert layout.of("null_text")[0].text == "5% null"
    bar = QColor(BAR_COLOR)
    assert not any(
        QColor(image.pixel(x, y)) == bar for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)
    )


def test_tooltips_say_the_bin_range_and_count(qapp: Any) -> None:
    view = view_of(INTEGER, TEXT)
    slot = view.row_layout(0).of("bin_slot")[2]
    piece = view.piece_at(slot.rect.center())
    assert piece is not None and piece.tip == "2: 3 values (3% of rows)"
    top = view.row_rect(1).top()
    bar = view.row_layout(1).of("value_bar")[0].rect
    piece = view.piece_at(QPointF(bar.center().x(), top + bar.center().y()))
    assert piece is not None and piece.tip == "Oslo: 50 rows (50%)"


def test_bin_text_reads_as_ranges() -> None:
    whole = Histogram((0.0, 2.0, 3.0), (1, 1))
    assert (bin_text(whole, 0, "integer"), bin_text(whole, 1, "integer")) == ("0 – 1", "2")
    floats = Histogram((0.0, 0.5, 1.0), (1, 1))
    assert bin_text(floats, 1, "float") == "0.5 – 1"
    day = 86_400.0
    start = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    dates = Histogram((start, start + 3 * day, start + 4 * day), (1, 1))
    assert (bin_text(dates, 0, "date"), bin_text(dates, 1, "date")) == ("2024-01-01 – 2024-01-03", "2024-01-04")
    times = Histogram((start, start + 5400.0), (2,))
    assert bin_text(times, 0, "datetime") == "2024-01-01 00:00 – 2024-01-01 01:30"
    assert (percent(1, 100_000), percent(99_999, 100_000), percent(0, 5), percent(5, 5)) == (
        "<0.1%",
        ">99.9%",
        "0%",
        "100%",
    )


def test_summary_record_shows_loading_never_zero_columns_and_asks_for_the_record(qtbot: Any) -> None:
    pane = DetailPane()
    qtbot.addWidget(pane)
    full = make_record("cities.csv", rows=3)
    summary = dataclasses.replace(full, columns=(), column_names=(), sample_rows=(), complete=False)
    with qtbot.waitSignal(pane.full_record_wanted) as wanted:
        pane.show_record(summary)
    assert wanted.args == [full.bucket, full.key]
    assert pane.is_loading and not pane.loading.isHidden()
    assert pane.columns.isHidden() and pane.columns_title.isHidden() and pane.sample.isHidden()
    text = pane.text()
    assert "Loading columns and sample rows…" in text and "Columns (0)" not in text
    assert "columns: 3" in text  # the summary's own count, not the missing list's length

    pane.show_record(full)  # the fetch arrived
    assert not pane.is_loading and pane.loading.isHidden()
    assert pane.columns_title.text() == "Columns (3)" and not pane.columns.isHidden()
    pane.show_record(summary)  # the list refreshing the same record: stays whole
    assert pane.record is full and pane.columns_title.text() == "Columns (3)"
    newer = dataclasses.replace(summary, revision=summary.revision + 1)
    pane.show_record(newer)  # a new revision: its columns are awaited again
    assert pane.is_loading


def test_two_hundred_columns_are_one_widget_painted_only_where_seen(qtbot: Any) -> None:
    pane = DetailPane()
    qtbot.addWidget(pane)
    pane.resize(520, 900)
    pane.show()
    pane.show_record(make_record("narrow.csv"))
    widgets_for_three = len(pane.findChildren(QWidget))
    columns = [
        {
            "name": f"column_{i}",
            "type": "integer" if i % 2 else "string",
            "null_count": i,
            "distinct_count": 20,
            "min": 0 if i % 2 else None,
            "max": 19 if i % 2 else None,
            "histogram": {"edges": list(range(21)), "counts": [i % 7] * 20} if i % 2 else None,
            "top_values": [] if i % 2 else [[f"value {k}", 20 - k] for k in range(10)],
        }
        for i in range(200)
    ]
    record = make_record("wide.csv", rows=500, columns=columns)
    started = time.perf_counter()
    pane.show_record(record)
    QApplication.processEvents()  # the layout settles
    shot = pane.grab()  # and the pane paints what is in sight
    elapsed = time.perf_counter() - started
    assert not shot.isNull()
    print(f"detail pane show + paint, 200 columns: {elapsed * 1000:.0f} ms")  # measured, not asserted
    assert len(pane.findChildren(QWidget)) == widgets_for_three  # no widget per column
    assert pane.columns_title.text() == "Columns (200)"
    assert pane.columns.height() > 200 * pane.fontMetrics().height() * 2  # every row has its place to scroll to
    assert 0 < len(pane.columns._cache) < 60  # only the rows in sight were laid out and painted
    assert pane.text().count("\tInteger\t") == 100


def test_profiles_from_json_old_new_and_damaged() -> None:
    """What the pane is handed: records before contract v3 have neither key; a damaged histogram is no chart."""
    old = ColumnProfile.from_json({"name": "a", "type": "integer", "null_count": 0, "distinct_count": 1})
    assert (old.histogram, old.top_values) == (None, ())
    new = ColumnProfile.from_json(
        {"name": "a", "type": "string", "top_values": [["x", 3], ["y", 1]], "histogram": None, "distinct_count": 2}
    )
    assert new.top_values == (("x", 3), ("y", 1))
    assert new.to_json_dict()["top_values"] == [["x", 3], ["y", 1]]
    hist = {"edges": [0, 1, 2], "counts": [4, 5]}
    assert Histogram.from_json(hist) == Histogram((0.0, 1.0, 2.0), (4, 5))
    for damaged in (
        {"edges": [0, 1], "counts": [4, 5]},  # one edge short
        {"edges": [0, None, 2], "counts": [4, 5]},
        {"edges": [2, 1, 0], "counts": [4, 5]},  # not ascending
        {"edges": [0, 1, 2], "counts": [4, "x"]},
        {"edges": [0, 1, 2], "counts": [4, -1]},
        [0, 1, 2],
    ):
        assert Histogram.from_json(damaged) is None, damaged
