"""Receiving a reflection from a kiosk: validate, store the original, record consent.

The order is what makes a crash harmless: the upload is complete and fsynced in
``originals/`` before the row that points at it is committed, so the database never
refers to a half-written file.
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from voxpop import models
from voxpop.db import transaction, utcnow
from voxpop.errors import InvalidSubmission, UnsupportedMedia
from voxpop.media.sniff import EXTENSIONS, sniff_container
from voxpop.storage import IncomingFile, MediaStore

# No 0/O, 1/I/L, so a code read aloud or copied by hand survives.
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
FIRST_NAME_MAX = 40


def new_receipt_code() -> str:
    """Return a random receipt code such as ``KX7-4QF``."""
    chars = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(6))
    return f"{chars[:3]}-{chars[3:]}"


def normalise_receipt_code(code: str) -> str | None:
    """Return the canonical form of a typed receipt code, or None if it cannot be one."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(cleaned) != 6 or any(ch not in RECEIPT_ALPHABET for ch in cleaned):
        return None
    return f"{cleaned[:3]}-{cleaned[3:]}"


def upload_limit_bytes(max_clip_seconds: int, bytes_per_second: int) -> int:
    """Largest request body accepted for an event: its max length, with slack, at a bitrate."""
    return int(max_clip_seconds * 1.25 * bytes_per_second) + 2 * 1024 * 1024


@dataclass
class Submission:
    """What a kiosk sent, as strings and at most one uploaded file (not yet trusted)."""

    perspective: str
    prompt: str
    kind: str
    client_id: str
    consent: list[str] = field(default_factory=list)
    consent_version: str = ""
    first_name: str = ""
    text: str | None = None
    media: IncomingFile | None = None
    extra_files: int = 0
    duration_ms: str = ""
    lang: str = "en"


def _existing(db: sqlite3.Connection, client_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, receipt_code, status FROM reflection WHERE client_id = ?", (client_id,)
    ).fetchone()
    return dict(row) if row else None


def _parse_client_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise InvalidSubmission(
            _("The kiosk sent no valid recording id. Reload the kiosk page."), field="client_id"
        ) from None


def _validate(db: sqlite3.Connection, event: models.Event, sub: Submission) -> dict[str, Any]:
    """Check a submission against the event; return the values to store.

    Raises InvalidSubmission or UnsupportedMedia.
    """
    if sub.kind not in models.KINDS:
        raise InvalidSubmission(_("Choose video, audio or text."), field="kind")
    perspective = next(
        (p for p in models.perspectives(db, event.id) if p.slug == sub.perspective), None
    )
    if perspective is None:
        raise InvalidSubmission(_("Choose one of the perspectives shown."), field="perspective")
    prompt = next((p for p in models.prompts(db, event.id) if str(p.id) == sub.prompt), None)
    if prompt is None:
        raise InvalidSubmission(_("Choose one of the prompts shown."), field="prompt")

    unknown = set(sub.consent) - set(models.PURPOSES)
    if unknown:
        raise InvalidSubmission(_("The consent choices were not understood."), field="consent")
    if "archive" not in sub.consent:
        raise InvalidSubmission(
            _(
                "Your reflection can only be kept if you agree to it being kept in the archive "
                "of the day."
            ),
            field="consent",
        )
    consent_text = models.current_consent_text(db, event.id)
    if sub.consent_version and sub.consent_version != consent_text.sha256:
        # The delegate saw an earlier version (the text changed mid-session): record that one.
        shown = models.consent_text_by_sha256(db, event.id, sub.consent_version)
        if shown is None:
            raise InvalidSubmission(
                _("The consent text has changed. Please start again."), field="consent_version"
            )
        consent_text = shown

    display_name = None
    if "name" in sub.consent:
        display_name = " ".join(sub.first_name.split())
        if not display_name:
            raise InvalidSubmission(
                _("Write your first name, or untick “Show my first name”."), field="first_name"
            )
        if len(display_name) > FIRST_NAME_MAX:
            raise InvalidSubmission(_("That name is too long."), field="first_name")

    if sub.extra_files:
        raise InvalidSubmission(_("Send one recording at a time."), field="media")
    text_body = None
    if sub.kind == "text":
        if sub.media is not None:
            raise InvalidSubmission(
                _("A written reflection cannot include a recording."), field="media"
            )
        text_body = (sub.text or "").strip()
        if not text_body:
            raise InvalidSubmission(_("Write something before sending."), field="text")
        if len(text_body) > event.text_max_chars:
            raise InvalidSubmission(
                _("Please keep it under %(max)d characters.", max=event.text_max_chars),
                field="text",
            )
    else:
        if sub.text and sub.text.strip():
            raise InvalidSubmission(_("A recording cannot include written text."), field="text")
        if sub.media is None:
            raise InvalidSubmission(
                _("The recording did not arrive. Please try again."), field="media"
            )
        if sub.media.size == 0:
            raise InvalidSubmission(
                _("The recording is empty. Please record again."), field="media"
            )
        if sniff_container(sub.media.head) is None:
            raise UnsupportedMedia(_("This file is not a recording we can read."), field="media")

    duration_ms = None
    if sub.duration_ms.strip().isdigit():
        duration_ms = min(int(sub.duration_ms), 24 * 3600 * 1000)
    return {
        "perspective": perspective,
        "prompt": prompt,
        "consent_text": consent_text,
        "display_name": display_name,
        "text_body": text_body,
        "duration_ms": duration_ms if sub.kind != "text" else None,
    }


