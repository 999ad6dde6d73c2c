"""The tus 1.0 resumable upload protocol under ``/kiosk/api/uploads/``.

Core protocol plus the creation, termination, expiration and checksum extensions, so any tus
client (tus-js-client in the kiosk, tuspy, Uppy) can send a recording. Authentication is the
kiosk API's: a kiosk's bearer token, or a paired kiosk's session cookie plus its CSRF token on
every request that changes something. voxpop's own additions are two answer headers on the
request that completes an upload (and on a HEAD or creation that finds it already finished):
``Voxpop-Reflection-Id`` and ``Voxpop-Receipt-Code``; a GET of the upload's URL answers what
``POST /kiosk/api/reflections`` answers.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import ClientDisconnected

from voxpop import models
from voxpop.auth import kiosk_required
from voxpop.db import get_db
from voxpop.errors import InsufficientStorage, VoxpopError, disk_full_message
from voxpop.extensions import csrf, kiosk_upload_limits
from voxpop.reflection.intake import uploads
from voxpop.reflection.intake.staging import (
    CHECKSUM_ALGORITHMS,
    Checksum,
    ChecksumMismatch,
    ClientGone,
    DiskFull,
    OffsetMismatch,
    PastLength,
    StagingArea,
    UploadBusy,
    ensure_room,
)
from voxpop.reflection.records import recording_limit_bytes, upload_limit_bytes
from voxpop.web import require_event

bp = Blueprint("intake", __name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration,checksum"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


def _bytes_per_second() -> int:
    return int(current_app.config["UPLOAD_BYTES_PER_SECOND"])


def _largest_upload() -> int:
    """The most a request body may hold: sized for the longest clip any event has allowed
    (an upload may be for an earlier event; its own limit was checked when it was created)."""
    return upload_limit_bytes(models.longest_clip_any_event(get_db()), _bytes_per_second())


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso), usegmt=True)


def _tus_error(message: str, status: int, **headers: str) -> VoxpopError:
    return VoxpopError(message, status=status, headers=headers)


def _check_protocol() -> None:
    """Every request but OPTIONS names the protocol version it speaks (412 otherwise)."""
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise _tus_error(
            _("This upload address speaks the tus protocol, version 1.0.0."),
            412,
            **{"Tus-Version": TUS_VERSION},
        )


def _protect_session() -> None:
    if g.kiosk_via == "session":
        csrf.protect()


def _header_int(name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit():
        raise _tus_error(_("The %(name)s header is missing or not a number.", name=name), 400)
    return int(raw)


def _voxpop_headers(answer: dict[str, Any] | None) -> dict[str, str]:
    if not answer:
        return {}
    return {
        "Voxpop-Reflection-Id": str(answer["id"]),
        "Voxpop-Receipt-Code": str(answer["receipt_code"]),
    }


@bp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Expose-Headers"] = (
        "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable,"
        " Voxpop-Reflection-Id, Voxpop-Receipt-Code"
    )
    return response


@bp.route("/", methods=["POST", "OPTIONS"])
@csrf.exempt  # checked after authentication, for cookie-borne requests only
@kiosk_required
@kiosk_upload_limits
def create_upload() -> Any:
    """OPTIONS: what this server supports. POST: start an upload (the tus creation extension)."""
    event = require_event()
    if request.method == "OPTIONS":
        return Response(
            status=204,
            headers={
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                # What a recording made now may be (one from an earlier event may be larger).
                "Tus-Max-Size": str(recording_limit_bytes(event, event, _bytes_per_second())),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            },
        )
    _check_protocol()
    _protect_session()
    if request.headers.get("Upload-Defer-Length"):
        raise _tus_error(_("Send the recording's length when starting the upload."), 400)
    length = _header_int("Upload-Length")
    if request.content_length:
        raise _tus_error(_("Send the recording's bytes after starting the upload."), 400)
    config = current_app.config
    store = current_app.extensions["voxpop"].store
    db = get_db()
    upload, answer = uploads.create_upload(
        db,
        store,
        event,
        g.kiosk,
        length,
        request.headers.get("Upload-Metadata", ""),
        bytes_per_second=_bytes_per_second(),
        expiry_seconds=config["UPLOAD_EXPIRY_SECONDS"],
        disk_floor_bytes=config["DISK_FREE_FLOOR_BYTES"],
    )
    if answer is None and not upload.finished:
        # The same recording again, already complete on disk (a crash before it was finished).
        answer = _finish_if_complete(upload)
        if answer is not None:
            upload = uploads.get_upload(db, upload.id, g.kiosk)
    headers = {
        "Location": url_for("intake.upload", upload_id=upload.id, _external=False),
        **_voxpop_headers(answer),
    }
    if not upload.finished:
        headers["Upload-Expires"] = _http_date(upload.expires_at)
    else:
        headers["Upload-Offset"] = str(upload.length)
    return Response(status=201, headers=headers)


@bp.route("/<upload_id>", methods=["GET", "PATCH", "DELETE", "POST"])
@csrf.exempt  # checked after authentication, for cookie-borne requests only
@kiosk_required
@kiosk_upload_limits
def upload(upload_id: str) -> Any:
    """One upload: HEAD (offset), PATCH (bytes), DELETE (termination), GET (the reflection)."""
    method = request.method
    if method == "POST":  # tus clients behind proxies that only pass GET and POST
        method = request.headers.get("X-HTTP-Method-Override", "").upper()
        if method not in ("PATCH", "DELETE"):
            raise _tus_error(_("That action is not allowed here."), 405)
    if not upload_id.isalnum() or len(upload_id) > 64:
        raise _tus_error(_("This upload does not exist."), 404)
    # Before anything reads the body (the CSRF check of a cookie-borne request parses it):
    # the app's default limit is for small forms, far below a recording's chunk.
    request.max_content_length = _largest_upload()
    db = get_db()
    record = uploads.get_upload(db, upload_id, g.kiosk)
    if record.expired():
        uploads.terminate(db, current_app.extensions["voxpop"].store, record)
        raise _tus_error(
            _("This upload expired before it was finished. Send the recording again."), 410
        )
    if method == "GET" and request.method == "GET":
        return _get(record)
    _check_protocol()
    if method == "HEAD":
        return _head(record)
    _protect_session()
    if method == "DELETE":
        return _delete(record)
    return _patch(record)


def _refused(record: uploads.Upload) -> VoxpopError:
    # 422, not 410: "refused" is final (the kiosk keeps the recording and stops retrying),
    # while "expired" (410) means: send it again as a new upload.
    return _tus_error(record.refused_reason or _("This recording was refused."), 422)


def _head(record: uploads.Upload) -> Response:
    if record.refused_reason:
        raise _refused(record)
    if record.finished:
        answer = uploads.reflection_answer(get_db(), record)
        headers = {"Upload-Offset": str(record.length), "Upload-Length": str(record.length)}
        return Response(status=200, headers=headers | _voxpop_headers(answer))
    offset = StagingArea(current_app.extensions["voxpop"].store.staging).offset(record.id)
    if offset is None:
        raise _tus_error(_("This upload's bytes are gone. Send the recording again."), 410)
    answer = _finish_if_complete(record) if offset == record.length else None
    if answer is not None:
        headers = {"Upload-Offset": str(record.length), "Upload-Length": str(record.length)}
        return Response(status=200, headers=headers | _voxpop_headers(answer))
    headers = {
        "Upload-Offset": str(offset),
        "Upload-Length": str(record.length),
        "Upload-Expires": _http_date(record.expires_at),
    }
    if record.metadata_header:
        headers["Upload-Metadata"] = record.metadata_header
    return Response(status=200, headers=headers)


def _finish_if_complete(record: uploads.Upload) -> dict[str, Any] | None:
    """Finish an upload whose every byte is on disk but which is not a reflection yet.

    That happens when the server stopped between the last byte and the reflection: without
    this, a client asking for the offset would see a complete upload and no receipt, forever.
    None when it is not complete, or when another request is still writing it.
    """
    store = current_app.extensions["voxpop"].store
    if StagingArea(store.staging).offset(record.id) != record.length:
        return None
    try:
        return uploads.finish_upload(
            get_db(),
            store,
            current_app.extensions["voxpop"].queue,
            require_event(),
            g.kiosk,
            record,
        )
    except UploadBusy:
        return None


def _read_body(size: int) -> bytes:
    """Read the request body; a client that went away mid-chunk is ClientGone (bytes kept)."""
    try:
        return request.stream.read(size)
    except ClientDisconnected as error:
        raise ClientGone(str(error)) from error


def _get(record: uploads.Upload) -> Any:
    if record.refused_reason:
        raise _refused(record)
    if record.finished:
        answer = uploads.reflection_answer(get_db(), record)
        if answer is None:  # the reflection was since removed
            raise _tus_error(_("This upload does not exist."), 404)
        return jsonify(answer)
    offset = StagingArea(current_app.extensions["voxpop"].store.staging).offset(record.id)
    return jsonify({"status": "uploading", "offset": offset or 0, "length": record.length}), 202


def _delete(record: uploads.Upload) -> Response:
    if record.finished:
        raise _tus_error(
            _(
                "This recording has already been received. To take it back, use its receipt "
                "code on the withdrawal page."
            ),
            403,
        )
    if not uploads.terminate(get_db(), current_app.extensions["voxpop"].store, record):
        raise _tus_error(_("This upload is busy. Try again in a moment."), 423)
    return Response(status=204)


def _patch(record: uploads.Upload) -> Response:
    if record.refused_reason:
        raise _refused(record)
    offset = _header_int("Upload-Offset")
    if record.finished:
        answer = uploads.reflection_answer(get_db(), record)
        if offset == record.length and not request.content_length:
            done = {"Upload-Offset": str(record.length)} | _voxpop_headers(answer)
            return Response(status=204, headers=done)
        raise _tus_error(_("This recording has already been received."), 409)
    content_type = (request.mimetype or "").lower()
    if content_type != OFFSET_CONTENT_TYPE:
        raise _tus_error(_("Upload bytes must be sent as %(type)s.", type=OFFSET_CONTENT_TYPE), 415)
    checksum = None
    if request.headers.get("Upload-Checksum"):
        try:
            checksum = Checksum.parse(request.headers["Upload-Checksum"])
        except ValueError:
            raise _tus_error(_("The checksum is not one this server understands."), 400) from None
    declared = request.content_length
    if declared is not None and offset + declared > record.length:
        raise _tus_error(_("More bytes were sent than the upload's length."), 413)
    config = current_app.config
    store = current_app.extensions["voxpop"].store
    staging = StagingArea(store.staging)
    event = require_event()
    try:
        room = declared if declared is not None else record.length - offset
        ensure_room(store.staging, room, config["DISK_FREE_FLOOR_BYTES"])
        new_offset = staging.append(record.id, offset, record.length, _read_body, checksum)
    except DiskFull:
        raise InsufficientStorage(disk_full_message()) from None
    except UploadBusy:
        raise _tus_error(_("This upload is busy. Try again in a moment."), 423) from None
    except OffsetMismatch as error:
        raise _tus_error(
            _("The upload continues from byte %(offset)d.", offset=error.offset),
            409,
            **{"Upload-Offset": str(error.offset)},
        ) from None
    except PastLength:
        raise _tus_error(_("More bytes were sent than the upload's length."), 413) from None
    except ChecksumMismatch:
        raise _tus_error(
            _("The bytes did not match their checksum; send that part again."), 460
        ) from None
    except ClientGone:
        # 408: worth another go (a kiosk treats most 4xx answers as final).
        raise _tus_error(_("The connection was lost; the upload can be resumed."), 408) from None
    db = get_db()
    headers: dict[str, str] = {"Upload-Offset": str(new_offset)}
    if new_offset < record.length:
        headers["Upload-Expires"] = _http_date(
            uploads.touch(db, record, config["UPLOAD_EXPIRY_SECONDS"])
        )
        return Response(status=204, headers=headers)
    try:
        answer = uploads.finish_upload(
            db, store, current_app.extensions["voxpop"].queue, event, g.kiosk, record
        )
    except UploadBusy:
        raise _tus_error(_("This upload is busy. Try again in a moment."), 423) from None
    return Response(status=204, headers=headers | _voxpop_headers(answer))
