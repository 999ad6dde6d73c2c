"""Organiser settings as data functions: validate, change, and audit in one transaction.

Every function here either makes its whole change together with its ``audit.record`` rows, or
raises :class:`SettingsError` (a human message, already translated) and changes nothing.
Views parse forms and call exactly one of these.

``models`` write functions each open their own transaction, and SQLite transactions do not
nest, so the writes here are plain SQL inside ``transaction(db)``: that is what keeps the
change and its audit row together.
"""

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

from voxpop import audit, models, passwords
from voxpop.db import transaction, utcnow
from voxpop.errors import VoxpopError
from voxpop.media.cards import UnsafeImage, open_image_safely, save_stripped
from voxpop.media.colours import is_colour
from voxpop.slugs import slugify
from voxpop.storage import MediaStore

LIMITS = {
    "max_clip_seconds": (5, 600),
    "idle_timeout_seconds": (5, 3600),
    "text_max_chars": (10, 20000),
}
DEFAULT_ACCENT = "#1b6ca8"
DEFAULT_MISSING_VOICES_TARGET = 0.05
MISSING_VOICES_MAX = 0.5
LOGO_MAX_SIZE = (1024, 1024)
LOGO_FOLDER = "derived/branding"
CONSENT_FIELDS = ("intro", *models.PURPOSES)  # intro, archive, reel, online, name

NAME_MAX = 200
THANKS_MAX = 500
LABEL_MAX = 80
PROMPT_MAX = 300
CONSENT_FIELD_MAX = 2000
KIOSK_NAME_MAX = 60
USER_NAME_MAX = 100


class SettingsError(VoxpopError):
    """A settings change we refuse; ``field`` names the form field at fault, if one is."""


class SettingNotFound(SettingsError):
    """The perspective, prompt, kiosk or user asked for does not exist (in this event)."""

    status = 404


# -- small validators ----------------------------------------------------------------------------


def clean_colour(value: str, field: str = "colour") -> str:
    """Return a colour as lower-case ``#rrggbb``, or refuse it."""
    value = (value or "").strip()
    if not is_colour(value):
        raise SettingsError(
            _("“%(value)s” is not a colour written like #1b6ca8.", value=value), field
        )
    return value.lower()


def _text(value: str | None, *, field: str, maximum: int, required: str | None = None) -> str:
    """Strip a text; refuse it when empty (if ``required`` is the message) or too long."""
    value = (value or "").strip()
    if not value and required:
        raise SettingsError(required, field)
    if len(value) > maximum:
        raise SettingsError(_("This is too long: at most %(max)d characters.", max=maximum), field)
    return value


def _per_language(
    values: dict[str, str | None], *, field: str, maximum: int, required_en: str
) -> dict[str, str]:
    """English is required; other languages may be saved empty (but an event offering one does
    not open to kiosks until it is filled in: see ``voxpop.studio.languages``)."""
    texts = {
        "en": _text(values.get("en"), field=f"{field}_en", maximum=maximum, required=required_en)
    }
    for lang, value in values.items():
        if lang != "en":
            cleaned = _text(value, field=f"{field}_{lang}", maximum=maximum)
            if cleaned:
                texts[lang] = cleaned
    return texts


def _in_range(value: int | None, key: str, message: str) -> int:
    low, high = LIMITS[key]
    if value is None or not low <= value <= high:
        raise SettingsError(message, key)
    return int(value)


# -- the event -----------------------------------------------------------------------------------


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
        name=_text(
            settings.name, field="name", maximum=NAME_MAX, required=_("Give the event a name.")
        ),
        date=_clean_date(settings.date),
        venue=_text(settings.venue, field="venue", maximum=NAME_MAX) or None,
        languages=languages,
        max_clip_seconds=_in_range(
            settings.max_clip_seconds,
            "max_clip_seconds",
            _("The longest clip must be between 5 and 600 seconds."),
        ),
        idle_timeout_seconds=_in_range(
            settings.idle_timeout_seconds,
            "idle_timeout_seconds",
            _("The idle timeout must be between 5 and 3600 seconds."),
        ),
        text_max_chars=_in_range(
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
            if lang != "en" and (text := _text(value, field=f"name_{lang}", maximum=NAME_MAX))
        },
        thanks={
            lang: text
            for lang, value in settings.thanks.items()
            if (text := _text(value, field=f"thanks_{lang}", maximum=THANKS_MAX))
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
    db: sqlite3.Connection, event_id: int, settings: EventSettings, offered: Sequence[str]
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
                _labels_json({"en": clean.name} | clean.names),
                _labels_json(clean.thanks),
                event_id,
            ),
        )
        old, new = audit.changed(before, _snapshot(clean))
        audit.record(db, "event.update", "event", event_id, old, new)
    return bool(new)


