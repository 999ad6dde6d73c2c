"""POST /kiosk/api/reflections: the contract, and every bad input refused cleanly."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from tests.conftest import KioskDevice, requires_ffmpeg, rows, stored_files
from voxpop import models
from voxpop.db import get_db
from voxpop.reflection.intake.receipts import RECEIPT_ALPHABET

RECEIPT = rf"^[{RECEIPT_ALPHABET}]{{3}}-[{RECEIPT_ALPHABET}]{{3}}$"
WEBM_MAGIC = bytes.fromhex("1a45dfa3")


def fake_webm(size: int = 4096) -> bytes:
    """Bytes that pass the quick content check as WebM (the full probe is not this test's job)."""
    return WEBM_MAGIC + b"\x9f\x42\x86\x81\x01" + b"\0" * (size - 9)


def assert_nothing_stored(app: Any) -> None:
    assert rows(app, "SELECT id FROM reflection") == []
    assert rows(app, "SELECT id FROM consent") == []
    assert stored_files(app) == {"incoming": [], "originals": []}


def test_text_reflection_is_stored_with_consent_and_receipt(app, kiosk: KioskDevice) -> None:
    data = kiosk.form(consent=["archive", "reel", "name"], first_name="  Siân  ")
    response = kiosk.post(data)
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) >= {"id", "receipt_code", "status"}
    assert body["status"] == "received"
    import re

    assert re.match(RECEIPT, body["receipt_code"])
    (reflection,) = rows(app, "SELECT * FROM reflection")
    assert reflection["kind"] == "text"
    assert reflection["text_body"] == data["text"]
    assert reflection["display_name"] == "Siân"
    assert reflection["kiosk_id"] == kiosk.kiosk_id
    assert reflection["original_path"] is None
    (consent,) = rows(app, "SELECT * FROM consent")
    assert (consent["archive"], consent["reel"], consent["online"], consent["show_name"]) == (
        1,
        1,
        0,
        1,
    )
    assert consent["consent_sha256"] == kiosk.config["consent"]["version"]


def test_first_name_is_not_kept_without_name_consent(app, kiosk: KioskDevice) -> None:
    response = kiosk.post(kiosk.form(first_name="Gareth"))
    assert response.status_code == 201
    assert rows(app, "SELECT display_name FROM reflection") == [{"display_name": None}]


def test_media_reflection_streams_to_an_immutable_original(app, kiosk: KioskDevice) -> None:
    payload = fake_webm(200_000)
    data = kiosk.form(kind="video", text=None, duration_ms="2500")
    data["media"] = (io.BytesIO(payload), "recording.webm", "video/webm")
    response = kiosk.post(data)
    assert response.status_code == 201, response.json
    (reflection,) = rows(app, "SELECT * FROM reflection")
    assert reflection["original_sha256"] == hashlib.sha256(payload).hexdigest()
    assert reflection["original_bytes"] == len(payload)
    assert reflection["original_container"] == "webm"
    assert reflection["client_duration_ms"] == 2500
    path = app.extensions["voxpop"].store.path(reflection["original_path"])
    assert path.read_bytes() == payload
    assert path.parent.name == "originals" and path.suffix == ".webm"
    assert not path.stat().st_mode & 0o222, "originals are read-only"
    assert stored_files(app)["incoming"] == []


def test_client_filename_never_becomes_a_path(app, kiosk: KioskDevice, tmp_path: Path) -> None:
    data = kiosk.form(kind="audio", text=None)
    data["media"] = (io.BytesIO(fake_webm()), "../../etc/passwd", "audio/webm")
    response = kiosk.post(data)
    assert response.status_code == 201
    (reflection,) = rows(app, "SELECT original_path FROM reflection")
    assert "passwd" not in reflection["original_path"]
    assert reflection["original_path"].startswith("originals/")
    assert not (tmp_path / "etc").exists()


def test_same_client_id_answers_the_same_reflection(app, kiosk: KioskDevice) -> None:
    data = kiosk.form()
    first = kiosk.post(dict(data))
    again = kiosk.post(dict(data))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json == first.json
    assert len(rows(app, "SELECT id FROM reflection")) == 1


def test_retry_with_media_keeps_one_original(app, kiosk: KioskDevice) -> None:
    data = kiosk.form(kind="video", text=None)
    for expected in (201, 200):
        attempt = dict(data, media=(io.BytesIO(fake_webm()), "recording.webm", "video/webm"))
        assert kiosk.post(attempt).status_code == expected
    assert len(stored_files(app)["originals"]) == 1
    assert stored_files(app)["incoming"] == []


