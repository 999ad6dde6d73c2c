"""The review queue's queries and changes.

Every change a facilitator makes (approve, hide, star, perspective, tags, first name, trim,
transcript, retry) is checked here, then written in one transaction together with its
``audit_log`` row, so the data and its history never disagree. Bad input raises
``ReviewError`` with a message for the facilitator, before anything is written.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from voxpop import audit, jobs, models, reasons
from voxpop.db import rows_in, snapshot, transaction, utcnow
from voxpop.errors import VoxpopError
from voxpop.media import reel, vtt
from voxpop.media.colours import safe_colour
from voxpop.reels import service as reel_service
from voxpop.reflection import processing, search, transcripts
from voxpop.reflection.records import FIRST_NAME_MAX

PAGE_SIZE = 60
BULK_LIMIT = 200
# The delivery MP4 has a keyframe exactly every 2 s; the reel cuts there (media/transcode.py).
KEYFRAME_SECONDS = 2.0
# Keys 1–8 pick the first eight perspectives of the event.
PERSPECTIVE_KEYS = 8
TAG_MAX_CHARS = 40
TAGS_PER_REFLECTION = 20
TRANSCRIPT_MAX_CHARS = 20_000
REVIEW_STATES = ("waiting", "approved", "hidden")
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "processing": ("received", "processing"),
    "ready": ("ready",),
    "failed": ("failed",),
}
REVIEW_FILTERS = ("waiting", "approved", "hidden", "starred")
# Where a recording's captions stand for the people who write and check them (issue 16), from
# the reflection ``r`` and its transcript row ``t``: the speech step's status while the captions
# are its own (or there are none), "written" once a person has written captions or changed the
# machine's draft (until they are checked). One rule for the label, the work lists and counts.
CAPTION_STATE = (
    "(CASE WHEN t.status = 'checked' THEN 'checked'"
    " WHEN COALESCE(r.transcript_vtt, '') = '' THEN CASE WHEN t.status IN"
    " ('queued', 'needs-person', 'no-speech') THEN t.status ELSE 'none' END"
    " WHEN t.status = 'draft' AND r.transcript_vtt = t.draft_vtt THEN 'draft'"
    " ELSE 'written' END)"
)
# The captions work lists. "waiting": approved clips that cannot go online until a person
# checks their captions.
CAPTION_FILTERS: dict[str, str] = {
    "waiting": "r.kind != 'text' AND r.review_state = 'approved' AND r.status = 'ready'"
    f" AND {CAPTION_STATE} != 'checked'",
    "draft": f"r.kind != 'text' AND {CAPTION_STATE} = 'draft'",
    "written": f"r.kind != 'text' AND {CAPTION_STATE} = 'written'",
    "needs-person": f"r.kind != 'text' AND {CAPTION_STATE} = 'needs-person'",
    "no-speech": f"r.kind != 'text' AND {CAPTION_STATE} = 'no-speech'",
    "checked": f"r.kind != 'text' AND {CAPTION_STATE} = 'checked'",
    "none": f"r.kind != 'text' AND r.status = 'ready' AND {CAPTION_STATE} = 'none'",
}


class ReviewError(VoxpopError):
    """A change the review queue cannot make as asked; nothing was changed."""


class ReflectionNotFound(VoxpopError):
    """No such reflection in this event (or it was withdrawn)."""

    status = 404


# -- what the pages show ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the queue is narrowed to; empty values mean "any"."""

    perspective: str = ""  # slug
    prompt: int | None = None
    kind: str = ""
    status: str = ""  # a key of STATUS_FILTERS
    review: str = ""  # one of REVIEW_FILTERS
    q: str = ""
    captions: str = ""  # a key of CAPTION_FILTERS

    def query_args(self) -> dict[str, Any]:
        """The filters as URL query arguments (only those set)."""
        args = {
            "perspective": self.perspective,
            "prompt": str(self.prompt) if self.prompt else "",
            "kind": self.kind,
            "status": self.status,
            "review": self.review,
            "q": self.q,
            "captions": self.captions,
        }
        return {key: value for key, value in args.items() if value}


@dataclass(frozen=True)
class PerspectiveChoice:
    """A perspective as the review pages show it (colour already checked for use in CSS)."""

    id: int
    slug: str
    label: str
    colour: str
    retired: bool = False
    key: str | None = None  # the digit that picks it, if any


@dataclass(frozen=True)
class ConsentSummary:
    """What the delegate agreed to, and which wording they saw."""

    version: int
    sha256: str
    archive: bool
    reel: bool
    online: bool
    show_name: bool
    given_at: str
    withdrawn_at: str | None
    # Shown on the big screen in the room (the live wall); 0 for consents from before it.
    room: bool = False
    # "kiosk" (ticked by the delegate) or "verbal" (given aloud to the named interviewer).
    method: str = "kiosk"
    interviewer: str | None = None


