"""The reel builder (organisers): make reels, order their clips, render, preview, download.

Routes live on the studio blueprint. Every change is a plain form POST that redirects back
(so the page works without scripts); ``static/js/reel.js`` adds drag-and-drop and keyboard
reordering (sent as JSON) and a live render progress bar. The rules — consent, approval,
what a render shows — are in ``voxpop.reels.service``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from voxpop import models
from voxpop.auth import login_required
from voxpop.db import get_db
from voxpop.media import reel as reel_media
from voxpop.reels import preview, service
from voxpop.slugs import slugify
from voxpop.studio.views import bp
from voxpop.web import current_language, require_event

# The flash category of "Rendering the reel…": the builder shows it itself (studio/reel.html).
RENDER_FLASH = "reel-render"
_FILES = {
    "mp4": ("video/mp4", "mp4"),
    "captioned_mp4": ("video/mp4", "mp4"),
    "vtt": ("text/vtt", "vtt"),
}


def _lang() -> str:
    return current_language()


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _queue() -> Any:
    return current_app.extensions["voxpop"].queue


def _back(reel_id: int, message: str | None = None, category: str = "message") -> Response:
    if _wants_json():
        db = get_db()
        reel = service.get_reel(db, require_event(), reel_id)
        return jsonify({"ok": True, "message": message, "state": service.render_state(db, reel)})
    if message:
        flash(message, category)
    return redirect(url_for("studio.reel_builder", reel_id=reel_id))


def _refused(reel_id: int, error: service.ReelError) -> Response:
    if isinstance(error, service.ReelNotFound):
        raise error  # a 404 page, not a redirect to a reel that is not there
    if _wants_json():
        return jsonify({"ok": False, "error": error.message}), error.status  # type: ignore[return-value]
    flash(error.message)
    return redirect(url_for("studio.reel_builder", reel_id=reel_id))


def _reflection_id() -> int:
    value = request.form.get("reflection_id", "")
    if not value.isdigit():
        abort(400)
    return int(value)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def trim_note(entry: service.ReelEntry) -> str | None:
    """Where a trimmed clip really cuts (keyframes every 2 s), to say so next to it; or that
    it is shown whole, when the nearest cut points are the clip's own start and end."""
    if entry.kind == "text" or entry.duration is None:
        return None
    if entry.trim_in is None and entry.trim_out is None:
        return None
    start, end = reel_media.snap_trim(entry.trim_in, entry.trim_out, entry.duration)
    if reel_media.is_whole_clip((start, end), entry.duration):
        return _("Shown whole: the nearest cut points to its trim are the start and end.")
    return _("Trimmed; cuts at %(cut)s (keyframes)", cut=f"{clock(start)}–{clock(end)}")


@bp.get("/reels")
@login_required("organiser")
def reels_page() -> str:
    """Every reel of the event, and a form to start a new one."""
    db = get_db()
    event = require_event()
    all_reels = service.list_reels(db, event)
    counts = {
        row["reel_id"]: row["n"]
        for row in db.execute(
            "SELECT reel_id, COUNT(*) AS n FROM reel_item GROUP BY reel_id"
        ).fetchall()
    }
    return render_template(
        "studio/reels.html",
        reels=all_reels,
        counts=counts,
        proposals=len(service.proposals(db, event)),
        clock=clock,
    )


@bp.post("/reels")
@login_required("organiser")
def reel_create() -> Response:
    db = get_db()
    try:
        reel_id = service.create_reel(
            db, require_event(), request.form.get("title", ""),
            propose=request.form.get("propose") == "1", actor=g.user
        )  # fmt: skip
    except service.ReelError as error:
        flash(error.message)
        return redirect(url_for("studio.reels_page"))
    return redirect(url_for("studio.reel_builder", reel_id=reel_id))


def _reel_and_sequence(
    reel_id: int,
) -> tuple[service.Reel, list[service.ReelEntry], list[preview.PreviewPiece]]:
    """The reel, its entries and the sequence a render would make of them now."""
    db = get_db()
    event = require_event()
    reel = service.get_reel(db, event, reel_id)
    items = service.entries(db, event, reel_id, _lang())
    return reel, items, preview.sequence(db, event, items, models.kind_names())


@bp.get("/reels/<int:reel_id>")
@login_required("organiser")
def reel_builder(reel_id: int) -> str:
    db = get_db()
    event = require_event()
    reel, items, pieces = _reel_and_sequence(reel_id)
    files = {
        row["kind"]: row
        for row in db.execute("SELECT * FROM reel_asset WHERE reel_id = ?", (reel_id,)).fetchall()
    }
    return render_template(
        "studio/reel.html",
        reel=reel,
        items=items,
        candidates=service.candidates(db, event, reel_id, _lang()),
        pieces=pieces,
        planned=preview.total_seconds(pieces),
        state=service.render_state(db, reel),
        files=files,
        perspectives=models.perspectives(db, event.id),
        clock=clock,
        trim_note=trim_note,
        kind_names=models.kind_names(),
    )


