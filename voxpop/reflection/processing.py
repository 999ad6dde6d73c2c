"""Turning one received reflection into its derived files (the worker's main job).

Inputs: the original (immutable) and the database. Outputs: files under
``uploads/derived/<reflection id>/``, each written atomically and recorded as an asset with its
sha256. Running it twice gives the same files and the same asset rows, so an interrupted or
repeated job is harmless, and deleting ``derived/`` loses nothing (``voxpop rebuild``).
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from voxpop import jobs, models, reasons
from voxpop.db import transaction, utc_in, utcnow
from voxpop.jobs import JobQueue
from voxpop.media import cards, fmp4, posters
from voxpop.media.ffmpeg import MediaError, MediaRejected, NotARecording
from voxpop.media.images import UnsafeImage, open_image_safely
from voxpop.media.probe import MediaInfo, probe_media
from voxpop.media.transcode import (
    audio_to_delivery_mp4,
    extract_frames,
    still_to_delivery_mp4,
    transcode_to_delivery_mp4,
)
from voxpop.media.typesetting import CardError
from voxpop.reasons import N_, Reason
from voxpop.reels import service as reels_service
from voxpop.reflection import transcripts
from voxpop.storage import MediaStore, file_sha256, fsync_folder

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

# Failure reasons, stored in English and worded when read (voxpop.reasons).
FILE_DELETED = N_("%(reason)s The file was deleted.")
GAVE_UP = N_("%(reason)s (gave up after %(attempts)d attempts)")
FILE_GONE = N_("The recording's file is no longer on the laptop, so it cannot be processed.")
UNEXPECTED = Reason(N_("Processing failed unexpectedly; it will be retried."))


def retry_can_help(stored_reason: str | None) -> bool:
    """False when a reflection failed because its recording's file is gone (deleted as not a
    recording, or missing): processing it again could only fail the same way."""
    reason = reasons.parse(stored_reason)
    return reason is None or reason.message not in (FILE_DELETED, FILE_GONE)


ASSET_FILES = {
    "mp4": "delivery.mp4",
    "poster": "poster.jpg",
    "thumb": "thumb.webp",
    "card": "card.png",
}


# Under derived/: audio cards' encoded GOPs, shared by every audio reflection with that card
# (perspective and prompt only; see transcode.audio_to_delivery_mp4).
AUDIO_CARD_GOPS = "audio-card-gops"


class OriginalGone(Exception):
    """The reflection's original file is not on disk (deleted after the probe refused it)."""

    def __init__(self, reflection_id: int) -> None:
        super().__init__(f"The original of reflection {reflection_id} is not on disk")


def original_exists(store: MediaStore, original_path: str | None) -> bool:
    """True for a text reflection, or when a recording's original file is still on disk."""
    return original_path is None or store.path(original_path).exists()


def discard_original(store: MediaStore, original_path: str) -> None:
    """Delete an original the probe refused as unreadable (it is read-only: make it writable)."""
    path = store.path(original_path)
    if path.exists():
        path.chmod(0o644)
        path.unlink()
        fsync_folder(path.parent)


@dataclass(frozen=True)
class ReflectionToProcess:
    """What the pipeline needs to know about one reflection."""

    id: int
    kind: str
    status: str
    original_path: str | None
    text_body: str | None
    display_name: str | None
    perspective_label: str
    colour: str
    prompt_text: str
    max_seconds: int


