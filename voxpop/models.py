"""The data model: events and their perspectives, prompts and consent texts; kiosks, users,
reflections and consent records. Plain SQL over one SQLite connection (see ``voxpop.db``)."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import flask_babel

from voxpop import passwords
from voxpop.db import iso_seconds, now_utc, transaction, utcnow

ROLES = ("organiser", "facilitator")
KINDS = ("video", "audio", "text")
PURPOSES = ("archive", "reel", "room", "online", "name")
STATUSES = ("received", "processing", "ready", "failed", "withdrawn")

# Slug, English label, Welsh label, colour (white text passes WCAG AA on each).
DEFAULT_PERSPECTIVES = [
    ("community-member", "Community member", "Aelod o'r gymuned", "#1b6ca8"),
    (
        "service-user",
        "Person using services or family",
        "Person sy'n defnyddio gwasanaethau, neu deulu",
        "#a4127f",
    ),
    ("volunteer", "Volunteer", "Gwirfoddolwr", "#2a7236"),
    ("front-line-staff", "Front-line staff", "Staff rheng flaen", "#b23a0b"),
    ("provider", "Service provider", "Darparwr gwasanaeth", "#6d28d9"),
    ("manager", "Manager or leader", "Rheolwr neu arweinydd", "#0f6b63"),
    ("government", "Commissioner or government", "Comisiynydd neu lywodraeth", "#374151"),
    ("organiser", "Organiser", "Trefnydd", "#8a5a00"),
]

DEFAULT_PROMPTS = [
    {
        "en": "What are you taking away from today?",
        "cy": "Beth fyddwch chi'n ei gymryd gyda chi o heddiw?",
    },
    {
        "en": "What surprised you, seeing the day through someone else's shoes?",
        "cy": "Beth wnaeth eich synnu, wrth weld y diwrnod yn esgidiau rhywun arall?",
    },
    {
        "en": "What one thing should change after today?",
        "cy": "Beth yw'r un peth a ddylai newid ar ôl heddiw?",
    },
]

# The standard consent wording, in English and Welsh. Organisers adapt it (each change is a new
# version); an event offering Welsh does not open to kiosks while any part lacks its Welsh.
DEFAULT_CONSENT = {
    "en": {
        "intro": "You decide how your reflection is used. Tick each use you agree to. "
        "You can withdraw later with your receipt code.",
        "archive": "Keep my reflection in the archive of the day, shared with the people "
        "and organisations who took part.",
        "reel": "It may appear in the highlights reel shown at this event and afterwards.",
        "room": "It may be shown on the big screen in the room during the event.",
        "online": "It may be published online, on the public archive of the day.",
        "name": "Show my first name with it.",
    },
    "cy": {
        "intro": "Chi sy'n penderfynu sut y defnyddir eich adlewyrchiad. Ticiwch bob defnydd "
        "rydych chi'n cytuno iddo. Gallwch ei dynnu'n ôl yn nes ymlaen gyda'ch cod derbynneb.",
        "archive": "Cadw fy adlewyrchiad yn archif y diwrnod, wedi'i rannu â'r bobl a'r "
        "sefydliadau a gymerodd ran.",
        "reel": "Gall ymddangos yn y rîl uchafbwyntiau a ddangosir yn y digwyddiad hwn ac wedyn.",
        "room": "Gellir ei ddangos ar y sgrin fawr yn yr ystafell yn ystod y digwyddiad.",
        "online": "Gellir ei gyhoeddi ar-lein, yn archif gyhoeddus y diwrnod.",
        "name": "Dangos fy enw cyntaf gydag ef.",
    },
}

# What the kiosk's last screen says, under "Thank you" and the receipt code.
DEFAULT_THANKS = {
    "en": "Thank you for sharing your reflection. It will help shape what happens next.",
    "cy": "Diolch am rannu eich adlewyrchiad. Bydd yn helpu i lunio'r hyn sy'n digwydd nesaf.",
}


class NotFound(LookupError):
    """Raised when a row asked for by id or token does not exist."""


def json_column(value: Any) -> str:
    """A value as the JSON text voxpop stores in a column (compact, keys sorted)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def localised(texts: dict[str, Any], lang: str, fallback: str = "en") -> Any:
    """Pick ``lang`` from a per-language dict, falling back to English, then to anything."""
    if lang in texts:
        return texts[lang]
    if fallback in texts:
        return texts[fallback]
    return next(iter(texts.values()), "")


