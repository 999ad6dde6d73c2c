"""The tus 1.0 upload server under /kiosk/api/uploads/: the protocol, exactly-once delivery,
and every bad input or full disk refused with nothing stored and nothing lost."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.conftest import KioskDevice, csrf_from, rows
from tests.test_kiosk_api import fake_webm
from tests.tusupload import (
    OFFSET_STREAM,
    TUS,
    UPLOADS_URL,
    encode_metadata,
    sha1_header,
    sha256,
    video_metadata,
)
from voxpop import create_app, jobs, models
from voxpop.cli import main
from voxpop.db import get_db
from voxpop.errors import disk_full_message
from voxpop.reflection.intake import staging, uploads
from voxpop.reflection.intake.staging import StagingArea
from voxpop.reflection.records import upload_limit_bytes
from voxpop.storage import MediaStore

PAYLOAD = fake_webm(250_000)


class TusKiosk:
    """A kiosk speaking tus with its API token (a fresh client: no cookie involved)."""

    def __init__(self, app: Flask, device: KioskDevice, token: str | None = None) -> None:
        self.app, self.device = app, device
        self.client = app.test_client()
        self.auth = {"Authorization": f"Bearer {token or device.token}"}

    def metadata(self, **changes: str | None) -> dict[str, str]:
        return video_metadata(self.device.config, **changes)

    def create(
        self, length: int, metadata: dict[str, str] | str | None = None, **headers: Any
    ) -> Any:
        if metadata is None:
            metadata = self.metadata()
        header = metadata if isinstance(metadata, str) else encode_metadata(metadata)
        sent = self.auth | TUS | {"Upload-Length": str(length), "Upload-Metadata": header}
        data = headers.pop("data", None)
        return self.client.post(UPLOADS_URL, data=data, headers=_merge(sent, headers))

    def start(self, length: int = len(PAYLOAD), **changes: str | None) -> str:
        """Create an upload and return its URL."""
        response = self.create(length, self.metadata(**changes))
        assert response.status_code == 201, response.get_data(as_text=True)
        return str(response.headers["Location"])

    def patch(self, url: str, offset: int, body: bytes, **headers: Any) -> Any:
        sent = self.auth | TUS | {"Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM}
        return self.client.patch(url, data=body, headers=_merge(sent, headers))

    def head(self, url: str, **headers: Any) -> Any:
        return self.client.head(url, headers=_merge(self.auth | TUS, headers))

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.auth)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, headers=self.auth | TUS)

    def send(self, url: str, payload: bytes, chunk: int, start: int = 0) -> list[Any]:
        """PATCH ``payload[start:]`` in chunks; return every answer (all must be 204)."""
        answers = []
        for offset in range(start, len(payload), chunk):
            answer = self.patch(url, offset, payload[offset : offset + chunk])
            assert answer.status_code == 204, answer.get_data(as_text=True)
            answers.append(answer)
        return answers


def _merge(headers: dict[str, str], changes: dict[str, Any]) -> dict[str, str]:
    """Headers with ``changes`` applied; a None value removes a header (names with _ → -)."""
    merged = dict(headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    return merged


@pytest.fixture
def tus(app: Flask, kiosk: KioskDevice) -> TusKiosk:
    return TusKiosk(app, kiosk)


def staged(app: Flask) -> dict[str, int]:
    """Every file in uploads/staging, with its size."""
    folder = app.extensions["voxpop"].store.staging
    return {path.name: path.stat().st_size for path in folder.iterdir()}


def originals(app: Flask) -> list[str]:
    return sorted(path.name for path in app.extensions["voxpop"].store.originals.iterdir())


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def assert_error(response: Any, status: int, words: str = "") -> str:
    """A JSON ``{"error": …}`` answer with this status (and these words in the message)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    message = response.json["error"]
    assert isinstance(message, str) and message.strip()
    assert words in message
    return str(message)


def assert_nothing_stored(app: Flask) -> None:
    assert rows(app, "SELECT id FROM reflection") == []
    assert rows(app, "SELECT id FROM upload") == []
    assert staged(app) == {}
    assert originals(app) == []


def assert_one_reflection_of(app: Flask, payload: bytes) -> dict[str, Any]:
    (reflection,) = rows(app, "SELECT * FROM reflection")
    path = app.extensions["voxpop"].store.path(reflection["original_path"])
    assert path.read_bytes() == payload
    assert reflection["original_sha256"] == sha256(payload) == sha256(path)
    assert reflection["original_bytes"] == len(payload)
    assert originals(app) == [path.name]
    assert staged(app) == {}
    return reflection


# -- the protocol ---------------------------------------------------------------------------


def test_options_says_what_the_server_supports(app: Flask, tus: TusKiosk) -> None:
    response = tus.client.options(UPLOADS_URL, headers=tus.auth)
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) >= {
        "creation",
        "termination",
        "expiration",
        "checksum",
    }
    limit = upload_limit_bytes(10, app.config["UPLOAD_BYTES_PER_SECOND"])
    assert int(response.headers["Tus-Max-Size"]) == limit
    assert "sha1" in response.headers["Tus-Checksum-Algorithm"].split(",")


