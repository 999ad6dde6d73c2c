"""The public archive's pages and media, open to anyone (``/archive``).

Views are thin: ``archive.service`` decides what is public, and the same templates render the
static export (``publishing.export``), so the live archive and the published site show the same
things. Only files of publishable reflections and archived reels are served; anything else is
a 404, exactly as if it did not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    url_for,
)

from voxpop import models
from voxpop.archive import service
from voxpop.archive.service import PublicFile, PublicReel, PublicReflection
from voxpop.auth import public
from voxpop.db import get_db
from voxpop.web import current_language, require_event

bp = Blueprint("archive", __name__)

LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}
MEDIA_TYPES = {
    "mp4": "video/mp4",
    "captioned_mp4": "video/mp4",
    "poster": "image/jpeg",
    "card": "image/png",
    "vtt": "text/vtt",
}


def event_languages(event: models.Event) -> list[tuple[str, str]]:
    """The event's languages as ``(code, name in that language)``, for the language switch."""
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in event.languages]


class ServerLinks:
    """Where the archive templates link to when served by voxpop itself."""

    export = False  # the security policies come as HTTP headers (voxpop/security.py)

    def landing(self) -> str:
        return url_for("archive.landing")

    def search(self) -> str | None:
        return url_for("archive.search_page")

    def perspective(self, slug: str, page: int = 1) -> str:
        return url_for("archive.perspective", slug=slug, page=page if page > 1 else None)

    def reflection_file(self, reflection: PublicReflection, kind: str) -> str:
        return url_for("archive.reflection_media", reflection_id=reflection.id, kind=kind)

    def captions(self, reflection: PublicReflection) -> str:
        return url_for("archive.reflection_captions", reflection_id=reflection.id)

    def reel_file(self, reel: PublicReel, kind: str) -> str:
        return url_for("archive.reel_media", reel_id=reel.id, kind=kind)

    def stylesheet(self) -> str:
        return url_for("static", filename="css/archive.css")

    def colours(self) -> str:
        return url_for("archive.colours")

    def alternate(self, lang: str) -> str:
        """This page in another language (remembered in the session, as everywhere else)."""
        args: dict[str, Any] = {**request.args, "lang": lang}
        return url_for(str(request.endpoint), **(request.view_args or {}), **args)


def _render(template: str, event: models.Event, **context: Any) -> Any:
    response = Response(
        render_template(
            template,
            event=event,
            lang=current_language(),
            languages=event_languages(event),
            links=ServerLinks(),
            page_size=service.PAGE_SIZE,
            **context,
        )
    )
    # Withdrawing or hiding a reflection must take it off screens at once: no stale copies.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
@public
def landing() -> Any:
    """The “Walk in their shoes” landing: a tile per perspective, and the highlights reels."""
    db = get_db()
    event = require_event()
    tiles = service.perspective_tiles(db, event.id)
    return _render(
        "archive/landing.html",
        event,
        tiles=tiles,
        total=sum(tile.count for tile in tiles),
        reels=service.archived_reels(db, event.id),
    )


@bp.get("/colours.css")
@public
def colours() -> Any:
    """The perspectives' colours as a stylesheet (no inline styles under the CSP)."""
    event = require_event()
    css = service.colours_stylesheet(service.perspective_tiles(get_db(), event.id))
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-cache"  # a colour changed in Settings shows at once
    return response


@bp.get("/p/<slug>")
@public
def perspective(slug: str) -> Any:
    """One perspective's public reflections, a page at a time."""
    event = require_event()
    page = request.args.get("page", 1, type=int)
    found = service.perspective_page(get_db(), event.id, slug, page)
    return _render("archive/perspective.html", event, page=found)


@bp.get("/search")
@public
def search_page() -> Any:
    """Search what was said and written, over the public archive only."""
    from voxpop.reflection import search

    db = get_db()
    event = require_event()
    text = " ".join(request.args.get("q", "").split())[:200]
    found = search.search(db, event.id, text, publishable_only=True, limit=service.PAGE_SIZE)
    by_id = {
        r.id: r for r in service.publishable_by_ids(db, event.id, [f.reflection_id for f in found])
    }
    results = [(by_id[f.reflection_id], f.hits) for f in found if f.reflection_id in by_id]
    return _render("archive/search.html", event, q=text, results=results)


def _send(file: PublicFile, mimetype: str) -> Any:
    path: Path = current_app.extensions["voxpop"].store.path(file.path)
    if not path.is_file():
        abort(404)
    # send_file answers Range requests (players seek; Safari insists) and conditional GETs,
    # as the studio's media route does.
    response = send_file(path, mimetype=mimetype, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/media/reflections/<int:reflection_id>/<kind>")
@public
def reflection_media(reflection_id: int, kind: str) -> Any:
    """A public reflection's video, poster or quote card (404 for anything not public)."""
    reflection = service.publishable_reflection(get_db(), require_event().id, reflection_id)
    file = reflection.files.get(kind)
    if file is None:
        abort(404)
    return _send(file, MEDIA_TYPES[kind])


@bp.get("/media/reflections/<int:reflection_id>/captions.vtt")
@public
def reflection_captions(reflection_id: int) -> Any:
    """A public reflection's captions (WebVTT), from its checked transcript."""
    reflection = service.publishable_reflection(get_db(), require_event().id, reflection_id)
    if reflection.captions is None:
        abort(404)
    response = Response(reflection.captions, mimetype="text/vtt")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/media/reels/<int:reel_id>/<kind>")
@public
def reel_media(reel_id: int, kind: str) -> Any:
    """An archived reel's video, captions or captioned video."""
    reel = service.archived_reel(get_db(), require_event().id, reel_id)
    file = reel.files.get(kind)
    if file is None:
        abort(404)
    return _send(file, MEDIA_TYPES[kind])