def kind_names(gettext: Callable[[str], str] = flask_babel.gettext) -> dict[str, str]:
    """Each kind of reflection by name ("Video", "Audio", "Text") in the reader's language.

    ``gettext`` is the request's by default; the PDF report passes its own catalogue's.
    """
    return {"video": gettext("Video"), "audio": gettext("Audio"), "text": gettext("Text")}


def review_state_names() -> dict[str, str]:
    """Each review state by name ("Waiting", "Approved", "Hidden"), in the queue's order."""
    return {
        "waiting": flask_babel.gettext("Waiting"),
        "approved": flask_babel.gettext("Approved"),
        "hidden": flask_babel.gettext("Hidden"),
    }


def sha256_text(value: str) -> str:
    """Return the hex sha256 of a string's UTF-8 bytes."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One event day: its settings come from the ``event`` row."""

    id: int
    name: str
    date: str | None
    venue: str | None
    languages: list[str]
    max_clip_seconds: int
    idle_timeout_seconds: int
    text_max_chars: int
    branding: dict[str, Any]
    # Recordings go online only with captions a person checked (issue 16); False relaxes it.
    captions_required: bool = True
    # Per language ({lang: text}): the event's name and the kiosk's thank-you text.
    names: dict[str, str] = field(default_factory=dict)
    thanks: dict[str, str] = field(default_factory=dict)
    # The highest max_clip_seconds the event has had (the database keeps it: migration 0017).
    max_clip_seconds_ever: int = 0

    @property
    def longest_clip_allowed(self) -> int:
        """The longest clip, in seconds, a kiosk may have recorded for this event.

        The highest "Longest clip" the event has had, not today's: a kiosk records under the
        limit it loaded with and may send the take long after the organiser lowered it.
        """
        return max(self.max_clip_seconds, self.max_clip_seconds_ever)

    def name_in(self, lang: str) -> str:
        """The event's name in ``lang`` (falling back to English, then ``name``)."""
        return str(localised(self.names, lang) or self.name)

    def thanks_in(self, lang: str) -> str:
        """The kiosk's thank-you text in ``lang`` (falling back to English)."""
        return str(localised(self.thanks, lang))

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(
            id=row["id"],
            name=row["name"],
            date=row["date"],
            venue=row["venue"],
            languages=json.loads(row["languages"]),
            max_clip_seconds=row["max_clip_seconds"],
            idle_timeout_seconds=row["idle_timeout_seconds"],
            text_max_chars=row["text_max_chars"],
            branding=json.loads(row["branding"]),
            captions_required=bool(row["captions_required"]),
            names=json.loads(row["names"]),
            thanks=json.loads(row["thanks"]),
            max_clip_seconds_ever=row["max_clip_seconds_ever"],
        )


@dataclass(frozen=True)
class Perspective:
    """A point of view a delegate speaks from ("in the shoes of…")."""

    id: int
    slug: str
    labels: dict[str, str]
    colour: str
    position: int

    def label(self, lang: str) -> str:
        return str(localised(self.labels, lang))


@dataclass(frozen=True)
class Prompt:
    """A question shown to delegates."""

    id: int
    texts: dict[str, str]
    position: int

    def text(self, lang: str) -> str:
        return str(localised(self.texts, lang))


@dataclass(frozen=True)
class ConsentText:
    """One immutable version of the consent wording, identified by its sha256."""

    id: int
    version: int
    texts: dict[str, dict[str, str]]
    sha256: str

    def for_language(self, lang: str) -> dict[str, str]:
        return dict(localised(self.texts, lang))

    @property
    def purposes(self) -> tuple[str, ...]:
        """The purposes this wording asks about, in order. A version written before a purpose
        existed (the room, for the live wall) does not ask about it, so nobody can agree to it."""
        wording = localised(self.texts, "en")
        return tuple(purpose for purpose in PURPOSES if wording.get(purpose))


