"""Server-side SVG charts for the live dashboard: plain data in, an SVG string out.

No Flask and no JavaScript: the dashboard works offline and a projector only needs a
browser. Every label passes through ``xml.etree`` (labels are edited by organisers, so they
are escaped, never pasted into markup), colours are checked against ``#rgb``/``#rrggbb``,
and each chart carries ``<title>``/``<desc>`` with the numbers in words for screen readers.
Sizes are in viewBox units on a 1000-unit-wide canvas, and CSS scales the chart to its box:
type of 30 units is about 16 px in a third of a 1920-pixel screen. ``NORMAL`` is for a laptop;
``BIG`` (the dashboard's big-screen mode, for a projector) has type 1.5 to 2 times larger on
the same canvas, with tighter rows, so labels can be read from the back of a room and the
charts stay short enough to share one screen.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from voxpop.media.colours import safe_colour

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
WIDTH = 1000
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
INK = "#1c1c1c"
MUTED = "#5b5b5b"
GRID = "#c8c8c8"
HIGHLIGHT = "#9b1c1c"

# No font metrics on the server: an average glyph is about 0.6 em wide in a sans-serif.
_GLYPH = 0.6
LABEL_ROOM = 900  # viewBox units a row's label may take; a longer one gets smaller type

_CHART_ID = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class Style:
    """Type and row sizes in viewBox units (the canvas is always ``WIDTH`` wide)."""

    label: float  # a row's label, above its bar
    value: float  # the number after a bar
    small: float  # the legend and the numbers inside stacked segments
    column: float  # a column chart's labels under the columns and values above them
    note: float  # a badge's word, the target's note, the axis label
    label_line: float  # from the top of a row to its bar
    bar: float  # a bar's thickness
    gap: float  # from a bar to the next row (horizontal bars)
    stack_gap: float  # the same in stacked bars
    plot: float  # the height of the columns' area in a column chart
    label_lines: int  # lines a long label may take before its type gets smaller


NORMAL = Style(
    label=30,
    value=30,
    small=26,
    column=26,
    note=24,
    label_line=40,
    bar=36,
    gap=26,
    stack_gap=24,
    plot=300,
    label_lines=1,
)
# A projector: type 1.5 to 2 times NORMAL's, rows only a little taller (a row is 2.2 labels
# high instead of 3.4), long labels on two lines, and a flatter column chart for short hour
# labels ("09"): the dashboard puts it in a third of the screen's width, not two.
BIG = Style(
    label=48,
    value=48,
    small=38,
    column=56,
    note=40,
    label_line=54,
    bar=36,
    gap=18,
    stack_gap=18,
    plot=150,
    label_lines=2,
)


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a label above it, the value after it, an optional badge."""

    label: str
    value: int
    colour: str
    badge: str | None = None  # e.g. "missing"; the bar is then outlined too


