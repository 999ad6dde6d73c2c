"""Background jobs: an embedded, durable queue (Huey on SQLite) that carries job ids only.

The ``job`` table is the source of truth. Huey only delivers "run job N"; a worker claims the
job row atomically before working (so a duplicate delivery does nothing) and writes progress,
retries and failures there. Huey does not re-run a task interrupted mid-run (power cut,
SIGKILL), so every worker start runs a recovery sweep that puts jobs left ``running`` back in
the queue. Retries after a tool failure wait 10 s, 20 s, 40 s… up to ``MAX_ATTEMPTS``; a
recording that is itself unusable fails at once with its reason. A job that meets a full disk
(ENOSPC, EDQUOT, EFBIG: from ffmpeg or from a Python write) never fails for good: it says so
and waits (10 s, 20 s… up to 5 minutes between tries) until someone frees space.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from huey import MemoryHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from voxpop.db import connect, database_path, transaction, utcnow
from voxpop.media.cards import CardError, UnsafeImage
from voxpop.media.ffmpeg import DiskFull, MediaError, MediaRejected, NotARecording
from voxpop.processing import (
    OriginalGone,
    derive_files,
    discard_original,
    load_reflection,
    original_exists,
    record_assets,
)
from voxpop.storage import MediaStore, is_disk_full

log = logging.getLogger(__name__)

PROCESS_REFLECTION = "process_reflection"
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 10
PROGRESS_WRITE_INTERVAL = 0.5  # seconds between progress writes to the database
DISK_FULL_WAIT_CAP = 300.0  # a job waiting for disk space tries again at least this often


@dataclass
class JobQueue:
    """The queue and the paths its tasks need; tasks re-open their own connections."""

    huey: Huey
    instance: Path
    store: MediaStore
    run_task: Any = None

    def connect(self) -> sqlite3.Connection:
        return connect(database_path(self.instance))

    def deliver(self, job_id: int, delay: float = 0) -> None:
        """Ask a worker to run job ``job_id`` (now, or after ``delay`` seconds)."""
        if delay > 0:
            self.run_task.schedule(args=(job_id,), delay=delay)
        else:
            self.run_task(job_id)


def build_queue(config: dict[str, Any], store: MediaStore) -> JobQueue:
    """Create the queue for an instance: ``QUEUE`` is ``sqlite`` (default) or ``memory``.

    ``memory`` (tests) keeps tasks in this process; nothing runs unless a test runs it.
    """
    instance = Path(config["INSTANCE"])
    if config.get("QUEUE", "sqlite") == "memory":
        huey: Huey = MemoryHuey("voxpop", results=False, utc=True)
    else:
        huey = SqliteHuey(
            "voxpop", filename=str(instance / "queue.sqlite3"), results=False, utc=True,
            fsync=True,
        )  # fmt: skip
    queue = JobQueue(huey=huey, instance=instance, store=store)

    @huey.task(name="run_job")
    def run_task(job_id: int) -> None:
        run_job(queue, job_id)

    queue.run_task = run_task
    return queue


def enqueue(db: sqlite3.Connection, queue: JobQueue, kind: str, target_id: int) -> int:
    """Create (or find the open) job of ``kind`` for ``target_id`` and deliver it."""
    with transaction(db):
        row = db.execute(
            "SELECT id FROM job WHERE kind = ? AND target_id = ?"
            " AND status IN ('queued', 'running')",
            (kind, target_id),
        ).fetchone()
        if row:
            return int(row["id"])
        job_id = int(
            db.execute(
                "INSERT INTO job (kind, target_id, created_at) VALUES (?, ?, ?)",
                (kind, target_id, utcnow()),
            ).lastrowid
        )
    queue.deliver(job_id)
    return job_id


def enqueue_processing(db: sqlite3.Connection, queue: JobQueue, reflection_id: int) -> int:
    """Queue a reflection for processing (probe, transcode, poster, cards)."""
    return enqueue(db, queue, PROCESS_REFLECTION, reflection_id)


def _claim(db: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    with transaction(db):
        cursor = db.execute(
            "UPDATE job SET status = 'running', attempts = attempts + 1, started_at = ?,"
            " progress = 0, run_after = NULL WHERE id = ? AND status = 'queued'",
            (utcnow(), job_id),
        )
        if cursor.rowcount != 1:
            return None
        return db.execute("SELECT * FROM job WHERE id = ?", (job_id,)).fetchone()


def progress_writer(db: sqlite3.Connection, job_id: int) -> Callable[[float], None]:
    """A callback that stores a job's progress (0–1), at most twice a second."""
    last = [0.0, -1.0]

    def write(fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < PROGRESS_WRITE_INTERVAL:
            return
        if abs(fraction - last[1]) < 0.005:
            return
        last[0], last[1] = now, fraction
        db.execute(
            "UPDATE job SET progress = ? WHERE id = ?", (round(min(max(fraction, 0), 1), 4), job_id)
        )

    return write


def finish(db: sqlite3.Connection, job_id: int, status: str, error: str | None = None) -> None:
    """Mark a job ``done`` or ``failed`` (with the reason a user will read)."""
    db.execute(
        "UPDATE job SET status = ?, error = ?, finished_at = ?,"
        " progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END WHERE id = ?",
        (status, error, utcnow(), status, job_id),
    )


JobHandler = Callable[[sqlite3.Connection, "JobQueue", sqlite3.Row], str]


def handlers() -> dict[str, JobHandler]:
    """Job kind -> the function that runs it (imported here, late, to keep imports one-way)."""
    from voxpop import reels  # noqa: PLC0415 - reels import this module

    handlers_by_kind: dict[str, JobHandler] = {PROCESS_REFLECTION: _process_reflection_job}
    handlers_by_kind.update(reels.JOB_HANDLERS)
    for name in ("publish", "withdrawal", "intake.uploads"):
        try:
            module = importlib.import_module(f"voxpop.{name}")
        except ModuleNotFoundError:
            continue
        handlers_by_kind.update(getattr(module, "JOB_HANDLERS", {}))
    return handlers_by_kind


def run_job(queue: JobQueue, job_id: int) -> str:
    """Run one job if it is still queued; return its final state (or ``skipped``)."""
    db = queue.connect()
    try:
        job = _claim(db, job_id)
        if job is None:
            return "skipped"
        handler = handlers().get(job["kind"])
        if handler is None:
            finish(db, job_id, "failed", f"Unknown job kind {job['kind']!r}")
            return "failed"
        return handler(db, queue, job)
    finally:
        db.close()


def requeue(
    db: sqlite3.Connection, queue: JobQueue, job: sqlite3.Row, message: str, delay: float
) -> str:
    """Put a running job back in the queue to run again after ``delay`` seconds."""
    run_after = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(timespec="seconds")
    db.execute(
        "UPDATE job SET status = 'queued', error = ?, run_after = ? WHERE id = ?",
        (message, run_after, job["id"]),
    )
    queue.deliver(job["id"], delay=delay)
    return "retrying"


def backoff(attempts: int, cap: float = 300.0) -> float:
    """Seconds to wait before attempt ``attempts + 1``: 10, 20, 40… up to ``cap``."""
    return float(min(cap, BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)))