def load_reflection(db: sqlite3.Connection, reflection_id: int) -> ReflectionToProcess:
    """Read a reflection with its perspective, prompt and event limits.

    A recording is judged by the longest clip its event ever allowed, not today's setting:
    the kiosk recorded it under the limit it had loaded, and the delegate was thanked for it.
    """
    row = db.execute(
        "SELECT r.*, p.labels, p.colour, pr.texts,"
        " MAX(e.max_clip_seconds, e.max_clip_seconds_ever) AS longest_clip"
        " FROM reflection r JOIN perspective p ON p.id = r.perspective_id"
        " JOIN prompt pr ON pr.id = r.prompt_id JOIN event e ON e.id = r.event_id"
        " WHERE r.id = ?",
        (reflection_id,),
    ).fetchone()
    if row is None:
        raise models.NotFound(f"No reflection {reflection_id}")
    lang = row["lang"]
    return ReflectionToProcess(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        original_path=row["original_path"],
        text_body=row["text_body"],
        display_name=row["display_name"],
        perspective_label=str(models.localised(json.loads(row["labels"]), lang)),
        colour=row["colour"],
        prompt_text=str(models.localised(json.loads(row["texts"]), lang)),
        max_seconds=row["longest_clip"],
    )


POSTER_CANDIDATES = (0.2, 0.4, 0.6, 0.8)  # fractions of the clip


def _best_poster_frame(mp4: Path, duration: float, folder: Path) -> Image.Image:
    """Pick the most representative of a few frames (never a black first frame)."""
    times = [max(0.0, min(duration - 0.1, duration * fraction)) for fraction in POSTER_CANDIDATES]
    strip = extract_frames(mp4, times, folder / ".poster-frames.png")
    try:
        frames = posters.split_frames(open_image_safely(strip), len(times))
    finally:
        strip.unlink(missing_ok=True)
    return posters.choose_poster_frame(frames)


def derive_files(
    reflection: ReflectionToProcess,
    store: MediaStore,
    on_progress: ProgressCallback,
) -> tuple[dict[str, Path], MediaInfo | None]:
    """Make every derived file of a reflection; return them by asset kind, with the probe.

    Raises MediaRejected (the recording is unusable) or MediaToolFailed (try again).
    """
    folder = store.derived / str(reflection.id)
    folder.mkdir(parents=True, exist_ok=True)
    files = {kind: folder / name for kind, name in ASSET_FILES.items()}

    if reflection.kind == "text":
        cards.render_quote_card(
            files["card"], text=reflection.text_body or "",
            perspective_label=reflection.perspective_label, colour=reflection.colour,
            name=reflection.display_name,
        )  # fmt: skip
        on_progress(0.2)
        seconds = cards.words_to_seconds(reflection.text_body or "")
        still_to_delivery_mp4(
            files["card"], files["mp4"], seconds, on_progress=lambda f: on_progress(0.2 + 0.7 * f)
        )
        posters.poster_and_thumbnail(files["card"], files["poster"], files["thumb"])
        on_progress(1.0)
        return files, None

    assert reflection.original_path is not None
    original = store.path(reflection.original_path)
    if not original.exists():
        raise OriginalGone(reflection.id)
    # A browser's fragmented MP4 with a doubled fragment header (WebKit) is read without it.
    source = fmp4.without_orphan_fragments(original, folder / ".source.mp4")
    try:
        return _make_media_files(reflection, source, files, folder, on_progress)
    finally:
        if source != original:
            source.unlink(missing_ok=True)


def _make_media_files(
    reflection: ReflectionToProcess,
    original: Path,
    files: dict[str, Path],
    folder: Path,
    on_progress: ProgressCallback,
) -> tuple[dict[str, Path], MediaInfo | None]:
    """make_files for a video or audio recording, read from ``original``."""
    info = probe_media(original, max_seconds=reflection.max_seconds)
    on_progress(0.05)
    if info.has_video and reflection.kind == "video":
        files.pop("card")
        transcode_to_delivery_mp4(
            original, files["mp4"], info, on_progress=lambda f: on_progress(0.05 + 0.85 * f)
        )
        frame = _best_poster_frame(files["mp4"], info.duration, folder)
        posters.poster_and_thumbnail(frame, files["poster"], files["thumb"])
    else:
        if not info.has_audio:
            raise MediaRejected(N_("This audio recording has no sound in it."))
        cards.render_audio_card(
            files["card"], perspective_label=reflection.perspective_label,
            colour=reflection.colour, prompt=reflection.prompt_text,
        )  # fmt: skip
        audio_to_delivery_mp4(
            original, files["card"], files["mp4"], info,
            on_progress=lambda f: on_progress(0.05 + 0.85 * f),
            gop_cache=folder.parent / AUDIO_CARD_GOPS,
        )  # fmt: skip
        posters.poster_and_thumbnail(files["card"], files["poster"], files["thumb"])
    on_progress(1.0)
    return files, info


