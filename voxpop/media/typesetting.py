"""Colour contrast, the bundled fonts and text layout for everything voxpop draws.

Pure (no Flask). The DejaVu fonts bundled in ``fonts/`` make cards look the same on every laptop
and render Welsh (ŵ ŷ ẁ ẃ ẅ ỳ) correctly; ``fit_text`` finds the largest size at which a text fits
a box. Failures raise :class:`CardError` with a human message.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from voxpop.media.colours import is_colour

RGB = tuple[int, int, int]

FONT_DIR = Path(__file__).resolve().parent / "fonts"
_FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}

WHITE: RGB = (255, 255, 255)
NEAR_BLACK: RGB = (20, 20, 20)
ELLIPSIS = "…"

# Control, format (zero-width joiners, bidi marks), private-use, surrogate and unassigned code
# points: invisible or unrenderable on a card.
_DROPPED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}


class CardError(Exception):
    """A card could not be drawn from the values given."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_colour(colour: str) -> RGB:
    """Turn "#rrggbb" into an (r, g, b) tuple, or raise CardError."""
    if not is_colour(colour):
        raise CardError(f"“{colour}” is not a colour written like #1f6feb.")
    value = colour.strip()[1:]
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def relative_luminance(rgb: RGB) -> float:
    """WCAG 2 relative luminance of an sRGB colour, 0 (black) to 1 (white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio between two colours, 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_for(background: RGB) -> RGB:
    """White or near-black, whichever contrasts more with the background."""
    if contrast_ratio(WHITE, background) >= contrast_ratio(NEAR_BLACK, background):
        return WHITE
    return NEAR_BLACK


def mix(a: RGB, b: RGB, amount: float) -> RGB:
    """``amount`` of colour a over colour b (0 gives b, 1 gives a)."""
    return (
        round(a[0] * amount + b[0] * (1 - amount)),
        round(a[1] * amount + b[1] * (1 - amount)),
        round(a[2] * amount + b[2] * (1 - amount)),
    )


@functools.lru_cache(maxsize=128)
def load_font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The bundled DejaVu Sans (or Bold) at a pixel size."""
    try:
        # BASIC layout (no libraqm): same output on every machine; text is NFC-normalised first,
        # so Welsh letters are single precomposed glyphs and need no shaping.
        return ImageFont.truetype(
            str(FONT_DIR / _FONT_FILES[bold]), size, layout_engine=ImageFont.Layout.BASIC
        )
    except OSError as exc:
        raise CardError(f"The card fonts are missing from {FONT_DIR}; reinstall voxpop.") from exc


@functools.lru_cache(maxsize=4096)
def _has_glyph(char: str, bold: bool) -> bool:
    """True if the font draws something other than its "missing glyph" box for this character."""
    font = load_font(24, bold=bold)
    missing = font.getmask("\ue000")  # private use: never in DejaVu, so it is the .notdef box
    mask = font.getmask(char)
    return not (mask.size == missing.size and bytes(mask) == bytes(missing))


def clean_text(text: str, *, bold: bool) -> str:
    """NFC-normalise, keep line breaks, drop invisible characters and ones the font cannot draw."""
    lines = []
    for line in unicodedata.normalize("NFC", text).splitlines():
        kept = "".join(
            ch
            for ch in line.replace("\t", " ")
            if ch.isspace()
            or (unicodedata.category(ch) not in _DROPPED_CATEGORIES and _has_glyph(ch, bold))
        )
        lines.append(" ".join(kept.split()))
    return "\n".join(lines).strip()


def _split_long_word(word: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Break a word wider than the box (a URL, a long place name) into pieces that fit."""
    if font.getlength(word) <= max_width:
        return [word]
    pieces, piece = [], ""
    for ch in word:
        if piece and font.getlength(piece + ch) > max_width:
            pieces.append(piece)
            piece = ch
        else:
            piece += ch
    return [*pieces, piece]


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap to a pixel width; each input line starts a new output line."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            for piece in _split_long_word(word, font, max_width):
                candidate = f"{line} {piece}" if line else piece
                if font.getlength(candidate) <= max_width:
                    line = candidate
                else:
                    if line:
                        lines.append(line)
                    line = piece
        if line:
            lines.append(line)
    return lines


def _ellipsize(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """End a line with "…", dropping words (or letters) until it fits."""
    words = line.split(" ")
    while words:
        candidate = " ".join(words).rstrip(" ,;:.-–—") + ELLIPSIS
        if font.getlength(candidate) <= max_width:
            return candidate
        if len(words) == 1:
            break
        words.pop()
    word = words[0] if words else ""
    while word and font.getlength(word + ELLIPSIS) > max_width:
        word = word[:-1]
    return word + ELLIPSIS


@dataclass(frozen=True)
class TextBlock:
    """Lines laid out in one font: what to draw and how much room it takes."""

    font: ImageFont.FreeTypeFont
    lines: tuple[str, ...]
    line_height: int
    truncated: bool

    @property
    def ascent(self) -> int:
        """Pixels from the top of the block to the first baseline."""
        return self.font.getmetrics()[0]

    @property
    def height(self) -> int:
        """Pixels from the top of the first line to the bottom of the last."""
        if not self.lines:
            return 0
        ascent, descent = self.font.getmetrics()
        return ascent + descent + self.line_height * (len(self.lines) - 1)

    @property
    def width(self) -> int:
        """Pixels taken by the widest line."""
        return math.ceil(max((self.font.getlength(line) for line in self.lines), default=0))


def fit_text(
    text: str,
    *,
    width: int,
    height: int,
    max_size: int,
    min_size: int,
    bold: bool = False,
    max_lines: int | None = None,
    line_spacing: float = 1.25,
    step: int = 2,
) -> TextBlock:
    """Wrap text in the largest font size that fits the box; at ``min_size``, truncate with "…"."""
    text = clean_text(text, bold=bold)
    min_size = max(1, min(min_size, max_size))
    size = max_size
    while True:
        font = load_font(size, bold=bold)
        ascent, descent = font.getmetrics()
        line_height = round(size * line_spacing)
        lines = wrap_text(text, font, width)
        room = max(1, 1 + (height - ascent - descent) // line_height)
        if max_lines is not None:
            room = min(room, max_lines)
        if len(lines) <= room:
            return TextBlock(font, tuple(lines), line_height, truncated=False)
        if size <= min_size:
            kept = lines[:room]
            kept[-1] = _ellipsize(kept[-1], font, width)
            return TextBlock(font, tuple(kept), line_height, truncated=True)
        size = max(min_size, size - step)
