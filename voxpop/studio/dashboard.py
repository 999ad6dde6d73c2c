"""The live dashboard: counts, reflections per hour, approvals, and missing voices.

Routes live on the studio blueprint (``voxpop.studio.views.bp``). The page shows the totals,
the missing voices and four server-drawn SVG charts side by side on one screen;
``static/js/dashboard.js`` fetches the live fragment every few seconds and swaps it in, so a
projected dashboard keeps itself up to date with no library. ``?big=1`` is the big-screen mode
for a projector: larger type on the page and in the charts (``charts.BIG``), and a layout that
shows every missing voice whole.

What counts, the missing-voices settings and the kiosk banner are ``voxpop.counts``: the kiosk
shows the same figures without importing a studio view.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import gettext as _

from voxpop import models
from voxpop.auth import login_required
from voxpop.counts import REVIEW_STATES, DashboardStats, banner_text, dashboard_stats
from voxpop.db import get_db
from voxpop.media import charts, colours
from voxpop.studio.views import bp
from voxpop.web import current_language, require_event

CHARTS = ("perspectives", "kinds", "hours", "review")

KIND_COLOURS = {"video": "#0b5fa5", "audio": "#f0b400", "text": "#137a4b"}
KIND_TEXT_COLOURS = {"video": "#ffffff", "audio": "#1c1c1c", "text": "#ffffff"}
REVIEW_COLOURS = {"approved": "#137a4b", "waiting": "#b25e00", "hidden": "#6b7280"}
HOURS_COLOUR = "#0b5fa5"


# -- charts --------------------------------------------------------------------------------


def _percent(share: float) -> str:
    return f"{round(share * 100):d}%"


def hour_label(hour: int, compact: bool = False) -> str:
    """An hour of the day as the chart writes it: ``09:00`` (or ``09`` when space is short)."""
    return f"{hour:02d}" if compact else f"{hour:02d}:00"


def render_charts(stats: DashboardStats, lang: str, big: bool = False) -> dict[str, str]:
    """The four dashboard charts as SVG strings, labelled in ``lang`` (``big``: for a projector)."""
    style = charts.BIG if big else charts.NORMAL
    missing_badge = _("missing")
    target = _("target %(share)s", share=_percent(stats.target_share))
    perspective_bars = [
        charts.Bar(
            label=entry.perspective.label(lang),
            value=entry.total,
            colour=entry.perspective.colour,
            badge=missing_badge if entry.missing else None,
        )
        for entry in stats.perspectives
    ]
    perspective_desc = "; ".join(
        f"{bar.label}: {bar.value} ({_percent(entry.share)})"
        + (f", {missing_badge}" if entry.missing else "")
        for bar, entry in zip(perspective_bars, stats.perspectives, strict=True)
    )

    kinds = models.kind_names()
    legend = [
        charts.Segment(kinds[kind], 0, KIND_COLOURS[kind], KIND_TEXT_COLOURS[kind])
        for kind in models.KINDS
    ]
    kind_rows = [
        charts.StackedRow(
            label=entry.perspective.label(lang),
            segments=[
                charts.Segment(kinds[k], entry.kinds[k], KIND_COLOURS[k], KIND_TEXT_COLOURS[k])
                for k in models.KINDS
            ],
        )
        for entry in stats.perspectives
    ]
    kind_desc = "; ".join(
        f"{row.label}: " + ", ".join(f"{s.label} {s.value}" for s in row.segments)
        for row in kind_rows
    )

    # Big screen: the hours chart has a third of the width, so "09" leaves room for larger type.
    compact = big or len(stats.hours) > 12
    columns = [charts.Column(hour_label(hour, compact), count) for hour, count in stats.hours]
    hours_desc = "; ".join(f"{hour_label(hour)}: {count}" for hour, count in stats.hours)

    names = models.review_state_names()
    review_bars = [
        charts.Bar(names[state], stats.review[state], REVIEW_COLOURS[state])
        for state in REVIEW_STATES
    ]
    review_desc = "; ".join(f"{bar.label}: {bar.value}" for bar in review_bars)

    return {
        "perspectives": charts.horizontal_bars(
            perspective_bars,
            chart_id="chart-perspectives",
            title=_("Reflections by perspective"),
            desc=perspective_desc,
            marker=charts.Marker(stats.target_share * stats.total, target)
            if stats.target_share and stats.total
            else None,
            style=style,
        ),
        "kinds": charts.stacked_bars(
            kind_rows,
            legend=legend,
            chart_id="chart-kinds",
            title=_("Video, audio and text by perspective"),
            desc=kind_desc,
            style=style,
        ),
        "hours": charts.column_chart(
            columns,
            colour=HOURS_COLOUR,
            chart_id="chart-hours",
            title=_("Reflections per hour, %(day)s", day=stats.day.isoformat()),
            desc=hours_desc,
            axis_label=_("Local time on this laptop (%(zone)s)", zone=stats.timezone),
            style=style,
        ),
        "review": charts.horizontal_bars(
            review_bars,
            chart_id="chart-review",
            title=_("Approved, waiting and hidden"),
            desc=review_desc,
            style=style,
        ),
    }


# -- routes --------------------------------------------------------------------------------


def _big_screen() -> bool:
    return request.args.get("big") == "1"


def _live_context(big: bool) -> dict[str, Any]:
    event = require_event()
    lang = current_language()
    stats = dashboard_stats(get_db(), event)
    banner = banner_text(
        [entry for entry in stats.perspectives if entry.missing] if stats.total else [], lang
    )
    return {
        "event": event,
        "lang": lang,
        "stats": stats,
        "charts": render_charts(stats, lang, big),
        "big": big,
        "banner_preview": banner,
        "kind_names": models.kind_names(),
        "review_names": models.review_state_names(),
        "hour_label": hour_label,
        "percent": _percent,
        "safe_colour": colours.safe_colour,
    }


@bp.get("/dashboard")
@login_required("organiser", "facilitator")
def dashboard() -> Any:
    """The live dashboard page (refreshes itself; ``?big=1`` is the projector's big screen)."""
    return render_template("studio/dashboard.html", **_live_context(_big_screen()))


@bp.get("/dashboard/live")
@login_required("organiser", "facilitator")
def dashboard_live() -> Any:
    """The dashboard's changing part, which the page fetches every few seconds (``?big=1``
    in big-screen mode, for the big charts)."""
    context = _live_context(_big_screen())
    response = Response(render_template("studio/dashboard_live.html", **context))
    response.headers["Cache-Control"] = "no-store"
    # The script swaps in only answers carrying this header (not, say, a login page).
    response.headers["X-Voxpop-Fragment"] = "dashboard"
    return response


@bp.get("/dashboard/<chart>.svg")
@login_required("organiser", "facilitator")
def dashboard_chart(chart: str) -> Any:
    """One chart on its own, e.g. for a second screen (``?big=1``: with big-screen type)."""
    if chart not in CHARTS:
        abort(404)
    stats = dashboard_stats(get_db(), require_event())
    svg = render_charts(stats, current_language(), _big_screen())[chart]
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})
