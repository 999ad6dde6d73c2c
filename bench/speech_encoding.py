"""What encoding the first window once saves (voxpop.speech.transcribe._encoding_once).

faster-whisper 1.2, when it detects the language, encodes the first 30 s window twice: once to
detect the language, once to transcribe it. voxpop's model keeps the first encoding. This bench
times the two side by side in one process, alternating, on the bench's own espeak-ng speech
(bench/speech.py's voices and sentences): a short clip (one voice, about 28 s) and a long one
(all four voices joined, about 100 s), each transcribed as the job does (VAD filter, word
timestamps, beam 5, language detected, packaged whisper base, int8, 2 threads).

Run from the repository root::

    .venv/bin/python bench/speech_encoding.py [--rounds 3]

It prints, per clip, the best wall and CPU seconds of each model, voxpop's as a ratio of plain
faster-whisper's (the baseline of the same run), the encoder runs, and whether the words are
the same. It asserts nothing: benchmarks report, tests check.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.speech import PER_SPEAKER, SENTENCES, SPEAKERS, read_wav, say, write_wav  # noqa: E402
from voxpop.speech import model as speech_model  # noqa: E402
from voxpop.speech import transcribe as speech  # noqa: E402

THREADS = 2


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def clips(folder: Path) -> dict[str, Path]:
    """The short clip (the first voice) and the long one (every voice, one after another)."""
    said = [
        say(folder, speaker, SENTENCES[n * PER_SPEAKER : (n + 1) * PER_SPEAKER])[0]
        for n, speaker in enumerate(SPEAKERS)
    ]
    pieces = [read_wav(path) for path in said]
    long = folder / "all-voices.wav"
    write_wav(long, np.concatenate([samples for samples, _rate in pieces]), pieces[0][1])
    return {"short": said[0], "long": long}


def run(model: Any, wav: Path) -> tuple[float, float, str]:
    started, cpu = time.perf_counter(), cpu_seconds()
    segments, _info = model.transcribe(
        str(wav), vad_filter=True, word_timestamps=True, condition_on_previous_text=False,
        beam_size=5,
    )  # fmt: skip
    words = " ".join(word.word for segment in segments for word in (segment.words or []))
    return time.perf_counter() - started, cpu_seconds() - cpu, words


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from faster_whisper import WhisperModel

    with tempfile.TemporaryDirectory(prefix="voxpop-speech-encoding-") as scratch:
        folder = Path(scratch)
        model_folder = speech_model.prepare_packaged_model(folder / "model")
        plain = WhisperModel(str(model_folder), device="cpu", compute_type="int8",
                             cpu_threads=THREADS, local_files_only=True)  # fmt: skip
        ours = speech.load_whisper(model_folder, THREADS)
        inputs = clips(folder)
        best: dict[tuple[str, str], list[float]] = {}
        words: dict[tuple[str, str], str] = {}
        runs: dict[str, int] = {}
        for _round in range(args.rounds):
            for clip, wav in inputs.items():
                for name, model in (("faster-whisper", plain), ("voxpop", ours)):
                    before = ours.encoder_runs
                    wall, cpu, heard = run(model, wav)
                    if name == "voxpop":
                        runs[clip] = ours.encoder_runs - before
                    old = best.get((clip, name), [wall, cpu])
                    best[(clip, name)] = [min(old[0], wall), min(old[1], cpu)]
                    words[(clip, name)] = heard
        print(f"{'clip':<6} {'audio':>7} {'model':<15} {'wall':>7} {'CPU':>7} "
              f"{'wall ÷ base':>11} {'CPU ÷ base':>10} {'windows':>8} same words")  # fmt: skip
        for clip, wav in inputs.items():
            samples, rate = read_wav(wav)
            base_wall, base_cpu = best[(clip, "faster-whisper")]
            for name in ("faster-whisper", "voxpop"):
                wall, cpu = best[(clip, name)]
                encoded = str(runs[clip]) if name == "voxpop" else "-"
                same = words[(clip, name)] == words[(clip, "faster-whisper")]
                print(f"{clip:<6} {len(samples) / rate:>6.1f}s {name:<15} {wall:>6.2f}s "
                      f"{cpu:>6.2f}s {wall / base_wall:>11.2f} {cpu / base_cpu:>10.2f} "
                      f"{encoded:>8} {'yes' if same else 'NO'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