def create_event(
    db: sqlite3.Connection,
    name: str,
    *,
    date: str | None = None,
    venue: str | None = None,
    languages: list[str] | None = None,
    max_clip_seconds: int = 90,
    idle_timeout_seconds: int = 60,
    text_max_chars: int = 1000,
    names: dict[str, str] | None = None,
) -> Event:
    """Create an event with the default perspectives, prompts, consent and thank-you texts.

    ``names`` is the name per language; without it, ``name`` is the name in every language
    of the event (as for "Whose Shoes?", the same in English and Welsh).
    """
    languages = languages or ["en", "cy"]
    names = dict(names) if names else {lang: name for lang in languages}
    names.setdefault("en", name)
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO event (name, date, venue, languages, max_clip_seconds,"
            " idle_timeout_seconds, text_max_chars, created_at, names, thanks)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                names["en"],
                date,
                venue,
                json_column(languages),
                max_clip_seconds,
                idle_timeout_seconds,
                text_max_chars,
                utcnow(),
                json_column(names),
                json_column(DEFAULT_THANKS),
            ),
        )
        event_id = int(cursor.lastrowid or 0)
        for slug, label_en, label_cy, colour in DEFAULT_PERSPECTIVES:
            insert_perspective(db, event_id, slug, {"en": label_en, "cy": label_cy}, colour)
        for texts in DEFAULT_PROMPTS:
            insert_prompt(db, event_id, texts)
        _insert_consent_text(db, event_id, DEFAULT_CONSENT)
    return get_event(db, event_id)


def _next_position(db: sqlite3.Connection, table: str, event_id: int) -> int:
    return int(
        db.execute(
            f"SELECT COALESCE(MAX(position), -1) + 1 FROM {table} WHERE event_id = ?",  # noqa: S608
            (event_id,),
        ).fetchone()[0]
    )


def insert_perspective(
    db: sqlite3.Connection, event_id: int, slug: str, labels: dict[str, str], colour: str
) -> int:
    """Add a perspective at the end of the event's list (call inside a transaction); its id."""
    cursor = db.execute(
        "INSERT INTO perspective (event_id, slug, labels, colour, position) VALUES (?, ?, ?, ?, ?)",
        (event_id, slug, json_column(labels), colour, _next_position(db, "perspective", event_id)),
    )
    return int(cursor.lastrowid or 0)


def insert_prompt(db: sqlite3.Connection, event_id: int, texts: dict[str, str]) -> int:
    """Add an active prompt at the end of the event's list (call inside a transaction); its id."""
    cursor = db.execute(
        "INSERT INTO prompt (event_id, texts, position, active) VALUES (?, ?, ?, 1)",
        (event_id, json_column(texts), _next_position(db, "prompt", event_id)),
    )
    return int(cursor.lastrowid or 0)