def create_event(
    db: sqlite3.Connection,
    name: str,
    date: str | None,
    venue: str | None,
    name_cy: str | None = None,
) -> int:
    """Start a new event (it becomes the current one) with the default perspectives, prompts,
    consent and thank-you texts, as ``models.create_event`` makes them. ``name`` is the
    English name; without ``name_cy`` it does not open to kiosks until it has a Welsh one."""
    name = _text(name, field="name", maximum=NAME_MAX, required=_("Give the event a name."))
    welsh = _text(name_cy, field="name_cy", maximum=NAME_MAX)
    names = {"en": name} | ({"cy": welsh} if welsh else {})
    clean_date = _clean_date(date)
    venue = _text(venue, field="venue", maximum=NAME_MAX) or None
    with transaction(db):  # models.create_event's own transaction nests as a savepoint
        event_id = models.create_event(db, name, date=clean_date, venue=venue, names=names).id
        audit.record(
            db,
            "event.create",
            "event",
            event_id,
            None,
            {"names": names, "date": clean_date, "venue": venue},
        )
    return event_id


def _logo_message(error: UnsafeImage) -> str:
    # media/ is pure and speaks English; the organiser reads their own language here.
    if "too large" in error.message:
        return _("This image is too large to open safely (over 40 megapixels).")
    if "damaged" in error.message:
        return _("This image is damaged and cannot be read.")
    return _("The logo must be a PNG, JPEG or WebP image.")


def set_logo(db: sqlite3.Connection, event_id: int, store: MediaStore, upload: Path) -> str:
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
    with transaction(db):
        branding = _branding(db, event_id)
        before = branding.get("logo_path")
        branding["logo_path"] = relative
        db.execute(
            "UPDATE event SET branding = ? WHERE id = ?",
            (json.dumps(branding, ensure_ascii=False, sort_keys=True), event_id),
        )
        audit.record(
            db, "event.logo", "event", event_id, {"logo_path": before}, {"logo_path": relative}
        )
    return relative


def remove_logo(db: sqlite3.Connection, event_id: int) -> None:
    """Stop showing a logo (the file stays, as the audit log refers to it)."""
    with transaction(db):
        branding = _branding(db, event_id)
        before = branding.pop("logo_path", None)
        db.execute(
            "UPDATE event SET branding = ? WHERE id = ?",
            (json.dumps(branding, ensure_ascii=False, sort_keys=True), event_id),
        )
        audit.record(
            db, "event.logo", "event", event_id, {"logo_path": before}, {"logo_path": None}
        )


# -- perspectives and prompts --------------------------------------------------------------------


