"""The captions gate in the studio (issue 16): how many approved recordings wait for checked
captions before they can go online, and the organiser's choice to relax the gate for an event.

Routes live on the studio blueprint (``voxpop.studio.views.bp``); the rule itself is one SQL
condition in ``voxpop.archive.service`` (``CAPTIONS_READY``) that the archive, the static
export, S3 publishing and the public reels all read through.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _

from voxpop import audit, models
from voxpop.auth import login_required
from voxpop.db import get_db, transaction
from voxpop.studio.forms import ActionForm
from voxpop.studio.settings import with_event
from voxpop.studio.views import bp

# Approved recordings that may go online once their captions are checked: the gate's queue.
_HELD_BACK = (
    "SELECT COUNT(*) FROM reflection r JOIN consent c ON c.reflection_id = r.id"
    " WHERE r.event_id = ? AND r.status = 'ready' AND r.review_state = 'approved'"
    " AND r.kind != 'text' AND c.online = 1 AND c.withdrawn_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM transcript t WHERE t.reflection_id = r.id"
    " AND t.status = 'checked')"
)


@dataclass(frozen=True)
class CaptionsGate:
    """What the export and publish pages say about captions."""

    required: bool
    waiting: int  # approved, online-consented recordings without checked captions

    @property
    def held_back(self) -> int:
        """How many the gate keeps off the public archive right now."""
        return self.waiting if self.required else 0


def captions_gate(db: sqlite3.Connection, event: models.Event) -> CaptionsGate:
    row = db.execute(_HELD_BACK, (event.id,)).fetchone()
    return CaptionsGate(required=event.captions_required, waiting=int(row[0]))


def set_captions_required(
    db: sqlite3.Connection, event_id: int, required: bool, *, actor: audit.Actor | None
) -> bool:
    """Turn the gate on or off for an event (audited). Returns whether it changed."""
    with transaction(db):
        row = db.execute("SELECT captions_required FROM event WHERE id = ?", (event_id,)).fetchone()
        if row is None or bool(row[0]) == required:
            return False
        db.execute("UPDATE event SET captions_required = ? WHERE id = ?", (int(required), event_id))
        before, after = {"captions_required": bool(row[0])}, {"captions_required": required}
        audit.record(db, "event.captions_gate", "event", event_id, before, after, actor=actor)
    return True


@bp.post("/captions-gate")
@login_required("organiser")
@with_event
def captions_gate_setting(event: models.Event) -> Any:
    """Require checked captions before recordings go online, or relax it (with a warning)."""
    form = ActionForm()
    back = request.form.get("back") if request.form.get("back") in ("export", "publish") else ""
    target = url_for("studio.export_page" if back == "export" else "studio.publish_page")
    if not form.validate():
        flash(_("The form has expired: please try again."))
        return redirect(target)
    required = request.form.get("required") == "1"
    if set_captions_required(get_db(), event.id, required, actor=g.user):
        flash(
            _("Recordings now go online only once their captions are checked.")
            if required
            else _(
                "Recordings now go online without checked captions. The archive will not meet "
                "WCAG 2.2 AA (1.2.2 Captions) until every clip has them."
            )
        )
    else:
        flash(_("Nothing was changed."))
    return redirect(target)
