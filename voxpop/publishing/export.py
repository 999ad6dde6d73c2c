"""The static export of the public archive: a self-contained site, and the separate consent log.

``export_site`` writes exactly what ``/archive`` shows (the same query, ``archive.service``,
and the same templates) as plain files that work from ``file://`` and any static host:
relative links only, nothing fetched from elsewhere, no scripts. Layout::

    index.html, perspective-<slug>.html, perspective-<slug>-<page>.html   first language
    <lang>/index.html, <lang>/perspective-<slug>.html, …                   other languages
    archive.css
    media/reflections/<id>/video.mp4 | poster.jpg | card.png | captions.vtt
    media/reels/<id>/reel.mp4 | reel-captioned.mp4 | captions.vtt
    manifest.json                                                          every item and file

The output is deterministic: the same database and files give byte-identical files (no export
time anywhere, stable order), and files that are already right are not rewritten, so a
publish after no change sends nothing. Files no longer part of the export (a withdrawn
reflection's) are removed. The consent log is never part of the site: ``write_consent_log``
writes it wherever the caller says, which must be outside the site.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import jinja2
from babel.support import Translations
from flask import has_request_context
from flask_babel import gettext

from voxpop import copies, formatting, models
from voxpop.archive import service
from voxpop.archive.service import PublicFile, PublicReel, PublicReflection
from voxpop.errors import VoxpopError
from voxpop.media import vtt
from voxpop.security import EXPORT_CONTENT_SECURITY_POLICY, EXPORT_REFERRER_POLICY
from voxpop.spreadsheet import csv_bytes, safe_cell
from voxpop.storage import MediaStore, file_sha256

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent.parent  # voxpop/
ROOT = PACKAGE.parent
TEMPLATES = ROOT / "templates"
STYLESHEET = ROOT / "static" / "css" / "archive.css"
TRANSLATIONS = PACKAGE / "translations"
MANIFEST = "manifest.json"
SEARCH_PAGE = "search.html"
SEARCH_INDEX = "search-index.js"
SEARCH_SCRIPT = "archive-search.js"
SEARCH_SCRIPT_SOURCE = ROOT / "static" / "js" / "archive-search.js"
GENERATOR = "voxpop"
FORMAT = 1
LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}
# Names of a reflection's and a reel's files inside the export.
REFLECTION_FILES = {"mp4": "video", "poster": "poster", "card": "card"}
REEL_FILES = {"mp4": "reel", "captioned_mp4": "reel-captioned", "vtt": "captions"}
# No receipt codes: a code withdraws a reflection, so it stays with the delegate (issue 13).
CONSENT_LOG_COLUMNS = (
    "reflection_id",
    "consent_version",
    "consent_sha256",
    "purposes",
    "given_at",
    "withdrawn_at",
    "kiosk",
)
_COPY_BLOCK = 1024 * 1024
_PARTIAL = ".partial-"
# Already compressed: stored as they are in a zip.
_STORED_SUFFIXES = {".mp4", ".jpg", ".jpeg", ".png", ".webp"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# A reel's captions are inlined into the page up to this size (a long reel links the file).
_INLINE_CAPTIONS_MAX = 256 * 1024


def _(message: str, **values: Any) -> str:
    """Translated in a request (the studio download); plain English from the CLI or a job."""
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message


class ExportError(VoxpopError):
    """The export cannot be written as asked (nothing outside the destination was touched)."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: every file in the site, their total size, and what they show."""

    files: int
    bytes: int
    items: int
    reels: int = 0
    written: int = 0  # files (re)written this time; 0 when nothing changed
    removed: int = 0  # files deleted because they are no longer part of the export


