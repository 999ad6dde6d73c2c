"""Pages anyone on the venue network may open: home, health, device setup, withdrawal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from voxpop import tls
from voxpop.auth import public
from voxpop.db import get_db, now_utc
from voxpop.extensions import client_address, csrf, limiter
from voxpop.reflection import withdrawal
from voxpop.reflection.intake.receipts import normalise_receipt_code
from voxpop.reflection.intake.staging import free_bytes

bp = Blueprint("public", __name__)


@bp.get("/")
@public
def home() -> Any:
    """Front door: where the kiosk, the organiser login and device setup are."""
    return render_template("public/home.html")


@bp.get("/healthz")
@public
def healthz() -> Any:
    """Liveness for operators and scripts: database reachable, ffmpeg found, disk not full.

    ``degraded`` when ffmpeg is missing or free disk space is below the upload floor (new
    recordings are then refused with a 507 and stay on the kiosks). No versions are told to
    anonymous visitors.
    """
    get_db().execute("SELECT 1").fetchone()
    state = current_app.extensions["voxpop"]
    free = free_bytes(state.store.root)
    disk_ok = free >= current_app.config["DISK_FREE_FLOOR_BYTES"]
    return jsonify(
        status="ok" if state.ffmpeg_version and disk_ok else "degraded",
        ffmpeg="ok" if state.ffmpeg_version else "missing",
        database="ok",
        disk="ok" if disk_ok else "full",
        disk_free_bytes=free,
    )


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


# -- withdrawal by receipt code ------------------------------------------------------------------


def _find(code: str) -> withdrawal.FoundReflection:
    """Look a typed code up; wrong ones count against this address (the right one never).

    A braked address still gets its right code accepted, but only one check at a time, each
    after a pause (``WITHDRAW_BRAKED_PAUSE_SECONDS``), so guessing stays slow.
    """
    config = current_app.config
    brake = {
        "limit": int(config["WITHDRAW_MAX_WRONG_CODES"]),
        "window": int(config["WITHDRAW_BRAKE_SECONDS"]),
    }
    address = client_address()
    if withdrawal.is_braked(limiter.limiter, address, **brake):
        with withdrawal.braked_turn(address, float(config["WITHDRAW_BRAKED_PAUSE_SECONDS"])):
            return _look_up(code, address, brake)
    return _look_up(code, address, brake)


def _look_up(code: str, address: str, brake: dict[str, int]) -> withdrawal.FoundReflection:
    try:
        return withdrawal.find_by_code(get_db(), code)
    except withdrawal.NotACode:
        raise  # a typing slip, not a guess: not counted
    except withdrawal.UnknownCode:
        withdrawal.count_wrong_code(limiter.limiter, address, **brake)
        raise


def _check_csrf_token() -> None:
    """The CSRF token, without Flask-WTF's Referer check over HTTPS: these pages send no
    Referer (``Referrer-Policy: no-referrer``, the code travels in the URL)."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from error


def _form(code: str, error: withdrawal.WithdrawalError | None = None) -> Any:
    status = error.status if error else 200
    return render_template(
        "public/withdraw.html", code=code, error=error.message if error else None,
        on_behalf=_on_behalf(),
    ), status, (error.headers if error else {})  # fmt: skip


def _on_behalf() -> bool:
    """True when a logged-in organiser uses these pages: it is their on-behalf withdrawal."""
    user = g.get("user")
    return user is not None and user.role == "organiser"


def _staff_refused() -> Any | None:
    """Staff other than organisers never withdraw, not even with a code a delegate told them.

    Receipt codes are the delegate's; a facilitator's browser gets a refusal that points to an
    organiser (or to the delegate's own phone), with nothing looked up or changed.
    """
    user = g.get("user")
    if user is None or user.role == "organiser":
        return None
    message = _(
        "You are signed in as %(name)s, a facilitator. Facilitators cannot withdraw "
        "reflections. Ask an organiser: they can withdraw it on the person's behalf from the "
        "reflection's review page (“Withdraw for this person”). The person can also use this "
        "page on their own phone, or here once you have signed out.",
        name=user.name,
    )
    return render_template("public/withdraw.html", code="", refused=message), 403


