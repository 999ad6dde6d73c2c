"""Reflections and reels written straight into the database, with tiny placeholder files, for
the archive and export tests (real processed media come from ``conftest.process``)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Flask

from voxpop import models
from voxpop.db import get_db, transaction, utcnow

ASSET_NAMES = {"mp4": "delivery.mp4", "poster": "poster.jpg", "thumb": "thumb.webp",
               "card": "card.png"}  # fmt: skip
TRANSCRIPT = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nFish &amp; chips <i>for all</i>\n"


def _file(app: Flask, relative: str, data: bytes) -> tuple[str, int]:
    path = app.extensions["voxpop"].store.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def add_archived(
    app: Flask,
    kind: str = "video",
    perspective: str = "volunteer",
    *,
    status: str = "ready",
    review: str = "approved",
    online: int = 1,
    room: int = 0,
    show_name: int = 0,
    name: str | None = None,
    withdrawn: bool = False,
    transcript: str | None = None,
    trim: tuple[float | None, float | None] = (None, None),
    created_at: str | None = None,
    text: str = "Listening changed my mind.",
    lang: str = "en",
    captions: str | None = "checked",
    prompt: int = 0,
    words: str | None = None,
) -> int:
    """A reflection row with its consent and asset rows; publishable by default (a recording's
    captions checked by a person: ``captions`` is the transcript status, None for no row).
    ``prompt`` is the prompt's place in the event's list; ``words`` the transcript's text."""
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        perspective_id = next(p.id for p in models.perspectives(db, event.id)
                              if p.slug == perspective)  # fmt: skip
        prompt_id = models.prompts(db, event.id)[prompt].id
        consent = db.execute("SELECT id, sha256 FROM consent_text ORDER BY id LIMIT 1").fetchone()
        is_text = kind == "text"
        with transaction(db):
            cursor = db.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                " original_path, status, receipt_code, client_id, lang, display_name, created_at,"
                " review_state, transcript_vtt, trim_in, trim_out, duration_seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.id, kind, perspective_id, prompt_id, text if is_text else None,
                 None if is_text else f"originals/{uuid.uuid4().hex}.webm",
                 "withdrawn" if withdrawn else status, uuid.uuid4().hex[:7].upper(),
                 str(uuid.uuid4()), lang, name, created_at or utcnow(), review, transcript,
                 trim[0], trim[1], None if is_text else 3.0),
            )  # fmt: skip
            reflection_id = int(cursor.lastrowid)
            db.execute(
                "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                " reel, online, room, show_name, given_at, withdrawn_at)"
                " VALUES (?, ?, ?, 1, 1, ?, ?, ?, ?, ?)",
                (reflection_id, consent["id"], consent["sha256"], online, room, show_name, utcnow(),
                 utcnow() if withdrawn else None),
            )  # fmt: skip
            if status == "ready":
                for asset in ("card", "mp4", "poster", "thumb")[0 if is_text else 1 :]:
                    relative = f"derived/{reflection_id}/{ASSET_NAMES[asset]}"
                    sha, size = _file(app, relative, f"{asset} of {reflection_id}".encode())
                    db.execute(
                        "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (reflection_id, asset, relative, sha, size, utcnow()),
                    )
            if captions and not is_text and not withdrawn:
                db.execute(
                    "INSERT INTO transcript (reflection_id, status, text, created_at, updated_at,"
                    " checked_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (reflection_id, captions, words, utcnow(), utcnow(),
                     utcnow() if captions == "checked" else None),
                )  # fmt: skip
    return reflection_id


def add_reel(
    app: Flask,
    *,
    archived: int = 1,
    status: str = "ready",
    stale: bool = False,
    clips: tuple[int, ...] = (),
    title: str = "Highlights of the day",
    kinds: tuple[str, ...] = ("mp4", "vtt"),
) -> int:
    """A rendered reel row with placeholder files, showing ``clips``."""
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        now = utcnow()
        with transaction(db):
            cursor = db.execute(
                "INSERT INTO reel (event_id, title, archived, revision, rendered_revision, status,"
                " duration_seconds, created_at, updated_at) VALUES (?, ?, ?, 2, ?, ?, 75, ?, ?)",
                (event.id, title, archived, 1 if stale else 2, status, now, now),
            )
            reel_id = int(cursor.lastrowid)
            for position, reflection_id in enumerate(clips):
                db.execute(
                    "INSERT INTO reel_item (reel_id, reflection_id, position) VALUES (?, ?, ?)",
                    (reel_id, reflection_id, position),
                )
            names = {"mp4": "reel.mp4", "vtt": "reel.vtt", "captioned_mp4": "reel-captioned.mp4"}
            for kind in kinds:
                relative = f"derived/reels/{reel_id}/{names[kind]}"
                data = (b"WEBVTT\n\n" if kind == "vtt" else b"") + f"{kind} {reel_id}".encode()
                sha, size = _file(app, relative, data)
                db.execute(
                    "INSERT INTO reel_asset (reel_id, kind, path, sha256, bytes, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (reel_id, kind, relative, sha, size, now),
                )
    return reel_id


def query(app: Flask, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of a query on the app's database."""
    with app.app_context():
        return [dict(row) for row in get_db().execute(sql, params).fetchall()]
