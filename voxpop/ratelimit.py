"""Rate-limit counters that survive a restart: a ``limits`` storage on a small SQLite file.

Flask-Limiter keeps its counters in a ``limits`` storage chosen by a URI. The library offers
memory (lost on restart), Redis, Memcached and MongoDB, none of which a laptop at a venue has,
so this module adds ``sqlite:///absolute/path.sqlite3``: fixed-window counters in one table,
shared by every thread and process on the machine. Several servers on several machines use
``RATELIMIT_STORAGE_URI = "redis://…"`` instead; nothing else changes.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from pathlib import Path
from urllib.parse import unquote, urlsplit

from limits.storage import Storage

from voxpop.db import now_utc

SCHEME = "sqlite"
_PRUNE_EVERY = 500  # writes between sweeps of expired counters


def now() -> float:
    """The clock the counters use (tests move it on to let a window pass)."""
    return now_utc().timestamp()


def storage_uri_for(instance: str | Path) -> str:
    """The default storage: ``ratelimits.sqlite3`` in the instance folder."""
    return f"{SCHEME}://{(Path(instance).resolve() / 'ratelimits.sqlite3').as_posix()}"


class SQLiteStorage(Storage):
    """Fixed-window counters in SQLite (``sqlite:///path``), for the fixed-window strategy."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = unquote(urlsplit(uri).path)
        if not path or path == "/":
            raise ValueError(f"A sqlite rate-limit storage needs a file path: {uri!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writes = 0
        self._conn = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        # Closed when the storage goes (a test suite builds hundreds of apps), not left to the
        # garbage collector, which warns of an unclosed database.
        weakref.finalize(self, self._conn.close)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY,"
            " value INTEGER NOT NULL, expires_at REAL NOT NULL)"
        )

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the key's counter, starting a new window if the old one ended."""
        moment = now()
        with self._lock:
            row = self._conn.execute(
                "INSERT INTO counter (key, value, expires_at) VALUES (:key, :amount, :expires)"
                " ON CONFLICT (key) DO UPDATE SET"
                " value = CASE WHEN expires_at <= :now THEN :amount ELSE value + :amount END,"
                " expires_at = CASE WHEN expires_at <= :now THEN :expires ELSE expires_at END"
                " RETURNING value",
                {"key": key, "amount": amount, "expires": moment + expiry, "now": moment},
            ).fetchone()
            self._writes += 1
            if self._writes % _PRUNE_EVERY == 0:
                self._conn.execute("DELETE FROM counter WHERE expires_at <= ?", (moment,))
        return int(row[0])

    def get(self, key: str) -> int:
        """The key's count in its current window (0 when none is open)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM counter WHERE key = ? AND expires_at > ?", (key, now())
            ).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (now, when none is open)."""
        moment = now()
        with self._lock:
            row = self._conn.execute(
                "SELECT expires_at FROM counter WHERE key = ? AND expires_at > ?", (key, moment)
            ).fetchone()
        return float(row[0]) if row else moment

    def check(self) -> bool:
        """True when the file can be read."""
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter; returns how many there were."""
        with self._lock:
            return self._conn.execute("DELETE FROM counter").rowcount

    def clear(self, key: str) -> None:
        """Forget one key's counter."""
        with self._lock:
            self._conn.execute("DELETE FROM counter WHERE key = ?", (key,))
