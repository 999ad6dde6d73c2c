"""Is the event's content complete in each of its languages? The gate kiosks open through.

Everything a delegate reads on the kiosk that the organisers wrote (the event's name, the
current perspectives and prompts, every part of the current consent text, the thank-you
text) must exist in every language the event offers. While anything lacks a language, the
event is not open to kiosks: the kiosk page says so instead of asking anyone to consent in a
language they did not choose, and the studio lists exactly what is missing, with links.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from flask_babel import gettext as _

from voxpop import models
from voxpop.studio.service import consent_field_names


@dataclass(frozen=True)
class MissingText:
    """One piece of event content that lacks its version in ``lang``.

    ``content`` is the piece as written in ``content_lang`` (the organisers' words, shown to
    say which one it is); ``endpoint`` and ``anchor`` say where it is fixed.
    """

    lang: str
    what: str
    content: str
    content_lang: str
    endpoint: str
    anchor: str


def _has(texts: dict[str, str], lang: str) -> bool:
    return bool((texts.get(lang) or "").strip())


def _sample(texts: dict[str, str]) -> tuple[str, str]:
    """Some version of a text to name it by: English first, else any language it has."""
    for lang in ("en", *sorted(texts)):
        if _has(texts, lang):
            return texts[lang], lang
    return "", "en"


def missing_translations(db: sqlite3.Connection, event: models.Event) -> list[MissingText]:
    """Every piece of event content a delegate sees that lacks one of the event's languages.

    Descriptions are in the current (the viewer's) language; an empty list means the event
    may open to kiosks.
    """
    missing: list[MissingText] = []
    consent = models.current_consent_text(db, event.id)
    parts = consent_field_names()
    for lang in event.languages:
        if not _has(event.names, lang):
            content, content_lang = _sample(event.names)
            missing.append(
                MissingText(
                    lang,
                    _("Event name"),
                    content or event.name,
                    content_lang,
                    "studio.settings_event",
                    f"event-name-{lang}",
                )
            )
        for perspective in models.perspectives(db, event.id):
            if not _has(perspective.labels, lang):
                content, content_lang = _sample(perspective.labels)
                missing.append(
                    MissingText(
                        lang,
                        _("Perspective"),
                        content,
                        content_lang,
                        "studio.settings_perspectives",
                        f"p{perspective.id}-label-{lang}",
                    )
                )
        for prompt in models.prompts(db, event.id):
            if not _has(prompt.texts, lang):
                content, content_lang = _sample(prompt.texts)
                missing.append(
                    MissingText(
                        lang,
                        _("Prompt"),
                        content,
                        content_lang,
                        "studio.settings_prompts",
                        f"q{prompt.id}-text-{lang}",
                    )
                )
        wording = consent.texts.get(lang, {})
        for key, part in parts.items():
            if not _has(wording, key):
                english = consent.texts.get("en", {})
                missing.append(
                    MissingText(
                        lang,
                        _("Consent text: %(part)s", part=part),
                        english.get(key, ""),
                        "en",
                        "studio.settings_consent",
                        f"consent-{key}-{lang}",
                    )
                )
        if not _has(event.thanks, lang):
            content, content_lang = _sample(event.thanks)
            missing.append(
                MissingText(
                    lang,
                    _("Thank-you text"),
                    content,
                    content_lang,
                    "studio.settings_event",
                    f"event-thanks-{lang}",
                )
            )
    return missing


def open_to_kiosks(db: sqlite3.Connection, event: models.Event) -> bool:
    """True when every piece of the event's content exists in every language it offers."""
    return not missing_translations(db, event)


def language_name(lang: str, in_lang: str) -> str:
    """The name of ``lang`` in the language ``in_lang`` ("Welsh", "Cymraeg", "Saesneg")."""
    try:
        name = Locale.parse(lang).get_display_name(Locale.parse(in_lang))
    except (UnknownLocaleError, ValueError):
        return lang
    return name or lang
