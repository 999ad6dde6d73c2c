"""Counting an event's reflections: the dashboard's figures and the kiosk banner's missing voices.

A service: it reads the database and returns dataclasses and strings, so the studio's
dashboard and the kiosk's attract screen count the same way without importing each other.

What counts: every reflection of the event except withdrawn ones (failed ones count: the
delegate did speak). Two settings in ``event.branding`` (edited on the settings page):

- ``missing_voices_target``: a perspective whose share of those reflections is below this
  (0–0.5, default 0.05) is a "missing voice". With no reflections at all every perspective
  is missing (none has been heard); a target of 0 turns the highlighting off.
- ``missing_voices_banner``: when true, the kiosk attract screen invites the least-heard
  missing perspectives (at most three, so the banner stays short). It stays quiet until the
  first reflection arrives: before that, "we'd love to hear from everyone" says nothing.

Hours are the laptop's local time (the time zone of the voxpop process), because that is
the clock on the wall at the venue.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from babel.core import UnknownLocaleError
from babel.lists import format_list
from flask_babel import force_locale
from flask_babel import gettext as _

from voxpop import models
from voxpop.db import now_utc

DEFAULT_TARGET_SHARE = 0.05
MAX_TARGET_SHARE = 0.5
BANNER_MAX_PERSPECTIVES = 3
# The hours always drawn (09:00–17:00), widened to cover any reflection outside them.
DAY_FIRST_HOUR, DAY_LAST_HOUR = 9, 16
REVIEW_STATES = ("approved", "waiting", "hidden")


# -- settings ------------------------------------------------------------------------------


def target_share(event: models.Event) -> float:
    """The share below which a perspective counts as missing (0–0.5; 0.05 when unset)."""
    value = event.branding.get("missing_voices_target", DEFAULT_TARGET_SHARE)
    if isinstance(value, bool):  # a stray true/false is not a share
        return DEFAULT_TARGET_SHARE
    try:
        share = float(value)
    except (TypeError, ValueError):
        return DEFAULT_TARGET_SHARE
    if share != share:  # NaN
        return DEFAULT_TARGET_SHARE
    return min(max(share, 0.0), MAX_TARGET_SHARE)


def banner_enabled(event: models.Event) -> bool:
    """Whether the kiosk attract screen may invite missing perspectives (off when unset)."""
    value = event.branding.get("missing_voices_banner", False)
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return value is True or (isinstance(value, int) and value == 1)


# -- numbers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerspectiveStats:
    """How much one perspective has been heard."""

    perspective: models.Perspective
    total: int
    kinds: dict[str, int]
    share: float  # of all counted reflections; 0 when there are none
    missing: bool


@dataclass(frozen=True)
class DashboardStats:
    """Everything the dashboard draws, counted from non-withdrawn reflections."""

    total: int
    perspectives: list[PerspectiveStats]
    kinds: dict[str, int]
    review: dict[str, int]
    day: date
    hours: list[tuple[int, int]]  # (local hour, reflections that hour) on ``day``
    other_days: int  # reflections on other days (a rehearsal, the day after)
    timezone: str
    target_share: float
    banner_enabled: bool
    retired: int = 0  # reflections from perspectives retired since
    missing: list[models.Perspective] = field(default_factory=list)


def _counted_reflections(db: sqlite3.Connection, event: models.Event) -> list[sqlite3.Row]:
    return db.execute(
        "SELECT perspective_id, kind, review_state, created_at FROM reflection"
        " WHERE event_id = ? AND status != 'withdrawn'",
        (event.id,),
    ).fetchall()


def _perspective_stats(
    perspectives: list[models.Perspective], rows: list[sqlite3.Row], target: float
) -> list[PerspectiveStats]:
    total = len(rows)
    result = []
    for perspective in perspectives:
        kinds = dict.fromkeys(models.KINDS, 0)
        for row in rows:
            if row["perspective_id"] == perspective.id:
                kinds[row["kind"]] += 1
        heard = sum(kinds.values())
        share = heard / total if total else 0.0
        result.append(PerspectiveStats(perspective, heard, kinds, share, share < target))
    return result


def _local_time(created_at: str, tz: tzinfo | None) -> datetime:
    moment = datetime.fromisoformat(created_at)
    if moment.tzinfo is None:  # every timestamp is written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)  # tz None: the laptop's own time zone


def _event_day(event: models.Event, local_times: list[datetime], now: datetime) -> date:
    if event.date:
        try:
            return date.fromisoformat(event.date)
        except ValueError:
            pass  # a free-text date ("Tuesday"): fall back to the reflections themselves
    return max(local_times).date() if local_times else now.date()


def dashboard_stats(
    db: sqlite3.Connection,
    event: models.Event,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> DashboardStats:
    """Count the event's non-withdrawn reflections for the dashboard.

    ``tz`` is the time zone of the hourly chart (default: the laptop's); the event day is
    ``event.date``, or else the day of the newest reflection, or else today.
    """
    rows = _counted_reflections(db, event)
    target = target_share(event)
    perspectives = models.perspectives(db, event.id)
    per_perspective = _perspective_stats(perspectives, rows, target)
    current = {p.id for p in perspectives}

    kinds = dict.fromkeys(models.KINDS, 0)
    review = dict.fromkeys(REVIEW_STATES, 0)
    for row in rows:
        kinds[row["kind"]] += 1
        review[row["review_state"]] += 1

    now = (now or now_utc()).astimezone(tz)
    local_times = [_local_time(row["created_at"], tz) for row in rows]
    day = _event_day(event, local_times, now)
    on_the_day = [moment.hour for moment in local_times if moment.date() == day]
    first = min([DAY_FIRST_HOUR, *on_the_day])
    last = max([DAY_LAST_HOUR, *on_the_day])
    hours = [(hour, on_the_day.count(hour)) for hour in range(first, last + 1)]

    return DashboardStats(
        total=len(rows),
        perspectives=per_perspective,
        kinds=kinds,
        review=review,
        day=day,
        hours=hours,
        other_days=len(local_times) - len(on_the_day),
        timezone=now.tzname() or "",
        target_share=target,
        banner_enabled=banner_enabled(event),
        retired=sum(1 for row in rows if row["perspective_id"] not in current),
        missing=[stats.perspective for stats in per_perspective if stats.missing],
    )


def missing_perspectives(db: sqlite3.Connection, event: models.Event) -> list[models.Perspective]:
    """Perspectives heard less than the target share of all non-withdrawn reflections.

    In the event's order. With no reflections yet, every perspective is missing.
    """
    rows = _counted_reflections(db, event)
    stats = _perspective_stats(models.perspectives(db, event.id), rows, target_share(event))
    return [entry.perspective for entry in stats if entry.missing]


def kiosk_banner(db: sqlite3.Connection, event: models.Event, lang: str) -> str | None:
    """The kiosk attract-screen invitation to missing perspectives, in ``lang``; or None.

    None when the banner setting is off, when nothing has been recorded yet, or when no
    perspective is missing. Names at most three perspectives, the least heard first.
    """
    if not banner_enabled(event):
        return None
    rows = _counted_reflections(db, event)
    if not rows:
        return None
    stats = _perspective_stats(models.perspectives(db, event.id), rows, target_share(event))
    return banner_text([entry for entry in stats if entry.missing], lang)


def banner_text(missing: list[PerspectiveStats], lang: str) -> str | None:
    """The banner's invitation to the least heard of ``missing``, in ``lang``; or None."""
    if not missing:
        return None
    # sorted() is stable: ties keep the event's order.
    least_heard = sorted(missing, key=lambda entry: entry.total)[:BANNER_MAX_PERSPECTIVES]
    labels = [entry.perspective.label(lang) for entry in least_heard]
    try:
        listed = format_list(labels, locale=lang)
    except (UnknownLocaleError, ValueError):
        listed = ", ".join(labels)
    with force_locale(lang):
        return _("We'd love to hear more from: %(perspectives)s", perspectives=listed)
