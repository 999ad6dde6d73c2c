"""Withdrawing a reflection: by its receipt code (the delegate) or on their behalf (organiser).

The receipt code is the delegate's credential: staff screens never show it. An organiser who
withdraws for someone confirms it with the code the person tells them (or, when the receipt is
lost, the reflection's number), and the audit log names the organiser.

``withdraw`` makes the reflection disappear from everything a person can see in one
transaction: status ``withdrawn``, consent ``withdrawn_at``, its words, captions, name, trims,
tags, asset rows and reel places gone, and the audit log's before/after of it emptied (the rows
that say *what* was done stay). The consent row stays, saying when it was withdrawn.

The files go in the job ``withdraw_reflection`` queued in the same transaction (so a crash
cannot lose it): the original, the derived folder (delivery file, poster, cards, reel pieces),
the staged copy of the export, and then stale reels render again and, when S3 is set up, a
publish deletes the objects (waiting while the laptop is offline). Running it twice is
harmless.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _
from limits import RateLimitItemPerSecond
from limits.strategies import RateLimiter

from voxpop import audit, copies, jobs, models, ratelimit
from voxpop.archive.service import is_on_the_wall, is_publishable
from voxpop.db import transaction, utcnow
from voxpop.errors import VoxpopError
from voxpop.formatting import format_when
from voxpop.publishing import export, publish
from voxpop.publishing.publish import PUBLISH_ARCHIVE
from voxpop.record import reports
from voxpop.reels import service as reels
from voxpop.reels.service import RENDER_REEL
from voxpop.reflection import search
from voxpop.reflection.intake.receipts import normalise_receipt_code
from voxpop.storage import MediaStore, StorageError

log = logging.getLogger(__name__)

WITHDRAW_REFLECTION = "withdraw_reflection"
# Jobs that write a reflection's files: a withdrawal waits for a running one to finish first.
_WRITES_ITS_FILES = ("process_reflection", "prepare_reel_clip")
WAIT_SECONDS = 5.0  # between looks at a job the withdrawal waits for


class WithdrawalError(VoxpopError):
    """A withdrawal that cannot go ahead as asked; nothing was changed."""


class UnknownCode(WithdrawalError):
    """No reflection has this receipt code (or it is not a receipt code at all)."""

    status = 404


class NotACode(UnknownCode):
    """What was typed cannot be a receipt code: no code is guessed by it, so it is not counted
    against the address (tests/test_rate_limits.py)."""


class AlreadyWithdrawn(WithdrawalError):
    """The reflection with this code was withdrawn before."""

    status = 410


class WrongConfirmation(WithdrawalError):
    """What an organiser typed to confirm a withdrawal on someone's behalf does not match."""

    status = 400


class TooManyAttempts(WithdrawalError):
    """Too many wrong codes from one address: refused for a while."""

    status = 429


@dataclass(frozen=True)
class FoundReflection:
    """A reflection found by its receipt code (not withdrawn)."""

    id: int
    event_id: int
    receipt_code: str
    kind: str
    perspective_labels: dict[str, str]
    created_at: str


@dataclass(frozen=True)
class WithdrawalPreview:
    """What a withdrawal will remove, without showing the reflection itself."""

    id: int
    receipt_code: str
    kind: str
    perspective: str
    created_at: str
    reels: int  # highlights reels it is in
    in_archive: bool  # shown in the public archive right now
    online: bool  # agreed to be published online
    on_wall: bool = False  # on the live wall in the room right now


# -- finding ------------------------------------------------------------------------------------