def test_upload_in_several_patches_becomes_one_reflection(app: Flask, tus: TusKiosk) -> None:
    code = tus.client.get("/kiosk/api/session", headers=tus.auth).json["receipt_codes"][0]
    created = tus.create(len(PAYLOAD), tus.metadata(receipt_code=code))
    assert created.status_code == 201
    assert "Upload-Expires" in created.headers
    assert "Voxpop-Reflection-Id" not in created.headers
    url = created.headers["Location"]
    assert url.startswith(UPLOADS_URL)

    answers = tus.send(url, PAYLOAD, chunk=60_000)
    assert len(answers) == 5
    assert [int(a.headers["Upload-Offset"]) for a in answers] == [
        60_000, 120_000, 180_000, 240_000, len(PAYLOAD)
    ]  # fmt: skip
    for answer in answers[:-1]:
        assert "Voxpop-Reflection-Id" not in answer.headers
        assert "Upload-Expires" in answer.headers
    last = answers[-1]
    reflection = assert_one_reflection_of(app, PAYLOAD)
    assert last.headers["Voxpop-Reflection-Id"] == str(reflection["id"])
    assert last.headers["Voxpop-Receipt-Code"] == code == reflection["receipt_code"]
    assert reflection["status"] == "received"
    assert reflection["kind"] == "video"
    assert reflection["kiosk_id"] == tus.device.kiosk_id
    assert reflection["original_container"] == "webm"
    assert reflection["client_duration_ms"] == 2500
    assert json.loads(reflection["capture"]) == {
        "via": "tus",
        "recorder_mime": "video/webm;codecs=vp8,opus",
    }
    (consent,) = rows(app, "SELECT archive, reel, online, show_name FROM consent")
    assert consent == {"archive": 1, "reel": 0, "online": 1, "show_name": 0}
    assert rows(app, "SELECT kind, target_id, status FROM job") == [
        {"kind": "process_reflection", "target_id": reflection["id"], "status": "queued"}
    ]
    # The code is no longer held in reserve for this kiosk: it belongs to the reflection.
    assert rows(app, "SELECT code FROM receipt_reservation WHERE code = ?", code) == []
    (upload,) = rows(app, "SELECT * FROM upload")
    assert upload["reflection_id"] == reflection["id"] and upload["finished_at"]
    assert upload["metadata"] == "{}" and upload["metadata_header"] == ""


def test_head_gives_the_offset_on_disk_then_the_receipt(app: Flask, tus: TusKiosk) -> None:
    metadata = tus.metadata()
    url = tus.create(len(PAYLOAD), metadata).headers["Location"]
    path = app.extensions["voxpop"].store.staging / f"{upload_id(url)}.part"

    head = tus.head(url)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Cache-Control"] == "no-store"

    tus.send(url, PAYLOAD[:100_000], chunk=40_000)
    head = tus.head(url)
    assert int(head.headers["Upload-Offset"]) == path.stat().st_size == 100_000
    assert head.headers["Upload-Length"] == str(len(PAYLOAD))
    assert head.headers["Upload-Metadata"] == encode_metadata(metadata)
    assert "Upload-Expires" in head.headers
    assert "Voxpop-Reflection-Id" not in head.headers
    progress = tus.get(url)
    assert progress.status_code == 202
    assert progress.json == {"status": "uploading", "offset": 100_000, "length": len(PAYLOAD)}

    last = tus.patch(url, 100_000, PAYLOAD[100_000:])
    assert last.status_code == 204
    head = tus.head(url)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(PAYLOAD))
    assert head.headers["Voxpop-Reflection-Id"] == last.headers["Voxpop-Reflection-Id"]
    assert head.headers["Voxpop-Receipt-Code"] == last.headers["Voxpop-Receipt-Code"]
    assert not path.exists()
    done = tus.get(url)
    assert done.status_code == 200
    assert done.json == {
        "id": int(last.headers["Voxpop-Reflection-Id"]),
        "receipt_code": last.headers["Voxpop-Receipt-Code"],
        "status": "received",
    }


def test_resend_of_a_finished_recording_answers_the_same_reflection(
    app: Flask, tus: TusKiosk
) -> None:
    metadata = tus.metadata()
    url = tus.create(len(PAYLOAD), metadata).headers["Location"]
    (last,) = tus.send(url, PAYLOAD, chunk=len(PAYLOAD))
    before = (rows(app, "SELECT * FROM reflection"), rows(app, "SELECT * FROM job"))

    again = tus.create(len(PAYLOAD), metadata)  # the answer was lost: the kiosk starts over
    assert again.status_code == 201
    assert again.headers["Voxpop-Reflection-Id"] == last.headers["Voxpop-Reflection-Id"]
    assert again.headers["Voxpop-Receipt-Code"] == last.headers["Voxpop-Receipt-Code"]
    assert again.headers["Upload-Offset"] == str(len(PAYLOAD))
    assert (rows(app, "SELECT * FROM reflection"), rows(app, "SELECT * FROM job")) == before
    assert_one_reflection_of(app, PAYLOAD)
    # A late PATCH of the last (empty) bit is answered too, and stores nothing.
    late = tus.patch(again.headers["Location"], len(PAYLOAD), b"")
    assert late.status_code == 204
    assert late.headers["Voxpop-Reflection-Id"] == last.headers["Voxpop-Reflection-Id"]
    assert_one_reflection_of(app, PAYLOAD)


