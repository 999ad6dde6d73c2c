"""The event's own settings: name, date, venue, languages, limits, branding and logo."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from voxpop import audit, models
from voxpop.db import transaction
from voxpop.media.images import UnsafeImage, open_image_safely, save_stripped
from voxpop.storage import MediaStore
from voxpop.studio.validation import (
    SettingNotFound,
    SettingsError,
    clean_colour,
    clean_text,
    in_range,
)

DEFAULT_ACCENT = "#1b6ca8"
DEFAULT_MISSING_VOICES_TARGET = 0.05
MISSING_VOICES_MAX = 0.5
LOGO_MAX_SIZE = (1024, 1024)
LOGO_FOLDER = "derived/branding"
NAME_MAX = 200
THANKS_MAX = 500


@dataclass(frozen=True)
class EventSettings:
    """Everything on the event form, already parsed into Python values."""

    name: str
    date: str | None
    venue: str | None
    languages: list[str]
    max_clip_seconds: int | None
    idle_timeout_seconds: int | None
    text_max_chars: int | None
    accent_colour: str
    missing_voices_target: float | None  # a share, 0–0.5
    missing_voices_banner: bool
    # The name in the other languages ({"cy": …}; ``name`` is the English) and the kiosk's
    # thank-you text in every language ({"en": …, "cy": …}).
    names: dict[str, str] = field(default_factory=dict)
    thanks: dict[str, str] = field(default_factory=dict)


def _json(values: dict[str, str]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


def event_settings(event: models.Event) -> EventSettings:
    """The event's current settings, with branding defaults filled in."""
    branding = event.branding
    return EventSettings(
        name=event.name,
        date=event.date,
        venue=event.venue,
        languages=list(event.languages),
        max_clip_seconds=event.max_clip_seconds,
        idle_timeout_seconds=event.idle_timeout_seconds,
        text_max_chars=event.text_max_chars,
        accent_colour=branding.get("accent_colour") or DEFAULT_ACCENT,
        missing_voices_target=float(
            branding.get("missing_voices_target", DEFAULT_MISSING_VOICES_TARGET)
        ),
        missing_voices_banner=bool(branding.get("missing_voices_banner", False)),
        names={lang: text for lang, text in event.names.items() if lang != "en"},
        thanks=dict(event.thanks),
    )


def _clean_date(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise SettingsError(
            _("“%(value)s” is not a date written like 2026-11-23.", value=value), "date"
        ) from None


def _validated(settings: EventSettings, offered: Sequence[str]) -> EventSettings:
    languages = [lang for lang in offered if lang in settings.languages]
    if not languages or len(languages) != len(set(settings.languages)):
        raise SettingsError(_("Tick at least one language the kiosk offers."), "languages")
    target = settings.missing_voices_target
    if target is None or not 0 <= target <= MISSING_VOICES_MAX:
        raise SettingsError(
            _("The missing voices target must be between 0 and 50 per cent."),
            "missing_voices_percent",
        )
    return EventSettings(
        name=clean_text(
            settings.name, field="name", maximum=NAME_MAX, required=_("Give the event a name.")
        ),
        date=_clean_date(settings.date),
        venue=clean_text(settings.venue, field="venue", maximum=NAME_MAX) or None,
        languages=languages,
        max_clip_seconds=in_range(
            settings.max_clip_seconds,
            "max_clip_seconds",
            _("The longest clip must be between 5 and 600 seconds."),
        ),
        idle_timeout_seconds=in_range(
            settings.idle_timeout_seconds,
            "idle_timeout_seconds",
            _("The idle timeout must be between 5 and 3600 seconds."),
        ),
        text_max_chars=in_range(
            settings.text_max_chars,
            "text_max_chars",
            _("The text limit must be between 10 and 20000 characters."),
        ),
        accent_colour=clean_colour(settings.accent_colour, "accent_colour"),
        missing_voices_target=round(float(target), 4),
        missing_voices_banner=bool(settings.missing_voices_banner),
        names={
            lang: text
            for lang, value in settings.names.items()
            if lang != "en" and (text := clean_text(value, field=f"name_{lang}", maximum=NAME_MAX))
        },
        thanks={
            lang: text
            for lang, value in settings.thanks.items()
            if (text := clean_text(value, field=f"thanks_{lang}", maximum=THANKS_MAX))
        },
    )


def _snapshot(settings: EventSettings) -> dict[str, Any]:
    return {
        "name": settings.name,
        "date": settings.date,
        "venue": settings.venue,
        "languages": settings.languages,
        "max_clip_seconds": settings.max_clip_seconds,
        "idle_timeout_seconds": settings.idle_timeout_seconds,
        "text_max_chars": settings.text_max_chars,
        "accent_colour": settings.accent_colour,
        "missing_voices_target": settings.missing_voices_target,
        "missing_voices_banner": settings.missing_voices_banner,
        "names": settings.names,
        "thanks": settings.thanks,
    }


def _branding(db: sqlite3.Connection, event_id: int) -> dict[str, Any]:
    row = db.execute("SELECT branding FROM event WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such event."))
    return dict(json.loads(row["branding"]))