def receive_reflection(
    db: sqlite3.Connection,
    store: MediaStore,
    event: models.Event,
    kiosk_id: int,
    sub: Submission,
) -> tuple[dict[str, Any], bool]:
    """Store a kiosk's submission; return ``({id, receipt_code, status}, created)``.

    The same ``client_id`` sent again (a retry after a lost answer) returns the reflection
    already stored, with ``created`` False, and keeps nothing new.
    Raises InvalidSubmission or UnsupportedMedia with a message for the delegate.
    """
    client_id = _parse_client_id(sub.client_id)
    existing = _existing(db, client_id)
    if existing:
        return existing, False
    values = _validate(db, event, sub)

    original = None
    if sub.media is not None:
        container = sniff_container(sub.media.head)
        assert container is not None  # _validate refused anything else
        original = store.commit_original(sub.media, EXTENSIONS[container])

    lang = sub.lang if sub.lang in event.languages else event.languages[0]
    consent = set(sub.consent)
    try:
        with transaction(db):
            for _attempt in range(20):
                code = new_receipt_code()
                if not db.execute(
                    "SELECT 1 FROM reflection WHERE receipt_code = ?", (code,)
                ).fetchone():
                    break
            now = utcnow()
            cursor = db.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                " original_path, original_sha256, original_bytes, original_container,"
                " client_duration_ms, status, receipt_code, client_id, kiosk_id, lang,"
                " display_name, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    sub.kind,
                    values["perspective"].id,
                    values["prompt"].id,
                    values["text_body"],
                    original.relative_path if original else None,
                    original.sha256 if original else None,
                    original.size if original else None,
                    sniff_container(sub.media.head) if sub.media else None,
                    values["duration_ms"],
                    code,
                    client_id,
                    kiosk_id,
                    lang,
                    values["display_name"],
                    now,
                ),
            )
            db.execute(
                "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                " reel, online, show_name, given_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                (
                    cursor.lastrowid,
                    values["consent_text"].id,
                    values["consent_text"].sha256,
                    int("reel" in consent),
                    int("online" in consent),
                    int("name" in consent),
                    now,
                ),
            )
    except sqlite3.IntegrityError:
        # Two copies of one retry raced; the first one won. Keep its answer, not a duplicate.
        winner = _existing(db, client_id)
        if winner is None:
            raise
        if original is not None:
            _remove_original(store, original.relative_path)
        return winner, False
    return {"id": cursor.lastrowid, "receipt_code": code, "status": "received"}, True


def _remove_original(store: MediaStore, relative_path: str) -> None:
    path = store.path(relative_path)
    path.chmod(0o644)
    path.unlink(missing_ok=True)


def reflections_by_perspective(
    db: sqlite3.Connection, event: models.Event, lang: str
) -> list[tuple[models.Perspective, list[sqlite3.Row]]]:
    """Return the event's reflections grouped by perspective, in the event's order."""
    rows = db.execute(
        "SELECT r.*, c.reel, c.online, c.show_name, ct.version AS consent_version,"
        " (SELECT progress FROM job WHERE job.target_id = r.id"
        "  AND job.kind = 'process_reflection' ORDER BY job.id DESC LIMIT 1) AS progress,"
        " (SELECT COUNT(*) FROM asset WHERE asset.reflection_id = r.id AND asset.kind = 'mp4')"
        "  AS has_mp4"
        " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
        " JOIN consent_text ct ON ct.id = c.consent_text_id"
        " WHERE r.event_id = ? ORDER BY r.created_at DESC, r.id DESC",
        (event.id,),
    ).fetchall()
    groups = []
    for perspective in models.perspectives(db, event.id):
        mine = [row for row in rows if row["perspective_id"] == perspective.id]
        groups.append((perspective, mine))
    return groups


def processing_status(db: sqlite3.Connection, event: models.Event) -> dict[int, dict[str, Any]]:
    """Status, job progress (0–1) and failure reason of every reflection of the event."""
    rows = db.execute(
        "SELECT r.id, r.status, r.failure_reason,"
        " (SELECT progress FROM job WHERE job.target_id = r.id"
        "  AND job.kind = 'process_reflection' ORDER BY job.id DESC LIMIT 1) AS progress"
        " FROM reflection r WHERE r.event_id = ?",
        (event.id,),
    ).fetchall()
    return {
        row["id"]: {
            "status": row["status"],
            "progress": row["progress"] or 0.0,
            "reason": row["failure_reason"],
        }
        for row in rows
    }