def test_resend_of_an_unfinished_recording_resumes_the_same_upload(
    app: Flask, tus: TusKiosk
) -> None:
    metadata = tus.metadata()
    url = tus.create(len(PAYLOAD), metadata).headers["Location"]
    tus.send(url, PAYLOAD[:50_000], chunk=50_000)

    again = tus.create(len(PAYLOAD), metadata)
    assert again.status_code == 201
    assert again.headers["Location"] == url
    assert tus.head(url).headers["Upload-Offset"] == "50000"
    assert len(rows(app, "SELECT id FROM upload")) == 1
    assert_error(tus.create(len(PAYLOAD) + 1, metadata), 409, "different size")

    tus.send(url, PAYLOAD, chunk=100_000, start=50_000)
    assert_one_reflection_of(app, PAYLOAD)


def test_a_terminated_upload_leaves_nothing(app: Flask, tus: TusKiosk) -> None:
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    assert tus.delete(url).status_code == 204
    assert_nothing_stored(app)
    assert tus.head(url).status_code == 404
    assert_error(tus.get(url), 404, "does not exist")


@pytest.mark.parametrize(
    ("checksum", "status", "offset"),
    [
        pytest.param(sha1_header(PAYLOAD[:1000]), 204, 1000, id="good"),
        pytest.param(sha1_header(b"other bytes"), 460, 0, id="bad"),
        pytest.param("sha1 not*base64", 400, 0, id="malformed"),
        pytest.param("crc32 AAAAAA==", 400, 0, id="unsupported"),
    ],
)
def test_checksum(app: Flask, tus: TusKiosk, checksum: str, status: int, offset: int) -> None:
    url = tus.start()
    answer = tus.patch(url, 0, PAYLOAD[:1000], Upload_Checksum=checksum)
    if status == 204:
        assert answer.status_code == 204
        assert answer.headers["Upload-Offset"] == "1000"
    else:
        assert_error(answer, status)
    assert tus.head(url).headers["Upload-Offset"] == str(offset)
    assert staged(app) == {f"{upload_id(url)}.part": offset}


# -- bad input: a clear 4xx and nothing stored ------------------------------------------------

LIMIT = upload_limit_bytes(10, 1_000_000)  # the test event: 10 s clips at the default rate


@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ({"metadata": ""}, 400, "recording id"),
        ({"metadata": "perspective !!!"}, 400, "could not be read"),
        ({"metadata": "perspective dm9sdW50ZWVy,perspective dm9sdW50ZWVy"}, 400, "could not"),
        ({"metadata": "x" * 9000}, 400, "too long"),
        ({"fields": {"client_id": None}}, 400, "recording id"),
        ({"fields": {"client_id": "not-a-uuid"}}, 400, "recording id"),
        ({"fields": {"perspective": None}}, 400, "perspective"),
        ({"fields": {"perspective": "astronaut"}}, 400, "perspective"),
        ({"fields": {"prompt": None}}, 400, "prompts shown"),
        ({"fields": {"prompt": "99999"}}, 400, "question"),
        ({"fields": {"kind": None}}, 400, "video"),
        ({"fields": {"kind": "text"}}, 400, "Only video and audio"),
        ({"fields": {"consent": None}}, 400, "archive"),
        ({"fields": {"consent": "online,reel"}}, 400, "archive"),
        ({"fields": {"consent": "archive,spam"}}, 400, "not understood"),
        ({"fields": {"consent": "archive,name"}}, 400, "first name"),
        ({"fields": {"consent_version": "0" * 64}}, 400, "consent wording"),
        ({"length": LIMIT + 1}, 413, "too large"),
        ({"length": 0}, 400, "empty"),
        ({"headers": {"Upload-Length": None}}, 400, "Upload-Length"),
        ({"headers": {"Upload-Length": "-5"}}, 400, "Upload-Length"),
        ({"headers": {"Upload-Length": "lots"}}, 400, "Upload-Length"),
        ({"headers": {"Upload-Defer-Length": "1"}}, 400, "length"),
        ({"headers": {"Tus-Resumable": None}}, 412, "tus"),
        ({"headers": {"Tus-Resumable": "0.2.2"}}, 412, "tus"),
        ({"body": b"early bytes"}, 400, "after starting"),
    ],
    ids=lambda value: json.dumps(value, default=str)[:60] if isinstance(value, dict) else None,
)
def test_bad_creation_is_refused_before_any_byte(
    app: Flask, tus: TusKiosk, case: dict[str, Any], status: int, words: str
) -> None:
    metadata = case.get("metadata", tus.metadata(**case.get("fields", {})))
    headers = {name.replace("-", "_"): value for name, value in case.get("headers", {}).items()}
    if "body" in case:
        headers["data"] = case["body"]
    answer = tus.create(case.get("length", len(PAYLOAD)), metadata, **headers)
    message = assert_error(answer, status, words)
    if status == 412:
        assert answer.headers["Tus-Version"] == "1.0.0"
    if "fields" in case and status == 400:
        assert answer.json["field"] in {*case["fields"], "first_name", "consent"}, message
    assert_nothing_stored(app)


