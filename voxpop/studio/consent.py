"""Versions of the event's consent wording: a change makes a new version, old ones stay."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from flask_babel import gettext as _

from voxpop import audit, models
from voxpop.db import transaction
from voxpop.studio.validation import (
    SettingsError,
    clean_text,
)

CONSENT_FIELDS = ("intro", *models.PURPOSES)  # intro, archive, reel, room, online, name
CONSENT_FIELD_MAX = 2000


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
        "room": _("Shown on the screen in the room (the live wall)"),
        "online": _("Published online"),
        "name": _("First name shown"),
    }


def _consent_texts(texts: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str]]:
    names = consent_field_names()
    clean: dict[str, dict[str, str]] = {}
    for lang, fields in texts.items():
        values = {
            key: clean_text(fields.get(key), field=f"{key}_{lang}", maximum=CONSENT_FIELD_MAX)
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
    db: sqlite3.Connection,
    event_id: int,
    texts: dict[str, dict[str, str | None]],
    *,
    actor: audit.Actor | None,
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
            actor=actor,
        )
    return int(version)
