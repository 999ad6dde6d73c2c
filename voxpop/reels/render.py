"""Rendering a reel: plan its pieces, build the ones not yet made, join them by stream copy.

A reel is: an intro card, then for each run of clips from one perspective a section card
("In the shoes of… volunteer") followed by the clips, then an outro card. A clip is its *head*
(the first seconds re-encoded with the lower third burned in) and the rest of the clip copied
as it is; a text reflection is its quote-card clip; a clip not at 1280×720 (portrait, or
recorded small) gets a 1280×720 version first.

Every piece file is named by a hash of everything it shows, and kept: a card or head is encoded
once, and a render only encodes pieces it has never made before. So the first render after
the clips are prepared, and any re-render, costs about one copy of the reel's bytes. Pieces
live under ``uploads/derived/`` (a clip's under its own folder, so withdrawing it removes them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voxpop import formatting, jobs, models, reasons
from voxpop.db import transaction, utcnow
from voxpop.media import cards, images, reel, vtt
from voxpop.media.ffmpeg import MediaError
from voxpop.media.images import UnsafeImage
from voxpop.media.probe import video_duration
from voxpop.media.transcode import delivery_size
from voxpop.media.typesetting import CardError
from voxpop.reasons import N_, Reason
from voxpop.reels.service import (
    _SHOWABLE,
    PREPARE_REEL_CLIP,
    RENDER_REEL,
    reel_folder,
    remove_reel_files,
)
from voxpop.storage import MediaStore, file_sha256

log = logging.getLogger(__name__)

PIECE_VERSION = "1"  # change to make every cached piece again (when their look changes)
INTRO_SECONDS = 4.0
SECTION_SECONDS = 3.0
OUTRO_SECONDS = 4.0
DEFAULT_CARD_COLOUR = "#1c1c1c"
CARD_WORDS = {
    "en": {"kicker": "In the shoes of…", "thanks": "Thank you"},
    "cy": {"kicker": "Yn esgidiau…", "thanks": "Diolch"},
}
Progress = Callable[[float], None]


class NothingToRender(Exception):
    """No clip in the reel can be shown (all removed, unapproved or withdrawn)."""


@dataclass(frozen=True)
class Clip:
    """One reflection as a reel needs it (only ever built for reflections that may show)."""

    reflection_id: int
    kind: str
    delivery: Path
    sha256: str
    size: tuple[int, int]
    trim_in: float | None
    trim_out: float | None
    transcript_vtt: str | None
    perspective_id: int
    labels: dict[str, str]
    colour: str
    name: str | None


@dataclass
class PlannedPiece:
    """One piece of the film; ``build`` makes its file when it is not there yet."""

    piece: reel.Piece
    what: str
    build: Callable[[], None] | None = None
    cues: list[vtt.Cue] = field(default_factory=list)  # on the piece's own timeline

    @property
    def missing(self) -> bool:
        return self.build is not None and not self.piece.path.exists()


@dataclass
class RenderResult:
    mp4: Path
    vtt: Path
    captioned: Path | None
    duration: float
    pieces: list[PlannedPiece]
    built: int


def _key(*parts: object) -> str:
    text = json.dumps([PIECE_VERSION, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@functools.lru_cache(maxsize=4096)
def _duration(path: str, sha256: str) -> float:
    """A delivery file's video duration (cached by content: the sha256 is part of the key)."""
    return video_duration(Path(path))


def card_folder(store: MediaStore) -> Path:
    return store.derived / "reel-cards"


def clip_folder(store: MediaStore, reflection_id: int) -> Path:
    return store.derived / str(reflection_id) / "reel"


# -- loading -----------------------------------------------------------------------------------


def _clip_from_row(store: MediaStore, row: sqlite3.Row) -> Clip:
    if row["kind"] == "video" and row["width"] and row["height"]:
        size = delivery_size(row["width"], row["height"])
    else:
        size = cards.CARD_SIZE  # audio over its card, text as its quote card
    return Clip(
        reflection_id=row["id"], kind=row["kind"], delivery=store.path(row["mp4_path"]),
        sha256=row["mp4_sha256"], size=size, trim_in=row["trim_in"], trim_out=row["trim_out"],
        transcript_vtt=row["transcript_vtt"], perspective_id=row["perspective_id"],
        labels=json.loads(row["labels"]), colour=row["colour"],
        name=(row["display_name"] or None) if row["show_name"] else None,
    )  # fmt: skip


