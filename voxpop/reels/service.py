"""Highlights reels: which reflections, in what order, and the rules that keep consent.

A reel is an ordered list of reflections. Only a reflection whose delegate agreed to the
highlights reel can ever be in one: this module refuses it, and a database trigger refuses it
again (migration 5), whatever calls in. A reflection shows in a render only while it is ready
and approved; the builder says why any other is left out.

Every change to what a reel would show bumps its ``revision``; a reel that has been rendered
and is behind is *stale* and is rendered again automatically (``rerender_stale``), so a clip
that is unapproved or withdrawn disappears from the film without anyone asking.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from voxpop import audit, jobs, models, reasons
from voxpop.db import rows_in, transaction, utcnow
from voxpop.errors import VoxpopError
from voxpop.storage import MediaStore

RENDER_REEL = "render_reel"
PREPARE_REEL_CLIP = "prepare_reel_clip"
TITLE_MAX = 120
# Review fields that change what a reel shows (the review service reports changes to them).
REEL_FIELDS = frozenset(
    {"review_state", "trim_in", "trim_out", "transcript_vtt", "display_name", "perspective_id"}
)
_CONSENTED = "c.reel = 1 AND c.withdrawn_at IS NULL AND r.status != 'withdrawn'"
_SHOWABLE = f"r.status = 'ready' AND r.review_state = 'approved' AND {_CONSENTED}"


class ReelError(VoxpopError):
    """A reel change that cannot be made as asked; nothing was changed."""


class ReelNotFound(ReelError):
    """No such reel in this event."""

    status = 404


@dataclass(frozen=True)
class Reel:
    """One reel and the state of its render."""

    id: int
    event_id: int
    title: str
    burn_captions: bool
    archived: bool
    revision: int
    rendered_revision: int | None
    status: str  # draft | rendering | ready | failed
    failure_reason: str | None
    duration_seconds: float | None
    rendered_at: str | None
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Reel:
        return cls(
            id=row["id"], event_id=row["event_id"], title=row["title"],
            burn_captions=bool(row["burn_captions"]), archived=bool(row["archived"]),
            revision=row["revision"], rendered_revision=row["rendered_revision"],
            status=row["status"], failure_reason=row["failure_reason"],
            duration_seconds=row["duration_seconds"], rendered_at=row["rendered_at"],
            updated_at=row["updated_at"],
        )  # fmt: skip

    @property
    def stale(self) -> bool:
        """Rendered before, and something it shows has changed since."""
        return self.rendered_revision is not None and self.rendered_revision != self.revision


@dataclass(frozen=True)
class ReelEntry:
    """A reflection as the reel builder lists it."""

    reflection_id: int
    kind: str
    perspective_id: int
    perspective_label: str
    colour: str
    excerpt: str
    name: str | None  # only when the delegate agreed to show it
    duration: float | None
    trim_in: float | None
    trim_out: float | None
    starred: bool
    showable: bool
    left_out_because: str | None
    online: bool = False  # the delegate agreed to publishing online too
    lang: str = "en"  # the language the delegate chose: the excerpt's language

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.reflection_id, "kind": self.kind, "perspective": self.perspective_label,
            "colour": self.colour, "excerpt": self.excerpt, "name": self.name,
            "duration": self.duration, "starred": self.starred, "showable": self.showable,
            "left_out_because": self.left_out_because, "lang": self.lang,
        }  # fmt: skip


# -- reading -----------------------------------------------------------------------------------


def get_reel(db: sqlite3.Connection, event: models.Event, reel_id: int) -> Reel:
    row = db.execute(
        "SELECT * FROM reel WHERE id = ? AND event_id = ?", (reel_id, event.id)
    ).fetchone()
    if row is None:
        raise ReelNotFound(_("That reel does not exist (it may have been deleted)."))
    return Reel.from_row(row)


def list_reels(db: sqlite3.Connection, event: models.Event) -> list[Reel]:
    rows = db.execute("SELECT * FROM reel WHERE event_id = ? ORDER BY id", (event.id,)).fetchall()
    return [Reel.from_row(row) for row in rows]


def proposals(db: sqlite3.Connection, event: models.Event) -> list[int]:
    """Starred, approved, ready reflections with reel consent, by the event's perspective order."""
    rows = db.execute(
        "SELECT r.id FROM reflection r JOIN consent c ON c.reflection_id = r.id"  # noqa: S608
        " JOIN perspective p ON p.id = r.perspective_id"
        f" WHERE r.event_id = ? AND r.starred = 1 AND {_SHOWABLE}"
        " ORDER BY p.position, p.id, r.created_at, r.id",
        (event.id,),
    ).fetchall()
    return [row["id"] for row in rows]


