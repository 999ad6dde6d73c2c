"""The live wall's routes, open to anyone (``/wall``): the page, its JSON and its media.

The page polls ``/wall/api/state`` every two seconds with ``If-None-Match``; an unchanged wall
answers ``304`` with no body. Only reflections passing ``archive.service.ROOM_WHERE`` are in
the document, and the media routes check the same rule on every request, so a withdrawn or
unapproved reflection stops being served at once and leaves the screen at the next poll.
"""

from __future__ import annotations

import hashlib
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
from flask_babel import force_locale
from flask_babel import gettext as _

from voxpop import models
from voxpop.archive import service as archive
from voxpop.archive.service import PublicReflection
from voxpop.auth import public
from voxpop.db import get_db
from voxpop.wall import service
from voxpop.web import require_event

bp = Blueprint("wall", __name__)

POLL_SECONDS = 2
_MEDIA_TYPES = {"mp4": "video/mp4", "poster": "image/jpeg"}


def wall_languages(event: models.Event, asked: str | None) -> list[str]:
    """The languages the wall speaks: ``?lang=`` when it is one of the event's, else all of the
    event's languages, Welsh first (as Welsh public bodies place it)."""
    languages = list(event.languages) or ["en"]
    if asked in languages:
        return [str(asked)]
    return sorted(languages, key=lambda code: code != "cy")


def _strings(languages: list[str]) -> dict[str, dict[str, str]]:
    strings = {}
    for lang in languages:
        with force_locale(lang):
            strings[lang] = {
                "title": _("Live reflections"),
                "waiting": _("Reflections will appear here as soon as they are approved."),
                "balance": _("Perspectives on the wall"),
                "paused": _("Paused"),
                "offline": _("Reconnecting…"),
                "asked": _("Asked:"),
            }
    return strings


def _media_url(reflection: PublicReflection, kind: str) -> str:
    if kind == "captions":
        version = hashlib.sha256((reflection.captions or "").encode()).hexdigest()[:12]
        return url_for("wall.captions", reflection_id=reflection.id, v=version)
    return url_for(
        "wall.media", reflection_id=reflection.id, kind=kind, v=reflection.files[kind].sha256[:12]
    )


@bp.get("/")
@public
def page() -> Any:
    """The wall: one reflection at a time, coloured by perspective, with the live balance."""
    event = require_event()
    languages = wall_languages(event, request.args.get("lang"))
    state = service.wall_state(get_db(), event, _media_url)
    response = Response(
        render_template(
            "wall/wall.html",
            event=event,
            languages=languages,
            strings=_strings(languages),
            state=state,
            config={
                "state_url": url_for("wall.state"),
                "poll_ms": POLL_SECONDS * 1000,
                "languages": languages,
            },
        )
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/state")
@public
def state() -> Any:
    """What the wall shows now, as JSON with a version; ``304`` when it has not changed."""
    wall = service.wall_state(get_db(), require_event(), _media_url)
    etag = f'"{wall.version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        return Response(status=304, headers=headers)
    return Response(wall.json(), mimetype="application/json", headers=headers)


def _shown(reflection_id: int) -> PublicReflection:
    return archive.room_reflection(get_db(), require_event().id, reflection_id)


@bp.get("/media/<int:reflection_id>/<kind>")
@public
def media(reflection_id: int, kind: str) -> Any:
    """A shown reflection's video or poster (404 for anything the wall may not show)."""
    reflection = _shown(reflection_id)
    file = reflection.files.get(kind)
    if kind not in _MEDIA_TYPES or file is None:
        abort(404)
    path: Path = current_app.extensions["voxpop"].store.path(file.path)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=_MEDIA_TYPES[kind], conditional=True, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/media/<int:reflection_id>/captions.vtt")
@public
def captions(reflection_id: int) -> Any:
    """A shown recording's checked captions (WebVTT)."""
    reflection = _shown(reflection_id)
    if reflection.captions is None:
        abort(404)
    return Response(reflection.captions, mimetype="text/vtt", headers={"Cache-Control": "no-cache"})