def _labels_json(labels: dict[str, str]) -> str:
    return json.dumps(labels, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class PerspectiveRow:
    """A perspective as the settings page shows it, retired or not."""

    id: int
    slug: str
    labels: dict[str, str]
    colour: str
    position: int
    retired_at: str | None
    reflections: int


@dataclass(frozen=True)
class PromptRow:
    """A prompt as the settings page shows it, active or not."""

    id: int
    texts: dict[str, str]
    position: int
    active: bool
    reflections: int


def _counts(db: sqlite3.Connection, column: str, event_id: int) -> dict[int, int]:
    rows = db.execute(
        f"SELECT {column} AS target, COUNT(*) AS n FROM reflection"  # noqa: S608 - fixed names
        f" WHERE event_id = ? GROUP BY {column}",
        (event_id,),
    ).fetchall()
    return {row["target"]: row["n"] for row in rows}


def all_perspectives(db: sqlite3.Connection, event_id: int) -> list[PerspectiveRow]:
    """Every perspective of the event in display order, with how many reflections each has."""
    counts = _counts(db, "perspective_id", event_id)
    rows = db.execute(
        "SELECT * FROM perspective WHERE event_id = ? ORDER BY position, id", (event_id,)
    ).fetchall()
    return [
        PerspectiveRow(
            row["id"],
            row["slug"],
            json.loads(row["labels"]),
            row["colour"],
            row["position"],
            row["retired_at"],
            counts.get(row["id"], 0),
        )
        for row in rows
    ]


def all_prompts(db: sqlite3.Connection, event_id: int) -> list[PromptRow]:
    """Every prompt of the event in display order, with how many reflections answer each."""
    counts = _counts(db, "prompt_id", event_id)
    rows = db.execute(
        "SELECT * FROM prompt WHERE event_id = ? ORDER BY position, id", (event_id,)
    ).fetchall()
    return [
        PromptRow(
            row["id"],
            json.loads(row["texts"]),
            row["position"],
            bool(row["active"]),
            counts.get(row["id"], 0),
        )
        for row in rows
    ]


def _perspective(db: sqlite3.Connection, event_id: int, perspective_id: int) -> sqlite3.Row:
    row = db.execute(
        "SELECT * FROM perspective WHERE id = ? AND event_id = ?", (perspective_id, event_id)
    ).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such perspective in this event."))
    return row


def _prompt(db: sqlite3.Connection, event_id: int, prompt_id: int) -> sqlite3.Row:
    row = db.execute(
        "SELECT * FROM prompt WHERE id = ? AND event_id = ?", (prompt_id, event_id)
    ).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such prompt in this event."))
    return row


def _perspective_labels(labels: dict[str, str | None]) -> dict[str, str]:
    return _per_language(
        labels,
        field="label",
        maximum=LABEL_MAX,
        required_en=_("Give the perspective an English label."),
    )


def add_perspective(
    db: sqlite3.Connection, event_id: int, labels: dict[str, str | None], colour: str
) -> int:
    """Add a perspective at the end; its slug is made once, from the English label."""
    clean = _perspective_labels(labels)
    colour = clean_colour(colour)
    slug = slugify(clean["en"])
    if not slug:
        raise SettingsError(
            _(
                "The English label needs at least one letter or digit (it names the perspective "
                "in links and exports)."
            ),
            "label_en",
        )
    with transaction(db):
        existing = db.execute(
            "SELECT retired_at FROM perspective WHERE event_id = ? AND slug = ?",
            (event_id, slug),
        ).fetchone()
        if existing is not None:
            message = (
                _(
                    "A retired perspective already uses the name “%(slug)s”: restore it instead.",
                    slug=slug,
                )
                if existing["retired_at"]
                else _("There is already a perspective called “%(slug)s”.", slug=slug)
            )
            raise SettingsError(message, "label_en")
        position = db.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM perspective WHERE event_id = ?",
            (event_id,),
        ).fetchone()[0]
        cursor = db.execute(
            "INSERT INTO perspective (event_id, slug, labels, colour, position)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, slug, _labels_json(clean), colour, position),
        )
        perspective_id = int(cursor.lastrowid or 0)
        audit.record(
            db,
            "perspective.create",
            "perspective",
            perspective_id,
            None,
            {"slug": slug, "labels": clean, "colour": colour},
        )
    return perspective_id


def edit_perspective(
    db: sqlite3.Connection,
    event_id: int,
    perspective_id: int,
    labels: dict[str, str | None],
    colour: str,
) -> None:
    """Rename or recolour a perspective; its slug never changes."""
    clean = _perspective_labels(labels)
    colour = clean_colour(colour)
    with transaction(db):
        row = _perspective(db, event_id, perspective_id)
        db.execute(
            "UPDATE perspective SET labels = ?, colour = ? WHERE id = ?",
            (_labels_json(clean), colour, perspective_id),
        )
        before, after = audit.changed(
            {"labels": json.loads(row["labels"]), "colour": row["colour"]},
            {"labels": clean, "colour": colour},
        )
        audit.record(db, "perspective.update", "perspective", perspective_id, before, after)


