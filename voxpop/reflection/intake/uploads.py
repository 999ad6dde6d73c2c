"""Resumable uploads (tus 1.0): the record behind each one, and what a finished one becomes.

An upload is created with the reflection's form fields (checked at once, so a bad field is
refused before a byte is sent), receives its bytes in any number of PATCHes into the staging
folder, and on its last byte becomes exactly one reflection through the same door as the
multipart POST (``receive_reflection``). ``client_id`` stays the idempotency key: a finished
recording sent again answers the reflection already stored.

Unfinished uploads expire (default 48 h after their last byte) and a job sweeps them; a
finished upload's row is kept as long, so a kiosk whose answer was lost can still ask for it.
A partial upload is never a reflection: nothing in the studio or any output can see it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from voxpop import jobs, models
from voxpop.db import iso_seconds, now_utc, transaction, utc_in, utcnow
from voxpop.errors import InsufficientStorage, InvalidSubmission, VoxpopError, disk_full_message
from voxpop.reflection.intake.staging import DiskFull, StagingArea, ensure_room
from voxpop.reflection.records import (
    Submission,
    existing_reflection,
    parse_client_id,
    receive_reflection,
    recording_limit_bytes,
    refuse_if_too_large,
    validate_submission,
)
from voxpop.storage import MediaStore

log = logging.getLogger(__name__)

SWEEP_UPLOADS = "sweep_uploads"
SWEEP_INTERVAL_SECONDS = 3600
# How long finishing waits for a request still holding the staged file (it is about to let go).
FINISH_WAIT_SECONDS = 10.0
# The reflection's form fields, as Upload-Metadata keys; any other key is ignored.
METADATA_FIELDS = (
    "perspective",
    "prompt",
    "kind",
    "consent",
    "consent_version",
    "first_name",
    "lang",
    "duration_ms",
    "client_id",
    "receipt_code",
    "recorder_mime",
    "recorder_fallback",
    "recovered",
    "interviewer",
    "filename",
    "filetype",
)
METADATA_MAX_BYTES = 8192


@dataclass(frozen=True)
class Upload:
    """One resumable upload as recorded in the ``upload`` table."""

    id: str
    kiosk_id: int
    client_id: str
    length: int
    metadata: dict[str, str]
    metadata_header: str
    created_at: str
    expires_at: str
    finished_at: str | None
    reflection_id: int | None
    refused_reason: str | None

    @property
    def finished(self) -> bool:
        """The last byte arrived (and became a reflection, or was refused)."""
        return self.finished_at is not None

    def expired(self, now: datetime | None = None) -> bool:
        """Past its expiry time without being finished."""
        moment = now or now_utc()
        return not self.finished and datetime.fromisoformat(self.expires_at) < moment


def _from_row(row: sqlite3.Row) -> Upload:
    return Upload(
        id=row["id"],
        kiosk_id=row["kiosk_id"],
        client_id=row["client_id"],
        length=row["length"],
        metadata=json.loads(row["metadata"]),
        metadata_header=row["metadata_header"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        finished_at=row["finished_at"],
        reflection_id=row["reflection_id"],
        refused_reason=row["refused_reason"],
    )


def parse_metadata(header: str) -> dict[str, str]:
    """Parse a tus ``Upload-Metadata`` header (``key base64,key base64``) into strings."""
    if len(header) > METADATA_MAX_BYTES:
        raise InvalidSubmission(_("The recording's details are too long."), field="metadata")
    values: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in header.split(","))):
        key, _sep, encoded = pair.partition(" ")
        if not key.isascii() or not key or " " in key or key in values:
            raise InvalidSubmission(
                _("The recording's details could not be read."), field="metadata"
            )
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidSubmission(
                _("The recording's details could not be read."), field="metadata"
            ) from None
    return {key: value for key, value in values.items() if key in METADATA_FIELDS}


def recorder_fallback(value: str | None) -> int:
    """The kiosk's fallback step (0: its first choice of recorder type), kept if sensible."""
    try:
        step = int(value or 0)
    except ValueError:
        return 0
    return step if 0 < step < 100 else 0


