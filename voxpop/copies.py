"""The copies voxpop makes outside its live database and media store, so a withdrawal reaches them.

Two kinds (issue 13: "erased" means erased):

- **Backups before a schema upgrade** (``voxpop.sqlite3.before-vN``, made by ``open_database``).
  One is kept only until the upgrade is confirmed: the first voxpop start after the one that
  upgraded (any command, or the server) finds the database already at the current version and
  deletes it. While one is kept, a withdrawal scrubs it like the live database
  (``scrub_backups``); a backup that cannot be opened or scrubbed is deleted instead.
- **Export folders** written by ``publishing.export.export_site`` (``voxpop export``): each one is
  recorded in ``instance/export-folders.json`` when it is written, and a withdrawal brings every
  recorded folder of that event that still exists up to date
  (``voxpop.publishing.export.refresh_export_folders``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from voxpop.db import database_path, utcnow

log = logging.getLogger(__name__)

EXPORT_REGISTER = "export-folders.json"
_BACKUP = re.compile(r"^voxpop\.sqlite3\.before-v\d+$")
_SIDE_FILES = ("-wal", "-shm", "-journal")


# -- backups made before a schema upgrade --------------------------------------------------------


def upgrade_backups(instance: str | Path) -> list[Path]:
    """The database backups made before schema upgrades that are still kept, oldest first."""
    folder = database_path(instance).parent
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _BACKUP.match(path.name) and path.is_file()]
    return sorted(found, key=lambda path: int(path.name.rsplit("-v", 1)[1]))


def _delete_database_file(path: Path) -> None:
    for suffix in ("", *_SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def remove_upgrade_backups(instance: str | Path) -> list[Path]:
    """Delete the backups: the upgrade is confirmed. Returns what was deleted."""
    removed = upgrade_backups(instance)
    for path in removed:
        _delete_database_file(path)
        log.info("The upgrade is confirmed: deleted the backup %s", path.name)
    return removed


def _open_backup(path: Path) -> sqlite3.Connection:
    """A backup opened for scrubbing: deleted content zeroed, no write-ahead log left behind."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA journal_mode=DELETE")  # folds any WAL in; the journal goes at commit
    except BaseException:
        conn.close()  # not a database (or unreadable): closed here, the caller deletes it
        raise
    return conn


def scrub_backups(instance: str | Path, scrub: Callable[[sqlite3.Connection], None]) -> list[Path]:
    """Apply ``scrub`` (in one transaction) to every kept backup. A backup that cannot be
    opened or scrubbed is deleted rather than left holding what was withdrawn.

    Returns the backups deleted instead of scrubbed.
    """
    deleted = []
    for path in upgrade_backups(instance):
        try:
            conn = _open_backup(path)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    scrub(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error:
            log.warning("Could not scrub the backup %s: deleting it instead", path.name,
                        exc_info=True)  # fmt: skip
            _delete_database_file(path)
            deleted.append(path)
    return deleted


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The columns of ``table`` (empty when an older schema has no such table)."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


# -- export folders ----------------------------------------------------------------------------


def _instance_of(db: sqlite3.Connection) -> Path | None:
    """The instance folder of a connection to an instance's database (None: in memory)."""
    for row in db.execute("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return Path(row[2]).parent
    return None


@contextlib.contextmanager
def _register(instance: Path) -> Iterator[list[dict[str, object]]]:
    """The recorded export folders, locked for a read-modify-write; written back atomically."""
    path = instance / EXPORT_REGISTER
    with open(instance / f".{EXPORT_REGISTER}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))["folders"]
        except (OSError, ValueError, KeyError, TypeError):
            entries = []
        before = json.dumps(entries)
        yield entries
        if json.dumps(entries) != before:
            partial = path.with_name(f".{path.name}.partial")
            partial.write_text(json.dumps({"folders": entries}, indent=2) + "\n", encoding="utf-8")
            os.replace(partial, path)


def record_export_folder(db: sqlite3.Connection, folder: Path, event_id: int) -> None:
    """Remember an export folder voxpop writes, so a later withdrawal can clean it.

    Folders inside the instance (the publish's staged copy) are looked after by the
    withdrawal job already.
    """
    instance = _instance_of(db)
    folder = Path(folder).resolve()
    if instance is None or folder.is_relative_to(instance.resolve()):
        return
    with _register(instance) as entries:
        entries[:] = [entry for entry in entries if entry.get("path") != str(folder)]
        entries.append({"path": str(folder), "event_id": event_id, "written_at": utcnow()})


def export_folders(instance: str | Path, event_id: int | None = None) -> list[Path]:
    """The recorded export folders (of one event, when given)."""
    path = Path(instance) / EXPORT_REGISTER
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["folders"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [Path(str(entry["path"])) for entry in entries
            if event_id is None or entry.get("event_id") == event_id]  # fmt: skip


def forget_export_folder(instance: str | Path, folder: Path) -> None:
    """Stop following a folder (it is no longer a voxpop export: someone reused it)."""
    with _register(Path(instance)) as entries:
        entries[:] = [entry for entry in entries if entry.get("path") != str(folder)]
