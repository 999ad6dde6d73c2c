"""Server-side SVG charts for the live dashboard: plain data in, an SVG string out.

No Flask and no JavaScript: the dashboard works offline and a projector only needs a
browser. Every label passes through ``xml.etree`` (labels are edited by organisers, so they
are escaped, never pasted into markup), colours are checked against ``#rgb``/``#rrggbb``,
and each chart carries ``<title>``/``<desc>`` with the numbers in words for screen readers.
Sizes are in viewBox units on a 1000-unit-wide canvas; CSS scales the chart to its box, so
type around 30 units stays readable from the back of a room when projected.
"""

from __future__ import annotations

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

LABEL_SIZE = 30
VALUE_SIZE = 30
LONG_LABEL = 50  # characters: longer labels get smaller type rather than run off the edge

_CHART_ID = re.compile(r"[a-z][a-z0-9-]*")


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
) -> str:
    """Horizontal bars, one per row, each with its label, value and optional badge."""
    label_line, bar_height, gap, top = 40, 36, 26, 12
    row_height = label_line + bar_height + gap
    # Room after the longest bar for its value and a badge, so neither collides with a bar.
    bar_max = WIDTH - 330
    height = top + row_height * max(len(bars), 1) + (44 if marker else 0)
    svg = _svg(chart_id, title, desc, height)
    scale_to = max([bar.value for bar in bars] + [marker.value if marker else 0, 1])

    for index, bar in enumerate(bars):
        y = top + index * row_height
        group = ET.SubElement(svg, "g", {"class": "bar" + (" is-flagged" if bar.badge else "")})
        if bar.badge:
            ET.SubElement(
                group,
                "rect",
                {
                    "x": "2",
                    "y": _n(y - 6),
                    "width": _n(WIDTH - 4),
                    "height": _n(row_height - gap + 12),
                    "rx": "10",
                    "fill": "none",
                    "stroke": HIGHLIGHT,
                    "stroke-width": "4",
                    "stroke-dasharray": "14 8",
                },
            )
        _text(group, bar.label, x=12, y=y + 30, size=_label_size(bar.label), weight="600")
        bar_y = y + label_line
        width = bar_max * bar.value / scale_to
        if bar.value:
            ET.SubElement(
                group,
                "rect",
                {
                    "x": "12",
                    "y": _n(bar_y),
                    "width": _n(max(width, 4)),
                    "height": _n(bar_height),
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
            y=bar_y + 29,
            size=VALUE_SIZE,
            weight="700",
            css_class="value",
        )
        if bar.badge:
            _badge(group, bar.badge, x=value_x + _text_width(value_text, VALUE_SIZE) + 18, y=bar_y)

    if marker is not None:
        # Dashed ticks across each bar (not the labels), so the line never strikes out a label.
        x = 12 + bar_max * marker.value / scale_to
        marker_group = ET.Element("g", {"class": "marker"})
        svg.insert(2, marker_group)  # after <title> and <desc>: drawn under the bars' text
        for index in range(len(bars)):
            bar_y = top + index * row_height + label_line
            ET.SubElement(
                marker_group,
                "line",
                {
                    "x1": _n(x),
                    "x2": _n(x),
                    "y1": _n(bar_y - 6),
                    "y2": _n(bar_y + bar_height + 6),
                    "stroke": INK,
                    "stroke-width": "3",
                    "stroke-dasharray": "6 4",
                },
            )
        bottom = top + row_height * max(len(bars), 1)
        _text(
            marker_group,
            "┆ " + marker.label,
            x=max(x - 8, 12),
            y=bottom + 24,
            size=24,
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
) -> str:
    """Stacked horizontal bars (one row each) under a colour legend; totals after each bar."""
    legend_height, label_line, bar_height, gap = 60, 40, 36, 24
    row_height = label_line + bar_height + gap
    bar_max = WIDTH - 140
    height = legend_height + row_height * max(len(rows), 1)
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
                "width": "28",
                "height": "28",
                "rx": "4",
                "fill": safe_colour(item.colour),
            },
        )
        _text(legend_group, item.label, x=x + 38, y=36, size=26)
        x += 38 + _text_width(item.label, 26) + 40

    scale_to = max([sum(s.value for s in row.segments) for row in rows] + [1])
    for index, row in enumerate(rows):
        y = legend_height + index * row_height
        group = ET.SubElement(svg, "g", {"class": "stack"})
        _text(group, row.label, x=12, y=y + 30, size=_label_size(row.label), weight="600")
        bar_y = y + label_line
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
                    "height": _n(bar_height),
                    "fill": safe_colour(segment.colour),
                    "class": "segment",
                },
            )
            # A tooltip on hover, and the exact number for anything reading the SVG.
            ET.SubElement(rect, "title").text = f"{segment.label}: {segment.value}"
            digits = str(segment.value)
            if _text_width(digits, 26) + 12 <= width:  # only where it fits; the table has all
                _text(
                    group,
                    digits,
                    x=x + width / 2,
                    y=bar_y + 27,
                    size=26,
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
            y=bar_y + 29,
            size=VALUE_SIZE,
            weight="700",
            css_class="value",
        )
    return _serialise(svg)


def column_chart(
    columns: Sequence[Column],
    *,
    colour: str,
    chart_id: str,
    title: str,
    desc: str,
    axis_label: str,
) -> str:
    """Vertical columns (e.g. reflections per hour) with values above and labels below."""
    height, top, plot_height, left, right = 440, 44, 300, 12, 12
    svg = _svg(chart_id, title, desc, height)
    count = max(len(columns), 1)
    band = (WIDTH - left - right) / count
    baseline = top + plot_height
    scale_to = max([column.value for column in columns] + [1])
    size = 26 if band >= 56 else 20
    for index, column in enumerate(columns):
        x = left + index * band
        group = ET.SubElement(svg, "g", {"class": "column"})
        column_height = plot_height * column.value / scale_to
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
            y=baseline + 34,
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
    _text(svg, axis_label, x=WIDTH / 2, y=height - 22, size=24, anchor="middle", fill=MUTED)
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


def _badge(parent: ET.Element, label: str, *, x: float, y: float) -> None:
    size = 24
    width = _text_width(label, size) + 24
    ET.SubElement(
        parent,
        "rect",
        {
            "x": _n(x),
            "y": _n(y),
            "width": _n(width),
            "height": "36",
            "rx": "18",
            "fill": HIGHLIGHT,
            "class": "badge",
        },
    )
    _text(
        parent,
        label,
        x=x + width / 2,
        y=y + 26,
        size=size,
        weight="700",
        fill="#ffffff",
        anchor="middle",
    )


def _label_size(label: str) -> float:
    return LABEL_SIZE if len(label) <= LONG_LABEL else LABEL_SIZE * LONG_LABEL / len(label)


def _text_width(content: str, size: float) -> float:
    # No font metrics on the server: an average glyph is about 0.6 em in a sans-serif.
    return len(content) * size * 0.6


def _n(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _serialise(svg: ET.Element) -> str:
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
