"""Transcripts: what each recorded reflection says, and draft captions from it (issue 16).

After a clip is ``ready`` the ``transcribe_reflection`` job runs the pure speech step
(``voxpop.speech``) on its delivery file and stores the result in the ``transcript`` table:

- ``queued``: waiting for the job. No row at all means ``none`` (a text reflection, automatic
  captions turned off, or no speech model).
- ``draft``: English speech, transcribed; the draft WebVTT fills the reflection's captions
  unless a person has written captions already (a person's work is never overwritten).
- ``needs-person``: recorded on the Welsh kiosk, or the model heard another language or was
  unsure which (probability < 0.5): no machine draft, a person captions it; ``reason`` says why.
- ``no-speech``: the voice detector heard nobody (silence or noise): not a failure.
- ``checked``: a person checked the captions (who and when); never touched by the job again.

Lower priority than processing (huey has no priorities): the job is queued when processing
ends, but while any ``process_reflection`` job is waiting it steps aside, back into the queue
after ``YIELD_SECONDS`` without using up an attempt, so a burst of new clips all become ready
before any of them is transcribed. It also looks between pieces of speech while it runs: a
clip that arrives mid-transcription stops it (to start again later), so one worker never makes
a new clip wait for a transcription. Running it twice gives the same single row; a worker killed
mid-run leaves the job ``running``, and the recovery sweep at the next start queues it again.
A withdrawal deletes the row (a trigger in the schema, see migration 0009).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxpop import jobs, reasons
from voxpop.db import transaction, utcnow
from voxpop.media.ffmpeg import MediaError, MediaRejected
from voxpop.reasons import N_, Reason
from voxpop.speech import model as speech_model
from voxpop.speech import transcribe as speech

log = logging.getLogger(__name__)

TRANSCRIBE_REFLECTION = "transcribe_reflection"
PROCESS_REFLECTION = "process_reflection"
STATUSES = ("none", "queued", "draft", "checked", "needs-person", "no-speech")
# The only language the packaged model transcribes well enough for a draft (issue 16).
DRAFT_LANGUAGES = ("en",)
MIN_LANGUAGE_PROBABILITY = 0.5
YIELD_SECONDS = 15.0
UNEXPECTED = Reason(N_("Transcription failed unexpectedly; it will be retried."))

# Settings (instance/voxpop.toml or VOXPOP_* environment variables), with their defaults.
SETTINGS: dict[str, Any] = {
    # Transcribe every recorded clip once it is ready.
    "SPEECH_AFTER_PROCESSING": True,
    # A CTranslate2 Whisper model folder; empty = the packaged whisper base.
    "SPEECH_MODEL": "",
    # Where the packaged model is joined into one folder; empty = instance/speech-model.
    "SPEECH_MODEL_CACHE": "",
    # CPU threads for the model (2 suits a 2-core laptop that also serves the kiosks).
    "SPEECH_THREADS": 2,
    # The model leaves memory after this many seconds without work.
    "SPEECH_IDLE_SECONDS": 300,
}


@dataclass(frozen=True)
class SpeechSettings:
    after_processing: bool
    model: str
    cache: Path
    threads: int
    idle_seconds: float


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def settings(config: dict[str, Any] | None = None, instance: Path | None = None) -> SpeechSettings:
    """The speech settings of an app config, or (for a worker) of an instance folder."""
    if config is None:
        from voxpop.config import load_config

        config = load_config({"INSTANCE": str(instance)} if instance else None)
    merged = {key: config.get(key, default) for key, default in SETTINGS.items()}
    instance_path = Path(config.get("INSTANCE") or instance or "instance")
    cache = merged["SPEECH_MODEL_CACHE"] or instance_path / "speech-model"
    return SpeechSettings(
        after_processing=_flag(merged["SPEECH_AFTER_PROCESSING"]),
        model=str(merged["SPEECH_MODEL"] or ""),
        cache=Path(cache),
        threads=max(1, int(merged["SPEECH_THREADS"])),
        idle_seconds=float(merged["SPEECH_IDLE_SECONDS"]),
    )


def _queue_settings(queue: jobs.JobQueue) -> SpeechSettings:
    config = getattr(queue, "config", None)
    return settings(config, None) if config else settings(None, queue.instance)


def model_installed(setting: SpeechSettings) -> bool:
    """True when a model could be used: a folder is set, or the packaged parts are installed."""
    return bool(setting.model) or speech_model.packaged_parts() is not None


def availability(setting: SpeechSettings) -> str:
    """``on``, ``off`` (turned off in the settings) or ``no-model`` (nothing to run)."""
    if not setting.after_processing:
        return "off"
    return "on" if model_installed(setting) else "no-model"


def resolve(setting: SpeechSettings) -> speech_model.SpeechModel:
    """The speech model these settings choose. Raises ModelUnavailable."""
    return speech_model.resolve_model(setting.model or None, setting.cache)


# -- rows --------------------------------------------------------------------------------------


def transcript_row(db: sqlite3.Connection, reflection_id: int) -> sqlite3.Row | None:
    return db.execute(
        "SELECT * FROM transcript WHERE reflection_id = ?", (reflection_id,)
    ).fetchone()


def summary(row: sqlite3.Row | None) -> dict[str, Any]:
    """``{"status", "language", "text"}`` as ``voxpop reflections --json`` shows it (text only
    once there is one)."""
    if row is None:
        return {"status": "none", "language": None}
    found: dict[str, Any] = {"status": row["status"], "language": row["language"]}
    if row["text"]:
        found["text"] = row["text"]
    if row["reason"] and row["status"] in ("needs-person", "none"):
        found["reason"] = reasons.english(row["reason"])
    return found


def summaries(db: sqlite3.Connection) -> dict[int, dict[str, Any]]:
    """Reflection id -> summary, for every reflection with a transcript row."""
    rows = db.execute("SELECT * FROM transcript").fetchall()
    return {int(row["reflection_id"]): summary(row) for row in rows}


def _save(db: sqlite3.Connection, reflection_id: int, status: str, **fields: Any) -> bool:
    """Insert or replace the reflection's transcript (inside the caller's transaction).

    Nothing is written for a withdrawn reflection, or over a checked transcript. Returns
    whether it wrote.
    """
    current = db.execute(
        "SELECT r.status AS reflection_status, t.status FROM reflection r"
        " LEFT JOIN transcript t ON t.reflection_id = r.id WHERE r.id = ?",
        (reflection_id,),
    ).fetchone()
    if current is None or current["reflection_status"] == "withdrawn":
        return False
    if current["status"] == "checked":
        return False
    now = utcnow()
    values = {
        "reason": None, "language": None, "language_probability": None, "text": None,
        "segments": None, "draft_vtt": None, "model": None, "compute_seconds": None,
        **fields,
    }  # fmt: skip
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    updates = ", ".join(f"{name} = excluded.{name}" for name in values)
    db.execute(
        f"INSERT INTO transcript (reflection_id, status, created_at, updated_at, {names})"  # noqa: S608
        f" VALUES (?, ?, ?, ?, {marks}) ON CONFLICT (reflection_id) DO UPDATE SET"
        f" status = excluded.status, updated_at = excluded.updated_at, {updates}",
        (reflection_id, status, now, now, *values.values()),
    )
    return True


def mark_checked(
    db: sqlite3.Connection, reflection_id: int, user_id: int | None, text: str | None
) -> None:
    """A person checked the captions (inside the caller's transaction): status ``checked``,
    who and when, and the transcript's text becomes the captions' words. What the machine
    heard (language, segments, draft) stays for reference."""
    now = utcnow()
    db.execute(
        "INSERT INTO transcript (reflection_id, status, text, created_at, updated_at,"
        " checked_at, checked_by) VALUES (?, 'checked', ?, ?, ?, ?, ?)"
        " ON CONFLICT (reflection_id) DO UPDATE SET status = 'checked', text = excluded.text,"
        " updated_at = excluded.updated_at, checked_at = excluded.checked_at,"
        " checked_by = excluded.checked_by, reason = NULL",
        (reflection_id, text, now, now, now, user_id),
    )


def unmark_checked(db: sqlite3.Connection, reflection_id: int) -> bool:
    """The captions changed after a person checked them: they need checking again (inside the
    caller's transaction). Back to ``draft`` when the machine made one, else ``none``. Returns
    whether it was checked."""
    row = transcript_row(db, reflection_id)
    if row is None or row["status"] != "checked":
        return False
    db.execute(
        "UPDATE transcript SET status = CASE WHEN draft_vtt IS NOT NULL THEN 'draft'"
        " ELSE 'none' END, checked_at = NULL, checked_by = NULL, updated_at = ?"
        " WHERE reflection_id = ?",
        (utcnow(), reflection_id),
    )
    return True


# -- queueing ----------------------------------------------------------------------------------


def enqueue_transcription(
    db: sqlite3.Connection, queue: jobs.JobQueue, reflection_id: int, *, force: bool = False
) -> int | None:
    """After processing made a clip ready: queue its transcription (recorded clips only).

    Skipped when automatic transcription is off or no model is installed, and (unless
    ``force``) when the clip already has a transcript. Returns the job id, or None.
    """
    setting = _queue_settings(queue)
    if not setting.after_processing or not model_installed(setting):
        return None
    row = db.execute(
        "SELECT r.kind, r.status, t.status AS transcript FROM reflection r"
        " LEFT JOIN transcript t ON t.reflection_id = r.id WHERE r.id = ?",
        (reflection_id,),
    ).fetchone()
    if row is None or row["kind"] == "text" or row["status"] != "ready":
        return None
    if row["transcript"] == "checked" or (
        not force and row["transcript"] not in (None, "none", "queued")
    ):
        return None
    with transaction(db):
        _save(db, reflection_id, "queued")
    return jobs.enqueue(db, queue, TRANSCRIBE_REFLECTION, reflection_id)


# -- the job -----------------------------------------------------------------------------------


def _processing_waits(db: sqlite3.Connection) -> bool:
    row = db.execute(
        "SELECT 1 FROM job WHERE kind = ? AND status = 'queued' LIMIT 1", (PROCESS_REFLECTION,)
    ).fetchone()
    return row is not None


class _NewClipWaits(Exception):
    """A clip arrived to be processed while this one was being transcribed."""


def _step_aside(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:
    """Back into the queue behind processing, without spending an attempt."""
    db.execute("UPDATE job SET attempts = MAX(attempts - 1, 0) WHERE id = ?", (job["id"],))
    return jobs.requeue(db, queue, job, "Waiting for new clips to be processed first.",
                        YIELD_SECONDS)  # fmt: skip


def welsh_kiosk_reason() -> str:
    """Why a clip from the Welsh kiosk gets no draft (stored; worded when read)."""
    return N_(
        "Recorded on the Welsh kiosk: automatic transcription does not understand Welsh well "
        "enough for captions, so a person needs to write them."
    )


def language_reason(language: str, probability: float) -> str:
    """Why the model's draft is not kept (stored; worded when read, see voxpop.reasons)."""
    percent = round(probability * 100)
    if language not in DRAFT_LANGUAGES:
        return Reason(
            N_(
                "The speech sounds like another language than English (%(language)s, "
                "%(percent)d%% sure): a person needs to write the captions."
            ),
            {"language": language, "percent": percent},
        ).stored()
    return Reason(
        N_(
            "The speech model is unsure which language this is (English, only %(percent)d%% "
            "sure): a person needs to write the captions."
        ),
        {"percent": percent},
    ).stored()


def fill_captions(db: sqlite3.Connection, reflection_id: int, draft: str) -> bool:
    """Put the draft in the reflection's captions unless a person wrote some (the captions
    are empty, or still exactly an earlier machine draft). Returns whether it did."""
    row = db.execute(
        "SELECT r.transcript_vtt, t.draft_vtt FROM reflection r"
        " LEFT JOIN transcript t ON t.reflection_id = r.id WHERE r.id = ?",
        (reflection_id,),
    ).fetchone()
    if row is None or not draft:
        return False
    current = (row["transcript_vtt"] or "").strip()
    if current and current != (row["draft_vtt"] or "").strip():
        return False
    db.execute(
        "UPDATE reflection SET transcript_vtt = ? WHERE id = ? AND status != 'withdrawn'",
        (draft, reflection_id),
    )
    return True


def transcribe_reflection_job(
    db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row
) -> str:
    """Run a ``transcribe_reflection`` job (see the module's docstring)."""
    reflection_id = int(job["target_id"])
    row = db.execute(
        "SELECT r.id, r.kind, r.status, r.lang, r.duration_seconds, t.status AS transcript"
        " FROM reflection r LEFT JOIN transcript t ON t.reflection_id = r.id WHERE r.id = ?",
        (reflection_id,),
    ).fetchone()
    if row is None or row["status"] == "withdrawn" or row["kind"] == "text":
        jobs.finish(db, job["id"], "done", None)
        return "done"
    if row["transcript"] == "checked":
        jobs.finish(db, job["id"], "done", "Captions already checked by a person.")
        return "done"
    if row["status"] != "ready":
        # Being processed again: processing queues this job once more when it is ready.
        jobs.finish(db, job["id"], "done", "The clip is not ready; transcribed when it is.")
        return "done"
    if _processing_waits(db):
        return _step_aside(db, queue, job)
    if row["lang"] == "cy":
        with transaction(db):
            _save(db, reflection_id, "needs-person", reason=welsh_kiosk_reason())
            jobs.finish(db, job["id"], "done", None)
        return "done"

    setting = _queue_settings(queue)
    mp4 = db.execute(
        "SELECT path FROM asset WHERE reflection_id = ? AND kind = 'mp4'", (reflection_id,)
    ).fetchone()
    # The sound goes to a private temporary folder, not derived/: a withdrawal that removes the
    # clip's folder meanwhile must not see it come back.
    scratch = tempfile.TemporaryDirectory(prefix="voxpop-speech-")
    wav = Path(scratch.name) / "speech.wav"
    write_progress = jobs.progress_writer(db, job["id"])

    def progress(fraction: float) -> None:
        write_progress(0.05 + 0.95 * fraction)
        # Between two pieces of speech: a clip that has come in meanwhile is processed first,
        # so "ready" never waits for a transcription (this one starts again afterwards).
        if _processing_waits(db):
            raise _NewClipWaits

    try:
        model = resolve(setting)
        if mp4 is None:
            raise MediaRejected(N_("The clip has no delivery file to transcribe."))
        duration = float(row["duration_seconds"] or 0) or 3600.0
        speech.extract_audio(queue.store.path(mp4["path"]), wav, max_seconds=duration + 5)
        write_progress(0.05)
        heard = speech.transcribe(
            wav, model.folder, threads=setting.threads,
            cache=speech.cache_for(setting.idle_seconds),
            on_progress=progress,
        )  # fmt: skip
    except _NewClipWaits:
        return _step_aside(db, queue, job)
    except speech_model.ModelUnavailable as error:
        with transaction(db):
            _save(db, reflection_id, "none", reason=error.reason.stored())
            jobs.finish(db, job["id"], "failed", error.reason)
        return "failed"
    except Exception as error:  # retried, then reported
        if jobs.ran_out_of_disk(error):
            return jobs.wait_for_disk(db, queue, job)
        reason = error.reason if isinstance(error, MediaError) else UNEXPECTED
        log.exception("Transcription job %s for reflection %s failed", job["id"], reflection_id)
        if isinstance(error, MediaRejected) or job["attempts"] >= jobs.MAX_ATTEMPTS:
            with transaction(db):
                _save(db, reflection_id, "none", reason=reason.stored())
                jobs.finish(db, job["id"], "failed", reason)
            return "failed"
        return jobs.requeue(db, queue, job, reason, jobs.backoff(job["attempts"]))
    finally:
        scratch.cleanup()
    store(db, reflection_id, heard, model.name, duration=float(row["duration_seconds"] or 0))
    jobs.finish(db, job["id"], "done", None)
    return "done"


def store(
    db: sqlite3.Connection,
    reflection_id: int,
    heard: speech.Transcript,
    model_name: str,
    *,
    duration: float,
) -> str:
    """Keep what the model heard under the language rule; return the status it got."""
    common = {
        "language": heard.language, "language_probability": heard.language_probability,
        "model": model_name, "compute_seconds": heard.seconds,
    }  # fmt: skip
    with transaction(db):
        if heard.no_speech:
            status = "no-speech"
            _save(db, reflection_id, status, **common)
        elif (
            heard.language not in DRAFT_LANGUAGES
            or heard.language_probability < MIN_LANGUAGE_PROBABILITY
        ):
            status = "needs-person"
            _save(db, reflection_id, status,
                  reason=language_reason(heard.language, heard.language_probability),
                  **common)  # fmt: skip
        else:
            status = "draft"
            draft = speech.draft_vtt(heard.words, duration or heard.duration)
            fill_captions(db, reflection_id, draft)
            _save(db, reflection_id, status, text=heard.text,
                  segments=json.dumps(heard.to_json(), ensure_ascii=False), draft_vtt=draft,
                  **common)  # fmt: skip
    return status


def register_job_handlers() -> None:
    """Tell the queue which function runs transcriptions."""
    jobs.register(TRANSCRIBE_REFLECTION, transcribe_reflection_job)