def ran_out_of_disk(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) is a full disk or a file size limit."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, DiskFull) or is_disk_full(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def disk_full_reason() -> str:
    """What a facilitator reads on a job stopped by a full disk: what to do about it."""
    return _(
        "The laptop's disk is full: free some space on it (delete old files or empty the "
        "bin). voxpop tries again every few minutes by itself."
    )


def wait_for_disk(db: sqlite3.Connection, queue: JobQueue, job: sqlite3.Row) -> str:
    """Re-queue a job stopped by a full disk, without limit: the disk may be freed."""
    log.warning("Job %s (%s) stopped: the disk is full; waiting", job["id"], job["kind"])
    return requeue(db, queue, job, disk_full_reason(),
                   backoff(job["attempts"], cap=DISK_FULL_WAIT_CAP))  # fmt: skip


def _process_reflection_job(db: sqlite3.Connection, queue: JobQueue, job: sqlite3.Row) -> str:
    reflection_id = job["target_id"]
    reflection = load_reflection(db, reflection_id)
    if reflection.status == "withdrawn":
        finish(db, job["id"], "done", None)
        return "done"
    db.execute("UPDATE reflection SET status = 'processing' WHERE id = ?", (reflection_id,))
    try:
        files, info = derive_files(reflection, queue.store, progress_writer(db, job["id"]))
        record_assets(db, queue.store, reflection_id, files, info)
        _reels_follow_up(db, queue, reflection_id)
    except NotARecording as error:
        # Junk (or damaged beyond use): nothing to rescue, so it does not stay on the disk.
        # The row stays, failed, with the reason; the same bytes would be refused again.
        assert reflection.original_path is not None
        discard_original(queue.store, reflection.original_path)
        reason = _("%(reason)s The file was deleted.", reason=error.message)
        _fail(db, job["id"], reflection_id, reason)
        log.info("Reflection %s refused and its file deleted: %s | %s",
                 reflection_id, error.message, error.detail)  # fmt: skip
        return "failed"
    except OriginalGone:
        row = db.execute(
            "SELECT failure_reason FROM reflection WHERE id = ?", (reflection_id,)
        ).fetchone()
        gone = _("The recording's file is no longer on the laptop, so it cannot be processed.")
        _fail(db, job["id"], reflection_id, row["failure_reason"] or gone)
        return "failed"
    except (MediaRejected, UnsafeImage, CardError) as error:
        _fail(db, job["id"], reflection_id, error.message)
        log.info(
            "Reflection %s rejected: %s | %s",
            reflection_id,
            error.message,
            getattr(error, "detail", ""),
        )
        return "failed"
    except Exception as error:  # noqa: BLE001 - any other failure is retried, then reported
        if ran_out_of_disk(error):
            # Waiting, not failed: the reason stays on the reflection for the review page.
            db.execute(
                "UPDATE reflection SET status = 'received', failure_reason = ?"
                " WHERE id = ? AND status != 'withdrawn'",
                (disk_full_reason(), reflection_id),
            )
            return wait_for_disk(db, queue, job)
        message = (
            error.message
            if isinstance(error, MediaError)
            else ("Processing failed unexpectedly; it will be retried.")
        )
        log.exception("Job %s for reflection %s failed", job["id"], reflection_id)
        if job["attempts"] >= MAX_ATTEMPTS:
            _fail(db, job["id"], reflection_id,
                  f"{message} (gave up after {MAX_ATTEMPTS} attempts)")  # fmt: skip
            return "failed"
        delay = BACKOFF_SECONDS * 2 ** (job["attempts"] - 1)
        run_after = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(timespec="seconds")
        with transaction(db):
            db.execute(
                "UPDATE job SET status = 'queued', error = ?, run_after = ? WHERE id = ?",
                (message, run_after, job["id"]),
            )
            db.execute("UPDATE reflection SET status = 'received' WHERE id = ?", (reflection_id,))
        queue.deliver(job["id"], delay=delay)
        return "retrying"
    finish(db, job["id"], "done", None)
    return "done"


