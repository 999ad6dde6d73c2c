"""Transcode benchmark: our pipeline against a plain ``ffmpeg -i in out.mp4`` on camera-like input.

Run from the repository root::

    .venv/bin/python bench/transcode.py            # 720p and 1080p, 30 s and 60 s (several minutes)
    .venv/bin/python bench/transcode.py --quick    # only the 720p 30 s pair (and audio 30 s)
    .venv/bin/python bench/transcode.py --audio-only  # only the audio-only rows, 30 s and 60 s

For each generated input (Chromium MediaRecorder WebM, iPad MP4) it times, in the same run:

* ours: one reflection from ``received`` to ``ready`` through the real worker code path
  (``jobs.enqueue_processing`` + ``jobs.run_job``: probe, loudness pass, transcode, poster frame
  choice, Pillow poster and thumbnail, asset rows), wall time and the CPU time of the ffmpeg and
  ffprobe children;
* naive: ``ffmpeg -i in out.mp4`` with ffmpeg's defaults (libx264 medium, crf 23, source size).

It prints the machine, a results table with each target marked pass or MISS, where our time
goes, and the same results as JSON. It asserts nothing: benchmarks report, tests check
(``/work/shared/TESTING.md``). Everything it makes lives in a temporary folder, removed at the
end; ``--inputs DIR`` keeps the generated inputs there instead, to reuse them in later runs.

``--variant current,veryfast`` measures the pipeline as it is and with a change patched in (see
``VARIANTS``), alternating on each input, so a change is measured against the current code in
the same conditions; the voxpop sources are not modified.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxpop import create_app, jobs, models  # noqa: E402
from voxpop.db import get_db, transaction, utcnow  # noqa: E402
from voxpop.media import cards, posters, transcode  # noqa: E402
from voxpop.media import ffmpeg as media_ffmpeg  # noqa: E402

TARGET_REALTIME = 0.3  # our wall time / clip duration
TARGET_VS_NAIVE = 0.5  # our wall time / naive wall time
TARGET_SSIM = 0.95  # our output against the source scaled to the same size
# Audio-only reflections (a still card with the sound, issue 15): the picture should cost
# little more than encoding the sound.
TARGET_AUDIO_REALTIME = 0.1
TARGET_AUDIO_VS_NAIVE = 0.3

# Bitrates of the recorders we imitate: Chromium's MediaRecorder (VP8) and an iPad (H.264).
WEBM_BITRATE = {720: "2500k", 1080: "4M"}
IPAD_BITRATE = {720: "3M", 1080: "6M"}
SIZES = {720: (1280, 720), 1080: (1920, 1080)}
COMMAND_TIMEOUT = 1800


# --- the machine ----------------------------------------------------------------------------


def describe_machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text(errors="replace")
    mem_kb = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE)
    version = subprocess.run(
        ["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, timeout=30
    ).stdout.splitlines()[0]
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "ram_gib": round(int(mem_kb.group(1)) / 1024 / 1024, 1) if mem_kb else None,
        "ffmpeg": version.removeprefix("ffmpeg version ").split(" Copyright")[0],
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "code": code_version(),
    }


def code_version() -> str:
    """The commit measured, and which pipeline files differ from it (others edit concurrently)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30
        ).stdout.strip()

    changed = git(
        "status",
        "--porcelain",
        "--",
        "voxpop/media",
        "voxpop/reflection/processing.py",
        "voxpop/jobs.py",
    ).splitlines()
    dirty = ", ".join(line[3:] for line in changed)
    return git("rev-parse", "--short", "HEAD") + (f" with uncommitted {dirty}" if dirty else "")


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One generated input file."""

    name: str
    recorder: str  # "chromium-webm", "ipad-mp4", "chromium-opus" or "ipad-aac"
    height: int  # 0 for audio
    seconds: int
    path: Path

    @property
    def width(self) -> int:
        return SIZES[self.height][0] if self.height else 0

    @property
    def kind(self) -> str:
        return "video" if self.height else "audio"


def ffmpeg_quiet(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=COMMAND_TIMEOUT,
    )


def camera_like_graph(width: int, height: int) -> str:
    """A filter graph for [v] and [a]: something a camera and a voice might give.

    A slowly drifting colour gradient (a lit wall), a large moving object with sharp edges and
    text (testsrc2), a sparse organic texture that changes every frame (Game of Life, softened),
    and temporal sensor noise; a voice-like tone with pink room noise and a syllable-rate
    envelope. Neither a flat test card (trivially compressible) nor pure noise (pathological).
    """
    w, h = width, height
    return (
        f"gradients=s={w // 4}x{h // 4}:r=30:speed=0.02:n=3:seed=7,"
        f"scale={w}:{h}:flags=bilinear[bg];"
        f"testsrc2=s={w // 2}x{h // 2}:r=30,scale={w * 3 // 4}:{h * 3 // 4}[fg];"
        "[bg][fg]overlay=x='(W-w)/2+W/10*sin(t*0.9)':y='(H-h)/2+H/12*sin(t*0.6)'[mix];"
        f"life=s={w // 8}x{h // 8}:r=30:mold=20:ratio=0.08:seed=3:life_color=#f0d0a0:"
        f"death_color=#000000:mold_color=#302010,scale={w}:{h}:flags=bilinear,format=yuv420p[lf];"
        "[mix][lf]blend=all_mode=screen:all_opacity=0.35,noise=alls=7:allf=t+u,"
        "format=yuv420p[v];"
        "sine=f=180:r=48000[tone];anoisesrc=c=pink:r=48000:a=0.04:seed=5[room];"
        "[tone][room]amix=inputs=2,tremolo=f=2.5:d=0.8,aformat=channel_layouts=stereo,"
        # libopus takes 20 ms frames; lavfi sources give 1024-sample ones.
        "asetnsamples=n=960:p=0[a]"
    )


def make_inputs(folder: Path, heights: Sequence[int], durations: Sequence[int]) -> list[Clip]:
    """Record each size once at the longest duration; shorter clips are its first seconds.

    A recording stopped earlier is exactly such a prefix, so cutting with ``-c copy`` is faithful
    and halves the generation time.
    """
    clips = []
    longest = max(durations)
    for height in heights:
        width = SIZES[height][0]
        webm_full = folder / f"webm-{height}p-full.webm"
        mp4_full = folder / f"ipad-{height}p-full.mp4"
        started = time.perf_counter()
        # Chromium's MediaRecorder: VP8 realtime at its default bitrate for the size, and Opus.
        chromium = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                    "-b:v", WEBM_BITRATE[height], "-threads", "2",
                    "-c:a", "libopus", "-b:a", "128k"]  # fmt: skip
        # An iPad: H.264 High from a realtime hardware encoder (no B-frames), AAC-LC.
        ipad = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
                "-pix_fmt", "yuv420p", "-b:v", IPAD_BITRATE[height],
                "-maxrate", IPAD_BITRATE[height], "-bufsize", IPAD_BITRATE[height],
                "-bf", "0", "-g", "60", "-c:a", "aac", "-b:a", "128k", "-ar", "48000"]  # fmt: skip
        graph = camera_like_graph(width, height) + ";[v]split[v1][v2];[a]asplit[a1][a2]"
        ffmpeg_quiet(
            "-filter_complex", graph,
            "-map", "[v1]", "-map", "[a1]", "-t", str(longest), *chromium, str(webm_full),
            "-map", "[v2]", "-map", "[a2]", "-t", str(longest), *ipad, str(mp4_full),
        )  # fmt: skip
        print(
            f"  generated {height}p {longest} s in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        for seconds in durations:
            cut = [] if seconds == longest else ["-t", str(seconds)]
            webm = folder / f"chromium-{height}p-{seconds}s.webm"
            # Live (streamed) muxing leaves the duration out of the header, like MediaRecorder.
            ffmpeg_quiet(
                "-i", str(webm_full), *cut, "-c", "copy", "-live", "1", "-f", "webm", str(webm)
            )
            clips.append(Clip(webm.stem, "chromium-webm", height, seconds, webm))
            mp4 = folder / f"ipad-{height}p-{seconds}s.mp4"
            ffmpeg_quiet("-i", str(mp4_full), *cut, "-c", "copy", str(mp4))
            clips.append(Clip(mp4.stem, "ipad-mp4", height, seconds, mp4))
        webm_full.unlink()
        mp4_full.unlink()
    return clips


VOICE_GRAPH = (
    # camera_like_graph's voice: a tone with pink room noise and a syllable-rate envelope.
    "sine=f=180:r=48000[tone];anoisesrc=c=pink:r=48000:a=0.04:seed=5[room];"
    "[tone][room]amix=inputs=2,tremolo=f=2.5:d=0.8,aformat=channel_layouts=stereo,"
    "asetnsamples=n=960:p=0[a]"
)


def audio_inputs_in(folder: Path, durations: Sequence[int]) -> list[Clip]:
    """Audio-only recordings: Chromium's Opus WebM (no duration header) and an iPad's AAC M4A."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for seconds in durations:
        webm = folder / f"chromium-audio-{seconds}s.webm"
        m4a = folder / f"ipad-audio-{seconds}s.m4a"
        if not webm.exists():
            ffmpeg_quiet("-filter_complex", VOICE_GRAPH, "-map", "[a]", "-t", str(seconds),
                         "-c:a", "libopus", "-b:a", "128k", "-live", "1", "-f", "webm",
                         str(webm))  # fmt: skip
        if not m4a.exists():
            ffmpeg_quiet("-filter_complex", VOICE_GRAPH, "-map", "[a]", "-t", str(seconds),
                         "-c:a", "aac", "-b:a", "128k", "-ar", "48000", str(m4a))  # fmt: skip
        clips.append(Clip(webm.stem, "chromium-opus", 0, seconds, webm))
        clips.append(Clip(m4a.stem, "ipad-aac", 0, seconds, m4a))
    return clips


