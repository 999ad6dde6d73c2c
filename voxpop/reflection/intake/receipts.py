"""Receipt codes a kiosk can show at once, even with the laptop out of reach.

Each kiosk holds a small pool of codes the server has reserved for it (``GET
/kiosk/api/session`` tops it up). A new reflection takes a code from the pool and shows it to
the delegate straight away; when the reflection arrives, the server accepts that code because
it is reserved for this kiosk. A kiosk whose pool ran dry makes up a random code; the server
accepts it if no other reflection or kiosk has it, and otherwise answers another one (the
kiosk then keeps the server's code; the odds are about one in a billion per reflection).
"""

from __future__ import annotations

import secrets
import sqlite3

from voxpop.db import transaction, utcnow

# No 0/O, 1/I/L, so a code read aloud or copied by hand survives.
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
POOL_SIZE = 20


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


def _taken(db: sqlite3.Connection, code: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM reflection WHERE receipt_code = ?"
            " UNION ALL SELECT 1 FROM receipt_reservation WHERE code = ?",
            (code, code),
        ).fetchone()
    )


def unused_code(db: sqlite3.Connection) -> str:
    """A fresh code that no reflection and no reservation has (call inside a transaction)."""
    for _attempt in range(50):
        code = new_receipt_code()
        if not _taken(db, code):
            return code
    raise RuntimeError("Could not find an unused receipt code")  # ~never: 887 million codes


def reserve_codes(db: sqlite3.Connection, kiosk_id: int, pool_size: int = POOL_SIZE) -> list[str]:
    """Top up this kiosk's reserved codes to ``pool_size`` and return them all, oldest first."""
    with transaction(db):
        held = db.execute(
            "SELECT COUNT(*) FROM receipt_reservation WHERE kiosk_id = ?", (kiosk_id,)
        ).fetchone()[0]
        now = utcnow()
        for _missing in range(pool_size - held):
            db.execute(
                "INSERT INTO receipt_reservation (code, kiosk_id, reserved_at) VALUES (?, ?, ?)",
                (unused_code(db), kiosk_id, now),
            )
    return [
        row["code"]
        for row in db.execute(
            "SELECT code FROM receipt_reservation WHERE kiosk_id = ? ORDER BY reserved_at, code",
            (kiosk_id,),
        )
    ]


def claim_code(db: sqlite3.Connection, kiosk_id: int, wanted: str | None) -> str:
    """The code a new reflection from ``kiosk_id`` gets (call inside its transaction).

    ``wanted`` is the code the kiosk already showed: kept when it is reserved for this kiosk,
    or free; otherwise (or when none was sent) a fresh one.
    """
    code = normalise_receipt_code(wanted or "")
    if code is not None:
        reserved = db.execute(
            "SELECT kiosk_id FROM receipt_reservation WHERE code = ?", (code,)
        ).fetchone()
        used = db.execute("SELECT 1 FROM reflection WHERE receipt_code = ?", (code,)).fetchone()
        if not used and (reserved is None or reserved["kiosk_id"] == kiosk_id):
            db.execute("DELETE FROM receipt_reservation WHERE code = ?", (code,))
            return code
    return unused_code(db)
