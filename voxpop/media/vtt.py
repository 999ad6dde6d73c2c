"""WebVTT captions: read, check, write, draft from plain text, and follow a trim.

Pure: strings and numbers in, strings and ``Cue`` lists out, ``VttError`` on bad input. No
Flask, no files. Cue text is held as *plain text*; markup is only ever produced by
``format_vtt``, which escapes ``&``, ``<`` and ``>``, so text a person typed can never become a
cue tag, a class or a timestamp in the captions a browser renders.

``VttError`` carries a ``code`` and the 1-based ``cue`` number (when there is one) so that the
caller can word the message in the reader's language; its English ``str`` is for logs.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_CUES = 1000
MAX_CUE_CHARS = 500
# A default cue holds about two caption lines of 42 characters.
DEFAULT_CUE_CHARS = 84
# Timings are kept to the millisecond, as WebVTT writes them.
_EPSILON = 0.0005

_STRICT_TIMESTAMP = re.compile(r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
_LOOSE_TIME = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)$")
_TAG = re.compile(r"<[^>]*>")
# After . ! ? or … (and a closing quote or bracket, kept with its sentence).
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'”’)\]])\s+")
_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")


class VttError(ValueError):
    """Captions that cannot be read or kept; ``code`` names the problem for a translated message.

    Codes: ``not_vtt``, ``no_timing``, ``bad_time``, ``negative``, ``end_before_start``,
    ``beyond_end``, ``out_of_order``, ``overlap``, ``empty_text``, ``text_too_long``,
    ``too_many_cues``, ``bad_duration``.
    """

    def __init__(self, code: str, message: str, cue: int | None = None) -> None:
        super().__init__(message if cue is None else f"Cue {cue}: {message}")
        self.code = code
        self.cue = cue


@dataclass(frozen=True)
class Cue:
    """One caption: shown from ``start`` to ``end`` seconds; ``text`` is plain (unescaped)."""

    start: float
    end: float
    text: str


# -- timestamps -------------------------------------------------------------------------------


def format_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` for a non-negative number of seconds (rounded to the millisecond)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise VttError("negative", f"A time must be zero or more, not {seconds!r}")
    total_ms = round(seconds * 1000)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def parse_timestamp(text: str) -> float:
    """Seconds from a WebVTT timestamp (``MM:SS.mmm`` or ``HH:MM:SS.mmm``), exactly as the
    format requires."""
    match = _STRICT_TIMESTAMP.match(text.strip())
    if not match:
        raise VttError("bad_time", f"{text!r} is not a WebVTT time (00:01.500)")
    hours, minutes, secs, ms = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(ms) / 1000


def parse_time(text: str) -> float:
    """Seconds from a time a person typed: ``12``, ``12.5``, ``1:02.5`` or ``0:01:02.500``.

    Rounded to the millisecond. Raises VttError (``bad_time``) for anything else, including
    negative numbers and minutes or seconds of 60 and more after a colon.
    """
    cleaned = text.strip().replace(",", ".")
    match = _LOOSE_TIME.match(cleaned)
    if not match:
        raise VttError("bad_time", f"{text!r} is not a time (seconds, or minutes:seconds)")
    hours, minutes, secs = match.groups()
    if minutes is not None and float(secs) >= 60:
        raise VttError("bad_time", f"{text!r}: seconds after a colon must be under 60")
    if hours is not None and int(minutes) >= 60:
        raise VttError("bad_time", f"{text!r}: minutes after a colon must be under 60")
    value = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)
    return round(value, 3)


# -- cue text ---------------------------------------------------------------------------------


def _clean_lines(text: str) -> list[str]:
    # A blank line would end the cue early, so lines are kept only when they hold something.
    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n"))
    return [line for line in lines if line]


def normalise_text(text: str) -> str:
    """Cue text as it is kept: inner whitespace collapsed, no blank lines."""
    return "\n".join(_clean_lines(text))


def escape_text(text: str) -> str:
    """Plain text made safe as WebVTT cue text: no tags, entities or ``-->`` can come of it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(cue_text: str) -> str:
    """The words of WebVTT cue text: tags (``<b>``, ``<v Name>``, ``<00:01.000>``) dropped and
    character references (``&amp;``) decoded."""
    return html.unescape(_TAG.sub("", cue_text))


# -- reading ----------------------------------------------------------------------------------


def parse_vtt(source: str) -> list[Cue]:
    """Read a WebVTT file's cues as plain text, in file order.

    ``NOTE``, ``STYLE`` and ``REGION`` blocks and cue settings are skipped. Raises VttError
    (``not_vtt``, ``no_timing``, ``bad_time``) when the text is not WebVTT.
    """
    text = source.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"\n[ \t]*\n", text)
    if not blocks or not _SIGNATURE.match(blocks[0].split("\n", 1)[0]):
        raise VttError("not_vtt", "WebVTT files start with the line WEBVTT")
    cues: list[Cue] = []
    for block in blocks[1:]:
        lines = [line for line in block.split("\n") if line.strip()] if block.strip() else []
        if not lines:
            continue
        first_word = lines[0].split(maxsplit=1)[0]
        if "-->" not in lines[0] and first_word in ("NOTE", "STYLE", "REGION"):
            continue
        if "-->" not in lines[0]:
            lines = lines[1:]  # a cue identifier
        if not lines or "-->" not in lines[0]:
            raise VttError("no_timing", "A cue has no timing line", len(cues) + 1)
        start_text, _arrow, rest = lines[0].partition("-->")
        end_text = rest.split()[0] if rest.split() else ""
        try:
            start, end = parse_timestamp(start_text), parse_timestamp(end_text)
        except VttError as error:
            raise VttError(error.code, str(error), len(cues) + 1) from None
        cues.append(Cue(start, end, "\n".join(plain_text(line) for line in lines[1:])))
    return cues


