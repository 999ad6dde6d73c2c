"""One slug rule for every name voxpop turns into a URL part or a file name."""

from __future__ import annotations

import re
import unicodedata


def slugify(text: str, max_length: int = 60) -> str:
    """A stable, URL- and file-safe slug: "Front-line staff" -> "front-line-staff".

    Accents are dropped ("Gŵr" -> "gwr"); what has no letters or digits gives "" (callers
    choose their own fallback).
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_length].strip("-")
