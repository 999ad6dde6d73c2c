"""Dates, times, numbers and sizes written for the reader's language, with Babel.

English is written the British way (en_GB: "2 December 2026", 14:05), Welsh the Welsh way
("2 Rhagfyr 2026"). Stored times are UTC (``db.utcnow``); they are shown in the venue's time
zone, ``TIMEZONE`` in the config (default Europe/London). Templates use these as filters:
``|day``, ``|when``, ``|time_of_day``, ``|number``, ``|size``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, dates, numbers, units
from flask import current_app, has_app_context

from voxpop.web import current_language

DEFAULT_TIMEZONE = "Europe/London"


def babel_locale(lang: str | None = None) -> Locale:
    """The Babel locale for a page language: ``en`` is British English."""
    lang = lang or current_language()
    try:
        return Locale.parse("en_GB" if lang == "en" else lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


def venue_timezone() -> ZoneInfo:
    """The time zone the event happens in (``TIMEZONE`` in the config)."""
    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


class _Unreadable(ValueError):
    """A stored time that is not ISO 8601: shown as it is stored."""


def _moment(value: str | dt.datetime) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError as error:
        raise _Unreadable(str(value)) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # stored times are UTC
    return moment.astimezone(venue_timezone())


def format_day(value: str | dt.date | None, lang: str | None = None) -> str:
    """A day: "2 December 2026", "2 Rhagfyr 2026". Accepts ``YYYY-MM-DD`` or a timestamp."""
    if not value:
        return ""
    try:
        if isinstance(value, str):
            day = _moment(value).date() if "T" in value else dt.date.fromisoformat(value)
        elif isinstance(value, dt.datetime):
            day = _moment(value).date()
        else:
            day = value
    except ValueError:
        return str(value)  # not a date voxpop wrote: shown as stored, never an error page
    return str(dates.format_date(day, "long", locale=babel_locale(lang)))


def format_when(value: str | dt.datetime | None, lang: str | None = None) -> str:
    """A moment, to the minute, in the venue's time: "2 Dec 2026, 14:05", "2 Rhag 2026 14:05"."""
    if not value:
        return ""
    try:
        return _date_and_time(_moment(value), babel_locale(lang))
    except _Unreadable:
        return str(value)


def _date_and_time(moment: dt.datetime, locale: Locale) -> str:
    day = dates.format_date(moment.date(), "medium", locale=locale)
    clock = dates.format_time(moment.timetz(), "short", tzinfo=moment.tzinfo, locale=locale)
    pattern = locale.datetime_formats.get("medium", "{1} {0}")
    return str(pattern).replace("{1}", str(day)).replace("{0}", str(clock))


def format_time_of_day(value: str | dt.datetime | None, lang: str | None = None) -> str:
    """The time of day in the venue: "14:05"."""
    if not value:
        return ""
    try:
        moment = _moment(value)
    except _Unreadable:
        return str(value)
    return str(
        dates.format_time(moment.timetz(), "short", tzinfo=moment.tzinfo, locale=babel_locale(lang))
    )


def format_number(value: float | int | None, lang: str | None = None) -> str:
    """A number with the language's separators: "1,234.5"."""
    if value is None:
        return ""
    return str(numbers.format_decimal(value, locale=babel_locale(lang)))


def format_size(count: int | None, lang: str | None = None) -> str:
    """A file size in decimal units: "0 bytes"/"0 beit", "1.5 MB"."""
    size = float(count or 0)
    for unit in ("byte", "kilobyte", "megabyte", "gigabyte"):
        if size < 1000 or unit == "gigabyte":
            break
        size /= 1000
    value: float = int(size) if unit == "byte" else round(size, 1)
    locale = babel_locale(lang)
    if unit == "byte":  # "0 bytes", "0 beit": spelt out
        return str(units.format_unit(value, "digital-byte", length="long", locale=locale))
    return str(units.format_unit(value, f"digital-{unit}", length="short", locale=locale))


FILTERS: dict[str, Callable[..., str]] = {
    "day": format_day,
    "when": format_when,
    "time_of_day": format_time_of_day,
    "number": format_number,
    "size": format_size,
}
