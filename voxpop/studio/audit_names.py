"""What the studio's audit log filter needs: the kinds of change it has entries of (the
sentences themselves are in ``voxpop.studio.audit_log``)."""

from __future__ import annotations

import sqlite3


def audit_kinds(db: sqlite3.Connection) -> set[str]:
    """The kinds of change the audit log has entries of (for the filter): each action's part
    before the dot, ``publish`` for ``publish.request``."""
    rows = db.execute(
        "SELECT DISTINCT substr(action, 1, instr(action, '.') - 1) AS kind FROM audit_log"
    )
    return {row["kind"] for row in rows}
