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
from voxpop.studio.consent import consent_field_names


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


def _delegate_texts(
    db: sqlite3.Connection, event: models.Event
) -> list[tuple[dict[str, str], str, str, str]]:
    """Each text a delegate reads on the kiosk: ({lang: text}, what it is, the settings
    endpoint that edits it, the id of its field there with ``{lang}`` to fill in)."""
    consent = models.current_consent_text(db, event.id)
    texts = [({"en": event.name} | event.names, _("Event name"), "studio.settings_event",
              "event-name-{lang}")]  # fmt: skip
    texts += [
        (p.labels, _("Perspective"), "studio.settings_perspectives", f"p{p.id}-label-{{lang}}")
        for p in models.perspectives(db, event.id)
    ]
    texts += [
        (q.texts, _("Prompt"), "studio.settings_prompts", f"q{q.id}-text-{{lang}}")
        for q in models.prompts(db, event.id)
    ]
    texts += [
        (
            {lang: wording.get(key, "") for lang, wording in consent.texts.items()},
            _("Consent text: %(part)s", part=part),
            "studio.settings_consent",
            f"consent-{key}-{{lang}}",
        )
        for key, part in consent_field_names().items()
        # Only the parts the kiosk shows: wording from before the room purpose has none.
        if key == "intro" or key in consent.purposes
    ]
    texts.append(
        (event.thanks, _("Thank-you text"), "studio.settings_event", "event-thanks-{lang}")
    )
    return texts


def missing_translations(db: sqlite3.Connection, event: models.Event) -> list[MissingText]:
    """Every piece of event content a delegate sees that lacks one of the event's languages.

    Descriptions are in the current (the viewer's) language; an empty list means the event
    may open to kiosks.
    """
    texts = _delegate_texts(db, event)
    missing: list[MissingText] = []
    for lang in event.languages:
        for by_lang, what, endpoint, anchor in texts:
            if not _has(by_lang, lang):
                content, content_lang = _sample(by_lang)
                missing.append(
                    MissingText(
                        lang, what, content, content_lang, endpoint, anchor.format(lang=lang)
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