_CLIP_SQL = (
    "SELECT r.*, c.show_name, p.labels, p.colour, a.path AS mp4_path, a.sha256 AS mp4_sha256"
    " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
    " JOIN perspective p ON p.id = r.perspective_id"
    " JOIN asset a ON a.reflection_id = r.id AND a.kind = 'mp4'"
)


def load_clips(db: sqlite3.Connection, store: MediaStore, reel_id: int) -> list[Clip]:
    """The reel's clips that may show, in order (consent is checked again here)."""
    rows = db.execute(
        f"{_CLIP_SQL} JOIN reel_item i ON i.reflection_id = r.id"
        f" WHERE i.reel_id = ? AND {_SHOWABLE} ORDER BY i.position",
        (reel_id,),
    ).fetchall()
    return [_clip_from_row(store, row) for row in rows]


def load_clip(db: sqlite3.Connection, store: MediaStore, reflection_id: int) -> Clip | None:
    row = db.execute(
        f"{_CLIP_SQL} WHERE r.id = ? AND {_SHOWABLE}",
        (reflection_id,),
    ).fetchone()
    return _clip_from_row(store, row) if row else None


# -- planning ----------------------------------------------------------------------------------


def _words(lang: str) -> dict[str, str]:
    return CARD_WORDS.get(lang, CARD_WORDS["en"])


def _card(store: MediaStore, what: str, seconds: float, **card: object) -> PlannedPiece:
    """A still card as a delivery-format clip, cached by everything it shows."""
    logo_path = card.pop("logo_path", None)
    logo_sha = None
    if logo_path:
        logo_file = store.path(str(logo_path))
        logo_sha = (
            hashlib.sha256(logo_file.read_bytes()).hexdigest() if logo_file.exists() else None
        )
    key = _key("card", seconds, logo_sha, card)
    path = card_folder(store) / f"{what}-{key}.mp4"

    def build() -> None:
        png = path.with_suffix(".png")
        logo = None
        if logo_sha:
            logo = images.open_image_safely(store.path(str(logo_path)), allowed_formats=("PNG",))
        cards.render_title_card(png, logo=logo, **card)  # type: ignore[arg-type]
        try:
            reel.make_still_clip(png, path, seconds)
        finally:
            png.unlink(missing_ok=True)

    return PlannedPiece(reel.Piece(path, seconds), what, build)


def _event_subtitle(event: models.Event, lang: str) -> str | None:
    when = formatting.format_day(event.date, lang)  # "3 December 2026", British in English
    parts = [part for part in (when, event.venue) if part]
    return " · ".join(parts) or None


def plan_clip(
    store: MediaStore, clip: Clip, lang: str, second_lang: str | None
) -> list[PlannedPiece]:
    """A clip's pieces: head with lower third + copied rest (or its whole quote-card clip)."""
    full = _duration(str(clip.delivery), clip.sha256)
    if clip.kind == "text":
        return [PlannedPiece(reel.Piece(clip.delivery, full), f"clip {clip.reflection_id}")]
    folder = clip_folder(store, clip.reflection_id)
    source, source_key = clip.delivery, clip.sha256
    build_source = None
    if reel.needs_fitting(*clip.size):
        source_key = _key("fit", clip.sha256)
        source = folder / f"fit-{source_key}.mp4"

        def build_source(source: Path = source) -> None:
            if not source.exists():
                reel.fit_to_reel_frame(clip.delivery, source, full)

    start, end = reel.snap_trim(clip.trim_in, clip.trim_out, full)
    head_seconds = min(reel.HEAD_SECONDS, end - start)
    if end - start - head_seconds < 0.5:  # a sliver of a tail is not worth a piece of its own
        head_seconds = end - start
    label = str(models.localised(clip.labels, lang))
    look = {"label": label, "name": clip.name, "colour": clip.colour}
    head_key = _key("head", source_key, start, head_seconds, look)
    head = folder / f"head-{head_key}.mp4"

    def build_head() -> None:
        if build_source is not None:
            build_source()
        png = folder / f".lower-third-{head_key}.png"
        folder.mkdir(parents=True, exist_ok=True)
        reel.render_lower_third(png, **look)  # type: ignore[arg-type]
        try:
            reel.make_head(source, start, head_seconds, png, head)
        finally:
            png.unlink(missing_ok=True)

    cues: list[vtt.Cue] = []
    if clip.transcript_vtt:
        try:
            cues = vtt.trim_cues(vtt.parse_vtt(clip.transcript_vtt), start, end)
        except vtt.VttError:
            log.warning("Reflection %s has captions that no longer parse", clip.reflection_id)
    pieces = [PlannedPiece(reel.Piece(head, head_seconds), f"clip {clip.reflection_id} head",
                           build_head, cues)]  # fmt: skip
    rest = end - start - head_seconds
    if rest > 0:
        outpoint = end if end < full - 0.001 else None
        pieces.append(PlannedPiece(
            reel.Piece(source, round(rest, 3), inpoint=start + head_seconds, outpoint=outpoint),
            f"clip {clip.reflection_id} rest", build_source,
        ))  # fmt: skip
    return pieces


