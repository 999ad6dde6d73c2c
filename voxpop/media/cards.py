"""Pillow work: safe image opening, metadata-free saving, cards, posters and thumbnails.

Everything here is pure (no Flask): paths and values in, files out, `UnsafeImage` or `CardError`
with a human message on failure. `open_image_safely` is the only door through which Pillow sees
an image we did not draw ourselves; `save_stripped` is the only way images leave this module, so
no EXIF (GPS!), XMP, ICC profile or comment from a delegate's upload is ever republished.
Cards use the DejaVu fonts bundled in `fonts/`, so they look the same on every laptop and
render Welsh (ŵ ŷ ẁ ẃ ẅ ỳ) correctly.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import unicodedata
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageStat

from voxpop.media.colours import is_colour
from voxpop.storage import fsync_folder

StrPath = str | os.PathLike[str]
RGB = tuple[int, int, int]

FONT_DIR = Path(__file__).resolve().parent / "fonts"
_FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}

# Our explicit decompression-bomb policy for Pillow (its own default is ~89 megapixels). It is a
# process-wide setting in Pillow, so it is one constant, never a per-call value.
PIXEL_LIMIT = 40_000_000

CARD_SIZE = (1280, 720)
WHITE: RGB = (255, 255, 255)
NEAR_BLACK: RGB = (20, 20, 20)
ELLIPSIS = "…"

# Pillow reports a phone's multi-picture JPEG as "MPO"; for us it is a JPEG.
_FORMAT_FAMILY = {"MPO": "JPEG"}
_SIGNATURES = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "PNG": {"optimize": True},
    "JPEG": {"quality": 85, "optimize": True, "progressive": True},
    "WEBP": {"quality": 80},
}
_SAVE_MODES = {"PNG": ("RGB", "RGBA", "L", "LA"), "JPEG": ("RGB", "L"), "WEBP": ("RGB", "RGBA")}
# Control, format (zero-width joiners, bidi marks), private-use, surrogate and unassigned code
# points: invisible or unrenderable on a card.
_DROPPED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}


class UnsafeImage(Exception):
    """An image we refuse to decode: wrong format, too large, or damaged."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CardError(Exception):
    """A card could not be drawn from the values given."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- safe opening and stripped saving -------------------------------------------------------


def open_image_safely(
    path: StrPath,
    *,
    allowed_formats: Sequence[str] = ("PNG", "JPEG", "WEBP"),
    max_pixels: int = PIXEL_LIMIT,
) -> Image.Image:
    """Decode an untrusted image into a fresh RGB/RGBA image with orientation applied, no metadata.

    Raises:
        UnsafeImage: not an allowed format, larger than ``max_pixels``, or damaged.
        OSError: the file itself cannot be opened (missing, unreadable).
        ValueError: ``max_pixels`` is above the module's PIXEL_LIMIT policy.
    """
    if max_pixels > PIXEL_LIMIT:
        raise ValueError(f"max_pixels may only tighten the limit of {PIXEL_LIMIT} pixels")
    allowed = [fmt.upper() for fmt in allowed_formats]
    Image.MAX_IMAGE_PIXELS = PIXEL_LIMIT
    # Opened here so a missing or unreadable file stays an OSError rather than "damaged".
    with open(path, "rb") as fh:
        try:
            with warnings.catch_warnings():
                # Pillow only warns between 1x and 2x its limit; we refuse either way.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(fh, formats=allowed) as im:
                    if _FORMAT_FAMILY.get(im.format or "", im.format) not in allowed:
                        raise UnsafeImage(_not_allowed_message(allowed))
                    width, height = im.size  # from the header only: nothing decoded yet
                    if width * height > max_pixels:
                        raise UnsafeImage("This image is too large to open safely.")
                    im.load()
                    upright = ImageOps.exif_transpose(im)
        except UnsafeImage:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnsafeImage("This image is too large to open safely.") from exc
        except Image.UnidentifiedImageError as exc:
            fh.seek(0)
            if _has_signature_of(fh.read(12), allowed):
                raise UnsafeImage("This image is damaged and cannot be read.") from exc
            raise UnsafeImage(_not_allowed_message(allowed)) from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
            raise UnsafeImage("This image is damaged and cannot be read.") from exc
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    return _fresh(upright.convert("RGBA" if has_alpha else "RGB"))


def _has_signature_of(head: bytes, allowed: Sequence[str]) -> bool:
    """True if a file's first bytes are those of an allowed format (so damaged, not foreign)."""
    return any(head.startswith(_SIGNATURES[fmt]) for fmt in allowed if fmt in _SIGNATURES) or (
        "WEBP" in allowed and head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    )


def _not_allowed_message(allowed: Sequence[str]) -> str:
    """Say which formats are accepted, in words: "not a PNG, JPEG or WebP image"."""
    names = ["WebP" if fmt == "WEBP" else fmt for fmt in allowed]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"This file is not a {listed} image."