def get_event(db: sqlite3.Connection, event_id: int) -> Event:
    """Return the event with this id."""
    row = db.execute("SELECT * FROM event WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        raise NotFound(f"No event {event_id}")
    return Event.from_row(row)


def current_event(db: sqlite3.Connection) -> Event | None:
    """Return the event this instance is running (the newest one), if any."""
    row = db.execute("SELECT * FROM event ORDER BY id DESC LIMIT 1").fetchone()
    return Event.from_row(row) if row else None


def event_of_prompt(db: sqlite3.Connection, prompt_id: str) -> Event | None:
    """The event a prompt belongs to (``prompt_id`` as a kiosk sent it), or None if unknown."""
    # Plain ASCII digits that fit SQLite's integers: anything else names no prompt.
    if not (prompt_id.isascii() and prompt_id.isdigit()) or len(prompt_id) > 18:
        return None
    row = db.execute(
        "SELECT e.* FROM prompt p JOIN event e ON e.id = p.event_id WHERE p.id = ?",
        (int(prompt_id),),
    ).fetchone()
    return Event.from_row(row) if row else None


def longest_clip_any_event(db: sqlite3.Connection) -> int:
    """The longest clip any event on this laptop has allowed, in seconds (0 with no event)."""
    row = db.execute(
        "SELECT MAX(MAX(max_clip_seconds, max_clip_seconds_ever)) FROM event"
    ).fetchone()
    return int(row[0] or 0)


def update_event_settings(db: sqlite3.Connection, event_id: int, **settings: Any) -> None:
    """Change an event's numeric settings (max clip length, idle timeout, text limit)."""
    allowed = {"max_clip_seconds", "idle_timeout_seconds", "text_max_chars"}
    unknown = set(settings) - allowed
    if unknown:
        raise ValueError(f"Unknown event settings: {sorted(unknown)}")
    with transaction(db):
        for key, value in settings.items():
            db.execute(f"UPDATE event SET {key} = ? WHERE id = ?", (int(value), event_id))  # noqa: S608


def perspectives(
    db: sqlite3.Connection, event_id: int, *, retired: bool = False
) -> list[Perspective]:
    """Return the event's current (not retired) perspectives in display order; with
    ``retired``, the retired ones as well (a kiosk may send for one chosen before it went)."""
    rows = db.execute(
        "SELECT * FROM perspective WHERE event_id = ? AND (? OR retired_at IS NULL)"
        " ORDER BY position, id",
        (event_id, retired),
    ).fetchall()
    return [
        Perspective(
            row["id"], row["slug"], json.loads(row["labels"]), row["colour"], row["position"]
        )
        for row in rows
    ]


def prompts(db: sqlite3.Connection, event_id: int, *, inactive: bool = False) -> list[Prompt]:
    """Return the event's active prompts in display order; with ``inactive``, the ones taken
    off the kiosks as well (a kiosk may send an answer to one asked before it went)."""
    rows = db.execute(
        "SELECT * FROM prompt WHERE event_id = ? AND (? OR active = 1) ORDER BY position, id",
        (event_id, inactive),
    ).fetchall()
    return [Prompt(row["id"], json.loads(row["texts"]), row["position"]) for row in rows]


# -- consent texts -----------------------------------------------------------------------------


def _insert_consent_text(
    db: sqlite3.Connection, event_id: int, texts: dict[str, dict[str, str]]
) -> int:
    canonical = json_column(texts)
    version = db.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM consent_text WHERE event_id = ?", (event_id,)
    ).fetchone()[0]
    cursor = db.execute(
        "INSERT INTO consent_text (event_id, version, texts, sha256, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (event_id, version, canonical, sha256_text(canonical), utcnow()),
    )
    return int(cursor.lastrowid or 0)


def _consent_from_row(row: sqlite3.Row) -> ConsentText:
    return ConsentText(row["id"], row["version"], json.loads(row["texts"]), row["sha256"])


def add_consent_version(
    db: sqlite3.Connection, event_id: int, texts: dict[str, dict[str, str]]
) -> ConsentText:
    """Make ``texts`` the event's current consent wording (a new version; old ones stay)."""
    with transaction(db):
        consent_id = _insert_consent_text(db, event_id, texts)
    row = db.execute("SELECT * FROM consent_text WHERE id = ?", (consent_id,)).fetchone()
    return _consent_from_row(row)


