"""What the public archive may show: the one query that decides, and the pages built on it.

A reflection is *publishable* when it is ready, approved by a facilitator, its delegate agreed
to online publication and has not withdrawn, and it sits under one of the event's current
perspectives (a retired perspective has no tile, so its reflections are not listed). The
archive pages, the archive's media routes and the static export (``publishing.export``) all read
through this module, so they can never disagree about what is public. The live wall in the room
reads a documented variant of the same rule (``ROOM_WHERE``).

Queries are paginated and fetch a page's files in one further query (no query per item); they
use the ``reflection (event_id, perspective_id)`` index and the unique indexes on
``consent (reflection_id)`` and ``asset (reflection_id, kind)``.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from voxpop import models
from voxpop.db import rows_in
from voxpop.errors import VoxpopError
from voxpop.media import vtt
from voxpop.media.colours import safe_colour

PAGE_SIZE = 24
# The files of each kind of reflection the archive publishes (text: the quote card only; its
# silent MP4 exists for the reel).
PUBLIC_ASSETS: dict[str, tuple[str, ...]] = {
    "video": ("mp4", "poster"),
    "audio": ("mp4", "poster"),
    "text": ("card",),
}
REEL_ASSETS = ("mp4", "vtt", "captioned_mp4")

# Captions are ready for the public when a person checked them (text reflections need none).
CAPTIONS_READY = (
    "r.kind = 'text'"
    " OR EXISTS (SELECT 1 FROM transcript t WHERE t.reflection_id = r.id AND t.status = 'checked')"
    " OR (SELECT e.captions_required FROM event e WHERE e.id = r.event_id) = 0"
)
# Its main file exists (a ready reflection always has it; this guards a half rebuild).
_MAIN_FILE_EXISTS = (
    "EXISTS (SELECT 1 FROM asset a WHERE a.reflection_id = r.id"
    " AND a.kind = CASE r.kind WHEN 'text' THEN 'card' ELSE 'mp4' END)"
)
# The publishable rule, over ``reflection r JOIN consent c JOIN perspective p``. The last
# part is the captions gate (issue 16): a recording needs captions a person checked, unless
# the organiser relaxed it for the event (the studio then warns about WCAG 2.2 AA, 1.2.2).
PUBLISHABLE_WHERE = (
    "r.event_id = ? AND r.status = 'ready' AND r.review_state = 'approved'"
    " AND c.online = 1 AND c.withdrawn_at IS NULL AND p.retired_at IS NULL"
    f" AND {_MAIN_FILE_EXISTS} AND ({CAPTIONS_READY})"
)
# Why a reflection is not publishable, for telling people (the record of the day says why the
# archive holds more than it quotes): PUBLISHABLE_WHERE's conditions one at a time, the first
# that fails, as a name from NOT_PUBLISHED_REASONS; NULL when the reflection is publishable.
# Reasons that last (a choice someone made) come before those that pass with time.
# tests/test_archive.py checks it against the rule, case by case.
NOT_PUBLISHED_REASON = (
    "CASE"
    " WHEN r.status = 'withdrawn' OR c.withdrawn_at IS NOT NULL THEN 'withdrawn'"
    " WHEN p.retired_at IS NOT NULL THEN 'retired'"
    " WHEN c.online != 1 THEN 'not_online'"
    " WHEN r.review_state = 'hidden' THEN 'hidden'"
    " WHEN r.status = 'failed' THEN 'failed'"
    " WHEN r.status != 'ready' OR NOT " + _MAIN_FILE_EXISTS + " THEN 'processing'"
    " WHEN r.review_state != 'approved' THEN 'waiting'"
    " WHEN NOT (" + CAPTIONS_READY + ") THEN 'captions'"
    " END"
)
NOT_PUBLISHED_REASONS = (
    "withdrawn",
    "retired",
    "not_online",
    "hidden",
    "failed",
    "processing",
    "waiting",
    "captions",
)
# The room variant, for the live wall on the venue's screen (``voxpop.wall``): the same rule
# with the delegate's "shown in the room" consent in place of online consent, and captions a
# person checked for every recording even when the event relaxed the gate (the wall plays clips
# muted, so the checked captions are what the room reads). Derived from PUBLISHABLE_WHERE, so
# anything added to the one rule applies to the room as well.
CAPTIONS_CHECKED = (
    "r.kind = 'text'"
    " OR EXISTS (SELECT 1 FROM transcript t WHERE t.reflection_id = r.id AND t.status = 'checked')"
)


def _room_variant(rule: str) -> str:
    consent = rule.replace(" AND c.online = 1 ", " AND c.room = 1 ")
    room = consent.replace("(" + CAPTIONS_READY + ")", "(" + CAPTIONS_CHECKED + ")")
    if consent == rule or room == consent:  # pragma: no cover - guards an edit of the rule
        raise RuntimeError("The room rule could not be derived from PUBLISHABLE_WHERE")
    return room


ROOM_WHERE = _room_variant(PUBLISHABLE_WHERE)

_FROM = (
    " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
    " JOIN perspective p ON p.id = r.perspective_id"
)
_SELECT = (
    "SELECT r.id, r.kind, r.perspective_id, r.text_body, r.duration_seconds, r.created_at,"
    " r.trim_in, r.trim_out, r.transcript_vtt, r.lang, r.width, r.height,"
    " CASE WHEN c.show_name = 1 THEN r.display_name END AS public_name,"
    " c.consent_sha256, p.slug AS p_slug, p.labels AS p_labels, p.colour AS p_colour,"
    " pr.texts AS prompt_texts" + _FROM + " JOIN prompt pr ON pr.id = r.prompt_id"
)
_ORDER = " ORDER BY r.created_at, r.id"
# A reel is shown when it is archived, its files show its latest revision, and every clip it
# shows may be published online (the reel builder only asks for reel consent).
_REEL_WHERE = (
    "rl.event_id = ? AND rl.archived = 1 AND rl.status = 'ready'"  # noqa: S608
    " AND rl.rendered_revision = rl.revision"
    " AND EXISTS (SELECT 1 FROM reel_asset ra WHERE ra.reel_id = rl.id AND ra.kind = 'mp4')"
    " AND NOT EXISTS (SELECT 1 FROM reel_item ri JOIN reflection r ON r.id = ri.reflection_id"
    " JOIN consent c ON c.reflection_id = r.id WHERE ri.reel_id = rl.id"
    # the clips the render shows (voxpop.reels.service), without online consent
    " AND r.status = 'ready' AND r.review_state = 'approved' AND c.reel = 1"
    " AND c.withdrawn_at IS NULL AND (c.online = 0 OR NOT (" + CAPTIONS_READY + ")))"
)


class ArchiveNotFound(VoxpopError):
    """Nothing public here: no such perspective, page, reflection or file."""

    status = 404


@dataclass(frozen=True)
class PublicFile:
    """One derived file of a public reflection or reel (path relative to the uploads folder)."""

    kind: str
    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class PerspectiveTile:
    """A perspective on the landing page, with how many public reflections it has."""

    id: int
    slug: str
    labels: dict[str, str]
    colour: str
    count: int

    def label(self, lang: str) -> str:
        """The label in ``lang`` (English, then any, when missing)."""
        return str(models.localised(self.labels, lang))


@dataclass(frozen=True)
class PublicReflection:
    """A publishable reflection: only what the public may see (the name only if consented)."""

    id: int
    kind: str
    perspective_id: int
    perspective_slug: str
    perspective_labels: dict[str, str]
    colour: str
    prompt_texts: dict[str, str]
    text_body: str | None
    name: str | None
    duration: float | None
    created_at: str
    trim_in: float | None
    trim_out: float | None
    lang: str
    consent_sha256: str
    captions: str | None  # WebVTT, rewritten from the checked transcript
    files: dict[str, PublicFile] = field(default_factory=dict)

    def perspective_label(self, lang: str) -> str:
        """The perspective's label in ``lang``."""
        return str(models.localised(self.perspective_labels, lang))

    def prompt(self, lang: str) -> str:
        """The prompt the delegate answered, in ``lang``."""
        return str(models.localised(self.prompt_texts, lang))

    @property
    def media_fragment(self) -> str:
        """``#t=in,out`` when a facilitator trimmed the clip (players start and stop there)."""
        if self.kind == "text" or (self.trim_in is None and self.trim_out is None):
            return ""
        start = f"{self.trim_in:g}" if self.trim_in is not None else "0"
        return f"#t={start}" + (f",{self.trim_out:g}" if self.trim_out is not None else "")