def _move(db: sqlite3.Connection, table: str, event_id: int, item_id: int, direction: str) -> None:
    """Swap an item with its neighbour and renumber the list 0..n-1, auditing each move."""
    if direction not in ("up", "down"):
        raise SettingsError(_("Move up or down."))
    ids = [
        row["id"]
        for row in db.execute(
            f"SELECT id FROM {table} WHERE event_id = ? ORDER BY position, id",  # noqa: S608
            (event_id,),
        )
    ]
    old_positions = {
        row["id"]: row["position"]
        for row in db.execute(
            f"SELECT id, position FROM {table} WHERE event_id = ?",  # noqa: S608
            (event_id,),
        )
    }
    index = ids.index(item_id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
    for position, row_id in enumerate(ids):
        if old_positions[row_id] != position:
            db.execute(
                f"UPDATE {table} SET position = ? WHERE id = ?",  # noqa: S608
                (position, row_id),
            )
            audit.record(
                db,
                f"{table}.move",
                table,
                row_id,
                {"position": old_positions[row_id]},
                {"position": position},
            )


def move_perspective(
    db: sqlite3.Connection, event_id: int, perspective_id: int, direction: str
) -> None:
    """Move a perspective one place up or down (at either end, nothing moves)."""
    with transaction(db):
        _perspective(db, event_id, perspective_id)
        _move(db, "perspective", event_id, perspective_id, direction)


def retire_perspective(db: sqlite3.Connection, event_id: int, perspective_id: int) -> None:
    """Take a perspective off the kiosk; its reflections keep it."""
    with transaction(db):
        row = _perspective(db, event_id, perspective_id)
        if row["retired_at"]:
            return
        active = db.execute(
            "SELECT COUNT(*) FROM perspective WHERE event_id = ? AND retired_at IS NULL",
            (event_id,),
        ).fetchone()[0]
        if active <= 1:
            raise SettingsError(
                _("This is the last perspective on the kiosk: add another before retiring it.")
            )
        now = utcnow()
        db.execute("UPDATE perspective SET retired_at = ? WHERE id = ?", (now, perspective_id))
        audit.record(
            db,
            "perspective.retire",
            "perspective",
            perspective_id,
            {"retired_at": None},
            {"retired_at": now},
        )


def restore_perspective(db: sqlite3.Connection, event_id: int, perspective_id: int) -> None:
    """Put a retired perspective back on the kiosk."""
    with transaction(db):
        row = _perspective(db, event_id, perspective_id)
        if not row["retired_at"]:
            return
        db.execute("UPDATE perspective SET retired_at = NULL WHERE id = ?", (perspective_id,))
        audit.record(
            db,
            "perspective.restore",
            "perspective",
            perspective_id,
            {"retired_at": row["retired_at"]},
            {"retired_at": None},
        )


def _prompt_texts(texts: dict[str, str | None]) -> dict[str, str]:
    return _per_language(
        texts, field="text", maximum=PROMPT_MAX, required_en=_("Write the prompt in English.")
    )


def add_prompt(db: sqlite3.Connection, event_id: int, texts: dict[str, str | None]) -> int:
    """Add an active prompt at the end of the list."""
    clean = _prompt_texts(texts)
    with transaction(db):
        position = db.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM prompt WHERE event_id = ?", (event_id,)
        ).fetchone()[0]
        cursor = db.execute(
            "INSERT INTO prompt (event_id, texts, position, active) VALUES (?, ?, ?, 1)",
            (event_id, _labels_json(clean), position),
        )
        prompt_id = int(cursor.lastrowid or 0)
        audit.record(db, "prompt.create", "prompt", prompt_id, None, {"texts": clean})
    return prompt_id


def edit_prompt(
    db: sqlite3.Connection, event_id: int, prompt_id: int, texts: dict[str, str | None]
) -> None:
    """Change a prompt's wording."""
    clean = _prompt_texts(texts)
    with transaction(db):
        row = _prompt(db, event_id, prompt_id)
        db.execute("UPDATE prompt SET texts = ? WHERE id = ?", (_labels_json(clean), prompt_id))
        audit.record(
            db,
            "prompt.update",
            "prompt",
            prompt_id,
            {"texts": json.loads(row["texts"])},
            {"texts": clean},
        )


