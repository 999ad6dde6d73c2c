"""The event's perspectives and prompts: add, edit, reorder, retire or hide."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from flask_babel import gettext as _

from voxpop import audit, models
from voxpop.db import transaction, utcnow
from voxpop.slugs import slugify
from voxpop.studio.validation import (
    SettingNotFound,
    SettingsError,
    clean_colour,
    per_language,
)

LABEL_MAX = 80
PROMPT_MAX = 300


@dataclass(frozen=True)
class PerspectiveRow:
    """A perspective as the settings page shows it, retired or not."""

    id: int
    slug: str
    labels: dict[str, str]
    colour: str
    position: int
    retired_at: str | None
    reflections: int


@dataclass(frozen=True)
class PromptRow:
    """A prompt as the settings page shows it, active or not."""

    id: int
    texts: dict[str, str]
    position: int
    active: bool
    reflections: int


def _counts(db: sqlite3.Connection, column: str, event_id: int) -> dict[int, int]:
    rows = db.execute(
        f"SELECT {column} AS target, COUNT(*) AS n FROM reflection"  # noqa: S608 - fixed names
        f" WHERE event_id = ? GROUP BY {column}",
        (event_id,),
    ).fetchall()
    return {row["target"]: row["n"] for row in rows}


def all_perspectives(db: sqlite3.Connection, event_id: int) -> list[PerspectiveRow]:
    """Every perspective of the event in display order, with how many reflections each has."""
    counts = _counts(db, "perspective_id", event_id)
    rows = db.execute(
        "SELECT * FROM perspective WHERE event_id = ? ORDER BY position, id", (event_id,)
    ).fetchall()
    return [
        PerspectiveRow(
            row["id"],
            row["slug"],
            json.loads(row["labels"]),
            row["colour"],
            row["position"],
            row["retired_at"],
            counts.get(row["id"], 0),
        )
        for row in rows
    ]


def all_prompts(db: sqlite3.Connection, event_id: int) -> list[PromptRow]:
    """Every prompt of the event in display order, with how many reflections answer each."""
    counts = _counts(db, "prompt_id", event_id)
    rows = db.execute(
        "SELECT * FROM prompt WHERE event_id = ? ORDER BY position, id", (event_id,)
    ).fetchall()
    return [
        PromptRow(
            row["id"],
            json.loads(row["texts"]),
            row["position"],
            bool(row["active"]),
            counts.get(row["id"], 0),
        )
        for row in rows
    ]


def _perspective(db: sqlite3.Connection, event_id: int, perspective_id: int) -> sqlite3.Row:
    row = db.execute(
        "SELECT * FROM perspective WHERE id = ? AND event_id = ?", (perspective_id, event_id)
    ).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such perspective in this event."))
    return row


def _prompt(db: sqlite3.Connection, event_id: int, prompt_id: int) -> sqlite3.Row:
    row = db.execute(
        "SELECT * FROM prompt WHERE id = ? AND event_id = ?", (prompt_id, event_id)
    ).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such prompt in this event."))
    return row


def _perspective_labels(labels: dict[str, str | None]) -> dict[str, str]:
    return per_language(
        labels,
        field="label",
        maximum=LABEL_MAX,
        required_en=_("Give the perspective an English label."),
    )


def add_perspective(
    db: sqlite3.Connection,
    event_id: int,
    labels: dict[str, str | None],
    colour: str,
    *,
    actor: audit.Actor | None,
) -> int:
    """Add a perspective at the end; its slug is made once, from the English label."""
    clean = _perspective_labels(labels)
    colour = clean_colour(colour)
    slug = slugify(clean["en"])
    if not slug:
        raise SettingsError(
            _(
                "The English label needs at least one letter or digit (it names the perspective "
                "in links and exports)."
            ),
            "label_en",
        )
    with transaction(db):
        existing = db.execute(
            "SELECT retired_at FROM perspective WHERE event_id = ? AND slug = ?",
            (event_id, slug),
        ).fetchone()
        if existing is not None:
            message = (
                _(
                    "A retired perspective already uses the name “%(slug)s”: restore it instead.",
                    slug=slug,
                )
                if existing["retired_at"]
                else _("There is already a perspective called “%(slug)s”.", slug=slug)
            )
            raise SettingsError(message, "label_en")
        perspective_id = models.insert_perspective(db, event_id, slug, clean, colour)
        audit.record(
            db,
            "perspective.create",
            "perspective",
            perspective_id,
            None,
            {"slug": slug, "labels": clean, "colour": colour},
            actor=actor,
        )
    return perspective_id


def edit_perspective(
    db: sqlite3.Connection,
    event_id: int,
    perspective_id: int,
    labels: dict[str, str | None],
    colour: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Rename or recolour a perspective; its slug never changes."""
    clean = _perspective_labels(labels)
    colour = clean_colour(colour)
    with transaction(db):
        row = _perspective(db, event_id, perspective_id)
        db.execute(
            "UPDATE perspective SET labels = ?, colour = ? WHERE id = ?",
            (models.json_column(clean), colour, perspective_id),
        )
        before, after = audit.changed(
            {"labels": json.loads(row["labels"]), "colour": row["colour"]},
            {"labels": clean, "colour": colour},
        )
        audit.record(
            db, "perspective.update", "perspective", perspective_id, before, after, actor=actor
        )


