"""Request-level helpers that views share: the running event, the page's language, host and URLs.

Views and request hooks import these; services never do (they take the event, the acting user
and the language as arguments). The unbound extensions (CSRF, Babel, the rate limiter) are in
``voxpop.extensions``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import (
    current_app,
    g,
    has_app_context,
    has_request_context,
    redirect,
    request,
    session,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from voxpop import models, tls
from voxpop.db import get_db
from voxpop.errors import NoEvent

_REEL_FOLLOW_UP = "reel_follow_up"


def require_event() -> models.Event:
    """Return the running event, or refuse clearly when none is set up."""
    event = models.current_event(get_db())
    if event is None:
        raise NoEvent(_("No event is set up yet. Run “voxpop init --demo” or create one."))
    return event


def note_reel_follow_up(reflection_ids: Iterable[int]) -> None:
    """Remember, for this request, reflections whose reel pieces may need preparing."""
    if has_app_context():
        g.setdefault(_REEL_FOLLOW_UP, set()).update(reflection_ids)


def take_reel_follow_up() -> set[int] | None:
    """The reflections noted in this request, forgotten now (None when none were noted)."""
    noted: set[int] | None = g.pop(_REEL_FOLLOW_UP, None)
    return noted


def current_language() -> str:
    """The language this page is shown in (a code such as ``en`` or ``cy``)."""
    return str(get_locale() or "en")


def localised(texts: dict[str, str], lang: str | None = None) -> Markup:
    """Organisers' words ({lang: text}) for a page in ``lang`` (default: this page's).

    When the text falls back to another language, it is wrapped in ``<span lang="…">`` so a
    screen reader reads it with the right voice.
    """
    lang = lang or current_language()
    for candidate in (lang, "en", *sorted(texts)):
        text = texts.get(candidate)
        if text:
            if candidate == lang:
                return escape(text)
            return Markup('<span lang="{}">{}</span>').format(candidate, text)
    return Markup("")


def select_locale() -> str:
    """The UI language: ``?lang=`` (remembered), then the session, then the browser."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # a job or command: the default language
        return languages[0]
    asked = request.args.get("lang")
    if asked is not None and asked in languages:
        session["lang"] = asked
        return asked
    if session.get("lang") in languages:
        return str(session["lang"])
    return request.accept_languages.best_match(languages) or languages[0]


_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# What plain HTTP on the LAN may still serve: the steps to trust the certificate.
_HTTP_LAN_ENDPOINTS = {
    "public.setup",
    "public.ca_certificate",
    "public.healthz",
    "kiosk.pair",
    "public.withdraw",
    "public.withdraw_check",  # the preview and the "done" page the two forms lead to
    "public.withdraw_confirm",
    "public.withdraw_done",
    "static",
}
# ... and the withdrawal forms may be posted there too: the receipt QR opens them on a
# delegate's phone, which has not installed the venue certificate.
_HTTP_LAN_FORMS = {"public.withdraw", "public.withdraw_confirm"}


def is_secure_context() -> bool:
    """True when a browser would grant this page the camera: HTTPS, or plain HTTP on loopback."""
    return request.is_secure or (request_hostname() in _LOOPBACK_HOSTS)


def request_hostname() -> str:
    """The host name or address this request was sent to, without the port."""
    host = request.host
    return host[: host.index("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]


def hostname_for_other_devices() -> str:
    """The host name another device (a delegate's phone) can reach this laptop by: this
    request's, unless it came over loopback (the laptop's own kiosk), then its LAN address."""
    hostname = request_hostname()
    if hostname in _LOOPBACK_HOSTS:
        addresses = tls.lan_addresses()
        if addresses:
            return addresses[0]
    return hostname


def https_url_for_this_request() -> str:
    """The same page on this instance's HTTPS port."""
    hostname = request_hostname()
    query = f"?{request.query_string.decode()}" if request.query_string else ""
    return f"https://{hostname}:{current_app.config['TLS_PORT']}{request.path}{query}"


def redirect_lan_http_to_https() -> Any:
    """Before each request: plain HTTP over the LAN goes to HTTPS (bar the setup steps)."""
    if is_secure_context() or not current_app.config.get("TLS_PORT"):
        return None
    if request.endpoint in _HTTP_LAN_ENDPOINTS and request.method == "GET":
        return None
    if request.endpoint in _HTTP_LAN_FORMS:
        return None
    return redirect(https_url_for_this_request(), code=307 if request.method != "GET" else 302)
