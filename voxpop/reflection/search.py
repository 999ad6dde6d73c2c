"""Search what was said: SQLite FTS5 over captions, written reflections and tags (issue 16).

The index (``search_entry``, migration 0010) holds one row per caption cue (with the time it
starts), one per written reflection and one per tag. Triggers in the schema mark a reflection
*dirty* whenever its words, captions or tags change, by whatever code path; ``refresh`` indexes
the dirty ones again before each search, so the index never needs to be told. A withdrawal
deletes a reflection's entries in its own transaction (trigger), and ``forget`` merges the index
afterwards so no older segment of the index keeps the words.

Search is over the staff's whole event (``search``) or, with ``publishable_only``, over what
the public archive shows (the one rule in ``voxpop.archive.service``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from voxpop.db import rows_in, transaction
from voxpop.media import vtt

# Marks around the matched words in a snippet: private-use characters nobody types, turned into
# <mark> only after the text around them is escaped.
_OPEN, _CLOSE = "\ue000", "\ue001"
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8
SNIPPET_TOKENS = 16
REFRESH_BATCH = 200


@dataclass(frozen=True)
class Hit:
    """One place a search matched: a caption (with its time), the written words or a tag."""

    source: str  # 'caption' | 'text' | 'tag'
    start: float | None
    snippet: str  # with _OPEN/_CLOSE around matches; use ``html``

    @property
    def html(self) -> Markup:
        return highlight(self.snippet)

    @property
    def clock(self) -> str:
        """``m:ss`` of the start (empty for written words and tags)."""
        if self.start is None:
            return ""
        minutes, seconds = divmod(int(self.start), 60)
        return f"{minutes}:{seconds:02d}"


@dataclass
class Found:
    """A reflection the search found, with its hits in clip order."""

    reflection_id: int
    hits: list[Hit] = field(default_factory=list)

    @property
    def first_time(self) -> float | None:
        times = [hit.start for hit in self.hits if hit.start is not None]
        return min(times) if times else None


def highlight(snippet: str) -> Markup:
    """The snippet as HTML: escaped, with the matched words in ``<mark>``."""
    safe = str(escape(snippet))
    return Markup(safe.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))  # noqa: S704 - escaped


def plain(snippet: str) -> str:
    return snippet.replace(_OPEN, "").replace(_CLOSE, "")


def query_terms(text: str) -> list[str]:
    """The words of what someone typed (anything else is ignored: no FTS syntax errors)."""
    return _WORD.findall(text or "")[:MAX_TERMS]


def fts_query(text: str) -> str | None:
    """A safe FTS5 query: every word must appear, the last one as a prefix (search as you
    type). None when nothing searchable was typed."""
    terms = query_terms(text)
    if not terms:
        return None
    quoted = [f'"{term}"' for term in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


# -- keeping the index -------------------------------------------------------------------------


def _entries(db: sqlite3.Connection, reflection_id: int) -> list[tuple[str, str, float | None]]:
    """(body, source, start) for everything searchable in one reflection."""
    row = db.execute(
        "SELECT status, kind, text_body, transcript_vtt FROM reflection WHERE id = ?",
        (reflection_id,),
    ).fetchone()
    if row is None or row["status"] == "withdrawn":
        return []
    found: list[tuple[str, str, float | None]] = []
    if row["kind"] == "text" and (row["text_body"] or "").strip():
        found.append((row["text_body"], "text", None))
    if row["transcript_vtt"]:
        try:
            cues = vtt.parse_vtt(row["transcript_vtt"])
        except vtt.VttError:
            cues = []
        found.extend((cue.text.replace("\n", " "), "caption", cue.start) for cue in cues)
    tags = db.execute(
        "SELECT t.name FROM reflection_tag rt JOIN tag t ON t.id = rt.tag_id"
        " WHERE rt.reflection_id = ? ORDER BY t.name",
        (reflection_id,),
    ).fetchall()
    found.extend((tag["name"], "tag", None) for tag in tags)
    return found


def reindex(db: sqlite3.Connection, reflection_id: int) -> None:
    """Write one reflection's entries afresh (inside the caller's transaction)."""
    db.execute("DELETE FROM search_entry WHERE reflection_id = ?", (reflection_id,))
    db.executemany(
        "INSERT INTO search_entry (body, reflection_id, source, start) VALUES (?, ?, ?, ?)",
        [
            (body, reflection_id, source, start)
            for body, source, start in _entries(db, reflection_id)
        ],
    )
    db.execute("DELETE FROM search_dirty WHERE reflection_id = ?", (reflection_id,))


def refresh(db: sqlite3.Connection) -> int:
    """Index every reflection whose words changed since it was indexed; return how many."""
    done = 0
    while True:
        ids = [
            int(row[0])
            for row in db.execute(
                "SELECT reflection_id FROM search_dirty LIMIT ?", (REFRESH_BATCH,)
            ).fetchall()
        ]
        if not ids:
            return done
        with transaction(db):
            for reflection_id in ids:
                reindex(db, reflection_id)
        done += len(ids)


def rebuild(db: sqlite3.Connection) -> int:
    """Index everything again from scratch (``voxpop rebuild``); return how many."""
    with transaction(db):
        db.execute("DELETE FROM search_entry")
        db.execute(
            "INSERT OR IGNORE INTO search_dirty (reflection_id)"
            " SELECT id FROM reflection WHERE status != 'withdrawn'"
        )
    count = refresh(db)
    forget(db)
    return count


def forget(db: sqlite3.Connection) -> None:
    """Merge the index into one segment, so the words of deleted entries are gone from it
    (with ``secure_delete`` on, the freed pages are zeroed too). After a withdrawal."""
    with transaction(db):
        db.execute("INSERT INTO search_entry (search_entry) VALUES ('optimize')")


# -- searching ---------------------------------------------------------------------------------


def search(
    db: sqlite3.Connection,
    event_id: int,
    text: str,
    *,
    publishable_only: bool = False,
    limit: int = 200,
) -> list[Found]:
    """Reflections of the event whose captions, words or tags match ``text``, best first,
    each with its hits (captions in time order). Withdrawn reflections are never found."""
    query = fts_query(text)
    if query is None:
        return []
    refresh(db)
    sql = (
        "SELECT s.reflection_id, s.source, s.start,"
        " snippet(search_entry, 0, ?, ?, '…', ?) AS snippet, bm25(search_entry) AS rank"
        " FROM search_entry s JOIN reflection r ON r.id = s.reflection_id"
        " WHERE search_entry MATCH ? AND r.event_id = ? AND r.status != 'withdrawn'"
    )
    params: list[object] = [_OPEN, _CLOSE, SNIPPET_TOKENS, query, event_id]
    if publishable_only:
        from voxpop.archive.service import publishable_ids_sql

        sql += f" AND s.reflection_id IN ({publishable_ids_sql()})"
        params.append(event_id)
    sql += " ORDER BY rank LIMIT ?"
    params.append(limit * 5)
    found: dict[int, Found] = {}
    for row in db.execute(sql, params).fetchall():
        reflection_id = int(row["reflection_id"])
        if reflection_id not in found:
            if len(found) >= limit:
                continue
            found[reflection_id] = Found(reflection_id)
        start = row["start"]
        found[reflection_id].hits.append(
            Hit(row["source"], float(start) if start is not None else None, row["snippet"])
        )
    for item in found.values():
        item.hits.sort(key=lambda hit: (hit.start is None, hit.start or 0.0))
    return list(found.values())


def hits_for(
    db: sqlite3.Connection, text: str, ids: list[int], per_reflection: int = 3
) -> dict[int, list[Hit]]:
    """Where ``text`` matched in each of these reflections (captions first, in time order),
    for showing under each item of a list already chosen."""
    query = fts_query(text)
    if query is None or not ids:
        return {}
    rows = rows_in(
        db,
        "SELECT reflection_id, source, start, snippet(search_entry, 0, ?, ?, '…', ?) AS snippet"
        " FROM search_entry WHERE search_entry MATCH ? AND reflection_id",
        ids,
        after=" ORDER BY reflection_id, source, CAST(start AS REAL)",
        params=[_OPEN, _CLOSE, SNIPPET_TOKENS, query],
    )
    found: dict[int, list[Hit]] = {}
    for row in rows:
        hits = found.setdefault(int(row["reflection_id"]), [])
        if len(hits) < per_reflection:
            start = row["start"]
            hits.append(Hit(row["source"], float(start) if start is not None else None,
                            row["snippet"]))  # fmt: skip
    return found