def inputs_in(folder: Path, heights: Sequence[int], durations: Sequence[int]) -> list[Clip]:
    """The inputs for this run: reused from ``folder`` when all are there, else generated."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [
        Clip(
            f"{stem}-{height}p-{seconds}s",
            recorder,
            height,
            seconds,
            folder / f"{stem}-{height}p-{seconds}s.{ext}",
        )
        for height in heights
        for seconds in durations
        for stem, recorder, ext in (
            ("chromium", "chromium-webm", "webm"),
            ("ipad", "ipad-mp4", "mp4"),
        )
    ]
    if all(clip.path.exists() for clip in wanted):
        print(f"Reusing the inputs in {folder}")
        return wanted
    print("Generating inputs…", flush=True)
    made = {clip.path: clip for clip in make_inputs(folder, heights, durations)}
    return [made[clip.path] for clip in wanted]


# --- measuring ------------------------------------------------------------------------------


def children_cpu() -> float:
    """User + system seconds of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Stages:
    """Wall seconds per pipeline step, filled in by the timing wrappers below."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, wall: float, cpu: float) -> None:
        self.wall[stage] = self.wall.get(stage, 0.0) + wall
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu


def stage_of(argv: Sequence[str]) -> str:
    """Name the pipeline step an ffmpeg/ffprobe argv belongs to."""
    if Path(argv[0]).name.startswith("ffprobe"):
        return "probe"
    if "-frames:v" in argv and "image2" in argv:
        return "poster frames"
    if "-frames:v" in argv:
        return "still card GOP"
    measuring = any(
        ("loudnorm" in arg and "measured_I" not in arg) or "ebur128" in arg for arg in argv
    )
    if measuring and "null" in argv:
        return "loudness pass"
    return "transcode"


@contextlib.contextmanager
def timed_stages(stages: Stages) -> Iterator[None]:
    """Time every ffmpeg/ffprobe the pipeline runs, and its Pillow work, by step."""
    real_run = media_ffmpeg.run
    from voxpop.reflection import processing

    real_poster = posters.poster_and_thumbnail
    real_choose = posters.choose_poster_frame
    real_open = processing.open_image_safely

    def run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        started, cpu = time.perf_counter(), children_cpu()
        try:
            return real_run(argv, **kwargs)
        finally:
            stages.add(stage_of(argv), time.perf_counter() - started, children_cpu() - cpu)

    def in_python(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), own_cpu()
            try:
                return function(*args, **kwargs)
            finally:
                stages.add(stage, time.perf_counter() - started, own_cpu() - cpu)

        return timed

    media_ffmpeg.run = run  # type: ignore[assignment]
    posters.poster_and_thumbnail = in_python("Pillow", real_poster)  # type: ignore[assignment]
    posters.choose_poster_frame = in_python("Pillow", real_choose)  # type: ignore[assignment]
    processing.open_image_safely = in_python("Pillow", real_open)  # type: ignore[assignment]
    try:
        yield
    finally:
        media_ffmpeg.run = real_run  # type: ignore[assignment]
        posters.poster_and_thumbnail = real_poster  # type: ignore[assignment]
        posters.choose_poster_frame = real_choose  # type: ignore[assignment]
        processing.open_image_safely = real_open  # type: ignore[assignment]


# --- variants: other settings, patched in for measurement only -------------------------------
#
# Each variant patches the running pipeline and returns a function that undoes the patch, so a
# change (proposed, or the previous setting) is measured against the current code in the same
# conditions without editing voxpop/; see docs/benchmarks.md for the results.

Undo = Callable[[], None]


def _patch(owner: Any, name: str, value: Any) -> Undo:
    real = getattr(owner, name)
    setattr(owner, name, value)
    return lambda: setattr(owner, name, real)


def veryfast() -> Undo:
    """The delivery encode as it was before 2026-11-23: plain preset veryfast.

    Kept to show what the switch to superfast (with veryfast's macroblock-tree rate control and
    10-frame lookahead kept, ``DeliveryProfile.x264_params``) bought.
    """
    real_run = media_ffmpeg.run

    def run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        if stage_of(argv) == "transcode" and "-preset" in argv:
            argv[argv.index("-preset") + 1] = "veryfast"
            if "-x264-params" in argv:
                index = argv.index("-x264-params")
                del argv[index : index + 2]
        return real_run(argv, **kwargs)

    return _patch(media_ffmpeg, "run", run)


def ebur128_measurement() -> Undo:
    """Measure loudness with ``ebur128=peak=true`` instead of a first ``loudnorm`` pass.

    Applied in issue 15 (``transcode.measure_loudness`` now does this), so it now measures the
    same as ``current``; kept to reproduce the figures in docs/benchmarks.md.

    Same EBU R128 integrated loudness, relative gate, LRA and 4x-oversampled true peak, about
    four times cheaper; the second (linear) loudnorm pass is unchanged.
    """

    def measure_loudness(
        source: Path, info: Any, profile: transcode.DeliveryProfile = transcode.DELIVERY
    ) -> dict[str, str] | None:
        if not info.has_audio:
            return None
        argv = media_ffmpeg.ffmpeg_command(
            [media_ffmpeg.Input(source, max_seconds=info.duration + 1)],
            ["-vn", "-sn", "-dn", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null"],
            Path(os.devnull),
            max_output_bytes=1_000_000,
            max_seconds=info.duration + 1,
            loglevel="info",
        )
        result = media_ffmpeg.run(argv, timeout=max(120.0, info.duration * 20))
        summary = result.stderr.rsplit("Summary:", 1)[-1]
        values = re.findall(r"(I|Threshold|LRA|Peak):\s+(-?[\d.]+|-inf)", summary)
        if result.returncode != 0 or len(values) < 4:
            raise media_ffmpeg.MediaToolFailed("Could not measure the loudness.", result.stderr)
        found: dict[str, str] = {}
        for key, value in values:
            found.setdefault(key, value)  # the first Threshold is the integrated one
        if found["I"] == "-inf" or float(found["I"]) <= -70.0:
            return None  # digital silence
        return {
            "input_i": found["I"],
            "input_tp": found["Peak"],
            "input_lra": found["LRA"],
            "input_thresh": found["Threshold"],
            "target_offset": "0.00",
        }

    return _patch(transcode, "measure_loudness", measure_loudness)


def card_at_30fps() -> Undo:
    """Audio reflections as before issue 15: the still card decoded and encoded 30 times a
    second for the whole clip, and loudness measured by a first ``loudnorm`` pass."""
    from voxpop.reflection import processing

    def measure_loudness(source: Path, info: Any) -> dict[str, str] | None:
        profile = transcode.DELIVERY
        argv = media_ffmpeg.ffmpeg_command(
            [media_ffmpeg.Input(source, max_seconds=info.duration + 1)],
            [
                "-vn",
                "-sn",
                "-dn",
                "-af",
                f"loudnorm=I={profile.loudness}:TP={profile.true_peak}:LRA={profile.loudness_range}"
                ":print_format=json",
                "-f",
                "null",
            ],  # fmt: skip
            Path(os.devnull),
            max_output_bytes=1_000_000,
            max_seconds=info.duration + 1,
            loglevel="info",
        )
        result = media_ffmpeg.run(argv, timeout=max(120.0, info.duration * 20))
        blocks = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", result.stderr)
        if result.returncode != 0 or not blocks:
            raise media_ffmpeg.MediaToolFailed("Could not measure the loudness.", result.stderr)
        return {key: str(value) for key, value in json.loads(blocks[-1]).items()}

    def audio_to_delivery_mp4(
        source: Path, card_png: Path, destination: Path, info: Any, **kwargs: Any
    ) -> None:
        profile = transcode.DELIVERY
        m = measure_loudness(source, info)
        assert m is not None
        loudnorm = (
            f"loudnorm=I={profile.loudness}:TP={profile.true_peak}:LRA={profile.loudness_range}"
            f":measured_I={m['input_i']}:measured_TP={m['input_tp']}"
            f":measured_LRA={m['input_lra']}:measured_thresh={m['input_thresh']}"
            f":offset={m['target_offset']}:linear=true,aresample={profile.sample_rate},"
            "aformat=sample_fmts=fltp:channel_layouts=stereo"
        )
        inputs = [
            media_ffmpeg.Input(source, max_seconds=info.duration + 1),
            media_ffmpeg.Input(
                card_png,
                whitelist=media_ffmpeg.STILL_WHITELIST,
                options=("-loop", "1", "-framerate", str(profile.fps)),
                max_seconds=info.duration,
            ),  # fmt: skip
        ]
        output_args = [
            "-filter_complex",
            f"[1:v]scale={profile.max_long_side}:{profile.max_short_side},setsar=1,"
            f"format=yuv420p[v];[0:a:0]{loudnorm}[a]",
            "-map", "[v]", "-map", "[a]", *transcode._video_codec_args(profile),
            *transcode._audio_codec_args(profile), *transcode._container_args(),
        ]  # fmt: skip
        transcode._encode(inputs, output_args, destination, info.duration, profile,
                          kwargs.get("on_progress"), "converting the audio")  # fmt: skip

    return _patch(processing, "audio_to_delivery_mp4", audio_to_delivery_mp4)


def poster_frame_by_frame() -> Undo:
    """Poster candidates as before 2026-12-03: one ffmpeg run and one PNG per candidate frame
    (four of each), each PNG opened and scored on its own, instead of one run writing the four
    side by side (``transcode.extract_frames``)."""
    from voxpop.reflection import processing

    def best_poster_frame(mp4: Path, duration: float, folder: Path) -> Any:
        frames = []
        for index, fraction in enumerate(processing.POSTER_CANDIDATES):
            at = max(0.0, min(duration - 0.1, duration * fraction))
            frames.append(transcode.extract_frames(mp4, [at], folder / f".frame-{index}.png"))
        try:
            return posters.open_image_safely(posters.choose_poster_frame(frames))
        finally:
            for frame in frames:
                frame.unlink(missing_ok=True)

    return _patch(processing, "_best_poster_frame", best_poster_frame)


VARIANTS: dict[str, Callable[[], Undo]] = {
    "current": lambda: lambda: None,
    "veryfast": veryfast,
    "ebur128-measurement": ebur128_measurement,
    "card-at-30fps": card_at_30fps,
    "poster-frame-by-frame": poster_frame_by_frame,
}


# --- ours and naive -------------------------------------------------------------------------


AUDIO_RECORDERS = ("chromium-opus", "ipad-aac")


@dataclass
class Result:
    """Everything measured for one input."""

    clip: str
    variant: str
    recorder: str
    source_size: str
    clip_seconds: float
    ours_seconds: float
    ours_cpu_seconds: float
    naive_seconds: float
    naive_cpu_seconds: float
    ours_bytes: int
    naive_bytes: int
    ours_size: str
    ssim: float | None
    format_problems: list[str]
    stages: dict[str, float]
    load_average: float
    status: str

    @property
    def realtime_factor(self) -> float:
        return self.ours_seconds / self.clip_seconds

    @property
    def vs_naive(self) -> float:
        return self.ours_seconds / self.naive_seconds

    @property
    def ours_kbps(self) -> float:
        return self.ours_bytes * 8 / 1000 / self.clip_seconds

    def verdicts(self) -> dict[str, bool]:
        if self.recorder in AUDIO_RECORDERS:  # a still card: no SSIM to speak of
            return {
                "realtime": self.realtime_factor <= TARGET_AUDIO_REALTIME,
                "vs_naive": self.vs_naive <= TARGET_AUDIO_VS_NAIVE,
                "ssim": True,
            }
        return {
            "realtime": self.realtime_factor <= TARGET_REALTIME,
            "vs_naive": self.vs_naive <= TARGET_VS_NAIVE,
            "ssim": self.ssim is not None and self.ssim >= TARGET_SSIM,
        }


def make_app(folder: Path) -> Any:
    """A real voxpop app on its own instance and uploads folders, with an event for 90 s clips."""
    app = create_app(
        {
            "INSTANCE": str(folder / "instance"),
            "UPLOADS": str(folder / "uploads"),
            "QUEUE": "memory",
        }
    )
    with app.app_context():
        models.create_event(get_db(), "Benchmark day", languages=["en"], max_clip_seconds=90)
    return app


def add_received(app: Any, source: Path, kind: str = "video") -> int:
    """Store a recording and its reflection row in status ``received``, as the kiosk leaves it."""
    store = app.extensions["voxpop"].store
    original = f"originals/{uuid.uuid4().hex}{source.suffix}"
    shutil.copyfile(source, store.root / original)
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        perspective_id = models.perspectives(db, event.id)[0].id
        prompt_id = models.prompts(db, event.id)[0].id
        with transaction(db):
            cursor = db.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, original_path,"
                " status, receipt_code, client_id, lang, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'received', ?, ?, 'en', ?)",
                (
                    event.id,
                    kind,
                    perspective_id,
                    prompt_id,
                    original,
                    uuid.uuid4().hex[:7],
                    str(uuid.uuid4()),
                    utcnow(),
                ),
            )
        return int(cursor.lastrowid)


def process_to_ready(app: Any, reflection_id: int) -> str:
    """Run the reflection's processing job here, as the worker would; return its final status."""
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        job_id = jobs.enqueue_processing(get_db(), queue, reflection_id)
    jobs.run_job(queue, job_id)
    with app.app_context():
        row = (
            get_db()
            .execute("SELECT status, failure_reason FROM reflection WHERE id = ?", (reflection_id,))
            .fetchone()
        )
        kinds = {
            r["kind"]
            for r in get_db().execute(
                "SELECT kind FROM asset WHERE reflection_id = ?", (reflection_id,)
            )
        }
    if row["status"] != "ready":
        return f"{row['status']}: {row['failure_reason']}"
    if not {"mp4", "poster", "thumb"} <= kinds:
        return f"ready but assets are {sorted(kinds)}"
    return "ready"


