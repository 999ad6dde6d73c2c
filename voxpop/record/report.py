"""The record of the day: a printable report (PDF) and the same data as CSV and JSON.

``build_record`` gathers what the report shows, in one language:

* the default report holds only what may be published: the archive's one rule,
  ``archive.service.publishable_reflections`` (ready, approved, online consent, not withdrawn,
  captions checked by a person for recordings), with a first name only where the delegate
  agreed to show it;
* ``internal=True`` is for the organising team: every reflection with archive consent that was
  not withdrawn (waiting, hidden and offline ones too, each marked), first names still only
  where agreed, and every page of the PDF says "internal — not for circulation".

The consent figures count every reflection kept in the archive of the day, which is more than
a report quotes; ``Coverage`` says how many of them the report holds and why each of the others
is not in it (``archive.service.NOT_PUBLISHED_REASON``), so the cover and the consent section
agree and say why. All of it is read in one snapshot of the database.

The PDF is HTML (``templates/record/report.html``) rendered by WeasyPrint with the DejaVu fonts
that ship in ``voxpop/media/fonts``; its URL fetcher refuses anything but ``file:`` and
``data:`` URLs, so rendering never touches the network. A QR code beside each quote opens that
reflection in the published archive when its address is known (``publish.archive_base_url``:
the public address set with the publishing settings, else the S3 bucket's own address);
the link follows the static export's page names (``perspective-<slug>[-<page>].html``,
``#reflection-<id>``, other languages under ``<lang>/``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import jinja2
import segno
from babel.support import NullTranslations, Translations
from markupsafe import Markup

from voxpop import formatting, models
from voxpop.archive import service as archive
from voxpop.db import rows_in, snapshot
from voxpop.media import charts
from voxpop.media.colours import safe_colour
from voxpop.publishing.export import page_name
from voxpop.record.rows import reflections_with_words, shared_fields
from voxpop.spreadsheet import csv_bytes

PACKAGE = Path(__file__).resolve().parent.parent  # voxpop/
TEMPLATES = PACKAGE.parent / "templates"
TRANSLATIONS = PACKAGE / "translations"
FONTS = PACKAGE / "media" / "fonts"
KIND_COLOURS = {"video": "#0b5fa5", "audio": "#f0b400", "text": "#137a4b"}  # as the dashboard
KIND_TEXT_COLOURS = {"video": "#ffffff", "audio": "#1c1c1c", "text": "#ffffff"}
FORMATS = ("pdf", "csv", "json")
CSV_COLUMNS = (
    "reflection_id",
    "prompt",
    "perspective",
    "kind",
    "language",
    "created_at",
    "words",
    "first_name",
    "duration_seconds",
    "archive_url",
    "review_state",
)


@dataclass(frozen=True)
class Entry:
    """One reflection in the record: only what the report may show."""

    id: int
    prompt_id: int
    perspective_id: int
    kind: str
    lang: str
    created_at: str
    words: str | None  # written text, or captions a person checked
    name: str | None  # only where the delegate agreed to show it
    duration: float | None
    review_state: str
    online: bool
    archive_url: str | None = None

    @cached_property
    def qr_image(self) -> str | None:
        """The archive link as a QR code: a PNG ``data:`` URL, one pixel a module (20 mm in print).

        A PNG, not an SVG, one fixed mask and low error correction (a printed page is clean):
        hundreds of SVG paths, or trying all eight masks for each code, make a
        1,000-reflection report minutes slower.
        """
        if not self.archive_url:
            return None
        code = segno.make(self.archive_url, error="l", mask=0)
        return str(code.png_data_uri(scale=1, border=2))  # CSS scales it, pixelated


@dataclass(frozen=True)
class ConsentSummary:
    """How consent was handled: what delegates agreed to, and what was taken back."""

    given: int  # reflections still in the archive (not withdrawn)
    reel: int
    room: int  # shown on the big screen in the room (the live wall)
    online: int
    name: int
    verbal: int  # consent asked aloud by a roving interviewer
    withdrawn: int
    versions: tuple[tuple[int, str], ...]  # (version, sha256) of the wordings used
    wording: dict[str, str]  # the current wording in the report's language


@dataclass(frozen=True)
class Coverage:
    """How many of the reflections kept in the archive of the day the report holds, and why
    each of the others is not in it."""

    kept: int  # kept in the archive of the day: not withdrawn (``ConsentSummary.given``)
    in_report: int
    # (reason, how many) in ``archive.NOT_PUBLISHED_REASONS`` order, only reasons that occur;
    # the internal report leaves out only reflections from retired perspectives.
    not_in_report: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Record:
    """Everything one report (or its CSV/JSON) shows, in one language."""

    event: models.Event
    lang: str
    internal: bool
    perspectives: list[models.Perspective]
    prompts: list[models.Prompt]
    entries: list[Entry]
    consent: ConsentSummary
    coverage: Coverage
    archive_base: str | None
    generated_on: dt.date
    _by_cell: dict[tuple[int, int], list[Entry]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._by_cell.setdefault((entry.prompt_id, entry.perspective_id), []).append(entry)

    def entries_for(self, prompt_id: int, perspective_id: int) -> list[Entry]:
        """The reflections answering a prompt from a perspective, in the day's order."""
        return self._by_cell.get((prompt_id, perspective_id), [])

    def counts(self) -> dict[int, dict[str, int]]:
        """Reflections by perspective id and kind."""
        found = {p.id: dict.fromkeys(models.KINDS, 0) for p in self.perspectives}
        for entry in self.entries:
            found[entry.perspective_id][entry.kind] += 1
        return found

    def heard_for(self, prompt_id: int) -> list[models.Perspective]:
        """Perspectives with something in the record for this prompt, in the event's order."""
        return [p for p in self.perspectives if self.entries_for(prompt_id, p.id)]

    def missing_for(self, prompt_id: int) -> list[models.Perspective]:
        """Perspectives with nothing in the record for this prompt."""
        return [p for p in self.perspectives if not self.entries_for(prompt_id, p.id)]

    @property
    def silent_perspectives(self) -> list[models.Perspective]:
        """Perspectives with nothing in the record at all."""
        counts = self.counts()
        return [p for p in self.perspectives if not sum(counts[p.id].values())]