def submission_from_metadata(metadata: dict[str, str], media: Any = None) -> Submission:
    """The reflection a resumable upload carries, in the multipart POST's terms."""
    capture: dict[str, Any] = {"via": "tus"}
    if metadata.get("recorder_mime"):
        capture["recorder_mime"] = metadata["recorder_mime"][:120]
    fallback = recorder_fallback(metadata.get("recorder_fallback"))
    if fallback:
        capture["recorder_fallback"] = fallback
    if metadata.get("recovered") in ("1", "true"):
        capture["recovered"] = True
    return Submission(
        perspective=metadata.get("perspective", ""),
        prompt=metadata.get("prompt", ""),
        kind=metadata.get("kind", ""),
        client_id=metadata.get("client_id", ""),
        consent=[item.strip() for item in metadata.get("consent", "").split(",") if item.strip()],
        consent_version=metadata.get("consent_version", ""),
        first_name=metadata.get("first_name", ""),
        media=media,
        duration_ms=metadata.get("duration_ms", ""),
        lang=metadata.get("lang", ""),
        receipt_code=metadata.get("receipt_code", ""),
        capture=capture,
        interviewer=metadata.get("interviewer", ""),
    )


def _expiry(seconds: int) -> str:
    return utc_in(seconds)


def get_upload(db: sqlite3.Connection, upload_id: str, kiosk: models.Kiosk) -> Upload:
    """This kiosk's upload ``upload_id``; 404 for anyone else's or none (no difference shown)."""
    row = db.execute(
        "SELECT * FROM upload WHERE id = ? AND kiosk_id = ?", (upload_id, kiosk.id)
    ).fetchone()
    if row is None:
        raise VoxpopError(
            _("This upload does not exist (it may have expired). Send the recording again."),
            status=404,
        )
    return _from_row(row)


def create_upload(
    db: sqlite3.Connection,
    store: MediaStore,
    event: models.Event,
    kiosk: models.Kiosk,
    length: int,
    metadata_header: str,
    *,
    bytes_per_second: int,
    expiry_seconds: int,
    disk_floor_bytes: int,
) -> tuple[Upload, dict[str, Any] | None]:
    """Start an upload of ``length`` bytes; return it and, for a finished resend, its answer.

    ``event`` is the current event. Every form field is checked here, before any byte is
    stored, against the event the reflection was given for; so is ``length``, against the size
    limit for it (``records.recording_limit_bytes`` at ``bytes_per_second``), and the free disk
    space. A second creation for a ``client_id`` this kiosk is still sending answers the same
    upload (the client resumes it); one for a reflection already stored answers that reflection.
    """
    metadata = parse_metadata(metadata_header)
    client_id = parse_client_id(metadata.get("client_id", ""))
    answer = existing_reflection(db, client_id, kiosk.id)
    if answer is not None:
        return _finished_record(db, kiosk, client_id, length, answer), answer
    if length <= 0:
        raise InvalidSubmission(_("The recording is empty. Please record again."), field="media")
    submission = submission_from_metadata(metadata)
    if submission.kind not in ("video", "audio"):
        raise InvalidSubmission(
            _("Only video and audio recordings are sent this way."), field="kind"
        )
    values = validate_submission(db, event, submission, kiosk, check_media=False)
    refuse_if_too_large(length, recording_limit_bytes(values["event"], event, bytes_per_second))

    open_row = db.execute(
        "SELECT * FROM upload WHERE kiosk_id = ? AND client_id = ? AND finished_at IS NULL"
        " ORDER BY created_at DESC LIMIT 1",
        (kiosk.id, client_id),
    ).fetchone()
    staging = StagingArea(store.staging)
    if open_row is not None:
        existing = _from_row(open_row)
        if not existing.expired() and staging.offset(existing.id) is not None:
            if existing.length != length:
                raise VoxpopError(
                    _("This recording is already being sent with a different size."),
                    field="media",
                    status=409,
                )
            return existing, None
    try:
        ensure_room(store.staging, length, disk_floor_bytes)
    except DiskFull:
        raise InsufficientStorage(disk_full_message()) from None
    upload_id = secrets.token_hex(16)
    # The row first, then the file: the sweep deletes staged files that have no row.
    with transaction(db):
        db.execute(
            "INSERT INTO upload (id, kiosk_id, client_id, length, metadata, metadata_header,"
            " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                upload_id,
                kiosk.id,
                client_id,
                length,
                json.dumps(metadata, sort_keys=True),
                metadata_header,
                utcnow(),
                _expiry(expiry_seconds),
            ),
        )
    try:
        staging.create(upload_id)
    except BaseException:
        db.execute("DELETE FROM upload WHERE id = ?", (upload_id,))
        raise
    return get_upload(db, upload_id, kiosk), None