OursRun = tuple[float, float, Stages, str, Path | None]


def run_ours(app: Any, clip: Clip) -> OursRun:
    """Time one reflection from ``received`` to ``ready``."""
    reflection_id = add_received(app, clip.path, clip.kind)
    stages = Stages()
    with timed_stages(stages):
        started, cpu = time.perf_counter(), children_cpu()
        status = process_to_ready(app, reflection_id)
        wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    store = app.extensions["voxpop"].store
    mp4 = store.derived / str(reflection_id) / "delivery.mp4"
    stages.add("other (Python, SQLite)", max(0.0, wall - sum(stages.wall.values())), 0.0)
    return wall, cpu, stages, status, mp4 if mp4.exists() else None


def run_naive(clip: Clip, output: Path, card: Path) -> tuple[float, float]:
    """Time ``ffmpeg -i in out.mp4`` with ffmpeg's defaults (for sound only, over ``card``:
    ``ffmpeg -loop 1 -i card.png -i in -shortest out.mp4``)."""
    started, cpu = time.perf_counter(), children_cpu()
    if clip.kind == "audio":
        ffmpeg_quiet("-loop", "1", "-i", str(card), "-i", str(clip.path), "-shortest", str(output))
    else:
        ffmpeg_quiet("-i", str(clip.path), str(output))
    return time.perf_counter() - started, children_cpu() - cpu


