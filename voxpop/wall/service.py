"""What the live wall shows, as one small JSON document with a version.

The wall shows only reflections that pass ``archive.service.ROOM_WHERE`` (the public rule with
"shown in the room" consent in place of online consent, and captions checked for every
recording). No Flask here beyond translations: the view passes the database, the event and a
URL builder for the media routes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxpop import models
from voxpop.archive import service as archive
from voxpop.archive.service import PublicReflection
from voxpop.media import vtt

# The wall cycles through the newest so many (at 8-20 s each, about an hour); the balance
# counts them all. Keeps each answer small and quick however long the day.
WALL_ITEMS = 200
# A quote longer than this is cut at a word and ends with "…" (it must fit the screen).
QUOTE_MAX_CHARS = 420
SHORT_QUOTE, LONG_QUOTE = 120, 260  # the page picks its type size from these


@dataclass(frozen=True)
class WallState:
    """The wall's document and its version (a hash of the document: an ETag)."""

    version: str
    document: dict[str, Any]

    def json(self) -> str:
        return json.dumps({**self.document, "version": self.version}, ensure_ascii=False)


def shorten(text: str, limit: int = QUOTE_MAX_CHARS) -> str:
    """``text`` with its whitespace collapsed, cut at a word before ``limit`` characters."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return cut + "…"


def spoken_words(reflection: PublicReflection) -> str:
    """The checked captions of a recording as one quote (only the trimmed part)."""
    if not reflection.captions:
        return ""
    return _words(reflection.captions, reflection.trim_in, reflection.trim_out)


@functools.lru_cache(maxsize=2048)
def _words(captions: str, trim_in: float | None, trim_out: float | None) -> str:
    # The wall asks every 2 s: kept per captions and trim.
    cues = vtt.parse_vtt(captions)
    if trim_in is not None or trim_out is not None:
        cues = vtt.clip_cues(cues, trim_in or 0.0, trim_out or float("inf"))
    return " ".join(cue.text for cue in cues)


def quote_of(reflection: PublicReflection) -> str:
    """What the wall quotes: the written reflection, or the checked words of a recording."""
    if reflection.kind == "text":
        return shorten(reflection.text_body or "")
    return shorten(spoken_words(reflection))


def size_of(quote: str) -> str:
    """``short``, ``medium`` or ``long``: the page sets the quote's type size from it."""
    if len(quote) <= SHORT_QUOTE:
        return "short"
    return "medium" if len(quote) <= LONG_QUOTE else "long"


def _labels(texts: dict[str, str], languages: list[str]) -> dict[str, str]:
    return {lang: str(models.localised(texts, lang)) for lang in languages}


def wall_state(
    db: sqlite3.Connection,
    event: models.Event,
    media_url: Callable[[PublicReflection, str], str],
) -> WallState:
    """Everything the wall shows now: its items (oldest first) and the perspective balance.

    ``media_url(reflection, kind)`` gives the URL of a file (``mp4``, ``poster``, ``captions``).
    """
    languages = list(event.languages) or ["en"]
    items = []
    for reflection in archive.room_reflections(db, event.id, newest=WALL_ITEMS):
        quote = quote_of(reflection)
        if not quote:  # a recording whose checked captions hold no words: nothing to read
            continue
        video = reflection.kind == "video" and {"mp4", "poster"} <= set(reflection.files)
        items.append(
            {
                "id": reflection.id,
                "kind": reflection.kind,
                "perspective": reflection.perspective_slug,
                "label": _labels(reflection.perspective_labels, languages),
                "prompt": _labels(reflection.prompt_texts, languages),
                "quote": quote,
                "size": size_of(quote),
                "lang": reflection.lang,
                "name": reflection.name,
                "video": media_url(reflection, "mp4") if video else None,
                "poster": media_url(reflection, "poster") if video else None,
                "captions": media_url(reflection, "captions") if video else None,
                "start": reflection.trim_in or 0,
                "end": reflection.trim_out,
                "duration": reflection.duration,
            }
        )
    counts = archive.room_counts(db, event.id)
    balance = [
        {
            "perspective": perspective.slug,
            "label": _labels(perspective.labels, languages),
            "count": counts.get(perspective.id, 0),
        }
        for perspective in models.perspectives(db, event.id)
    ]
    document = {"items": items, "balance": balance, "total": sum(counts.values())}
    body = json.dumps(document, ensure_ascii=False, sort_keys=True)
    return WallState(hashlib.sha256(body.encode("utf-8")).hexdigest()[:32], document)