@dataclass(frozen=True)
class Marker:
    """A dashed vertical line at ``value`` across the bars (e.g. a target share)."""

    value: float
    label: str


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar."""

    label: str
    value: int
    colour: str
    text_colour: str = "#ffffff"


@dataclass(frozen=True)
class StackedRow:
    """One stacked bar with its label; the total is written after it."""

    label: str
    segments: Sequence[Segment]


@dataclass(frozen=True)
class Column:
    """One vertical column: a short axis label below it and its value above."""

    label: str
    value: int


def horizontal_bars(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    desc: str,
    marker: Marker | None = None,
    style: Style = NORMAL,
) -> str:
    """Horizontal bars, one per row, each with its label, value and optional badge."""
    top = 12
    # Room after the longest bar for its value and a badge, so neither collides with a bar.
    bar_max = WIDTH - 330
    labels = [_row_label(bar.label, style) for bar in bars]
    rows_height = sum(_row_height(label, style, style.gap) for label in labels)
    if not bars:
        rows_height = _row_height(_RowLabel([""], style.label), style, style.gap)
    height = top + rows_height + (style.note + 20 if marker else 0)
    svg = _svg(chart_id, title, desc, height)
    scale_to = max([bar.value for bar in bars] + [marker.value if marker else 0, 1])

    y = float(top)
    bar_tops: list[float] = []
    for bar, label in zip(bars, labels, strict=True):
        row_height = _row_height(label, style, style.gap)
        group = ET.SubElement(svg, "g", {"class": "bar" + (" is-flagged" if bar.badge else "")})
        if bar.badge:
            ET.SubElement(
                group,
                "rect",
                {
                    "x": "2",
                    "y": _n(y - 6),
                    "width": _n(WIDTH - 4),
                    "height": _n(row_height - style.gap + 12),
                    "rx": "10",
                    "fill": "none",
                    "stroke": HIGHLIGHT,
                    "stroke-width": "4",
                    "stroke-dasharray": "14 8",
                },
            )
        bar_y = _draw_row_label(group, label, y, style)
        bar_tops.append(bar_y)
        width = bar_max * bar.value / scale_to
        if bar.value:
            ET.SubElement(
                group,
                "rect",
                {
                    "x": "12",
                    "y": _n(bar_y),
                    "width": _n(max(width, 4)),
                    "height": _n(style.bar),
                    "rx": "4",
                    "fill": safe_colour(bar.colour),
                },
            )
        value_x = 12 + width + 14
        value_text = str(bar.value)
        _text(
            group,
            value_text,
            x=value_x,
            y=_baseline(bar_y, style.bar, style.value),
            size=style.value,
            weight="700",
            css_class="value",
        )
        if bar.badge:
            _badge(
                group,
                bar.badge,
                x=value_x + _text_width(value_text, style.value) + 18,
                bar_y=bar_y,
                style=style,
            )
        y += row_height

    if marker is not None:
        # Dashed ticks across each bar (not the labels), so the line never strikes out a label.
        x = 12 + bar_max * marker.value / scale_to
        marker_group = ET.Element("g", {"class": "marker"})
        svg.insert(2, marker_group)  # after <title> and <desc>: drawn under the bars' text
        for bar_y in bar_tops:
            ET.SubElement(
                marker_group,
                "line",
                {
                    "x1": _n(x),
                    "x2": _n(x),
                    "y1": _n(bar_y - 6),
                    "y2": _n(bar_y + style.bar + 6),
                    "stroke": INK,
                    "stroke-width": "3",
                    "stroke-dasharray": "6 4",
                },
            )
        _text(
            marker_group,
            "┆ " + marker.label,
            x=max(x - 8, 12),
            y=top + rows_height + style.note,
            size=style.note,
            fill=MUTED,
        )
    return _serialise(svg)


def stacked_bars(
    rows: Sequence[StackedRow],
    *,
    legend: Sequence[Segment],
    chart_id: str,
    title: str,
    desc: str,
    style: Style = NORMAL,
) -> str:
    """Stacked horizontal bars (one row each) under a colour legend; totals after each bar."""
    swatch = style.small + 2
    legend_height = style.small + 34
    bar_max = WIDTH - 140
    labels = [_row_label(row.label, style) for row in rows]
    rows_height = sum(_row_height(label, style, style.stack_gap) for label in labels)
    if not rows:
        rows_height = _row_height(_RowLabel([""], style.label), style, style.stack_gap)
    height = legend_height + rows_height
    svg = _svg(chart_id, title, desc, height)

    x = 12.0
    legend_group = ET.SubElement(svg, "g", {"class": "legend"})
    for item in legend:
        ET.SubElement(
            legend_group,
            "rect",
            {
                "x": _n(x),
                "y": "12",
                "width": _n(swatch),
                "height": _n(swatch),
                "rx": "4",
                "fill": safe_colour(item.colour),
            },
        )
        _text(legend_group, item.label, x=x + swatch + 10, y=12 + swatch - 4, size=style.small)
        x += swatch + 10 + _text_width(item.label, style.small) + 40

    scale_to = max([sum(s.value for s in row.segments) for row in rows] + [1])
    y = float(legend_height)
    for row, label in zip(rows, labels, strict=True):
        group = ET.SubElement(svg, "g", {"class": "stack"})
        bar_y = _draw_row_label(group, label, y, style)
        x = 12.0
        for segment in row.segments:
            if not segment.value:
                continue
            width = bar_max * segment.value / scale_to
            rect = ET.SubElement(
                group,
                "rect",
                {
                    "x": _n(x),
                    "y": _n(bar_y),
                    "width": _n(width),
                    "height": _n(style.bar),
                    "fill": safe_colour(segment.colour),
                    "class": "segment",
                },
            )
            # A tooltip on hover, and the exact number for anything reading the SVG.
            ET.SubElement(rect, "title").text = f"{segment.label}: {segment.value}"
            digits = str(segment.value)
            if _text_width(digits, style.small) + 12 <= width:  # where it fits; the table has all
                _text(
                    group,
                    digits,
                    x=x + width / 2,
                    y=_baseline(bar_y, style.bar, style.small),
                    size=style.small,
                    weight="700",
                    fill=safe_colour(segment.text_colour),
                    anchor="middle",
                )
            x += width
        total = sum(segment.value for segment in row.segments)
        _text(
            group,
            str(total),
            x=x + 14,
            y=_baseline(bar_y, style.bar, style.value),
            size=style.value,
            weight="700",
            css_class="value",
        )
        y += _row_height(label, style, style.stack_gap)
    return _serialise(svg)


def column_chart(
    columns: Sequence[Column],
    *,
    colour: str,
    chart_id: str,
    title: str,
    desc: str,
    axis_label: str,
    style: Style = NORMAL,
) -> str:
    """Vertical columns (e.g. reflections per hour) with values above and labels below."""
    left, right = 12, 12
    top = style.column + 18  # room for the tallest column's value
    baseline = top + style.plot
    height = baseline + 2 * style.column + 44  # the labels under the columns, then the axis
    svg = _svg(chart_id, title, desc, height)
    count = max(len(columns), 1)
    band = (WIDTH - left - right) / count
    scale_to = max([column.value for column in columns] + [1])
    size = style.column if band >= 56 else style.column * 20 / 26
    # Never wider than its column, so neighbouring labels cannot run into each other.
    longest = max([len(column.label) for column in columns] + [1])
    size = min(size, band / (_GLYPH * longest))
    for index, column in enumerate(columns):
        x = left + index * band
        group = ET.SubElement(svg, "g", {"class": "column"})
        column_height = style.plot * column.value / scale_to
        if column.value:
            ET.SubElement(
                group,
                "rect",
                {
                    "x": _n(x + band * 0.15),
                    "y": _n(baseline - column_height),
                    "width": _n(band * 0.7),
                    "height": _n(column_height),
                    "rx": "3",
                    "fill": safe_colour(colour),
                },
            )
            _text(
                group,
                str(column.value),
                x=x + band / 2,
                y=baseline - column_height - 10,
                size=size,
                weight="700",
                anchor="middle",
                css_class="value",
            )
        _text(
            group,
            column.label,
            x=x + band / 2,
            y=baseline + style.column + 8,
            size=size,
            anchor="middle",
            fill=MUTED,
        )
    ET.SubElement(
        svg,
        "line",
        {
            "x1": _n(left),
            "x2": _n(WIDTH - right),
            "y1": _n(baseline),
            "y2": _n(baseline),
            "stroke": GRID,
            "stroke-width": "2",
        },
    )
    _text(
        svg,
        axis_label,
        x=WIDTH / 2,
        y=height - 22,
        size=style.note,
        anchor="middle",
        fill=MUTED,
    )
    return _serialise(svg)


# -- building blocks ---------------------------------------------------------------------------


def _svg(chart_id: str, title: str, desc: str, height: float) -> ET.Element:
    if not _CHART_ID.fullmatch(chart_id):
        raise ValueError(f"Chart ids are lower-case words with hyphens: {chart_id!r}")
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NAMESPACE,
            "viewBox": f"0 0 {WIDTH} {_n(height)}",
            "role": "img",
            "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
            "class": "chart",
            "id": chart_id,
            "font-family": FONT,
        },
    )
    ET.SubElement(svg, "title", {"id": f"{chart_id}-title"}).text = title
    ET.SubElement(svg, "desc", {"id": f"{chart_id}-desc"}).text = desc
    return svg


def _text(
    parent: ET.Element,
    content: str,
    *,
    x: float,
    y: float,
    size: float,
    weight: str = "400",
    fill: str = INK,
    anchor: str = "start",
    css_class: str | None = None,
) -> ET.Element:
    attributes = {
        "x": _n(x),
        "y": _n(y),
        "font-size": _n(size),
        "font-weight": weight,
        "fill": fill,
        "text-anchor": anchor,
    }
    if css_class:
        attributes["class"] = css_class
    element = ET.SubElement(parent, "text", attributes)
    element.text = content  # escaped by ElementTree on the way out
    return element


def _badge(parent: ET.Element, label: str, *, x: float, bar_y: float, style: Style) -> None:
    size = min(style.note, style.bar * 0.9)
    width = _text_width(label, size) + 24
    height = size + 12
    y = bar_y + (style.bar - height) / 2  # centred on the bar beside it
    ET.SubElement(
        parent,
        "rect",
        {
            "x": _n(x),
            "y": _n(y),
            "width": _n(width),
            "height": _n(height),
            "rx": _n(height / 2),
            "fill": HIGHLIGHT,
            "class": "badge",
        },
    )
    _text(
        parent,
        label,
        x=x + width / 2,
        y=_baseline(y, height, size, lower_case=True),
        size=size,
        weight="700",
        fill="#ffffff",
        anchor="middle",
    )


@dataclass(frozen=True)
class _RowLabel:
    lines: list[str]
    size: float


def _row_label(label: str, style: Style) -> _RowLabel:
    """A row's label as the lines it is drawn in, and its type size.

    It keeps the style's size while it fits ``LABEL_ROOM``; a longer label is broken at the
    space that makes its longer line shortest (when the style allows two lines), and only
    what still does not fit gets smaller type.
    """
    words = label.split()
    if _text_width(label, style.label) <= LABEL_ROOM or style.label_lines < 2 or len(words) < 2:
        lines = [label]
    else:
        splits = [[" ".join(words[:i]), " ".join(words[i:])] for i in range(1, len(words))]
        lines = min(splits, key=lambda split: max(len(line) for line in split))
    longest = max(len(line) for line in lines)
    return _RowLabel(lines, min(style.label, LABEL_ROOM / (_GLYPH * max(longest, 1))))


def _line_height(style: Style) -> float:
    return style.label * 1.15


def _row_height(label: _RowLabel, style: Style, gap: float) -> float:
    extra_lines = len(label.lines) - 1
    return style.label_line + extra_lines * _line_height(style) + style.bar + gap


def _draw_row_label(parent: ET.Element, label: _RowLabel, y: float, style: Style) -> float:
    """Write a row's label from ``y`` down; return where the row's bar starts."""
    baseline = y + style.label_line - style.label / 3
    for line in label.lines:
        _text(parent, line, x=12, y=baseline, size=label.size, weight="600")
        baseline += _line_height(style)
    return y + style.label_line + (len(label.lines) - 1) * _line_height(style)


def _baseline(top: float, height: float, size: float, lower_case: bool = False) -> float:
    """The baseline that centres a line of type in a box (by its capitals, or lower case)."""
    # Capitals and digits stand about 0.7 em, lower case with its ascenders about 0.67 em;
    # whole units keep the numbers in the markup short.
    return top + height / 2 + math.floor(size * (1 / 3 if lower_case else 0.35) + 0.5)


def _text_width(content: str, size: float) -> float:
    return len(content) * size * _GLYPH


def _n(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _serialise(svg: ET.Element) -> str:
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
