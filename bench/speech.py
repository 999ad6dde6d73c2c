"""Speech benchmark (issue 16): transcription speed, word error rate and memory, and whether a
clip still becomes ready as fast while transcription is on.

Run from the repository root::

    .venv/bin/python bench/speech.py             # speech set and "clip ready" (5-30 min)
    .venv/bin/python bench/speech.py --no-ready  # only the speech set, ~2 min

**The speech set.** espeak-ng says a fixed list of 20 English sentences (SENTENCES), five each
in four voices at different speeds (SPEAKERS), with 0.8 s between sentences and a second of quiet
before and after: four clips of 21-28 s, one per speaker, 100 s of speech. Each clip is encoded
as the delivery file carries its sound (AAC-LC 48 kHz stereo 128k) twice: clean, and with pink
room noise (ffmpeg ``anoisesrc``) mixed in with ``amix`` at NOISE_SNR_DB, the noise level
computed from the active speech level of the clean clip (20 ms frames within 40 dB of the
loudest, a simplified ITU-T P.56).

**Transcription.** A child process does what the transcription job does with each clip:
``speech.extract_audio`` (16 kHz mono WAV through the hardened ffmpeg door) and
``speech.transcribe`` (faster-whisper, int8, VAD filter, word timestamps, beam 5) with the
packaged whisper base model and SPEECH_THREADS threads, the model loaded once as in a worker.
Compute per audio minute is the wall time of those two steps over the clip's length; the
child's peak RSS comes from ``os.wait4`` (its ``ru_maxrss``). The baseline, timed in the same
run on the same file, is the naive decode ``ffmpeg -i clip.m4a -f null -``.

**WER** is jiwer's word-level Levenshtein distance (substitutions + deletions + insertions over
the reference words) after lower-casing and removing punctuation on both sides, per clip and
over all clips of a condition (corpus WER).

**Clip ready.** With ``bench/transcode.py``'s own code (its generated Chromium 720p 30 s WebM,
``make_app``, ``process_to_ready``: received → ready through the real worker code path) the
same clip is timed, alternating, with automatic transcription off; on (the transcription is
queued when the clip is ready); on with a transcription of a spoken clip running beside it in a
second worker thread (``WORKERS = 2``); and on with that transcription already running in the
only worker (``WORKERS = 1``, the default: the new clip's processing waits its turn). The naive
``ffmpeg -i in out.mp4`` of the transcode bench is timed with them, as the common baseline.

It prints the machine, the tables with each goal marked pass or MISS, then JSON. It asserts
nothing: benchmarks report, tests check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jiwer  # noqa: E402
import numpy as np  # noqa: E402

from bench import transcode as transcode_bench  # noqa: E402 - its inputs, app and baseline
from bench.transcode import ffmpeg_quiet, mark  # noqa: E402
from voxpop.speech import model as speech_model  # noqa: E402
from voxpop.speech import transcribe as speech  # noqa: E402

# Goals on the 2-core laptop (issue 16).
TARGET_SECONDS_PER_MINUTE = 10.0  # compute seconds per minute of audio, whisper base
TARGET_WER_CLEAN = 0.10
TARGET_RSS_MB = 600.0
NOISE_SNR_DB = 12.0
SPEECH_THREADS = 2  # the default SPEECH_THREADS setting
GAP_SECONDS = 0.8

# Things said at a co-production event, varied in length and vocabulary; no numerals and no
# words spelt differently in British and American English, so a miss is a mishearing.
SENTENCES = [
    "Thank you for inviting me today.",
    "The most useful thing for me was hearing how the volunteers see the same problem.",
    "I think the council should listen to people who use the buses every day.",
    "We spent the whole morning talking about transport and nobody mentioned the weather.",
    "My daughter has a learning disability and the forms are far too long for her.",
    "It was good to sit at a table with the doctors as equals.",
    "Next time please send the papers a week before the meeting.",
    "I was nervous at first, but the facilitator made everyone feel welcome.",
    "The biggest surprise was how much the staff wanted to change things too.",
    "We agreed to meet again in the spring and check what has happened.",
    "Carers are tired, and they need someone to answer the phone.",
    "The shoes exercise made me think about my own mother in hospital.",
    "Young people want to be asked, not told what is good for them.",
    "I will take the ideas from this room back to my team on Monday.",
    "Please make the building easier to reach for people in wheelchairs.",
    "The story about the missed appointment stayed with me all afternoon.",
    "We need fewer leaflets and more conversations like this one.",
    "Money is tight, but small changes can make a real difference.",
    "I learned that the pharmacy can help with more than prescriptions.",
    "Overall it was a hopeful day, and I would come back.",
]


@dataclass(frozen=True)
class Speaker:
    name: str
    voice: str  # espeak-ng -v
    words_per_minute: int  # espeak-ng -s
    pitch: int  # espeak-ng -p (0-99, default 50)


SPEAKERS = [
    Speaker("gb-150", "en-gb", 150, 50),
    Speaker("us-170", "en-us", 170, 40),
    Speaker("rp-female-140", "en-gb-x-rp+f3", 140, 60),
    Speaker("scotland-185", "en-gb-scotland", 185, 45),
]
PER_SPEAKER = len(SENTENCES) // len(SPEAKERS)


# --- the speech set --------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechClip:
    name: str
    condition: str  # "clean" or "noise"
    text: str
    path: Path
    seconds: float
    snr_db: float | None


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as handle:
        assert handle.getsampwidth() == 2 and handle.getnchannels() == 1, path
        frames = handle.readframes(handle.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(
            np.float64
        ) / 32768.0, handle.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    clipped = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(clipped.tobytes())


def active_level(samples: np.ndarray, rate: int) -> float:
    """Mean power of the 20 ms frames within 40 dB of the loudest (speech, not the pauses)."""
    frame = rate // 50
    usable = samples[: len(samples) // frame * frame].reshape(-1, frame)
    power = (usable**2).mean(axis=1)
    active = power[power >= power.max() * 1e-4]
    return float(active.mean())


def say(folder: Path, speaker: Speaker, sentences: Sequence[str]) -> tuple[Path, str]:
    """One clip of ``speaker`` saying ``sentences`` with pauses; returns the WAV and the text."""
    pieces, rate = [], 0
    for index, sentence in enumerate(sentences):
        wav = folder / f"{speaker.name}-{index}.wav"
        subprocess.run(  # a fixed argv, no shell
            ["espeak-ng", "-v", speaker.voice, "-s", str(speaker.words_per_minute),
             "-p", str(speaker.pitch), "-w", str(wav), sentence],
            check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True,
        )  # fmt: skip
        samples, rate = read_wav(wav)
        pieces.append(samples)
        wav.unlink()
    gap = np.zeros(int(rate * GAP_SECONDS))
    quiet = np.zeros(rate)
    joined = [quiet]
    for samples in pieces:
        joined += [samples, gap]
    joined[-1] = quiet
    clean = folder / f"{speaker.name}.wav"
    # espeak-ng speaks near full scale: leave room for the noise.
    write_wav(clean, np.concatenate(joined) * 0.5, rate)
    return clean, " ".join(sentences)


def to_delivery_audio(source: Path, destination: Path, graph: str | None = None) -> None:
    """Encode as the delivery MP4 carries sound: AAC-LC 48 kHz stereo 128k."""
    args = ["-i", str(source)]
    if graph:
        args += ["-filter_complex", graph, "-map", "[a]"]
    ffmpeg_quiet(*args, "-ac", "2", "-ar", "48000", "-c:a", "aac", "-b:a", "128k",
                 str(destination))  # fmt: skip


def make_speech_set(folder: Path) -> list[SpeechClip]:
    """Every speaker's clip, clean and with room noise at NOISE_SNR_DB."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for number, speaker in enumerate(SPEAKERS):
        said = SENTENCES[number * PER_SPEAKER : (number + 1) * PER_SPEAKER]
        clean_wav, text = say(folder, speaker, said)
        speech_samples, rate = read_wav(clean_wav)
        seconds = len(speech_samples) / rate
        clean = folder / f"{speaker.name}-clean.m4a"
        to_delivery_audio(clean_wav, clean)
        clips.append(SpeechClip(speaker.name, "clean", text, clean, round(seconds, 2), None))

        noise_wav = folder / f"{speaker.name}-room.wav"
        ffmpeg_quiet("-f", "lavfi", "-i",
                     f"anoisesrc=c=pink:r={rate}:a=0.2:seed={11 + number}:d={seconds:.3f}",
                     "-ac", "1", "-c:a", "pcm_s16le", str(noise_wav))  # fmt: skip
        noise_samples, _ = read_wav(noise_wav)
        noise_power = float((noise_samples**2).mean())
        gain = (active_level(speech_samples, rate) / noise_power / 10 ** (NOISE_SNR_DB / 10)) ** 0.5
        snr = 10 * np.log10(active_level(speech_samples, rate) / (noise_power * gain**2))
        noisy = folder / f"{speaker.name}-noise.m4a"
        # amix halves both inputs alike (normalize), so the ratio is the one computed here.
        ffmpeg_quiet("-i", str(clean_wav), "-i", str(noise_wav), "-filter_complex",
                     f"[1:a]volume={gain:.6f}[room];[0:a][room]amix=inputs=2:duration=first,"
                     "volume=2[a]", "-map", "[a]", "-ac", "2", "-ar", "48000", "-c:a", "aac",
                     "-b:a", "128k", str(noisy))  # fmt: skip
        clips.append(SpeechClip(speaker.name, "noise", text, noisy, round(seconds, 2),
                                round(float(snr), 1)))  # fmt: skip
        clean_wav.unlink()
        noise_wav.unlink()
    return clips