def current_consent_text(db: sqlite3.Connection, event_id: int) -> ConsentText:
    """Return the newest consent version of an event."""
    row = db.execute(
        "SELECT * FROM consent_text WHERE event_id = ? ORDER BY version DESC LIMIT 1",
        (event_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"Event {event_id} has no consent text")
    return _consent_from_row(row)


def consent_text_by_sha256(
    db: sqlite3.Connection, event_id: int, sha256: str
) -> ConsentText | None:
    """Return the event's consent version with this hash, if there is one."""
    row = db.execute(
        "SELECT * FROM consent_text WHERE event_id = ? AND sha256 = ?", (event_id, sha256)
    ).fetchone()
    return _consent_from_row(row) if row else None


# -- kiosks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedItem:
    """A reflection a kiosk keeps because the laptop refused it, as the kiosk described it."""

    kind: str  # "video", "audio", "text", or "" when the kiosk did not say
    status: int | None  # the laptop's HTTP answer (413: too large, 422: unreadable, …)
    reason: str  # the laptop's message, in the kiosk's language
    created_at: str | None  # when it was recorded (UTC, ISO), when the kiosk said


@dataclass(frozen=True)
class Kiosk:
    """A paired tablet or laptop that may create reflections and nothing else."""

    id: int
    name: str
    paired_at: str | None
    revoked_at: str | None
    # "kiosk" (delegates use it themselves) or "roving" (an interviewer's phone).
    mode: str = "kiosk"
    # The latest heartbeat: when, what its outbox holds, its storage, its version.
    last_seen_at: str | None = None
    outbox_count: int | None = None
    outbox_bytes: int | None = None
    refused_count: int | None = None
    storage_usage: int | None = None
    storage_quota: int | None = None
    app_version: str | None = None
    # What the kiosk keeps because the laptop refused it (from the heartbeat), and when an
    # organiser last asked it to send those again.
    refused_items: tuple[RefusedItem, ...] = ()
    resend_requested_at: str | None = None
    resend_done_at: str | None = None

    @property
    def resend_pending(self) -> bool:
        """An organiser asked for a resend that the kiosk has not yet said it acted on."""
        return bool(self.resend_requested_at) and self.resend_done_at != self.resend_requested_at

    @property
    def storage_fraction(self) -> float | None:
        """How full the kiosk's browser storage is (0–1), when it said."""
        if not self.storage_quota or self.storage_usage is None:
            return None
        return min(1.0, self.storage_usage / self.storage_quota)


@dataclass(frozen=True)
class NewKiosk:
    """A kiosk just created, with the secrets that exist only at this moment."""

    kiosk: Kiosk
    api_token: str
    pairing_token: str


def _token_hash(token: str) -> str:
    return sha256_text(token)


def _kiosk_from_row(row: sqlite3.Row) -> Kiosk:
    return Kiosk(
        row["id"],
        row["name"],
        row["paired_at"],
        row["revoked_at"],
        row["mode"],
        row["last_seen_at"],
        row["outbox_count"],
        row["outbox_bytes"],
        row["refused_count"],
        row["storage_usage"],
        row["storage_quota"],
        row["app_version"],
        _refused_items(row["refused_detail"]),
        row["resend_requested_at"],
        row["resend_done_at"],
    )


def _refused_items(detail: str | None) -> tuple[RefusedItem, ...]:
    if not detail:
        return ()
    try:
        items = json.loads(detail)
    except ValueError:
        return ()
    return tuple(
        RefusedItem(item["kind"], item["status"], item["reason"], item["created_at"])
        for item in items
    )


KIOSK_MODES = ("kiosk", "roving")
# A pairing link works once, and only for a day: a link in an old screenshot, chat or log
# cannot make a kiosk next week.
PAIRING_LIFETIME = timedelta(hours=24)


def _new_pairing_token() -> str:
    """``<issued, unix seconds in hex>.<random>``: the time is inside what is hashed, so it
    cannot be changed, and the expiry needs no column of its own."""
    return f"{int(now_utc().timestamp()):x}.{secrets.token_urlsafe(24)}"


def _pairing_current(token: str, row: sqlite3.Row) -> bool:
    """True while a pairing token is younger than PAIRING_LIFETIME.

    Tokens made before they carried their time count from when their kiosk was created.
    """
    stamp, dot, _random = token.partition(".")
    try:
        issued = datetime.fromtimestamp(int(stamp, 16), UTC) if dot else None
    except (ValueError, OverflowError, OSError):
        return False
    if issued is None:
        issued = datetime.fromisoformat(row["created_at"])
    return now_utc() - issued < PAIRING_LIFETIME


def create_kiosk(
    db: sqlite3.Connection, name: str, *, auto: bool = False, mode: str = "kiosk"
) -> NewKiosk:
    """Create a kiosk; its API token and one-time pairing token are only returned, never stored.

    ``auto`` marks the kiosk ``voxpop serve`` makes for the pairing link it prints; ``mode``
    is ``kiosk`` (delegates use it) or ``roving`` (an interviewer walks the room with it).
    """
    if mode not in KIOSK_MODES:
        raise ValueError(f"Unknown kiosk mode {mode!r}")
    api_token = secrets.token_urlsafe(32)
    pairing_token = _new_pairing_token()
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO kiosk (name, token_hash, pairing_hash, created_at, auto, mode)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, _token_hash(api_token), _token_hash(pairing_token), utcnow(), int(auto), mode),
        )
    return NewKiosk(get_kiosk(db, int(cursor.lastrowid or 0)), api_token, pairing_token)