def _move(
    db: sqlite3.Connection,
    table: str,
    event_id: int,
    item_id: int,
    direction: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Swap an item with its neighbour and renumber the list 0..n-1, auditing each move."""
    if direction not in ("up", "down"):
        raise SettingsError(_("Move up or down."))
    ids = [
        row["id"]
        for row in db.execute(
            f"SELECT id FROM {table} WHERE event_id = ? ORDER BY position, id",  # noqa: S608
            (event_id,),
        )
    ]
    old_positions = {
        row["id"]: row["position"]
        for row in db.execute(
            f"SELECT id, position FROM {table} WHERE event_id = ?",  # noqa: S608
            (event_id,),
        )
    }
    index = ids.index(item_id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
    for position, row_id in enumerate(ids):
        if old_positions[row_id] != position:
            db.execute(
                f"UPDATE {table} SET position = ? WHERE id = ?",  # noqa: S608
                (position, row_id),
            )
            audit.record(
                db,
                f"{table}.move",
                table,
                row_id,
                {"position": old_positions[row_id]},
                {"position": position},
                actor=actor,
            )


def move_perspective(
    db: sqlite3.Connection,
    event_id: int,
    perspective_id: int,
    direction: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Move a perspective one place up or down (at either end, nothing moves)."""
    with transaction(db):
        _perspective(db, event_id, perspective_id)
        _move(db, "perspective", event_id, perspective_id, direction, actor=actor)


def retire_perspective(
    db: sqlite3.Connection, event_id: int, perspective_id: int, *, actor: audit.Actor | None
) -> None:
    """Take a perspective off the kiosk; its reflections keep it."""
    with transaction(db):
        row = _perspective(db, event_id, perspective_id)
        if row["retired_at"]:
            return
        active = db.execute(
            "SELECT COUNT(*) FROM perspective WHERE event_id = ? AND retired_at IS NULL",
            (event_id,),
        ).fetchone()[0]
        if active <= 1:
            raise SettingsError(
                _("This is the last perspective on the kiosk: add another before retiring it.")
            )
        now = utcnow()
        db.execute("UPDATE perspective SET retired_at = ? WHERE id = ?", (now, perspective_id))
        audit.record(
            db,
            "perspective.retire",
            "perspective",
            perspective_id,
            {"retired_at": None},
            {"retired_at": now},
            actor=actor,
        )


def restore_perspective(
    db: sqlite3.Connection, event_id: int, perspective_id: int, *, actor: audit.Actor | None
) -> None:
    """Put a retired perspective back on the kiosk."""
    with transaction(db):
        row = _perspective(db, event_id, perspective_id)
        if not row["retired_at"]:
            return
        db.execute("UPDATE perspective SET retired_at = NULL WHERE id = ?", (perspective_id,))
        audit.record(
            db,
            "perspective.restore",
            "perspective",
            perspective_id,
            {"retired_at": row["retired_at"]},
            {"retired_at": None},
            actor=actor,
        )


def _prompt_texts(texts: dict[str, str | None]) -> dict[str, str]:
    return per_language(
        texts, field="text", maximum=PROMPT_MAX, required_en=_("Write the prompt in English.")
    )


def add_prompt(
    db: sqlite3.Connection,
    event_id: int,
    texts: dict[str, str | None],
    *,
    actor: audit.Actor | None,
) -> int:
    """Add an active prompt at the end of the list."""
    clean = _prompt_texts(texts)
    with transaction(db):
        prompt_id = models.insert_prompt(db, event_id, clean)
        audit.record(db, "prompt.create", "prompt", prompt_id, None, {"texts": clean}, actor=actor)
    return prompt_id


def edit_prompt(
    db: sqlite3.Connection,
    event_id: int,
    prompt_id: int,
    texts: dict[str, str | None],
    *,
    actor: audit.Actor | None,
) -> None:
    """Change a prompt's wording."""
    clean = _prompt_texts(texts)
    with transaction(db):
        row = _prompt(db, event_id, prompt_id)
        db.execute(
            "UPDATE prompt SET texts = ? WHERE id = ?", (models.json_column(clean), prompt_id)
        )
        audit.record(
            db,
            "prompt.update",
            "prompt",
            prompt_id,
            {"texts": json.loads(row["texts"])},
            {"texts": clean},
            actor=actor,
        )


def move_prompt(
    db: sqlite3.Connection,
    event_id: int,
    prompt_id: int,
    direction: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Move a prompt one place up or down (at either end, nothing moves)."""
    with transaction(db):
        _prompt(db, event_id, prompt_id)
        _move(db, "prompt", event_id, prompt_id, direction, actor=actor)


def set_prompt_active(
    db: sqlite3.Connection,
    event_id: int,
    prompt_id: int,
    active: bool,
    *,
    actor: audit.Actor | None,
) -> None:
    """Show or hide a prompt on the kiosk; at least one stays active."""
    with transaction(db):
        row = _prompt(db, event_id, prompt_id)
        if bool(row["active"]) == active:
            return
        if not active:
            count = db.execute(
                "SELECT COUNT(*) FROM prompt WHERE event_id = ? AND active = 1", (event_id,)
            ).fetchone()[0]
            if count <= 1:
                raise SettingsError(
                    _("This is the last active prompt: activate another before hiding it.")
                )
        db.execute("UPDATE prompt SET active = ? WHERE id = ?", (int(active), prompt_id))
        audit.record(
            db,
            "prompt.activate" if active else "prompt.deactivate",
            "prompt",
            prompt_id,
            {"active": not active},
            {"active": active},
            actor=actor,
        )
