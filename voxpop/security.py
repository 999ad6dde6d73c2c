"""Security headers for every answer, decided in one place (an ``after_request`` hook).

Why a hook and not Flask-Talisman: voxpop's rules depend on the route and on the host, which
Talisman configures per app (or per view, by decorating every one): camera and microphone
only for ``/kiosk/``, ``no-referrer`` only on the withdrawal pages, ``no-store`` by audience
(read from the roles every view declares), HSTS only for the public HTTPS host and never for
the plain-HTTP LAN address the receipt QR opens, and a ``form-action`` that allows the
pairing form's redirect to this host's HTTPS port. Talisman's own HTTPS redirect and its
app-wide HSTS would break that LAN page. The whole policy is ~60 lines here, tested over every
route in the URL map (``tests/test_security_headers.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from voxpop.web import request_hostname

# No inline script or style anywhere: templates carry data in `data-*` attributes or
# `<script type="application/json">` blocks, and scripts set CSS variables through the CSSOM
# (`element.style.setProperty`), which a CSP does not restrict.
CONTENT_SECURITY_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",  # QR codes drawn on the kiosk (data:), previews (blob:)
    "media-src": "'self' blob:",  # the kiosk plays a take back from a blob: URL
    "connect-src": "'self'",  # the kiosk's API and tus uploads
    "worker-src": "'self'",  # /kiosk/sw.js
    "font-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}

# The static export (meta tags; frame-ancestors is ignored there): no scripts at all, and
# captions inlined as data: URLs.
EXPORT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'"
)
EXPORT_REFERRER_POLICY = "no-referrer"

_NO_DEVICES = "camera=(), microphone=(), geolocation=(), display-capture=(), payment=(), usb=()"
_KIOSK_DEVICES = (
    "camera=(self), microphone=(self), geolocation=(), display-capture=(), payment=(), usb=()"
)
_HSTS = "max-age=31536000"

# Public endpoints whose answers still must not be kept by a browser or proxy: the login
# form, the kiosk page and pairing (a paired device's page), the withdrawal pages.
_NO_STORE_PUBLIC = {
    "auth.login",
    "kiosk.page",
    "kiosk.pair",
    "public.withdraw",
    "public.withdraw_check",
    "public.withdraw_confirm",
    "public.withdraw_done",
}


def content_security_policy() -> str:
    """The CSP for this request: the fixed policy plus where its forms may go."""
    form_action = "'self'"
    tls_port = current_app.config.get("TLS_PORT")
    if tls_port and not request.is_secure:
        # Plain-HTTP pages post to themselves and are redirected to HTTPS (pairing).

        form_action += f" https://{request_hostname()}:{tls_port}"
    policy = {**CONTENT_SECURITY_POLICY, "form-action": form_action}
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def _is_private(endpoint: str | None) -> bool:
    if endpoint is None or endpoint == "static":
        return False
    if endpoint in _NO_STORE_PUBLIC:
        return True
    view = current_app.view_functions.get(endpoint)
    roles = set(getattr(view, "voxpop_roles", ()))
    return bool(roles) and "anonymous" not in roles


def _sends_hsts() -> bool:
    """Only for the configured public HTTPS host, over HTTPS: never for the LAN address."""
    base = urlsplit(str(current_app.config.get("PUBLIC_BASE_URL") or ""))
    if base.scheme != "https" or not base.hostname or not request.is_secure:
        return False

    return request_hostname().strip("[]").lower() == base.hostname.lower()


def add_security_headers(response: Response) -> Response:
    """Set the security headers on an answer (an ``after_request`` hook)."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy()
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    kiosk = request.path == "/kiosk" or request.path.startswith("/kiosk/")
    headers["Permissions-Policy"] = _KIOSK_DEVICES if kiosk else _NO_DEVICES
    withdrawal = request.path == "/withdraw" or request.path.startswith("/withdraw/")
    headers["Referrer-Policy"] = "no-referrer" if withdrawal else "same-origin"
    staff = g.get("user") is not None and request.endpoint != "static"
    # Private pages and anything shown to a logged-in person: never kept in a cache.
    if _is_private(request.endpoint) or staff:
        headers["Cache-Control"] = "no-store"
    if _sends_hsts():
        headers["Strict-Transport-Security"] = _HSTS
    return response


def init_app(app: Flask) -> None:
    """Install the headers hook."""
    app.after_request(add_security_headers)
