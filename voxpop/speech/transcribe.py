"""Audio in, words with their times out: the pure speech step (faster-whisper, offline).

``extract_audio`` pulls 16 kHz mono WAV out of a delivery MP4 through the hardened ffmpeg door;
``transcribe`` runs Whisper (CTranslate2, int8 on the CPU) over it with the VAD filter on
(without it the model invents sentences over silence) and word timestamps on; ``draft_cues``
turns the words into caption-sized WebVTT cues. The model is loaded once per process and
released after it has been idle for a while (``ModelCache``). No Flask, no database.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxpop.media import ffmpeg, vtt
from voxpop.media.ffmpeg import Input, MediaRejected, MediaToolFailed
from voxpop.reasons import N_

SAMPLE_RATE = 16_000
# Caption shape (BBC and Ofcom practice; the numbers).
LINE_CHARS = 42
MAX_LINES = 2
MIN_CUE_SECONDS = 1.0
MAX_CUE_SECONDS = 7.0
PAUSE_SECONDS = 0.7  # a gap at least this long between words starts a new cue
HOLD_SECONDS = 0.3  # a cue stays up this long after its last word, when there is room
_SENTENCE_END = (".", "!", "?", "…", '."', ".”", "?”", "!”")


class NoSpeechModel(Exception):
    """faster-whisper itself is not installed."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    """What the model heard in one recording."""

    language: str
    language_probability: float
    duration: float  # seconds of audio
    segments: tuple[Segment, ...]
    seconds: float = 0.0  # compute time it took

    @property
    def words(self) -> list[Word]:
        return [word for segment in self.segments for word in segment.words]

    @property
    def text(self) -> str:
        return " ".join(segment.text.strip() for segment in self.segments if segment.text.strip())

    @property
    def no_speech(self) -> bool:
        """True when the voice detector found nothing to transcribe ("no speech heard")."""
        return not self.text

    def to_json(self) -> list[dict[str, Any]]:
        """Segments with their words, as stored."""
        return [
            {
                "start": segment.start,
                "end": segment.end,
                "text": segment.text.strip(),
                "words": [
                    {
                        "start": w.start,
                        "end": w.end,
                        "text": w.text.strip(),
                        "probability": w.probability,
                    }
                    for w in segment.words
                ],
            }  # fmt: skip
            for segment in self.segments
        ]


# -- audio --------------------------------------------------------------------------------------


def extract_audio(media: Path, destination: Path, max_seconds: float = 3600.0) -> Path:
    """Write 16 kHz mono 16-bit WAV of ``media``'s sound to ``destination``; return it.

    Raises MediaRejected when the file has no sound ffmpeg can read, MediaToolFailed otherwise.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial.wav")
    # 16-bit mono at 16 kHz is 32 kB a second; a margin for the header.
    bound = int(max_seconds * SAMPLE_RATE * 2) + 1_000_000
    argv = ffmpeg.ffmpeg_command(
        [Input(media, max_seconds=max_seconds)],
        ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le",
         "-f", "wav"],
        partial, max_output_bytes=bound, max_seconds=max_seconds,
    )  # fmt: skip
    try:
        result = ffmpeg.run(argv, timeout=60 + max_seconds / 4)
        if result.returncode != 0:
            if "matches no streams" in result.stderr or "Stream map" in result.stderr:
                raise MediaRejected(N_("The recording has no sound to transcribe."),
                                    result.stderr)  # fmt: skip
            raise MediaToolFailed(N_("ffmpeg failed while taking the sound out for speech."),
                                  result.stderr)  # fmt: skip
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


# -- the model, loaded once per process -----------------------------------------------------------


@dataclass
class ModelCache:
    """One loaded model per (folder, threads), released after ``idle_seconds`` unused."""

    idle_seconds: float = 300.0
    loader: Callable[[Path, int], Any] | None = None
    _models: dict[tuple[str, int], Any] = field(default_factory=dict)
    _timers: dict[tuple[str, int], threading.Timer] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    loads: int = 0

    def get(self, folder: Path, threads: int) -> Any:
        key = (str(folder), int(threads))
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = (self.loader or load_whisper)(Path(folder), int(threads))
                self._models[key] = model
                self.loads += 1
            self._touch(key)
            return model

    def _touch(self, key: tuple[str, int]) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        if self.idle_seconds > 0 and math.isfinite(self.idle_seconds):
            timer = threading.Timer(self.idle_seconds, self.release, args=(key,))
            timer.daemon = True
            timer.start()
            self._timers[key] = timer

    def release(self, key: tuple[str, int] | None = None) -> None:
        """Forget one model (or all): its memory goes back once no transcription holds it."""
        with self._lock:
            keys = [key] if key is not None else list(self._models)
            for item in keys:
                self._models.pop(item, None)
                timer = self._timers.pop(item, None)
                if timer is not None:
                    timer.cancel()

    def loaded(self) -> int:
        with self._lock:
            return len(self._models)


def load_whisper(folder: Path, threads: int) -> Any:
    """A faster-whisper model from a folder (never a size name: that would try a download)."""
    try:
        from faster_whisper import WhisperModel  # heavy, and optional
    except ImportError as error:
        raise NoSpeechModel("faster-whisper is not installed.") from error
    return _encoding_once(WhisperModel)(
        str(folder), device="cpu", compute_type="int8", cpu_threads=threads,
        local_files_only=True,
    )  # fmt: skip