# Each step's POST answers with a redirect to a page (POST, redirect, GET), so the browser's
# Back and reload never offer to send a form again. The code found travels to the next page in
# the signed session cookie, never in a URL (a URL stays in the history and in logs).
CHECKED_CODE = "withdraw_code"
WITHDRAWN_CODE = "withdrawn_code"
# ... for a few minutes only: on a shared browser (a venue's laptop, a friend's phone) the next
# person must not find someone's preview (and its "Withdraw it" button) on Back.
REMEMBER_SECONDS = 600


def _remember(key: str, code: str) -> None:
    session[key] = {"code": code, "at": int(now_utc().timestamp())}


def _remembered(key: str) -> str | None:
    """The code kept under ``key`` by this browser, if still fresh (else forgotten now)."""
    kept = session.get(key)
    if isinstance(kept, dict):
        at = kept.get("at")
        if isinstance(at, int) and 0 <= now_utc().timestamp() - at <= REMEMBER_SECONDS:
            return str(kept.get("code", ""))
    session.pop(key, None)
    return None


@bp.route("/withdraw", methods=["GET", "POST"])
@public
@csrf.exempt  # checked by _check_csrf_token, without the Referer
def withdraw() -> Any:
    """Where a receipt QR code leads: type (or find prefilled) the code, then see what goes."""
    refused = _staff_refused()
    if refused is not None:
        return refused
    if request.method == "GET":
        session.pop(CHECKED_CODE, None)
        session.pop(WITHDRAWN_CODE, None)
        raw = request.args.get("code", "")
        return _form(normalise_receipt_code(raw) or raw.strip()[:12])
    _check_csrf_token()
    code = request.form.get("code", "")
    try:
        found = _find(code)
    except withdrawal.WithdrawalError as error:
        return _form(code.strip()[:12], error)
    _remember(CHECKED_CODE, found.receipt_code)
    return redirect(url_for("public.withdraw_check"), code=303)


@bp.get("/withdraw/confirm")
@public
def withdraw_check() -> Any:
    """What withdrawing the code just found removes, and the button to do it."""
    refused = _staff_refused()
    if refused is not None:
        return refused
    code = _remembered(CHECKED_CODE)
    if not code:  # opened directly, or Back after withdrawing: start again
        return redirect(url_for("public.withdraw"))
    try:  # found by this browser a moment ago (the session is signed): no guess to brake
        found = withdrawal.find_by_code(get_db(), code)
    except withdrawal.WithdrawalError as error:  # withdrawn meanwhile (another tab, staff)
        session.pop(CHECKED_CODE, None)
        return _form(code, error)
    lang = str(get_locale() or "en")
    return render_template(
        "public/withdraw_confirm.html",
        preview=withdrawal.preview(get_db(), found, lang),
        on_behalf=_on_behalf(),
    )


@bp.get("/withdraw/done")
@public
def withdraw_done() -> Any:
    """The withdrawal just made in this browser (reloading shows it again)."""
    code = _remembered(WITHDRAWN_CODE)
    if not code:
        return redirect(url_for("public.withdraw"))
    return render_template("public/withdraw_done.html", code=code, on_behalf=_on_behalf())


@bp.post("/withdraw/confirm")
@public
@csrf.exempt  # checked by _check_csrf_token, without the Referer
def withdraw_confirm() -> Any:
    """Withdraw for good: gone from the archive and reels now, files deleted by a job.

    From a logged-in organiser's browser this is their withdrawal on the delegate's behalf,
    audited under their name; a facilitator's is refused.
    """
    _check_csrf_token()
    refused = _staff_refused()
    if refused is not None:
        return refused
    code = request.form.get("code", "")
    try:
        found = _find(code)
        state = current_app.extensions["voxpop"]
        organiser = g.user if _on_behalf() else None
        withdrawal.withdraw(get_db(), state.queue, state.store, found.id, organiser=organiser)
    except withdrawal.WithdrawalError as error:
        return _form(code.strip()[:12], error)
    session.pop(CHECKED_CODE, None)
    _remember(WITHDRAWN_CODE, found.receipt_code)
    return redirect(url_for("public.withdraw_done"), code=303)
