"""The copies voxpop makes outside its live database and media store, so a withdrawal reaches them.

Two kinds (issue 13: "erased" means erased):

- **Backups before a schema upgrade** (``voxpop.sqlite3.before-vN``, made by ``open_database``).
  One is kept only until the upgrade is confirmed: the first voxpop start after the one that
  upgraded (any command, or the server) finds the database already at the current version and
  deletes it. While one is kept, a withdrawal scrubs it like the live database
  (``scrub_backups``); a backup that cannot be opened or scrubbed is deleted instead.
- **Export folders** written by ``voxpop.export.export_site`` (``voxpop export``): each one is
  recorded in ``instance/export-folders.json`` when it is written, and a withdrawal brings every
  recorded folder of that event that still exists up to date (``refresh_export_folders``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from voxpop.db import database_path, utcnow
from voxpop.storage import MediaStore

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
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA journal_mode=DELETE")  # folds any WAL in; the journal goes at commit
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


def scrub_export_folder(folder: Path, reflection_id: int) -> None:
    """Remove one reflection from an export folder without rebuilding it: its files, its entry
    in ``manifest.json``, and every page that shows it (the site then lacks those pages; the
    next export makes them again). For when the folder cannot be brought up to date."""
    from voxpop.export import MANIFEST  # export imports this module

    media = folder / "media" / "reflections" / str(reflection_id)
    if media.exists():
        shutil.rmtree(media)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if isinstance(manifest, dict) and isinstance(manifest.get("reflections"), list):
        manifest["reflections"] = [
            record for record in manifest["reflections"]
            if not (isinstance(record, dict) and record.get("id") == reflection_id)
        ]  # fmt: skip
        text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
        partial = manifest_path.with_name(f".partial-{MANIFEST}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, manifest_path)
    marker = f"media/reflections/{reflection_id}/".encode()
    shows_it = re.compile(rb'data-reflection="%d"' % reflection_id)
    for page in folder.rglob("*.html"):
        data = page.read_bytes()
        if marker in data or shows_it.search(data):
            page.unlink()


def refresh_export_folders(
    db: sqlite3.Connection, store: MediaStore, instance: str | Path, event_id: int,
    reflection_id: int,
) -> list[Path]:  # fmt: skip
    """After a withdrawal: bring every recorded export folder of the event that still exists
    up to date with the archive as it stands (the withdrawn reflection's files, manifest entry
    and pages go). A folder that cannot be rebuilt is scrubbed of that reflection instead; a
    folder that is no longer a voxpop export is forgotten, untouched. Returns the folders
    cleaned. A folder not there now (a USB stick unplugged) stays recorded.
    """
    from voxpop.errors import VoxpopError
    from voxpop.export import GENERATOR, MANIFEST, export_site

    cleaned = []
    for folder in export_folders(instance, event_id):
        if not folder.is_dir():
            continue
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or manifest.get("generator") != GENERATOR:
            forget_export_folder(instance, folder)
            continue
        try:
            export_site(db, store, folder, event_id)
        except (VoxpopError, OSError):
            log.warning("Could not bring the export in %s up to date; removing reflection %s"
                        " from it", folder, reflection_id, exc_info=True)  # fmt: skip
            scrub_export_folder(folder, reflection_id)
        cleaned.append(folder)
    return cleaned
