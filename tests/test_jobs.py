"""Jobs that survive the venue: retries with backoff, recovery after a crash, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import mediafiles
from tests.conftest import add_reflection, process, requires_ffmpeg, rows
from voxpop import create_app, jobs, models, reasons
from voxpop.cli import main
from voxpop.db import get_db
from voxpop.media.ffmpeg import MediaToolFailed

pytestmark = [requires_ffmpeg, pytest.mark.media]


def job_of(app, reflection_id: int) -> dict:
    (job,) = rows(app, "SELECT * FROM job WHERE target_id = ?", reflection_id)
    return job


def test_tool_failures_are_retried_with_backoff_then_fail_with_a_reason(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voxpop.reflection.processing

    def broken_probe(*_args, **_kwargs):
        raise MediaToolFailed("ffprobe crashed.")

    monkeypatch.setattr(voxpop.reflection.processing, "probe_media", broken_probe)
    reflection_id = add_reflection(app, "video", Path(__file__))  # never read: probe is broken
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        job_id = jobs.enqueue_processing(get_db(), queue, reflection_id)
    delays = []
    for attempt in (1, 2):
        assert jobs.run_job(queue, job_id) == "retrying"
        job = job_of(app, reflection_id)
        assert (job["status"], job["attempts"], job["error"]) == (
            "queued",
            attempt,
            "ffprobe crashed.",
        )
        assert job["run_after"] is not None
        delays.append(job["run_after"])
        assert rows(app, "SELECT status FROM reflection")[0]["status"] == "received"
    waiting = [task for task in queue.huey.pending() if task.eta is not None]
    assert len(waiting) == 2  # both retries wait in the queue, each with its own time
    assert delays[0] < delays[1]
    assert jobs.run_job(queue, job_id) == "failed"
    job = job_of(app, reflection_id)
    gave_up = "ffprobe crashed. (gave up after 3 attempts)"
    assert job["status"] == "failed" and reasons.english(job["error"]) == gave_up
    (reflection,) = rows(app, "SELECT status, failure_reason FROM reflection")
    assert reflection["status"] == "failed"
    assert reasons.english(reflection["failure_reason"]) == gave_up

    monkeypatch.undo()
    reflection_source = mediafiles.aac_m4a(Path(app.config["UPLOADS"]) / "fixed.m4a")
    store = app.extensions["voxpop"].store
    with app.app_context():
        original = rows(app, "SELECT original_path FROM reflection")[0]["original_path"]
    (store.root / original).write_bytes(reflection_source.read_bytes())
    result = CliRunner(env={"VOXPOP_INSTANCE": app.config["INSTANCE"],
                            "VOXPOP_UPLOADS": app.config["UPLOADS"]}).invoke(
        main, ["jobs", "retry", str(job_id)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert job_of(app, reflection_id)["status"] == "queued"
    assert jobs.run_job(queue, job_id) == "done"
    assert rows(app, "SELECT status FROM reflection")[0]["status"] == "ready"


def test_one_clock_sets_stored_times_and_retry_times(app, monkeypatch) -> None:
    """Freezing ``voxpop.db.clock`` freezes what a job stores: when it was made, when it retries."""
    frozen = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    monkeypatch.setattr("voxpop.db.clock", lambda: frozen)
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        conn = get_db()
        job_id = jobs.enqueue(conn, queue, "clock_test", 1)
        job = conn.execute("SELECT * FROM job WHERE id = ?", (job_id,)).fetchone()
        assert jobs.requeue(conn, queue, job, "waiting", 90) == "retrying"
    (row,) = rows(app, "SELECT created_at, run_after FROM job WHERE id = ?", job_id)
    assert row == {
        "created_at": "2026-11-23T10:00:00+00:00",
        "run_after": "2026-11-23T10:01:30+00:00",
    }


def test_duplicate_delivery_runs_the_job_once(app, tmp_path) -> None:
    reflection_id = add_reflection(app, "text", text="Once is enough.")
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        job_id = jobs.enqueue_processing(get_db(), queue, reflection_id)
        assert jobs.enqueue_processing(get_db(), queue, reflection_id) == job_id
    assert jobs.run_job(queue, job_id) == "done"
    assert jobs.run_job(queue, job_id) == "skipped"
    assert job_of(app, reflection_id)["attempts"] == 1


def test_recovery_requeues_jobs_left_running(app) -> None:
    reflection_id = add_reflection(app, "text", text="Interrupted.")
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        db = get_db()
        job_id = jobs.enqueue_processing(db, queue, reflection_id)
        db.execute("UPDATE job SET status = 'running' WHERE id = ?", (job_id,))
        db.execute("UPDATE reflection SET status = 'processing' WHERE id = ?", (reflection_id,))
    assert jobs.recover(queue) == 1
    assert job_of(app, reflection_id)["status"] == "queued"
    assert rows(app, "SELECT status FROM reflection")[0]["status"] == "received"
    assert jobs.run_job(queue, job_id) == "done"


def test_kiosk_upload_queues_processing(app, kiosk) -> None:
    response = kiosk.post(kiosk.form())
    reflection_id = response.json["id"]
    assert job_of(app, reflection_id)["status"] == "queued"
    assert len(app.extensions["voxpop"].queue.huey.pending()) == 1


def test_cli_lists_reflections_and_jobs_and_rebuilds(app, tmp_path) -> None:
    video = add_reflection(app, "video", mediafiles.ipad_mp4(tmp_path / "i.mp4", size="640x360"))
    text = add_reflection(app, "text", text="Rebuild me.")
    bad = add_reflection(app, "video", mediafiles.random_bytes(tmp_path / "r.webm"))
    for reflection_id in (video, text, bad):
        process(app, reflection_id)
    cli = CliRunner(env={"VOXPOP_INSTANCE": app.config["INSTANCE"],
                         "VOXPOP_UPLOADS": app.config["UPLOADS"]})  # fmt: skip
    records = [
        json.loads(line) for line in cli.invoke(main, ["reflections", "--json"]).output.splitlines()
    ]
    by_id = {record["id"]: record for record in records}
    assert by_id[video]["status"] == "ready" and set(by_id[video]["files"]) == {
        "mp4",
        "poster",
        "thumb",
    }
    assert by_id[text]["files"].keys() == {"mp4", "poster", "thumb", "card"}
    # The CLI words the stored reason in English (never its JSON).
    refused_words = (
        "This file is not a recording in a format we accept (WebM, MP4, M4A, Ogg, WAV or MP3),"
        " or it is damaged. The file was deleted."
    )
    assert by_id[bad]["status"] == "failed" and by_id[bad]["reason"] == refused_words
    assert by_id[video]["perspective"] == "volunteer" and by_id[video]["kind"] == "video"
    listing = cli.invoke(main, ["jobs"]).output
    assert "process_reflection" in listing and "failed" in listing and "100.0%" in listing
    assert f"— {refused_words}" in listing and '"message"' not in listing

    store = app.extensions["voxpop"].store
    before = rows(app, "SELECT reflection_id, kind, path, sha256 FROM asset ORDER BY 1, 2")
    import shutil

    shutil.rmtree(store.derived)
    result = cli.invoke(main, ["rebuild"])
    assert result.exit_code == 0, result.output
    # The junk file was deleted when it was refused: rebuild leaves it failed, with its reason.
    assert "Rebuilt 2 reflection(s); 0 failed" in result.output
    (refused,) = rows(app, "SELECT status, failure_reason FROM reflection WHERE id = ?", bad)
    assert refused["status"] == "failed" and "not a recording" in reasons.english(
        refused["failure_reason"]
    )
    after = rows(app, "SELECT reflection_id, kind, path, sha256 FROM asset ORDER BY 1, 2")
    assert [(r["reflection_id"], r["kind"], r["path"]) for r in after] == [
        (r["reflection_id"], r["kind"], r["path"]) for r in before
    ]
    for row in after:
        assert (store.root / row["path"]).is_file()


def _start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "voxpop", "worker"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_for(predicate, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_transcode_recovers_without_duplicates(tmp_path, long_video) -> None:
    env = dict(os.environ, VOXPOP_INSTANCE=str(tmp_path / "instance"),
               VOXPOP_UPLOADS=str(tmp_path / "uploads"))  # fmt: skip
    config = {"INSTANCE": env["VOXPOP_INSTANCE"], "UPLOADS": env["VOXPOP_UPLOADS"]}
    app = create_app(config)
    with app.app_context():
        models.create_event(get_db(), "Crash test day")
    reflection_id = add_reflection(app, "video", long_video)
    with app.app_context():
        jobs.enqueue_processing(get_db(), app.extensions["voxpop"].queue, reflection_id)

    first = _start_worker(env)
    try:
        _wait_for(lambda: (j := job_of(app, reflection_id))["status"] == "running"
                  and j["progress"] > 0.1, "the transcode to be under way")  # fmt: skip
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert job_of(app, reflection_id)["status"] == "running"  # nobody is running it now
    assert rows(app, "SELECT status FROM reflection")[0]["status"] == "processing"

    second = _start_worker(env)
    try:
        _wait_for(lambda: rows(app, "SELECT status FROM reflection")[0]["status"] in
                  ("ready", "failed"), "the reflection to finish after restart")  # fmt: skip
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            second.kill()
    (reflection,) = rows(app, "SELECT status, failure_reason FROM reflection")
    assert reflection["status"] == "ready", reflection["failure_reason"]
    job = job_of(app, reflection_id)
    assert (job["status"], job["attempts"]) == ("done", 2)
    found = rows(app, "SELECT kind FROM asset WHERE reflection_id = ? ORDER BY kind", reflection_id)
    assert [row["kind"] for row in found] == ["mp4", "poster", "thumb"]
    mp4 = app.extensions["voxpop"].store.derived / str(reflection_id) / "delivery.mp4"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(mp4)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(probe.stdout) == pytest.approx(30.0, abs=0.2)
    leftovers = [p.name for p in mp4.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