def test_bearer_token_needs_no_csrf(app, kiosk: KioskDevice) -> None:
    anonymous = app.test_client()
    response = anonymous.post(
        "/kiosk/api/reflections",
        data=kiosk.form(),
        headers={"Authorization": f"Bearer {kiosk.token}"},
    )
    assert response.status_code == 201, response.json


def test_receipt_codes_avoid_ambiguous_characters(app, kiosk: KioskDevice) -> None:
    codes = {kiosk.post(kiosk.form()).json["receipt_code"] for _ in range(25)}
    assert len(codes) == 25
    assert not set("".join(codes)) & set("01OIL")


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"perspective": "astronaut"}, 400, "does not know the perspective"),
        ({"perspective": None}, 400, "does not know the perspective"),
        ({"prompt": "9999"}, 400, "does not know the question"),
        # Not a question's number at all: a bad request, not another laptop's question.
        ({"prompt": "not-a-number"}, 400, "Choose one of the prompts shown."),
        ({"prompt": ""}, 400, "Choose one of the prompts shown."),
        ({"prompt": "9" * 30}, 400, "does not know the question"),
        ({"prompt": "\u0661"}, 400, "Choose one of the prompts shown."),  # an Arabic-Indic 1
        ({"kind": "hologram"}, 400, "video, audio or text"),
        ({"consent": []}, 400, "archive"),
        ({"consent": ["reel", "online"]}, 400, "archive"),
        ({"consent": ["archive", "sell-to-advertisers"]}, 400, "not understood"),
        ({"consent": ["archive", "name"], "first_name": "  "}, 400, "first name"),
        ({"consent": ["archive", "name"], "first_name": "x" * 41}, 400, "too long"),
        ({"consent_version": "0" * 64}, 400, "does not know the consent wording"),
        ({"text": ""}, 400, "Write something"),
        ({"text": "   \n  "}, 400, "Write something"),
        ({"text": "a" * 1001}, 400, "under 1000 characters"),
        ({"kind": "video", "text": None}, 400, "did not arrive"),
        ({"kind": "audio", "text": "typed words"}, 400, "cannot include written text"),
        ({"client_id": "not-a-uuid"}, 400, "recording id"),
        ({"client_id": None}, 400, "recording id"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_stored(
    app, kiosk: KioskDevice, fields: dict[str, Any], status: int, message: str
) -> None:
    response = kiosk.post(kiosk.form(**fields))
    assert response.status_code == status
    assert message in response.json["error"]
    assert_nothing_stored(app)


@pytest.mark.parametrize(
    ("kind", "payload", "filename", "status", "message"),
    [
        ("text", fake_webm(), "recording.webm", 400, "cannot include a recording"),
        ("video", b"", "recording.webm", 400, "empty"),
        ("video", b"<html><script>alert(1)</script></html>" * 50, "clip.webm", 415, "not a rec"),
        ("audio", b"MZ\x90\x00" + b"\0" * 1000, "recording.mp4", 415, "not a recording"),
        ("video", b"%PDF-1.7\n" + b"\0" * 1000, "recording.webm", 415, "not a recording"),
    ],
)
def test_bad_media_is_refused_and_nothing_is_stored(
    app, kiosk: KioskDevice, kind: str, payload: bytes, filename: str, status: int, message: str
) -> None:
    data = kiosk.form(kind=kind, text="words" if kind == "text" else None)
    data["media"] = (io.BytesIO(payload), filename, "video/webm")
    response = kiosk.post(data)
    assert response.status_code == status
    assert message in response.json["error"]
    assert_nothing_stored(app)


def test_two_files_are_refused(app, kiosk: KioskDevice) -> None:
    data = kiosk.form(kind="video", text=None)
    data["media"] = [
        (io.BytesIO(fake_webm()), "a.webm", "video/webm"),
        (io.BytesIO(fake_webm()), "b.webm", "video/webm"),
    ]
    response = kiosk.post(data)
    assert response.status_code == 400
    assert "one recording" in response.json["error"]
    assert_nothing_stored(app)


def test_upload_over_the_limit_is_refused_while_streaming(app, kiosk: KioskDevice) -> None:
    app.config["UPLOAD_BYTES_PER_SECOND"] = 10_000  # limit: 10 s x 1.25 x 10 kB + 2 MiB
    data = kiosk.form(kind="video", text=None)
    data["media"] = (io.BytesIO(fake_webm(3 * 1024 * 1024)), "big.webm", "video/webm")
    response = kiosk.post(data)
    assert response.status_code == 413
    assert "too large" in response.json["error"]
    assert_nothing_stored(app)


def test_upload_is_streamed_not_held_in_memory(app, kiosk: KioskDevice) -> None:
    payload = fake_webm(12 * 1024 * 1024)
    data = kiosk.form(kind="video", text=None)
    data["media"] = (io.BytesIO(payload), "recording.webm", "video/webm")
    builder = EnvironBuilder(
        path="/kiosk/api/reflections",
        method="POST",
        data=data,
        headers={"X-CSRFToken": kiosk.config["csrf_token"]},
    )
    environ = builder.get_environ()  # the request body is built before measuring
    kiosk.client._add_cookies_to_wsgi(environ)
    statuses: list[str] = []
    tracemalloc.start()
    try:
        body = b"".join(app.wsgi_app(environ, lambda status, headers: statuses.append(status)))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert statuses[0].startswith("201"), body
    assert peak < len(payload) / 4, f"peak {peak} bytes for a {len(payload)} byte upload"
    (reflection,) = rows(app, "SELECT original_sha256 FROM reflection")
    assert reflection["original_sha256"] == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}],
)
def test_missing_or_invalid_kiosk_credentials(app, kiosk: KioskDevice, headers) -> None:
    anonymous = app.test_client()
    response = anonymous.post("/kiosk/api/reflections", data=kiosk.form(), headers=headers)
    assert response.status_code == 401
    assert "not paired" in response.json["error"]
    assert_nothing_stored(app)