def _excerpt(row: sqlite3.Row) -> str:
    if row["kind"] == "text":
        text = " ".join((row["text_body"] or "").split())
        return text if len(text) <= 90 else text[:89].rstrip() + "…"
    if row["transcript_vtt"]:
        from voxpop.media import vtt

        try:
            words = " ".join(
                vtt.plain_text(cue.text) for cue in vtt.parse_vtt(row["transcript_vtt"])
            )
        except vtt.VttError:
            words = ""
        if words:
            return words if len(words) <= 90 else words[:89].rstrip() + "…"
    return ""


def _left_out_because(row: sqlite3.Row) -> str | None:
    if row["status"] in ("received", "processing"):
        return _("Still being processed.")
    if row["status"] == "failed":
        return _("Processing failed.")
    if row["review_state"] != "approved":
        return _("Not approved.")
    return None


def _entries(db: sqlite3.Connection, event: models.Event, where: str, params: Sequence[Any],
             order: str, lang: str) -> list[ReelEntry]:  # fmt: skip
    rows = db.execute(
        "SELECT r.*, c.show_name, c.online, p.labels, p.colour FROM reflection r"  # noqa: S608
        " JOIN consent c ON c.reflection_id = r.id JOIN perspective p ON p.id = r.perspective_id"
        f" WHERE r.event_id = ? AND {_CONSENTED} AND {where} ORDER BY {order}",
        (event.id, *params),
    ).fetchall()
    entries = []
    for row in rows:
        reason = _left_out_because(row)
        entries.append(ReelEntry(
            reflection_id=row["id"], kind=row["kind"], perspective_id=row["perspective_id"],
            perspective_label=str(models.localised(json.loads(row["labels"]), lang)),
            colour=row["colour"], excerpt=_excerpt(row),
            name=row["display_name"] if row["show_name"] else None,
            duration=row["duration_seconds"], trim_in=row["trim_in"], trim_out=row["trim_out"],
            starred=bool(row["starred"]), showable=reason is None, left_out_because=reason,
                online=bool(row["online"]), lang=row["lang"],
        ))  # fmt: skip
    return entries


def entries(
    db: sqlite3.Connection, event: models.Event, reel_id: int, lang: str
) -> list[ReelEntry]:
    """The reel's reflections in order, each saying whether (and why not) it will show."""
    positions = {
        row["reflection_id"]: row["position"]
        for row in db.execute(
            "SELECT reflection_id, position FROM reel_item WHERE reel_id = ?", (reel_id,)
        )
    }
    if not positions:
        return []
    marks = ",".join("?" * len(positions))
    found = _entries(db, event, f"r.id IN ({marks})", list(positions), "r.id", lang)
    return sorted(found, key=lambda entry: positions[entry.reflection_id])


def candidates(
    db: sqlite3.Connection, event: models.Event, reel_id: int, lang: str
) -> list[ReelEntry]:
    """Reflections that could be added: approved, ready, with reel consent; starred first."""
    return _entries(
        db, event,
        "r.status = 'ready' AND r.review_state = 'approved'"
        " AND r.id NOT IN (SELECT reflection_id FROM reel_item WHERE reel_id = ?)",
        (reel_id,), "r.starred DESC, p.position, r.created_at, r.id", lang,
    )  # fmt: skip


# -- changes -----------------------------------------------------------------------------------


def _touch(db: sqlite3.Connection, reel_id: int) -> None:
    db.execute(
        "UPDATE reel SET revision = revision + 1, updated_at = ? WHERE id = ?", (utcnow(), reel_id)
    )


def _clean_title(title: str) -> str:
    cleaned = " ".join((title or "").split())
    if not cleaned:
        raise ReelError(_("Give the reel a title."), "title")
    if len(cleaned) > TITLE_MAX:
        raise ReelError(_("A title can be at most %(max)d characters.", max=TITLE_MAX), "title")
    return cleaned


