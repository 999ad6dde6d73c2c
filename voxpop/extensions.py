"""The Flask extensions, unbound: CSRF, Babel and the rate limiter.

Blueprints import them from here (never from the app or from each other); ``create_app``
binds them with ``init_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_app_context, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from limits.storage import Storage
from limits.strategies import RateLimiter

from voxpop import ratelimit  # noqa: F401 - registers the sqlite:// storage with limits


def client_address() -> str:
    """The address a request came from (voxpop serves the LAN directly, without a proxy)."""
    return request.remote_addr or "unknown"


class AppLimiter(Limiter):
    """A Limiter whose storage belongs to each app, not to the one module-level object.

    Flask-Limiter keeps the storage on the Limiter itself, so the last app to call
    ``init_app`` would win for every app in the process (the test suite builds many, and a
    command builds one beside a running server's). Each app keeps its own here.
    """

    def init_app(self, app: Flask) -> None:
        """Bind to ``app``, giving it its own storage from its ``RATELIMIT_STORAGE_URI``."""
        self._storage_uri = None  # read from this app's config, not the first app's
        super().init_app(app)
        app.extensions["voxpop.ratelimit"] = (self._storage, self._limiter)

    def _own(self) -> tuple[Storage, RateLimiter] | None:
        if has_app_context():
            return current_app.extensions.get("voxpop.ratelimit")
        return None

    @property
    def storage(self) -> Storage:
        """This app's storage."""
        own = self._own()
        return own[0] if own else super().storage

    @property
    def limiter(self) -> RateLimiter:
        """This app's rate-limiting strategy (on its storage)."""
        own = self._own()
        return own[1] if own else super().limiter


csrf = CSRFProtect()
babel = Babel()
limiter = AppLimiter(key_func=client_address)


F = TypeVar("F", bound=Callable[..., Any])


def kiosk_key() -> str:
    """Rate-limit key of the kiosk making this request (set by ``auth.kiosk_required``)."""
    kiosk = g.get("kiosk")
    return f"kiosk:{kiosk.id}" if kiosk is not None else f"address:{client_address()}"


def config_value(name: str) -> Any:
    """A limit string from the app's config, read when the request is checked."""
    return lambda: current_app.config[name]


def _kiosk_too_fast() -> str:
    return _(
        "This kiosk is sending faster than the laptop allows. Nothing is lost: it keeps the "
        "recording and tries again in a moment."
    )


def _body_bytes() -> int:
    return max(0, request.content_length or 0)


def kiosk_upload_limits(view: F) -> F:
    """Brake one kiosk's uploads: requests and bytes per minute, over the multipart POST and
    every tus request together (``RATELIMIT_KIOSK_REQUESTS``, ``RATELIMIT_KIOSK_BYTES``).

    Goes under ``auth.kiosk_required``, which finds the kiosk the limits are counted for.
    """
    by_bytes = limiter.shared_limit(
        config_value("RATELIMIT_KIOSK_BYTES"),
        scope="kiosk-bytes",
        key_func=kiosk_key,
        cost=_body_bytes,
        methods=["POST", "PATCH"],
        error_message=_kiosk_too_fast,
    )(view)
    return limiter.shared_limit(  # type: ignore[return-value]
        config_value("RATELIMIT_KIOSK_REQUESTS"),
        scope="kiosk-requests",
        key_func=kiosk_key,
        error_message=_kiosk_too_fast,
    )(by_bytes)