@dataclass
class ReelPlan:
    reel_id: int
    revision: int
    burn_captions: bool
    pieces: list[PlannedPiece]
    clips: int

    @property
    def duration(self) -> float:
        return round(sum(planned.piece.duration for planned in self.pieces), 3)

    def cues(self) -> list[vtt.Cue]:
        """Every caption on the reel's timeline."""
        timeline: list[vtt.Cue] = []
        offset = 0.0
        for planned in self.pieces:
            timeline.extend(vtt.shift_cues(planned.cues, offset))
            offset += planned.piece.duration
        return timeline


def _languages(event: models.Event) -> tuple[str, str | None]:
    """The reel's language, and a second one shown beside it on cards (bilingual events)."""
    lang = event.languages[0] if event.languages else "en"
    return lang, next((code for code in event.languages[1:] if code != lang), None)


def reel_language(event: models.Event) -> str:
    """The language a reel's cards are written in (first; a second may stand beside it)."""
    return _languages(event)[0]


def _both(lang: str, second: str | None, word: str) -> str:
    text = _words(lang)[word]
    return f"{text} · {_words(second)[word]}" if second else text


def intro_look(event: models.Event) -> dict[str, str | None]:
    """What the intro card shows: the event's name (its name in the second language above it at
    a bilingual event, when it differs), its date and venue, in its accent colour."""
    lang, second = _languages(event)
    title = event.name_in(lang)
    other = event.name_in(second) if second else None
    return {"title": title, "kicker": other if other and other != title else None,
            "subtitle": _event_subtitle(event, lang),
            "colour": event.branding.get("accent_colour") or DEFAULT_CARD_COLOUR}  # fmt: skip


def outro_look(event: models.Event) -> dict[str, str | None]:
    """What the outro card shows: thanks (in both languages at a bilingual event)."""
    lang, second = _languages(event)
    return {"title": _both(lang, second, "thanks"), "subtitle": event.name_in(lang),
            "colour": event.branding.get("accent_colour") or DEFAULT_CARD_COLOUR}  # fmt: skip


def section_look(event: models.Event, labels: dict[str, str], colour: str) -> dict[str, str | None]:
    """ "In the shoes of…" and the perspective (in both languages at a bilingual event)."""
    lang, second = _languages(event)
    label = str(models.localised(labels, lang))
    other = str(models.localised(labels, second)) if second else None
    return {"title": label, "kicker": _both(lang, second, "kicker"),
            "subtitle": other if other and other != label else None, "colour": colour}  # fmt: skip


def intro_card(store: MediaStore, event: models.Event) -> PlannedPiece:
    return _card(store, "intro", INTRO_SECONDS, **intro_look(event),
                 logo_path=event.branding.get("logo_path"))  # fmt: skip


def outro_card(store: MediaStore, event: models.Event) -> PlannedPiece:
    return _card(store, "outro", OUTRO_SECONDS, **outro_look(event))


def section_card(store: MediaStore, event: models.Event, clip: Clip) -> PlannedPiece:
    return _card(store, "section", SECTION_SECONDS, **section_look(event, clip.labels, clip.colour))