def ffprobe_json(path: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", *args, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_TIMEOUT,
    ).stdout
    return dict(json.loads(out))


def ffmpeg_measure(*args: str) -> str:
    """Run ffmpeg over ``args`` (inputs and a measuring filter) writing nothing; its report."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", *args, "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    ).stderr


def ssim_against_source(ours: Path, source: Path, width: int, height: int) -> float | None:
    """SSIM (All) of our output against the source scaled to our size, frame by frame."""
    report = ffmpeg_measure(
        "-i",
        str(ours),
        "-i",
        str(source),
        "-lavfi",
        f"[1:v]scale={width}:{height}:flags=bicubic,fps=30,format=yuv420p[ref];[0:v][ref]ssim",
    )
    found = re.findall(r"All:([0-9.]+)", report)
    return float(found[-1]) if found else None


def delivery_problems(mp4: Path) -> list[str]:
    """Where an output breaks the delivery format rules (empty when it keeps them all)."""
    info = ffprobe_json(mp4, "-show_format", "-show_streams")
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    problems = []
    if (video["codec_name"], video.get("profile"), video.get("pix_fmt")) != (
        "h264",
        "High",
        "yuv420p",
    ):
        problems.append(
            f"video {video['codec_name']} {video.get('profile')} {video.get('pix_fmt')}"
        )
    if max(video["width"], video["height"]) > 1280 or min(video["width"], video["height"]) > 720:
        problems.append(f"size {video['width']}x{video['height']}")
    if video["r_frame_rate"] != "30/1" or video["avg_frame_rate"] != "30/1":
        problems.append(f"fps {video['r_frame_rate']} avg {video['avg_frame_rate']}")
    if (
        audio["codec_name"],
        audio.get("profile"),
        int(audio["sample_rate"]),
        audio["channels"],
    ) != ("aac", "LC", 48000, 2):
        problems.append(
            f"audio {audio['codec_name']} {audio.get('profile')} "
            f"{audio['sample_rate']} Hz {audio['channels']} ch"
        )
    if abs(int(audio.get("bit_rate", 0)) - 128_000) > 16_000:
        problems.append(f"audio bitrate {audio.get('bit_rate')}")
    keys = [
        float(frame["pts_time"])
        for frame in ffprobe_json(
            mp4,
            "-select_streams",
            "v:0",
            "-skip_frame",
            "nokey",
            "-show_entries",
            "frame=pts_time",
        )["frames"]
    ]
    duration = float(info["format"]["duration"])
    if any(abs(key - 2.0 * i) > 0.02 for i, key in enumerate(keys)) or keys[-1] < duration - 2.1:
        problems.append(f"keyframes not every 2 s ({keys[:4]}… of {duration:.2f} s)")
    with open(mp4, "rb") as handle:
        head = handle.read(4096)
    if b"moov" not in head:
        problems.append("no faststart")
    report = ffmpeg_measure("-i", str(mp4), "-map", "0:a", "-af", "ebur128")
    loudness = report.rsplit("Summary:", 1)[-1]
    lufs = re.search(r"I:\s+(-?[\d.]+) LUFS", loudness)
    if lufs is None or abs(float(lufs.group(1)) + 16.0) > 1.0:
        problems.append(f"loudness {lufs.group(1) if lufs else '?'} LUFS")
    return problems


def run_variant(variant: str, app: Any, clip: Clip) -> OursRun:
    """Run ours with a variant's patch in place, and take the patch out again."""
    undo = VARIANTS[variant]()
    try:
        return run_ours(app, clip)
    finally:
        undo()


