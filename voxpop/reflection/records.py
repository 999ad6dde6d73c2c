"""Receiving a reflection from a kiosk: validate, store the original, record consent.

The order is what makes a crash harmless: the upload is complete and fsynced in
``originals/`` before the row that points at it is committed, so the database never
refers to a half-written file.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from voxpop import models, reasons
from voxpop.db import transaction, utcnow
from voxpop.errors import InvalidSubmission, UnsupportedMedia, VoxpopError
from voxpop.media.sniff import EXTENSIONS, sniff_container
from voxpop.reflection import processing
from voxpop.reflection.intake.receipts import claim_code
from voxpop.storage import IncomingFile, MediaStore

FIRST_NAME_MAX = 40


def upload_limit_bytes(max_clip_seconds: int, bytes_per_second: int) -> int:
    """Largest request body accepted for an event: its max length, with slack, at a bitrate."""
    return int(max_clip_seconds * 1.25 * bytes_per_second) + 2 * 1024 * 1024


def recording_limit_bytes(
    given_for: models.Event, current: models.Event, bytes_per_second: int
) -> int:
    """The largest recording accepted for a reflection given under ``given_for``.

    Sized for the longest clip that event ever allowed (the kiosk recorded under the limit it
    loaded with), or the current event's, when higher: raising "Longest clip" is the way out
    of a refusal for size, also for a reflection from an earlier event.
    """
    seconds = max(given_for.longest_clip_allowed, current.longest_clip_allowed)
    return upload_limit_bytes(seconds, bytes_per_second)


def refuse_if_too_large(size: int, limit_bytes: int) -> None:
    """Refuse (413) a recording of ``size`` bytes above ``limit_bytes``."""
    if size > limit_bytes:
        raise VoxpopError(
            _(
                "This recording is too large to send (the limit is %(mb)d MB).",
                mb=max(1, limit_bytes // 1_000_000),
            ),
            field="media",
            status=413,
        )


def _not_on_this_laptop(first_sentence: str, field: str) -> InvalidSubmission:
    """A refusal of something only another copy of voxpop knows, saying where the fix lies.

    The kiosk keeps the reflection and the organiser reads this on the Kiosks page: the one
    way such a reflection can arrive is from a kiosk that gave it with another laptop (or with
    this one before its data was replaced), so that is where it can still be delivered.
    """
    return InvalidSubmission(
        first_sentence
        + " "
        + _(
            "It stays on the kiosk: if the kiosk was used with another laptop, or with this"
            " one before its data was replaced, pair it with that one again to send it."
        ),
        field=field,
    )


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
    # The code the kiosk already showed the delegate (from its reserved pool), if any.
    receipt_code: str = ""
    # How it was captured (kiosk metadata for facilitators): via, recorder_mime, recovered.
    capture: dict[str, Any] = field(default_factory=dict)
    # On a roving device, the interviewer to whom consent was given aloud.
    interviewer: str = ""


def existing_reflection(
    db: sqlite3.Connection, client_id: str, kiosk_id: int
) -> dict[str, Any] | None:
    """``{id, receipt_code, status}`` of the reflection this kiosk sent as ``client_id``.

    Raises InvalidSubmission when another kiosk used that id: its answer is not this kiosk's
    to read.
    """
    row = db.execute(
        "SELECT id, receipt_code, status, kiosk_id FROM reflection WHERE client_id = ?",
        (client_id,),
    ).fetchone()
    if row is None:
        return None
    if row["kiosk_id"] != kiosk_id:
        raise InvalidSubmission(
            _("The kiosk sent no valid recording id. Reload the kiosk page."), field="client_id"
        )
    return {"id": row["id"], "receipt_code": row["receipt_code"], "status": row["status"]}


def parse_client_id(value: str) -> str:
    """The canonical form of a kiosk's recording id (a UUID); InvalidSubmission otherwise."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise InvalidSubmission(
            _("The kiosk sent no valid recording id. Reload the kiosk page."), field="client_id"
        ) from None