def find_by_code(db: sqlite3.Connection, code: str) -> FoundReflection:
    """The reflection with this receipt code, however it was typed (case, spaces, dashes).

    Raises UnknownCode (not a code, or no such reflection) or AlreadyWithdrawn.
    """
    canonical = normalise_receipt_code(code or "")
    if canonical is None:
        raise NotACode(
            _("That does not look like a receipt code. It has six letters and numbers, "
              "like KX7-4QF, and never the look-alikes O, 0, I, 1 or L.")
        )  # fmt: skip
    row = db.execute(
        "SELECT r.id, r.event_id, r.receipt_code, r.kind, r.status, r.created_at, p.labels,"
        " c.withdrawn_at FROM reflection r JOIN perspective p ON p.id = r.perspective_id"
        " LEFT JOIN consent c ON c.reflection_id = r.id WHERE r.receipt_code = ?",
        (canonical,),
    ).fetchone()
    if row is None:
        raise UnknownCode(
            _("No reflection has the receipt code %(code)s. Check it and try again.",
              code=canonical)
        )  # fmt: skip
    if row["status"] == "withdrawn":
        raise AlreadyWithdrawn(
            _("The reflection with this code was already withdrawn (%(when)s). "
              "Nothing of it is kept.", when=format_when(row["withdrawn_at"]))
        )  # fmt: skip
    return FoundReflection(
        id=row["id"], event_id=row["event_id"], receipt_code=row["receipt_code"],
        kind=row["kind"], perspective_labels=json.loads(row["labels"]),
        created_at=row["created_at"],
    )  # fmt: skip


def preview(db: sqlite3.Connection, found: FoundReflection, lang: str) -> WithdrawalPreview:
    """What will be removed: kind, perspective, when, and where it is shown now."""

    (reels,) = db.execute(
        "SELECT COUNT(DISTINCT reel_id) FROM reel_item WHERE reflection_id = ?", (found.id,)
    ).fetchone()
    consent = db.execute(
        "SELECT online FROM consent WHERE reflection_id = ?", (found.id,)
    ).fetchone()
    return WithdrawalPreview(
        id=found.id, receipt_code=found.receipt_code, kind=found.kind,
        perspective=str(models.localised(found.perspective_labels, lang)),
        created_at=found.created_at, reels=int(reels),
        in_archive=is_publishable(db, found.id), online=bool(consent and consent["online"]),
        on_wall=is_on_the_wall(db, found.id),
    )  # fmt: skip


_REFLECTION_NUMBER = re.compile(r"^\s*#?\s*(\d{1,12})\s*$")
CONFIRMED_BY_CODE = "receipt code"
CONFIRMED_BY_NUMBER = "reflection number"


def confirm_on_behalf(db: sqlite3.Connection, reflection_id: int, typed: str) -> str:
    """Check what an organiser typed to withdraw for someone: the receipt code the person tells
    them, or (receipt lost) the reflection's number. Returns which one it was.

    Raises WrongConfirmation without saying what the code is: staff never see it.
    """
    number = _REFLECTION_NUMBER.match(typed or "")
    if number and int(number.group(1)) == reflection_id:
        return CONFIRMED_BY_NUMBER
    canonical = normalise_receipt_code(typed or "")
    row = db.execute(
        "SELECT receipt_code FROM reflection WHERE id = ?", (reflection_id,)
    ).fetchone()
    if canonical and row and hmac.compare_digest(canonical, str(row["receipt_code"] or "")):
        return CONFIRMED_BY_CODE
    raise WrongConfirmation(
        _("That is not the receipt code of this reflection. Type the code the person tells "
          "you, or, if they have lost their receipt, the reflection's number #%(number)d.",
          number=reflection_id)
    )  # fmt: skip


# -- the brake on guessing codes -----------------------------------------------------------------


_WRONG_CODES = "withdraw-wrong-codes"


def count_wrong_code(strategy: RateLimiter, address: str, *, limit: int, window: int) -> None:
    """Count a wrong code from ``address``; past ``limit`` in ``window`` seconds, raise
    TooManyAttempts (429, with Retry-After) instead of saying the code is unknown.

    Only wrong codes are counted, and only they are refused: a person who finally types their
    right code is never turned away, even from an address someone else is guessing from. The
    counters live in the rate limiter's storage (by default a SQLite file in the instance), so
    a restart does not reset them.
    """
    item = RateLimitItemPerSecond(limit, window)
    if strategy.hit(item, _WRONG_CODES, address):
        return
    reset = strategy.get_window_stats(item, _WRONG_CODES, address).reset_time
    seconds = max(1, math.ceil(reset - ratelimit.now()))
    raise TooManyAttempts(
        _("Too many codes that did not match were tried from this device. "
          "Please wait %(minutes)d minutes, or ask an organiser at the event.",
          minutes=max(1, math.ceil(seconds / 60))),
        headers={"Retry-After": str(seconds)},
    )  # fmt: skip