@dataclass(frozen=True)
class PublicReel:
    """An archived highlights reel with its files (``mp4``, maybe ``vtt``, ``captioned_mp4``)."""

    id: int
    title: str
    duration: float | None
    files: dict[str, PublicFile] = field(default_factory=dict)


@dataclass(frozen=True)
class PerspectivePage:
    """One page of a perspective's public reflections."""

    perspective: PerspectiveTile
    reflections: list[PublicReflection]
    page: int
    pages: int
    total: int


def captions_vtt(transcript: str | None) -> str | None:
    """The transcript as WebVTT to publish, rewritten through the parser (None if unusable)."""
    if not transcript:
        return None
    return _rewritten(transcript)


@functools.lru_cache(maxsize=2048)
def _rewritten(transcript: str) -> str | None:
    # Pure, and asked for again and again (the live wall every 2 s): kept per transcript text.
    try:
        cues = vtt.parse_vtt(transcript)
    except vtt.VttError:
        return None
    return vtt.format_vtt(cues) if cues else None


def _files_of(
    db: sqlite3.Connection, ids: Sequence[int], kinds: dict[int, str]
) -> dict[int, dict[str, PublicFile]]:
    found: dict[int, dict[str, PublicFile]] = {}
    sql = "SELECT reflection_id, kind, path, sha256, bytes FROM asset WHERE reflection_id"
    for row in rows_in(db, sql, ids):
        reflection_id = row["reflection_id"]
        if row["kind"] in PUBLIC_ASSETS[kinds[reflection_id]]:
            found.setdefault(reflection_id, {})[row["kind"]] = PublicFile(
                row["kind"], row["path"], row["sha256"], row["bytes"]
            )
    return found


