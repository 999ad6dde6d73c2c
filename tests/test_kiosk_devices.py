"""Kiosks as devices: heartbeats in the studio, reserved receipt codes, roving interviewers."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import KioskDevice, csrf_from, rows
from voxpop import models
from voxpop.db import get_db
from voxpop.reflection.intake import receipts
from voxpop.studio import perspectives

pytestmark = pytest.mark.python_only


def heartbeat(kiosk: KioskDevice, report: object, *, csrf: bool = True) -> object:
    headers = {"X-CSRFToken": kiosk.config["csrf_token"]} if csrf else {}
    return kiosk.client.post("/kiosk/api/heartbeat", json=report, headers=headers)


def test_heartbeat_is_shown_to_facilitators_in_the_studio(app, auth, client, kiosk) -> None:
    response = heartbeat(
        kiosk,
        {
            "outbox_count": 3,
            "outbox_bytes": 12_000_000,
            "refused_count": 1,
            "storage_usage": 400,
            "storage_quota": 1000,
            "app_version": "sw-abc123",
        },
    )
    assert response.status_code == 204
    (row,) = rows(app, "SELECT * FROM kiosk WHERE id = ?", kiosk.kiosk_id)
    assert (row["outbox_count"], row["outbox_bytes"], row["refused_count"]) == (3, 12_000_000, 1)
    assert row["app_version"] == "sw-abc123" and row["last_seen_at"]

    auth.login("facilitator")
    page = client.get("/studio/").text
    assert "3 reflections waiting to send" in page
    assert "1 reflection refused by the laptop, kept on the kiosk" in page
    assert "storage 40% used" in page
    assert "last seen" in page


@pytest.mark.parametrize(
    ("report", "stored"),
    [
        ({"outbox_count": -1}, None),  # impossible numbers are dropped, not stored
        ({"outbox_count": "3"}, None),
        ({"outbox_count": True}, None),
        ({"outbox_count": 2**60}, None),
        ({"outbox_count": 0}, 0),
    ],
)
def test_heartbeat_keeps_only_sensible_numbers(app, kiosk, report, stored) -> None:
    assert heartbeat(kiosk, report).status_code == 204
    (row,) = rows(app, "SELECT outbox_count FROM kiosk WHERE id = ?", kiosk.kiosk_id)
    assert row["outbox_count"] == stored


def test_heartbeat_needs_a_kiosk_and_its_csrf_token(app, client, kiosk) -> None:
    assert client.post("/kiosk/api/heartbeat", json={}).status_code == 401
    assert heartbeat(kiosk, {"outbox_count": 1}, csrf=False).status_code == 400
    assert heartbeat(kiosk, ["not", "an", "object"]).status_code == 400
    (row,) = rows(app, "SELECT last_seen_at FROM kiosk WHERE id = ?", kiosk.kiosk_id)
    assert row["last_seen_at"] is None


REFUSED_REPORT = {
    "outbox_count": 0,
    "refused_count": 4,
    "refused": [
        {
            "kind": "video",
            "status": 413,
            "message": "This recording is too large to send (the limit is 5 MB).",
            "created_at": 1_795_000_000_000,  # 2026-11-18T11:06:40Z, in ms as the kiosk counts
        },
        # A kiosk's report is checked like any input: odd values are blanked, never stored.
        {"kind": "<script>", "status": True, "message": "<b>bold</b>\x00\x1b[2J", "created_at": -5},
        {"kind": "audio", "status": 422, "message": "", "created_at": 1e15},  # year 33658
        "not an entry",
    ],
}


def test_refused_reflections_are_shown_with_why_and_can_be_sent_again(
    app, auth, client, kiosk
) -> None:
    assert kiosk.client.get("/kiosk/api/session").json["resend_refused"] is None
    assert heartbeat(kiosk, REFUSED_REPORT).status_code == 204
    (row,) = rows(app, "SELECT refused_detail FROM kiosk WHERE id = ?", kiosk.kiosk_id)
    assert json.loads(row["refused_detail"]) == [
        {
            "kind": "video",
            "status": 413,
            "reason": "This recording is too large to send (the limit is 5 MB).",
            "created_at": "2026-11-18T11:06:40+00:00",
        },
        {"kind": "", "status": None, "reason": "<b>bold</b>[2J", "created_at": None},
        {"kind": "audio", "status": 422, "reason": "", "created_at": None},
    ]

    auth.login("organiser")
    overview = client.get("/studio/").text
    assert "4 reflections refused by the laptop, kept on the kiosk" in overview
    assert f'/studio/settings/kiosks#kiosk-{kiosk.kiosk_id}"' in overview
    page = client.get("/studio/settings/kiosks").text
    refusals = page[page.index(f'id="kiosk-{kiosk.kiosk_id}-refused"') :]
    assert "Video (recorded 18 Nov 2026" in refusals
    assert "the limit is 5 MB" in refusals
    assert "&lt;b&gt;bold&lt;/b&gt;" in refusals and "<b>bold" not in refusals
    assert "and 1 more" in refusals
    assert "waiting for the kiosk" not in refusals
    # Revoking it would strand them until it is paired again: the question says so.
    assert "It last said it holds 4 reflections not yet on this laptop" in refusals

    # The organiser raised the limit, say, and asks: the kiosk's next session call carries it.
    action = f"/studio/settings/kiosks/{kiosk.kiosk_id}/resend"
    answer = client.post(action, data={"csrf_token": csrf_from(page)})
    assert answer.status_code == 302
    asked = kiosk.client.get("/kiosk/api/session").json["resend_refused"]
    assert asked
    (entry,) = [r for r in rows(app, "SELECT * FROM audit_log") if r["action"] == "kiosk.resend"]
    assert json.loads(entry["after"]) == {"resend_requested_at": asked}
    page = client.get("/studio/settings/kiosks").text
    assert "waiting for the kiosk to try again" in page

    # The kiosk says it acted on that request: no longer waiting, and nothing refused now.
    report = {"outbox_count": 0, "refused_count": 0, "refused": [], "resend_done": asked}
    assert heartbeat(kiosk, report).status_code == 204
    page = client.get("/studio/settings/kiosks").text
    assert f'id="kiosk-{kiosk.kiosk_id}-refused"' not in page
    assert "refused by the laptop" not in page


def test_a_facilitator_sees_refusals_but_cannot_ask_for_a_resend(app, auth, client, kiosk) -> None:
    assert heartbeat(kiosk, REFUSED_REPORT).status_code == 204
    auth.login("facilitator")
    overview = client.get("/studio/")
    assert "4 reflections refused by the laptop" in overview.text
    assert "An organiser can see why" in overview.text
    action = f"/studio/settings/kiosks/{kiosk.kiosk_id}/resend"
    assert client.post(action, data={"csrf_token": csrf_from(overview.text)}).status_code == 403
    assert kiosk.client.get("/kiosk/api/session").json["resend_refused"] is None


def test_a_revoked_kiosk_is_not_asked_to_resend(app, auth, client, kiosk) -> None:
    with app.app_context():
        models.revoke_kiosk(get_db(), kiosk.kiosk_id)
    auth.login("organiser")
    page = client.get("/studio/settings/kiosks").text
    answer = client.post(
        f"/studio/settings/kiosks/{kiosk.kiosk_id}/resend", data={"csrf_token": csrf_from(page)}
    )
    assert answer.status_code == 400
    assert "This kiosk was revoked" in answer.text
    (row,) = rows(app, "SELECT resend_requested_at FROM kiosk WHERE id = ?", kiosk.kiosk_id)
    assert row["resend_requested_at"] is None


def test_session_reserves_a_pool_of_receipt_codes_for_this_kiosk(app, kiosk) -> None:
    first = kiosk.client.get("/kiosk/api/session").json
    assert len(first["receipt_codes"]) == receipts.POOL_SIZE
    assert first["csrf_token"] and first["kiosk"]["mode"] == "kiosk"
    # Asking again gives the same codes (still reserved), not a new batch.
    assert kiosk.client.get("/kiosk/api/session").json["receipt_codes"] == first["receipt_codes"]

    shown = first["receipt_codes"][3]
    answer = kiosk.post(kiosk.form(receipt_code=shown)).json
    assert answer["receipt_code"] == shown
    after = kiosk.client.get("/kiosk/api/session").json["receipt_codes"]
    assert shown not in after and len(after) == receipts.POOL_SIZE


def test_a_code_reserved_for_another_kiosk_or_used_is_not_taken(app, kiosk) -> None:
    other = KioskDevice(app)
    theirs = other.client.get("/kiosk/api/session").json["receipt_codes"][0]
    mine = kiosk.post(kiosk.form(receipt_code=theirs)).json["receipt_code"]
    assert mine != theirs
    # A code the kiosk made up (its pool ran dry) is kept when free, refused when used.
    assert kiosk.post(kiosk.form(receipt_code="abc-def")).json["receipt_code"] == "ABC-DEF"
    again = kiosk.post(kiosk.form(receipt_code="ABC-DEF")).json["receipt_code"]
    assert again != "ABC-DEF"
    assert len({r["receipt_code"] for r in rows(app, "SELECT receipt_code FROM reflection")}) == 3


def test_another_kiosks_client_id_reveals_nothing(app, kiosk) -> None:
    data = kiosk.form()
    first = kiosk.post(data)
    assert first.status_code == 201
    other = KioskDevice(app)
    response = other.post({**data, "consent_version": other.config["consent"]["version"]})
    assert response.status_code == 400
    assert first.json["receipt_code"] not in response.text


def test_roving_consent_is_recorded_as_given_aloud_to_the_interviewer(app, auth, client) -> None:
    with app.app_context():
        new = models.create_kiosk(get_db(), "Roving phone", mode="roving")
    token = {"Authorization": f"Bearer {new.api_token}"}
    client = app.test_client()
    device = KioskDevice(app)  # only for a valid form
    form = device.form()
    missing = client.post("/kiosk/api/reflections", data=form, headers=token)
    assert missing.status_code == 400 and missing.json["field"] == "interviewer"
    done = client.post(
        "/kiosk/api/reflections", data={**form, "interviewer": " Gwen  Jones "}, headers=token
    )
    assert done.status_code == 201, done.json
    (consent,) = rows(
        app,
        "SELECT c.method, c.interviewer FROM consent c JOIN reflection r"
        " ON r.id = c.reflection_id WHERE r.kiosk_id = ?",
        new.kiosk.id,
    )
    assert consent == {"method": "verbal", "interviewer": "Gwen Jones"}
    # An ordinary kiosk records consent as ticked by the delegate, whatever it sends.
    device.post(device.form(interviewer="Someone"))
    (own,) = rows(
        app,
        "SELECT c.method, c.interviewer FROM consent c JOIN reflection r"
        " ON r.id = c.reflection_id WHERE r.kiosk_id = ?",
        device.kiosk_id,
    )
    assert own == {"method": "kiosk", "interviewer": None}


def test_review_page_says_how_it_was_recorded_and_who_took_consent(app, auth, client) -> None:
    with app.app_context():
        new = models.create_kiosk(get_db(), "Roving phone", mode="roving")
    device = KioskDevice(app)
    form = device.form(interviewer="Gwen Jones", recorder_mime="video/mp4;codecs=avc1.42E01F")
    done = app.test_client().post(
        "/kiosk/api/reflections", data=form, headers={"Authorization": f"Bearer {new.api_token}"}
    )
    assert done.status_code == 201, done.json
    auth.login("facilitator")
    page = client.get(f"/review/{done.json['id']}").text
    assert "given aloud to the interviewer Gwen Jones" in page
    assert "video/mp4;codecs=avc1.42E01F" in page and "Roving phone" in page


def page_config(kiosk: KioskDevice, query: str = "") -> dict:
    page = kiosk.client.get(f"/kiosk/{query}").text
    found = re.search(
        r'<script type="application/json" id="kiosk-config">(.*?)</script>', page, re.S
    )
    return json.loads(found.group(1))


def test_session_answers_the_config_version_the_page_carries(app, kiosk) -> None:
    version = kiosk.config["config_version"]
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    # Stable: a new CSRF token or another request does not change it.
    assert kiosk.client.get("/kiosk/api/session?lang=en").json["config_version"] == version
    assert page_config(kiosk)["config_version"] == version
    bearer = {"Authorization": f"Bearer {kiosk.token}"}
    assert (
        app.test_client().get("/kiosk/api/session?lang=en", headers=bearer).json["config_version"]
        == version
    )

    # Each language has its own; the session call names the page's language.
    welsh = page_config(kiosk, "?lang=cy")["config_version"]
    assert welsh != version
    assert kiosk.client.get("/kiosk/api/session?lang=cy").json["config_version"] == welsh
    assert kiosk.client.get("/kiosk/api/session?lang=en").json["config_version"] == version

    # An organiser rewords a prompt: both versions change, and the page agrees again.
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        prompt = models.prompts(db, event.id)[0]
        perspectives.edit_prompt(
            db,
            event.id,
            prompt.id,
            {"en": "What changed for you today?", "cy": "Beth newidiodd i chi heddiw?"},
            actor=None,
        )
    changed = kiosk.client.get("/kiosk/api/session?lang=en").json["config_version"]
    assert changed not in (version, welsh)
    assert page_config(kiosk, "?lang=en")["config_version"] == changed
    assert kiosk.client.get("/kiosk/api/session?lang=cy").json["config_version"] != welsh
