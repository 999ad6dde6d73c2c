"""Who may do what: organisers and facilitators log in; kiosks are paired devices.

Every view is protected by one of the decorators here (or listed as public in
``PUBLIC_ENDPOINTS``); ``tests/test_roles.py`` walks the URL map to keep it that way.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from voxpop import models, ratelimit
from voxpop.db import get_db, now_utc
from voxpop.errors import KioskNotAuthorised
from voxpop.extensions import client_address, config_value, limiter

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)


def login_required(*roles: str) -> Callable[[F], F]:
    """Allow only logged-in users with one of ``roles`` (any role when none given)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.voxpop_roles = roles or models.ROLES  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as open to anyone (the decision is explicit, and tested)."""
    view.voxpop_roles = ("anonymous",)  # type: ignore[attr-defined]
    return view


_LOGIN_KEYS = ("user_id", "session_version", "login_at")


def remember_login(user: models.User | None) -> None:
    """Put a login in the session: who, their session version, and when (for the expiry)."""
    if user is None:
        return
    session["user_id"] = user.id
    session["session_version"] = user.session_version
    session["login_at"] = int(now_utc().timestamp())
    session.permanent = True


def _session_is_current(user: models.User) -> bool:
    """False when the login was ended (logout, password change) or is older than a day's work."""
    login_at = session.get("login_at")
    if session.get("session_version") != user.session_version or not isinstance(login_at, int):
        return False
    return 0 <= now_utc().timestamp() - login_at < current_app.config["STAFF_SESSION_SECONDS"]


def load_user() -> None:
    """Put the logged-in user (or None) on ``g`` for this request.

    A cookie is signed but lives in the browser, so a copy outlives a logout: the session
    version it carries must still be the user's, and the login at most
    ``STAFF_SESSION_SECONDS`` old. Otherwise the login is dropped from the session (a paired
    kiosk in the same browser stays paired).
    """
    user_id = session.get("user_id")
    user = models.get_user(get_db(), user_id) if isinstance(user_id, int) else None
    if user is not None and not _session_is_current(user):
        user = None
    if user is None and any(key in session for key in _LOGIN_KEYS):
        for key in _LOGIN_KEYS:
            session.pop(key, None)
    g.user = user
    if user is not None:
        _remember_language(user)


def _remember_language(user: models.User) -> None:
    """A language chosen with ``?lang=`` while logged in is kept for the user's next login."""
    asked = request.args.get("lang")
    if asked and asked in current_app.config["LANGUAGES"] and asked != user.language:
        models.set_user_language(get_db(), user.id, asked)
    elif session.get("lang") not in current_app.config["LANGUAGES"] and user.language:
        session["lang"] = user.language


def _start_session(user: models.User) -> None:
    """A fresh session for a new login (no fixation), keeping the language chosen before it.

    The choice made on the login page wins and becomes the user's; without one, the
    language they chose last time comes back.
    """
    chosen = session.get("lang")
    session.clear()
    remember_login(user)
    languages = current_app.config["LANGUAGES"]
    if isinstance(chosen, str) and chosen in languages:
        session["lang"] = chosen
        if chosen != user.language:
            models.set_user_language(get_db(), user.id, chosen)
    elif user.language in languages:
        session["lang"] = user.language


class LoginForm(FlaskForm):
    """Name and password."""

    name = StringField("name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    # Only local paths: never bounce a freshly logged-in user to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("studio.overview")


def _login_failed(response: Any) -> bool:
    return bool(response.status_code == 401)


def _account_key() -> str:
    return "account:" + request.form.get("name", "").strip().casefold()[:100]


def _address_key() -> str:
    return "address:" + client_address()


def _too_many_logins() -> str:
    return _(
        "Too many wrong passwords. For safety, logging in is paused for a while: please wait "
        "a few minutes and try again."
    )


def _login_paused(limit: RequestLimit) -> Any:
    """The login form again, saying why and for how long (429, with Retry-After)."""
    minutes = max(1, math.ceil((limit.reset_at - ratelimit.now()) / 60))
    error = _(
        "Too many wrong passwords. For safety, logging in is paused: please try again in "
        "%(minutes)d minutes.",
        minutes=minutes,
    )
    return make_response(render_template("auth/login.html", form=LoginForm(), error=error), 429)


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(
    config_value("RATELIMIT_LOGIN_PER_ADDRESS"),
    key_func=_address_key,
    methods=["POST"],
    deduct_when=_login_failed,  # only wrong passwords count
    error_message=_too_many_logins,
    on_breach=_login_paused,
)
@limiter.limit(
    config_value("RATELIMIT_LOGIN_PER_ACCOUNT"),
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
    error_message=_too_many_logins,
    on_breach=_login_paused,
)
def login() -> Any:
    """Log in as an organiser or facilitator."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = models.authenticate(get_db(), form.name.data or "", form.password.data or "")
        if user is not None:
            _start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        error = _("That name and password do not match.")
    elif request.method == "POST":
        error = _("Enter your name and password.")
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required()
def logout() -> Any:
    """Log out (a POST, so a link elsewhere cannot log anyone out).

    Ends every session of this user, not just this cookie: a copy of it (another tab kept
    open, a cookie taken from this browser) is refused from now on.
    """
    models.end_sessions(get_db(), g.user.id)
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language  # the browser's choice of language is not part of a login
    flash(_("You have logged out."))
    return redirect(url_for("auth.login"))


def current_kiosk() -> models.Kiosk | None:
    """Return the live kiosk behind this request, from its bearer token or paired session.

    Sets ``g.kiosk_via`` to ``"token"`` or ``"session"``: only cookie-borne requests need a
    CSRF token, because a bearer token is never sent by a browser on its own.
    """
    db = get_db()
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        g.kiosk_via = "token"
        return models.kiosk_by_api_token(db, token.strip())
    kiosk_id = session.get("kiosk_id")
    if not isinstance(kiosk_id, int):
        return None
    g.kiosk_via = "session"
    return models.live_kiosk(db, kiosk_id)


def kiosk_required(view: F) -> F:
    """Allow only paired, unrevoked kiosks (which may create reflections and nothing more)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.kiosk = current_kiosk()
        if g.kiosk is None:
            raise KioskNotAuthorised(
                _("This kiosk is not paired, or its pairing was revoked. Please ask an organiser.")
            )
        return view(*args, **kwargs)

    wrapped.voxpop_roles = ("kiosk",)  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]
