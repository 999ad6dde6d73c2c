"""Why something failed, stored so that each reader sees it in their own language.

A worker writes a reason (a reflection's or a reel's failure, a job's error, a transcript's
note) when nobody is reading, in nobody's language; a facilitator reads it later, in English
or in Welsh. So a reason is kept as its English message (a catalogue msgid, marked with
``N_``) and the values that fill it, and is worded only when it is read: ``render(stored,
gettext)`` in the reader's language on a page, ``english(stored)`` in the CLI and the logs.

What goes in the column (``Reason.stored``): the message itself when it has no values, so
such a row reads as plain text; otherwise a small JSON object,
``{"message": "The video is larger than 4K (%(width)d×%(height)d).", "values": {"width":
5000, "height": 3000}}``. A value may itself be a reason, always written as an object
(the composites: ``"%(reason)s The file was deleted."``, ``"%(reason)s (gave up after
%(attempts)d attempts)"``), so it is translated too; a plain string value (a codec, a tool's
name) is shown as it is. Rows written before this module hold plain English: they are looked
up whole in the catalogue, and shown as stored when it has no such message.

Pure (no Flask): the media cores raise errors that carry a reason, and a page passes its own
``gettext``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Translate = Callable[[str], str]


def N_(message: str) -> str:  # pybabel's default keyword for "mark, don't translate"
    """Mark a message for the catalogue without translating it (it is worded when read)."""
    return message


def _as_is(message: str) -> str:
    return message


@dataclass(frozen=True)
class Reason:
    """An English message with ``%(name)s`` placeholders and the values that fill them."""

    message: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(self, gettext: Translate) -> str:
        """The reason in ``gettext``'s language (English when a translation is broken)."""
        values = {
            name: value.render(gettext) if isinstance(value, Reason) else value
            for name, value in self.values.items()
        }
        if not values:
            return gettext(self.message)
        try:
            return gettext(self.message) % values
        except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder
            return self.message % values

    def english(self) -> str:
        """The reason in English (the CLI, logs, an exception's message)."""
        return self.render(_as_is)

    def stored(self) -> str:
        """The text for a reason column: the message alone, or JSON when it has values."""
        if not self.values:
            return self.message
        return json.dumps(self._as_json(), ensure_ascii=False)

    def _as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"message": self.message}
        if self.values:
            found["values"] = {
                name: value._as_json() if isinstance(value, Reason) else value
                for name, value in self.values.items()
            }
        return found


def _from_json(data: Mapping[str, Any]) -> Reason:
    values = data.get("values") or {}
    return Reason(
        str(data["message"]),
        {
            name: _from_json(value) if isinstance(value, dict) else value
            for name, value in values.items()
        },
    )


def parse(stored: str | None) -> Reason | None:
    """The reason a column holds (None for none); plain text is a message without values."""
    if not stored:
        return None
    if stored.startswith("{"):
        try:
            data = json.loads(stored)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return _from_json(data)
    return Reason(stored)


def render(stored: str | None, gettext: Translate) -> str | None:
    """What a reader sees for a stored reason, in ``gettext``'s language (None for none).

    The one way a stored reason becomes words: pages pass flask_babel's ``gettext``.
    """
    reason = parse(stored)
    return None if reason is None else reason.render(gettext)


def english(stored: str | None) -> str | None:
    """A stored reason in English, for the CLI and the logs (None for none)."""
    return render(stored, _as_is)


def store(reason: Reason | str | None) -> str | None:
    """A reason, or text that is already a plain message, as a reason column holds it."""
    return reason.stored() if isinstance(reason, Reason) else reason


class ErrorWithReason(Exception):
    """An error whose words are a reason: ``message`` in English for logs, ``reason`` to store."""

    def __init__(self, message: str, **values: Any) -> None:
        self.reason = Reason(message, values)
        self.message = self.reason.english()
        super().__init__(self.message)


def of(error: BaseException, otherwise: Reason) -> Reason:
    """The reason an error gives (its ``reason``, or its plain ``message``), else ``otherwise``."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, Reason):
        return reason
    message = getattr(error, "message", None)
    return Reason(message) if isinstance(message, str) and message else otherwise
