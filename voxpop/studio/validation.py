"""What every organiser setting is checked with: the refusal errors and small validators.

Views parse forms and call one function of the settings services (``studio/event_settings.py``,
``perspectives.py``, ``consent.py``, ``kiosks.py``, ``users.py``); each raises
:class:`SettingsError` (a human message, already translated) when it refuses a change, and
changes nothing then. Otherwise each makes its whole change together with its ``audit.record``
rows in one transaction (``db.transaction`` nests, so ``models`` writes inside it become
savepoints).
"""

from __future__ import annotations

from flask_babel import gettext as _

from voxpop.errors import VoxpopError
from voxpop.media.colours import is_colour

LIMITS = {
    "max_clip_seconds": (5, 600),
    "idle_timeout_seconds": (5, 3600),
    "text_max_chars": (10, 20000),
}


class SettingsError(VoxpopError):
    """A settings change we refuse; ``field`` names the form field at fault, if one is."""


class SettingNotFound(SettingsError):
    """The perspective, prompt, kiosk or user asked for does not exist (in this event)."""

    status = 404


def clean_colour(value: str, field: str = "colour") -> str:
    """Return a colour as lower-case ``#rrggbb``, or refuse it."""
    value = (value or "").strip()
    if not is_colour(value):
        raise SettingsError(
            _("“%(value)s” is not a colour written like #1b6ca8.", value=value), field
        )
    return value.lower()


def clean_text(value: str | None, *, field: str, maximum: int, required: str | None = None) -> str:
    """Strip a text; refuse it when empty (if ``required`` is the message) or too long."""
    value = (value or "").strip()
    if not value and required:
        raise SettingsError(required, field)
    if len(value) > maximum:
        raise SettingsError(_("This is too long: at most %(max)d characters.", max=maximum), field)
    return value


def per_language(
    values: dict[str, str | None], *, field: str, maximum: int, required_en: str
) -> dict[str, str]:
    """English is required; other languages may be saved empty (but an event offering one does
    not open to kiosks until it is filled in: see ``voxpop.studio.languages``)."""
    texts = {
        "en": clean_text(
            values.get("en"), field=f"{field}_en", maximum=maximum, required=required_en
        )
    }
    for lang, value in values.items():
        if lang != "en":
            cleaned = clean_text(value, field=f"{field}_{lang}", maximum=maximum)
            if cleaned:
                texts[lang] = cleaned
    return texts


def in_range(value: int | None, key: str, message: str) -> int:
    """Return ``value`` when it lies within ``LIMITS[key]``, or refuse it with ``message``."""
    low, high = LIMITS[key]
    if value is None or not low <= value <= high:
        raise SettingsError(message, key)
    return int(value)