# --- the transcribing child process ----------------------------------------------------------


def cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child_main(model_folder: Path, threads: int, files: Sequence[Path]) -> int:
    """Transcribe each file as the job does (extract, then transcribe); one JSON line each."""
    print(json.dumps({"event": "start", "rss_mb": round(max_rss_mb(), 1)}), flush=True)
    started = time.perf_counter()
    cache = speech.ModelCache(idle_seconds=0)
    cache.get(model_folder, threads)
    print(json.dumps({"event": "loaded", "seconds": round(time.perf_counter() - started, 2),
                      "rss_mb": round(max_rss_mb(), 1)}), flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-speech-") as tmp:
        for path in files:
            wall, cpu = time.perf_counter(), cpu_seconds()
            wav = speech.extract_audio(path, Path(tmp) / "speech.wav", max_seconds=600)
            extract = time.perf_counter() - wall
            heard = speech.transcribe(wav, model_folder, threads=threads, cache=cache)
            line = {
                "event": "clip",
                "path": str(path),
                "extract_seconds": round(extract, 3),
                "transcribe_seconds": round(time.perf_counter() - wall - extract, 3),
                "cpu_seconds": round(cpu_seconds() - cpu, 2),
                "audio_seconds": heard.duration,
                "language": heard.language,
                "language_probability": heard.language_probability,
                "text": heard.text,
                "rss_mb": round(max_rss_mb(), 1),
            }
            print(json.dumps(line), flush=True)
    return 0


@dataclass
class Heard:
    clip: str
    condition: str
    audio_seconds: float
    snr_db: float | None
    extract_seconds: float
    transcribe_seconds: float
    cpu_seconds: float
    decode_seconds: float  # the naive baseline: ffmpeg -i clip.m4a -f null -
    language: str
    language_probability: float
    reference: str
    hypothesis: str
    wer: float
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def compute_seconds(self) -> float:
        return self.extract_seconds + self.transcribe_seconds

    @property
    def per_audio_minute(self) -> float:
        return self.compute_seconds / self.audio_seconds * 60

    @property
    def vs_decode(self) -> float:
        return self.compute_seconds / self.decode_seconds


NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def word_errors(references: list[str], hypotheses: list[str]) -> jiwer.WordOutput:
    """Word-level Levenshtein over all pairs (corpus WER), after case and punctuation go."""
    return jiwer.process_words(
        references, hypotheses, reference_transform=NORMALISE, hypothesis_transform=NORMALISE
    )


def naive_decode(path: Path) -> float:
    started = time.perf_counter()
    ffmpeg_quiet("-i", str(path), "-f", "null", "-")
    return time.perf_counter() - started


def transcribe_set(
    model_folder: Path, clips: Sequence[SpeechClip], threads: int
) -> tuple[list[Heard], dict[str, Any]]:
    """Run the child over every clip; return what it heard and its memory and load figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(model_folder),
               "--threads", str(threads), *(str(clip.path) for clip in clips)]  # fmt: skip
    load_before = os.getloadavg()[0]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    lines = [json.loads(line) for line in child.stdout if line.startswith("{")]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the transcribing child failed ({child.returncode})")
    by_path = {clip.path: clip for clip in clips}
    heard = []
    for line in lines:
        if line["event"] != "clip":
            continue
        clip = by_path[Path(line["path"])]
        errors = word_errors([clip.text], [line["text"]])
        heard.append(
            Heard(
                clip=clip.name, condition=clip.condition, audio_seconds=clip.seconds,
                snr_db=clip.snr_db, extract_seconds=line["extract_seconds"],
                transcribe_seconds=line["transcribe_seconds"], cpu_seconds=line["cpu_seconds"],
                decode_seconds=round(min(naive_decode(clip.path) for _ in range(3)), 3),
                language=line["language"], language_probability=line["language_probability"],
                reference=clip.text, hypothesis=line["text"], wer=round(errors.wer, 4),
                substitutions=errors.substitutions, deletions=errors.deletions,
                insertions=errors.insertions,
                reference_words=errors.hits + errors.substitutions + errors.deletions,
            )
        )  # fmt: skip
    memory = {
        "rss_before_model_mb": next(x["rss_mb"] for x in lines if x["event"] == "start"),
        "rss_model_loaded_mb": next(x["rss_mb"] for x in lines if x["event"] == "loaded"),
        "model_load_seconds": next(x["seconds"] for x in lines if x["event"] == "loaded"),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "child_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    return heard, memory


# --- clip ready, with transcription off and on -----------------------------------------------


READY_SCENARIOS = ("off", "on", "on, transcribing beside (2 workers)",
                   "on, transcribing first (1 worker)")  # fmt: skip


@dataclass
class ReadyRun:
    scenario: str
    seconds: float
    cpu_seconds: float  # of the ffmpeg/ffprobe children meanwhile
    status: str
    load_average: float
    transcription_seconds: float | None = None  # of the clip transcribed meanwhile


def measure_ready(
    scratch: Path, model_folder: Path, spoken: SpeechClip, repeat: int, audio: bool = False
) -> tuple[str, list[ReadyRun], list[float], float]:
    """Time bench/transcode.py's 720p 30 s Chromium clip from received to ready per scenario,
    alternating, with its naive ffmpeg baseline; returns the runs, naive times, clip length."""
    from voxpop import jobs
    from voxpop.db import get_db
    from voxpop.reflection import transcripts

    os.environ.update(
        {
            "VOXPOP_SPEECH_MODEL": str(model_folder),
            "VOXPOP_SPEECH_IDLE_SECONDS": "3600",
            "VOXPOP_SPEECH_THREADS": str(SPEECH_THREADS),
            "VOXPOP_SPEECH_AFTER_PROCESSING": "0",
        }
    )
    print("  generating the transcode bench's input…", flush=True)
    if audio:
        (clip,) = [c for c in transcode_bench.audio_inputs_in(scratch / "inputs", [30])
                   if c.recorder == "chromium-opus"]  # fmt: skip
        transcode_bench.cards.render_audio_card(
            scratch / "audio-card.png", perspective_label="Volunteer", colour="#2a7236",
            prompt="What will you do differently?",
        )  # fmt: skip
    else:
        (clip,) = [c for c in transcode_bench.inputs_in(scratch / "inputs", [720], [30])
                   if c.recorder == "chromium-webm"]  # fmt: skip
    app = transcode_bench.make_app(scratch / "app")
    queue = app.extensions["voxpop"].queue
    # The spoken clip a worker transcribes meanwhile: an audio reflection, ready, model loaded.
    spoken_id = transcode_bench.add_received(app, spoken.path, "audio")
    assert transcode_bench.process_to_ready(app, spoken_id) == "ready"
    speech.cache_for(3600).get(model_folder, SPEECH_THREADS)

    def start_transcription() -> tuple[threading.Thread, list[float]]:
        with app.app_context():
            job_id = transcripts.enqueue_transcription(get_db(), queue, spoken_id, force=True)
        assert job_id is not None
        took: list[float] = []

        def work() -> None:
            started = time.perf_counter()
            jobs.run_job(queue, job_id)
            took.append(time.perf_counter() - started)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        time.sleep(0.5)  # it has claimed the job and is taking out the sound
        return thread, took

    def one(scenario: str) -> ReadyRun:
        load = os.getloadavg()[0]
        os.environ["VOXPOP_SPEECH_AFTER_PROCESSING"] = "0" if scenario == "off" else "1"
        thread, took = None, []
        if "transcribing" in scenario:
            thread, took = start_transcription()
        reflection_id = transcode_bench.add_received(app, clip.path, clip.kind)
        started = time.perf_counter()
        if scenario.endswith("(1 worker)"):
            # The kiosk's upload has queued its processing, as intake does; the one worker is
            # busy transcribing, which steps aside at its next piece of speech (issue 16).
            with app.app_context():
                jobs.enqueue_processing(get_db(), queue, reflection_id)
            thread.join()  # type: ignore[union-attr]  # one worker: processing waits its turn
        cpu = transcode_bench.children_cpu()
        status = transcode_bench.process_to_ready(app, reflection_id)
        seconds, cpu = time.perf_counter() - started, transcode_bench.children_cpu() - cpu
        if thread is not None:
            thread.join()
        return ReadyRun(scenario, round(seconds, 2), round(cpu, 2), status, round(load, 2),
                        round(took[0], 2) if took else None)  # fmt: skip

    runs, naive = [], []
    for round_number in range(repeat):
        for scenario in READY_SCENARIOS:
            print(f"  ready, round {round_number + 1}: {scenario}…", flush=True)
            runs.append(one(scenario))
        if round_number == 0:  # ffmpeg's defaults are slow: once is enough for a ratio
            print("  ready: naive ffmpeg…", flush=True)
            wall, _ = transcode_bench.run_naive(
                clip, scratch / "naive.mp4", scratch / "audio-card.png"
            )
            naive.append(round(wall, 2))
    return clip.name, runs, naive, float(clip.seconds)


# --- report ----------------------------------------------------------------------------------


def summarise(heard: list[Heard], condition: str) -> dict[str, Any]:
    rows = [h for h in heard if h.condition == condition]
    audio = sum(h.audio_seconds for h in rows)
    compute = sum(h.compute_seconds for h in rows)
    errors = word_errors([h.reference for h in rows], [h.hypothesis for h in rows])
    return {
        "condition": condition,
        "audio_seconds": round(audio, 1),
        "compute_seconds": round(compute, 2),
        "seconds_per_audio_minute": round(compute / audio * 60, 2),
        "realtime_factor": round(compute / audio, 3),
        "cpu_seconds_per_audio_minute": round(sum(h.cpu_seconds for h in rows) / audio * 60, 2),
        "vs_decode": round(compute / sum(h.decode_seconds for h in rows), 1),
        "wer": round(errors.wer, 4),
        "errors": f"{errors.substitutions}S {errors.deletions}D {errors.insertions}I "
        f"of {errors.hits + errors.substitutions + errors.deletions}",
    }


def print_report(
    machine: dict[str, Any],
    heard: list[Heard],
    memory: dict[str, Any],
    ready: tuple[str, list[ReadyRun], list[float], float] | None,
) -> None:
    print()
    print(
        f"Goals: <= {TARGET_SECONDS_PER_MINUTE:g} s of compute per audio minute (whisper base, "
        f"{SPEECH_THREADS} threads), WER <= {TARGET_WER_CLEAN:.0%} on clean speech, peak RSS <= "
        f"{TARGET_RSS_MB:g} MB, clip ready time unchanged."
    )
    header = (
        f"{'clip':<15} {'cond':<6} {'SNR':>5} {'audio':>6} {'extract':>7} {'transcr':>7} "
        f"{'s/min':>6} {'RTF':>5} {'CPU s':>6} {'decode':>6} {'÷dec':>5} {'WER':>6} "
        f"{'S/D/I':>7} {'lang':>8}"
    )
    print(header)
    print("-" * len(header))
    for h in heard:
        snr = f"{h.snr_db:.1f}" if h.snr_db is not None else "-"
        print(
            f"{h.clip:<15} {h.condition:<6} {snr:>5} {h.audio_seconds:>5.1f}s "
            f"{h.extract_seconds:>6.2f}s {h.transcribe_seconds:>6.2f}s "
            f"{h.per_audio_minute:>6.2f} {h.per_audio_minute / 60:>5.3f} {h.cpu_seconds:>6.1f} "
            f"{h.decode_seconds:>5.2f}s {h.vs_decode:>5.0f} {h.wer:>6.1%} "
            f"{h.substitutions:>2}/{h.deletions}/{h.insertions:<2} "
            f"{h.language}:{h.language_probability:.2f}"
        )
    print("(s/min: extract + transcribe wall seconds per minute of audio; RTF the same / 60;")
    print(" decode: the naive 'ffmpeg -i clip.m4a -f null -', best of 3; ÷dec: ours over it)")
    print()
    summaries = [
        summarise(heard, c) for c in ("clean", "noise") if any(h.condition == c for h in heard)
    ]
    for s in summaries:
        speed_ok = s["seconds_per_audio_minute"] <= TARGET_SECONDS_PER_MINUTE
        wer_note = mark(s["wer"] <= TARGET_WER_CLEAN) if s["condition"] == "clean" else "(no goal)"
        print(
            f"All {s['condition']} ({s['audio_seconds']:.0f} s of audio): "
            f"{s['seconds_per_audio_minute']:.2f} s per audio minute {mark(speed_ok)} "
            f"(RTF {s['realtime_factor']:.3f}, {s['cpu_seconds_per_audio_minute']:.1f} CPU-s per "
            f"minute, {s['vs_decode']:.0f}× the naive decode); WER {s['wer']:.1%} {wer_note} "
            f"({s['errors']})"
        )
    if memory:
        print(
            f"Transcribing process: {memory['rss_before_model_mb']:.0f} MB before the model, "
            f"{memory['rss_model_loaded_mb']:.0f} MB with it loaded "
            f"({memory['model_load_seconds']:.1f} s to load), peak {memory['peak_rss_mb']:.0f} "
            f"MB {mark(memory['peak_rss_mb'] <= TARGET_RSS_MB)}; 1-minute load average "
            f"{memory['load_before']:.1f} before, {memory['load_after']:.1f} after"
        )
    for h in heard:
        if h.wer > 0:
            print(f"  {h.clip} {h.condition}: heard {h.hypothesis!r}")
    ready_document = None
    if ready is not None:
        clip_name, runs, naive, clip_seconds = ready
        naive_best = min(naive)
        rounds = len(runs) // len(READY_SCENARIOS)
        print()
        print(
            f"Clip ready: {clip_name} from received to ready (best of {rounds}); "
            f"the transcode bench's naive ffmpeg {naive_best:.1f} s"
        )
        best: dict[str, ReadyRun] = {}
        for scenario in READY_SCENARIOS:
            of = [r for r in runs if r.scenario == scenario]
            best[scenario] = min(of, key=lambda r: r.seconds)
        off = best["off"].seconds
        for scenario, run in best.items():
            all_times = ", ".join(f"{r.seconds:.1f}" for r in runs if r.scenario == scenario)
            extra = (
                f"; the transcription beside took {run.transcription_seconds:.1f} s"
                if run.transcription_seconds
                else ""
            )
            print(
                f"  {scenario:<38} {run.seconds:>6.1f} s  RTF {run.seconds / clip_seconds:.2f}  "
                f"÷naive {run.seconds / naive_best:.2f}  ÷off {run.seconds / off:.2f}  "
                f"CPU {run.cpu_seconds:.1f} s  [{all_times}] {run.status} "
                f"load {run.load_average:.1f}{extra}"
            )
        ready_document = {
            "clip": clip_name,
            "clip_seconds": clip_seconds,
            "naive_seconds": naive,
            "runs": [asdict(r) for r in runs],
        }
    print()
    print("JSON:")
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "model": speech_model.PACKAGED_NAME,
        "threads": SPEECH_THREADS,
        "goals": {
            "seconds_per_audio_minute": TARGET_SECONDS_PER_MINUTE,
            "wer_clean": TARGET_WER_CLEAN,
            "peak_rss_mb": TARGET_RSS_MB,
        },
        "summaries": summaries,
        "memory": memory,
        "clips": [
            {**asdict(h), "seconds_per_audio_minute": round(h.per_audio_minute, 2)} for h in heard
        ],
        "ready": ready_document,
    }
    print(json.dumps(document, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-ready", action="store_true", help="skip the clip-ready part")
    parser.add_argument(
        "--ready-audio",
        action="store_true",
        help="time an audio reflection (Opus 30 s) becoming ready, not the 720p video",
    )
    parser.add_argument(
        "--ready-only", action="store_true", help="only the clip-ready part (no WER, no RSS)"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, metavar="N", help="rounds of the clip-ready scenarios"
    )
    parser.add_argument("--threads", type=int, default=SPEECH_THREADS, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=Path, metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.threads, args.files)
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    machine = transcode_bench.describe_machine()
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=30)
    machine["espeak-ng"] = re.sub(r"\s+", " ", espeak.stdout.strip())
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-speech-") as tmp:
        scratch = Path(tmp)
        print("Joining the packaged model…", flush=True)
        model_folder = speech_model.prepare_packaged_model(scratch / "speech-model")
        print("Generating the speech set…", flush=True)
        clips = make_speech_set(scratch / "speech")
        heard: list[Heard] = []
        memory: dict[str, Any] = {}
        if not args.ready_only:
            print(f"Transcribing {len(clips)} clips in a child process…", flush=True)
            heard, memory = transcribe_set(model_folder, clips, args.threads)
        ready = None
        if not args.no_ready:
            spoken = max((c for c in clips if c.condition == "noise"), key=lambda c: c.seconds)
            ready = measure_ready(scratch, model_folder, spoken, args.repeat, args.ready_audio)
        speech.MODELS.release()
    print_report(machine, heard, memory, ready)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