def measure(
    app: Any, clip: Clip, scratch: Path, variants: Sequence[str], repeat: int = 1
) -> list[Result]:
    """Ours (per variant) and naive on one input, best of ``repeat``; then quality and format.

    The runs alternate (ours, ours with the next variant…, naive, and again), so every
    candidate meets the same conditions on a machine whose load changes.
    """
    load = os.getloadavg()[0]
    naive_mp4 = scratch / f"naive-{clip.name}.mp4"
    ours_runs: dict[str, list[OursRun]] = {variant: [] for variant in variants}
    naive_runs = []
    for _ in range(repeat):
        for variant in variants:
            ours_runs[variant].append(run_variant(variant, app, clip))
        naive_runs.append(run_naive(clip, naive_mp4, scratch / "audio-card.png"))
    naive_wall, naive_cpu = min(naive_runs)
    results = []
    for variant in variants:
        ours_wall, ours_cpu, stages, status, ours_mp4 = min(ours_runs[variant], key=lambda r: r[0])
        ssim = problems = None
        width = height = 0
        if ours_mp4 is not None:
            video = ffprobe_json(ours_mp4, "-select_streams", "v:0", "-show_streams")["streams"][0]
            width, height = video["width"], video["height"]
            if clip.kind == "video":
                ssim = ssim_against_source(ours_mp4, clip.path, width, height)
            problems = delivery_problems(ours_mp4)
        results.append(
            Result(
                clip=clip.name,
                variant=variant,
                recorder=clip.recorder,
                source_size=f"{clip.width}x{clip.height}" if clip.height else "audio",
                clip_seconds=float(clip.seconds),
                ours_seconds=round(ours_wall, 2),
                ours_cpu_seconds=round(ours_cpu, 2),
                naive_seconds=round(naive_wall, 2),
                naive_cpu_seconds=round(naive_cpu, 2),
                ours_bytes=ours_mp4.stat().st_size if ours_mp4 else 0,
                naive_bytes=naive_mp4.stat().st_size,
                ours_size=f"{width}x{height}",
                ssim=round(ssim, 4) if ssim is not None else None,
                format_problems=problems if problems is not None else ["no output"],
                stages={k: round(v, 2) for k, v in stages.wall.items()},
                load_average=round(load, 2),
                status=status,
            )
        )
    naive_mp4.unlink(missing_ok=True)
    return results