BAD_PATCHES: list[Any] = [
    pytest.param({"offset": 0}, 409, "byte 1000", id="offset-behind"),
    pytest.param({"offset": 5000}, 409, "byte 1000", id="offset-ahead"),
    pytest.param({"body": PAYLOAD[1000:] + b"extra"}, 413, "More bytes", id="past-length"),
    pytest.param(
        {"body": PAYLOAD[1000:] + b"extra", "stream": True},
        413,
        "More bytes",
        id="past-length-streamed",
    ),  # fmt: skip
    pytest.param({"headers": {"Upload-Offset": None}}, 400, "Upload-Offset", id="no-offset"),
    pytest.param({"headers": {"Upload-Offset": "ten"}}, 400, "Upload-Offset", id="bad-offset"),
    pytest.param({"headers": {"Tus-Resumable": None}}, 412, "tus", id="no-tus-resumable"),
    pytest.param(
        {"headers": {"Content-Type": "application/octet-stream"}},
        415,
        OFFSET_STREAM,
        id="content-type",
    ),  # fmt: skip
    pytest.param({"headers": {"Content-Type": None}}, 415, OFFSET_STREAM, id="no-content-type"),
    pytest.param(
        {"headers": {"Upload-Checksum": sha1_header(b"not these")}},
        460,
        "checksum",
        id="checksum",
    ),  # fmt: skip
    pytest.param({"headers": {"Authorization": None}}, 401, "paired", id="no-token"),
    pytest.param({"headers": {"Authorization": "Bearer nope"}}, 401, "paired", id="bad-token"),
    pytest.param({"other_kiosk": True}, 404, "does not exist", id="other-kiosk"),
    pytest.param({"method": "PUT"}, 405, "not allowed", id="put"),
    pytest.param({"method": "POST"}, 405, "not allowed", id="post-without-override"),
]


