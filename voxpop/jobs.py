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

import logging
import sqlite3
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huey import MemoryHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from voxpop import reasons
from voxpop.db import connect, database_path, transaction, utc_in, utcnow
from voxpop.media.ffmpeg import DiskFull
from voxpop.reasons import N_, Reason
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
    # The queue's SQLite connection is closed with the queue (an app the tests throw away, a
    # command that ends), not left to the garbage collector, which warns of it.
    weakref.finalize(queue, huey.storage.close)

    @huey.task(name="run_job")
    def run_task(job_id: int) -> None:
        run_job(queue, job_id)

    queue.run_task = run_task
    return queue


def open_job(
    db: sqlite3.Connection, kind: str, target_id: int, *, created_at: str | None = None
) -> tuple[int, bool]:
    """Find the open job of ``kind`` for ``target_id``, or make its row (not delivered yet).

    Returns ``(job id, whether it was made now)``. Inside a change's transaction it becomes
    part of it: deliver the job once that has committed.
    """
    with transaction(db):
        row = db.execute(
            "SELECT id FROM job WHERE kind = ? AND target_id = ?"
            " AND status IN ('queued', 'running')",
            (kind, target_id),
        ).fetchone()
        if row:
            return int(row["id"]), False
        cursor = db.execute(
            "INSERT INTO job (kind, target_id, created_at) VALUES (?, ?, ?)",
            (kind, target_id, created_at or utcnow()),
        )
        return int(cursor.lastrowid or 0), True


def enqueue(
    db: sqlite3.Connection, queue: JobQueue, kind: str, target_id: int, *, now: bool = False
) -> int:
    """Create (or find the open) job of ``kind`` for ``target_id`` and deliver it.

    With ``now`` (a person asked for it), an open job that is waiting out a retry delay runs
    at once instead (``run_now``); a running one is left alone.
    """
    job_id, made = open_job(db, kind, target_id)
    if made:
        queue.deliver(job_id)
    elif now:
        run_now(db, queue, job_id)
    return job_id


def run_now(db: sqlite3.Connection, queue: JobQueue, job_id: int) -> bool:
    """Bring a queued job waiting to try again (``run_after``) forward to now, and deliver it.

    False when it is not waiting: running, finished, or due already. The delivery scheduled
    for the old time stays in the queue; by then the job has run, so it is skipped (or, if it
    was re-queued to wait again, it tries once more early, which does no harm).
    """
    with transaction(db):
        cursor = db.execute(
            "UPDATE job SET run_after = NULL WHERE id = ? AND status = 'queued'"
            " AND run_after IS NOT NULL",
            (job_id,),
        )
    if cursor.rowcount != 1:
        return False
    queue.deliver(job_id)
    return True


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


def finish(
    db: sqlite3.Connection, job_id: int, status: str, error: Reason | str | None = None
) -> None:
    """Mark a job ``done`` or ``failed`` (with the reason a user will read: a ``Reason``, or a
    message without values; see ``voxpop.reasons``)."""
    db.execute(
        "UPDATE job SET status = ?, error = ?, finished_at = ?,"
        " progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END WHERE id = ?",
        (status, reasons.store(error), utcnow(), status, job_id),
    )


JobHandler = Callable[[sqlite3.Connection, "JobQueue", sqlite3.Row], str]


# Called, inside the transaction, when a job of a kind goes back in the queue: after an
# interruption (retried=False) or when someone retries a failed job (retried=True). It puts
# the job's target back in the state that waits for it.
RequeueHook = Callable[[sqlite3.Connection, MediaStore, sqlite3.Row, bool], None]

_HANDLERS: dict[str, JobHandler] = {}
_REQUEUE_HOOKS: dict[str, RequeueHook] = {}


def register(kind: str, handler: JobHandler, on_requeue: RequeueHook | None = None) -> None:
    """Name the function that runs jobs of ``kind``; each feature registers its own kinds.

    The queue imports no feature: the app factory asks each feature to register its kinds
    (``voxpop.register_job_handlers``), so a worker built from the app knows them all.
    """
    known = _HANDLERS.get(kind)
    if known is not None and known is not handler:
        raise ValueError(f"Job kind {kind!r} is already handled by {known.__qualname__}")
    _HANDLERS[kind] = handler
    if on_requeue is not None:
        _REQUEUE_HOOKS[kind] = on_requeue


def handlers() -> dict[str, JobHandler]:
    """Job kind -> the function that runs it, as registered so far."""
    return dict(_HANDLERS)


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
    db: sqlite3.Connection, queue: JobQueue, job: sqlite3.Row, message: Reason | str, delay: float
) -> str:
    """Put a running job back in the queue to run again after ``delay`` seconds."""
    run_after = utc_in(delay)
    db.execute(
        "UPDATE job SET status = 'queued', error = ?, run_after = ? WHERE id = ?",
        (reasons.store(message), run_after, job["id"]),
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
    """What a facilitator reads on a job stopped by a full disk: what to do about it (a
    message without values, stored in English and worded when read; see voxpop.reasons)."""
    return N_(
        "The laptop's disk is full: free some space on it (delete old files or empty the "
        "bin). voxpop tries again every few minutes by itself."
    )


def wait_for_disk(db: sqlite3.Connection, queue: JobQueue, job: sqlite3.Row) -> str:
    """Re-queue a job stopped by a full disk, without limit: the disk may be freed."""
    log.warning("Job %s (%s) stopped: the disk is full; waiting", job["id"], job["kind"])
    return requeue(db, queue, job, disk_full_reason(),
                   backoff(job["attempts"], cap=DISK_FULL_WAIT_CAP))  # fmt: skip


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
                hook = _REQUEUE_HOOKS.get(job["kind"])
                if hook is not None:
                    hook(db, queue.store, job, False)
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
        hook = _REQUEUE_HOOKS.get(row["kind"])
        if hook is not None:
            hook(db, queue.store, row, True)
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
