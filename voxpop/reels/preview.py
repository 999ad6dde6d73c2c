"""A reel's sequence before it is rendered: the pieces a render would join, in order, each with
its length, for the builder's timeline and its preview player.

Nothing is encoded: the player plays each clip's delivery MP4 from its trim in to its trim out,
shows a written reflection's quote card for as long as the reel will, and draws the intro,
section and outro cards in the page. The order, the cards and the lengths are the render's own
(``voxpop.reels.render``): cards where the perspective changes, trims cut at keyframes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from voxpop import models
from voxpop.db import rows_in
from voxpop.media import cards, reel
from voxpop.reels.render import (
    INTRO_SECONDS,
    OUTRO_SECONDS,
    SECTION_SECONDS,
    intro_look,
    outro_look,
    reel_language,
    section_look,
)
from voxpop.reels.service import ReelEntry


@dataclass(frozen=True)
class PreviewPiece:
    """One piece of the sequence: a title card, a clip (video or audio) or a quote card."""

    kind: str  # "title" | "clip" | "text"
    seconds: float
    title: str
    colour: str
    kicker: str | None = None  # title cards: the line above the title
    subtitle: str | None = None  # title cards: the line below it; clips: kind and name
    reflection_id: int | None = None
    start: float = 0.0  # clips: where the delivery MP4 is played from …
    end: float = 0.0  # … and to (keyframe-snapped, as the render cuts)
    lang: str | None = None  # title cards: the language of their words (the reel's)


def _title(look: dict[str, str | None], seconds: float, lang: str) -> PreviewPiece:
    return PreviewPiece(
        kind="title",
        seconds=seconds,
        title=look["title"] or "",
        colour=look["colour"] or "",
        kicker=look.get("kicker"),
        subtitle=look.get("subtitle"),
        lang=lang,
    )


def sequence(
    db: sqlite3.Connection,
    event: models.Event,
    items: Sequence[ReelEntry],
    kind_names: dict[str, str],
) -> list[PreviewPiece]:
    """The reel as a render would make it now; empty when no clip in it can be shown.

    ``kind_names`` are the kinds of reflection in the reader's language ("Video", …).
    """
    shown = [item for item in items if item.showable]
    if not shown:
        return []
    written = [item.reflection_id for item in shown if item.kind == "text"]
    reading = {  # how long each quote card stays on screen (as processing made it)
        row["id"]: cards.words_to_seconds(row["text_body"] or "")
        for row in rows_in(db, "SELECT id, text_body FROM reflection WHERE id", written)
    }
    labels = {
        row["id"]: json.loads(row["labels"])
        for row in rows_in(db, "SELECT id, labels FROM perspective WHERE id",
                           sorted({item.perspective_id for item in shown}))
    }  # fmt: skip
    lang = reel_language(event)
    pieces = [_title(intro_look(event), INTRO_SECONDS, lang)]
    previous = None
    for item in shown:
        if item.perspective_id != previous:
            look = section_look(event, labels.get(item.perspective_id, {}), item.colour)
            pieces.append(_title(look, SECTION_SECONDS, lang))
            previous = item.perspective_id
        about = " · ".join(
            part for part in (kind_names.get(item.kind, item.kind), item.name) if part
        )
        if item.kind == "text":
            seconds = reading.get(item.reflection_id, cards.words_to_seconds(item.excerpt))
            pieces.append(PreviewPiece(kind="text", seconds=seconds, title=item.perspective_label,
                                       colour=item.colour, subtitle=about,
                                       reflection_id=item.reflection_id, end=seconds))  # fmt: skip
            continue
        if not item.duration:
            continue  # not measured: the render would find out; nothing to play here
        start, end = reel.snap_trim(item.trim_in, item.trim_out, item.duration)
        pieces.append(PreviewPiece(kind="clip", seconds=round(end - start, 3),
                                   title=item.perspective_label, colour=item.colour,
                                   subtitle=about, reflection_id=item.reflection_id,
                                   start=start, end=end))  # fmt: skip
    pieces.append(_title(outro_look(event), OUTRO_SECONDS, lang))
    return pieces


def total_seconds(pieces: Sequence[PreviewPiece]) -> float:
    """How long the sequence (and so the rendered reel) lasts."""
    return round(sum(piece.seconds for piece in pieces), 3)