def move_prompt(db: sqlite3.Connection, event_id: int, prompt_id: int, direction: str) -> None:
    """Move a prompt one place up or down (at either end, nothing moves)."""
    with transaction(db):
        _prompt(db, event_id, prompt_id)
        _move(db, "prompt", event_id, prompt_id, direction)


def set_prompt_active(db: sqlite3.Connection, event_id: int, prompt_id: int, active: bool) -> None:
    """Show or hide a prompt on the kiosk; at least one stays active."""
    with transaction(db):
        row = _prompt(db, event_id, prompt_id)
        if bool(row["active"]) == active:
            return
        if not active:
            count = db.execute(
                "SELECT COUNT(*) FROM prompt WHERE event_id = ? AND active = 1", (event_id,)
            ).fetchone()[0]
            if count <= 1:
                raise SettingsError(
                    _("This is the last active prompt: activate another before hiding it.")
                )
        db.execute("UPDATE prompt SET active = ? WHERE id = ?", (int(active), prompt_id))
        audit.record(
            db,
            "prompt.activate" if active else "prompt.deactivate",
            "prompt",
            prompt_id,
            {"active": not active},
            {"active": active},
        )


# -- consent -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentVersion:
    """One version of the consent wording and how many reflections were given under it."""

    id: int
    version: int
    texts: dict[str, dict[str, str]]
    sha256: str
    created_at: str
    reflections: int


def consent_versions(db: sqlite3.Connection, event_id: int) -> list[ConsentVersion]:
    """Every consent version of the event, newest (the current one) first."""
    rows = db.execute(
        "SELECT t.*, (SELECT COUNT(*) FROM consent c WHERE c.consent_text_id = t.id) AS used"
        " FROM consent_text t WHERE t.event_id = ? ORDER BY t.version DESC",
        (event_id,),
    ).fetchall()
    return [
        ConsentVersion(
            row["id"],
            row["version"],
            json.loads(row["texts"]),
            row["sha256"],
            row["created_at"],
            row["used"],
        )
        for row in rows
    ]


def consent_field_names() -> dict[str, str]:
    """What each part of the consent wording is, in the organiser's language."""
    return {
        "intro": _("Introduction"),
        "archive": _("Archive (required to take part)"),
        "reel": _("Highlights reel"),
        "online": _("Published online"),
        "name": _("First name shown"),
    }


def _consent_texts(texts: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str]]:
    names = consent_field_names()
    clean: dict[str, dict[str, str]] = {}
    for lang, fields in texts.items():
        values = {
            key: _text(fields.get(key), field=f"{key}_{lang}", maximum=CONSENT_FIELD_MAX)
            for key in CONSENT_FIELDS
        }
        if lang != "en" and not any(values.values()):
            continue  # no wording in this language: its kiosks show the English
        for key in CONSENT_FIELDS:
            if not values[key]:
                message = (
                    _("The English text for “%(part)s” is required.", part=names[key])
                    if lang == "en"
                    else _(
                        "The Welsh text for “%(part)s” is missing: fill in every Welsh part, "
                        "or leave them all empty while the event does not offer Welsh.",
                        part=names[key],
                    )
                )
                raise SettingsError(message, f"{key}_{lang}")
        clean[lang] = values
    return clean


def add_consent_version(
    db: sqlite3.Connection, event_id: int, texts: dict[str, dict[str, str | None]]
) -> int | None:
    """Make new consent wording current as a new version; old versions stay as they were.

    Returns the new version's number, or None when the wording is the current one already.
    """
    clean = _consent_texts(texts)
    with transaction(db):
        versions = consent_versions(db, event_id)
        if versions and versions[0].texts == clean:
            return None
        for old in versions[1:]:
            if old.texts == clean:
                # consent_text is unique per (event, sha256): a version is never duplicated.
                raise SettingsError(
                    _(
                        "This wording is the same as version %(version)d. Change something to "
                        "make it a new version.",
                        version=old.version,
                    )
                )
        consent = models.add_consent_version(db, event_id, clean)  # nests: one transaction
        consent_id, version = consent.id, consent.version
        before = {"version": versions[0].version, "texts": versions[0].texts} if versions else None
        audit.record(
            db,
            "consent_text.create",
            "consent_text",
            consent_id,
            before,
            {"version": version, "texts": clean},
        )
    return int(version)