class Trickle(io.RawIOBase):
    """A request body that arrives 64 KiB at a time, as from a socket."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.data.seek(offset, whence)

    def tell(self) -> int:
        return self.data.tell()

    def readinto(self, buffer: Any) -> int:
        block = self.data.read(min(len(buffer), 64 * 1024))
        buffer[: len(block)] = block
        return len(block)


@pytest.mark.parametrize(("case", "status", "words"), BAD_PATCHES)
def test_bad_patch_loses_nothing_of_the_upload(
    app: Flask, tus: TusKiosk, case: dict[str, Any], status: int, words: str
) -> None:
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    body = case.get("body", PAYLOAD[1000:2000])
    sender = tus
    if case.get("other_kiosk"):
        sender = TusKiosk(app, KioskDevice(app))
    headers = {"Upload-Offset": case.get("offset", 1000), **case.get("headers", {})}
    headers = {name.replace("-", "_"): value for name, value in headers.items()}
    if case.get("stream"):
        # No Content-Length, as a chunked request: the server only sees the excess on reading.
        sent = _merge(sender.auth | TUS | {"Content-Type": OFFSET_STREAM}, headers)
        answer = sender.client.patch(
            url,
            input_stream=Trickle(body),
            headers=sent,
            environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
        )
    elif "method" in case:
        sent = _merge(sender.auth | TUS | {"Content-Type": OFFSET_STREAM}, headers)
        answer = sender.client.open(url, method=case["method"], data=body, headers=sent)
    else:
        answer = sender.patch(url, 1000, body, **headers)
    assert_error(answer, status, words)
    if status == 409:
        assert answer.headers["Upload-Offset"] == "1000"

    # Nothing was stored, and nothing of what had arrived was lost: the upload goes on.
    assert rows(app, "SELECT id FROM reflection") == []
    assert originals(app) == []
    path = app.extensions["voxpop"].store.staging / f"{upload_id(url)}.part"
    assert path.read_bytes() == PAYLOAD[:1000]
    assert tus.head(url).headers["Upload-Offset"] == "1000"
    tus.send(url, PAYLOAD, chunk=100_000, start=1000)
    assert_one_reflection_of(app, PAYLOAD)


@pytest.mark.parametrize(("checksum", "kept"), [(False, 1500), (True, 1000)])
def test_a_client_gone_mid_chunk_keeps_what_arrived(
    app: Flask, tus: TusKiosk, checksum: bool, kept: int
) -> None:
    """The connection drops after 500 of 1000 bytes: they are kept for the resume, unless the
    chunk had a checksum (then they cannot be checked, and are dropped)."""
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    headers = tus.auth | TUS | {"Upload-Offset": "1000", "Content-Type": OFFSET_STREAM}
    if checksum:
        headers["Upload-Checksum"] = sha1_header(PAYLOAD[1000:2000])
    answer = tus.client.patch(
        url,
        input_stream=io.BytesIO(PAYLOAD[1000:1500]),
        headers=headers,
        environ_overrides={"CONTENT_LENGTH": "1000"},  # promised 1000, sent 500, hung up
    )
    assert_error(answer, 408, "connection was lost")
    assert tus.head(url).headers["Upload-Offset"] == str(kept)
    path = app.extensions["voxpop"].store.staging / f"{upload_id(url)}.part"
    assert path.read_bytes() == PAYLOAD[:kept]
    tus.send(url, PAYLOAD, chunk=100_000, start=kept)
    assert_one_reflection_of(app, PAYLOAD)


def test_method_override_lets_post_patch_and_delete(app: Flask, tus: TusKiosk) -> None:
    url = tus.start()
    headers = tus.auth | TUS | {"Upload-Offset": "0", "Content-Type": OFFSET_STREAM}
    answer = tus.client.post(
        url, data=PAYLOAD, headers=headers | {"X-HTTP-Method-Override": "PATCH"}
    )
    assert answer.status_code == 204
    assert_one_reflection_of(app, PAYLOAD)
    other = tus.start()
    answer = tus.client.post(other, headers=tus.auth | TUS | {"X-HTTP-Method-Override": "DELETE"})
    assert answer.status_code == 204
    assert tus.head(other).status_code == 404


def test_refused_bytes_are_deleted_and_the_reason_kept(app: Flask, tus: TusKiosk) -> None:
    payload = b"%PDF-1.7 this is not a recording" + b"\0" * 1000
    url = tus.start(len(payload))
    answer = tus.patch(url, 0, payload)
    assert_error(answer, 415, "not a recording")
    assert_nothing_stored_but_the_refusal(app)
    assert tus.head(url).status_code == 422
    assert_error(tus.get(url), 422, "not a recording")
    assert_error(tus.patch(url, len(payload), b""), 422, "not a recording")


def assert_nothing_stored_but_the_refusal(app: Flask) -> None:
    assert rows(app, "SELECT id FROM reflection") == []
    assert staged(app) == {} and originals(app) == []
    (upload,) = rows(app, "SELECT refused_reason, metadata, reflection_id FROM upload")
    assert upload["refused_reason"] and upload["metadata"] == "{}"
    assert upload["reflection_id"] is None


def test_another_kiosk_cannot_see_touch_or_delete_an_upload(app: Flask, tus: TusKiosk) -> None:
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    other = TusKiosk(app, KioskDevice(app))
    for answer in (other.head(url), other.get(url), other.delete(url)):
        assert answer.status_code == 404
    assert_error(other.delete(url), 404, "does not exist")
    assert staged(app) == {f"{upload_id(url)}.part": 1000}
    # The same client_id from another kiosk is not this kiosk's to answer either.
    (last,) = tus.send(url, PAYLOAD, chunk=len(PAYLOAD), start=1000)
    client_id = rows(app, "SELECT client_id FROM reflection")[0]["client_id"]
    answer = other.create(len(PAYLOAD), other.metadata(client_id=client_id))
    assert_error(answer, 400, "recording id")
    assert "Voxpop-Reflection-Id" not in answer.headers
    assert_one_reflection_of(app, PAYLOAD)


def test_a_revoked_kiosk_is_refused_everywhere(app: Flask, tus: TusKiosk) -> None:
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    with app.app_context():
        models.revoke_kiosk(get_db(), tus.device.kiosk_id)
    assert_error(tus.create(len(PAYLOAD)), 401, "revoked")
    assert_error(tus.patch(url, 1000, PAYLOAD[1000:]), 401, "revoked")
    assert tus.head(url).status_code == 401
    assert_error(tus.get(url), 401, "revoked")
    assert_error(tus.delete(url), 401, "revoked")
    assert rows(app, "SELECT id FROM reflection") == []
    assert staged(app) == {f"{upload_id(url)}.part": 1000}


# -- the paired kiosk's cookie, with its CSRF token -------------------------------------------


def session_headers(device: KioskDevice, csrf: bool) -> dict[str, str]:
    return TUS | ({"X-CSRFToken": device.config["csrf_token"]} if csrf else {})


def test_session_kiosk_without_csrf_token_is_refused(app: Flask, kiosk: KioskDevice) -> None:
    metadata = encode_metadata(video_metadata(kiosk.config))
    creation = {"Upload-Length": str(len(PAYLOAD)), "Upload-Metadata": metadata}
    answer = kiosk.client.post(UPLOADS_URL, headers=session_headers(kiosk, False) | creation)
    assert_error(answer, 400, "expired")
    assert_nothing_stored(app)

    answer = kiosk.client.post(UPLOADS_URL, headers=session_headers(kiosk, True) | creation)
    assert answer.status_code == 201
    url = answer.headers["Location"]
    patch = {"Upload-Offset": "0", "Content-Type": OFFSET_STREAM}
    answer = kiosk.client.patch(url, data=PAYLOAD, headers=session_headers(kiosk, False) | patch)
    assert_error(answer, 400, "expired")
    answer = kiosk.client.delete(url, headers=session_headers(kiosk, False))
    assert_error(answer, 400, "expired")
    assert staged(app) == {f"{upload_id(url)}.part": 0}
    # Reading needs no CSRF token: it changes nothing.
    assert kiosk.client.head(url, headers=TUS).headers["Upload-Offset"] == "0"


def test_session_kiosk_sends_the_kiosk_pages_chunk_size(app: Flask, kiosk: KioskDevice) -> None:
    """The kiosk page sends 2 MB chunks with its cookie: more than a plain form may carry."""
    payload = fake_webm(5 * 1024 * 1024)
    metadata = encode_metadata(video_metadata(kiosk.config))
    headers = session_headers(kiosk, True)
    answer = kiosk.client.post(
        UPLOADS_URL,
        headers=headers | {"Upload-Length": str(len(payload)), "Upload-Metadata": metadata},
    )
    url = answer.headers["Location"]
    chunk = 2 * 1024 * 1024
    assert chunk > app.config["MAX_CONTENT_LENGTH"]
    for offset in range(0, len(payload), chunk):
        answer = kiosk.client.patch(
            url,
            data=payload[offset : offset + chunk],
            headers=headers | {"Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM},
        )
        assert answer.status_code == 204, answer.get_data(as_text=True)
    assert answer.headers["Voxpop-Reflection-Id"]
    assert_one_reflection_of(app, payload)


# -- crash recovery, expiry and the sweep -----------------------------------------------------


def test_head_finishes_an_upload_whose_last_byte_arrived_before_a_crash(
    app: Flask, tus: TusKiosk
) -> None:
    """Killed after the last byte was on disk but before it became a reflection: the kiosk's
    HEAD (or its next creation) turns it into one, instead of reporting it complete."""
    url = tus.start()
    path = app.extensions["voxpop"].store.staging / f"{upload_id(url)}.part"
    path.write_bytes(PAYLOAD)  # every byte arrived; the server died before finishing

    head = tus.head(url)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == str(len(PAYLOAD))
    reflection = assert_one_reflection_of(app, PAYLOAD)
    assert head.headers["Voxpop-Reflection-Id"] == str(reflection["id"])
    assert tus.get(url).json["id"] == reflection["id"]
    assert len(rows(app, "SELECT id FROM job")) == 1


def test_creation_finishes_an_upload_whose_last_byte_arrived_before_a_crash(
    app: Flask, tus: TusKiosk
) -> None:
    metadata = tus.metadata()
    url = tus.create(len(PAYLOAD), metadata).headers["Location"]
    (app.extensions["voxpop"].store.staging / f"{upload_id(url)}.part").write_bytes(PAYLOAD)
    again = tus.create(len(PAYLOAD), metadata)
    assert again.status_code == 201
    reflection = assert_one_reflection_of(app, PAYLOAD)
    assert again.headers["Voxpop-Reflection-Id"] == str(reflection["id"])
    assert again.headers["Upload-Offset"] == str(len(PAYLOAD))


def test_finishing_twice_or_while_busy_gives_one_reflection(
    app: Flask, tus: TusKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "FINISH_WAIT_SECONDS", 0.2)
    url = tus.start()
    area = StagingArea(app.extensions["voxpop"].store.staging)
    area.path(upload_id(url)).write_bytes(PAYLOAD)
    with area.writing(upload_id(url)):  # another request holds the file: not finished yet
        head = tus.head(url)
        assert head.headers["Upload-Offset"] == str(len(PAYLOAD))
        assert "Voxpop-Reflection-Id" not in head.headers
        assert_error(tus.patch(url, len(PAYLOAD), b""), 423, "busy")
    assert rows(app, "SELECT id FROM reflection") == []

    with app.test_request_context(), app.app_context():
        db, store = get_db(), app.extensions["voxpop"].store
        event, kiosk = models.current_event(db), models.live_kiosk(db, tus.device.kiosk_id)
        record = uploads.get_upload(db, upload_id(url), kiosk)
        queue = app.extensions["voxpop"].queue
        first = uploads.finish_upload(db, store, queue, event, kiosk, record)
        # The same (stale) record again, as a second request that read it before: same answer.
        assert uploads.finish_upload(db, store, queue, event, kiosk, record) == first
    assert_one_reflection_of(app, PAYLOAD)
    assert len(rows(app, "SELECT id FROM job")) == 1


def test_a_staged_file_never_exists_without_its_row(
    app: Flask, tus: TusKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep deletes staged files with no row, so the row must come first."""
    seen: list[list[dict[str, Any]]] = []
    create = StagingArea.create

    def watching_create(area: StagingArea, upload_id: str) -> None:
        seen.append(rows(app, "SELECT id FROM upload WHERE id = ?", upload_id))
        create(area, upload_id)

    monkeypatch.setattr(StagingArea, "create", watching_create)
    url = tus.start()
    assert seen == [[{"id": upload_id(url)}]]

    def full_disk(area: StagingArea, upload_id: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StagingArea, "create", full_disk)
    answer = tus.create(len(PAYLOAD))
    assert answer.status_code == 507
    assert answer.json["error"] == disk_full_message()
    assert [row["id"] for row in rows(app, "SELECT id FROM upload")] == [upload_id(url)]


