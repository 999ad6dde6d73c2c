"""The SQLite file: pragmas, migrations, upgrades that keep data."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import voxpop
from voxpop import db as database
from voxpop import models, open_database

pytestmark = pytest.mark.python_only


@pytest.fixture(autouse=True)
def _connections_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every connection a test here opens (directly or through ``open_database``) is closed
    when the test ends, however it ends, not left to the garbage collector."""
    opened: list[sqlite3.Connection] = []
    real = database.connect

    def connect(path: str | Path) -> sqlite3.Connection:
        opened.append(real(path))
        return opened[-1]

    monkeypatch.setattr(database, "connect", connect)
    monkeypatch.setattr(voxpop, "connect", connect)  # open_database's own name for it
    yield
    for conn in opened:
        conn.close()


def test_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    conn = open_database(tmp_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_new_database_is_at_the_latest_version(tmp_path: Path) -> None:
    conn = open_database(tmp_path)
    assert database.schema_version(conn) == len(database.migrations())
    assert database.migrate(conn) == []  # nothing left to do


def test_upgrade_keeps_data_and_backs_up_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = open_database(tmp_path)
    event = models.create_event(conn, "Before the upgrade")
    conn.close()
    shipped = database.migrations()
    future = (len(shipped) + 1, "9999_test.sql", "ALTER TABLE event ADD COLUMN motto TEXT;")
    monkeypatch.setattr(database, "migrations", lambda: [*shipped, future])
    upgraded = open_database(tmp_path)
    assert database.schema_version(upgraded) == len(shipped) + 1
    row = upgraded.execute("SELECT name, motto FROM event WHERE id = ?", (event.id,)).fetchone()
    assert tuple(row) == ("Before the upgrade", None)
    backup = database.connect(tmp_path / f"voxpop.sqlite3.before-v{len(shipped) + 1}")
    assert database.schema_version(backup) == len(shipped)
    assert backup.execute("SELECT name FROM event").fetchone()[0] == "Before the upgrade"
    backup.close()


def test_the_backup_is_kept_only_until_the_upgrade_is_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It holds what a withdrawal erases later: the next start, finding the database upgraded,
    deletes it (until then withdrawals scrub it: tests/test_withdrawal.py)."""
    open_database(tmp_path).close()
    shipped = database.migrations()
    future = (len(shipped) + 1, "9999_test.sql", "ALTER TABLE event ADD COLUMN motto TEXT;")
    monkeypatch.setattr(database, "migrations", lambda: [*shipped, future])
    backup = tmp_path / f"voxpop.sqlite3.before-v{len(shipped) + 1}"
    upgraded = open_database(tmp_path)  # the start that upgrades keeps it for its lifetime
    assert backup.is_file()
    second = open_database(tmp_path)  # the next start confirms the upgrade
    assert not backup.exists()
    assert not any(path.name.startswith(backup.name) for path in tmp_path.iterdir())
    assert database.schema_version(second) == len(shipped) + 1
    upgraded.close()
    second.close()


def test_an_upgrade_that_stopped_half_way_keeps_the_oldest_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = open_database(tmp_path)
    models.create_event(conn, "Before any upgrade")
    conn.close()
    shipped = database.migrations()
    good = (len(shipped) + 1, "9998_good.sql", "ALTER TABLE event ADD COLUMN motto TEXT;")
    broken = (len(shipped) + 2, "9999_broken.sql", "THIS IS NOT SQL;")
    monkeypatch.setattr(database, "migrations", lambda: [*shipped, good, broken])
    for _attempt in range(2):
        with pytest.raises(Exception, match="syntax error"):
            open_database(tmp_path)
    backup = database.connect(tmp_path / f"voxpop.sqlite3.before-v{len(shipped) + 2}")
    assert database.schema_version(backup) == len(shipped)  # not the half-upgraded one
    backup.close()


def test_failed_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = open_database(tmp_path)
    conn.close()
    shipped = database.migrations()
    broken = (
        len(shipped) + 1,
        "9999_broken.sql",
        "ALTER TABLE event ADD COLUMN motto TEXT;\nTHIS IS NOT SQL;",
    )
    monkeypatch.setattr(database, "migrations", lambda: [*shipped, broken])
    with pytest.raises(Exception, match="syntax error"):
        open_database(tmp_path)
    conn = database.connect(tmp_path / "voxpop.sqlite3")
    assert database.schema_version(conn) == len(shipped)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(event)")]
    assert "motto" not in columns


def test_an_events_longest_clip_ever_survives_the_upgrade_and_only_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = database.migrations()
    (version,) = [v for v, name, _sql in shipped if name.endswith("_longest_clip_ever.sql")]
    monkeypatch.setattr(database, "migrations", lambda: shipped[: version - 1])
    old = open_database(tmp_path)
    with database.transaction(old):
        for name, seconds in (("Lowered before the upgrade", 30), ("Never changed", 45)):
            old.execute(
                "INSERT INTO event (name, max_clip_seconds, created_at) VALUES (?, ?, 'then')",
                (name, seconds),
            )
        # The settings page recorded the lowering of the first event from 120 s.
        old.execute(
            "INSERT INTO audit_log (at, user_name, action, target_kind, target_id, before, after)"
            " VALUES ('then', 'organiser', 'event.update', 'event', 1,"
            " '{\"max_clip_seconds\": 120}', '{\"max_clip_seconds\": 30}')"
        )
    old.close()
    monkeypatch.setattr(database, "migrations", lambda: shipped)

    conn = open_database(tmp_path)

    events = [models.Event.from_row(row) for row in conn.execute("SELECT * FROM event")]
    assert [(e.max_clip_seconds, e.longest_clip_allowed) for e in events] == [(30, 120), (45, 45)]
    models.update_event_settings(conn, 2, max_clip_seconds=200)
    models.update_event_settings(conn, 2, max_clip_seconds=10)
    assert models.get_event(conn, 2).longest_clip_allowed == 200
    assert models.create_event(conn, "Made after", max_clip_seconds=60).longest_clip_allowed == 60


def test_database_from_a_newer_voxpop_is_refused(tmp_path: Path) -> None:
    conn = open_database(tmp_path)
    conn.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer"):
        database.migrate(conn)


def test_consent_rows_cannot_lack_archive_consent(tmp_path: Path) -> None:
    conn = open_database(tmp_path)
    with pytest.raises(Exception, match="CHECK"):
        conn.execute(
            "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive, reel,"
            " online, show_name, given_at) VALUES (1, 1, 'x', 0, 0, 0, 0, 'now')"
        )


def test_transactions_nest_as_savepoints(tmp_path: Path) -> None:
    conn = database.connect(tmp_path / "nest.sqlite3")
    conn.execute("CREATE TABLE t (n INTEGER)")
    with database.transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError), database.transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ValueError("the inner block fails")
        with database.transaction(conn):
            conn.execute("INSERT INTO t VALUES (3)")
    assert [row[0] for row in conn.execute("SELECT n FROM t ORDER BY n")] == [1, 3]
    assert not conn.in_transaction


def test_an_outer_failure_undoes_a_finished_inner_block(tmp_path: Path) -> None:
    conn = database.connect(tmp_path / "nest.sqlite3")
    conn.execute("CREATE TABLE t (n INTEGER)")
    with pytest.raises(RuntimeError), database.transaction(conn):
        with database.transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("the outer block fails after")
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_a_snapshot_reads_one_state_while_another_connection_writes(tmp_path: Path) -> None:
    reader = database.connect(tmp_path / "snap.sqlite3")
    writer = database.connect(tmp_path / "snap.sqlite3")
    reader.execute("CREATE TABLE t (n INTEGER)")
    count = "SELECT COUNT(*) FROM t"
    with database.snapshot(reader):
        assert reader.execute(count).fetchone()[0] == 0
        writer.execute("INSERT INTO t VALUES (1)")  # committed meanwhile, not locked out
        assert reader.execute(count).fetchone()[0] == 0
        with database.snapshot(reader):  # nested: the same snapshot
            assert reader.execute(count).fetchone()[0] == 0
    assert not reader.in_transaction
    assert reader.execute(count).fetchone()[0] == 1


def test_rows_in_asks_for_long_id_lists_in_chunks(tmp_path: Path) -> None:
    conn = database.connect(tmp_path / "in.sqlite3")
    conn.execute("CREATE TABLE t (id INTEGER, owner TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(n, "a" if n % 2 else "b") for n in range(20)])
    asked: list[str] = []
    conn.set_trace_callback(asked.append)
    rows = database.rows_in(
        conn, "SELECT id FROM t WHERE owner = ? AND id", [9, 1, 3, 2, 5, 7, 11, 3, 13],
        params=["a"], after=" ORDER BY id DESC", chunk=3,
    )  # fmt: skip
    # 8 different ids (3 is asked for once), 3 at a time; each chunk ordered by ``after``.
    assert [row["id"] for row in rows] == [9, 3, 1, 7, 5, 13, 11]
    assert len(asked) == 3
    assert asked[0] == "SELECT id FROM t WHERE owner = 'a' AND id IN (9,1,3) ORDER BY id DESC"
    asked.clear()
    assert database.rows_in(conn, "SELECT id FROM t WHERE id", []) == []
    assert asked == []  # no ids, no query
