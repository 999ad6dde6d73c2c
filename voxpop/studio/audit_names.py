"""What the studio's audit log filter needs: the kinds of thing it has entries about (the
sentences themselves are in ``voxpop.studio.audit_log``)."""

from __future__ import annotations

import sqlite3


def audit_target_kinds(db: sqlite3.Connection) -> list[str]:
    """The kinds of thing the audit log has entries about (for the filter)."""
    rows = db.execute("SELECT DISTINCT target_kind FROM audit_log ORDER BY target_kind")
    return [row["target_kind"] for row in rows]