def plan_reel(db: sqlite3.Connection, store: MediaStore, reel_id: int) -> ReelPlan:
    row = db.execute("SELECT * FROM reel WHERE id = ?", (reel_id,)).fetchone()
    if row is None:
        raise NothingToRender("This reel was deleted.")
    event = models.get_event(db, row["event_id"])
    clips = load_clips(db, store, reel_id)
    if not clips:
        raise NothingToRender("No clip in this reel can be shown any more.")
    lang, second = _languages(event)
    pieces = [intro_card(store, event)]
    previous = None
    for clip in clips:
        if clip.perspective_id != previous:
            pieces.append(section_card(store, event, clip))
            previous = clip.perspective_id
        pieces.extend(plan_clip(store, clip, lang, second))
    pieces.append(outro_card(store, event))
    return ReelPlan(reel_id, row["revision"], bool(row["burn_captions"]), pieces, len(clips))


# -- rendering ---------------------------------------------------------------------------------


def build_pieces(plan_pieces: list[PlannedPiece], on_progress: Progress | None = None) -> int:
    """Make every piece not made yet; return how many were made."""
    missing = [planned for planned in plan_pieces if planned.missing]
    seen: set[Path] = set()
    for index, planned in enumerate(missing):
        if planned.piece.path in seen or planned.piece.path.exists():
            continue
        assert planned.build is not None
        planned.build()
        seen.add(planned.piece.path)
        if on_progress:
            on_progress((index + 1) / len(missing))
    return len(seen)


def render_reel(
    db: sqlite3.Connection,
    store: MediaStore,
    reel_id: int,
    on_progress: Progress | None = None,
    on_joined: Callable[[ReelPlan, RenderResult], None] | None = None,
) -> tuple[ReelPlan, RenderResult]:
    """Render a reel into ``derived/reels/<id>/``: reel.mp4, reel.vtt, and the captioned copy.

    ``on_joined`` is told as soon as the reel and its captions are ready, before the (slow)
    burned-in copy is made, so the organiser can watch and download the reel meanwhile.
    """
    progress = on_progress or (lambda _fraction: None)
    plan = plan_reel(db, store, reel_id)
    cues = plan.cues()
    burn = plan.burn_captions and bool(cues)
    build_share, join_share = (0.45, 0.1) if burn else (0.8, 0.2)
    built = build_pieces(plan.pieces, lambda f: progress(build_share * f))
    folder = reel_folder(store, reel_id)
    folder.mkdir(parents=True, exist_ok=True)
    mp4 = folder / "reel.mp4"
    reel.assemble([planned.piece for planned in plan.pieces], mp4, store.derived,
                  on_progress=lambda f: progress(build_share + join_share * f))  # fmt: skip
    captions = folder / "reel.vtt"
    partial = captions.with_name(".reel.vtt.partial")
    partial.write_text(vtt.format_vtt(cues), encoding="utf-8")
    partial.replace(captions)
    (folder / "reel-captioned.mp4").unlink(missing_ok=True)  # it shows the previous cut
    if on_joined is not None:
        on_joined(plan, RenderResult(mp4, captions, None, plan.duration, plan.pieces, built))
    captioned = None
    if burn:
        captioned = folder / "reel-captioned.mp4"
        reel.burn_captions(mp4, captions, captioned, plan.duration,
                           on_progress=lambda f: progress(0.55 + 0.45 * f))  # fmt: skip
    progress(1.0)
    return plan, RenderResult(mp4, captions, captioned, plan.duration, plan.pieces, built)


def _record(db: sqlite3.Connection, store: MediaStore, reel_id: int, revision: int,
            result: RenderResult) -> None:  # fmt: skip
    files = {"mp4": result.mp4, "vtt": result.vtt}
    if result.captioned:
        files["captioned_mp4"] = result.captioned
    now = utcnow()
    with transaction(db):
        db.execute("DELETE FROM reel_asset WHERE reel_id = ?", (reel_id,))
        db.executemany(
            "INSERT INTO reel_asset (reel_id, kind, path, sha256, bytes, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(reel_id, kind, path.relative_to(store.root).as_posix(), file_sha256(path),
              path.stat().st_size, now) for kind, path in files.items()],
        )  # fmt: skip
        db.execute(
            "UPDATE reel SET status = 'ready', failure_reason = NULL, rendered_revision = ?,"
            " duration_seconds = ?, rendered_at = ? WHERE id = ?",
            (revision, result.duration, now, reel_id),
        )