@dataclass(frozen=True)
class _File:
    """One file of the site: generated ``data``, or a copy of ``source`` with a known hash."""

    path: str
    data: bytes | None = None
    source: Path | None = None
    sha256: str = ""
    size: int = 0

    @classmethod
    def generated(cls, path: str, data: bytes) -> _File:
        return cls(path, data=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@dataclass
class _Site:
    files: list[_File] = field(default_factory=list)
    items: int = 0
    reels: int = 0

    def add(self, file: _File) -> None:
        self.files.append(file)

    def add_stored(
        self, store: MediaStore, assets: dict[str, PublicFile], path_for: Callable[[str], str]
    ) -> list[dict[str, Any]]:
        """Copy stored files (by kind) into the site at ``path_for(kind)``; their records."""
        records = []
        for kind, asset in sorted(assets.items()):
            file = _File(path_for(kind), source=store.path(asset.path),
                         sha256=asset.sha256, size=asset.bytes)  # fmt: skip
            self.add(file)
            records.append(_file_record(file, kind))
        return records


# -- where things go ---------------------------------------------------------------------------


def reflection_file_path(reflection: PublicReflection, kind: str) -> str:
    """Where a public reflection's file of ``kind`` sits in the export."""
    if kind == "captions":
        return f"media/reflections/{reflection.id}/captions.vtt"
    suffix = Path(reflection.files[kind].path).suffix.lower()
    return f"media/reflections/{reflection.id}/{REFLECTION_FILES[kind]}{suffix}"


def reel_file_path(reel: PublicReel, kind: str) -> str:
    """Where an archived reel's file of ``kind`` sits in the export."""
    suffix = Path(reel.files[kind].path).suffix.lower() or (".vtt" if kind == "vtt" else "")
    return f"media/reels/{reel.id}/{REEL_FILES[kind]}{suffix}"


def page_name(slug: str | None = None, page: int = 1) -> str:
    """The file name of the landing page (``slug`` None) or of a perspective page."""
    if slug is None:
        return "index.html"
    return f"perspective-{slug}.html" if page == 1 else f"perspective-{slug}-{page}.html"


class ExportLinks:
    """Relative links for one exported page, so the site works from any folder or host."""

    # A static site has no HTTP headers of its own: the pages carry these as meta tags.
    export = True
    referrer_policy = EXPORT_REFERRER_POLICY

    def __init__(
        self, lang: str, root_lang: str, here: str, reel_captions: dict[int, bytes] | None = None
    ) -> None:
        self.lang, self.root_lang, self.here = lang, root_lang, here
        self.up = "" if lang == root_lang else "../"
        self.reel_captions = reel_captions or {}

    def _folder(self, lang: str) -> str:
        return "" if lang == self.root_lang else f"{lang}/"

    @property
    def content_security_policy(self) -> str:
        # Only the search page runs a script: its own two files, from the site itself.
        if self.here == SEARCH_PAGE:
            return EXPORT_CONTENT_SECURITY_POLICY.replace("script-src 'none'", "script-src 'self'")
        return EXPORT_CONTENT_SECURITY_POLICY

    def landing(self) -> str:
        return page_name()

    def search(self) -> str:
        return SEARCH_PAGE

    def search_index(self) -> str:
        return self.up + SEARCH_INDEX

    def search_script(self) -> str:
        return self.up + SEARCH_SCRIPT

    def perspective(self, slug: str, page: int = 1) -> str:
        return page_name(slug, page)

    def reflection_file(self, reflection: PublicReflection, kind: str) -> str:
        return self.up + reflection_file_path(reflection, kind)

    def captions(self, reflection: PublicReflection) -> str:
        # Inline: Chromium refuses a <track> file from file:// (each file is its own origin),
        # and a USB copy of the site should have captions too. The .vtt file is exported as well.
        return _data_url((reflection.captions or "").encode("utf-8"))

    def reel_file(self, reel: PublicReel, kind: str) -> str:
        if kind == "vtt" and reel.id in self.reel_captions:
            return _data_url(self.reel_captions[reel.id])
        return self.up + reel_file_path(reel, kind)

    def stylesheet(self) -> str:
        return self.up + "archive.css"

    def colours(self) -> str:
        return self.up + "colours.css"

    def alternate(self, lang: str) -> str:
        return self.up + self._folder(lang) + self.here


def search_index_script(reflections: list[PublicReflection]) -> bytes:
    """The static copy's search index: what each public reflection says (its written words,
    or its captions with their times), where it is on the site, as a script that sets
    ``window.VOXPOP_SEARCH`` (a page opened from file:// may not fetch JSON)."""
    position: dict[int, int] = {}
    items = []
    for reflection in reflections:
        place = position.get(reflection.perspective_id, 0)
        position[reflection.perspective_id] = place + 1
        cues = []
        if reflection.kind != "text" and reflection.captions:
            try:
                cues = [[round(c.start, 2), c.text.replace("\n", " ")]
                        for c in vtt.parse_vtt(reflection.captions)]  # fmt: skip
            except vtt.VttError:
                cues = []
        items.append({
            "id": reflection.id,
            "kind": reflection.kind,
            "lang": reflection.lang,
            "perspective": reflection.perspective_slug,
            "labels": reflection.perspective_labels,
            "page": page_name(reflection.perspective_slug, place // service.PAGE_SIZE + 1),
            "mp4": reflection_file_path(reflection, "mp4") if reflection.kind != "text" else None,
            "text": reflection.text_body if reflection.kind == "text" else None,
            "cues": cues,
        })  # fmt: skip
    data = json.dumps({"items": items}, ensure_ascii=False, sort_keys=True)
    # "</" cannot end a script element early, and U+2028/9 are line ends in older JavaScript.
    data = data.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.VOXPOP_SEARCH = {data};\n".encode()


def _data_url(vtt: bytes) -> str:
    return "data:text/vtt;charset=utf-8;base64," + base64.b64encode(vtt).decode("ascii")


# -- rendering ---------------------------------------------------------------------------------


def _environment(lang: str) -> jinja2.Environment:
    """The archive templates with the interface in ``lang``, outside any Flask request."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    translations = Translations.load(str(TRANSLATIONS), [lang])
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    # The same filters as the live archive, for this page's language (no request to ask).
    env.filters.update(
        {name: functools.partial(_in_language, format_value, lang=lang)
         for name, format_value in formatting.FILTERS.items()}
    )  # fmt: skip
    return env


def _in_language(format_value: Callable[..., str], value: Any, *, lang: str) -> str:
    return format_value(value, lang)


def _event(db: sqlite3.Connection, event_id: int | None) -> models.Event:
    if event_id is not None:
        try:
            return models.get_event(db, event_id)
        except models.NotFound:
            pass
    else:
        event = models.current_event(db)
        if event is not None:
            return event
    raise ExportError(_("There is no event to export yet."))


def _plan(db: sqlite3.Connection, store: MediaStore, event_id: int | None) -> _Site:
    """Every file of the site, in a stable order, without writing anything."""
    event = _event(db, event_id)
    languages = event.languages or ["en"]
    root_lang = languages[0]
    tiles = service.perspective_tiles(db, event.id)
    reflections = service.publishable_reflections(db, event.id)
    reels = service.archived_reels(db, event.id)
    site = _Site(items=len(reflections), reels=len(reels))
    common = {
        "event": event,
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
        "page_size": service.PAGE_SIZE,
    }

    reel_captions = {
        reel.id: store.path(reel.files["vtt"].path).read_bytes()
        for reel in reels
        if "vtt" in reel.files
        and reel.files["vtt"].bytes <= _INLINE_CAPTIONS_MAX
        and store.path(reel.files["vtt"].path).is_file()
    }
    pages: list[tuple[str, Any]] = [(page_name(), None)]
    for tile in tiles:
        if tile.count:
            count = math.ceil(tile.count / service.PAGE_SIZE)
            pages += [(page_name(tile.slug, n), (tile.slug, n)) for n in range(1, count + 1)]
    for lang in languages:
        env = _environment(lang)
        folder = "" if lang == root_lang else f"{lang}/"
        for name, target in pages:
            links = ExportLinks(lang, root_lang, name, reel_captions)
            if target is None:
                html = env.get_template("archive/landing.html").render(
                    **common, lang=lang, links=links, tiles=tiles, reels=reels,
                    total=sum(tile.count for tile in tiles),
                )  # fmt: skip
            else:
                found = service.perspective_page(db, event.id, target[0], target[1], tiles=tiles)
                html = env.get_template("archive/perspective.html").render(
                    **common, lang=lang, links=links, page=found
                )
            site.add(_File.generated(folder + name, html.encode("utf-8")))
        links = ExportLinks(lang, root_lang, SEARCH_PAGE, reel_captions)
        html = env.get_template("archive/search.html").render(**common, lang=lang, links=links)
        site.add(_File.generated(folder + SEARCH_PAGE, html.encode("utf-8")))
    site.add(_File.generated(SEARCH_INDEX, search_index_script(reflections)))
    site.add(_File.generated(SEARCH_SCRIPT, SEARCH_SCRIPT_SOURCE.read_bytes()))
    site.add(_File.generated("archive.css", STYLESHEET.read_bytes()))
    site.add(_File.generated("colours.css", service.colours_stylesheet(tiles).encode("utf-8")))

    records = []
    for reflection in reflections:
        files = site.add_stored(
            store, reflection.files, functools.partial(reflection_file_path, reflection)
        )
        if reflection.captions:
            file = _File.generated(
                reflection_file_path(reflection, "captions"), reflection.captions.encode("utf-8")
            )
            site.add(file)
            files.append(_file_record(file, "captions"))
        records.append(_reflection_record(reflection, files))
    reel_records = []
    for reel in reels:
        files = site.add_stored(store, reel.files, functools.partial(reel_file_path, reel))
        reel_records.append(
            {"id": reel.id, "title": reel.title, "duration": reel.duration, "files": files}
        )

    manifest = {
        "generator": GENERATOR,
        "format": FORMAT,
        "event": {
            "name": event.name,
            "date": event.date,
            "venue": event.venue,
            "languages": languages,
        },
        "perspectives": [
            {"slug": t.slug, "label": t.labels, "colour": t.colour, "count": t.count} for t in tiles
        ],
        "reflections": records,
        "reels": reel_records,
        "pages": [_file_record(file, None) for file in site.files if file.source is None],
    }
    text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    site.add(_File.generated(MANIFEST, text.encode("utf-8")))
    site.files.sort(key=lambda file: file.path)
    return site


def _file_record(file: _File, role: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"path": file.path, "sha256": file.sha256, "bytes": file.size}
    if role is not None:
        record["role"] = role
    return record


def _reflection_record(reflection: PublicReflection, files: list[dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": reflection.id,
        "kind": reflection.kind,
        "perspective": {
            "slug": reflection.perspective_slug,
            "label": reflection.perspective_labels,
        },
        "prompt": reflection.prompt_texts,
        "language": reflection.lang,
        "duration": reflection.duration,
        "created_at": reflection.created_at,
        "consent_sha256": reflection.consent_sha256,
        "files": files,
    }
    if reflection.kind == "text":
        record["text"] = reflection.text_body
    if reflection.trim_in is not None or reflection.trim_out is not None:
        record["trim"] = {"in": reflection.trim_in, "out": reflection.trim_out}
    if reflection.name:  # only present when the delegate agreed to show it
        record["name"] = reflection.name
    return record


# -- writing a folder --------------------------------------------------------------------------


def _already_there(target: Path, file: _File) -> bool:
    try:
        if target.is_symlink() or not target.is_file() or target.stat().st_size != file.size:
            return False
    except OSError:
        return False
    if file.data is not None:
        return target.read_bytes() == file.data
    return file_sha256(target) == file.sha256


def _write_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{_PARTIAL}{target.name}")
    try:
        with open(partial, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _copy_checked(file: _File, handle: IO[bytes]) -> None:
    assert file.source is not None
    digest = hashlib.sha256()
    try:
        with open(file.source, "rb") as source:
            for block in iter(lambda: source.read(_COPY_BLOCK), b""):
                digest.update(block)
                handle.write(block)
    except FileNotFoundError as error:
        raise ExportError(
            _(
                "A media file is missing (%(path)s): run “voxpop rebuild”, then export again.",
                path=file.source.name,
            )
        ) from error
    if digest.hexdigest() != file.sha256:
        raise ExportError(
            _(
                "A media file changed on disk since it was made (%(path)s): run “voxpop rebuild”.",
                path=file.source.name,
            )
        )


def _check_destination(destination: Path) -> None:
    """Refuse to clear out a folder that is not empty and is not an earlier export."""
    if destination.exists() and not destination.is_dir():
        raise ExportError(_("%(path)s is a file, not a folder.", path=str(destination)))
    if not destination.is_dir() or not any(destination.iterdir()):
        return
    if not _is_export(destination):
        raise ExportError(
            _(
                "%(path)s is not empty and is not an earlier voxpop export: choose an empty or new"
                " folder.",
                path=str(destination),
            )
        )


def _manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest.json, or None when it is missing, unreadable or not an object."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _is_export(folder: Path) -> bool:
    """Whether the folder holds an export voxpop wrote (its manifest says so)."""
    manifest = _manifest(folder)
    return manifest is not None and manifest.get("generator") == GENERATOR


def _walk_files(root: Path) -> Iterator[Path]:
    for folder, folders, names in os.walk(root):
        folders.sort()
        for name in sorted(names):
            yield Path(folder) / name


def export_site(
    db: sqlite3.Connection, store: MediaStore, destination: Path, event_id: int | None = None
) -> ExportSummary:
    """Write the public archive of an event (default: the current one) into ``destination``
    as a static site.

    Deterministic and incremental: files already right are left alone, stale ones are
    removed. The folder is recorded (``voxpop.copies``) so a later withdrawal cleans it too.
    Raises ExportError (no event; a non-empty folder that is not an earlier export; a media
    file missing or changed on disk).
    """
    destination = Path(destination).resolve()
    _check_destination(destination)
    site = _plan(db, store, event_id)
    destination.mkdir(parents=True, exist_ok=True)
    # Recorded before anything is written, so a withdrawal finds even a half-written copy.
    copies.record_export_folder(db, destination, _event(db, event_id).id)
    written = 0
    for file in site.files:
        target = destination / file.path
        if _already_there(target, file):
            continue
        if file.data is not None:
            data = file.data
            _write_atomically(target, lambda handle, data=data: handle.write(data))  # type: ignore[misc]
        else:
            _write_atomically(target, lambda handle, file=file: _copy_checked(file, handle))  # type: ignore[misc]
        written += 1
    wanted = {destination / file.path for file in site.files}
    removed = 0
    for path in list(_walk_files(destination)):
        if path not in wanted:
            path.unlink()
            removed += 1
    for folder, _folders, _names in sorted(os.walk(destination), reverse=True):
        if Path(folder) != destination and not any(Path(folder).iterdir()):
            Path(folder).rmdir()
    return ExportSummary(
        files=len(site.files),
        bytes=sum(file.size for file in site.files),
        items=site.items,
        reels=site.reels,
        written=written,
        removed=removed,
    )


def write_site_zip(
    db: sqlite3.Connection,
    store: MediaStore,
    output: IO[bytes],
    folder: str = "archive",
    event_id: int | None = None,
) -> ExportSummary:
    """Write the same site as ``export_site`` into a zip (under ``folder/``) on ``output``.

    Streams each file into the zip (never the whole site in memory); deterministic like the
    folder export. Raises ExportError as ``export_site`` does.
    """
    site = _plan(db, store, event_id)
    with zipfile.ZipFile(output, "w", allowZip64=True) as archive:
        for file in site.files:
            info = zipfile.ZipInfo(f"{folder}/{file.path}", date_time=_ZIP_TIME)
            stored = Path(file.path).suffix in _STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=file.size > 2**31) as handle:
                if file.data is not None:
                    handle.write(file.data)
                else:
                    _copy_checked(file, handle)
    return ExportSummary(
        files=len(site.files),
        bytes=sum(file.size for file in site.files),
        items=site.items,
        reels=site.reels,
        written=len(site.files),
    )


# -- the consent log ---------------------------------------------------------------------------


def consent_log_rows(db: sqlite3.Connection, event_id: int | None = None) -> list[list[str]]:
    """The consent log of an event (default: the current one), one row per reflection.

    A withdrawn reflection keeps its row, with the time of withdrawal. No names, no words.
    """
    if event_id is None:
        event = models.current_event(db)
        if event is None:
            return []
        event_id = event.id
    rows = db.execute(
        "SELECT r.id, ct.version, c.consent_sha256, c.archive, c.reel, c.room, c.online,"
        " c.show_name, c.given_at, c.withdrawn_at, k.name AS kiosk FROM consent c"
        " JOIN reflection r ON r.id = c.reflection_id"
        " JOIN consent_text ct ON ct.id = c.consent_text_id"
        " LEFT JOIN kiosk k ON k.id = r.kiosk_id WHERE r.event_id = ? ORDER BY r.id",
        (event_id,),
    ).fetchall()
    table = []
    for row in rows:
        granted = {"archive": row["archive"], "reel": row["reel"], "room": row["room"],
                   "online": row["online"], "name": row["show_name"]}  # fmt: skip
        purposes = " ".join(purpose for purpose in models.PURPOSES if granted[purpose])
        table.append(
            [
                safe_cell(value)
                for value in (
                    row["id"],
                    row["version"],
                    row["consent_sha256"],
                    purposes,
                    row["given_at"],
                    row["withdrawn_at"],
                    row["kiosk"],
                )
            ]  # fmt: skip
        )
    return table


def consent_log_csv(db: sqlite3.Connection, event_id: int | None = None) -> bytes:
    """The consent log as CSV bytes (UTF-8, header row first)."""
    return csv_bytes(CONSENT_LOG_COLUMNS, consent_log_rows(db, event_id))


def write_consent_log(db: sqlite3.Connection, path: Path, event_id: int | None = None) -> int:
    """Write the (non-public) consent log CSV to ``path`` atomically; return how many rows.

    Keep it out of the published site: it says who consented to what, when, on which kiosk.
    """
    rows = consent_log_rows(db, event_id)
    data = csv_bytes(CONSENT_LOG_COLUMNS, rows)
    _write_atomically(Path(path), lambda handle: handle.write(data))
    return len(rows)


# -- export folders after a withdrawal ---------------------------------------------------------


def scrub_export_folder(folder: Path, reflection_id: int) -> None:
    """Remove one reflection from an export folder without rebuilding it: its files, its entry
    in ``manifest.json``, and every page that shows it (the site then lacks those pages; the
    next export makes them again). For when the folder cannot be brought up to date."""
    media = folder / "media" / "reflections" / str(reflection_id)
    if media.exists():
        shutil.rmtree(media)
    manifest_path = folder / MANIFEST
    manifest = _manifest(folder)
    if manifest is not None and isinstance(manifest.get("reflections"), list):
        manifest["reflections"] = [
            record for record in manifest["reflections"]
            if not (isinstance(record, dict) and record.get("id") == reflection_id)
        ]  # fmt: skip
        text = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
        partial = manifest_path.with_name(f".partial-{MANIFEST}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, manifest_path)
    marker = f"media/reflections/{reflection_id}/".encode()
    shows_it = re.compile(rb'data-reflection="%d"' % reflection_id)
    for page in folder.rglob("*.html"):
        data = page.read_bytes()
        if marker in data or shows_it.search(data):
            page.unlink()


def refresh_export_folders(
    db: sqlite3.Connection, store: MediaStore, instance: str | Path, event_id: int,
    reflection_id: int,
) -> list[Path]:  # fmt: skip
    """After a withdrawal: bring every recorded export folder of the event that still exists
    up to date with the archive as it stands (the withdrawn reflection's files, manifest entry
    and pages go). A folder that cannot be rebuilt is scrubbed of that reflection instead; a
    folder that is no longer a voxpop export is forgotten, untouched. Returns the folders
    cleaned. A folder not there now (a USB stick unplugged) stays recorded.
    """
    cleaned = []
    for folder in copies.export_folders(instance, event_id):
        if not folder.is_dir():
            continue
        if not _is_export(folder):
            copies.forget_export_folder(instance, folder)
            continue
        try:
            export_site(db, store, folder, event_id)
        except (VoxpopError, OSError):
            log.warning("Could not bring the export in %s up to date; removing reflection %s"
                        " from it", folder, reflection_id, exc_info=True)  # fmt: skip
            scrub_export_folder(folder, reflection_id)
        cleaned.append(folder)
    return cleaned
