"""Colours as voxpop writes them: the one check, for what people type and what pages draw.

Pure: no Flask, no database. Settings store ``#rrggbb`` (``is_colour``); anything drawn from
stored data goes through ``safe_colour`` first, so a hand-edited database cannot put CSS or
SVG of its own into a page.
"""

from __future__ import annotations

import re

# What voxpop stores and renders cards with: six hex digits.
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# What a page may draw: the stored form, or the three-digit shorthand.
_DRAWABLE = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
FALLBACK_COLOUR = "#5b5b5b"  # a neutral grey for anything that is not a plain colour


def is_colour(value: object) -> bool:
    """True for a colour written like ``#1b6ca8`` (spaces around it allowed)."""
    return isinstance(value, str) and _COLOUR.fullmatch(value.strip()) is not None


def safe_colour(colour: str | None) -> str:
    """``colour`` if it is a plain hex colour (``#rgb`` or ``#rrggbb``), else the fallback grey."""
    return colour if colour and _DRAWABLE.fullmatch(colour) else FALLBACK_COLOUR