@dataclass(frozen=True)
class ReviewReflection:
    """One reflection as the review queue shows it."""

    id: int
    kind: str
    status: str
    failure_reason: str | None
    created_at: str
    duration: float | None
    review_state: str
    starred: bool
    trim_in: float | None
    trim_out: float | None
    text_body: str | None
    display_name: str | None  # None unless the delegate agreed to show it
    # No receipt code: it is the delegate's credential to withdraw, never shown to staff.
    lang: str
    perspective: PerspectiveChoice
    prompt: str
    consent: ConsentSummary | None
    progress: float
    job_status: str | None
    assets: frozenset[str]
    transcript_vtt: str | None
    reviewed_at: str | None
    tags: tuple[str, ...] = field(default=())
    # How it was captured: {"via": "tus"|"multipart", "recorder_mime": …, "recovered": …}.
    capture: dict[str, Any] = field(default_factory=dict)
    kiosk_name: str | None = None
    captions: CaptionsState | None = None
    # False when it failed because its file is gone: no Retry button then (see retry_processing).
    retry_can_help: bool = True

    @property
    def name_allowed(self) -> bool:
        """True when the delegate agreed to show their first name."""
        return bool(self.consent and self.consent.show_name)

    @property
    def processing(self) -> bool:
        return self.status in ("received", "processing")

    @property
    def can_trim(self) -> bool:
        """Trims and captions apply to recordings whose length is known."""
        return self.kind != "text" and bool(self.duration)

    def snapped_trim(self) -> tuple[float, float] | None:
        """The trim the reel will actually use (keyframes every 2 s), if the length is known."""
        if not self.duration:
            return None
        return snap_trim(self.trim_in, self.trim_out, self.duration)

    def as_json(self) -> dict[str, Any]:
        """What the review script needs to update the page after a change."""
        return {
            "id": self.id,
            "review_state": self.review_state,
            "starred": self.starred,
            "status": self.status,
            "perspective": {
                "id": self.perspective.id,
                "slug": self.perspective.slug,
                "label": self.perspective.label,
                "colour": self.perspective.colour,
            },
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class PageStart:
    """Where a page of the queue starts, by a reflection rather than a page number: the next
    page holds the reflections just older than the last one shown (``before``), the page
    before it those just newer than the first one shown (``after``). Approving or hiding
    cards on a page takes them out of a "waiting" list, which would shift every numbered page
    after it and skip as many unreviewed reflections; a reflection's place does not move."""

    before: int | None = None  # show those older than this reflection
    after: int | None = None  # show those newer than this reflection (when ``before`` is unset)

    def query_args(self) -> dict[str, Any]:
        """The start as URL query arguments (none for the newest page)."""
        if self.before is not None:
            return {"before": self.before}
        if self.after is not None:
            return {"after": self.after}
        return {}


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue (with, when searching, where each item matched).

    ``newer`` and ``older`` count the reflections matching the filters that come before the
    first card and after the last one, so the page is cards ``newer + 1`` to ``newer +
    len(items)`` of ``total``; ``start`` is the page asked for (what an empty page was past).
    """

    items: list[ReviewReflection]
    total: int
    newer: int = 0
    older: int = 0
    start: PageStart = field(default_factory=PageStart)
    hits: dict[int, list[search.Hit]] = field(default_factory=dict)

    @property
    def first_number(self) -> int:
        """The place of the first card in the whole filtered list (1 for the newest)."""
        return self.newer + 1

    @property
    def last_number(self) -> int:
        """The place of the last card in the whole filtered list."""
        return self.newer + len(self.items)

    @property
    def is_whole_list(self) -> bool:
        """True when this page shows every reflection matching the filters."""
        return not self.newer and not self.older

    def newer_start(self) -> PageStart | None:
        """Where the page of newer reflections starts, if there are any."""
        if not self.newer:
            return None
        if self.items:
            return PageStart(after=self.items[0].id)
        return PageStart(after=self.start.before)

    def older_start(self) -> PageStart | None:
        """Where the page of older reflections starts, if there are any."""
        if not self.older:
            return None
        if self.items:
            return PageStart(before=self.items[-1].id)
        return PageStart(before=self.start.after)


@dataclass(frozen=True)
class CaptionsState:
    """Where a recording's captions stand (issue 16): the transcript's status, why a person
    must write them, who checked them and when, and the transcription job, if one runs."""

    status: str  # as people see it (CAPTION_STATE): a transcripts.STATUSES value or "written"
    speech_status: str = "none"  # the speech step's own (transcripts.STATUSES)
    reason: str | None = None
    checked_at: str | None = None
    checked_by: str | None = None
    job_status: str | None = None
    job_progress: float = 0.0
    draft_vtt: str | None = None
    segments: str | None = None  # JSON, with word times

    @property
    def checked(self) -> bool:
        return self.status == "checked"

    @property
    def transcribing(self) -> bool:
        return self.job_status in ("queued", "running") and self.speech_status == "queued"


def snap_trim(
    trim_in: float | None, trim_out: float | None, duration: float
) -> tuple[float, float]:
    """Where the reel will really cut (``voxpop.media.reel.snap_trim``): in at the keyframe
    before, out at the keyframe after (or the clip's end)."""
    return reel.snap_trim(trim_in, trim_out, duration, gop=KEYFRAME_SECONDS)


def perspective_choices(
    db: sqlite3.Connection, event: models.Event, lang: str
) -> list[PerspectiveChoice]:
    """The event's current perspectives in order, the first eight with their digit key."""
    return [
        PerspectiveChoice(
            id=p.id,
            slug=p.slug,
            label=p.label(lang),
            colour=safe_colour(p.colour),
            key=str(index + 1) if index < PERSPECTIVE_KEYS else None,
        )
        for index, p in enumerate(models.perspectives(db, event.id))
    ]


_SELECT = f"""
SELECT r.*, p.slug AS p_slug, p.labels AS p_labels, p.colour AS p_colour,
       p.retired_at AS p_retired, pr.texts AS prompt_texts,
       c.archive AS c_archive, c.reel AS c_reel, c.room AS c_room, c.online AS c_online,
       c.show_name AS c_show_name, c.given_at AS c_given_at, c.withdrawn_at AS c_withdrawn_at,
       c.consent_sha256 AS c_sha256, ct.version AS c_version,
       c.method AS c_method, c.interviewer AS c_interviewer,
       (SELECT name FROM kiosk WHERE kiosk.id = r.kiosk_id) AS kiosk_name,
       j.status AS job_status, j.progress AS job_progress,
       (SELECT group_concat(kind) FROM asset WHERE asset.reflection_id = r.id) AS asset_kinds,
       t.status AS t_status, {CAPTION_STATE} AS t_state, t.reason AS t_reason,
       t.checked_at AS t_checked_at,
       (SELECT name FROM user WHERE user.id = t.checked_by) AS t_checked_by,
       t.draft_vtt AS t_draft_vtt, t.segments AS t_segments,
       tj.status AS t_job_status, tj.progress AS t_job_progress
FROM reflection r
JOIN perspective p ON p.id = r.perspective_id
JOIN prompt pr ON pr.id = r.prompt_id
LEFT JOIN consent c ON c.reflection_id = r.id
LEFT JOIN consent_text ct ON ct.id = c.consent_text_id
LEFT JOIN transcript t ON t.reflection_id = r.id
LEFT JOIN job tj ON tj.id = (SELECT id FROM job WHERE job.target_id = r.id
                            AND job.kind = 'transcribe_reflection' ORDER BY job.id DESC LIMIT 1)
LEFT JOIN job j ON j.id = (SELECT id FROM job WHERE job.target_id = r.id
                           AND job.kind = 'process_reflection' ORDER BY job.id DESC LIMIT 1)
"""  # noqa: S608 - CAPTION_STATE is ours
_ORDER = " ORDER BY r.created_at DESC, r.id DESC"
# Filters join the perspective (for its slug); WHERE clauses come only from ``_where``.
_FILTER_FROM = (
    " FROM reflection r JOIN perspective p ON p.id = r.perspective_id"
    " LEFT JOIN transcript t ON t.reflection_id = r.id"
)
_COUNT = "SELECT COUNT(*)" + _FILTER_FROM
_IDS = "SELECT r.id" + _FILTER_FROM


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(event: models.Event, filters: Filters) -> tuple[str, list[Any]]:
    clauses = ["r.event_id = ?", "r.status != 'withdrawn'"]
    params: list[Any] = [event.id]
    if filters.perspective:
        clauses.append("p.slug = ?")
        params.append(filters.perspective)
    if filters.prompt:
        clauses.append("r.prompt_id = ?")
        params.append(filters.prompt)
    if filters.kind in models.KINDS:
        clauses.append("r.kind = ?")
        params.append(filters.kind)
    if filters.status in STATUS_FILTERS:
        statuses = STATUS_FILTERS[filters.status]
        clauses.append(f"r.status IN ({', '.join('?' * len(statuses))})")
        params.extend(statuses)
    if filters.review == "starred":
        clauses.append("r.starred = 1")
    elif filters.review in REVIEW_STATES:
        clauses.append("r.review_state = ?")
        params.append(filters.review)
    if filters.captions in CAPTION_FILTERS:
        clauses.append(f"({CAPTION_FILTERS[filters.captions]})")
    if filters.q:
        # Whole words and word starts through the search index (accents folded), or any part
        # of a word as typed. Captions are stored as WebVTT, where & < > are escaped: look for
        # both spellings.
        plain, escaped = _like(filters.q), _like(vtt.escape_text(filters.q))
        query = search.fts_query(filters.q)
        indexed = "r.id IN (SELECT reflection_id FROM search_entry WHERE search_entry MATCH ?) OR "
        clauses.append(
            "(" + (indexed if query else "") + "r.text_body LIKE ? ESCAPE '\\'"  # noqa: S608
            " OR r.transcript_vtt LIKE ? ESCAPE '\\' OR r.transcript_vtt LIKE ? ESCAPE '\\'"
            " OR EXISTS (SELECT 1 FROM reflection_tag rt JOIN tag t ON t.id = rt.tag_id"
            " WHERE rt.reflection_id = r.id AND t.name LIKE ? ESCAPE '\\'))"
        )
        params.extend([*([query] if query else []), plain, plain, escaped, plain])
    return " WHERE " + " AND ".join(clauses), params


def _tags_of(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    sql = (
        "SELECT rt.reflection_id, t.name FROM reflection_tag rt JOIN tag t ON t.id = rt.tag_id"
        " WHERE rt.reflection_id"
    )
    for row in rows_in(db, sql, ids, after=" ORDER BY t.name COLLATE NOCASE"):
        found.setdefault(row["reflection_id"], []).append(row["name"])
    return {key: tuple(value) for key, value in found.items()}


def _from_row(row: sqlite3.Row, lang: str, tags: tuple[str, ...]) -> ReviewReflection:
    consent = None
    if row["c_version"] is not None:
        consent = ConsentSummary(
            version=row["c_version"],
            sha256=row["c_sha256"],
            archive=bool(row["c_archive"]),
            reel=bool(row["c_reel"]),
            room=bool(row["c_room"]),
            online=bool(row["c_online"]),
            show_name=bool(row["c_show_name"]),
            given_at=row["c_given_at"],
            withdrawn_at=row["c_withdrawn_at"],
            method=row["c_method"],
            interviewer=row["c_interviewer"],
        )
    show_name = bool(consent and consent.show_name)
    return ReviewReflection(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        # Stored in English by the worker; shown in the reader's language (voxpop.reasons).
        failure_reason=reasons.render(row["failure_reason"], _),
        retry_can_help=processing.retry_can_help(row["failure_reason"]),
        created_at=row["created_at"],
        duration=row["duration_seconds"],
        review_state=row["review_state"],
        starred=bool(row["starred"]),
        trim_in=row["trim_in"],
        trim_out=row["trim_out"],
        text_body=row["text_body"],
        display_name=row["display_name"] if show_name else None,
        lang=row["lang"],
        perspective=PerspectiveChoice(
            id=row["perspective_id"],
            slug=row["p_slug"],
            label=str(models.localised(json.loads(row["p_labels"]), lang)),
            colour=safe_colour(row["p_colour"]),
            retired=row["p_retired"] is not None,
        ),
        prompt=str(models.localised(json.loads(row["prompt_texts"]), lang)),
        consent=consent,
        progress=float(row["job_progress"] or 0.0),
        job_status=row["job_status"],
        assets=frozenset((row["asset_kinds"] or "").split(",")) - {""},
        transcript_vtt=row["transcript_vtt"],
        reviewed_at=row["reviewed_at"],
        tags=tags,
        capture=json.loads(row["capture"]) if row["capture"] else {},
        kiosk_name=row["kiosk_name"],
        captions=None
        if row["kind"] == "text"
        else CaptionsState(
            status=row["t_state"],
            speech_status=row["t_status"] or "none",
            reason=reasons.render(row["t_reason"], _),
            checked_at=row["t_checked_at"],
            checked_by=row["t_checked_by"],
            job_status=row["t_job_status"],
            job_progress=float(row["t_job_progress"] or 0.0),
            draft_vtt=row["t_draft_vtt"],
            segments=row["t_segments"],
        ),
    )


def _place_of(
    db: sqlite3.Connection, event: models.Event, reflection_id: int | None
) -> tuple[str, int] | None:
    """A reflection's place in the queue's order (withdrawn ones keep theirs), if it exists."""
    if reflection_id is None:
        return None
    row = db.execute(
        "SELECT created_at, id FROM reflection WHERE id = ? AND event_id = ?",
        (reflection_id, event.id),
    ).fetchone()
    return (row["created_at"], row["id"]) if row else None


# Newer and older than a place in the queue's order (created_at, then id, both descending).
_NEWER = " AND (r.created_at > ? OR (r.created_at = ? AND r.id > ?))"
_OLDER = " AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?))"
_ORDER_OLDEST_FIRST = " ORDER BY r.created_at ASC, r.id ASC"


def list_reflections(
    db: sqlite3.Connection,
    event: models.Event,
    filters: Filters,
    lang: str,
    start: PageStart | None = None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """A page of the event's reflections matching ``filters``, newest first: the newest
    ``page_size``, or those just older (``start.before``) or just newer (``start.after``) than
    a reflection. An unknown starting reflection gives the newest page."""
    if filters.q:
        search.refresh(db)
    start = start or PageStart()
    where, params = _where(event, filters)
    with snapshot(db):  # the cards and the counts beside them agree
        total = int(db.execute(_COUNT + where, params).fetchone()[0])
        before = _place_of(db, event, start.before)
        after = None if before else _place_of(db, event, start.after)
        start = PageStart(before=start.before) if before else PageStart(after=start.after)
        if before:
            key = [before[0], before[0], before[1]]
            rows = db.execute(
                _SELECT + where + _OLDER + _ORDER + " LIMIT ?", [*params, *key, page_size]
            ).fetchall()
        elif after:
            key = [after[0], after[0], after[1]]
            rows = db.execute(
                _SELECT + where + _NEWER + _ORDER_OLDEST_FIRST + " LIMIT ?",
                [*params, *key, page_size],
            ).fetchall()[::-1]
        else:
            start = PageStart()
            rows = db.execute(
                _SELECT + where + _ORDER + " LIMIT ?", [*params, page_size]
            ).fetchall()
        if rows:
            first = rows[0]
            key = [first["created_at"], first["created_at"], first["id"]]
            newer = int(db.execute(_COUNT + where + _NEWER, [*params, *key]).fetchone()[0])
        else:  # past the end one way: everything matching is the other way
            newer = total if before else 0
        tags = _tags_of(db, [row["id"] for row in rows])
    items = [_from_row(row, lang, tags.get(row["id"], ())) for row in rows]
    hits = search.hits_for(db, filters.q, [item.id for item in items]) if filters.q else {}
    older = max(0, total - newer - len(items))
    return QueuePage(items=items, total=total, newer=newer, older=older, start=start, hits=hits)


def review_counts(db: sqlite3.Connection, event: models.Event) -> dict[str, int]:
    """How many reflections are waiting, approved, hidden and starred."""
    row = db.execute(
        "SELECT SUM(review_state = 'waiting') AS waiting, SUM(review_state = 'approved')"
        " AS approved, SUM(review_state = 'hidden') AS hidden, SUM(starred) AS starred"
        " FROM reflection WHERE event_id = ? AND status != 'withdrawn'",
        (event.id,),
    ).fetchone()
    return {key: int(row[key] or 0) for key in ("waiting", "approved", "hidden", "starred")}


def captions_counts(db: sqlite3.Connection, event: models.Event) -> dict[str, int]:
    """How many recordings are in each of the captions work lists (CAPTION_FILTERS)."""
    found = {}
    for key, clause in CAPTION_FILTERS.items():
        row = db.execute(
            _COUNT + " WHERE r.event_id = ? AND r.status != 'withdrawn' AND (" + clause + ")",
            (event.id,),
        ).fetchone()
        found[key] = int(row[0])
    return found


@dataclass(frozen=True)
class QueueCounts:
    """The queue's counts at one moment: review states (``review_counts``), the captions work
    lists (``captions_counts``), and ``as_of``, the newest audit row they include. Every
    review change writes one, so of two answers the one with the higher ``as_of`` is the
    later state (answers to quick changes can arrive out of order)."""

    review: dict[str, int]
    captions: dict[str, int]
    as_of: int


def queue_counts(db: sqlite3.Connection, event: models.Event) -> QueueCounts:
    """The review and captions counts the queue shows, read together."""
    with snapshot(db):
        as_of = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM audit_log").fetchone()[0])
        return QueueCounts(review_counts(db, event), captions_counts(db, event), as_of)


def get_reflection(
    db: sqlite3.Connection, event: models.Event, reflection_id: int, lang: str = "en"
) -> ReviewReflection:
    """One reflection of the event. Raises ReflectionNotFound (also once withdrawn)."""
    row = db.execute(
        _SELECT + " WHERE r.id = ? AND r.event_id = ? AND r.status != 'withdrawn'",
        (reflection_id, event.id),
    ).fetchone()
    if row is None:
        raise ReflectionNotFound(_("That reflection does not exist, or it was withdrawn."))
    return _from_row(row, lang, _tags_of(db, [reflection_id]).get(reflection_id, ()))


def neighbours(
    db: sqlite3.Connection, event: models.Event, filters: Filters, reflection: ReviewReflection
) -> tuple[int | None, int | None]:
    """The ids before (newer) and after (older) this reflection in the filtered queue."""
    where, params = _where(event, filters)
    base = _IDS + where
    key = [reflection.created_at, reflection.created_at, reflection.id]
    newer = db.execute(
        base + " AND (r.created_at > ? OR (r.created_at = ? AND r.id > ?))"
        " ORDER BY r.created_at ASC, r.id ASC LIMIT 1",
        [*params, *key],
    ).fetchone()
    older = db.execute(
        base + " AND (r.created_at < ? OR (r.created_at = ? AND r.id < ?))" + _ORDER + " LIMIT 1",
        [*params, *key],
    ).fetchone()
    return (newer["id"] if newer else None, older["id"] if older else None)


def transcript_cues(reflection: ReviewReflection) -> list[vtt.Cue]:
    """The reflection's captions as cues to edit (none yet: an empty list)."""
    return transcript_cues_of(reflection.transcript_vtt)


def transcript_lines(reflection: ReviewReflection, cues: list[vtt.Cue]) -> list[dict[str, Any]]:
    """The captions as lines for the transcript beside the player: ``start``, ``end``,
    ``text`` and, while the captions are still exactly the machine's draft, each word with its
    own time (so the words being said can be highlighted); otherwise the line is the unit."""
    words: list[dict[str, Any]] = []
    state = reflection.captions
    if (
        state
        and state.segments
        and state.draft_vtt
        and state.draft_vtt == reflection.transcript_vtt
    ):
        try:
            words = [
                {"start": float(w["start"]), "end": float(w["end"]), "text": str(w["text"]).strip()}
                for segment in json.loads(state.segments)
                for w in segment.get("words", [])
                if str(w.get("text", "")).strip()
            ]
        except (ValueError, KeyError, TypeError):
            words = []
    lines = []
    for cue in cues:
        inside = [w for w in words if cue.start <= (w["start"] + w["end"]) / 2 < cue.end]
        lines.append(
            {"start": round(cue.start, 3), "end": round(cue.end, 3),
             "text": cue.text.replace("\n", " "), "words": inside}
        )  # fmt: skip
    return lines


def transcript_cues_of(source: str | None) -> list[vtt.Cue]:
    """Captions (WebVTT) as cues (none yet: an empty list)."""
    if not source:
        return []
    try:
        return vtt.parse_vtt(source)
    except vtt.VttError:
        # Only this module writes transcripts, always through format_vtt; a damaged one is
        # shown as empty rather than breaking the page, and is replaced on the next save.
        return []


def tag_suggestions(db: sqlite3.Connection, event: models.Event, limit: int = 30) -> list[str]:
    """The event's tags, most used first (to offer while tagging)."""
    rows = db.execute(
        "SELECT t.name, COUNT(rt.reflection_id) AS uses FROM tag t"
        " LEFT JOIN reflection_tag rt ON rt.tag_id = t.id WHERE t.event_id = ?"
        " GROUP BY t.id ORDER BY uses DESC, t.name COLLATE NOCASE LIMIT ?",
        (event.id, limit),
    ).fetchall()
    return [row["name"] for row in rows]


# -- changes ----------------------------------------------------------------------------------


def _row_for_change(db: sqlite3.Connection, event: models.Event, reflection_id: int) -> sqlite3.Row:
    row = db.execute(
        "SELECT r.*, c.show_name AS c_show_name, c.reel AS c_reel FROM reflection r"
        " LEFT JOIN consent c ON c.reflection_id = r.id"
        " WHERE r.id = ? AND r.event_id = ? AND r.status != 'withdrawn'",
        (reflection_id, event.id),
    ).fetchone()
    if row is None:
        raise ReflectionNotFound(_("That reflection does not exist, or it was withdrawn."))
    return row


def _update(
    db: sqlite3.Connection, reflection_id: int, *, reels_change: bool = True, **columns: Any
) -> None:
    """Write ``columns``; the reels showing the reflection render again when one of their
    fields changed, unless the caller knows every reel would show the same (``reels_change``)."""
    if reels_change and reel_service.REEL_FIELDS & columns.keys():
        reel_service.reflections_changed(db, [reflection_id])  # their reels render again
    columns["reviewed_at"] = utcnow()
    assignments = ", ".join(f"{name} = ?" for name in columns)
    db.execute(
        f"UPDATE reflection SET {assignments} WHERE id = ?",  # noqa: S608 - names are ours
        [*columns.values(), reflection_id],
    )


def _check_state(state: str) -> None:
    if state not in REVIEW_STATES:
        raise ReviewError(_("Choose approve, hide or back to waiting."))


def _apply_state(
    db: sqlite3.Connection, row: sqlite3.Row, state: str, *, actor: audit.Actor | None
) -> bool:
    if row["review_state"] == state:
        return False
    _update(db, row["id"], review_state=state)
    audit.record(db, "reflection.review", "reflection", row["id"],
                 {"review_state": row["review_state"]}, {"review_state": state},
                 actor=actor)  # fmt: skip
    return True


def set_review_state(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_id: int,
    state: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Approve, hide, or put back to waiting."""
    _check_state(state)
    with transaction(db):
        _apply_state(db, _row_for_change(db, event, reflection_id), state, actor=actor)


def bulk_set_review_state(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_ids: Sequence[int],
    state: str,
    *,
    actor: audit.Actor | None,
) -> int:
    """Approve or hide many at once (all or none); return how many changed."""
    _check_state(state)
    unique = list(dict.fromkeys(reflection_ids))
    if not unique:
        raise ReviewError(_("Select at least one reflection first."))
    if len(unique) > BULK_LIMIT:
        raise ReviewError(_("Select at most %(max)d reflections at a time.", max=BULK_LIMIT))
    changed = 0
    with transaction(db):
        for reflection_id in unique:
            changed += _apply_state(
                db, _row_for_change(db, event, reflection_id), state, actor=actor
            )
    return changed


def set_starred(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_id: int,
    starred: bool,
    *,
    actor: audit.Actor | None,
) -> None:
    """Star for the highlights reel (only if the delegate agreed to the reel), or unstar."""
    with transaction(db):
        row = _row_for_change(db, event, reflection_id)
        if starred and row["c_reel"] != 1:
            raise ReviewError(
                _("This person did not agree to the highlights reel, so it cannot be starred.")
            )
        if bool(row["starred"]) != starred:
            _update(db, reflection_id, starred=int(starred))
            audit.record(db, "reflection.star", "reflection", reflection_id,
                         {"starred": bool(row["starred"])}, {"starred": starred},
                         actor=actor)  # fmt: skip
            reel_service.note_for_follow_up([reflection_id])  # prepare its reel pieces early


def set_perspective(
    db: sqlite3.Connection,
    queue: jobs.JobQueue,
    event: models.Event,
    reflection_id: int,
    perspective_id: int,
    *,
    actor: audit.Actor | None,
) -> None:
    """Move a reflection to another of the event's current (not retired) perspectives.

    Text and audio reflections show their perspective on their card, so a change queues
    them to be processed again (the files are rebuilt from the original and the database).
    """
    current = {p.id: p for p in models.perspectives(db, event.id)}
    if perspective_id not in current:
        raise ReviewError(_("Choose one of the event's perspectives."))
    with transaction(db):
        row = _row_for_change(db, event, reflection_id)
        if row["perspective_id"] == perspective_id:
            return
        old = db.execute(
            "SELECT slug FROM perspective WHERE id = ?", (row["perspective_id"],)
        ).fetchone()
        _update(db, reflection_id, perspective_id=perspective_id)
        audit.record(db, "reflection.perspective", "reflection", reflection_id,
                     {"perspective": old["slug"]},
                     {"perspective": current[perspective_id].slug}, actor=actor)  # fmt: skip
    _rebuild_cards(db, queue, row)


def _rebuild_cards(db: sqlite3.Connection, queue: jobs.JobQueue, row: sqlite3.Row) -> None:
    if row["kind"] in ("text", "audio") and row["status"] == "ready":
        jobs.enqueue_processing(db, queue, row["id"])


def clean_tags(names: Iterable[str]) -> list[str]:
    """Tags as kept: trimmed, inner spaces collapsed, no duplicates (ignoring case).

    Raises ReviewError for a tag that is too long, or too many tags.
    """
    kept: dict[str, str] = {}
    for name in names:
        tag = " ".join(name.split())
        if not tag:
            continue
        if len(tag) > TAG_MAX_CHARS or not tag.isprintable():
            raise ReviewError(
                _("A tag can be at most %(max)d characters, on one line.", max=TAG_MAX_CHARS)
            )
        kept.setdefault(tag.casefold(), tag)
    if len(kept) > TAGS_PER_REFLECTION:
        raise ReviewError(_("A reflection can have at most %(max)d tags.", max=TAGS_PER_REFLECTION))
    return list(kept.values())


def set_tags(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_id: int,
    names: Iterable[str],
    *,
    actor: audit.Actor | None,
) -> None:
    """Replace a reflection's tags; new tags join the event's list of suggestions."""
    wanted = clean_tags(names)
    with transaction(db):
        _row_for_change(db, event, reflection_id)
        before = list(_tags_of(db, [reflection_id]).get(reflection_id, ()))
        tag_ids = []
        for name in wanted:
            db.execute("INSERT OR IGNORE INTO tag (event_id, name) VALUES (?, ?)", (event.id, name))
            tag = db.execute(
                "SELECT id, name FROM tag WHERE event_id = ? AND name = ?", (event.id, name)
            ).fetchone()
            tag_ids.append(tag["id"])
        db.execute("DELETE FROM reflection_tag WHERE reflection_id = ?", (reflection_id,))
        db.executemany(
            "INSERT INTO reflection_tag (reflection_id, tag_id) VALUES (?, ?)",
            [(reflection_id, tag_id) for tag_id in tag_ids],
        )
        after = list(_tags_of(db, [reflection_id]).get(reflection_id, ()))
        if before != after:
            _update(db, reflection_id)
            audit.record(db, "reflection.tags", "reflection", reflection_id,
                         {"tags": before}, {"tags": after}, actor=actor)  # fmt: skip


def set_display_name(
    db: sqlite3.Connection,
    queue: jobs.JobQueue,
    event: models.Event,
    reflection_id: int,
    name: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Correct the first name shown (only when the delegate agreed to show it); blank removes it."""
    cleaned = " ".join(name.split()) or None
    if cleaned and len(cleaned) > FIRST_NAME_MAX:
        raise ReviewError(_("A first name can be at most %(max)d characters.", max=FIRST_NAME_MAX))
    with transaction(db):
        row = _row_for_change(db, event, reflection_id)
        if row["c_show_name"] != 1:
            raise ReviewError(_("This person did not agree to show their first name."))
        if row["display_name"] == cleaned:
            return
        _update(db, reflection_id, display_name=cleaned)
        audit.record(db, "reflection.name", "reflection", reflection_id,
                     {"display_name": row["display_name"]}, {"display_name": cleaned},
                     actor=actor)  # fmt: skip
    if row["kind"] == "text":  # the quote card carries the name
        _rebuild_cards(db, queue, row)


def _duration_for_edit(row: sqlite3.Row) -> float:
    if row["kind"] == "text" or not row["duration_seconds"]:
        raise ReviewError(
            _("Trims and captions need a processed recording. Wait until it is ready.")
        )
    return float(row["duration_seconds"])


@dataclass(frozen=True)
class TrimChange:
    """What saving a trim did: whether it changed the stored trim, and where the reel cuts.

    The archive and the screen in the room play the trim as set; the reel cuts at keyframes
    (``snap_trim``), so a trim can change the one and not the other.
    """

    saved: bool  # the stored trim changed (and was audited)
    cleared: bool  # no trim is set now
    cut: tuple[float, float]  # where the reel cuts now
    reel_changed: bool  # the reel's cut moved
    reel_whole_clip: bool  # a trim is set, but the reel's nearest cut points are the clip's ends


def set_trim(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_id: int,
    trim_in: float | None,
    trim_out: float | None,
    *,
    actor: audit.Actor | None,
) -> TrimChange:
    """Set where the clip starts and ends (None: the very start or end), as the archive and the
    room's screen play it; the reel cuts at the keyframes around it. A point at the clip's very
    start or end is stored as None, so trimming to the whole clip is no trim. A change that
    moves nothing is not written, and reels are told only when their cut moves."""
    with transaction(db):
        row = _row_for_change(db, event, reflection_id)
        duration = _duration_for_edit(row)
        start = 0.0 if trim_in is None else trim_in
        end = duration if trim_out is None else trim_out
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ReviewError(_("Trim points must be numbers of seconds."))
        if not 0 <= start < end <= duration + 0.0005:
            raise ReviewError(
                _(
                    "The start must be before the end, both between 0 and %(duration)s seconds.",
                    duration=f"{duration:.1f}",
                )
            )
        new = {
            "trim_in": None if start <= 0 else round(start, 3),
            "trim_out": None if end >= duration else round(end, 3),
        }
        old = {"trim_in": row["trim_in"], "trim_out": row["trim_out"]}
        old_cut = snap_trim(old["trim_in"], old["trim_out"], duration)
        cut = snap_trim(new["trim_in"], new["trim_out"], duration)
        cleared = new == {"trim_in": None, "trim_out": None}
        change = TrimChange(
            saved=old != new,
            cleared=cleared,
            cut=cut,
            reel_changed=cut != old_cut,
            reel_whole_clip=not cleared and reel.is_whole_clip(cut, duration),
        )
        if not change.saved:
            return change
        # The archive and the room play the new trim; a reel renders again only if its cut moved.
        _update(db, reflection_id, reels_change=change.reel_changed, **new)
        audit.record(db, "reflection.trim", "reflection", reflection_id, old, new, actor=actor)
    return change


_VTT_MESSAGES = {
    "bad_time": lambda: _("Write times as seconds (12.5) or minutes:seconds (1:02.5)."),
    "negative": lambda: _("A caption cannot start before the clip."),
    "end_before_start": lambda: _("A caption must end after it starts."),
    "beyond_end": lambda: _("A caption cannot end after the clip."),
    "out_of_order": lambda: _("Captions must be in time order."),
    "overlap": lambda: _("A caption starts before the one before it ends."),
    "empty_text": lambda: _("A caption needs some words."),
    "text_too_long": lambda: _(
        "A caption can hold at most %(max)d characters.", max=vtt.MAX_CUE_CHARS
    ),
    "too_many_cues": lambda: _("There can be at most %(max)d captions.", max=vtt.MAX_CUES),
}


def caption_problem(error: vtt.VttError) -> ReviewError:
    """A VttError worded for the facilitator (naming the caption, when there is one)."""
    message = _VTT_MESSAGES.get(error.code, lambda: _("These captions could not be read."))()
    if error.cue is not None:
        message = _("Caption %(number)d: %(problem)s", number=error.cue, problem=message)
    return ReviewError(message)


def set_transcript(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_id: int,
    cues: Sequence[vtt.Cue],
    *,
    actor: audit.Actor | None,
) -> None:
    """Replace the captions (WebVTT, text escaped); no cues removes them."""
    with transaction(db):
        row = _row_for_change(db, event, reflection_id)
        duration = _duration_for_edit(row)
        try:
            checked = vtt.validate_cues(cues, duration)
        except vtt.VttError as error:
            raise caption_problem(error) from None
        new = vtt.format_vtt(checked) if checked else None
        if new == row["transcript_vtt"]:
            return
        _update(db, reflection_id, transcript_vtt=new)
        audit.record(
            db, "reflection.transcript", "reflection", reflection_id,
            {"transcript_vtt": row["transcript_vtt"]}, {"transcript_vtt": new}, actor=actor
        )  # fmt: skip
        # Changed captions are no longer the ones a person checked: they go back to the list.
        if transcripts.unmark_checked(db, reflection_id):
            audit.record(db, "reflection.captions_unchecked", "reflection", reflection_id,
                         {"captions": "checked"}, {"captions": "changed"},
                         actor=actor)  # fmt: skip


def caption_state(db: sqlite3.Connection, reflection_id: int) -> str:
    """Where a recording's captions stand as people see them (``CAPTION_STATE``)."""
    row = db.execute(
        f"SELECT {CAPTION_STATE} FROM reflection r"  # noqa: S608 - CAPTION_STATE is ours
        " LEFT JOIN transcript t ON t.reflection_id = r.id WHERE r.id = ?",
        (reflection_id,),
    ).fetchone()
    return str(row[0]) if row else "none"


def mark_captions_checked(
    db: sqlite3.Connection, event: models.Event, reflection_id: int, *, actor: audit.Actor | None
) -> None:
    """A person has watched the clip with its captions and says they are right (issue 16):
    the captions gate opens for it. A clip needs captions first, unless the speech step heard
    nobody (then the person confirms there is nothing to caption)."""
    with transaction(db):
        row = _row_for_change(db, event, reflection_id)
        if row["kind"] == "text":
            raise ReviewError(_("A written reflection needs no captions."))
        status = caption_state(db, reflection_id)
        if status == "checked":
            return
        cues = transcript_cues_of(row["transcript_vtt"])
        if not cues and status != "no-speech":
            raise ReviewError(_("Write the captions first, then mark them checked."))
        words = " ".join(cue.text.replace("\n", " ") for cue in cues) or None
        transcripts.mark_checked(db, reflection_id, actor.id if actor else None, words)
        audit.record(db, "reflection.captions_checked", "reflection", reflection_id,
                     {"captions": status}, {"captions": "checked"}, actor=actor)  # fmt: skip


def draft_transcript(
    db: sqlite3.Connection,
    event: models.Event,
    reflection_id: int,
    text: str,
    *,
    actor: audit.Actor | None,
) -> None:
    """Replace the captions with ``text`` split into sentences across the clip's length."""
    if not text.strip():
        raise ReviewError(_("Write or paste the transcript first."))
    if len(text) > TRANSCRIPT_MAX_CHARS:
        raise ReviewError(
            _("A transcript can be at most %(max)d characters.", max=TRANSCRIPT_MAX_CHARS)
        )
    row = _row_for_change(db, event, reflection_id)
    cues = vtt.default_cues(text, _duration_for_edit(row))
    set_transcript(db, event, reflection_id, cues, actor=actor)


def retry_processing(
    db: sqlite3.Connection,
    queue: jobs.JobQueue,
    event: models.Event,
    reflection_id: int,
    *,
    actor: audit.Actor | None,
) -> None:
    """Queue a failed reflection to be processed again, with fresh attempts."""
    row = _row_for_change(db, event, reflection_id)
    job = db.execute(
        "SELECT id FROM job WHERE target_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
        (reflection_id, jobs.PROCESS_REFLECTION),
    ).fetchone()
    if row["status"] != "failed" or job is None:
        raise ReviewError(_("Only a reflection that failed to process can be retried."))
    if not processing.retry_can_help(row["failure_reason"]):
        raise ReviewError(
            _("Its recording's file is no longer on the laptop, so there is nothing to retry.")
        )
    if not jobs.retry(db, queue, job["id"]):
        raise ReviewError(_("Only a reflection that failed to process can be retried."))
    # jobs.retry commits its own transaction, so the audit row follows in the next one.
    with transaction(db):
        audit.record(db, "reflection.retry", "reflection", reflection_id,
                     {"status": "failed", "failure_reason": reasons.english(row["failure_reason"])},
                     {"status": "received", "job": job["id"]}, actor=actor)  # fmt: skip


# -- the reviewer's own choices ---------------------------------------------------------------


def single_key_shortcuts(db: sqlite3.Connection, user_id: int) -> bool:
    """Whether this user's review pages answer one-letter keys (a, h, s, 1-8, ...).

    On unless they turned them off (WCAG 2.1.4: speech input types letters, and a slip of the
    hand should not approve a reflection).
    """
    row = db.execute("SELECT review_shortcuts FROM user WHERE id = ?", (user_id,)).fetchone()
    return bool(row["review_shortcuts"]) if row else True


def set_single_key_shortcuts(db: sqlite3.Connection, user_id: int, on: bool) -> None:
    """Turn this user's single-key shortcuts on or off."""
    with transaction(db):
        db.execute("UPDATE user SET review_shortcuts = ? WHERE id = ?", (int(on), user_id))