# -- checking and writing ---------------------------------------------------------------------


def validate_cues(cues: Sequence[Cue], duration: float) -> list[Cue]:
    """Return the cues, text normalised and times rounded, if they fit a clip of ``duration``.

    Each cue needs some text, ``0 <= start < end <= duration``, and starts no earlier than
    the previous cue ends (captions of one speaker do not overlap). Raises VttError.
    """
    if not math.isfinite(duration) or duration <= 0:
        raise VttError("bad_duration", "Captions need a clip with a known, positive duration")
    if len(cues) > MAX_CUES:
        raise VttError("too_many_cues", f"At most {MAX_CUES} cues")
    checked: list[Cue] = []
    for number, cue in enumerate(cues, start=1):
        start, end = round(cue.start, 3), round(cue.end, 3)
        text = normalise_text(cue.text)
        if not (math.isfinite(start) and math.isfinite(end)):
            raise VttError("bad_time", "Times must be numbers", number)
        if start < 0:
            raise VttError("negative", "A cue cannot start before the clip", number)
        if end <= start:
            raise VttError("end_before_start", "A cue must end after it starts", number)
        if end > duration + _EPSILON:
            raise VttError("beyond_end", "A cue cannot end after the clip", number)
        if not text:
            raise VttError("empty_text", "A cue needs some words", number)
        if len(text) > MAX_CUE_CHARS:
            raise VttError("text_too_long", f"A cue holds at most {MAX_CUE_CHARS} characters",
                           number)  # fmt: skip
        if checked and start < checked[-1].start:
            raise VttError("out_of_order", "Cues must be in time order", number)
        if checked and start < checked[-1].end - _EPSILON:
            raise VttError("overlap", "A cue starts before the one before it ends", number)
        checked.append(Cue(start, end, text))
    return checked


def format_vtt(cues: Iterable[Cue]) -> str:
    """Write cues as a WebVTT file, numbered from 1, with their text escaped."""
    parts = ["WEBVTT", ""]
    for number, cue in enumerate(cues, start=1):
        lines = _clean_lines(cue.text) or ["…"]
        parts.append(str(number))
        parts.append(f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}")
        parts.extend(escape_text(line) for line in lines)
        parts.append("")
    return "\n".join(parts)


# -- a first draft ----------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    found: list[str] = []
    for paragraph in _clean_lines(text):
        found.extend(part.strip() for part in _SENTENCE_END.split(paragraph) if part.strip())
    return found


def _chunks(sentence: str, max_chars: int) -> list[str]:
    # Split a long sentence at spaces into nearly equal pieces, none (but a single long word)
    # over max_chars.
    if len(sentence) <= max_chars:
        return [sentence]
    pieces = math.ceil(len(sentence) / max_chars)
    target = len(sentence) / pieces
    chunks: list[str] = []
    current: list[str] = []
    for word in sentence.split(" "):
        candidate = " ".join([*current, word])
        if current and (len(candidate) > max_chars or len(" ".join(current)) >= target):
            chunks.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        chunks.append(" ".join(current))
    return chunks


def default_cues(text: str, duration: float, max_chars: int = DEFAULT_CUE_CHARS) -> list[Cue]:
    """A first set of captions: one cue per sentence (long ones split), timed across the
    clip in proportion to their length, back to back from 0 to ``duration``.

    Empty text gives no cues. Raises VttError (``bad_duration``) for a duration that is not
    a positive number.
    """
    if not math.isfinite(duration) or duration <= 0:
        raise VttError("bad_duration", "Captions need a clip with a known, positive duration")
    pieces = [chunk for sentence in _sentences(text) for chunk in _chunks(sentence, max_chars)]
    if not pieces:
        return []
    total_ms = round(duration * 1000)
    if total_ms < len(pieces):  # not even a millisecond each: one cue says it all
        pieces = [" ".join(pieces)]
    weights = [len(piece) for piece in pieces]
    total_weight = sum(weights)
    cues = []
    done_weight = 0
    start_ms = 0
    for index, piece in enumerate(pieces):
        done_weight += weights[index]
        left_after = len(pieces) - 1 - index
        # Proportional, yet at least a millisecond for this cue and each one still to come.
        end_ms = round(total_ms * done_weight / total_weight)
        end_ms = min(max(end_ms, start_ms + 1), total_ms - left_after)
        cues.append(Cue(start_ms / 1000, end_ms / 1000, piece))
        start_ms = end_ms
    return cues


# -- following a trim -------------------------------------------------------------------------


def shift_cues(cues: Iterable[Cue], offset: float) -> list[Cue]:
    """Move every cue by ``offset`` seconds; cues that end up wholly before 0 are dropped and
    one that straddles 0 starts at 0."""
    moved = []
    for cue in cues:
        start, end = round(cue.start + offset, 3), round(cue.end + offset, 3)
        if end <= 0:
            continue
        moved.append(Cue(max(0.0, start), end, cue.text))
    return moved


def clip_cues(cues: Iterable[Cue], start: float, end: float) -> list[Cue]:
    """Keep the part of each cue inside ``[start, end]``; cues wholly outside are dropped."""
    kept = []
    for cue in cues:
        cue_start, cue_end = max(cue.start, start), min(cue.end, end)
        if cue_end > cue_start:
            kept.append(Cue(cue_start, cue_end, cue.text))
    return kept


def trim_cues(cues: Iterable[Cue], trim_in: float, trim_out: float) -> list[Cue]:
    """Captions for the trimmed clip ``[trim_in, trim_out]``, on its own timeline from 0."""
    return shift_cues(clip_cues(cues, trim_in, trim_out), -trim_in)