def expire(app: Flask, url: str) -> None:
    with app.app_context():
        get_db().execute(
            "UPDATE upload SET expires_at = '2000-01-01T00:00:00+00:00' WHERE id = ?",
            (upload_id(url),),
        )


@pytest.mark.parametrize("method", ["HEAD", "PATCH", "GET"])
def test_an_expired_upload_is_gone(app: Flask, tus: TusKiosk, method: str) -> None:
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    expire(app, url)
    answer = {
        "HEAD": lambda: tus.head(url),
        "PATCH": lambda: tus.patch(url, 1000, PAYLOAD[1000:]),
        "GET": lambda: tus.get(url),
    }[method]()
    assert answer.status_code == 410
    if method != "HEAD":
        assert_error(answer, 410, "expired")
    assert_nothing_stored(app)
    assert tus.head(url).status_code == 404


def test_sweep_removes_expired_uploads_and_keeps_the_rest(app: Flask, tus: TusKiosk) -> None:
    store = app.extensions["voxpop"].store
    old = tus.start()
    tus.send(old, PAYLOAD[:1000], chunk=1000)
    busy = tus.start()
    fresh = tus.start()
    finished = tus.start()
    tus.send(finished, PAYLOAD, chunk=len(PAYLOAD))
    (store.staging / "0123abcd.part").write_bytes(b"left by a crash")
    for url in (old, busy, finished):
        expire(app, url)

    holder = StagingArea(store.staging)
    with app.app_context(), holder.writing(upload_id(busy)):  # a live PATCH is writing it
        assert uploads.sweep_expired(get_db(), store) == 2  # old, and the orphan file

    assert staged(app) == {f"{upload_id(busy)}.part": 0, f"{upload_id(fresh)}.part": 0}
    left = {row["id"] for row in rows(app, "SELECT id FROM upload")}
    assert left == {upload_id(busy), upload_id(fresh)}
    assert len(rows(app, "SELECT id FROM reflection")) == 1  # the finished one's reflection

    later = datetime.now(UTC) + timedelta(seconds=app.config["UPLOAD_EXPIRY_SECONDS"] + 60)
    with app.app_context():
        assert uploads.sweep_expired(get_db(), store, now=later) == 2
    assert_one_reflection_of(app, PAYLOAD)
    assert rows(app, "SELECT id FROM upload") == []


