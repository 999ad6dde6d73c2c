"""The record of the day's PDFs, made in the background (issue 18).

A report of 1,000 reflections takes 20–30 s of one core (WeasyPrint lays out about 24 ms per
quote), too long for a request on a busy laptop. So the studio asks for one
(``request_report``: a ``record_report`` row and a job), the worker makes it page by page with
its progress in the job row, and the finished PDF waits in ``instance/reports/`` (private: never
served but through the organisers' download route) until the next one of the same language and
kind replaces it, or an organiser deletes it.

A withdrawal makes every report of its event unfit to hand on (it may quote the withdrawn
reflection): ``discard_for_event`` marks them in the withdrawal's transaction, so they are no
longer offered, and ``remove_discarded`` deletes their files in the withdrawal job. A report
being made at that moment is thrown away at the end and made again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from voxpop import audit, jobs, models, reasons
from voxpop.db import transaction, utcnow
from voxpop.reasons import N_, Reason
from voxpop.record import report

log = logging.getLogger(__name__)

RECORD_REPORT = "record_report"
FOLDER = "reports"  # under the instance folder
STAGE_WRITE_INTERVAL = 0.5  # seconds between progress writes


@dataclass(frozen=True)
class StoredReport:
    """One PDF asked for: what it is, how far along, and the file once made."""

    id: int
    event_id: int
    lang: str
    internal: bool
    created_at: str
    stage: str  # queued, gathering, reading, layout, writing, done, failed
    pages: int | None
    file: str | None
    size: int | None
    made_at: str | None
    discarded: bool
    status: str  # the job's: queued, running, done, failed
    progress: float
    error: str | None
    expected_pages: int | None = None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def ready(self) -> bool:
        return self.file is not None and not self.discarded


_SELECT = (
    "SELECT r.*, j.status AS job_status, j.progress AS job_progress, j.error AS job_error"
    " FROM record_report r LEFT JOIN job j ON j.id = ("
    "   SELECT MAX(id) FROM job WHERE kind = 'record_report' AND target_id = r.id)"
)


def _stored(row: sqlite3.Row) -> StoredReport:
    return StoredReport(
        id=row["id"],
        event_id=row["event_id"],
        lang=row["lang"],
        internal=bool(row["internal"]),
        created_at=row["created_at"],
        stage=row["stage"],
        pages=row["pages"],
        file=row["file"],
        size=row["size"],
        made_at=row["made_at"],
        discarded=bool(row["discarded"]),
        status=row["job_status"] or "failed",
        progress=float(row["job_progress"] or 0),
        error=reasons.render(row["job_error"], _),
        expected_pages=row["expected_pages"],
    )


def get_report(db: sqlite3.Connection, report_id: int) -> StoredReport | None:
    row = db.execute(f"{_SELECT} WHERE r.id = ?", (report_id,)).fetchone()
    return _stored(row) if row else None


def latest_reports(db: sqlite3.Connection, event_id: int) -> list[StoredReport]:
    """The newest report of each language and kind (published, internal) for the event."""
    rows = db.execute(
        f"{_SELECT} WHERE r.id IN (SELECT MAX(id) FROM record_report"  # noqa: S608
        " WHERE event_id = ? GROUP BY lang, internal) ORDER BY r.internal, r.lang",
        (event_id,),
    ).fetchall()
    return [_stored(row) for row in rows]


def request_report(
    db: sqlite3.Connection,
    queue: jobs.JobQueue,
    event: models.Event,
    lang: str,
    *,
    internal: bool,
    actor: audit.Actor | None,
) -> int:
    """Ask for the record of the day as a PDF; return the report's id.

    The same report (language and kind) already being made is not asked for twice.
    """
    with transaction(db):
        row = db.execute(
            "SELECT r.id FROM record_report r JOIN job j ON j.kind = ? AND j.target_id = r.id"
            " WHERE r.event_id = ? AND r.lang = ? AND r.internal = ?"
            " AND j.status IN ('queued', 'running')",
            (RECORD_REPORT, event.id, lang, int(internal)),
        ).fetchone()
        if row is not None:
            return int(row["id"])
        now = utcnow()
        cursor = db.execute(
            "INSERT INTO record_report (event_id, lang, internal, requested_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (event.id, lang, int(internal), actor.id if actor else None, now),
        )
        report_id = int(cursor.lastrowid or 0)
        action = "report.internal" if internal else "report.request"
        audit.record(db, action, "event", event.id, None, {"format": "pdf", "lang": lang},
                     actor=actor, at=now)  # fmt: skip
        job_id, _made = jobs.open_job(db, RECORD_REPORT, report_id, created_at=now)
    queue.deliver(job_id)
    return report_id


def report_path(instance: Path, stored: StoredReport) -> Path | None:
    """The finished PDF on disk, or None when there is none to offer."""
    if not stored.ready or stored.file is None:
        return None
    path = instance / stored.file
    return path if path.is_file() else None


def delete_report(db: sqlite3.Connection, instance: Path, report_id: int) -> bool:
    """Delete a finished (or failed) report and its file; False while it is being made."""
    with transaction(db):
        stored = get_report(db, report_id)
        if stored is None or stored.active:
            return False
        db.execute("DELETE FROM job WHERE kind = ? AND target_id = ?", (RECORD_REPORT, report_id))
        db.execute("DELETE FROM record_report WHERE id = ?", (report_id,))
    if stored.file:
        _unlink(instance / stored.file)
    return True


def discard_for_event(db: sqlite3.Connection, event_id: int) -> None:
    """A reflection of the event was withdrawn: no report made before may be offered again
    (call inside the withdrawal's transaction; ``remove_discarded`` deletes the files)."""
    db.execute("UPDATE record_report SET discarded = 1 WHERE event_id = ?", (event_id,))


def remove_discarded(db: sqlite3.Connection, instance: Path) -> int:
    """Delete the files of discarded reports; return how many were deleted."""
    rows = db.execute(
        "SELECT id, file FROM record_report WHERE discarded = 1 AND file IS NOT NULL"
    ).fetchall()
    for row in rows:
        _unlink(instance / row["file"])
        db.execute("UPDATE record_report SET file = NULL, size = NULL WHERE id = ?", (row["id"],))
    return len(rows)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# -- the job ---------------------------------------------------------------------------------


def _stage_writer(db: sqlite3.Connection, job_id: int, report_id: int) -> report.Progress:
    """Stores a report's stage, pages and progress: at once when the stage changes, else at
    most twice a second."""
    last_stage, last_at = "", 0.0

    def write(stage: str, fraction: float, pages: int) -> None:
        nonlocal last_stage, last_at
        now = time.monotonic()
        if stage == last_stage and now - last_at < STAGE_WRITE_INTERVAL:
            return
        last_stage, last_at = stage, now
        db.execute(
            "UPDATE record_report SET stage = ?, pages = ? WHERE id = ?",
            (stage, pages or None, report_id),
        )
        db.execute(
            "UPDATE job SET progress = ? WHERE id = ?", (round(min(max(fraction, 0), 1), 4), job_id)
        )

    return write


def _make_report_job(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:
    report_id = int(job["target_id"])
    row = db.execute("SELECT * FROM record_report WHERE id = ?", (report_id,)).fetchone()
    if row is None:
        jobs.finish(db, job["id"], "failed", "This report was deleted.")
        return "failed"
    folder = queue.instance / FOLDER
    partial = folder / f"{report_id}.pdf.partial"
    write = _stage_writer(db, int(job["id"]), report_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write("gathering", 0.0, 0)
        event = models.get_event(db, int(row["event_id"]))
        record = report.build_record(db, event, row["lang"], internal=bool(row["internal"]))
        db.execute(
            "UPDATE record_report SET expected_pages = ? WHERE id = ?",
            (report.expected_pages(record), report_id),
        )
        pages = report.write_pdf(record, partial, on_progress=write)
    except Exception as error:
        _unlink(partial)
        if jobs.ran_out_of_disk(error):
            db.execute("UPDATE record_report SET stage = 'queued' WHERE id = ?", (report_id,))
            return jobs.wait_for_disk(db, queue, job)
        log.exception("Making report %s failed", report_id)
        message = Reason(N_("The report could not be made (%(kind)s); see the server log."),
                         {"kind": type(error).__name__})  # fmt: skip
        db.execute("UPDATE record_report SET stage = 'failed' WHERE id = ?", (report_id,))
        jobs.finish(db, job["id"], "failed", message)
        return "failed"
    return _keep(db, queue, job, report_id, partial, pages)


def _keep(
    db: sqlite3.Connection,
    queue: jobs.JobQueue,
    job: sqlite3.Row,
    report_id: int,
    partial: Path,
    pages: int,
) -> str:
    """Put the finished PDF in place, unless a withdrawal came first (then make it again)."""
    final = partial.with_suffix("")  # N.pdf
    older: list[sqlite3.Row] = []
    with transaction(db):
        row = db.execute("SELECT * FROM record_report WHERE id = ?", (report_id,)).fetchone()
        if row is None:  # deleted while being made
            _unlink(partial)
            jobs.finish(db, job["id"], "failed", "This report was deleted.")
            return "failed"
        if row["discarded"]:
            _unlink(partial)
            db.execute(
                "UPDATE record_report SET discarded = 0, stage = 'queued', pages = NULL"
                " WHERE id = ?",
                (report_id,),
            )
            message = N_("A reflection was withdrawn while the report was being made: "
                         "making it again without it.")  # fmt: skip
            return jobs.requeue(db, queue, job, message, 0)
        os.replace(partial, final)
        older = db.execute(
            "SELECT id, file FROM record_report WHERE event_id = ? AND lang = ? AND internal = ?"
            " AND id < ? AND file IS NOT NULL",
            (row["event_id"], row["lang"], row["internal"], report_id),
        ).fetchall()
        for old in older:  # the new one replaces them
            db.execute("UPDATE record_report SET file = NULL, size = NULL WHERE id = ?",
                       (old["id"],))  # fmt: skip
        db.execute(
            "UPDATE record_report SET stage = 'done', pages = ?, file = ?, size = ?, made_at = ?"
            " WHERE id = ?",
            (pages, f"{FOLDER}/{final.name}", final.stat().st_size, utcnow(), report_id),
        )
        jobs.finish(db, job["id"], "done")
    for old in older:
        _unlink(queue.instance / old["file"])
    return "done"


def _requeued(db: sqlite3.Connection, _store: object, job: sqlite3.Row, _retried: bool) -> None:
    """Interrupted (or retried): it starts from the beginning."""
    db.execute(
        "UPDATE record_report SET stage = 'queued', pages = NULL WHERE id = ?", (job["target_id"],)
    )


def register_job_handlers() -> None:
    """Tell the queue which function makes a report."""
    jobs.register(RECORD_REPORT, _make_report_job, on_requeue=_requeued)