def validate_submission(
    db: sqlite3.Connection,
    event: models.Event,
    sub: Submission,
    kiosk: models.Kiosk,
    *,
    check_media: bool = True,
    bytes_per_second: int | None = None,
) -> dict[str, Any]:
    """Check a submission against the event it was given for; return the values to store.

    ``event`` is the current event. A reflection belongs to the event of the question it
    answers, which need not be the current one: a kiosk keeps what a delegate gave until the
    laptop confirms it, and may send it after an organiser started a new event. Its
    perspective, consent wording and limits are checked against that event (``values["event"]``).

    ``check_media=False`` checks only the form fields (a resumable upload being created,
    whose bytes have not arrived yet). With ``bytes_per_second``, a recording's size is checked
    too (the multipart POST; a resumable upload's was checked when it was created).
    Raises InvalidSubmission, UnsupportedMedia or VoxpopError (413).
    """
    if sub.kind not in models.KINDS:
        raise InvalidSubmission(_("Choose video, audio or text."), field="kind")
    # A perspective retired, or a question taken off the kiosks, after the delegate chose it
    # still takes their reflection: refusing it would leave it stuck on the kiosk for good.
    if not (sub.prompt.isascii() and sub.prompt.isdigit()):
        # Not a question's number at all: a bad request, not one from another laptop.
        raise InvalidSubmission(_("Choose one of the prompts shown."), field="prompt")
    given_for = models.event_of_prompt(db, sub.prompt)
    prompt = (
        next(
            (p for p in models.prompts(db, given_for.id, inactive=True) if str(p.id) == sub.prompt),
            None,
        )
        if given_for
        else None
    )
    if given_for is None or prompt is None:
        raise _not_on_this_laptop(
            _("This laptop does not know the question this reflection answers."), "prompt"
        )
    perspective = next(
        (
            p
            for p in models.perspectives(db, given_for.id, retired=True)
            if p.slug == sub.perspective
        ),
        None,
    )
    if perspective is None:
        raise _not_on_this_laptop(
            _("This laptop does not know the perspective this reflection was given from."),
            "perspective",
        )

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
    consent_text = models.current_consent_text(db, given_for.id)
    if sub.consent_version and sub.consent_version != consent_text.sha256:
        # The delegate saw an earlier version (the text changed mid-session): record that one.
        shown = models.consent_text_by_sha256(db, given_for.id, sub.consent_version)
        if shown is None:
            raise _not_on_this_laptop(
                _("This laptop does not know the consent wording the delegate agreed to."),
                "consent_version",
            )
        consent_text = shown
    if set(sub.consent) - set(consent_text.purposes):
        # A choice the wording the delegate saw never offered (e.g. the room, on old wording).
        raise InvalidSubmission(_("The consent choices were not understood."), field="consent")

    interviewer = None
    if kiosk.mode == "roving":
        interviewer = " ".join(sub.interviewer.split())
        if not interviewer:
            raise InvalidSubmission(
                _("Write the interviewer's name: consent was given to them aloud."),
                field="interviewer",
            )
        if len(interviewer) > FIRST_NAME_MAX * 2:
            raise InvalidSubmission(_("That name is too long."), field="interviewer")

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
        # Its event's limit, or the current event's when higher: raising "Longest written
        # reflection" is the way out for a text typed under a higher limit, even one given
        # before a new event started.
        longest = max(given_for.text_max_chars, event.text_max_chars)
        if len(text_body) > longest:
            raise InvalidSubmission(
                _("Please keep it under %(max)d characters.", max=longest), field="text"
            )
    else:
        if sub.text and sub.text.strip():
            raise InvalidSubmission(_("A recording cannot include written text."), field="text")
    if sub.kind != "text" and check_media:
        if sub.media is None:
            raise InvalidSubmission(
                _("The recording did not arrive. Please try again."), field="media"
            )
        if sub.media.size == 0:
            raise InvalidSubmission(
                _("The recording is empty. Please record again."), field="media"
            )
        if bytes_per_second is not None:
            refuse_if_too_large(
                sub.media.size, recording_limit_bytes(given_for, event, bytes_per_second)
            )
        if sniff_container(sub.media.head) is None:
            raise UnsupportedMedia(_("This file is not a recording we can read."), field="media")

    duration_ms = None
    if sub.duration_ms.strip().isdigit():
        duration_ms = min(int(sub.duration_ms), 24 * 3600 * 1000)
    return {
        "event": given_for,
        "perspective": perspective,
        "prompt": prompt,
        "consent_text": consent_text,
        "display_name": display_name,
        "text_body": text_body,
        "duration_ms": duration_ms if sub.kind != "text" else None,
        "interviewer": interviewer,
    }


