"""The audit log as people read it (issue 17): every entry a sentence in the reader's language
("Siân approved reflection 12 (Volunteer, video)"), never an internal code; filters by person,
reflection and kind of change; the same sentences as CSV.

The rows come from ``voxpop.audit.entries``; this module only words them. A withdrawn
reflection keeps its number, perspective and kind (its words are gone, and so are the log's
before/after of it), so its entries still read as sentences.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from voxpop import models
from voxpop.db import rows_in
from voxpop.spreadsheet import csv_bytes

# The kinds of change, for the filter, in its order: the part of the action before the dot
# (publishing and the record of the day are about the event, but kinds of their own).
KINDS = ("reflection", "event", "perspective", "prompt", "consent_text", "kiosk", "user",
         "reel", "publish", "report")  # fmt: skip


def kind_names() -> dict[str, str]:
    return {
        "reflection": _("Reflections"),
        "event": _("Event settings"),
        "perspective": _("Perspectives"),
        "prompt": _("Prompts"),
        "consent_text": _("Consent wording"),
        "kiosk": _("Kiosks"),
        "user": _("People and roles"),
        "reel": _("Highlights reels"),
        "publish": _("Publishing"),
        "report": _("The record of the day"),
    }


@dataclass(frozen=True)
class Entry:
    """One audit row, worded."""

    id: int
    at: str
    who: str
    action: str
    kind: str
    target_kind: str
    target_id: int | None
    sentence: str
    before: Any
    after: Any


def _kind_of(action: str) -> str:
    return action.split(".", 1)[0]


def _reflections(db: sqlite3.Connection, ids: Iterable[int], lang: str) -> dict[int, str]:
    """Reflection number -> "Volunteer, video" (its perspective and kind)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    kinds = {"video": _("video"), "audio": _("audio"), "text": _("written")}
    rows = rows_in(
        db,
        "SELECT r.id, r.kind, p.labels FROM reflection r JOIN perspective p"
        " ON p.id = r.perspective_id WHERE r.id",
        ids,
    )
    return {
        int(row["id"]): _(
            "%(perspective)s, %(kind)s",
            perspective=models.localised(json.loads(row["labels"]), lang),
            kind=kinds.get(row["kind"], row["kind"]),
        )
        for row in rows
    }


