"""A short built-in sample to measure the speech model on (``voxpop speech``).

espeak-ng speaks a known English sentence when it is installed; without it the sample is a
generated tone, which the voice detector should treat as no speech at all.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from voxpop.media import ffmpeg
from voxpop.media.ffmpeg import Input

SAMPLE_SENTENCE = (
    "Thank you for coming today. The most useful thing for me was hearing how the "
    "volunteers and the council staff see the same problem so differently."
)


def make_sample(folder: Path) -> tuple[Path, str | None]:
    """Write a WAV sample into ``folder``; return it and the sentence said (None for a tone)."""
    wav = folder / "sample.wav"
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        subprocess.run(  # a fixed argv, no shell
            [espeak, "-s", "150", "-w", str(wav), SAMPLE_SENTENCE],
            check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True,
        )  # fmt: skip
        return wav, SAMPLE_SENTENCE
    argv = ffmpeg.ffmpeg_command(
        [Input("sine=frequency=440:duration=5:sample_rate=16000",
               whitelist=ffmpeg.SILENCE_WHITELIST, options=("-f", "lavfi"))],
        ["-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"], wav,
        max_output_bytes=2_000_000, max_seconds=5,
    )  # fmt: skip
    result = ffmpeg.run(argv, timeout=60)
    if result.returncode != 0:
        raise ffmpeg.MediaToolFailed("ffmpeg could not make the sample tone.", result.stderr)
    return wav, None
