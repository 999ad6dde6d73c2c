"""Pages anyone on the venue network may open: home, health, device setup, withdrawal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from voxpop import tls
from voxpop.auth import public
from voxpop.db import get_db
from voxpop.reflections import normalise_receipt_code

bp = Blueprint("public", __name__)


@bp.get("/")
@public
def home() -> Any:
    """Front door: where the kiosk, the organiser login and device setup are."""
    return render_template("public/home.html")


@bp.get("/healthz")
@public
def healthz() -> Any:
    """Liveness for operators and scripts: database reachable, ffmpeg version found."""
    get_db().execute("SELECT 1").fetchone()
    ffmpeg = current_app.extensions["voxpop"].ffmpeg_version
    return jsonify(status="ok" if ffmpeg else "degraded", ffmpeg=ffmpeg, database="ok")


@bp.get("/setup")
@public
def setup() -> Any:
    """How to make a tablet trust this laptop (install the voxpop certificate)."""
    return render_template("public/setup.html", tls_port=current_app.config["TLS_PORT"])


@bp.get("/setup/voxpop-ca.crt")
@public
def ca_certificate() -> Any:
    """The instance's CA certificate, in the form iOS and Android install as a profile."""
    folder = Path(current_app.config["INSTANCE"]) / "tls"
    return Response(
        tls.ca_certificate_der(folder),
        mimetype="application/x-x509-ca-cert",
        headers={"Content-Disposition": 'attachment; filename="voxpop-ca.crt"'},
    )


@bp.get("/withdraw")
@public
def withdraw() -> Any:
    """Where a receipt QR code leads. Self-service withdrawal arrives in a later release."""
    raw = request.args.get("code", "")
    code = normalise_receipt_code(raw) if raw else None
    return render_template("public/withdraw.html", code=code, invalid=bool(raw) and code is None)