# -- kiosks --------------------------------------------------------------------------------------


def _kiosk(db: sqlite3.Connection, kiosk_id: int) -> sqlite3.Row:
    row = db.execute("SELECT * FROM kiosk WHERE id = ?", (kiosk_id,)).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such kiosk."))
    return row


def create_kiosk(db: sqlite3.Connection, name: str, mode: str = "kiosk") -> models.NewKiosk:
    """Create a kiosk and its one-time pairing token (shown once, stored only as a hash)."""
    name = _text(name, field="name", maximum=KIOSK_NAME_MAX) or models.next_kiosk_name(db)
    with transaction(db):  # models.create_kiosk's transaction nests: kiosk and audit together
        new = models.create_kiosk(db, name, mode=mode)
        audit.record(db, "kiosk.create", "kiosk", new.kiosk.id, None, {"name": name, "mode": mode})
    return new


def rename_kiosk(db: sqlite3.Connection, kiosk_id: int, name: str) -> None:
    """Give a kiosk a new name."""
    name = _text(name, field="name", maximum=KIOSK_NAME_MAX, required=_("Give the kiosk a name."))
    with transaction(db):
        row = _kiosk(db, kiosk_id)
        db.execute("UPDATE kiosk SET name = ? WHERE id = ?", (name, kiosk_id))
        audit.record(db, "kiosk.rename", "kiosk", kiosk_id, {"name": row["name"]}, {"name": name})


def revoke_kiosk(db: sqlite3.Connection, kiosk_id: int) -> None:
    """Unpair a kiosk for good: its next request is refused (pair it again to use it)."""
    with transaction(db):
        row = _kiosk(db, kiosk_id)
        if row["revoked_at"]:
            return
        now = utcnow()
        db.execute(
            "UPDATE kiosk SET revoked_at = ?, pairing_hash = NULL WHERE id = ?", (now, kiosk_id)
        )
        audit.record(
            db, "kiosk.revoke", "kiosk", kiosk_id, {"revoked_at": None}, {"revoked_at": now}
        )


# -- users ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    """A person who can log in."""

    id: int
    name: str
    role: str
    created_at: str


def all_users(db: sqlite3.Connection) -> list[UserRow]:
    """Every user, organisers first, then by name."""
    rows = db.execute(
        "SELECT id, name, role, created_at FROM user ORDER BY role DESC, name COLLATE NOCASE"
    ).fetchall()
    return [UserRow(row["id"], row["name"], row["role"], row["created_at"]) for row in rows]


def _user(db: sqlite3.Connection, user_id: int) -> sqlite3.Row:
    row = db.execute("SELECT id, name, role FROM user WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such user."))
    return row


def _role(role: str) -> str:
    if role not in models.ROLES:
        raise SettingsError(_("Choose organiser or facilitator."), "role")
    return role


def _password(password: str | None) -> str:
    password = password or ""
    problem = passwords.password_problem(password)
    if problem:
        raise SettingsError(problem, "password")
    return password


def _other_organisers(db: sqlite3.Connection, user_id: int) -> int:
    return int(
        db.execute(
            "SELECT COUNT(*) FROM user WHERE role = 'organiser' AND id != ?", (user_id,)
        ).fetchone()[0]
    )


def add_user(db: sqlite3.Connection, name: str, role: str, password: str) -> int:
    """Add a user with a salted password hash."""
    name = _text(name, field="name", maximum=USER_NAME_MAX, required=_("Give the user a name."))
    role = _role(role)
    password_hash = passwords.hash_password(_password(password))
    with transaction(db):
        if db.execute("SELECT 1 FROM user WHERE name = ?", (name,)).fetchone():
            raise SettingsError(_("There is already a user called “%(name)s”.", name=name), "name")
        cursor = db.execute(
            "INSERT INTO user (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (name, role, password_hash, utcnow()),
        )
        user_id = int(cursor.lastrowid or 0)
        audit.record(db, "user.create", "user", user_id, None, {"name": name, "role": role})
    return user_id


