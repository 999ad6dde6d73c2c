"""The organiser page: reflections grouped by perspective, safely shown; pairing kiosks."""

from __future__ import annotations

import io

import pytest

from tests.conftest import KioskDevice, csrf_from

pytestmark = pytest.mark.python_only


def test_reflections_are_grouped_by_perspective_and_escaped(app, auth, client, kiosk) -> None:
    kiosk.post(kiosk.form(perspective="volunteer", text="<script>alert('x')</script> & more"))
    kiosk.post(
        kiosk.form(
            perspective="manager",
            consent=["archive", "name"],
            first_name='<img src=x onerror="alert(1)">',
            text="Listen first.",
        )
    )
    video = kiosk.form(perspective="manager", kind="video", text=None)
    video["media"] = (io.BytesIO(bytes.fromhex("1a45dfa3") + b"\0" * 100), "r.webm", "video/webm")
    kiosk.post(video)
    auth.login("facilitator")
    page = client.get("/studio/").text
    assert "3 reflections received" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    volunteer = page.split('id="perspective-volunteer"')[1].split("</section>")[0]
    manager = page.split('id="perspective-manager"')[1].split("</section>")[0]
    assert "alert" in volunteer and "Listen first." in manager
    assert "Processing" in manager
    assert 'id="perspective-government"' in page  # empty perspectives are listed too


def test_facilitator_cannot_pair_kiosks(auth, client) -> None:
    auth.login("facilitator")
    page = client.get("/studio/").text
    assert "Pair a new kiosk" not in page


def test_organiser_pairs_a_kiosk_with_a_qr_code(app, auth, client) -> None:
    auth.login("organiser")
    page = client.get("/studio/")
    response = client.post(
        "/studio/kiosks", data={"name": "Foyer iPad", "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 200
    assert "<svg" in response.text
    link = response.text.split('id="pairing-link">')[1].split("<")[0]
    token = link.rsplit("/", 1)[1]
    tablet = app.test_client()
    pair_page = tablet.get(f"/kiosk/pair/{token}")
    assert "Foyer iPad" in pair_page.text
    tablet.post(f"/kiosk/pair/{token}", data={"csrf_token": csrf_from(pair_page.text)})
    assert tablet.get("/kiosk/").status_code == 200
    assert "Foyer iPad — paired" in client.get("/studio/").text


def test_kiosk_device_cannot_see_the_studio(kiosk: KioskDevice) -> None:
    assert kiosk.client.get("/studio/").status_code == 302


def test_progress_json_reports_processing_and_failures(app, auth, client, kiosk) -> None:
    from voxpop.db import get_db

    first = kiosk.post(kiosk.form()).json["id"]
    second = kiosk.post(kiosk.form()).json["id"]
    with app.app_context():
        db = get_db()
        db.execute("UPDATE job SET status = 'running', progress = 0.42 WHERE target_id = ?",
                   (first,))  # fmt: skip
        db.execute("UPDATE reflection SET status = 'processing' WHERE id = ?", (first,))
        db.execute(
            "UPDATE reflection SET status = 'failed', failure_reason = 'Too long' WHERE id = ?",
            (second,),
        )
    auth.login("facilitator")
    data = client.get("/studio/progress.json").json["reflections"]
    assert data[str(first)] == {"status": "processing", "progress": 0.42, "reason": None,
                                "retry": True}  # fmt: skip
    assert data[str(second)]["reason"] == "Too long" and data[str(second)]["retry"] is True
    page = client.get("/studio/").text
    assert f'data-progress="{first}"' in page and 'value="0.42"' in page
    assert "Could not be processed: Too long" in page
    assert "js/studio.js" in page