def _reels_follow_up(db: sqlite3.Connection, queue: JobQueue, reflection_id: int) -> None:
    """New files for a reflection: reels showing it render again, its reel pieces are made."""
    from voxpop.reels import service as reel_service  # noqa: PLC0415 - reels import this module

    with transaction(db):
        reel_service.reflections_changed(db, [reflection_id])
    reel_service.follow_up(db, queue, [reflection_id])


def _fail(db: sqlite3.Connection, job_id: int, reflection_id: int, reason: str) -> None:
    with transaction(db):
        finish(db, job_id, "failed", reason)
        db.execute(
            "UPDATE reflection SET status = 'failed', failure_reason = ?"
            " WHERE id = ? AND status != 'withdrawn'",
            (reason, reflection_id),
        )


def recover(queue: JobQueue) -> int:
    """Put jobs interrupted mid-run back in the queue, and re-deliver every queued job.

    Run at every worker start. Re-delivering a job already in the queue is harmless: only
    one delivery can claim it. Returns how many jobs were delivered.
    """
    db = queue.connect()
    try:
        with transaction(db):
            interrupted = db.execute(
                "SELECT id, kind, target_id FROM job WHERE status = 'running'"
            ).fetchall()
            for job in interrupted:
                db.execute("UPDATE job SET status = 'queued' WHERE id = ?", (job["id"],))
                if job["kind"] != PROCESS_REFLECTION:
                    continue
                db.execute(
                    "UPDATE reflection SET status = 'received'"
                    " WHERE id = ? AND status = 'processing'",
                    (job["target_id"],),
                )
        queued = db.execute("SELECT id FROM job WHERE status = 'queued' ORDER BY id").fetchall()
    finally:
        db.close()
    if interrupted:
        log.warning("Re-queued %d job(s) interrupted mid-run", len(interrupted))
    for job in queued:
        queue.deliver(int(job["id"]))
    return len(queued)


def retry(db: sqlite3.Connection, queue: JobQueue, job_id: int) -> bool:
    """Put a failed job back in the queue with fresh attempts; False if it is not failed."""
    with transaction(db):
        row = db.execute(
            "SELECT * FROM job WHERE id = ? AND status = 'failed'", (job_id,)
        ).fetchone()
        if row is None:
            return False
        db.execute(
            "UPDATE job SET status = 'queued', attempts = 0, error = NULL, progress = 0,"
            " finished_at = NULL WHERE id = ?",
            (job_id,),
        )
        if row["kind"] == PROCESS_REFLECTION:
            target = db.execute(
                "SELECT original_path FROM reflection WHERE id = ?", (row["target_id"],)
            ).fetchone()
            # A refused file that was deleted keeps its reason: the retry can only say it again.
            kept = target is None or original_exists(queue.store, target["original_path"])
            db.execute(
                "UPDATE reflection SET status = 'received',"
                " failure_reason = CASE WHEN ? THEN NULL ELSE failure_reason END"
                " WHERE id = ? AND status = 'failed'",
                (int(kept), row["target_id"]),
            )
    queue.deliver(job_id)
    return True


def start_consumer(queue: JobQueue, workers: int = 1) -> Consumer:
    """Recover, then start worker threads in this process (``voxpop serve`` and ``worker``)."""
    recover(queue)
    consumer = queue.huey.create_consumer(
        workers=workers, worker_type="thread", periodic=False, max_delay=2.0,
        check_worker_health=True,
    )  # fmt: skip
    consumer.start()
    return consumer


def list_jobs(db: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    """The newest jobs, for operators."""
    return db.execute("SELECT * FROM job ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
