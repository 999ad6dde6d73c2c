"""The audit log: who changed what, when, from what to what.

Every change a person makes through the review or studio pages is recorded with ``record``
inside the same transaction as the change itself, so the log and the data never disagree.
Service functions take the acting user as an argument (``actor``) and pass it on: views give
``g.user``, the CLI and tests give a user or ``None`` (voxpop itself, logged as "system").
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol

from voxpop.db import utcnow


class Actor(Protocol):
    """Who makes a change: a logged-in user (``models.User``); ``None`` stands for voxpop."""

    @property
    def id(self) -> int | None: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Someone:
    """An actor who is not a user, logged by name: e.g. a delegate with their receipt code."""

    name: str
    id: None = None


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(
    db: sqlite3.Connection,
    action: str,
    target_kind: str,
    target_id: int | None,
    before: Any = None,
    after: Any = None,
    *,
    actor: Actor | None,
    at: str | None = None,
) -> None:
    """Write one audit row for ``actor`` (call inside the change's transaction).

    Only the fields that changed need to be passed; ``before`` and ``after`` are stored as
    JSON. Nothing is written when ``before == after`` (an edit that changed nothing).
    ``at`` is when it happened, when the change stored that time itself (default: now).
    """
    if before is not None and before == after:
        return
    db.execute(
        "INSERT INTO audit_log (at, user_id, user_name, action, target_kind, target_id,"
        " before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at or utcnow(),
            actor.id if actor else None,
            actor.name if actor else "system",
            action,
            target_kind,
            target_id,
            _json(before),
            _json(after),
        ),
    )


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reduce two snapshots to the keys whose values differ."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def entries(
    db: sqlite3.Connection,
    *,
    kind: str | None = None,
    target_id: int | None = None,
    user_name: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The newest audit rows, optionally of one kind of change (the action's part before the
    dot: ``publish`` for ``publish.request``), about one thing, and by one person, with
    before/after decoded."""
    sql = "SELECT * FROM audit_log WHERE 1 = 1"
    params: list[Any] = []
    if kind is not None:
        sql += " AND substr(action, 1, ?) = ?"
        params += [len(kind) + 1, f"{kind}."]
        if target_id is not None:
            sql += " AND target_id = ?"
            params.append(target_id)
    if user_name is not None:
        sql += " AND user_name = ?"
        params.append(user_name)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    rows = db.execute(sql, params).fetchall()
    return [
        dict(row)
        | {
            "before": json.loads(row["before"]) if row["before"] else None,
            "after": json.loads(row["after"]) if row["after"] else None,
        }
        for row in rows
    ]