# --- report ---------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "pass" if ok else "MISS"


STAGES = [
    "probe",
    "loudness pass",
    "still card GOP",
    "transcode",
    "poster frames",
    "Pillow",
    "other (Python, SQLite)",
]


def print_report(machine: dict[str, Any], variants: Sequence[str], results: list[Result]) -> None:
    """The results table with pass/MISS per target, where the time goes, then JSON."""
    several = len(variants) > 1
    label_width = 22 + (max(len(v) for v in variants) + 3 if several else 0)

    def label(r: Result) -> str:
        return f"{r.clip} [{r.variant}]" if several else r.clip

    print()
    print(
        f"Targets: realtime factor (ours / clip) <= {TARGET_REALTIME}, "
        f"ours / naive <= {TARGET_VS_NAIVE}, SSIM >= {TARGET_SSIM}; audio only: "
        f"realtime factor <= {TARGET_AUDIO_REALTIME}, ours / naive <= {TARGET_AUDIO_VS_NAIVE}. "
        f"Variant: {', '.join(variants)}."
    )
    header = (
        f"{'input':<{label_width}} {'clip':>5} {'ours':>7} {'RTF':>5} {'':4} {'naive':>7} "
        f"{'o/n':>5} {'':4} {'ours MB':>7} {'kb/s':>5} {'naive MB':>8} "
        f"{'SSIM':>6} {'':4} {'format':<6} {'load':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        v = r.verdicts()
        ssim = f"{r.ssim:.4f}" if r.ssim is not None else "-"
        fmt = "ok" if not r.format_problems else "BROKEN"
        print(
            f"{label(r):<{label_width}} {r.clip_seconds:>4.0f}s {r.ours_seconds:>6.1f}s "
            f"{r.realtime_factor:>5.2f} {mark(v['realtime']):4} {r.naive_seconds:>6.1f}s "
            f"{r.vs_naive:>5.2f} {mark(v['vs_naive']):4} {r.ours_bytes / 1e6:>7.1f} "
            f"{r.ours_kbps:>5.0f} {r.naive_bytes / 1e6:>8.1f} {ssim:>6} {mark(v['ssim']):4} "
            f"{fmt:<6} {r.load_average:>4.1f}"
        )
    for r in results:
        if r.status != "ready" or r.format_problems:
            print(f"  {label(r)}: {r.status}; {'; '.join(r.format_problems)}")
    print("(format: the delivery rules checked on our output: H.264 High yuv420p, <= 1280x720,")
    print(
        " 30 fps CFR, a keyframe every 2 s, AAC-LC 48 kHz stereo 128k, -16 +/- 1 LUFS, faststart;"
    )
    print(" load: the 1-minute load average when the row started)")
    print()
    print(
        "Where our time goes: wall seconds per step; then CPU seconds of the ffmpeg/ffprobe "
        "children (ours/naive) and ours per second of clip"
    )
    print(
        f"{'input':<{label_width}} "
        + " ".join(f"{n[:13]:>13}" for n in STAGES)
        + f" {'CPU ours/naive':>15} {'CPU/clip':>8}"
    )
    for r in results:
        cells = " ".join(f"{r.stages.get(n, 0.0):>13.2f}" for n in STAGES)
        print(
            f"{label(r):<{label_width}} {cells} "
            f"{r.ours_cpu_seconds:>7.1f}/{r.naive_cpu_seconds:<7.1f} "
            f"{r.ours_cpu_seconds / r.clip_seconds:>8.2f}"
        )
    print()
    for variant in variants:
        rows = [r for r in results if r.variant == variant]
        met = {
            key: all(r.verdicts()[key] for r in rows) for key in ("realtime", "vs_naive", "ssim")
        }
        print(f"All rows [{variant}]: " + ", ".join(f"{k} {mark(v)}" for k, v in met.items()))
    print()
    print("JSON:")
    document = {
        "date": utcnow(),
        "machine": machine,
        "variants": list(variants),
        "targets": {
            "realtime_factor": TARGET_REALTIME,
            "ours_vs_naive": TARGET_VS_NAIVE,
            "ssim": TARGET_SSIM,
        },
        "results": [
            {
                **asdict(r),
                "realtime_factor": round(r.realtime_factor, 3),
                "ours_vs_naive": round(r.vs_naive, 3),
                "ours_kbps": round(r.ours_kbps),
                "verdicts": r.verdicts(),
            }
            for r in results
        ],
    }
    print(json.dumps(document, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="only the 720p 30 s pair and the 30 s audio pair"
    )
    parser.add_argument(
        "--audio-only", action="store_true", help="only the audio-only inputs (30 s and 60 s)"
    )
    parser.add_argument(
        "--inputs",
        type=Path,
        metavar="DIR",
        help="keep the generated inputs in DIR and reuse them in later runs",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time ours and naive N times each, alternating, and keep the best",
    )
    parser.add_argument(
        "--variant",
        default="current",
        metavar="NAME[,NAME…]",
        help="measure the pipeline with a change patched in; several, comma-separated, are "
        f"measured side by side ({', '.join(VARIANTS)})",
    )
    parser.add_argument(
        "--only", metavar="TEXT", help="measure only the inputs whose name contains TEXT"
    )
    args = parser.parse_args(argv)
    variants = args.variant.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant {', '.join(sorted(unknown))}")
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2

    machine = describe_machine()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    heights, durations = ([720], [30]) if args.quick else ([720, 1080], [30, 60])
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-") as tmp:
        scratch = Path(tmp)
        clips = [] if args.audio_only else inputs_in(args.inputs or scratch, heights, durations)
        clips += audio_inputs_in(args.inputs or scratch, durations)
        # Naive's still picture for the audio rows: the card our pipeline draws.
        cards.render_audio_card(
            scratch / "audio-card.png",
            perspective_label="Volunteer",
            colour="#2a7236",
            prompt="What will you do differently?",
        )
        clips = [clip for clip in clips if args.only is None or args.only in clip.name]
        app = make_app(scratch)
        results = []
        for clip in clips:
            print(f"  measuring {clip.name}…", flush=True)
            results += measure(app, clip, scratch, variants, args.repeat)
    print_report(machine, variants, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
