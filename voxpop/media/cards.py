"""Cards: the quote card of a text reflection, the audio card, and the reel's title card.

Pure (no Flask): values in, a metadata-free PNG out, :class:`CardError` with a human message on
failure. Colours and text layout come from ``typesetting``; images are opened and saved through
``images``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageDraw

from voxpop.media.images import PIXEL_LIMIT, StrPath, save_stripped
from voxpop.media.typesetting import (
    RGB,
    CardError,
    TextBlock,
    clean_text,
    fit_text,
    load_font,
    mix,
    parse_colour,
    text_colour_for,
)

CARD_SIZE = (1280, 720)


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


class _Canvas(NamedTuple):
    """A blank card in its background colour, and what every card measures and draws with."""

    width: int
    height: int
    background: RGB
    ink: RGB  # white or near-black, whichever reads better on the background
    s: float  # the card's scale against 1280x720
    margin: int
    card: Image.Image
    draw: ImageDraw.ImageDraw


def _blank_card(size: tuple[int, int], colour: str) -> _Canvas:
    """A card of ``size`` filled with ``colour`` (refused when either cannot be drawn)."""
    width, height = _check_size(size)
    background = parse_colour(colour)
    s = _scale((width, height))
    card = Image.new("RGB", (width, height), background)
    return _Canvas(
        width,
        height,
        background,
        text_colour_for(background),
        s,
        round(72 * s),
        card,
        ImageDraw.Draw(card),
    )


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
    width, height, background, ink, s, margin, card, draw = _blank_card(size, colour)
    if not clean_text(text, bold=False):
        raise CardError("A quote card needs some text to show.")

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
        fill=mix(ink, background, 0.45),
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
    width, height, background, ink, s, margin, card, draw = _blank_card(size, colour)

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
    width, height, background, ink, s, margin, card, draw = _blank_card(size, colour)

    if logo is not None:
        mark = logo.convert("RGBA")
        mark.thumbnail((round(width * 0.3), round(height * 0.18)))
        card.paste(mark, ((width - mark.width) // 2, round(margin * 0.5)), mark)
        margin += mark.height // 2
    box_width = width - 2 * margin
    kicker_block = None
    if kicker and clean_text(kicker, bold=False):
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
    if subtitle and clean_text(subtitle, bold=False):
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
                    fill=mix(ink, background, 0.8), align="centre")  # fmt: skip
        top += kicker_block.height + kicker_gap
    _draw_block(draw, title_block, x=width // 2, top=top, fill=ink, align="centre")
    if sub_block is not None:
        rule_top = top + title_block.height + rule_gap
        half = round(60 * s)
        draw.rectangle(
            (width // 2 - half, rule_top, width // 2 + half, rule_top + rule_height - 1),
            fill=mix(ink, background, 0.6),
        )
        sub_top = rule_top + rule_height + rule_gap
        _draw_block(draw, sub_block, x=width // 2, top=sub_top, fill=ink, align="centre")
    return save_stripped(card, out_path, format="PNG")


def words_to_seconds(
    text: str, *, wpm: int = 160, minimum: float = 4.0, maximum: float = 15.0
) -> float:
    """How long a quote card stays on screen: reading time at ``wpm`` plus 1.5 s, clamped."""
    if wpm <= 0 or minimum > maximum:
        raise ValueError("wpm must be positive and minimum no more than maximum")
    seconds = len(text.split()) * 60 / wpm + 1.5
    return min(maximum, max(minimum, seconds))