def receive_reflection(
    db: sqlite3.Connection,
    store: MediaStore,
    event: models.Event,
    kiosk: models.Kiosk,
    sub: Submission,
    *,
    bytes_per_second: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a kiosk's submission; return ``({id, receipt_code, status}, created)``.

    ``event`` is the current event; the reflection is stored against the event it was given
    for (see ``validate_submission``, which also says what ``bytes_per_second`` checks).
    The same ``client_id`` sent again (a retry after a lost answer) returns the reflection
    already stored, with ``created`` False, and keeps nothing new.
    Raises InvalidSubmission, UnsupportedMedia or VoxpopError with a message for the delegate.
    """
    client_id = parse_client_id(sub.client_id)
    existing = existing_reflection(db, client_id, kiosk.id)
    if existing:
        return existing, False
    values = validate_submission(db, event, sub, kiosk, bytes_per_second=bytes_per_second)
    given_for: models.Event = values["event"]

    original = None
    if sub.media is not None:
        container = sniff_container(sub.media.head)
        assert container is not None  # validate_submission refused anything else
        original = store.commit_original(sub.media, EXTENSIONS[container])

    lang = sub.lang if sub.lang in given_for.languages else given_for.languages[0]
    consent = set(sub.consent)
    try:
        with transaction(db):
            code = claim_code(db, kiosk.id, sub.receipt_code)
            now = utcnow()
            cursor = db.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                " original_path, original_sha256, original_bytes, original_container,"
                " client_duration_ms, status, receipt_code, client_id, kiosk_id, lang,"
                " display_name, created_at, capture)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?)",
                (
                    given_for.id,
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
                    kiosk.id,
                    lang,
                    values["display_name"],
                    now,
                    json.dumps(sub.capture, sort_keys=True) if sub.capture else None,
                ),
            )
            db.execute(
                "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                " reel, room, online, show_name, given_at, method, interviewer)"
                " VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cursor.lastrowid,
                    values["consent_text"].id,
                    values["consent_text"].sha256,
                    int("reel" in consent),
                    int("room" in consent),
                    int("online" in consent),
                    int("name" in consent),
                    now,
                    "verbal" if values["interviewer"] else "kiosk",
                    values["interviewer"],
                ),
            )
    except sqlite3.IntegrityError:
        # Two copies of one retry raced; the first one won. Keep its answer, not a duplicate.
        winner = existing_reflection(db, client_id, kiosk.id)
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
) -> list[tuple[models.Perspective, list[sqlite3.Row], bool]]:
    """Return the event's reflections grouped by perspective, in the event's order, each group
    with whether its perspective is retired.

    A retired perspective is listed when it has reflections (it keeps them: one may even
    arrive after it was retired, from a delegate who chose it before). A withdrawn reflection
    is left out (as on the dashboard, the review pages and the record of the day): its words
    and files are gone, and it no longer counts as received.
    """
    rows = db.execute(
        # Named columns, not r.*: the receipt code is the delegate's and never reaches a page.
        "SELECT r.id, r.kind, r.status, r.failure_reason, r.perspective_id, r.text_body,"
        " r.lang, r.display_name, r.duration_seconds, r.created_at,"
        " c.reel, c.room, c.online, c.show_name, ct.version AS consent_version,"
        " (SELECT progress FROM job WHERE job.target_id = r.id"
        "  AND job.kind = 'process_reflection' ORDER BY job.id DESC LIMIT 1) AS progress,"
        " (SELECT COUNT(*) FROM asset WHERE asset.reflection_id = r.id AND asset.kind = 'mp4')"
        "  AS has_mp4"
        " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
        " JOIN consent_text ct ON ct.id = c.consent_text_id"
        " WHERE r.event_id = ? AND r.status != 'withdrawn' AND c.withdrawn_at IS NULL"
        " ORDER BY r.created_at DESC, r.id DESC",
        (event.id,),
    ).fetchall()
    current = {perspective.id for perspective in models.perspectives(db, event.id)}
    groups = []
    for perspective in models.perspectives(db, event.id, retired=True):
        mine = [row for row in rows if row["perspective_id"] == perspective.id]
        retired = perspective.id not in current
        if mine or not retired:
            groups.append((perspective, mine, retired))
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
            "reason": reasons.render(row["failure_reason"], _),
            "retry": processing.retry_can_help(row["failure_reason"]),
        }
        for row in rows
    }
