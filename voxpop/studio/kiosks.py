"""Kiosk devices from the studio: create (with a pairing token), rename, revoke, resend."""

from __future__ import annotations

import sqlite3

from flask_babel import gettext as _

from voxpop import audit, models
from voxpop.db import transaction, utcnow
from voxpop.studio.validation import (
    SettingNotFound,
    SettingsError,
    clean_text,
)

KIOSK_NAME_MAX = 60


def _kiosk(db: sqlite3.Connection, kiosk_id: int) -> sqlite3.Row:
    row = db.execute("SELECT * FROM kiosk WHERE id = ?", (kiosk_id,)).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such kiosk."))
    return row


def create_kiosk(
    db: sqlite3.Connection, name: str, mode: str = "kiosk", *, actor: audit.Actor | None
) -> models.NewKiosk:
    """Create a kiosk and its one-time pairing token (shown once, stored only as a hash)."""
    name = clean_text(name, field="name", maximum=KIOSK_NAME_MAX) or models.next_kiosk_name(db)
    with transaction(db):  # models.create_kiosk's transaction nests: kiosk and audit together
        new = models.create_kiosk(db, name, mode=mode)
        audit.record(
            db,
            "kiosk.create",
            "kiosk",
            new.kiosk.id,
            None,
            {"name": name, "mode": mode},
            actor=actor,
        )
    return new


def rename_kiosk(
    db: sqlite3.Connection, kiosk_id: int, name: str, *, actor: audit.Actor | None
) -> None:
    """Give a kiosk a new name."""
    name = clean_text(
        name, field="name", maximum=KIOSK_NAME_MAX, required=_("Give the kiosk a name.")
    )
    with transaction(db):
        row = _kiosk(db, kiosk_id)
        db.execute("UPDATE kiosk SET name = ? WHERE id = ?", (name, kiosk_id))
        audit.record(
            db,
            "kiosk.rename",
            "kiosk",
            kiosk_id,
            {"name": row["name"]},
            {"name": name},
            actor=actor,
        )


def revoke_kiosk(db: sqlite3.Connection, kiosk_id: int, *, actor: audit.Actor | None) -> None:
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
            db,
            "kiosk.revoke",
            "kiosk",
            kiosk_id,
            {"revoked_at": None},
            {"revoked_at": now},
            actor=actor,
        )


def resend_refused(db: sqlite3.Connection, kiosk_id: int, *, actor: audit.Actor | None) -> None:
    """Ask a kiosk to send the reflections the laptop refused once more (the cause is fixed).

    The kiosk learns of it on its next session call (within a minute) and puts them back in its
    queue; any the laptop still refuses stay on the kiosk as before, with their new reason.
    """
    with transaction(db):
        row = _kiosk(db, kiosk_id)
        if row["revoked_at"]:
            raise SettingsError(
                _("This kiosk was revoked, so it cannot send anything. Pair it again first.")
            )
        asked = models.request_resend(db, kiosk_id)
        audit.record(
            db,
            "kiosk.resend",
            "kiosk",
            kiosk_id,
            {"resend_requested_at": row["resend_requested_at"]},
            {"resend_requested_at": asked},
            actor=actor,
        )


def holding_unsent(db: sqlite3.Connection) -> list[models.Kiosk]:
    """The live kiosks whose last heartbeat said they hold reflections the laptop has not
    stored (waiting to send, or kept after a refusal), oldest first."""
    return [
        kiosk
        for kiosk in reversed(models.kiosks(db))
        if not kiosk.revoked_at and ((kiosk.outbox_count or 0) + (kiosk.refused_count or 0))
    ]


def late_arrivals(db: sqlite3.Connection, current: models.Event) -> list[tuple[models.Event, int]]:
    """Reflections given at an earlier event that arrived after ``current`` started (a kiosk
    sent them late): ``(that event, how many)``, oldest event first.

    They are kept under the event they were given for, which the studio's pages do not show
    once a new event has started; this is where an organiser learns they came. Withdrawn ones
    are left out. Times are to the second, so one stored in the very second the new event was
    made counts too: better told once too often than hidden.
    """
    rows = db.execute(
        "SELECT e.id, COUNT(*) AS how_many FROM reflection r JOIN event e ON e.id = r.event_id"
        " WHERE r.event_id < ? AND r.status != 'withdrawn'"
        " AND r.created_at >= (SELECT created_at FROM event WHERE id = ?)"
        " GROUP BY e.id ORDER BY e.id",
        (current.id, current.id),
    ).fetchall()
    return [(models.get_event(db, row["id"]), row["how_many"]) for row in rows]