def is_braked(strategy: RateLimiter, address: str, *, limit: int, window: int) -> bool:
    """True while ``address`` has used up its wrong codes for the window."""
    return not strategy.test(RateLimitItemPerSecond(limit, window), _WRONG_CODES, address)


_braked_turns: dict[str, threading.Lock] = {}
_braked_turns_lock = threading.Lock()


@contextmanager
def braked_turn(address: str, pause_seconds: float) -> Iterator[None]:
    """While an address is braked, its codes are checked one at a time, each after a pause.

    The right code is still accepted (a delegate sharing the venue's address with a guesser is
    never locked out), but a guesser gets one answer every ``pause_seconds`` at most, instead
    of learning right from wrong at full speed. A second check from the same address while one
    is waiting is refused at once (TooManyAttempts), so waiting requests cannot pile up.
    """
    with _braked_turns_lock:
        turn = _braked_turns.setdefault(address, threading.Lock())
    if not turn.acquire(blocking=False):
        raise TooManyAttempts(
            _("Please wait for the previous code to be checked, then try again."),
            headers={"Retry-After": str(max(1, math.ceil(pause_seconds)))},
        )
    try:
        time.sleep(pause_seconds)
        yield
    finally:
        turn.release()


# -- withdrawing --------------------------------------------------------------------------------


def withdraw(
    db: sqlite3.Connection,
    queue: jobs.JobQueue,
    store: MediaStore,
    reflection_id: int,
    *,
    organiser: models.User | None = None,
    confirmed_with: str = CONFIRMED_BY_CODE,
) -> int:
    """Withdraw a reflection now (one transaction) and queue the removal of its files.

    ``organiser``: the organiser who did it for someone (audited under their name, with
    ``confirmed_with``: what they typed to confirm); None when the delegate used their code.
    Returns the id of the ``withdraw_reflection`` job. Raises UnknownCode (no such
    reflection) or AlreadyWithdrawn.
    """

    now = utcnow()
    with transaction(db):
        row = db.execute(
            "SELECT id, event_id, status FROM reflection WHERE id = ?", (reflection_id,)
        ).fetchone()
        if row is None:
            raise UnknownCode(_("That reflection does not exist."))
        if row["status"] == "withdrawn":
            raise AlreadyWithdrawn(_("This reflection was already withdrawn."))
        # Reels first: their revision moves on (a render showing it is now stale) and the
        # files that show it are dropped at once; the render job makes new ones without it.
        reel_ids = reels.reflections_changed(db, [reflection_id])
        for reel_id in reel_ids:
            db.execute("DELETE FROM reel_asset WHERE reel_id = ?", (reel_id,))
        scrub_rows(db, reflection_id, now)
        # A report made before may quote it: no longer offered, its file deleted by the job.
        reports.discard_for_event(db, row["event_id"])
        # Queued work on its files would only make them again.
        marks = ",".join("?" * len(_WRITES_ITS_FILES))
        db.execute(
            "UPDATE job SET status = 'done', finished_at = ?, error = 'Withdrawn.'"  # noqa: S608
            f" WHERE target_id = ? AND status = 'queued' AND kind IN ({marks})",
            (now, reflection_id, *_WRITES_ITS_FILES),
        )
        if organiser is not None:
            actor: audit.Actor = organiser
            how = {"by": "organiser", "confirmed_with": confirmed_with}
        else:
            actor = audit.Someone("delegate (receipt code)")
            how = {"by": "delegate"}
        audit.record(
            db, "reflection.withdraw", "reflection", reflection_id, None, how, actor=actor, at=now
        )
        job_id, _made = jobs.open_job(db, WITHDRAW_REFLECTION, reflection_id, created_at=now)
    for reel_id in reel_ids:
        reels.remove_reel_files(store, reel_id)
    queue.deliver(job_id)
    return job_id