def _finished_record(
    db: sqlite3.Connection,
    kiosk: models.Kiosk,
    client_id: str,
    length: int,
    answer: dict[str, Any],
) -> Upload:
    """The finished upload behind a stored reflection (made now for a multipart original)."""
    row = db.execute(
        "SELECT * FROM upload WHERE kiosk_id = ? AND reflection_id = ? LIMIT 1",
        (kiosk.id, answer["id"]),
    ).fetchone()
    if row is not None:
        return _from_row(row)
    upload_id = secrets.token_hex(16)
    now = utcnow()
    with transaction(db):
        db.execute(
            "INSERT INTO upload (id, kiosk_id, client_id, length, metadata, metadata_header,"
            " created_at, expires_at, finished_at, reflection_id)"
            " VALUES (?, ?, ?, ?, '{}', '', ?, ?, ?, ?)",
            (upload_id, kiosk.id, client_id, max(length, 1), now, now, now, answer["id"]),
        )
    return get_upload(db, upload_id, kiosk)


def touch(db: sqlite3.Connection, upload: Upload, expiry_seconds: int) -> str:
    """Push an unfinished upload's expiry back after bytes arrived; return the new expiry."""
    expires_at = _expiry(expiry_seconds)
    db.execute("UPDATE upload SET expires_at = ? WHERE id = ?", (expires_at, upload.id))
    return expires_at


def reflection_answer(db: sqlite3.Connection, upload: Upload) -> dict[str, Any] | None:
    """``{id, receipt_code, status}`` of the reflection a finished upload became."""
    if upload.reflection_id is None:
        return None
    row = db.execute(
        "SELECT id, receipt_code, status FROM reflection WHERE id = ?", (upload.reflection_id,)
    ).fetchone()
    return dict(row) if row else None


def finish_upload(
    db: sqlite3.Connection,
    store: MediaStore,
    queue: jobs.JobQueue,
    event: models.Event,
    kiosk: models.Kiosk,
    upload: Upload,
) -> dict[str, Any]:
    """Make a complete upload its reflection, exactly once; return ``{id, receipt_code, status}``.

    The bytes are checked like a multipart upload's; refused bytes are deleted and the upload
    remembers why (InvalidSubmission or UnsupportedMedia is raised for the answer). Two
    requests finishing the same upload at once (the last PATCH, and a HEAD after a crash)
    take turns on the staged file's lock: the second answers what the first stored.
    Raises UploadBusy if a request holds the file for longer than ``FINISH_WAIT_SECONDS``.
    """
    staging = StagingArea(store.staging)
    try:
        with staging.writing(upload.id, wait_seconds=FINISH_WAIT_SECONDS):
            current = get_upload(db, upload.id, kiosk)
            if current.finished:
                return _finished_answer(db, current)
            return _finish_locked(db, store, queue, event, kiosk, current)
    except FileNotFoundError:
        current = get_upload(db, upload.id, kiosk)
        if current.finished:  # another request finished it and moved the file
            return _finished_answer(db, current)
        raise VoxpopError(
            _("This upload's bytes are gone. Send the recording again."), status=410
        ) from None


