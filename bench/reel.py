"""Reel benchmark: our cached-pieces render against one naive ffmpeg command that re-encodes it all.

Run from the repository root::

    .venv/bin/python bench/reel.py              # 20 clips of 30 s (about 6 minutes on 2 cores)
    .venv/bin/python bench/reel.py --clips 5    # a quicker look

It builds an event whose reflections went through the real pipeline (generated 720p H.264/AAC
recordings, processed by ``jobs.run_job``), approved and starred with reel consent, spread over
the eight perspectives, some with captions and a consented first name. Then, in the same run:

* prepare: the background work done when a clip is approved or starred (each clip's head with
  its lower third), through the real ``prepare_reel_clip`` jobs — not part of (a) or (b);
* (a) first render after the clips are ready: the real ``render_reel`` job (cards, which are
  not made yet, then the join by stream copy, captions);
* (b) re-render after one clip is withdrawn (the reel is stale and renders again);
* (a cold) a render with no piece made before (heads and cards from scratch), for reference;
* (c) naive: one ffmpeg command that re-encodes the whole reel with the same overlays and cards
  (the same x264 settings, a filter graph with every lower third, pad and concat).

It prints the times, the ratios to (c), targets, and JSON; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxpop import create_app, jobs, models  # noqa: E402
from voxpop.db import get_db, transaction, utcnow  # noqa: E402
from voxpop.media import reel as reel_media  # noqa: E402
from voxpop.media.transcode import DELIVERY, _audio_codec_args, _video_codec_args  # noqa: E402
from voxpop.reels import render  # noqa: E402
from voxpop.reels import service as reels  # noqa: E402

TARGET_FIRST = 10.0  # seconds, (a) on 2 cores
TARGET_RERENDER = 5.0  # seconds, (b) on 2 cores
NAMES = ["Siân", "Dafydd", "Aisha", "Tom", "Megan", "Rhys", "Nia", "Kwame"]


def ffmpeg_quiet(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, timeout=1800)  # fmt: skip


def make_source(path: Path, seconds: int, index: int) -> Path:
    """A 720p30 H.264/AAC recording (as an iPad makes), different picture and tone each time."""
    ffmpeg_quiet(
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30,hue=h={index * 37}",
        "-f", "lavfi", "-i", f"sine=frequency={220 + 20 * index}:sample_rate=48000",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3M",
        "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
    )  # fmt: skip
    return path


def run_queued(app: Any, kind: str) -> int:
    queue = app.extensions["voxpop"].queue
    ran = 0
    while True:
        with app.app_context():
            pending = (
                get_db()
                .execute(
                    "SELECT id FROM job WHERE status = 'queued' AND kind = ? ORDER BY id", (kind,)
                )
                .fetchall()
            )
        if not pending:
            return ran
        for job in pending:
            outcome = jobs.run_job(queue, job["id"])
            if outcome not in ("done", "skipped"):
                raise RuntimeError(f"{kind} job {job['id']}: {outcome}")
            ran += 1


def build_day(folder: Path, clips: int, seconds: int) -> tuple[Any, list[int], int]:
    app = create_app({"INSTANCE": str(folder / "instance"), "UPLOADS": str(folder / "uploads"),
                      "QUEUE": "memory"})  # fmt: skip
    store = app.extensions["voxpop"].store
    with app.app_context():
        db = get_db()
        event = models.create_event(db, "Whose Shoes? Cardiff", date="2026-11-23",
                                    venue="Cardiff City Hall", languages=["en", "cy"],
                                    max_clip_seconds=max(90, seconds + 5))  # fmt: skip
        perspectives = models.perspectives(db, event.id)
        prompt = models.prompts(db, event.id)[0]
        consent = models.current_consent_text(db, event.id)
    ids = []
    sources = folder / "sources"
    sources.mkdir()
    for index in range(clips):
        source = make_source(sources / f"clip{index}.mp4", seconds, index)
        store.originals.mkdir(parents=True, exist_ok=True)
        original = f"originals/{uuid.uuid4().hex}.mp4"
        shutil.move(source, store.root / original)
        perspective = perspectives[index % len(perspectives)]
        name = NAMES[index % len(NAMES)] if index % 3 == 0 else None
        with app.app_context():
            db = get_db()
            with transaction(db):
                reflection_id = int(db.execute(
                    "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id,"
                    " original_path, status, receipt_code, client_id, lang, display_name,"
                    " created_at) VALUES (?, 'video', ?, ?, ?, 'received', ?, ?, 'en', ?, ?)",
                    (event.id, perspective.id, prompt.id, original, uuid.uuid4().hex[:7],
                     str(uuid.uuid4()), name, utcnow()),
                ).lastrowid)  # fmt: skip
                db.execute(
                    "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                    " reel, online, show_name, given_at) VALUES (?, ?, ?, 1, 1, 1, ?, ?)",
                    (reflection_id, consent.id, consent.sha256, int(name is not None), utcnow()),
                )
            job_id = jobs.enqueue_processing(db, app.extensions["voxpop"].queue, reflection_id)
        if jobs.run_job(app.extensions["voxpop"].queue, job_id) != "done":
            raise RuntimeError(f"processing clip {index} failed")
        captions = None
        if index % 2 == 0:
            captions = ("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nWhat I take away from today.\n"
                        "\n00:00:10.000 --> 00:00:14.000\nWe were listened to.\n")  # fmt: skip
        with app.app_context():
            db = get_db()
            with transaction(db):
                db.execute(
                    "UPDATE reflection SET review_state = 'approved', starred = 1,"
                    " transcript_vtt = ?, trim_in = ?, trim_out = ? WHERE id = ?",
                    (captions, 1.0 if index % 4 == 1 else None,
                     seconds - 3.0 if index % 4 == 1 else None, reflection_id),
                )  # fmt: skip
                reels.note_for_follow_up([reflection_id])
            reels.follow_up(db, app.extensions["voxpop"].queue, [reflection_id])
        ids.append(reflection_id)
        print(f"  clip {index + 1}/{clips} ready", file=sys.stderr)
    with app.app_context():
        db = get_db()
        reel_id = reels.create_reel(db, models.current_event(db), "Highlights", actor=None)
    return app, ids, reel_id


def timed_render(app: Any, reel_id: int) -> tuple[float, int]:
    with app.app_context():
        db = get_db()
        reels.request_render(db, app.extensions["voxpop"].queue, models.current_event(db), reel_id)
    started = time.perf_counter()
    run_queued(app, reels.RENDER_REEL)
    elapsed = time.perf_counter() - started
    with app.app_context():
        row = get_db().execute("SELECT status FROM reel WHERE id = ?", (reel_id,)).fetchone()
    if row["status"] != "ready":
        raise RuntimeError(f"render ended {row['status']}")
    return elapsed, 0


def naive_command(app: Any, reel_id: int, out: Path, scratch: Path) -> list[str]:
    """One ffmpeg command that makes the same reel from the delivery files and card images."""
    store = app.extensions["voxpop"].store
    with app.app_context():
        plan = render.plan_reel(get_db(), store, reel_id)
        clips = {clip.reflection_id: clip for clip in render.load_clips(get_db(), store, reel_id)}
    width, height = reel_media.reel_frame()
    inputs: list[str] = []
    graph: list[str] = []
    labels: list[str] = []
    count = 0
    for index, planned in enumerate(plan.pieces):
        if planned.what.endswith(" rest"):
            continue  # the naive command cuts each clip whole, with its overlay
        if planned.what.split(" ")[0] in ("intro", "section", "outro"):
            png = scratch / f"card{index}.png"
            cards_png = planned.piece.path.with_suffix(".png")
            ffmpeg_quiet("-i", str(planned.piece.path), "-frames:v", "1", str(png))
            del cards_png
            seconds = planned.piece.duration
            inputs += ["-loop", "1", "-framerate", "30", "-t", f"{seconds}", "-i", str(png),
                       "-f", "lavfi", "-t", f"{seconds}", "-i",
                       "anullsrc=channel_layout=stereo:sample_rate=48000"]  # fmt: skip
            graph.append(f"[{count}:v]scale={width}:{height},setsar=1,format=yuv420p[v{index}]")
            graph.append(f"[{count + 1}:a]aformat=sample_fmts=fltp[a{index}]")
            count += 2
        else:
            reflection_id = int(planned.what.split(" ")[1])
            clip = clips[reflection_id]
            full = render._duration(str(clip.delivery), clip.sha256)
            start, end = reel_media.snap_trim(clip.trim_in, clip.trim_out, full)
            lower = scratch / f"lt{index}.png"
            reel_media.render_lower_third(lower, label=str(models.localised(clip.labels, "en")),
                                          name=clip.name, colour=clip.colour)  # fmt: skip
            inputs += ["-ss", f"{start}", "-t", f"{end - start}", "-i", str(clip.delivery),
                       "-loop", "1", "-framerate", "30", "-t", "4", "-i", str(lower)]  # fmt: skip
            graph.append(
                f"[{count}:v]scale={width}:{height}:force_original_aspect_ratio=decrease,"
                f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1[b{index}];"
                f"[b{index}][{count + 1}:v]overlay=0:0:eof_action=pass,format=yuv420p[v{index}]"
            )
            graph.append(f"[{count}:a]aformat=sample_fmts=fltp[a{index}]")
            count += 2
        labels.append(f"[v{index}][a{index}]")
    graph.append(f"{''.join(labels)}concat=n={len(labels)}:v=1:a=1[v][a]")
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs,
            "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]",
            *_video_codec_args(DELIVERY), *_audio_codec_args(DELIVERY), str(out)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="voxpop-bench-reel-"))
    try:
        results = run(folder, args.clips, args.seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(results, indent=2))


def run(folder: Path, clips: int, seconds: int) -> dict[str, Any]:
    print(f"Making {clips} ready clips of {seconds} s…", file=sys.stderr)
    app, ids, reel_id = build_day(folder, clips, seconds)
    started = time.perf_counter()
    prepared = run_queued(app, reels.PREPARE_REEL_CLIP)
    prepare_seconds = time.perf_counter() - started

    first, _ = timed_render(app, reel_id)
    with app.app_context():
        plan = render.plan_reel(get_db(), app.extensions["voxpop"].store, reel_id)
    duration = plan.duration

    # (b) one clip withdrawn: it leaves every reel, which renders again.
    withdrawn = ids[len(ids) // 2]
    with app.app_context():
        db = get_db()
        with transaction(db):
            reels.reflections_changed(db, [withdrawn])
            db.execute("DELETE FROM reel_item WHERE reflection_id = ?", (withdrawn,))
            db.execute("UPDATE reflection SET status = 'withdrawn' WHERE id = ?", (withdrawn,))
            db.execute("UPDATE consent SET withdrawn_at = ? WHERE reflection_id = ?",
                       (utcnow(), withdrawn))  # fmt: skip
        stale = reels.rerender_stale(db, app.extensions["voxpop"].queue)
    assert stale == [reel_id]
    started = time.perf_counter()
    run_queued(app, reels.RENDER_REEL)
    rerender = time.perf_counter() - started

    # (a cold) nothing made before: every head and card from scratch.
    store = app.extensions["voxpop"].store
    shutil.rmtree(render.card_folder(store), ignore_errors=True)
    for reflection_id in ids:
        shutil.rmtree(render.clip_folder(store, reflection_id), ignore_errors=True)
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute("UPDATE reel SET revision = revision + 1 WHERE id = ?", (reel_id,))
    cold, _ = timed_render(app, reel_id)

    # (c) naive: the same reel in one ffmpeg command, re-encoding everything.
    scratch = folder / "naive"
    scratch.mkdir()
    command = naive_command(app, reel_id, scratch / "naive.mp4", scratch)
    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=3600)
    naive = time.perf_counter() - started

    load = os.getloadavg()
    results = {
        "machine": {"nproc": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                    "load_after": [round(value, 2) for value in load]},
        "clips": clips, "clip_seconds": seconds, "reel_seconds": round(duration, 1),
        "prepare_seconds": round(prepare_seconds, 2), "prepared_jobs": prepared,
        "a_first_render": round(first, 2), "b_rerender_after_withdrawal": round(rerender, 2),
        "a_cold_render": round(cold, 2), "c_naive": round(naive, 2),
        "a_vs_naive": round(first / naive, 3), "b_vs_naive": round(rerender / naive, 3),
        "cold_vs_naive": round(cold / naive, 3),
        "targets": {"a": TARGET_FIRST, "b": TARGET_RERENDER},
    }  # fmt: skip
    print(f"\nReel of {clips} clips × {seconds} s ({duration:.0f} s with cards), "
          f"{results['machine']['nproc']} cores, load after {load[0]:.1f}")  # fmt: skip
    print(f"  prepare (background, {prepared} clips):  {prepare_seconds:7.2f} s")
    rows = [
        ("(a) first render", first, TARGET_FIRST),
        ("(b) re-render, 1 withdrawn", rerender, TARGET_RERENDER),
        ("(a cold) nothing cached", cold, None),
        ("(c) naive", naive, None),
    ]
    for label, value, target in rows:
        verdict = "" if target is None else ("  pass" if value <= target else "  MISS")
        print(f"  {label:28s} {value:7.2f} s   {value / naive:6.3f} × naive"
              f"{'' if target is None else f'   target ≤ {target:.0f} s'}{verdict}")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