def change_role(db: sqlite3.Connection, user_id: int, role: str) -> None:
    """Make a user an organiser or a facilitator; there is always at least one organiser."""
    role = _role(role)
    with transaction(db):
        row = _user(db, user_id)
        if row["role"] == role:
            return
        if row["role"] == "organiser" and not _other_organisers(db, user_id):
            raise SettingsError(
                _(
                    "%(name)s is the only organiser: make someone else an organiser first.",
                    name=row["name"],
                ),
                "role",
            )
        db.execute("UPDATE user SET role = ? WHERE id = ?", (role, user_id))
        audit.record(db, "user.role", "user", user_id, {"role": row["role"]}, {"role": role})


def reset_password(db: sqlite3.Connection, user_id: int, password: str) -> None:
    """Give a user a new password (the hash is stored; the log only says it changed)."""
    password_hash = passwords.hash_password(_password(password))
    with transaction(db):
        _user(db, user_id)
        # Their sessions end too: whoever had the old password is logged out everywhere.
        db.execute(
            "UPDATE user SET password_hash = ?, session_version = session_version + 1 WHERE id = ?",
            (password_hash, user_id),
        )
        audit.record(db, "user.password", "user", user_id, None, {"password": "reset"})


def remove_user(db: sqlite3.Connection, user_id: int, acting_user_id: int | None) -> str:
    """Remove a user who has never changed anything; returns their name.

    Someone with entries in the audit log cannot be deleted (the log keeps who did what):
    the message says so, and suggests resetting their password instead.
    """
    with transaction(db):
        row = _user(db, user_id)
        if user_id == acting_user_id:
            raise SettingsError(_("You cannot remove yourself."))
        if row["role"] == "organiser" and not _other_organisers(db, user_id):
            raise SettingsError(
                _("%(name)s is the only organiser and cannot be removed.", name=row["name"])
            )
        if db.execute("SELECT 1 FROM audit_log WHERE user_id = ? LIMIT 1", (user_id,)).fetchone():
            raise SettingsError(
                _(
                    "%(name)s has made changes recorded in the audit log, so they cannot be "
                    "removed. Reset their password to stop them logging in.",
                    name=row["name"],
                )
            )
        db.execute("DELETE FROM user WHERE id = ?", (user_id,))
        audit.record(
            db,
            "user.remove",
            "user",
            user_id,
            {"name": row["name"], "role": row["role"]},
            {"removed": True},
        )
    return str(row["name"])


# -- the audit log -------------------------------------------------------------------------------


def audit_target_kinds(db: sqlite3.Connection) -> list[str]:
    """The kinds of thing the audit log has entries about (for the filter)."""
    rows = db.execute("SELECT DISTINCT target_kind FROM audit_log ORDER BY target_kind")
    return [row["target_kind"] for row in rows]


def audit_action_names() -> dict[str, str]:
    """What each audited action means, in the organiser's language."""
    return {
        "event.create": _("Event created"),
        "event.update": _("Event settings changed"),
        "event.logo": _("Logo changed"),
        "perspective.create": _("Perspective added"),
        "perspective.update": _("Perspective renamed or recoloured"),
        "perspective.move": _("Perspective moved"),
        "perspective.retire": _("Perspective retired"),
        "perspective.restore": _("Perspective restored"),
        "prompt.create": _("Prompt added"),
        "prompt.update": _("Prompt edited"),
        "prompt.move": _("Prompt moved"),
        "prompt.activate": _("Prompt shown"),
        "prompt.deactivate": _("Prompt hidden"),
        "consent_text.create": _("New consent text version"),
        "kiosk.create": _("Kiosk created"),
        "kiosk.rename": _("Kiosk renamed"),
        "kiosk.revoke": _("Kiosk revoked"),
        "user.create": _("User added"),
        "user.role": _("Role changed"),
        "user.password": _("Password reset"),
        "user.remove": _("User removed"),
    }
