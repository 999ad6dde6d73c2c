"""SQLite connections and schema migrations.

One connection per request (on ``g``) or per CLI command. WAL mode lets the kiosk write while
facilitators read; ``synchronous=FULL`` because a reflection acknowledged to a delegate must
survive the laptop's power being pulled. Migrations are numbered SQL files in
``voxpop/migrations/``; ``PRAGMA user_version`` records how far a database has come.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from flask import current_app, g

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database at ``path`` with the pragmas voxpop relies on."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        # Deleted rows are overwritten with zeros, so a withdrawn reflection's words do not
        # linger in free pages of the file.
        conn.execute("PRAGMA secure_delete=ON")
    except BaseException:
        conn.close()  # not a database, or locked past the timeout: nothing left open
        raise
    return conn


def migrations() -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` for every bundled migration, in order."""
    found = []
    for entry in resources.files("voxpop.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"Migrations must be numbered 0001, 0002, … without gaps: {versions}")
    return found


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the schema version recorded in the database (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration newer than the database, each in its own transaction.

    Returns the names of the migrations applied. A database from a newer voxpop is refused
    rather than guessed at.
    """
    current = schema_version(conn)
    available = migrations()
    if current > len(available):
        raise RuntimeError(
            f"This database is at schema version {current}, newer than this voxpop "
            f"understands ({len(available)}). Upgrade voxpop instead."
        )
    applied = []
    for version, name, sql in available[current:]:
        # executescript commits any open transaction first, so the whole migration and its
        # version bump go in one explicit transaction: all or nothing.
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        applied.append(name)
    return applied


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one write transaction: committed on success, rolled back on error.

    Nests: inside a transaction already open on ``conn`` the block becomes a SAVEPOINT, so
    an error undoes only the block's own writes and the outer transaction decides the rest.
    Service functions can therefore call each other and each keep its own ``with``.
    """
    if conn.in_transaction:
        name = f"voxpop_{secrets.token_hex(4)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run several reads against one state of the database (a read transaction), so figures
    read one after another agree even while others write; within a transaction, that one."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")  # deferred: the snapshot is taken at the first read, no lock held
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


# Ids asked for in one ``IN (?, …)``: a long list (every reflection of a big event) goes in
# chunks, well inside SQLite's limit on placeholders in one statement.
IN_CHUNK = 500


def rows_in(
    conn: sqlite3.Connection,
    sql: str,
    ids: Sequence[Any],
    *,
    after: str = "",
    params: Sequence[Any] = (),
    chunk: int = IN_CHUNK,
) -> list[sqlite3.Row]:
    """The rows of ``{sql} IN (?, …){after}`` for ``ids``, asked ``chunk`` ids at a time.

    ``sql`` ends with the column to match (``"SELECT … FROM asset WHERE reflection_id"``);
    ``params`` fill the placeholders in ``sql``, before the ids. No ids, no query. Each id is
    asked for once, even if repeated. An ORDER BY in ``after`` orders each chunk's rows, so
    group them by id rather than count on one order across chunks.
    """
    unique = list(dict.fromkeys(ids))
    found: list[sqlite3.Row] = []
    for start in range(0, len(unique), chunk):
        part = unique[start : start + chunk]
        marks = ",".join("?" * len(part))
        # Only "?" marks join the caller's own SQL text; every value goes as a parameter.
        found += conn.execute(f"{sql} IN ({marks}){after}", [*params, *part])
    return found


def database_path(instance: str | Path) -> Path:
    """Return where an instance keeps its database."""
    return Path(instance) / "voxpop.sqlite3"


def get_db() -> sqlite3.Connection:
    """Return this request's connection, opening it on first use."""
    if "db" not in g:
        g.db = connect(database_path(current_app.config["INSTANCE"]))
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    """Close this request's connection, if one was opened."""
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


# -- the one clock ---------------------------------------------------------------------------
# Every "now" voxpop reads or stores comes from ``now_utc``, which asks ``clock``. A test freezes
# them all with ``monkeypatch.setattr(voxpop.db, "clock", lambda: moment)``.


def system_clock() -> datetime:
    """The computer's time, timezone-aware UTC."""
    return datetime.now(UTC)


clock: Callable[[], datetime] = system_clock


def now_utc() -> datetime:
    """The current time, timezone-aware UTC, from the one clock."""
    return clock()


def iso_seconds(moment: datetime) -> str:
    """A moment as ISO 8601 to the second: what every timestamp column holds."""
    return moment.isoformat(timespec="seconds")


def utcnow() -> str:
    """Return the current UTC time as an ISO 8601 string (what every timestamp column holds)."""
    return iso_seconds(now_utc())


def utc_in(seconds: float) -> str:
    """The UTC time ``seconds`` from now, as ISO 8601 (e.g. a job's ``run_after``)."""
    return iso_seconds(now_utc() + timedelta(seconds=seconds))