def get_kiosk(db: sqlite3.Connection, kiosk_id: int) -> Kiosk:
    """Return the kiosk with this id."""
    row = db.execute("SELECT * FROM kiosk WHERE id = ?", (kiosk_id,)).fetchone()
    if row is None:
        raise NotFound(f"No kiosk {kiosk_id}")
    return _kiosk_from_row(row)


def kiosk_by_api_token(db: sqlite3.Connection, token: str) -> Kiosk | None:
    """Return the live (not revoked) kiosk whose API token this is."""
    row = db.execute(
        "SELECT * FROM kiosk WHERE token_hash = ? AND revoked_at IS NULL", (_token_hash(token),)
    ).fetchone()
    return _kiosk_from_row(row) if row else None


def kiosk_by_pairing_token(db: sqlite3.Connection, token: str) -> Kiosk | None:
    """Return the live kiosk waiting to be paired with this token (None once used or expired)."""
    row = db.execute(
        "SELECT * FROM kiosk WHERE pairing_hash = ? AND paired_at IS NULL AND revoked_at IS NULL",
        (_token_hash(token),),
    ).fetchone()
    return _kiosk_from_row(row) if row and _pairing_current(token, row) else None


def use_pairing_token(db: sqlite3.Connection, token: str) -> Kiosk | None:
    """Pair the kiosk behind a one-time token; a second use of the same token finds nothing."""
    with transaction(db):
        row = db.execute(
            "SELECT id, created_at FROM kiosk WHERE pairing_hash = ? AND paired_at IS NULL"
            " AND revoked_at IS NULL",
            (_token_hash(token),),
        ).fetchone()
        if row is None or not _pairing_current(token, row):
            return None
        db.execute(
            "UPDATE kiosk SET paired_at = ?, pairing_hash = NULL WHERE id = ?",
            (utcnow(), row["id"]),
        )
    return get_kiosk(db, row["id"])


def retire_unused_pairings(db: sqlite3.Connection, *, keep: int | None = None) -> int:
    """Revoke kiosks ``voxpop serve`` made whose pairing link was never used (earlier runs).

    Kiosks made on purpose (organiser page, ``voxpop kiosk add``) are left alone, and so is
    ``keep`` (the one a start reuses).
    """
    with transaction(db):
        cursor = db.execute(
            "UPDATE kiosk SET revoked_at = ?, pairing_hash = NULL"
            " WHERE auto = 1 AND paired_at IS NULL AND revoked_at IS NULL AND id IS NOT ?",
            (utcnow(), keep),
        )
    return cursor.rowcount


