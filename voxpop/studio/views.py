"""The organisers' pages: what has come in, and pairing kiosks."""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from voxpop import models, tls
from voxpop.auth import login_required
from voxpop.db import get_db
from voxpop.reflection.records import processing_status, reflections_by_perspective
from voxpop.studio import kiosks, languages, validation
from voxpop.web import current_language, require_event

bp = Blueprint("studio", __name__)


@bp.context_processor
def kiosk_gate_helpers() -> dict[str, Any]:
    """``missing_translations()``: what keeps the current event from kiosks (none: open)."""

    def missing_translations() -> list[languages.MissingText]:
        event = models.current_event(get_db())
        return languages.missing_translations(get_db(), event) if event else []

    def language_name(lang: str) -> str:
        return languages.language_name(lang, current_language())

    return {"missing_translations": missing_translations, "language_name": language_name}


class PairKioskForm(FlaskForm):
    """Name for a new kiosk (optional)."""

    name = StringField("name", validators=[Length(max=60)])
    roving = BooleanField("roving")


def qr_svg(data: str) -> str:
    """An inline SVG QR code for ``data``."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True
    )
    return buffer.getvalue().decode("utf-8")


def pairing_links(token: str) -> dict[str, str]:
    """Links a tablet can open to pair: LAN addresses over HTTP (for certificate setup first)."""
    config = current_app.config
    path = url_for("kiosk.pair", token=token)
    addresses = tls.lan_addresses()
    host = addresses[0] if addresses else request.host.rsplit(":", 1)[0]
    return {
        "lan": f"http://{host}:{config['PORT']}{path}",
        "lan_secure": f"https://{host}:{config['TLS_PORT']}{path}",
        "local": f"http://localhost:{config['PORT']}{path}",
    }


@bp.get("/")
@login_required("organiser", "facilitator")
def overview() -> Any:
    """Every reflection received, grouped by perspective; kiosks and how to add one."""
    db = get_db()
    event = require_event()
    lang = current_language()
    groups = reflections_by_perspective(db, event, lang)
    total = sum(len(rows) for _p, rows, _retired in groups)
    return render_template(
        "studio/overview.html",
        event=event,
        groups=groups,
        total=total,
        lang=lang,
        kind_names=models.kind_names(),
        kiosks=models.kiosks(db),
        form=PairKioskForm(),
    )


@bp.post("/kiosks")
@login_required("organiser")
def add_kiosk() -> Any:
    """Create a kiosk and show its one-time pairing link and QR code (shown only now)."""
    form = PairKioskForm()
    if not form.validate_on_submit():
        return overview()
    mode = "roving" if form.roving.data else "kiosk"
    try:
        new = kiosks.create_kiosk(get_db(), form.name.data or "", mode=mode, actor=g.user)
    except validation.SettingsError:
        return overview(), 400
    return pairing_page(new)


def pairing_page(new: models.NewKiosk) -> Response:
    """The one page that shows a new kiosk's pairing link and QR code (only now, never cached)."""
    links = pairing_links(new.pairing_token)
    page = render_template(
        "studio/kiosk_added.html",
        section="kiosks",
        kiosk=new.kiosk,
        links=links,
        qr=qr_svg(links["lan"]),
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"  # the link is a credential until it is used
    return response


@bp.get("/progress.json")
@login_required("organiser", "facilitator")
def progress() -> Any:
    """Status and processing progress of every reflection (the overview polls this)."""
    statuses = processing_status(get_db(), require_event())
    return jsonify(reflections={str(key): value for key, value in statuses.items()})


_MEDIA_TYPES = {"mp4": "video/mp4", "poster": "image/jpeg", "thumb": "image/webp",
                "card": "image/png"}  # fmt: skip


@bp.get("/media/<int:reflection_id>/<kind>")
@login_required("organiser", "facilitator")
def media(reflection_id: int, kind: str) -> Any:
    """A derived file, with HTTP range requests so players can seek (Safari needs them)."""
    if kind not in _MEDIA_TYPES:
        abort(404)
    row = (
        get_db()
        .execute(
            "SELECT a.path FROM asset a JOIN reflection r ON r.id = a.reflection_id"
            " WHERE a.reflection_id = ? AND a.kind = ? AND r.status != 'withdrawn'",
            (reflection_id, kind),
        )
        .fetchone()
    )
    if row is None:
        abort(404)
    path = current_app.extensions["voxpop"].store.path(row["path"])
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=_MEDIA_TYPES[kind], conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