def _clear(db: sqlite3.Connection, store: MediaStore, reel_id: int, revision: int,
           reason: str) -> None:  # fmt: skip
    """Nothing left to show: no file may keep showing what was removed."""
    with transaction(db):
        db.execute("DELETE FROM reel_asset WHERE reel_id = ?", (reel_id,))
        db.execute(
            "UPDATE reel SET status = 'draft', failure_reason = ?, rendered_revision = ?,"
            " duration_seconds = NULL, rendered_at = NULL WHERE id = ?",
            (reason, revision, reel_id),
        )
    remove_reel_files(store, reel_id)


# Stored in English and worded when read (voxpop.reasons).
NOTHING_LEFT = N_("Nothing to show: add approved reflections to this reel, then render it.")
RENDER_FAILED = Reason(N_("Rendering failed unexpectedly."))
PREPARE_FAILED = Reason(N_("Preparing the clip failed."))


def _render_job(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:
    reel_id = job["target_id"]
    row = db.execute("SELECT revision FROM reel WHERE id = ?", (reel_id,)).fetchone()
    if row is None:
        jobs.finish(db, job["id"], "done")
        return "done"
    shown_revision = row["revision"]
    try:

        def joined(plan: ReelPlan, result: RenderResult) -> None:
            _record(db, queue.store, reel_id, plan.revision, result)

        plan, result = render_reel(db, queue.store, reel_id, jobs.progress_writer(db, job["id"]),
                                   on_joined=joined)  # fmt: skip
        shown_revision = plan.revision
        _record(db, queue.store, reel_id, shown_revision, result)
    except NothingToRender:
        _clear(db, queue.store, reel_id, shown_revision, NOTHING_LEFT)
    except (MediaError, UnsafeImage, CardError, OSError) as error:
        if jobs.ran_out_of_disk(error):
            db.execute("UPDATE reel SET failure_reason = ? WHERE id = ?",
                       (jobs.disk_full_reason(), reel_id))  # fmt: skip
            return jobs.wait_for_disk(db, queue, job)
        reason = reasons.of(error, RENDER_FAILED)
        log.exception("Rendering reel %s failed", reel_id)
        if job["attempts"] < jobs.MAX_ATTEMPTS:
            return jobs.requeue(db, queue, job, reason, jobs.backoff(job["attempts"]))
        with transaction(db):
            jobs.finish(db, job["id"], "failed", reason)
            db.execute("UPDATE reel SET status = 'failed', failure_reason = ? WHERE id = ?",
                       (reason.stored(), reel_id))  # fmt: skip
        return "failed"
    jobs.finish(db, job["id"], "done")
    latest = db.execute("SELECT revision FROM reel WHERE id = ?", (reel_id,)).fetchone()
    if latest is not None and latest["revision"] != shown_revision:
        jobs.enqueue(db, queue, RENDER_REEL, reel_id)  # changed while rendering: go again
    return "done"


def prepare_clip(db: sqlite3.Connection, store: MediaStore, reflection_id: int) -> int:
    """Make a clip's reel pieces ahead of any render: its head (and 1280×720 version), its
    perspective's section card, and the event's intro and outro cards."""
    clip = load_clip(db, store, reflection_id)
    if clip is None:
        return 0
    event_id = db.execute(
        "SELECT event_id FROM reflection WHERE id = ?", (reflection_id,)
    ).fetchone()["event_id"]
    event = models.get_event(db, event_id)
    lang, second = _languages(event)
    pieces = [intro_card(store, event), section_card(store, event, clip),
              *plan_clip(store, clip, lang, second), outro_card(store, event)]  # fmt: skip
    return build_pieces(pieces)


def _prepare_job(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:
    try:
        prepare_clip(db, queue.store, job["target_id"])
    except (MediaError, UnsafeImage, CardError, OSError) as error:
        if jobs.ran_out_of_disk(error):
            return jobs.wait_for_disk(db, queue, job)
        reason = reasons.of(error, PREPARE_FAILED)
        if job["attempts"] < jobs.MAX_ATTEMPTS:
            return jobs.requeue(db, queue, job, reason, jobs.backoff(job["attempts"]))
        jobs.finish(db, job["id"], "failed", reason)  # a render will try again itself
        return "failed"
    jobs.finish(db, job["id"], "done")
    return "done"


def register_job_handlers() -> None:
    """Tell the queue which functions render reels and prepare their clips."""
    jobs.register(RENDER_REEL, _render_job)
    jobs.register(PREPARE_REEL_CLIP, _prepare_job)