def start_up_pairing(db: sqlite3.Connection, name: str) -> tuple[Kiosk, str]:
    """The kiosk and fresh one-time pairing token ``voxpop serve`` prints at start.

    An unused kiosk an earlier start made is reused (with a new token and a new day to use
    it), so restarting the server does not pile up kiosks; other unused ones are retired.
    """
    with transaction(db):
        row = db.execute(
            "SELECT id FROM kiosk WHERE auto = 1 AND paired_at IS NULL AND revoked_at IS NULL"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            token = _new_pairing_token()
            db.execute(
                "UPDATE kiosk SET pairing_hash = ? WHERE id = ?", (_token_hash(token), row["id"])
            )
    if row is None:
        new = create_kiosk(db, name, auto=True)
        kiosk, token = new.kiosk, new.pairing_token
    else:
        kiosk = get_kiosk(db, int(row["id"]))
    retire_unused_pairings(db, keep=kiosk.id)
    return kiosk, token


def revoke_kiosk(db: sqlite3.Connection, kiosk_id: int) -> None:
    """Stop a kiosk from creating reflections; its next request is refused."""
    with transaction(db):
        db.execute(
            "UPDATE kiosk SET revoked_at = COALESCE(revoked_at, ?), pairing_hash = NULL"
            " WHERE id = ?",
            (utcnow(), kiosk_id),
        )


HEARTBEAT_FIELDS = (
    "outbox_count",
    "outbox_bytes",
    "refused_count",
    "storage_usage",
    "storage_quota",
)


def record_heartbeat(
    db: sqlite3.Connection, kiosk_id: int, report: dict[str, Any], user_agent: str
) -> None:
    """Store a kiosk's latest report (numbers it holds, its version) and when it came."""
    values: dict[str, Any] = {}
    for name in HEARTBEAT_FIELDS:
        values[name] = _reported_number(report.get(name))
    version = report.get("app_version")
    values["app_version"] = str(version)[:40] if version else None
    refused = _clean_refused(report.get("refused"))
    resend_done = report.get("resend_done")
    db.execute(
        "UPDATE kiosk SET last_seen_at = ?, outbox_count = ?, outbox_bytes = ?,"
        " refused_count = ?, storage_usage = ?, storage_quota = ?, app_version = ?,"
        " user_agent = ?, refused_detail = ?,"
        " resend_done_at = COALESCE(?, resend_done_at) WHERE id = ?",
        (
            utcnow(),
            values["outbox_count"],
            values["outbox_bytes"],
            values["refused_count"],
            values["storage_usage"],
            values["storage_quota"],
            values["app_version"],
            user_agent or None,
            None if refused is None else json.dumps(refused),
            str(resend_done)[:40] if isinstance(resend_done, str) and resend_done else None,
            kiosk_id,
        ),
    )


REFUSED_ITEMS_KEPT = 20
REFUSED_REASON_MAX = 300
_REFUSED_KINDS = ("video", "audio", "text")


def _clean_refused(report: Any) -> list[dict[str, Any]] | None:
    """The heartbeat's list of refused reflections, reduced to what the studio shows.

    The kiosk is trusted to be a kiosk, not to send sensible data: anything that is not as
    expected is dropped or blanked, never stored as sent. None when the kiosk sent no list.
    """
    if not isinstance(report, list):
        return None
    items = []
    for item in report[:REFUSED_ITEMS_KEPT]:
        if not isinstance(item, dict):
            continue
        kind = item.get("kind")
        status = _reported_number(item.get("status"))
        created = _reported_number(item.get("created_at"))  # ms since 1970, as JavaScript has it
        reason = "".join(ch for ch in str(item.get("message") or "") if ch.isprintable())
        items.append(
            {
                "kind": kind if kind in _REFUSED_KINDS else "",
                "status": status if status is not None and 400 <= status < 600 else None,
                "reason": reason[:REFUSED_REASON_MAX],
                "created_at": _reported_time(created),
            }
        )
    return items


_LATEST_REPORTED_MS = 4_102_444_800_000  # 2100-01-01: later is no kiosk's clock, only noise


def _reported_time(ms: int | None) -> str | None:
    """A time a kiosk reported (ms since 1970) as stored, or None when it is not plausible."""
    if not ms or ms >= _LATEST_REPORTED_MS:
        return None
    return iso_seconds(datetime.fromtimestamp(ms / 1000, UTC))


def _reported_number(value: Any) -> int | None:
    """A whole number a kiosk reported, or None for anything else (negative, text, true)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 2**53:
        return int(value)
    return None


def request_resend(db: sqlite3.Connection, kiosk_id: int) -> str:
    """Ask a kiosk to send the reflections the laptop refused once more; return when asked."""
    now = utcnow()
    db.execute("UPDATE kiosk SET resend_requested_at = ? WHERE id = ?", (now, kiosk_id))
    return now


def live_kiosk(db: sqlite3.Connection, kiosk_id: int) -> Kiosk | None:
    """Return the kiosk if it exists and is not revoked."""
    row = db.execute(
        "SELECT * FROM kiosk WHERE id = ? AND revoked_at IS NULL", (kiosk_id,)
    ).fetchone()
    return _kiosk_from_row(row) if row else None


def kiosks(db: sqlite3.Connection) -> list[Kiosk]:
    """Return every kiosk, newest first."""
    rows = db.execute("SELECT * FROM kiosk ORDER BY id DESC").fetchall()
    return [_kiosk_from_row(row) for row in rows]


def next_kiosk_name(db: sqlite3.Connection) -> str:
    """Suggest a name for the next kiosk: "Kiosk 1", "Kiosk 2", …"""
    count = db.execute("SELECT COUNT(*) FROM kiosk").fetchone()[0]
    return f"Kiosk {count + 1}"


# -- users ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A facilitator or organiser who logs in with a password."""

    id: int
    name: str
    role: str
    # Moves on at logout and password change; a session cookie from before is refused.
    session_version: int = 0
    # The interface language they last chose (None: not chosen yet).
    language: str | None = None


def create_user(db: sqlite3.Connection, name: str, role: str, password: str) -> User:
    """Add a user with a salted password hash. Raises ValueError for a bad role or name."""
    if role not in ROLES:
        raise ValueError(f"Role must be one of: {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise ValueError("A user needs a name")
    problem = passwords.password_problem(password)
    if problem:
        raise ValueError(problem)
    password_hash = passwords.hash_password(password)  # slow: before the write lock
    try:
        with transaction(db):
            user_id = insert_user(db, name, role, password_hash)
    except sqlite3.IntegrityError as error:
        raise ValueError(f"There is already a user called {name!r}") from error
    return User(user_id, name, role)


def insert_user(db: sqlite3.Connection, name: str, role: str, password_hash: str) -> int:
    """Add a user row with an already made password hash (call inside a transaction); its id."""
    cursor = db.execute(
        "INSERT INTO user (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
        (name, role, password_hash, utcnow()),
    )
    return int(cursor.lastrowid or 0)


def get_user(db: sqlite3.Connection, user_id: int) -> User | None:
    """Return the user with this id, if any."""
    row = db.execute(
        "SELECT id, name, role, session_version, language FROM user WHERE id = ?", (user_id,)
    ).fetchone()
    if row is None:
        return None
    return User(row["id"], row["name"], row["role"], row["session_version"], row["language"])


def set_user_language(db: sqlite3.Connection, user_id: int, language: str) -> None:
    """Remember the interface language a user chose, for their next login anywhere."""
    with transaction(db):
        db.execute("UPDATE user SET language = ? WHERE id = ?", (language, user_id))


def end_sessions(db: sqlite3.Connection, user_id: int) -> None:
    """Make every session this user has (every copy of every cookie) stop working."""
    with transaction(db):
        db.execute("UPDATE user SET session_version = session_version + 1 WHERE id = ?", (user_id,))


def change_password(db: sqlite3.Connection, name: str, password: str) -> User:
    """Set a user's password and end their sessions. Raises ValueError (unknown, too short)."""
    problem = passwords.password_problem(password)
    if problem:
        raise ValueError(problem)
    with transaction(db):
        row = db.execute("SELECT id FROM user WHERE name = ?", (name.strip(),)).fetchone()
        if row is None:
            raise ValueError(f"There is no user called {name.strip()!r}")
        db.execute(
            "UPDATE user SET password_hash = ?, session_version = session_version + 1 WHERE id = ?",
            (passwords.hash_password(password), row["id"]),
        )
    user = get_user(db, int(row["id"]))
    assert user is not None
    return user


def authenticate(db: sqlite3.Connection, name: str, password: str) -> User | None:
    """Return the user if the name and password match, else None."""
    row = db.execute("SELECT * FROM user WHERE name = ?", (name.strip(),)).fetchone()
    if row is None:
        passwords.check_against_nothing(password)
        return None
    if not passwords.check_password(row["password_hash"], password):
        return None
    return User(row["id"], row["name"], row["role"], row["session_version"], row["language"])


def user_count(db: sqlite3.Connection) -> int:
    """Return how many users exist."""
    return int(db.execute("SELECT COUNT(*) FROM user").fetchone()[0])