# What a withdrawal blanks in the reflection's row. A column an older schema lacks is skipped:
# the same scrub runs on the backups kept from before a schema upgrade (voxpop.copies).
_BLANKED = {
    "status": "'withdrawn'",
    "review_state": "'hidden'",
    "text_body": "CASE WHEN kind = 'text' THEN '' ELSE NULL END",
    "transcript_vtt": "NULL",
    "display_name": "NULL",
    "trim_in": "NULL",
    "trim_out": "NULL",
    "starred": "0",
    "original_sha256": "NULL",
    "original_bytes": "NULL",
    "failure_reason": "NULL",
}


def scrub_rows(db: sqlite3.Connection, reflection_id: int, now: str) -> None:
    """Blank a withdrawn reflection in a database (inside the caller's transaction): status,
    words, captions, name, trims, star, hashes; consent marked withdrawn; tags, asset rows,
    reel places and its transcript deleted; the audit log's before/after of it emptied. Works
    on any schema version voxpop has had (the backups), skipping what it does not have."""
    columns = copies.table_columns(db, "reflection")
    sets = [f"{name} = {value}" for name, value in _BLANKED.items() if name in columns]
    params: list[object] = []
    if "reviewed_at" in columns:
        sets.append("reviewed_at = ?")
        params.append(now)
    db.execute(f"UPDATE reflection SET {', '.join(sets)} WHERE id = ?",  # noqa: S608 - ours
               (*params, reflection_id))  # fmt: skip
    if "withdrawn_at" in copies.table_columns(db, "consent"):
        db.execute(
            "UPDATE consent SET withdrawn_at = COALESCE(withdrawn_at, ?) WHERE reflection_id = ?",
            (now, reflection_id),
        )
    # The transcript and the search entries also go by triggers on the status (migrations 9
    # and 10); said here too, so the scrub reads as the whole list of what a withdrawal removes.
    for table in ("reflection_tag", "asset", "reel_item", "transcript", "search_entry",
                  "search_dirty"):  # fmt: skip
        if copies.table_columns(db, table):
            db.execute(f"DELETE FROM {table} WHERE reflection_id = ?", (reflection_id,))  # noqa: S608
    # The log keeps who did what and when; what it was (names, captions) goes.
    if copies.table_columns(db, "audit_log"):
        db.execute(
            "UPDATE audit_log SET before = NULL, after = NULL"
            " WHERE target_kind = 'reflection' AND target_id = ?",
            (reflection_id,),
        )


def _scrub_backup(db: sqlite3.Connection, reflection_id: int) -> None:
    """The withdrawal's scrub on a backup from before an upgrade, plus what the live database
    loses by other ways: reel files that showed it, and what the bucket was known to hold."""
    withdrawn_at = None
    if copies.table_columns(db, "consent"):
        row = db.execute(
            "SELECT withdrawn_at FROM consent WHERE reflection_id = ?", (reflection_id,)
        ).fetchone()
        withdrawn_at = row["withdrawn_at"] if row else None
    if copies.table_columns(db, "reel_item") and copies.table_columns(db, "reel_asset"):
        db.execute(
            "DELETE FROM reel_asset WHERE reel_id IN"
            " (SELECT reel_id FROM reel_item WHERE reflection_id = ?)",
            (reflection_id,),
        )
    if copies.table_columns(db, "published_object"):
        db.execute(
            "DELETE FROM published_object WHERE path LIKE ?",
            (f"media/reflections/{reflection_id}/%",),
        )
    scrub_rows(db, reflection_id, withdrawn_at or utcnow())


# -- the job ------------------------------------------------------------------------------------