def _fresh(image: Image.Image) -> Image.Image:
    """Rebuild an image from its pixels alone, leaving every piece of metadata behind."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def save_stripped(image: Image.Image, path: StrPath, *, format: str) -> Path:
    """Write PNG, JPEG or WebP with no metadata at all, atomically and byte-for-byte repeatable."""
    fmt = format.upper()
    fmt = "JPEG" if fmt == "JPG" else fmt
    if fmt not in _SAVE_OPTIONS:
        raise ValueError(f"cannot save as {format!r}: use PNG, JPEG or WEBP")
    path = Path(path)
    clean = _fresh(_mode_for(image, fmt))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            clean.save(fh, format=fmt, **_SAVE_OPTIONS[fmt])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def _mode_for(image: Image.Image, fmt: str) -> Image.Image:
    """Convert to a mode the format stores plainly; JPEG has no alpha, so flatten onto black."""
    if image.mode in _SAVE_MODES[fmt]:
        return image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha and "RGBA" in _SAVE_MODES[fmt]:
        return image.convert("RGBA")
    if has_alpha:
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


# --- colour ---------------------------------------------------------------------------------


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


def _mix(a: RGB, b: RGB, amount: float) -> RGB:
    """``amount`` of colour a over colour b (0 gives b, 1 gives a)."""
    return (
        round(a[0] * amount + b[0] * (1 - amount)),
        round(a[1] * amount + b[1] * (1 - amount)),
        round(a[2] * amount + b[2] * (1 - amount)),
    )


# --- fonts and text layout ------------------------------------------------------------------


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


def _clean_text(text: str, *, bold: bool) -> str:
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
    text = _clean_text(text, bold=bold)
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


def _draw_block(
    draw: ImageDraw.ImageDraw,
    block: TextBlock,
    *,
    x: int,
    top: int,
    fill: RGB,
    align: str = "left",
) -> None:
    """Draw a TextBlock with its first line's top at ``top``; ``x`` is the left edge or centre."""
    anchor = "ms" if align == "centre" else "ls"
    baseline = top + block.ascent
    for line in block.lines:
        draw.text((x, baseline), line, font=block.font, fill=fill, anchor=anchor)
        baseline += block.line_height


def _scale(size: tuple[int, int]) -> float:
    """How much larger or smaller than a 1280x720 card this one is."""
    return min(size[0] / CARD_SIZE[0], size[1] / CARD_SIZE[1])


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    """Refuse card sizes too small to hold any text."""
    width, height = int(size[0]), int(size[1])
    if width < 160 or height < 90 or width * height > PIXEL_LIMIT:
        raise CardError(f"A card of {width}x{height} pixels is too small or too large to draw.")
    return width, height


# --- cards ----------------------------------------------------------------------------------


def render_quote_card(
    out_path: StrPath,
    *,
    text: str,
    perspective_label: str,
    colour: str,
    name: str | None = None,
    size: tuple[int, int] = CARD_SIZE,
) -> Path:
    """Draw a typed reflection as a quote card in the perspective's colour and save it as PNG."""
    width, height = _check_size(size)
    background = parse_colour(colour)
    if not _clean_text(text, bold=False):
        raise CardError("A quote card needs some text to show.")
    ink = text_colour_for(background)
    s = _scale((width, height))
    margin = round(72 * s)
    card = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(card)

    name = (name or "").strip()
    footer_text = f"— {name}, {perspective_label}" if name else f"— {perspective_label}"
    footer = fit_text(
        footer_text,
        width=width - 2 * margin,
        height=round(60 * s),
        max_size=round(36 * s),
        min_size=round(24 * s),
        bold=True,
        max_lines=1,
    )
    footer_top = height - margin - footer.height
    _draw_block(draw, footer, x=margin, top=footer_top, fill=ink)

    text_left = margin + round(150 * s)
    box_top, box_bottom = margin, footer_top - round(44 * s)
    quote = fit_text(
        text,
        width=width - margin - text_left,
        height=box_bottom - box_top,
        max_size=round(84 * s),
        min_size=round(30 * s),
    )
    text_top = box_top + max(0, (box_bottom - box_top - quote.height) // 2)
    _draw_block(draw, quote, x=text_left, top=text_top, fill=ink)

    # The big opening quote mark sits beside the first line, its top level with the capitals.
    mark_font = load_font(round(220 * s), bold=True)
    cap_top = text_top + quote.ascent + quote.font.getbbox("H", anchor="ls")[1]
    mark_top = mark_font.getbbox("“", anchor="la")[1]
    draw.text(
        (margin, max(margin, cap_top) - mark_top),
        "“",
        font=mark_font,
        fill=_mix(ink, background, 0.45),
        anchor="la",
    )
    return save_stripped(card, out_path, format="PNG")


def _microphone_mask(side: int) -> Image.Image:
    """A microphone with sound waves, drawn 4x larger then reduced so the curves are smooth."""
    big = side * 4
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)

    def px(value: float) -> int:
        return round(value * big)

    line = px(0.035)
    # Capsule, with three grille slots cut back out of it.
    draw.rounded_rectangle((px(0.39), px(0.10), px(0.61), px(0.54)), radius=px(0.11), fill=255)
    for y in (0.25, 0.32, 0.39):
        draw.line((px(0.43), px(y), px(0.57), px(y)), fill=0, width=px(0.02))
    # Holder, stem and base.
    draw.arc((px(0.31), px(0.24), px(0.69), px(0.66)), start=0, end=180, fill=255, width=line)
    draw.line((px(0.5), px(0.66), px(0.5), px(0.80)), fill=255, width=line)
    draw.rounded_rectangle((px(0.37), px(0.79), px(0.63), px(0.835)), radius=px(0.02), fill=255)
    # Sound waves either side of the capsule.
    cx, cy = 0.5, 0.32
    for radius in (0.30, 0.40):
        box = (px(cx - radius), px(cy - radius), px(cx + radius), px(cy + radius))
        draw.arc(box, start=-38, end=38, fill=255, width=line)
        draw.arc(box, start=142, end=218, fill=255, width=line)
    return mask.resize((side, side), Image.Resampling.LANCZOS)