def _labels(
    db: sqlite3.Connection, table: str, column: str, ids: Iterable[int], lang: str
) -> dict[int, str]:
    """Perspective or prompt id -> its name now, in ``lang``."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = rows_in(db, f"SELECT id, {column} FROM {table} WHERE id", ids)  # noqa: S608 - ours
    return {int(row[0]): str(models.localised(json.loads(row[1]), lang)) for row in rows}


def _value(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


Wording = Callable[[dict[str, Any]], str]


def _reflection_sentence(row: dict[str, Any], who: str, about: str) -> str:
    number, action = row["target_id"], row["action"]
    after, before = row["after"], row["before"]
    subject = {"who": who, "number": number or 0, "about": about}
    state = _value(after, "review_state")
    if action == "reflection.review":
        if state == "approved":
            return _("%(who)s approved reflection %(number)d (%(about)s).", **subject)
        if state == "hidden":
            return _("%(who)s hid reflection %(number)d (%(about)s).", **subject)
        return _("%(who)s put reflection %(number)d (%(about)s) back to waiting.", **subject)
    if action == "reflection.star":
        if _value(after, "starred"):
            return _("%(who)s starred reflection %(number)d (%(about)s) for the reel.", **subject)
        return _("%(who)s removed the star from reflection %(number)d (%(about)s).", **subject)
    if action == "reflection.perspective":
        return _("%(who)s moved reflection %(number)d to another perspective (now %(about)s).",
                 **subject)  # fmt: skip
    if action == "reflection.tags":
        tags = _value(after, "tags")
        if tags:
            return _("%(who)s tagged reflection %(number)d (%(about)s): %(tags)s.",
                     tags=", ".join(map(str, tags)), **subject)  # fmt: skip
        return _("%(who)s removed the tags of reflection %(number)d (%(about)s).", **subject)
    if action == "reflection.name":
        return _("%(who)s corrected the first name shown with reflection %(number)d (%(about)s).",
                 **subject)  # fmt: skip
    if action == "reflection.trim":
        return _("%(who)s trimmed reflection %(number)d (%(about)s) for the reel.", **subject)
    if action == "reflection.transcript":
        return _("%(who)s changed the captions of reflection %(number)d (%(about)s).", **subject)
    if action == "reflection.captions_checked":
        return _("%(who)s checked the captions of reflection %(number)d (%(about)s).", **subject)
    if action == "reflection.captions_unchecked":
        return _("The captions of reflection %(number)d (%(about)s) changed after they were "
                 "checked: they need checking again.", **subject)  # fmt: skip
    if action == "reflection.retry":
        return _("%(who)s asked for reflection %(number)d (%(about)s) to be processed again.",
                 **subject)  # fmt: skip
    if action == "reflection.withdraw":
        if _value(after, "by") == "organiser":
            return _("%(who)s withdrew reflection %(number)d (%(about)s) on the person's behalf.",
                     **subject)  # fmt: skip
        return _("The person who recorded reflection %(number)d (%(about)s) withdrew it.",
                 **subject)  # fmt: skip
    del before
    return _("%(who)s changed reflection %(number)d (%(about)s).", **subject)


def _other_sentence(row: dict[str, Any], who: str, name: str, lang: str) -> str:
    action, number = row["action"], row["target_id"] or 0
    after, before = row["after"], row["before"]
    subject = {"who": who, "number": number, "name": name}
    if action == "perspective.update" and isinstance(_value(before, "labels"), dict):
        old = str(models.localised(_value(before, "labels"), lang))
        if old != name:
            return _("%(who)s renamed the perspective “%(old)s” to “%(name)s”.", old=old,
                     **subject)  # fmt: skip
    simple: dict[str, Wording] = {
        "event.create": lambda s: _("%(who)s created the event.", **s),
        "event.update": lambda s: _("%(who)s changed the event settings.", **s),
        "event.logo": lambda s: _("%(who)s changed the event's logo.", **s),
        "event.captions_gate": lambda s: (
            _("%(who)s required checked captions before recordings go online.", **s)
            if _value(after, "captions_required")
            else _("%(who)s let recordings go online without checked captions.", **s)
        ),
        "perspective.create": lambda s: _("%(who)s added the perspective “%(name)s”.", **s),
        "perspective.update": lambda s: _(
            "%(who)s changed the colour of the perspective “%(name)s”.", **s
        ),  # fmt: skip
        "perspective.move": lambda s: _(
            "%(who)s moved the perspective “%(name)s” in the list.", **s
        ),  # fmt: skip
        "perspective.retire": lambda s: _("%(who)s retired the perspective “%(name)s”.", **s),
        "perspective.restore": lambda s: _(
            "%(who)s brought back the perspective “%(name)s”.", **s
        ),  # fmt: skip
        "prompt.create": lambda s: _("%(who)s added the prompt “%(name)s”.", **s),
        "prompt.update": lambda s: _("%(who)s edited the prompt “%(name)s”.", **s),
        "prompt.move": lambda s: _("%(who)s moved the prompt “%(name)s” in the list.", **s),
        "prompt.activate": lambda s: _(
            "%(who)s showed the prompt “%(name)s” on the kiosks.", **s
        ),  # fmt: skip
        "prompt.deactivate": lambda s: _(
            "%(who)s hid the prompt “%(name)s” from the kiosks.", **s
        ),  # fmt: skip
        "consent_text.create": lambda s: _(
            "%(who)s saved a new version of the consent wording.", **s
        ),  # fmt: skip
        "kiosk.create": lambda s: _("%(who)s added kiosk %(number)d.", **s),
        "kiosk.rename": lambda s: _("%(who)s renamed kiosk %(number)d.", **s),
        "kiosk.revoke": lambda s: _(
            "%(who)s revoked kiosk %(number)d: it can no longer send.", **s
        ),  # fmt: skip
        "kiosk.resend": lambda s: _(
            "%(who)s asked kiosk %(number)d to send its refused reflections again.", **s
        ),  # fmt: skip
        "user.create": lambda s: _("%(who)s added a person to the studio.", **s),
        "user.role": lambda s: _("%(who)s changed someone's role.", **s),
        "user.password": lambda s: _("%(who)s set a new password for someone.", **s),
        "user.remove": lambda s: _("%(who)s removed a person from the studio.", **s),
        "reel.create": lambda s: _("%(who)s started highlights reel %(number)d.", **s),
        "reel.add": lambda s: _("%(who)s added a clip to highlights reel %(number)d.", **s),
        "reel.remove": lambda s: _("%(who)s took a clip out of highlights reel %(number)d.", **s),
        "reel.order": lambda s: _("%(who)s reordered highlights reel %(number)d.", **s),
        "reel.settings": lambda s: _(
            "%(who)s changed the settings of highlights reel %(number)d.", **s
        ),  # fmt: skip
        "reel.delete": lambda s: _("%(who)s deleted highlights reel %(number)d.", **s),
        # Written when the organiser asks (Publish now): the publish itself may wait, or fail.
        "publish.request": lambda s: _("%(who)s asked to publish the archive.", **s),
        "publish.settings": lambda s: _("%(who)s changed where the archive is published.", **s),
        "report.request": lambda s: _("%(who)s made the record of the day (PDF).", **s),
        "report.internal": lambda s: _(
            "%(who)s made the internal record of the day, for the organising team.", **s
        ),  # fmt: skip
    }
    wording = simple.get(action)
    if wording is not None:
        return wording(subject)
    return _("%(who)s made a change (%(action)s).", who=who, action=action)


def worded(db: sqlite3.Connection, rows: list[dict[str, Any]], lang: str) -> list[Entry]:
    """The rows of ``audit.entries`` as sentences in ``lang``."""

    def ids(kind: str) -> list[int]:
        return [row["target_id"] for row in rows
                if row["target_kind"] == kind and row["target_id"] is not None]  # fmt: skip

    about = _reflections(db, ids("reflection"), lang)
    names = {
        "perspective": _labels(db, "perspective", "labels", ids("perspective"), lang),
        "prompt": _labels(db, "prompt", "texts", ids("prompt"), lang),
    }
    entries = []
    for row in rows:
        who = row["user_name"] if row["user_name"] != "system" else _("voxpop")
        if row["target_kind"] == "reflection":
            sentence = _reflection_sentence(row, who, about.get(row["target_id"] or 0, "—"))
        else:
            name = names.get(row["target_kind"], {}).get(row["target_id"] or 0, "")
            sentence = _other_sentence(row, who, name, lang)
        entries.append(
            Entry(
                id=row["id"],
                at=row["at"],
                who=who,
                action=row["action"],
                kind=_kind_of(row["action"]),
                target_kind=row["target_kind"],
                target_id=row["target_id"],
                sentence=sentence,
                before=row["before"],
                after=row["after"],
            )  # fmt: skip
        )
    return entries


def people(db: sqlite3.Connection) -> list[str]:
    """Everyone who appears in the log, for the filter."""
    return [row[0] for row in db.execute(
        "SELECT DISTINCT user_name FROM audit_log ORDER BY user_name COLLATE NOCASE")]  # fmt: skip


def as_csv(entries: list[Entry]) -> bytes:
    """The entries as CSV, as a spreadsheet opens it (Welsh letters intact, no formulas)."""
    names = kind_names()
    header = [_("When (UTC)"), _("Who"), _("What happened"), _("Kind of change"), _("About"),
              _("Number"), _("Code"), _("Before"), _("After")]  # fmt: skip
    rows = [
        [entry.at, entry.who, entry.sentence, names.get(entry.kind, entry.kind),
         entry.target_kind, entry.target_id, entry.action,
         None if entry.before is None else json.dumps(entry.before, ensure_ascii=False),
         None if entry.after is None else json.dumps(entry.after, ensure_ascii=False)]
        for entry in entries
    ]  # fmt: skip
    return csv_bytes(header, rows, byte_order_mark=True)
