"""No English left on Welsh pages: every GET page of every blueprint, for every audience, drawn
in Welsh, and its visible text checked against the catalogue (not against a hand list).

A text is English that should have been Welsh when, outside anything marked with another
``lang`` and once the organisers' and delegates' own words are taken out:

- it is (or holds) an English message of the catalogue whose Welsh differs; messages with
  placeholders match with the placeholders as wildcards; or
- it holds a word that appears only in English messages, never in a Welsh one (a string
  built outside gettext, or composed at run time from English pieces).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from tests import mediafiles
from tests.conftest import (
    Auth,
    KioskDevice,
    add_reflection,
    csrf_from,
    ffmpeg,
    give_consent,
    process,
    rows,
    run_queued,
)
from voxpop import models
from voxpop.db import get_db, transaction
from voxpop.record import reports

PO = Path(__file__).resolve().parent.parent / "voxpop/translations/cy/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|\{\w+\}|%%")
IDENTIFIER = re.compile(r"\w[-._|/]\w|^--")
WORD = re.compile(r"[A-Za-zÀ-ÿŵŷŴŶ’']+")
# Attributes a person reads or hears (screen readers read aria-label, title and alt).
READ_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder", "data-confirm")
# Not text: scripts, styles and the kiosk's JSON (checked on its own below).
SKIP_ELEMENTS = {"script", "style", "template"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
# Pages left out, and why (each one is a known gap with its own piece of work).
NOT_YET: dict[str, str] = {}
# Names and codes that are the same in both languages.
SAME_IN_BOTH = {"voxpop", "vox", "pop", "whose", "shoes", "s3", "mp4", "vtt", "svg", "csv", "qr",
                "png", "jpeg", "webp", "json", "https", "http", "sha256", "ffmpeg", "wcag",
                "english", "ok", "id", "ca"}  # fmt: skip


# -- the catalogue ---------------------------------------------------------------------------


class Catalogue:
    """The English messages whose Welsh differs, as patterns, and the English-only words."""

    def __init__(self, catalog: Catalog) -> None:
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        english: set[str] = set()
        welsh: set[str] = set()
        for message in catalog:
            if not message.id:
                continue
            ids = [message.id] if isinstance(message.id, str) else list(message.id)
            strings = [message.string] if isinstance(message.string, str) else message.string
            for text in strings:
                welsh |= words(PLACEHOLDER.sub(" ", text))
            for msgid in ids:
                english |= words(PLACEHOLDER.sub(" ", msgid))
                if msgid in strings or len(words(PLACEHOLDER.sub(" ", msgid))) < 1:
                    continue
                self.patterns.append((msgid, pattern_for(msgid)))
        self.english_only = english - welsh - SAME_IN_BOTH

    def leftovers(self, text: str) -> list[str]:
        """Why ``text`` (visible, not user content) looks like English: the messages or words."""
        found = [msgid for msgid, pattern in self.patterns if pattern.search(text)]
        found += sorted(w for w in words(text) if w in self.english_only)
        return found


def words(text: str) -> set[str]:
    """The words of a text, leaving out identifiers and commands (whose-shoes, reel.create,
    organiser|facilitator, --role) and placeholders a script fills in."""
    plain = " ".join(
        token for token in PLACEHOLDER.sub(" ", text).split() if not IDENTIFIER.search(token)
    )
    return {w.lower().strip("’'") for w in WORD.findall(plain) if len(w.strip("’'")) >= 2}


def pattern_for(msgid: str) -> re.Pattern[str]:
    """A message as a pattern: placeholders match anything; whole words at the edges."""
    parts = PLACEHOLDER.split(normalise(msgid))
    body = ".+?".join(re.escape(part) for part in parts)
    edge = r"\w’'|/.-"  # a word, or part of an identifier (whose-shoes-archive, a|b)
    return re.compile(rf"(?<![{edge}]){body}(?![{edge}])")


def normalise(text: str) -> str:
    return " ".join(text.split())


# -- the pages -------------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """Text a person sees or hears, minus anything inside another language's ``lang``."""

    def __init__(self, page_lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None, bool]] = []  # tag, lang, skipped
        self.page_lang = page_lang
        self.texts: list[str] = []
        self.json_blocks: list[str] = []
        self._json = False

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1][2]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = values.get("lang")
        skipped = (
            self._skipped()
            or tag in SKIP_ELEMENTS
            or (lang is not None and tag != "html" and not lang.startswith(self.page_lang))
            or values.get("translate") == "no"
        )
        self._json = tag == "script" and values.get("type") == "application/json"
        if not skipped:
            for name in READ_ATTRIBUTES:
                if values.get(name):
                    self.texts.append(str(values[name]))
            if (
                tag == "input"
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.texts.append(str(values["value"]))
        if tag not in VOID:
            self.stack.append((tag, lang, skipped))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break
        self._json = False

    def handle_data(self, data: str) -> None:
        if self._json:
            self.json_blocks.append(data)
        elif not self._skipped() and data.strip():
            self.texts.append(data)


def json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def user_content(app: Flask) -> list[str]:
    """Everything organisers, facilitators and delegates wrote (the words they chose)."""
    found: list[str] = []
    with app.app_context():
        db = get_db()
        for table, columns in {
            "event": ("name", "names", "venue", "thanks"),
            "perspective": ("labels", "slug"),
            "prompt": ("texts",),
            "consent_text": ("texts",),
            "reflection": ("text_body", "display_name", "receipt_code"),
            "user": ("name",),
            "kiosk": ("name",),
            "reel": ("title",),
            "tag": ("name",),
        }.items():
            for row in db.execute(f"SELECT {', '.join(columns)} FROM {table}"):  # noqa: S608
                for value in row:
                    if not value:
                        continue
                    try:
                        found.extend(json_strings(json.loads(value)))
                    except (ValueError, TypeError):
                        found.append(str(value))
    return sorted({normalise(text) for text in found if text}, key=len, reverse=True)


def without(text: str, content: list[str]) -> str:
    text = normalise(text)
    for piece in content:
        text = text.replace(piece, "0")  # a word character: organiser|x stays an identifier
    return text


# -- the site, filled in ---------------------------------------------------------------------


# A delegate's words in English (the reflection's language is en): on a Welsh page they must
# sit inside an element marked lang="en", so a screen reader reads them with an English voice.
ENGLISH_WORDS = "Listening to people changed my mind."


@contextmanager
def without_ffmpeg() -> Iterator[None]:
    """Jobs run as on a laptop where ffmpeg is missing: the tools are not on the PATH."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(Path(sys.executable).parent))
        yield


def add_failures(app: Flask, tmp_path: Path) -> list[int]:
    """Reflections whose processing failed, one for each kind of stored reason: refused with a
    value (a codec; a picture size), not a recording ("… The file was deleted."), and a tool
    failure retried until the job gave up ("… (gave up after 3 attempts)")."""
    mjpeg = tmp_path / "mjpeg.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=red:size=128x128:rate=10", "-t", "0.5",
           "-c:v", "mjpeg", str(mjpeg))  # fmt: skip
    junk = mediafiles.random_bytes(tmp_path / "junk.webm")
    sources = [mjpeg, mediafiles.one_pixel_mp4(tmp_path / "tiny.mp4"), junk, junk]
    failed = []
    for number, source in enumerate(sources):
        reflection_id = add_reflection(app, "video", source)
        give_consent(app, reflection_id)
        if number == len(sources) - 1:
            with without_ffmpeg():
                process(app, reflection_id)
        else:
            process(app, reflection_id)
        failed.append(reflection_id)
    return failed


@pytest.fixture
def site(app: Flask, tmp_path: Path) -> dict[str, Any]:
    """An event with something on every page: reflections (one public), a reel, users, and
    reflections that failed for each kind of stored reason."""
    text_id = add_reflection(app, "text", text=ENGLISH_WORDS, name="Siân")
    give_consent(app, text_id, reel=1, online=1, show_name=1)
    process(app, text_id)  # real ffmpeg: the quote card and its clip
    source = tmp_path / "clip.webm"
    source.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 64)
    video_id = add_reflection(app, "video", source, perspective="manager")
    give_consent(app, video_id, reel=1)
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(
                "UPDATE reflection SET review_state = 'approved', starred = 1 WHERE id = ?",
                (text_id,),
            )
            db.execute(
                "UPDATE reflection SET status = 'ready', duration_seconds = 12 WHERE id = ?",
                (video_id,),
            )
        # A record of the day made in Welsh, for the export page's list and its download.
        event = models.current_event(db)
        assert event is not None
        report_id = reports.request_report(db, app.extensions["voxpop"].queue, event, "cy",
                                           internal=False, actor=None)  # fmt: skip
    run_queued(app)
    failed = add_failures(app, tmp_path)
    stored = [row["failure_reason"] for row in rows(app, "SELECT failure_reason FROM reflection")]
    assert sum(1 for reason in stored if reason) == len(failed), stored
    return {"reflection_id": text_id, "video_id": video_id, "report_id": report_id,
            "failed": failed}  # fmt: skip


def audiences(app: Flask) -> dict[str, FlaskClient]:
    clients: dict[str, FlaskClient] = {"public": app.test_client()}
    for role in ("facilitator", "organiser"):
        auth = Auth(app, app.test_client())
        auth.login(role)
        clients[role] = auth.client
    clients["kiosk"] = KioskDevice(app).client
    return clients


def urls(app: Flask, values: dict[str, Any]) -> list[str]:
    """One URL for every GET rule of the app, its arguments filled from ``values``."""
    found: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        arguments = {name: values[name] for name in rule.arguments if name in values}
        if set(arguments) != set(rule.arguments):
            raise AssertionError(f"no sample value for {rule.rule}: add one to the table")
        with app.test_request_context():
            from flask import url_for

            found.append(url_for(rule.endpoint, **arguments))
    return sorted(set(found))


def test_no_english_on_any_welsh_page(app: Flask, site: dict[str, Any]) -> None:
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        code = db.execute("SELECT receipt_code FROM reflection LIMIT 1").fetchone()[0]
    clients = audiences(app)
    organiser = clients["organiser"]
    page = organiser.get("/studio/reels").text
    made = organiser.post(
        "/studio/reels",
        data={"title": "Closing plenary", "propose": "1", "csrf_token": csrf_from(page)},
    )
    assert made.status_code == 302
    reel_id = int(made.location.rstrip("/").rsplit("/", 1)[1])
    reel_page = organiser.get(f"/studio/reels/{reel_id}").text
    rendering = organiser.post(
        f"/studio/reels/{reel_id}/render", data={"csrf_token": csrf_from(reel_page)}
    )
    assert rendering.status_code == 302
    with without_ffmpeg():  # its render fails: the reel's page shows why
        run_queued(app)
    (reel,) = rows(app, "SELECT status, failure_reason FROM reel WHERE id = ?", reel_id)
    assert reel["status"] == "failed" and reel["failure_reason"], reel
    with app.app_context():
        pairing = models.create_kiosk(get_db(), "Foyer iPad").pairing_token
    values = {
        "reflection_id": site["reflection_id"],
        "reel_id": reel_id,
        "kind": "mp4",
        "slug": "volunteer",
        "code": code,
        "token": pairing,
        "upload_id": "0" * 32,
        "chart": "perspectives",
        "report_id": site["report_id"],
    }
    catalogue = Catalogue(read_po(PO.open("rb")))
    content = user_content(app)
    checked = 0
    problems: dict[str, set[str]] = {}
    for audience, client in clients.items():
        client.get("/?lang=cy")  # the choice is remembered for the session
        failed = [f"/review/{number}" for number in site["failed"]]
        for url in [*urls(app, values), f"/review/{site['video_id']}", *failed, "/no-such-page"]:
            if url in NOT_YET:
                continue
            response = client.get(url)
            kind = response.mimetype
            if 300 <= response.status_code < 400:
                continue  # the page it leads to is checked in its own right
            if kind not in ("text/html", "image/svg+xml", "application/json"):
                continue
            texts: list[str] = []
            if kind == "application/json":
                for text in json_strings(response.get_json()):
                    if text.lstrip().startswith("<"):  # a fragment for the page: its text
                        fragment = VisibleText("cy")
                        fragment.feed(text)
                        texts += fragment.texts
                    elif " " in text:
                        texts.append(text)
            else:
                parser = VisibleText("cy")
                parser.feed(response.get_data(as_text=True))
                texts = parser.texts
                for block in parser.json_blocks:
                    config = json.loads(block)
                    texts += [t for t in json_strings(config) if " " in t.strip()]
                body = response.get_data(as_text=True)
                if kind == "text/html" and "<html" in body:  # a whole page, not a fragment
                    assert '<html lang="cy"' in body, url
            checked += 1
            for text in texts:
                if ENGLISH_WORDS in normalise(text):
                    found = ["English user content not marked lang=en"]
                else:
                    found = catalogue.leftovers(without(text, content))
                if found:
                    problems.setdefault(f"{normalise(text)[:120]!r}", set()).add(
                        f"{audience} {url}: {', '.join(found[:3])}"
                    )
    assert checked > 40  # every audience saw pages
    report = "\n".join(
        f"{text}\n    {sorted(where)[0]}" for text, where in sorted(problems.items())
    )
    assert not problems, f"{len(problems)} English texts on Welsh pages:\n{report}"


# -- the checker itself: it finds what it should, and only that ------------------------------


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(read_po(PO.open("rb")))


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ("<p>Log out</p>", "Log out"),  # a whole message left in English
        ("<p>Allgofnodi</p>", None),  # its Welsh
        ("<button>Approve selected</button>", "Approve selected"),
        ('<img alt="The current logo">', "The current logo"),  # attributes are read too
        ('<p aria-label="Back to the queue">x</p>', "Back to the queue"),
        ("<p>12 reflections received</p>", "%(num)s reflections received"),  # placeholders
        ("<p>Mae 3 wedi’u hidden</p>", "hidden"),  # an English-only word in Welsh
        ('<p lang="en">Log out</p>', None),  # marked as English: another language, on purpose
        ('<p><span lang="en">Settings</span> → ar agor</p>', None),
        ('<p translate="no">Log out</p>', None),
        ("<script>var x = 'Log out';</script>", None),  # not text
        ("<p>voxpop user add NAME --role organiser|facilitator</p>", None),  # a command
    ],
)
def test_the_checker_finds_english_left_in_welsh(
    catalogue: Catalogue, html: str, found: str | None
) -> None:
    parser = VisibleText("cy")
    parser.feed(html)
    hits = [hit for text in parser.texts for hit in catalogue.leftovers(normalise(text))]
    assert (found in hits) if found else hits == []