def update_event(
    db: sqlite3.Connection,
    event_id: int,
    settings: EventSettings,
    offered: Sequence[str],
    *,
    actor: audit.Actor | None,
) -> bool:
    """Save the event form; ``offered`` is the languages voxpop has. True if anything changed."""
    clean = _validated(settings, offered)
    with transaction(db):
        before = _snapshot(event_settings(models.get_event(db, event_id)))
        branding = _branding(db, event_id) | {
            "accent_colour": clean.accent_colour,
            "missing_voices_target": clean.missing_voices_target,
            "missing_voices_banner": clean.missing_voices_banner,
        }
        db.execute(
            "UPDATE event SET name = ?, date = ?, venue = ?, languages = ?, max_clip_seconds = ?,"
            " idle_timeout_seconds = ?, text_max_chars = ?, branding = ?, names = ?, thanks = ?"
            " WHERE id = ?",
            (
                clean.name,
                clean.date,
                clean.venue,
                json.dumps(clean.languages),
                clean.max_clip_seconds,
                clean.idle_timeout_seconds,
                clean.text_max_chars,
                json.dumps(branding, ensure_ascii=False, sort_keys=True),
                _json({"en": clean.name} | clean.names),
                _json(clean.thanks),
                event_id,
            ),
        )
        old, new = audit.changed(before, _snapshot(clean))
        audit.record(db, "event.update", "event", event_id, old, new, actor=actor)
    return bool(new)


def create_event(
    db: sqlite3.Connection,
    name: str,
    date: str | None,
    venue: str | None,
    name_cy: str | None = None,
    *,
    actor: audit.Actor | None,
) -> int:
    """Start a new event (it becomes the current one) with the default perspectives, prompts,
    consent and thank-you texts, as ``models.create_event`` makes them. ``name`` is the
    English name; without ``name_cy`` it does not open to kiosks until it has a Welsh one."""
    name = clean_text(name, field="name", maximum=NAME_MAX, required=_("Give the event a name."))
    welsh = clean_text(name_cy, field="name_cy", maximum=NAME_MAX)
    names = {"en": name} | ({"cy": welsh} if welsh else {})
    clean_date = _clean_date(date)
    venue = clean_text(venue, field="venue", maximum=NAME_MAX) or None
    with transaction(db):  # models.create_event's own transaction nests as a savepoint
        event_id = models.create_event(db, name, date=clean_date, venue=venue, names=names).id
        audit.record(
            db,
            "event.create",
            "event",
            event_id,
            None,
            {"names": names, "date": clean_date, "venue": venue},
            actor=actor,
        )
    return event_id


def _logo_message(error: UnsafeImage) -> str:
    # media/ is pure and speaks English; the organiser reads their own language here.
    if "too large" in error.message:
        return _("This image is too large to open safely (over 40 megapixels).")
    if "damaged" in error.message:
        return _("This image is damaged and cannot be read.")
    return _("The logo must be a PNG, JPEG or WebP image.")


def set_logo(
    db: sqlite3.Connection,
    event_id: int,
    store: MediaStore,
    upload: Path,
    *,
    actor: audit.Actor | None,
) -> str:
    """Make an uploaded image the event's logo: opened safely, shrunk to 1024 px, saved as a
    metadata-free PNG under ``derived/branding/``. Returns its path in the store."""
    try:
        image = open_image_safely(upload)
    except UnsafeImage as error:
        raise SettingsError(_logo_message(error), "logo") from error
    image.thumbnail(LOGO_MAX_SIZE)  # only ever shrinks
    # Named by its pixels: a new logo gets a new URL and file, the old one stays for the log.
    digest = hashlib.sha256(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()[:16]
    relative = f"{LOGO_FOLDER}/logo-{digest}.png"
    save_stripped(image, store.path(relative), format="PNG")
    _set_logo_path(db, event_id, relative, actor=actor)
    return relative


def remove_logo(db: sqlite3.Connection, event_id: int, *, actor: audit.Actor | None) -> None:
    """Stop showing a logo (the file stays, as the audit log refers to it)."""
    _set_logo_path(db, event_id, None, actor=actor)


def _set_logo_path(
    db: sqlite3.Connection, event_id: int, path: str | None, *, actor: audit.Actor | None
) -> None:
    """Point the event's branding at a logo in the store (None: no logo), audited."""
    with transaction(db):
        branding = _branding(db, event_id)
        before = branding.pop("logo_path", None)
        if path is not None:
            branding["logo_path"] = path
        db.execute(
            "UPDATE event SET branding = ? WHERE id = ?",
            (json.dumps(branding, ensure_ascii=False, sort_keys=True), event_id),
        )
        audit.record(
            db,
            "event.logo",
            "event",
            event_id,
            {"logo_path": before},
            {"logo_path": path},
            actor=actor,
        )