def record_assets(
    db: sqlite3.Connection,
    store: MediaStore,
    reflection_id: int,
    files: dict[str, Path],
    info: MediaInfo | None,
) -> None:
    """Replace the reflection's asset rows with these files and mark it ready."""
    now = utcnow()
    rows = []
    for kind, path in files.items():
        relative = path.relative_to(store.root).as_posix()
        rows.append((reflection_id, kind, relative, file_sha256(path), path.stat().st_size, now))
    with transaction(db):
        db.execute("DELETE FROM asset WHERE reflection_id = ?", (reflection_id,))
        db.executemany(
            "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        size = info.display_size if info and info.has_video else None
        # A "video" that holds only sound (a camera that failed mid-take) is kept as what it
        # is, an audio reflection: the delegate's words are not refused for a missing picture.
        sound_only = info is not None and not info.has_video
        db.execute(
            "UPDATE reflection SET status = 'ready', failure_reason = NULL,"
            " duration_seconds = COALESCE(?, duration_seconds), width = ?, height = ?,"
            " kind = CASE WHEN kind = 'video' AND ? THEN 'audio' ELSE kind END"
            " WHERE id = ? AND status != 'withdrawn'",
            (info.duration if info else None, size[0] if size else None,
             size[1] if size else None, int(sound_only), reflection_id),
        )  # fmt: skip


def remove_derived(store: MediaStore, reflection_id: int) -> None:
    """Delete a reflection's derived folder (rebuilt from the original on demand)."""
    shutil.rmtree(store.derived / str(reflection_id), ignore_errors=True)


def asset_paths(db: sqlite3.Connection, reflection_id: int) -> dict[str, str]:
    """Asset kind → path (relative to the uploads folder) for one reflection."""
    rows = db.execute(
        "SELECT kind, path FROM asset WHERE reflection_id = ? ORDER BY kind", (reflection_id,)
    ).fetchall()
    return {row["kind"]: row["path"] for row in rows}


def process_reflection_job(db: sqlite3.Connection, queue: JobQueue, job: sqlite3.Row) -> str:
    """Run a ``process_reflection`` job: derive the delivery files, then follow up on reels."""
    reflection_id = job["target_id"]
    reflection = load_reflection(db, reflection_id)
    if reflection.status == "withdrawn":
        jobs.finish(db, job["id"], "done", None)
        return "done"
    db.execute("UPDATE reflection SET status = 'processing' WHERE id = ?", (reflection_id,))
    try:
        files, info = derive_files(reflection, queue.store, jobs.progress_writer(db, job["id"]))
        record_assets(db, queue.store, reflection_id, files, info)
        _reels_follow_up(db, queue, reflection_id)
    except NotARecording as error:
        # Junk (or damaged beyond use): nothing to rescue, so it does not stay on the disk.
        # The row stays, failed, with the reason; the same bytes would be refused again.
        assert reflection.original_path is not None
        discard_original(queue.store, reflection.original_path)
        _fail(db, job["id"], reflection_id, Reason(FILE_DELETED, {"reason": error.reason}))
        log.info("Reflection %s refused and its file deleted: %s | %s",
                 reflection_id, error.message, error.detail)  # fmt: skip
        return "failed"
    except OriginalGone:
        row = db.execute(
            "SELECT failure_reason FROM reflection WHERE id = ?", (reflection_id,)
        ).fetchone()
        # A refused file that was deleted keeps the reason it was refused for.
        _fail(db, job["id"], reflection_id, row["failure_reason"] or FILE_GONE)
        return "failed"
    except (MediaRejected, UnsafeImage, CardError) as error:
        _fail(db, job["id"], reflection_id, reasons.of(error, UNEXPECTED))
        log.info(
            "Reflection %s rejected: %s | %s",
            reflection_id,
            error.message,
            getattr(error, "detail", ""),
        )
        return "failed"
    except Exception as error:  # any other failure is retried, then reported
        if jobs.ran_out_of_disk(error):
            # Waiting, not failed: the reason stays on the reflection for the review page.
            db.execute(
                "UPDATE reflection SET status = 'received', failure_reason = ?"
                " WHERE id = ? AND status != 'withdrawn'",
                (jobs.disk_full_reason(), reflection_id),
            )
            return jobs.wait_for_disk(db, queue, job)
        reason = error.reason if isinstance(error, MediaError) else UNEXPECTED
        log.exception("Job %s for reflection %s failed", job["id"], reflection_id)
        if job["attempts"] >= jobs.MAX_ATTEMPTS:
            gave_up = Reason(GAVE_UP, {"reason": reason, "attempts": jobs.MAX_ATTEMPTS})
            _fail(db, job["id"], reflection_id, gave_up)
            return "failed"
        delay = jobs.backoff(job["attempts"])
        run_after = utc_in(delay)
        with transaction(db):
            db.execute(
                "UPDATE job SET status = 'queued', error = ?, run_after = ? WHERE id = ?",
                (reason.stored(), run_after, job["id"]),
            )
            db.execute("UPDATE reflection SET status = 'received' WHERE id = ?", (reflection_id,))
        queue.deliver(job["id"], delay=delay)
        return "retrying"
    jobs.finish(db, job["id"], "done", None)
    _speech_follow_up(db, queue, reflection_id)
    return "done"


def _speech_follow_up(db: sqlite3.Connection, queue: JobQueue, reflection_id: int) -> None:
    """The clip is ready: queue its transcription (lower priority; it never holds up ready)."""
    try:
        transcripts.enqueue_transcription(db, queue, reflection_id)
    except Exception:  # captions come later or by hand; the clip stays ready
        log.exception("Could not queue the transcription of reflection %s", reflection_id)


def _reels_follow_up(db: sqlite3.Connection, queue: JobQueue, reflection_id: int) -> None:
    """New files for a reflection: reels showing it render again, its reel pieces are made."""
    with transaction(db):
        reels_service.reflections_changed(db, [reflection_id])
    reels_service.follow_up(db, queue, [reflection_id])


def _fail(db: sqlite3.Connection, job_id: int, reflection_id: int, reason: Reason | str) -> None:
    """The job failed for good: the reflection keeps the reason (see ``voxpop.reasons``)."""
    stored = reasons.store(reason)
    with transaction(db):
        jobs.finish(db, job_id, "failed", stored)
        db.execute(
            "UPDATE reflection SET status = 'failed', failure_reason = ?"
            " WHERE id = ? AND status != 'withdrawn'",
            (stored, reflection_id),
        )


def _reflection_requeued(
    db: sqlite3.Connection, store: MediaStore, job: sqlite3.Row, retried: bool
) -> None:
    """A processing job back in the queue: its reflection waits for it again."""
    if not retried:
        db.execute(
            "UPDATE reflection SET status = 'received' WHERE id = ? AND status = 'processing'",
            (job["target_id"],),
        )
        return
    target = db.execute(
        "SELECT original_path FROM reflection WHERE id = ?", (job["target_id"],)
    ).fetchone()
    # A refused file that was deleted keeps its reason: the retry can only say it again.
    kept = target is None or original_exists(store, target["original_path"])
    db.execute(
        "UPDATE reflection SET status = 'received',"
        " failure_reason = CASE WHEN ? THEN NULL ELSE failure_reason END"
        " WHERE id = ? AND status = 'failed'",
        (int(kept), job["target_id"]),
    )


def register_job_handlers() -> None:
    """Tell the queue which function runs reflection processing."""
    jobs.register(jobs.PROCESS_REFLECTION, process_reflection_job, on_requeue=_reflection_requeued)
