"""Reading what the review pages send: filters, selections, times, tags and caption rows.

Plain functions over the request's mappings, raising ``ReviewError`` with a message for the
facilitator. (Flask-WTF's CSRFProtect checks the token of every POST before a view runs.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from flask_babel import gettext as _

from voxpop import models
from voxpop.media import vtt
from voxpop.review.service import (
    CAPTION_FILTERS,
    REVIEW_FILTERS,
    STATUS_FILTERS,
    Filters,
    PageStart,
    ReviewError,
)

_TAG_SEPARATORS = re.compile(r"[,;\n]")


def filters_from(args: Mapping[str, str]) -> Filters:
    """Filters from query arguments; unknown values are ignored (the queue shows everything)."""
    prompt = args.get("prompt", "").strip()
    kind, status, review = args.get("kind", ""), args.get("status", ""), args.get("review", "")
    captions = args.get("captions", "")
    return Filters(
        perspective=args.get("perspective", "").strip()[:80],
        prompt=int(prompt) if prompt.isdigit() and len(prompt) < 10 else None,
        kind=kind if kind in models.KINDS else "",
        status=status if status in STATUS_FILTERS else "",
        review=review if review in REVIEW_FILTERS else "",
        q=" ".join(args.get("q", "").split())[:200],
        captions=captions if captions in CAPTION_FILTERS else "",
    )


def _reflection_number(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and 0 < len(value) < 13 else None


def start_from(args: Mapping[str, str]) -> PageStart:
    """Where the queue's page starts: ``before=<id>`` (older than it) or ``after=<id>`` (newer
    than it); the newest page when neither is given or understood."""
    before = _reflection_number(args.get("before", ""))
    if before is not None:
        return PageStart(before=before)
    return PageStart(after=_reflection_number(args.get("after", "")))


def ids_from(values: Iterable[str]) -> list[int]:
    """Reflection ids ticked in the list."""
    ids = []
    for value in values:
        value = value.strip()
        if not value.isdigit() or len(value) > 12:
            raise ReviewError(_("The selection was not understood. Reload the page."))
        ids.append(int(value))
    return ids


def id_from(value: str | None) -> int:
    """One id chosen from a list of options (a perspective)."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 12:
        raise ReviewError(_("Choose one of the options shown."))
    return int(value)


def flag_from(value: str | None) -> bool:
    """A yes/no field: ``1``/``true``/``on`` or ``0``/``false``."""
    lowered = (value or "").strip().lower()
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise ReviewError(_("The request could not be understood."))


def optional_time(value: str | None) -> float | None:
    """Seconds typed in a trim field; blank means "not set"."""
    if value is None or not value.strip():
        return None
    try:
        return vtt.parse_time(value)
    except vtt.VttError:
        raise ReviewError(
            _("Write trim points as seconds (12.5) or minutes:seconds (1:02.5).")
        ) from None


def tags_from(text: str | None) -> list[str]:
    """Tags typed in one box, separated by commas (or semicolons, or new lines)."""
    return [part for part in _TAG_SEPARATORS.split(text or "") if part.strip()]


def cues_from(starts: Sequence[str], ends: Sequence[str], texts: Sequence[str]) -> list[vtt.Cue]:
    """Caption rows from the transcript editor. A row whose words are cleared is dropped
    (that is how a caption is removed without a script)."""
    if not len(starts) == len(ends) == len(texts):
        raise ReviewError(_("The captions were not understood. Reload the page."))
    if len(texts) > vtt.MAX_CUES:
        raise ReviewError(_("There can be at most %(max)d captions.", max=vtt.MAX_CUES))
    cues = []
    for number, (start, end, text) in enumerate(zip(starts, ends, texts, strict=True), start=1):
        if not text.strip():
            continue
        try:
            cues.append(vtt.Cue(vtt.parse_time(start), vtt.parse_time(end), text))
        except vtt.VttError:
            raise ReviewError(
                _(
                    "Caption %(number)d: write times as seconds (12.5) or minutes:seconds"
                    " (1:02.5).",
                    number=number,
                )
            ) from None
    return cues