def _busy_with_it(db: sqlite3.Connection, reflection_id: int, event_id: int) -> str | None:
    """A running job that could write its files (or publish them) while we delete them."""

    marks = ",".join("?" * len(_WRITES_ITS_FILES))
    row = db.execute(
        "SELECT kind FROM job WHERE status = 'running' AND ("  # noqa: S608 - marks are ours
        f"(kind IN ({marks}) AND target_id = ?) OR kind = ? OR (kind = ? AND target_id = ?))",
        (*_WRITES_ITS_FILES, reflection_id, RENDER_REEL, PUBLISH_ARCHIVE, event_id),
    ).fetchone()
    return str(row["kind"]) if row else None


def _unlink(path: Path) -> None:
    if path.exists():
        path.chmod(0o644)  # originals are read-only (Windows refuses to delete those)
        path.unlink()


def remove_files(store: MediaStore, reflection_id: int, original_path: str | None) -> None:
    """Delete a reflection's original and its derived folder (nothing there is fine)."""
    if original_path:
        try:
            _unlink(store.path(original_path))
        except StorageError:
            log.warning("Reflection %s points outside the store: %r", reflection_id, original_path)
    folder = store.derived / str(reflection_id)
    if folder.exists():
        shutil.rmtree(folder)


def _refresh_staged_export(db: sqlite3.Connection, queue: jobs.JobQueue, event_id: int) -> None:
    """The publish keeps a copy of the export under instance/: drop the withdrawn files from
    it now, even while offline (an export that cannot be rebuilt is removed; it is a cache)."""

    folder = publish.staging_folder(queue.instance, event_id)
    if not folder.exists():
        return
    try:
        export.export_site(db, queue.store, folder, event_id)
    except (VoxpopError, OSError):
        log.warning("Could not rebuild the staged export of event %s; removing it", event_id)
        shutil.rmtree(folder)


def _withdraw_job(db: sqlite3.Connection, queue: jobs.JobQueue, job: sqlite3.Row) -> str:

    reflection_id = int(job["target_id"])
    row = db.execute(
        "SELECT id, event_id, status, original_path FROM reflection WHERE id = ?",
        (reflection_id,),
    ).fetchone()
    if row is None or row["status"] != "withdrawn":
        jobs.finish(db, job["id"], "failed", "This reflection is not withdrawn.")
        return "failed"
    busy = _busy_with_it(db, reflection_id, row["event_id"])
    if busy:
        return jobs.requeue(db, queue, job, f"Waiting for {busy} to finish.", WAIT_SECONDS)
    try:
        remove_files(queue.store, reflection_id, row["original_path"])
        with transaction(db):  # a processing run that ended mid-withdrawal may have added some
            db.execute("DELETE FROM asset WHERE reflection_id = ?", (reflection_id,))
        _refresh_staged_export(db, queue, row["event_id"])
        reports.remove_discarded(db, queue.instance)
        # Copies voxpop made elsewhere: the backups kept from before an upgrade, and every
        # folder it exported (issue 13: "erased" means erased).
        copies.scrub_backups(queue.instance, lambda backup: _scrub_backup(backup, reflection_id))
        export.refresh_export_folders(db, queue.store, queue.instance, row["event_id"],
                                      reflection_id)  # fmt: skip
    except OSError as error:
        log.exception("Removing the files of reflection %s failed", reflection_id)
        message = f"Could not delete its files: {error.strerror or error}"
        if job["attempts"] < jobs.MAX_ATTEMPTS:
            return jobs.requeue(db, queue, job, message, jobs.backoff(job["attempts"]))
        jobs.finish(db, job["id"], "failed", message)
        return "failed"
    # The search index keeps deleted words in older segments until merged: merge it now.
    search.forget(db)
    # Old page versions of its words may still sit in the write-ahead log: fold it back now
    # (secure_delete has zeroed them in the database file). Best effort: readers may hold it.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    reels.follow_up(db, queue)
    if publish.is_configured(db, row["event_id"]):
        publish.request_publish(db, queue, row["event_id"])
    jobs.finish(db, job["id"], "done")
    return "done"


def register_job_handlers() -> None:
    """Tell the queue which function carries out a withdrawal."""
    jobs.register(WITHDRAW_REFLECTION, _withdraw_job)