def test_the_sweep_runs_as_a_job_that_comes_back(app: Flask, tus: TusKiosk) -> None:
    url = tus.start()
    expire(app, url)
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        job_id = uploads.schedule_expiry_sweep(get_db(), queue)
        assert uploads.schedule_expiry_sweep(get_db(), queue) == job_id  # one, however often
    jobs.run_job(queue, job_id)
    assert staged(app) == {}
    (job,) = rows(app, "SELECT status, run_after FROM job WHERE id = ?", job_id)
    assert job["status"] == "queued" and job["run_after"]


# -- a full disk --------------------------------------------------------------------------------


def test_creation_on_a_full_disk_answers_507(
    app: Flask, tus: TusKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "free_bytes", lambda _folder: 10 * 1024 * 1024)
    answer = tus.create(len(PAYLOAD))
    assert answer.status_code == 507
    assert answer.json["error"] == disk_full_message()
    assert_nothing_stored(app)


def test_patch_on_a_full_disk_answers_507_and_keeps_the_upload(
    app: Flask, tus: TusKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tus.start()
    tus.send(url, PAYLOAD[:1000], chunk=1000)
    monkeypatch.setattr(staging, "free_bytes", lambda _folder: 1024)
    answer = tus.patch(url, 1000, PAYLOAD[1000:])
    assert answer.status_code == 507
    assert answer.json["error"] == disk_full_message()
    assert staged(app) == {f"{upload_id(url)}.part": 1000}
    monkeypatch.undo()
    tus.send(url, PAYLOAD, chunk=len(PAYLOAD), start=1000)
    assert_one_reflection_of(app, PAYLOAD)


ENOSPC_CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from pathlib import Path
    from voxpop.reflection.intake.staging import DiskFull, StagingArea

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    area = StagingArea(Path(sys.argv[1]))
    area.create("abc")
    first = bytes(range(256)) * 16  # 4 KiB
    reads = iter([first, b""])
    area.append("abc", 0, 10**6, lambda _size: next(reads))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    blocks = iter([b"x" * 40_000, b"y" * 40_000, b""])
    try:
        area.append("abc", len(first), 10**6, lambda _size: next(blocks))
        outcome = "appended"
    except DiskFull as error:
        outcome = "DiskFull: " + str(error)
    print(json.dumps({"outcome": outcome, "size": area.offset("abc"),
                      "intact": area.path("abc").read_bytes() == first}))
    """
)


def test_a_real_file_size_limit_mid_chunk_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", ENOSPC_CHILD, str(tmp_path / "staging")],
        capture_output=True, text=True, timeout=60, check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["outcome"].startswith("DiskFull"), report
    assert report["size"] == 4096 and report["intact"], report


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 30 MB file system (tmpfs), mounted for this test and unmounted after."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(folder)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)


@pytest.mark.parametrize("where", ["checked-before", "mid-write"])
def test_a_real_full_disk(
    tmp_path: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """On a real 30 MB disk: a PATCH that would not fit answers 507, and the staged file keeps
    its bytes and its offset, whether the space check or the write itself finds the disk full."""
    app = create_app(
        {
            "INSTANCE": str(tmp_path / "instance"),
            "UPLOADS": str(small_disk / "uploads"),
            "TESTING": True,
            "QUEUE": "memory",
            "DISK_FREE_FLOOR_BYTES": 0,
            "UPLOAD_BYTES_PER_SECOND": 3_000_000,  # room for a 24 MB recording
        }
    )
    with app.app_context():
        models.create_event(get_db(), "Disk day", date="2026-11-23", venue="Rhyl",
                            languages=["en"], max_clip_seconds=10)  # fmt: skip
    tus = TusKiosk(app, KioskDevice(app))
    mb = 1024 * 1024
    payload = fake_webm(24 * mb)
    url = tus.start(len(payload))
    tus.send(url, payload[: 4 * mb], chunk=2 * mb)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (22 * mb))  # about 4 MB stay free
    assert staging.free_bytes(small_disk) < 8 * mb
    # A new recording is refused up front, before any file is made.
    assert tus.create(8 * mb).status_code == 507
    assert len(staged(app)) == 1

    if where == "mid-write":  # the space check is fooled: the write itself hits ENOSPC
        monkeypatch.setattr(staging, "free_bytes", lambda _folder: 10**12)
    answer = tus.patch(url, 4 * mb, payload[4 * mb : 12 * mb])
    assert answer.status_code == 507, answer.get_data(as_text=True)
    assert answer.json["error"] == disk_full_message()
    path = MediaStore(small_disk / "uploads").staging / f"{upload_id(url)}.part"
    assert path.stat().st_size == 4 * mb
    assert path.read_bytes() == payload[: 4 * mb]
    assert tus.head(url).headers["Upload-Offset"] == str(4 * mb)
    assert len(staged(app)) == 1

    filler.unlink()  # the organiser frees space; the kiosk resumes where it was
    monkeypatch.undo()
    tus.send(url, payload, chunk=4 * mb, start=4 * mb)
    assert_one_reflection_of(app, payload)


# -- partial uploads are swept only by serve ----------------------------------------------------


def test_commands_never_sweep_an_upload_in_flight(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: MediaStore = app.extensions["voxpop"].store
    in_flight = store.open_incoming()  # holds its lock, as a request streaming into it does
    in_flight.write(b"half a recording")
    leftover = store.incoming / "0badc0de.part"  # a crash's leftover: nobody holds it
    leftover.write_bytes(b"abandoned")
    try:
        create_app({"INSTANCE": app.config["INSTANCE"], "UPLOADS": app.config["UPLOADS"],
                    "TESTING": True, "QUEUE": "memory"})  # fmt: skip
        monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
        monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
        for command in (["init"], ["jobs"], ["reflections", "--json"], ["kiosk", "add", "X"]):
            result = CliRunner().invoke(main, command, catch_exceptions=False)
            assert result.exit_code == 0, result.output
        assert sorted(p.name for p in store.incoming.iterdir()) == sorted(
            [in_flight.path.name, leftover.name]
        )
        assert store.sweep_incoming() == 1
        assert [p.name for p in store.incoming.iterdir()] == [in_flight.path.name]
    finally:
        store.discard(in_flight)
    assert store.sweep_incoming() == 0
    assert list(store.incoming.iterdir()) == []


def test_pairing_page_token_is_the_one_the_api_session_gives(kiosk: KioskDevice) -> None:
    """The kiosk refreshes its CSRF token from /kiosk/api/session; that token works too."""
    session = kiosk.client.get("/kiosk/api/session").json
    assert len(session["receipt_codes"]) == 20
    page = kiosk.client.get("/kiosk/").get_data(as_text=True)
    assert csrf_from(page)
    metadata = encode_metadata(video_metadata(kiosk.config))
    answer = kiosk.client.post(
        UPLOADS_URL,
        headers=TUS
        | {
            "X-CSRFToken": session["csrf_token"],
            "Upload-Length": "10",
            "Upload-Metadata": metadata,
        },
    )
    assert answer.status_code == 201