def render_audio_card(
    out_path: StrPath,
    *,
    perspective_label: str,
    colour: str,
    prompt: str,
    size: tuple[int, int] = CARD_SIZE,
) -> Path:
    """Draw the still shown under an audio-only reflection: microphone, perspective and prompt."""
    width, height = _check_size(size)
    background = parse_colour(colour)
    ink = text_colour_for(background)
    s = _scale((width, height))
    margin = round(72 * s)
    card = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(card)

    side = min(round(340 * s), height - 2 * margin)
    card.paste(ink, (margin, (height - side) // 2), _microphone_mask(side))

    text_left = margin + side + round(64 * s)
    text_width = width - margin - text_left
    gap = round(28 * s)
    label = fit_text(
        perspective_label,
        width=text_width,
        height=height - 2 * margin,
        max_size=round(72 * s),
        min_size=round(40 * s),
        bold=True,
        max_lines=2,
    )
    prompt_block = fit_text(
        prompt,
        width=text_width,
        height=height - 2 * margin - label.height - gap,
        max_size=round(44 * s),
        min_size=round(28 * s),
    )
    total = label.height + (gap + prompt_block.height if prompt_block.lines else 0)
    top = margin + max(0, (height - 2 * margin - total) // 2)
    _draw_block(draw, label, x=text_left, top=top, fill=ink)
    _draw_block(draw, prompt_block, x=text_left, top=top + label.height + gap, fill=ink)
    return save_stripped(card, out_path, format="PNG")


def render_title_card(
    out_path: StrPath,
    *,
    title: str,
    subtitle: str | None = None,
    colour: str = "#1c1c1c",
    size: tuple[int, int] = CARD_SIZE,
    kicker: str | None = None,
    logo: Image.Image | None = None,
) -> Path:
    """Draw a centred title card for a reel, e.g. the event's name.

    Optional: a ``subtitle`` under a rule, a small ``kicker`` line above the title ("In the
    shoes of…"), and a ``logo`` (an image already opened safely) at the top, at most 18% high.
    """
    width, height = _check_size(size)
    background = parse_colour(colour)
    ink = text_colour_for(background)
    s = _scale((width, height))
    margin = round(72 * s)
    card = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(card)

    if logo is not None:
        mark = logo.convert("RGBA")
        mark.thumbnail((round(width * 0.3), round(height * 0.18)))
        card.paste(mark, ((width - mark.width) // 2, round(margin * 0.5)), mark)
        margin += mark.height // 2
    box_width = width - 2 * margin
    kicker_block = None
    if kicker and _clean_text(kicker, bold=False):
        kicker_block = fit_text(
            kicker,
            width=box_width,
            height=round(height * 0.12),
            max_size=round(40 * s),
            min_size=round(24 * s),
            max_lines=1,
        )
    title_block = fit_text(
        title,
        width=box_width,
        height=round((height - 2 * margin) * 0.6),
        max_size=round(88 * s),
        min_size=round(40 * s),
        bold=True,
        max_lines=3,
    )
    rule_gap, rule_height = round(36 * s), max(2, round(6 * s))
    sub_block = None
    if subtitle and _clean_text(subtitle, bold=False):
        sub_block = fit_text(
            subtitle,
            width=box_width,
            height=height - 2 * margin - title_block.height - 2 * rule_gap - rule_height,
            max_size=round(48 * s),
            min_size=round(26 * s),
            max_lines=3,
        )
    total = title_block.height
    if sub_block is not None:
        total += 2 * rule_gap + rule_height + sub_block.height
    kicker_gap = round(24 * s)
    if kicker_block is not None:
        total += kicker_block.height + kicker_gap
    top = margin + max(0, (height - 2 * margin - total) // 2)
    if kicker_block is not None:
        _draw_block(draw, kicker_block, x=width // 2, top=top,
                    fill=_mix(ink, background, 0.8), align="centre")  # fmt: skip
        top += kicker_block.height + kicker_gap
    _draw_block(draw, title_block, x=width // 2, top=top, fill=ink, align="centre")
    if sub_block is not None:
        rule_top = top + title_block.height + rule_gap
        half = round(60 * s)
        draw.rectangle(
            (width // 2 - half, rule_top, width // 2 + half, rule_top + rule_height - 1),
            fill=_mix(ink, background, 0.6),
        )
        sub_top = rule_top + rule_height + rule_gap
        _draw_block(draw, sub_block, x=width // 2, top=sub_top, fill=ink, align="centre")
    return save_stripped(card, out_path, format="PNG")


# --- posters, thumbnails and frame choice ---------------------------------------------------


def poster_and_thumbnail(
    frame_png: StrPath,
    poster_out: StrPath,
    thumb_out: StrPath,
    *,
    poster_max: tuple[int, int] = (1280, 720),
    thumb_width: int = 320,
) -> tuple[Path, Path]:
    """From one extracted frame, write a JPEG poster (within poster_max) and a WebP thumbnail."""
    if min(poster_max) < 1 or thumb_width < 1:
        raise ValueError("poster_max and thumb_width must be positive")
    frame = _mode_for(open_image_safely(frame_png), "JPEG")
    poster = frame.copy()
    poster.thumbnail(poster_max, Image.Resampling.LANCZOS)
    thumb_height = max(1, round(frame.height * thumb_width / frame.width))
    thumb = frame.resize((thumb_width, thumb_height), Image.Resampling.LANCZOS)
    return (
        save_stripped(poster, poster_out, format="JPEG"),
        save_stripped(thumb, thumb_out, format="WEBP"),
    )


def _as_image(image_or_path: Image.Image | StrPath) -> Image.Image:
    """Use an image as is, or open a path through the safe door."""
    if isinstance(image_or_path, Image.Image):
        return image_or_path
    return open_image_safely(image_or_path)


def _luma_sample(image: Image.Image) -> Image.Image:
    """Greyscale, reduced to at most 160 pixels wide: plenty for brightness statistics."""
    grey = image.convert("L")
    if grey.width > 160:
        grey = grey.resize(
            (160, max(1, round(grey.height * 160 / grey.width))), Image.Resampling.BOX
        )
    return grey


def is_mostly_black(
    image_or_path: Image.Image | StrPath, threshold: float = 0.95, *, dark_level: int = 24
) -> bool:
    """True if at least ``threshold`` of the pixels are darker than ``dark_level`` (0-255)."""
    histogram = _luma_sample(_as_image(image_or_path)).histogram()
    return sum(histogram[: dark_level + 1]) / sum(histogram) >= threshold


def frame_score(path: Image.Image | StrPath) -> float:
    """How good a poster a frame makes, 0 to 1; black, white and flat frames score near 0.

    The score is the geometric mean of exposure (how far the mean brightness is from pure black
    or white) and contrast (standard deviation of brightness), each scaled to 0..1, so a frame
    needs both to score well.
    """
    stat = ImageStat.Stat(_luma_sample(_as_image(path)))
    mean, spread = stat.mean[0], stat.stddev[0]
    exposure = min(mean, 255 - mean) / 127.5
    contrast = min(spread / 127.5, 1.0)
    return math.sqrt(max(0.0, exposure) * contrast)


def choose_poster_frame(frame_pngs: Sequence[StrPath]) -> Path:
    """Pick the best-scoring frame, preferring any not mostly black; ties go to the earliest."""
    if not frame_pngs:
        raise ValueError("no frames to choose from")
    ranked = []
    for index, frame in enumerate(frame_pngs):
        image = open_image_safely(frame)
        ranked.append((not is_mostly_black(image), frame_score(image), -index, Path(frame)))
    return max(ranked)[3]


def words_to_seconds(
    text: str, *, wpm: int = 160, minimum: float = 4.0, maximum: float = 15.0
) -> float:
    """How long a quote card stays on screen: reading time at ``wpm`` plus 1.5 s, clamped."""
    if wpm <= 0 or minimum > maximum:
        raise ValueError("wpm must be positive and minimum no more than maximum")
    seconds = len(text.split()) * 60 / wpm + 1.5
    return min(maximum, max(minimum, seconds))
