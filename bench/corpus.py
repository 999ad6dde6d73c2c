"""A day of reflections for the benchmarks that need many rows but no ffmpeg (``archive.py``,
``record.py``): an instance with the demo event, reflection and consent rows written straight
into the database, tiny placeholder asset files, and the timing and machine helpers that
report on them."""

from __future__ import annotations

import hashlib
import os
import platform
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from voxpop import create_app, models  # noqa: E402
from voxpop.db import get_db, transaction, utcnow  # noqa: E402


def build_app(folder: Path) -> Flask:
    """An instance with the demo event (English and Welsh), jobs kept in memory."""
    app = create_app(
        {"INSTANCE": str(folder / "instance"), "UPLOADS": str(folder / "uploads"),
         "QUEUE": "memory", "TESTING": True, "SECRET_KEY": "bench"}
    )  # fmt: skip
    with app.app_context():
        models.create_event(get_db(), "Whose Shoes? benchmark day", date="2026-11-23",
                            venue="Bench Hall", languages=["en", "cy"])  # fmt: skip
    return app


@contextmanager
def seeding(app: Flask) -> Iterator[tuple[sqlite3.Connection, models.Event, sqlite3.Row]]:
    """The database, its event and consent text, in one transaction; ANALYZE afterwards."""
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        consent = db.execute("SELECT id, sha256 FROM consent_text").fetchone()
        with transaction(db):
            yield db, event, consent
        db.execute("ANALYZE")


def moment(index: int) -> str:
    """When the ``index``-th reflection came: one a second from 09:00 on the day."""
    hour, minute, second = 9 + index // 3600, index // 60 % 60, index % 60
    return f"2026-11-23T{hour:02d}:{minute:02d}:{second:02d}"


def add_reflection(
    db: sqlite3.Connection,
    event_id: int,
    index: int,
    *,
    kind: str,
    perspective_id: int,
    prompt_id: int,
    text: str,
    receipt_prefix: str,
    lang: str = "en",
    status: str = "ready",
    review_state: str = "approved",
    transcript_vtt: str | None = None,
) -> int:
    """One reflection row (a text one keeps ``text``; a recording lasts 30 s); its id."""
    recording = kind != "text"
    cursor = db.execute(
        "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
        " original_path, status, receipt_code, client_id, lang, display_name,"
        " created_at, review_state, transcript_vtt, duration_seconds)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event_id, kind, perspective_id, prompt_id,
         None if recording else text,
         f"originals/{index}.webm" if recording else None,
         status, f"{receipt_prefix}{index:06d}", str(uuid.uuid4()), lang, f"Name{index}",
         moment(index), review_state, transcript_vtt, 30.0 if recording else None),
    )  # fmt: skip
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def add_consent(
    db: sqlite3.Connection,
    reflection_id: int,
    consent_text: sqlite3.Row,
    *,
    online: bool,
    show_name: bool,
    given_at: str,
    withdrawn_at: str | None = None,
) -> None:
    """Consent to the archive and the reel; online and the name as given."""
    db.execute(
        "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
        " reel, online, show_name, given_at, withdrawn_at)"
        " VALUES (?, ?, ?, 1, 1, ?, ?, ?, ?)",
        (reflection_id, consent_text["id"], consent_text["sha256"], int(online),
         int(show_name), given_at, withdrawn_at),
    )  # fmt: skip


def add_placeholder_assets(
    db: sqlite3.Connection, root: Path, reflection_id: int, kinds: tuple[str, ...]
) -> None:
    """A few bytes on disk and an asset row for each kind (no ffmpeg, no real media)."""
    for kind in kinds:
        relative = f"derived/{reflection_id}/{kind}.bin"
        data = f"{kind} {reflection_id}".encode()
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
        db.execute(
            "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (reflection_id, kind, relative, hashlib.sha256(data).hexdigest(), len(data),
             utcnow()),
        )  # fmt: skip


def timed(action: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median and 95th percentile wall time, and median CPU time of this process, in ms.

    One warm-up run first. CPU time is what the request cost; wall time also counts waiting
    for a core when other work shares the machine (then wall ÷ CPU says how crowded it was).
    """
    action()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    return {"median_ms": statistics.median(walls), "cpu_ms": statistics.median(cpus),
            "p95_ms": walls[min(len(walls) - 1, round(len(walls) * 0.95) - 1)]}  # fmt: skip


def fetcher(client: Any, path: str) -> Callable[[], None]:
    """A GET of ``path`` through a Flask test client that must answer 200."""

    def fetch() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        response.close()

    return fetch


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