# -- gathering ---------------------------------------------------------------------------------


def _archive_links(
    db: sqlite3.Connection, event: models.Event, lang: str, base: str | None
) -> dict[int, str]:
    """The published page (and anchor) of every publishable reflection, by id."""
    if base is None:
        return {}
    languages = event.languages or ["en"]
    folder = "" if lang == languages[0] or lang not in languages else f"{lang}/"
    slugs = {p.id: p.slug for p in models.perspectives(db, event.id)}
    place: dict[int, int] = {}
    links: dict[int, str] = {}
    # The export pages each perspective in this same order (archive.service._ORDER).
    for reflection in archive.publishable_reflections(db, event.id):
        index = place.get(reflection.perspective_id, 0)
        place[reflection.perspective_id] = index + 1
        page = index // archive.PAGE_SIZE + 1
        name = page_name(slugs[reflection.perspective_id], page)
        links[reflection.id] = f"{base}{folder}{name}#reflection-{reflection.id}"
    return links


_CHECKED_WORDS = (
    "SELECT reflection_id, text FROM transcript WHERE status = 'checked' AND reflection_id"
)


def _checked_words(db: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    return {
        row["reflection_id"]: row["text"] for row in rows_in(db, _CHECKED_WORDS, ids) if row["text"]
    }


def _published_entries(db: sqlite3.Connection, event_id: int, links: dict[int, str]) -> list[Entry]:
    reflections = archive.publishable_reflections(db, event_id)
    words = _checked_words(db, [r.id for r in reflections if r.kind != "text"])
    prompt_ids = dict(
        db.execute("SELECT id, prompt_id FROM reflection WHERE event_id = ?", (event_id,))
    )
    return [
        Entry(
            id=r.id,
            prompt_id=prompt_ids[r.id],
            perspective_id=r.perspective_id,
            kind=r.kind,
            lang=r.lang,
            created_at=r.created_at,
            words=r.text_body if r.kind == "text" else words.get(r.id),
            name=r.name,
            duration=r.duration,
            review_state="approved",
            online=True,
            archive_url=links.get(r.id),
        )
        for r in reflections
    ]


def _internal_entries(
    db: sqlite3.Connection, event_id: int, perspective_ids: set[int], links: dict[int, str]
) -> list[Entry]:
    rows = reflections_with_words(
        db,
        "r.duration_seconds, r.review_state, c.online,"
        " CASE WHEN c.show_name = 1 THEN r.display_name END AS name",
        "r.event_id = ? AND c.archive = 1 AND r.status != 'withdrawn' AND c.withdrawn_at IS NULL",
        (event_id,),
    )
    return [
        Entry(
            **shared_fields(row),
            name=row["name"],
            duration=row["duration_seconds"],
            review_state=row["review_state"],
            online=bool(row["online"]),
            archive_url=links.get(row["id"]),
        )
        for row in rows
        if row["perspective_id"] in perspective_ids
    ]


def consent_summary(db: sqlite3.Connection, event_id: int, lang: str) -> ConsentSummary:
    """What delegates agreed to across the event, and how many withdrew."""
    row = db.execute(
        "SELECT SUM(r.status != 'withdrawn' AND c.withdrawn_at IS NULL) AS given,"
        " SUM(r.status != 'withdrawn' AND c.withdrawn_at IS NULL AND c.reel = 1) AS reel,"
        " SUM(r.status != 'withdrawn' AND c.withdrawn_at IS NULL AND c.room = 1) AS room,"
        " SUM(r.status != 'withdrawn' AND c.withdrawn_at IS NULL AND c.online = 1) AS online,"
        " SUM(r.status != 'withdrawn' AND c.withdrawn_at IS NULL AND c.show_name = 1) AS name,"
        " SUM(r.status != 'withdrawn' AND c.withdrawn_at IS NULL AND c.method = 'verbal')"
        " AS verbal,"
        " SUM(r.status = 'withdrawn' OR c.withdrawn_at IS NOT NULL) AS withdrawn"
        " FROM reflection r JOIN consent c ON c.reflection_id = r.id WHERE r.event_id = ?",
        (event_id,),
    ).fetchone()
    versions = tuple(
        (version, sha256)
        for version, sha256 in db.execute(
            "SELECT DISTINCT ct.version, ct.sha256 FROM consent c"
            " JOIN consent_text ct ON ct.id = c.consent_text_id"
            " JOIN reflection r ON r.id = c.reflection_id WHERE r.event_id = ?"
            " ORDER BY ct.version",
            (event_id,),
        )
    )
    wording = models.current_consent_text(db, event_id).for_language(lang)
    return ConsentSummary(
        given=row["given"] or 0,
        reel=row["reel"] or 0,
        room=row["room"] or 0,
        online=row["online"] or 0,
        name=row["name"] or 0,
        verbal=row["verbal"] or 0,
        withdrawn=row["withdrawn"] or 0,
        versions=versions,
        wording=wording,
    )


_KEPT_WITH_REASONS = (
    f"SELECT r.id, {archive.NOT_PUBLISHED_REASON} AS reason"  # noqa: S608 - constant SQL
    " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
    " JOIN perspective p ON p.id = r.perspective_id"
    # Kept in the archive of the day: as ``consent_summary`` counts ``given``.
    " WHERE r.event_id = ? AND r.status != 'withdrawn' AND c.withdrawn_at IS NULL"
)


def coverage(db: sqlite3.Connection, event_id: int, entries: list[Entry]) -> Coverage:
    """How the reflections kept in the archive relate to a report holding ``entries``."""
    in_report = {entry.id for entry in entries}
    kept = db.execute(_KEPT_WITH_REASONS, (event_id,)).fetchall()
    reasons = Counter(row["reason"] for row in kept if row["id"] not in in_report)
    return Coverage(
        kept=len(kept),
        in_report=len(in_report),
        not_in_report=tuple(
            (reason, reasons[reason]) for reason in archive.NOT_PUBLISHED_REASONS if reasons[reason]
        ),
    )


def build_record(
    db: sqlite3.Connection,
    event: models.Event,
    lang: str,
    *,
    internal: bool = False,
    environ: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> Record:
    """Gather the record of the day in ``lang`` (published reflections only unless internal)."""
    from voxpop.publishing import publish  # boto3 stays out of the comparison page
    from voxpop.record.rows import event_prompts

    with snapshot(db):  # the cover's count, the consent figures and the reasons agree
        perspectives = models.perspectives(db, event.id)
        base = publish.archive_base_url(publish.resolve_settings(db, event.id, environ))
        links = _archive_links(db, event, lang, base)
        if internal:
            entries = _internal_entries(db, event.id, {p.id for p in perspectives}, links)
        else:
            entries = _published_entries(db, event.id, links)
        return Record(
            event=event,
            lang=lang,
            internal=internal,
            perspectives=perspectives,
            prompts=event_prompts(db, event.id),
            entries=entries,
            consent=consent_summary(db, event.id, lang),
            coverage=coverage(db, event.id, entries),
            archive_base=base,
            generated_on=today or dt.date.today(),
        )


# -- CSV and JSON ------------------------------------------------------------------------------


def record_rows(record: Record) -> list[dict[str, Any]]:
    """One plain row per reflection (``CSV_COLUMNS``), labels in the record's language."""
    perspectives = {p.id: p for p in record.perspectives}
    prompts = {p.id: p for p in record.prompts}
    return [
        {
            "reflection_id": entry.id,
            "prompt": prompts[entry.prompt_id].text(record.lang)
            if entry.prompt_id in prompts
            else "",
            "perspective": perspectives[entry.perspective_id].label(record.lang),
            "kind": entry.kind,
            "language": entry.lang,
            "created_at": entry.created_at,
            "words": entry.words or "",
            "first_name": entry.name or "",
            "duration_seconds": entry.duration if entry.duration is not None else "",
            "archive_url": entry.archive_url or "",
            "review_state": entry.review_state,
        }
        for entry in record.entries
    ]


def record_csv(record: Record) -> bytes:
    """The record as CSV (UTF-8 with a byte-order mark, so spreadsheets read Welsh letters)."""
    rows = [[row[column] for column in CSV_COLUMNS] for row in record_rows(record)]
    return csv_bytes(CSV_COLUMNS, rows, byte_order_mark=True)


def record_json(record: Record) -> bytes:
    """The record as JSON: the event, counts, missing voices, consent and every reflection."""
    counts = record.counts()
    document = {
        "event": {
            "name": record.event.name,
            "date": record.event.date,
            "venue": record.event.venue,
            "languages": record.event.languages,
        },
        "language": record.lang,
        "internal": record.internal,
        "perspectives": [
            {
                "slug": p.slug,
                "label": p.label(record.lang),
                "counts": counts[p.id],
                "total": sum(counts[p.id].values()),
            }
            for p in record.perspectives
        ],
        "prompts": [{"id": p.id, "text": p.text(record.lang)} for p in record.prompts],
        "missing_voices": [
            {"prompt_id": prompt.id, "perspective": p.slug}
            for prompt in record.prompts
            for p in record.missing_for(prompt.id)
        ],
        "consent": {
            "given": record.consent.given,
            "reel": record.consent.reel,
            "room": record.consent.room,
            "online": record.consent.online,
            "name": record.consent.name,
            "verbal": record.consent.verbal,
            "withdrawn": record.consent.withdrawn,
            "versions": [{"version": v, "sha256": s} for v, s in record.consent.versions],
        },
        "coverage": {
            "kept_in_archive": record.coverage.kept,
            "in_report": record.coverage.in_report,
            "not_in_report": dict(record.coverage.not_in_report),
        },
        "reflections": record_rows(record),
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


# -- the PDF -----------------------------------------------------------------------------------


def translations(lang: str) -> NullTranslations:
    """The interface's catalogue for ``lang`` (English when there is none)."""
    return Translations.load(str(TRANSLATIONS), [lang])


def _css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string, safe inside a ``<style>`` element."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    return Markup(f'"{escaped}"')  # noqa: S704 - escaped for CSS just above


def _kinds_chart(record: Record, tr: NullTranslations) -> Markup:
    kinds = models.kind_names(tr.gettext)
    counts = record.counts()
    rows = [
        charts.StackedRow(
            label=p.label(record.lang),
            segments=[
                charts.Segment(kinds[k], counts[p.id][k], KIND_COLOURS[k], KIND_TEXT_COLOURS[k])
                for k in models.KINDS
            ],
        )
        for p in record.perspectives
    ]
    desc = "; ".join(
        f"{row.label}: " + ", ".join(f"{s.label} {s.value}" for s in row.segments) for row in rows
    )
    svg = charts.stacked_bars(
        rows,
        legend=[charts.Segment(kinds[k], 0, KIND_COLOURS[k]) for k in models.KINDS],
        chart_id="record-kinds",
        title=tr.gettext("Video, audio and text by perspective"),
        desc=desc,
    )
    return Markup(svg)  # noqa: S704 - built by voxpop.media.charts, labels escaped there


def _environment(lang: str) -> tuple[jinja2.Environment, NullTranslations]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    catalogue = translations(lang)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    return env, catalogue


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = max(0, math.floor(seconds + 0.5))
    return f"{whole // 60}:{whole % 60:02d}"


def render_html(record: Record) -> str:
    """The report as one HTML document (print CSS inside; fonts as file URLs)."""
    env, tr = _environment(record.lang)
    marker = tr.gettext("internal — not for circulation") if record.internal else ""
    perspective_colours = {p.id: safe_colour(p.colour) for p in record.perspectives}
    return env.get_template("record/report.html").render(
        record=record,
        event=record.event,
        lang=record.lang,
        date=formatting.format_day(record.event.date, record.lang),
        generated=formatting.format_day(record.generated_on, record.lang),
        chart=_kinds_chart(record, tr),
        counts=record.counts(),
        kinds=models.KINDS,
        kind_names=models.kind_names(tr.gettext),
        marker=marker,
        marker_css=_css_string(marker),
        page_css=_css_string(tr.gettext("Page")),
        colours=perspective_colours,
        clock=_clock,
        font_regular=(FONTS / "DejaVuSans.ttf").as_uri(),
        font_bold=(FONTS / "DejaVuSans-Bold.ttf").as_uri(),
    )


def _local_fetcher() -> Any:
    """A WeasyPrint URL fetcher for ``file:`` and ``data:`` URLs only: no network, ever."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("file", "data"), allow_redirects=False)


# How far along a PDF is: (stage, fraction 0–1, pages laid out so far).
Progress = Callable[[str, float, int], None]

# The share of the work before layout (parsing the HTML, the CSS, building boxes), layout
# (most of it: about 24 ms of CPU per quote), and writing the file, measured with
# bench/record.py on 1,000 reflections.
_BEFORE_LAYOUT, _LAYOUT = 0.15, 0.75
QUOTES_PER_PAGE = 5.0  # about, for guessing how many pages a report will have


def expected_pages(record: Record) -> int:
    """About how many pages the PDF will have: cover, chart, consent, and the quotes."""
    return 4 + len(record.prompts) + math.ceil(len(record.entries) / QUOTES_PER_PAGE)


_LAID_OUT_PAGE = re.compile(r"Creating layout - Page (\d+)")


class _LayoutProgress(logging.Handler):
    """Follows WeasyPrint's progress log ("Step 5 - Creating layout - Page 12") for one thread
    and turns it into ``(stage, fraction, pages)`` for ``on_progress``."""

    def __init__(self, on_progress: Progress, pages: int) -> None:
        super().__init__(logging.INFO)
        self.on_progress = on_progress
        self.pages = max(pages, 1)
        self.thread = threading.get_ident()
        self.done = 0.0
        self.laid_out = 0

    def emit(self, log_record: logging.LogRecord) -> None:
        if log_record.thread != self.thread:
            return  # another PDF, made at the same time in another thread
        message = log_record.getMessage()
        if message.startswith("Step 5"):
            stage = "layout"
            page = _LAID_OUT_PAGE.search(message)
            if page:
                self.laid_out = max(self.laid_out, int(page.group(1)))
            share = min(self.laid_out / self.pages, 0.98)
            fraction = _BEFORE_LAYOUT + _LAYOUT * share
        elif message.startswith(("Step 6", "Step 7")):
            stage, fraction = "writing", _BEFORE_LAYOUT + _LAYOUT
        else:
            stage, fraction = "reading", _BEFORE_LAYOUT / 2
        self.done = max(self.done, fraction)  # never backwards (a repagination starts again)
        self.on_progress(stage, self.done, self.laid_out)


def _weasyprint() -> tuple[Any, logging.Logger]:
    """WeasyPrint's HTML class and progress logger, imported only when a PDF is asked for
    (slow to import), leaving Pillow as it was.

    Importing WeasyPrint tells Pillow, for the whole process, to accept cut-off images; the
    server opens delegates' images (``media.images``), which must refuse them: put it back.
    """
    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML
    from weasyprint.logger import PROGRESS_LOGGER

    ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    return HTML, PROGRESS_LOGGER


def write_pdf(
    record: Record, target: str | Path | IO[bytes], on_progress: Progress | None = None
) -> int:
    """Render the report to PDF at ``target`` (a path or a binary file); return its pages.

    ``on_progress(stage, fraction, pages)`` hears how far along it is: ``reading`` (the HTML
    and CSS), ``layout`` (page by page) and ``writing``, then ``done`` at 1.0.
    """
    HTML, PROGRESS_LOGGER = _weasyprint()

    document = HTML(
        string=render_html(record), base_url=TEMPLATES.as_uri() + "/", url_fetcher=_local_fetcher()
    )
    handler = None
    if on_progress is not None:
        handler = _LayoutProgress(on_progress, expected_pages(record))
        # Its progress messages are for us, not for the server's log.
        PROGRESS_LOGGER.setLevel(logging.INFO)
        PROGRESS_LOGGER.propagate = False
        PROGRESS_LOGGER.addHandler(handler)
    try:
        rendered = document.render()
        rendered.write_pdf(target)
    finally:
        if handler is not None:
            PROGRESS_LOGGER.removeHandler(handler)
    if on_progress is not None:
        on_progress("done", 1.0, len(rendered.pages))
    return len(rendered.pages)


def pdf_bytes(record: Record) -> bytes:
    """The report as PDF bytes."""
    buffer = io.BytesIO()
    write_pdf(record, buffer)
    return buffer.getvalue()


def render(record: Record, fmt: str) -> bytes:
    """The record as ``pdf``, ``csv`` or ``json`` bytes."""
    if fmt == "pdf":
        return pdf_bytes(record)
    if fmt == "csv":
        return record_csv(record)
    if fmt == "json":
        return record_json(record)
    raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