def _check_can_place(db: sqlite3.Connection, event: models.Event, reflection_id: int) -> None:
    row = db.execute(
        "SELECT r.status, r.review_state, c.reel, c.withdrawn_at FROM reflection r"
        " LEFT JOIN consent c ON c.reflection_id = r.id WHERE r.id = ? AND r.event_id = ?",
        (reflection_id, event.id),
    ).fetchone()
    if row is None or row["status"] == "withdrawn" or row["withdrawn_at"] is not None:
        raise ReelError(_("That reflection does not exist, or it was withdrawn."))
    if row["reel"] != 1:
        raise ReelError(
            _("This person did not agree to the highlights reel, so it cannot be added.")
        )
    if row["review_state"] != "approved":
        raise ReelError(_("Approve this reflection before adding it to a reel."))


def create_reel(
    db: sqlite3.Connection,
    event: models.Event,
    title: str,
    *,
    propose: bool = True,
    actor: audit.Actor | None,
) -> int:
    """A new reel; with ``propose``, it starts with the starred reflections (see proposals)."""
    cleaned = _clean_title(title)
    now = utcnow()
    with transaction(db):
        reel_id = int(db.execute(
            "INSERT INTO reel (event_id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (event.id, cleaned, now, now),
        ).lastrowid or 0)  # fmt: skip
        items = proposals(db, event) if propose else []
        db.executemany(
            "INSERT INTO reel_item (reel_id, reflection_id, position) VALUES (?, ?, ?)",
            [(reel_id, reflection_id, index) for index, reflection_id in enumerate(items)],
        )
        audit.record(db, "reel.create", "reel", reel_id, None,
                     {"title": cleaned, "items": items}, actor=actor)  # fmt: skip
    return reel_id


def add_item(
    db: sqlite3.Connection,
    event: models.Event,
    reel_id: int,
    reflection_id: int,
    *,
    actor: audit.Actor | None,
) -> None:
    """Put a reflection at the end of a reel (refused without reel consent or approval)."""
    with transaction(db):
        get_reel(db, event, reel_id)
        _check_can_place(db, event, reflection_id)
        exists = db.execute(
            "SELECT 1 FROM reel_item WHERE reel_id = ? AND reflection_id = ?",
            (reel_id, reflection_id),
        ).fetchone()
        if exists:
            return
        (last,) = db.execute(
            "SELECT COALESCE(MAX(position), -1) FROM reel_item WHERE reel_id = ?", (reel_id,)
        ).fetchone()
        try:
            db.execute(
                "INSERT INTO reel_item (reel_id, reflection_id, position) VALUES (?, ?, ?)",
                (reel_id, reflection_id, last + 1),
            )
        except sqlite3.IntegrityError as error:  # the consent trigger: belt and braces
            raise ReelError(
                _("This person did not agree to the highlights reel, so it cannot be added.")
            ) from error
        _touch(db, reel_id)
        audit.record(
            db, "reel.add", "reel", reel_id, None, {"reflection": reflection_id}, actor=actor
        )


def remove_item(
    db: sqlite3.Connection,
    event: models.Event,
    reel_id: int,
    reflection_id: int,
    *,
    actor: audit.Actor | None,
) -> None:
    with transaction(db):
        get_reel(db, event, reel_id)
        cursor = db.execute(
            "DELETE FROM reel_item WHERE reel_id = ? AND reflection_id = ?",
            (reel_id, reflection_id),
        )
        if cursor.rowcount:
            _renumber(db, reel_id)
            _touch(db, reel_id)
            audit.record(
                db, "reel.remove", "reel", reel_id, {"reflection": reflection_id}, None, actor=actor
            )


def _renumber(db: sqlite3.Connection, reel_id: int, order: Sequence[int] | None = None) -> None:
    if order is None:
        order = [row["reflection_id"] for row in db.execute(
            "SELECT reflection_id FROM reel_item WHERE reel_id = ? ORDER BY position",
            (reel_id,),
        )]  # fmt: skip
    db.executemany(
        "UPDATE reel_item SET position = ? WHERE reel_id = ? AND reflection_id = ?",
        [(index, reel_id, reflection_id) for index, reflection_id in enumerate(order)],
    )


def current_order(db: sqlite3.Connection, reel_id: int) -> list[int]:
    return [row["reflection_id"] for row in db.execute(
        "SELECT reflection_id FROM reel_item WHERE reel_id = ? ORDER BY position", (reel_id,)
    )]  # fmt: skip