@bp.get("/reels/<int:reel_id>/timeline")
@login_required("organiser")
def reel_timeline(reel_id: int) -> Response:
    """The sequence's timeline (an HTML fragment for the preview player), after a change."""
    reel, _items, pieces = _reel_and_sequence(reel_id)
    html = render_template("studio/_reel_timeline.html", reel=reel, pieces=pieces, clock=clock,
                           planned=preview.total_seconds(pieces))  # fmt: skip
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # The script swaps in only answers carrying this header (not, say, a login page).
    response.headers["X-Voxpop-Fragment"] = "reel-timeline"
    return response


@bp.post("/reels/<int:reel_id>/add")
@login_required("organiser")
def reel_add(reel_id: int) -> Response:
    try:
        service.add_item(get_db(), require_event(), reel_id, _reflection_id(), actor=g.user)
    except service.ReelError as error:
        return _refused(reel_id, error)
    return _back(reel_id, _("Added to the reel."))


@bp.post("/reels/<int:reel_id>/remove")
@login_required("organiser")
def reel_remove(reel_id: int) -> Response:
    service.remove_item(get_db(), require_event(), reel_id, _reflection_id(), actor=g.user)
    return _back(reel_id, _("Removed from the reel."))


@bp.post("/reels/<int:reel_id>/move")
@login_required("organiser")
def reel_move(reel_id: int) -> Response:
    offset = {"up": -1, "down": 1, "top": -10_000, "bottom": 10_000}.get(
        request.form.get("direction", ""), 0
    )
    try:
        service.move_item(
            get_db(), require_event(), reel_id, _reflection_id(), offset, actor=g.user
        )
    except service.ReelError as error:
        return _refused(reel_id, error)
    return _back(reel_id)


@bp.post("/reels/<int:reel_id>/order")
@login_required("organiser")
def reel_order(reel_id: int) -> Response:
    """The whole order at once (drag and drop): JSON ``{"order": [ids]}`` or a form field."""
    if request.is_json:
        raw = (request.get_json(silent=True) or {}).get("order")
    else:
        raw = [part for part in request.form.get("order", "").split(",") if part.strip()]
    try:
        order = [int(value) for value in raw or []]
    except (TypeError, ValueError):
        abort(400)
    try:
        service.set_order(get_db(), require_event(), reel_id, order, actor=g.user)
    except service.ReelError as error:
        return _refused(reel_id, error)
    return _back(reel_id, _("New order saved."))


@bp.post("/reels/<int:reel_id>/settings")
@login_required("organiser")
def reel_settings(reel_id: int) -> Response:
    try:
        service.update_settings(
            get_db(), require_event(), reel_id, title=request.form.get("title", ""),
            burn_captions=request.form.get("burn_captions") == "1",
            archived=request.form.get("archived") == "1", actor=g.user
        )  # fmt: skip
    except service.ReelError as error:
        return _refused(reel_id, error)
    return _back(reel_id, _("Reel settings saved."))


@bp.post("/reels/<int:reel_id>/render")
@login_required("organiser")
def reel_render(reel_id: int) -> Response:
    try:
        service.request_render(get_db(), _queue(), require_event(), reel_id)
    except service.ReelError as error:
        return _refused(reel_id, error)
    # The builder shows this note as the render's state, and changes it when the render ends.
    return _back(reel_id, _("Rendering the reel…"), category=RENDER_FLASH)


@bp.post("/reels/<int:reel_id>/delete")
@login_required("organiser")
def reel_delete(reel_id: int) -> Response:
    reel = service.get_reel(get_db(), require_event(), reel_id)
    service.delete_reel(
        get_db(), current_app.extensions["voxpop"].store, require_event(), reel_id, actor=g.user
    )
    flash(_("Reel “%(title)s” deleted.", title=reel.title))
    return redirect(url_for("studio.reels_page"))


@bp.get("/reels/<int:reel_id>/status.json")
@login_required("organiser")
def reel_status(reel_id: int) -> Response:
    db = get_db()
    reel = service.get_reel(db, require_event(), reel_id)
    state = service.render_state(db, reel)
    state["files"] = {
        row["kind"]: url_for("studio.reel_file", reel_id=reel_id, kind=row["kind"],
                             v=row["sha256"][:12])
        for row in db.execute("SELECT kind, sha256 FROM reel_asset WHERE reel_id = ?", (reel_id,))
    }  # fmt: skip
    response = jsonify(state)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reels/<int:reel_id>/file/<kind>")
@login_required("organiser")
def reel_file(reel_id: int, kind: str) -> Response:
    """The rendered reel (range requests for the player) or its captions; ``?download=1``
    saves it under the reel's title."""
    if kind not in _FILES:
        abort(404)
    db = get_db()
    reel = service.get_reel(db, require_event(), reel_id)
    row = db.execute(
        "SELECT path FROM reel_asset WHERE reel_id = ? AND kind = ?", (reel_id, kind)
    ).fetchone()
    if row is None:
        abort(404)
    path = current_app.extensions["voxpop"].store.path(row["path"])
    if not path.is_file():
        abort(404)
    mimetype, extension = _FILES[kind]
    suffix = "-captioned" if kind == "captioned_mp4" else ""
    download = request.args.get("download") == "1"
    response = send_file(
        path, mimetype=mimetype, conditional=True, max_age=0, as_attachment=download,
        download_name=f"{slugify(reel.title) or 'reel'}{suffix}.{extension}",
    )  # fmt: skip
    response.headers["Cache-Control"] = "private, no-cache"
    return response
