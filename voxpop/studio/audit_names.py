"""What the studio's audit log page needs: the kinds of target and the action names."""

from __future__ import annotations

import sqlite3

from flask_babel import gettext as _


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