def set_order(
    db: sqlite3.Connection,
    event: models.Event,
    reel_id: int,
    reflection_ids: Sequence[int],
    *,
    actor: audit.Actor | None,
) -> None:
    """Reorder a reel: ``reflection_ids`` must be exactly its reflections, in the new order."""
    with transaction(db):
        get_reel(db, event, reel_id)
        before = current_order(db, reel_id)
        if sorted(before) != sorted(reflection_ids) or len(set(reflection_ids)) != len(before):
            raise ReelError(
                _("The reel changed while you were editing it. Reload the page and try again.")
            )
        if list(reflection_ids) == before:
            return
        _renumber(db, reel_id, reflection_ids)
        _touch(db, reel_id)
        audit.record(db, "reel.order", "reel", reel_id, {"items": before},
                     {"items": list(reflection_ids)}, actor=actor)  # fmt: skip


def move_item(
    db: sqlite3.Connection,
    event: models.Event,
    reel_id: int,
    reflection_id: int,
    offset: int,
    *,
    actor: audit.Actor | None,
) -> None:
    """Move one reflection ``offset`` places (−1 up, +1 down), for forms without scripts."""
    order = current_order(db, reel_id)
    if reflection_id not in order:
        raise ReelError(_("That reflection is not in this reel."))
    index = order.index(reflection_id)
    target = min(max(index + offset, 0), len(order) - 1)
    order.insert(target, order.pop(index))
    set_order(db, event, reel_id, order, actor=actor)


def update_settings(
    db: sqlite3.Connection,
    event: models.Event,
    reel_id: int,
    *,
    title: str,
    burn_captions: bool,
    archived: bool,
    actor: audit.Actor | None,
) -> None:
    cleaned = _clean_title(title)
    with transaction(db):
        reel = get_reel(db, event, reel_id)
        before = {"title": reel.title, "burn_captions": reel.burn_captions,
                  "archived": reel.archived}  # fmt: skip
        after = {"title": cleaned, "burn_captions": burn_captions, "archived": archived}
        if before == after:
            return
        db.execute(
            "UPDATE reel SET title = ?, burn_captions = ?, archived = ?, updated_at = ?"
            " WHERE id = ?",
            (cleaned, int(burn_captions), int(archived), utcnow(), reel_id),
        )
        if before["burn_captions"] != burn_captions:
            _touch(db, reel_id)  # the files change; the title is not in the film
        audit.record(
            db, "reel.settings", "reel", reel_id, *audit.changed(before, after), actor=actor
        )


def reel_folder(store: MediaStore, reel_id: int) -> Path:
    """Where a reel's rendered files live."""
    return store.derived / "reels" / str(reel_id)


def remove_reel_files(store: MediaStore, reel_id: int) -> None:
    """Delete a reel's rendered files (there may be none)."""
    shutil.rmtree(reel_folder(store, reel_id), ignore_errors=True)


def delete_reel(
    db: sqlite3.Connection,
    store: MediaStore,
    event: models.Event,
    reel_id: int,
    *,
    actor: audit.Actor | None,
) -> None:
    """Delete a reel and its files (the reflections and their cached pieces stay)."""
    with transaction(db):
        reel = get_reel(db, event, reel_id)
        db.execute("DELETE FROM reel_asset WHERE reel_id = ?", (reel_id,))
        db.execute("DELETE FROM reel_item WHERE reel_id = ?", (reel_id,))
        db.execute("DELETE FROM reel WHERE id = ?", (reel_id,))
        audit.record(db, "reel.delete", "reel", reel_id, {"title": reel.title}, None, actor=actor)
    remove_reel_files(store, reel_id)


# -- rendering requests ------------------------------------------------------------------------


def request_render(
    db: sqlite3.Connection, queue: jobs.JobQueue, event: models.Event, reel_id: int
) -> int:
    """Queue a render of the reel as it is now; refuses a reel with nothing to show."""
    get_reel(db, event, reel_id)
    showable = db.execute(
        "SELECT COUNT(*) FROM reel_item i JOIN reflection r ON r.id = i.reflection_id"  # noqa: S608
        f" JOIN consent c ON c.reflection_id = r.id WHERE i.reel_id = ? AND {_SHOWABLE}",
        (reel_id,),
    ).fetchone()[0]
    if not showable:
        raise ReelError(_("Add at least one approved, ready reflection before rendering."))
    with transaction(db):
        db.execute(
            "UPDATE reel SET status = 'rendering', failure_reason = NULL WHERE id = ?", (reel_id,)
        )
    return jobs.enqueue(db, queue, RENDER_REEL, reel_id)


