"""Domain errors with a human message, turned into HTTP answers in one place."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from voxpop.storage import is_disk_full


class VoxpopError(Exception):
    """Base of every error a user may see; ``message`` is already in their language."""

    status = 400

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Which input was wrong (API answers carry it so a kiosk can return to that step).
        self.field = field
        if status is not None:
            self.status = status
        # Protocol headers the answer must carry (tus: Upload-Offset, Tus-Version, …).
        self.headers = headers or {}


class InvalidSubmission(VoxpopError):
    """A kiosk sent something we cannot accept (unknown perspective, missing consent, …)."""


class UnsupportedMedia(VoxpopError):
    """The uploaded bytes are not a recording we can read."""

    status = 415


class KioskNotAuthorised(VoxpopError):
    """The request does not come from a paired, live kiosk."""

    status = 401


class InsufficientStorage(VoxpopError):
    """The laptop's disk has no room for what is being sent (nothing was kept half-written)."""

    status = 507


def disk_full_message() -> str:
    """What a kiosk shows when the server's disk is full: the truth, and what happens next."""
    return _(
        "The laptop running voxpop is out of disk space. Your recording is still on this "
        "kiosk and will be sent when there is room. Please tell an organiser."
    )


class NoEvent(VoxpopError):
    """There is no event set up yet."""

    status = 503


def wants_json() -> bool:
    """True for API calls, whose errors are JSON ``{"error": …}`` instead of a page."""
    if "/api/" in request.path:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _answer(status: int, message: str, field: str | None = None) -> Any:
    if wants_json():
        body = {"error": message} | ({"field": field} if field else {})
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Answer domain and HTTP errors with a clear message, as JSON or as a page."""

    @app.errorhandler(VoxpopError)
    def domain_error(error: VoxpopError) -> Any:
        body, status = _answer(error.status, error.message, error.field)
        response = make_response(body, status)
        response.headers.update(error.headers)
        return response

    @app.errorhandler(OSError)
    def os_error(error: OSError) -> Any:
        if not is_disk_full(error):
            raise error
        if request.path.startswith("/kiosk"):
            return _answer(507, disk_full_message())
        # Staff (an export download, a logo upload): nothing of theirs is waiting anywhere.
        return _answer(507, _("The laptop's disk is full: free some space on it, then try again."))

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> Any:
        return _answer(
            400, _("This page has expired or was opened elsewhere. Reload it and try again.")
        )

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> Any:
        limit = request.max_content_length or 0
        return _answer(
            413,
            _(
                "This recording is too large to send (the limit is %(mb)d MB).",
                mb=max(1, limit // 1_000_000),
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        messages = {
            400: _("The request could not be understood."),
            403: _("You do not have permission to see this page."),
            404: _("There is nothing here."),
            405: _("That action is not allowed here."),
            500: _(
                "Something went wrong on our side. Please try again; if it keeps happening, "
                "tell an organiser."
            ),
        }
        code = error.code or 500
        if code == 429 and error.response is not None and not wants_json():
            return error.response  # a page made for it (the login form, saying how long)
        body, status = _answer(code, messages.get(code, error.description or error.name))
        response = make_response(body, status)
        if code in (405, 416):  # Allow / Content-Range tell the client what would work
            for name, value in error.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
        return response
