"""What the comparison reads from the database: one ``compare.Row`` per reflection.

Only reflections that are not withdrawn and that no facilitator hid take part; a recording's
words are its captions' text once a person checked them (``transcript.status = 'checked'``),
never a machine draft. One query, on the ``reflection (event_id, perspective_id)`` index and
the primary keys of ``consent``, ``transcript`` and ``asset``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voxpop import models
from voxpop.record.compare import Row

# Takes part in the comparison: still there, and not hidden by a facilitator.
VISIBLE_WHERE = (
    "r.event_id = ? AND r.status != 'withdrawn' AND c.withdrawn_at IS NULL"
    " AND r.review_state != 'hidden'"
)
# A reflection as the comparison and the report (``report.py``) both read it, with its consent
# and its words: what the delegate wrote, or its captions once a person checked them.
_WITH_WORDS = (
    "SELECT r.id, r.perspective_id, r.prompt_id, r.kind, r.lang, r.created_at,"
    " CASE WHEN r.kind = 'text' THEN r.text_body ELSE t.text END AS words, {columns}"
    " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
    " LEFT JOIN transcript t ON t.reflection_id = r.id AND t.status = 'checked'"
    " WHERE {where} ORDER BY r.created_at, r.id"
)
_SHARED_FIELDS = ("id", "perspective_id", "prompt_id", "kind", "lang", "created_at", "words")
_HAS_POSTER = (
    "EXISTS (SELECT 1 FROM asset a WHERE a.reflection_id = r.id AND a.kind = 'poster')"
    " AS has_poster"
)


def reflections_with_words(
    db: sqlite3.Connection, columns: str, where: str, params: Sequence[Any]
) -> list[sqlite3.Row]:
    """The reflections ``where`` picks (``r`` the reflection, ``c`` its consent), in the day's
    order: the fields ``shared_fields`` reads, and ``columns`` besides."""
    return db.execute(_WITH_WORDS.format(columns=columns, where=where), params).fetchall()


def shared_fields(row: sqlite3.Row) -> dict[str, Any]:
    """What a ``compare.Row`` and a report's entry share, from ``reflections_with_words``."""
    return {key: row[key] for key in _SHARED_FIELDS}


@dataclass(frozen=True)
class Filters:
    """What the comparison is narrowed to; empty values mean "any"."""

    prompt: int | None = None
    lang: str = ""
    kind: str = ""

    def query_args(self) -> dict[str, Any]:
        """The filters as URL query arguments (only those set)."""
        # ``language``, not ``lang``: ``?lang=`` switches the interface's language.
        args = {"prompt": self.prompt or "", "language": self.lang, "kind": self.kind}
        return {key: value for key, value in args.items() if value}


def filters_from(args: Any, languages: list[str]) -> Filters:
    """Filters from query arguments; unknown values are ignored (then nothing is filtered)."""
    prompt = str(args.get("prompt", "")).strip()
    lang, kind = str(args.get("language", "")), str(args.get("kind", ""))
    return Filters(
        prompt=int(prompt) if prompt.isdigit() and len(prompt) < 10 else None,
        lang=lang if lang in languages else "",
        kind=kind if kind in models.KINDS else "",
    )


def comparison_rows(
    db: sqlite3.Connection, event_id: int, filters: Filters | None = None
) -> list[Row]:
    """The event's visible reflections (not withdrawn, not hidden), narrowed by ``filters``."""
    filters = filters or Filters()
    where = VISIBLE_WHERE
    params: list[Any] = [event_id]
    if filters.prompt:
        where += " AND r.prompt_id = ?"
        params.append(filters.prompt)
    if filters.lang:
        where += " AND r.lang = ?"
        params.append(filters.lang)
    if filters.kind:
        where += " AND r.kind = ?"
        params.append(filters.kind)
    return [
        Row(
            **shared_fields(row),
            has_poster=bool(row["has_poster"]),
            starred=bool(row["starred"]),
        )
        for row in reflections_with_words(db, "r.starred, " + _HAS_POSTER, where, params)
    ]


def event_prompts(db: sqlite3.Connection, event_id: int) -> list[models.Prompt]:
    """The event's active prompts, and any retired prompt that reflections still answer."""
    rows = db.execute(
        "SELECT pr.id, pr.texts, pr.position FROM prompt pr WHERE pr.event_id = ?"
        " AND (pr.active = 1 OR EXISTS (SELECT 1 FROM reflection r WHERE r.prompt_id = pr.id"
        " AND r.status != 'withdrawn')) ORDER BY pr.position, pr.id",
        (event_id,),
    ).fetchall()
    return [models.Prompt(row["id"], json.loads(row["texts"]), row["position"]) for row in rows]