def test_paired_session_without_csrf_token_is_refused(app, kiosk: KioskDevice) -> None:
    response = kiosk.post(kiosk.form(), csrf=False)
    assert response.status_code == 400
    assert "expired" in response.json["error"]
    assert_nothing_stored(app)


def test_revoked_kiosk_is_refused_with_a_clear_message(app, kiosk: KioskDevice) -> None:
    with app.app_context():
        models.revoke_kiosk(get_db(), kiosk.kiosk_id)
    for response in (
        kiosk.post(kiosk.form()),
        app.test_client().post(
            "/kiosk/api/reflections",
            data=kiosk.form(),
            headers={"Authorization": f"Bearer {kiosk.token}"},
        ),
    ):
        assert response.status_code == 401
        assert "revoked" in response.json["error"]
    assert_nothing_stored(app)


def test_earlier_consent_version_is_recorded_when_it_changed_mid_session(
    app, kiosk: KioskDevice
) -> None:
    shown = kiosk.config["consent"]["version"]
    with app.app_context():
        newer = models.add_consent_version(
            get_db(), 1, {"en": {"intro": "New words", "archive": "Keep it"}}
        )
    assert newer.sha256 != shown
    assert kiosk.post(kiosk.form()).status_code == 201
    (consent,) = rows(app, "SELECT consent_sha256 FROM consent")
    assert consent["consent_sha256"] == shown


@requires_ffmpeg
@pytest.mark.media
@pytest.mark.parametrize(("clip", "kind"), [("webm_clip", "video"), ("m4a_clip", "audio")])
def test_real_recordings_are_stored_byte_for_byte(
    app, kiosk: KioskDevice, request: pytest.FixtureRequest, clip: str, kind: str
) -> None:
    path: Path = request.getfixturevalue(clip)
    data = kiosk.form(kind=kind, text=None, client_id=str(uuid.uuid4()))
    data["media"] = (path.open("rb"), path.name, "application/octet-stream")
    response = kiosk.post(data)
    assert response.status_code == 201, response.json
    (reflection,) = rows(app, "SELECT original_path, original_container FROM reflection")
    stored = app.extensions["voxpop"].store.path(reflection["original_path"])
    assert stored.read_bytes() == path.read_bytes()
    assert reflection["original_container"] == ("webm" if path.suffix == ".webm" else "mp4")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"perspective": "astronaut"}, "perspective"),
        ({"prompt": "9999"}, "prompt"),
        ({"consent": []}, "consent"),
        ({"text": ""}, "text"),
        ({"kind": "video", "text": None}, "media"),
    ],
)
def test_errors_name_the_field_so_the_kiosk_can_go_back(kiosk, fields, field) -> None:
    assert kiosk.post(kiosk.form(**fields)).json["field"] == field