def _encoding_once(whisper_model: type) -> type:
    """faster-whisper's model, but the first 30 s are encoded once, not twice.

    When it detects the language, faster-whisper 1.2 encodes the first window to detect it,
    then encodes the same window again to transcribe it: about a fifth of the CPU a 30-second
    clip takes (bench/speech_encoding.py). Here the detection's encoding is kept (per thread)
    and given back when the transcription asks for the same window; any other window is
    encoded as before. Detection reads the frames transcription reads (not the one padding
    frame after them), so the two windows are equal and the words are those the model gives
    when told the language.
    """
    import numpy as np

    class Whisper(whisper_model):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._window = threading.local()
            self.encoder_runs = 0  # windows encoded by the model (checked by the tests)

        def detect_language(self, audio: Any = None, features: Any = None, **kwargs: Any) -> Any:
            if audio is None and features is not None and features.shape[-1] > 1:
                features = features[..., : features.shape[-1] - 1]
            self._window.keep = True
            try:
                return super().detect_language(audio=audio, features=features, **kwargs)
            finally:
                self._window.keep = False

        def encode(self, features: Any) -> Any:
            kept = getattr(self._window, "kept", None)
            self._window.kept = None
            if kept is not None and np.array_equal(kept[0], features):
                return kept[1]
            output = super().encode(features)
            self.encoder_runs += 1
            if getattr(self._window, "keep", False):
                self._window.kept = (features, output)
            return output

    return Whisper


MODELS = ModelCache()


def cache_for(idle_seconds: float) -> ModelCache:
    """This process's model cache, releasing models after ``idle_seconds`` without use."""
    MODELS.idle_seconds = idle_seconds
    return MODELS


def transcribe(
    audio: Path,
    model_folder: Path,
    *,
    threads: int = 2,
    language: str | None = None,
    cache: ModelCache | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe a WAV (or anything PyAV reads) with the model in ``model_folder``.

    ``language`` None lets the model detect it. Voice activity detection is on, so silence
    and noise give no segments (``Transcript.no_speech``) instead of invented words.
    """
    started = time.monotonic()
    model = (cache or MODELS).get(Path(model_folder), threads)
    segments_iter, info = model.transcribe(
        str(audio), language=language, vad_filter=True, word_timestamps=True,
        condition_on_previous_text=False, beam_size=5,
    )  # fmt: skip
    segments = []
    for raw in segments_iter:
        words = tuple(
            Word(round(float(w.start), 3), round(float(w.end), 3), str(w.word),
                 round(float(w.probability), 4))
            for w in (raw.words or [])
        )  # fmt: skip
        segments.append(Segment(round(float(raw.start), 3), round(float(raw.end), 3),
                                str(raw.text), words))  # fmt: skip
        if on_progress is not None and info.duration:
            on_progress(min(1.0, float(raw.end) / float(info.duration)))
    return Transcript(
        language=str(info.language),
        language_probability=round(float(info.language_probability), 4),
        duration=round(float(info.duration), 3), segments=tuple(segments),
        seconds=round(time.monotonic() - started, 3),
    )  # fmt: skip


# -- captions from the words ------------------------------------------------------------------


def wrap_lines(words: Sequence[str], width: int = LINE_CHARS) -> list[str]:
    """Words as caption lines: one line if it fits, else two balanced lines if they fit, else
    greedy lines of at most ``width`` (a word longer than that stands alone)."""
    text = " ".join(words)
    if len(text) <= width:
        return [text] if text else []
    best: tuple[int, list[str]] | None = None
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        if len(first) <= width and len(second) <= width:
            longest = max(len(first), len(second))
            if best is None or longest < best[0]:
                best = (longest, [first, second])
    if best is not None:
        return best[1]
    lines: list[str] = []
    current: list[str] = []
    for word in words:
        if current and len(" ".join([*current, word])) > width:
            lines.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def _fits(words: Sequence[str]) -> bool:
    lines = wrap_lines(words)
    return len(lines) <= MAX_LINES and all(len(line) <= LINE_CHARS for line in lines)


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(_SENTENCE_END)


def draft_cues(words: Sequence[Word], duration: float) -> list[vtt.Cue]:
    """Caption-sized cues from timed words: at most two lines of 42 characters, 1–7 seconds
    each, a new cue at a pause or after a sentence ends; times inside ``[0, duration]``."""
    groups: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        text = word.text.strip()
        if not text:
            continue
        word = Word(word.start, max(word.end, word.start), text, word.probability)
        if current:
            paused = word.start - current[-1].end >= PAUSE_SECONDS
            too_long = word.end - current[0].start > MAX_CUE_SECONDS
            too_wide = not _fits([w.text for w in current] + [text])
            cue_seconds = current[-1].end - current[0].start
            sentence_done = _ends_sentence(current[-1].text) and (
                cue_seconds >= MIN_CUE_SECONDS or len(" ".join(w.text for w in current)) >= 20
            )
            if paused or too_long or too_wide or sentence_done:
                groups.append(current)
                current = []
        current.append(word)
    if current:
        groups.append(current)

    cues: list[vtt.Cue] = []
    limit = max(duration, 0.0)
    for index, group in enumerate(groups):
        next_start = groups[index + 1][0].start if index + 1 < len(groups) else limit
        start = min(max(group[0].start, cues[-1].end if cues else 0.0), limit)
        end = max(group[-1].end + HOLD_SECONDS, start + MIN_CUE_SECONDS)
        end = min(end, start + MAX_CUE_SECONDS, max(next_start, group[-1].end), limit)
        if end - start < 0.001:
            continue
        text = "\n".join(wrap_lines([w.text for w in group]))
        cues.append(vtt.Cue(round(start, 3), round(end, 3), text))
    return cues


def draft_vtt(words: Sequence[Word], duration: float) -> str:
    """A WebVTT file of ``draft_cues`` (empty string when there are no words)."""
    cues = draft_cues(words, duration)
    if not cues:
        return ""
    return vtt.format_vtt(vtt.validate_cues(cues, duration))