def reflections_changed(db: sqlite3.Connection, reflection_ids: Iterable[int]) -> list[int]:
    """Mark every reel showing these reflections as changed; return those reels' ids.

    Database only (call it inside the change's transaction). The ids are also noted
    (``note_for_follow_up``), so a request queues the follow-up work once committed.
    """
    ids = list(dict.fromkeys(reflection_ids))
    if not ids:
        return []
    # DISTINCT within each chunk of ids; dict.fromkeys across them.
    reel_ids = list(dict.fromkeys(row["reel_id"] for row in rows_in(
        db, "SELECT DISTINCT reel_id FROM reel_item WHERE reflection_id", ids
    )))  # fmt: skip
    for reel_id in reel_ids:
        _touch(db, reel_id)
    note_for_follow_up(ids)
    return reel_ids


# Told of reflections whose reel pieces may need preparing once the change commits. The app
# adds one (``voxpop.web.note_reel_follow_up``) so that a request runs ``follow_up`` after its
# response; jobs and the CLI call ``follow_up`` with the ids themselves.
_FOLLOW_UP_LISTENERS: list[Callable[[list[int]], None]] = []


def listen_for_follow_up(listener: Callable[[list[int]], None]) -> None:
    """Have ``listener`` told of every reflection noted for follow-up (once per listener)."""
    if listener not in _FOLLOW_UP_LISTENERS:
        _FOLLOW_UP_LISTENERS.append(listener)


def note_for_follow_up(reflection_ids: Iterable[int]) -> None:
    """Say that these reflections' reel pieces may need preparing once the change commits."""
    ids = list(reflection_ids)
    for listener in _FOLLOW_UP_LISTENERS:
        listener(ids)


def rerender_stale(db: sqlite3.Connection, queue: jobs.JobQueue) -> list[int]:
    """Queue a render for every reel that was rendered before and is now behind."""
    rows = db.execute(
        "SELECT id FROM reel WHERE rendered_revision IS NOT NULL AND rendered_revision != revision"
    ).fetchall()
    for row in rows:
        with transaction(db):
            db.execute("UPDATE reel SET status = 'rendering' WHERE id = ?", (row["id"],))
        jobs.enqueue(db, queue, RENDER_REEL, row["id"])
    return [row["id"] for row in rows]


def prepare_clips(
    db: sqlite3.Connection, queue: jobs.JobQueue, reflection_ids: Iterable[int]
) -> int:
    """Queue background preparation of reel pieces for reflections that could be in a reel:
    approved, ready, with reel consent, and starred or already in a reel."""
    ids = list(dict.fromkeys(reflection_ids))
    if not ids:
        return 0
    rows = rows_in(
        db,
        "SELECT r.id FROM reflection r JOIN consent c ON c.reflection_id = r.id WHERE r.id",
        ids,
        after=f" AND {_SHOWABLE} AND r.kind != 'text' AND (r.starred = 1"  # noqa: S608
        " OR r.id IN (SELECT reflection_id FROM reel_item))",
    )
    for row in rows:
        jobs.enqueue(db, queue, PREPARE_REEL_CLIP, row["id"])
    return len(rows)


def follow_up(
    db: sqlite3.Connection, queue: jobs.JobQueue, reflection_ids: Iterable[int] = ()
) -> None:
    """After changes are committed: prepare pieces for the changed reflections, and render
    again every reel that is now stale. Safe to call any time."""
    prepare_clips(db, queue, sorted(set(reflection_ids)))
    rerender_stale(db, queue)


def render_state(db: sqlite3.Connection, reel: Reel) -> dict[str, Any]:
    """What the builder shows about the render: status, progress, message."""
    job = db.execute(
        "SELECT status, progress, error FROM job WHERE kind = ? AND target_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (RENDER_REEL, reel.id),
    ).fetchone()
    running = job is not None and job["status"] in ("queued", "running")
    return {
        "status": reel.status,
        "stale": reel.stale,
        "busy": running,
        "progress": float(job["progress"])
        if running and job
        else (1.0 if reel.status == "ready" else 0.0),
        "message": reasons.render(
            reel.failure_reason or (job["error"] if running and job else None), _
        ),
        "duration": reel.duration_seconds,
        "rendered_at": reel.rendered_at,
        "revision": reel.revision,
    }