def _finished_answer(db: sqlite3.Connection, upload: Upload) -> dict[str, Any]:
    answer = reflection_answer(db, upload)
    if answer is None:
        # 422 like the tus view's answer for refused bytes: final, never "send it again".
        raise VoxpopError(upload.refused_reason or _("This recording was refused."), status=422)
    return answer


def _finish_locked(
    db: sqlite3.Connection,
    store: MediaStore,
    queue: jobs.JobQueue,
    event: models.Event,
    kiosk: models.Kiosk,
    upload: Upload,
) -> dict[str, Any]:
    """finish_upload's work, with the staged file's lock held (so it is unlinked directly)."""
    staging = StagingArea(store.staging)
    staged = staging.finished_file(upload.id)
    submission = submission_from_metadata(upload.metadata, media=staged)
    try:
        answer, created = receive_reflection(db, store, event, kiosk, submission)
    except VoxpopError as error:
        staging.path(upload.id).unlink(missing_ok=True)
        with transaction(db):
            db.execute(
                "UPDATE upload SET finished_at = ?, refused_reason = ?, metadata = '{}',"
                " metadata_header = '' WHERE id = ?",
                (utcnow(), error.message, upload.id),
            )
        raise
    if not created:  # a twin upload of the same recording finished first
        staging.path(upload.id).unlink(missing_ok=True)
    with transaction(db):
        # The reflection holds the fields now; the upload keeps only its link to it.
        db.execute(
            "UPDATE upload SET finished_at = ?, reflection_id = ?, metadata = '{}',"
            " metadata_header = '' WHERE id = ?",
            (utcnow(), answer["id"], upload.id),
        )
    if created:
        jobs.enqueue_processing(db, queue, answer["id"])
    return answer


def terminate(db: sqlite3.Connection, store: MediaStore, upload: Upload) -> bool:
    """Delete an unfinished upload and its bytes (tus termination); False if a write holds it."""
    if not StagingArea(store.staging).remove(upload.id):
        return False
    db.execute("DELETE FROM upload WHERE id = ? AND finished_at IS NULL", (upload.id,))
    return True


def sweep_expired(db: sqlite3.Connection, store: MediaStore, now: datetime | None = None) -> int:
    """Delete unfinished uploads past their expiry (and finished rows as old); return how many.

    An upload a live request is writing is skipped: its expiry moves on when the write ends.
    """
    moment = iso_seconds(now or now_utc())
    staging = StagingArea(store.staging)
    removed = 0
    for row in db.execute(
        "SELECT id FROM upload WHERE finished_at IS NULL AND expires_at < ?", (moment,)
    ).fetchall():
        if staging.remove(row["id"]):
            db.execute("DELETE FROM upload WHERE id = ?", (row["id"],))
            removed += 1
    db.execute("DELETE FROM upload WHERE finished_at IS NOT NULL AND expires_at < ?", (moment,))
    # Staged files with no row (a crash between creating the file and the row) go too.
    known = {row["id"] for row in db.execute("SELECT id FROM upload")}
    if store.staging.is_dir():
        for path in store.staging.glob("*.part"):
            if path.stem not in known and staging.remove(path.stem):
                removed += 1
    return removed


def schedule_expiry_sweep(db: sqlite3.Connection, queue: jobs.JobQueue) -> int:
    """Make sure the hourly sweep of expired uploads is queued (``voxpop serve`` calls this)."""
    return jobs.enqueue(db, queue, SWEEP_UPLOADS, 0)


def _sweep_job(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:
    removed = sweep_expired(db, queue.store)
    if removed:
        log.info("Removed %d expired partial upload(s)", removed)
    # One job row that runs again every hour for as long as the server runs.
    return jobs.requeue(db, queue, job, "", SWEEP_INTERVAL_SECONDS)


def register_job_handlers() -> None:
    """Tell the queue which function sweeps abandoned uploads."""
    jobs.register(SWEEP_UPLOADS, _sweep_job)