def _reflections_from(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[PublicReflection]:
    ids = [row["id"] for row in rows]
    files = _files_of(db, ids, {row["id"]: row["kind"] for row in rows})
    return [
        PublicReflection(
            id=row["id"],
            kind=row["kind"],
            perspective_id=row["perspective_id"],
            perspective_slug=row["p_slug"],
            perspective_labels=json.loads(row["p_labels"]),
            colour=safe_colour(row["p_colour"]),
            prompt_texts=json.loads(row["prompt_texts"]),
            text_body=row["text_body"],
            name=row["public_name"],
            duration=row["duration_seconds"],
            created_at=row["created_at"],
            trim_in=row["trim_in"],
            trim_out=row["trim_out"],
            lang=row["lang"],
            consent_sha256=row["consent_sha256"],
            captions=captions_vtt(row["transcript_vtt"]) if row["kind"] != "text" else None,
            files=files.get(row["id"], {}),
        )
        for row in rows
    ]


def publishable_reflections(
    db: sqlite3.Connection,
    event_id: int,
    *,
    perspective_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[PublicReflection]:
    """The event's publishable reflections, oldest first, with their public files.

    This is the archive's single source of truth; the static export publishes exactly these.
    """
    sql = _SELECT + " WHERE " + PUBLISHABLE_WHERE
    params: list[Any] = [event_id]
    if perspective_id is not None:
        sql += " AND r.perspective_id = ?"
        params.append(perspective_id)
    sql += _ORDER
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return _reflections_from(db, db.execute(sql, params).fetchall())


def publishable_reflection(
    db: sqlite3.Connection, event_id: int, reflection_id: int
) -> PublicReflection:
    """One publishable reflection. Raises ArchiveNotFound for anything not public."""
    return _one(db, PUBLISHABLE_WHERE, event_id, reflection_id)


def _one(db: sqlite3.Connection, rule: str, event_id: int, reflection_id: int) -> PublicReflection:
    rows = db.execute(
        _SELECT + " WHERE " + rule + " AND r.id = ?", (event_id, reflection_id)
    ).fetchall()
    if not rows:
        raise ArchiveNotFound(_("There is nothing here."))
    return _reflections_from(db, rows)[0]


def publishable_by_ids(
    db: sqlite3.Connection, event_id: int, ids: Sequence[int]
) -> list[PublicReflection]:
    """Those of ``ids`` that are publishable (in any order), with their files."""
    rows = rows_in(
        db, _SELECT + " WHERE " + PUBLISHABLE_WHERE + " AND r.id", ids, params=[event_id]
    )
    return _reflections_from(db, rows)


def is_publishable(db: sqlite3.Connection, reflection_id: int) -> bool:
    """True when the reflection may be shown in its event's public archive right now."""
    return _passes(db, PUBLISHABLE_WHERE, reflection_id)


def is_on_the_wall(db: sqlite3.Connection, reflection_id: int) -> bool:
    """True when the live wall in the room may show the reflection right now."""
    return _passes(db, ROOM_WHERE, reflection_id)


def _passes(db: sqlite3.Connection, rule: str, reflection_id: int) -> bool:
    row = db.execute(
        "SELECT 1" + _FROM + " WHERE " + rule.replace("r.event_id = ?", "r.id = ?"),
        (reflection_id,),
    ).fetchone()
    return row is not None


def room_reflections(
    db: sqlite3.Connection, event_id: int, *, newest: int | None = None
) -> list[PublicReflection]:
    """The reflections the live wall may show in the room (``ROOM_WHERE``), oldest first;
    only the ``newest`` so many when given."""
    if newest is None:
        rows = db.execute(_SELECT + " WHERE " + ROOM_WHERE + _ORDER, (event_id,)).fetchall()
    else:
        rows = db.execute(
            _SELECT + " WHERE " + ROOM_WHERE + " ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
            (event_id, newest),
        ).fetchall()[::-1]
    return _reflections_from(db, rows)


def room_counts(db: sqlite3.Connection, event_id: int) -> dict[int, int]:
    """How many reflections the wall may show, per perspective id."""
    rows = db.execute(
        "SELECT r.perspective_id, COUNT(*)" + _FROM + " WHERE " + ROOM_WHERE
        + " GROUP BY r.perspective_id",
        (event_id,),
    )  # fmt: skip
    return {row[0]: row[1] for row in rows}


def room_reflection(db: sqlite3.Connection, event_id: int, reflection_id: int) -> PublicReflection:
    """One reflection the wall may show. Raises ArchiveNotFound for anything else."""
    return _one(db, ROOM_WHERE, event_id, reflection_id)


def publishable_ids_sql() -> str:
    """``SELECT r.id …`` of the event's publishable reflections (one ``?``: the event id), for
    queries elsewhere that must keep to the same rule (search over the public archive)."""
    return "SELECT r.id" + _FROM + " WHERE " + PUBLISHABLE_WHERE


_SAFE_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def colours_stylesheet(tiles: list[PerspectiveTile]) -> str:
    """Each perspective's colour as CSS (``[data-perspective="slug"] { --colour: … }``).

    A file, not ``style=""`` attributes, so the pages run under a strict CSP (style-src
    'self'); both are checked by pattern so nothing can break out of the rule.
    """
    rules = [
        f'[data-perspective="{tile.slug}"] {{ --colour: {tile.colour}; }}\n'
        for tile in tiles
        if _SAFE_SLUG.fullmatch(tile.slug) and safe_colour(tile.colour) == tile.colour
    ]
    return "/* Perspective colours (voxpop). */\n" + "".join(rules)


def perspective_tiles(db: sqlite3.Connection, event_id: int) -> list[PerspectiveTile]:
    """Every current perspective in the event's order, with its count of public reflections."""
    counts = {
        row[0]: row[1]
        for row in db.execute(
            "SELECT r.perspective_id, COUNT(*)" + _FROM + " WHERE " + PUBLISHABLE_WHERE
            + " GROUP BY r.perspective_id",
            (event_id,),
        )
    }  # fmt: skip
    return [
        PerspectiveTile(p.id, p.slug, p.labels, safe_colour(p.colour), counts.get(p.id, 0))
        for p in models.perspectives(db, event_id)
    ]


def perspective_page(
    db: sqlite3.Connection,
    event_id: int,
    slug: str,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    tiles: list[PerspectiveTile] | None = None,
) -> PerspectivePage:
    """One page of a perspective's public reflections. Raises ArchiveNotFound for an unknown
    perspective or a page past the end."""
    tiles = perspective_tiles(db, event_id) if tiles is None else tiles
    tile = next((t for t in tiles if t.slug == slug), None)
    if tile is None:
        raise ArchiveNotFound(_("There is no such perspective in the archive."))
    pages = max(1, math.ceil(tile.count / page_size))
    if not 1 <= page <= pages:
        raise ArchiveNotFound(_("There is no such page in the archive."))
    reflections = publishable_reflections(
        db, event_id, perspective_id=tile.id, limit=page_size, offset=(page - 1) * page_size
    )
    return PerspectivePage(tile, reflections, page, pages, tile.count)


def _reel_files(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, PublicFile]]:
    found: dict[int, dict[str, PublicFile]] = {}
    sql = "SELECT reel_id, kind, path, sha256, bytes FROM reel_asset WHERE reel_id"
    for row in rows_in(db, sql, ids):
        found.setdefault(row["reel_id"], {})[row["kind"]] = PublicFile(
            row["kind"], row["path"], row["sha256"], row["bytes"]
        )
    return found


def archived_reels(db: sqlite3.Connection, event_id: int) -> list[PublicReel]:
    """The event's highlights reels that are in the public archive, oldest first."""
    rows = db.execute(
        "SELECT rl.id, rl.title, rl.duration_seconds FROM reel rl WHERE "  # noqa: S608
        + _REEL_WHERE + " ORDER BY rl.created_at, rl.id",
        (event_id,),
    ).fetchall()  # fmt: skip
    files = _reel_files(db, [row["id"] for row in rows])
    return [
        PublicReel(row["id"], row["title"], row["duration_seconds"], files.get(row["id"], {}))
        for row in rows
    ]


def archived_reel(db: sqlite3.Connection, event_id: int, reel_id: int) -> PublicReel:
    """One reel in the public archive. Raises ArchiveNotFound otherwise."""
    reel = next((r for r in archived_reels(db, event_id) if r.id == reel_id), None)
    if reel is None:
        raise ArchiveNotFound(_("There is nothing here."))
    return reel
