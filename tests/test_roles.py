"""Every route has a declared audience, and each audience gets only its routes."""

from __future__ import annotations

import pytest

from tests.conftest import KioskDevice

pytestmark = pytest.mark.python_only

# endpoint -> who may use it. A new route missing here fails test_every_route_is_in_the_table.
ROLES_TABLE: dict[str, set[str]] = {
    "static": {"anonymous"},
    "public.home": {"anonymous"},
    "public.healthz": {"anonymous"},
    "public.setup": {"anonymous"},
    "public.ca_certificate": {"anonymous"},
    "public.withdraw": {"anonymous"},
    "auth.login": {"anonymous"},
    "auth.logout": {"organiser", "facilitator"},
    "kiosk.page": {"anonymous"},  # shows the kiosk to kiosks, pairing help to everyone else
    "kiosk.pair": {"anonymous"},  # the one-time token is the credential
    "kiosk.create_reflection": {"kiosk"},
    "kiosk.receipt_qr": {"kiosk"},
    "kiosk.api_session": {"kiosk"},
    "kiosk.heartbeat": {"kiosk"},
    "kiosk.service_worker": {"anonymous"},  # the kiosk's offline cache: static file names only
    # -- resumable uploads (voxpop/reflection/intake/tus.py) --
    "intake.create_upload": {"kiosk"},
    "intake.upload": {"kiosk"},
    "studio.overview": {"organiser", "facilitator"},
    "studio.add_kiosk": {"organiser"},
    "studio.progress": {"organiser", "facilitator"},
    "studio.media": {"organiser", "facilitator"},
    # -- review queue (voxpop/review) --
    "review.queue": {"organiser", "facilitator"},
    "review.detail": {"organiser", "facilitator"},
    "review.captions": {"organiser", "facilitator"},
    "review.set_state": {"organiser", "facilitator"},
    "review.set_star": {"organiser", "facilitator"},
    "review.set_perspective": {"organiser", "facilitator"},
    "review.set_tags": {"organiser", "facilitator"},
    "review.set_name": {"organiser", "facilitator"},
    "review.set_trim": {"organiser", "facilitator"},
    "review.save_transcript": {"organiser", "facilitator"},
    "review.draft_transcript": {"organiser", "facilitator"},
    "review.captions_checked": {"organiser", "facilitator"},
    "studio.captions_gate_setting": {"organiser"},
    "review.retry": {"organiser", "facilitator"},
    "review.bulk": {"organiser", "facilitator"},
    "review.shortcuts": {"organiser", "facilitator"},  # their own single-key shortcuts
    "review.withdraw": {"organiser"},  # on someone's behalf (voxpop/reflection/withdrawal.py)
    "public.withdraw_confirm": {"anonymous"},  # the receipt code is the credential
    "public.withdraw_check": {"anonymous"},  # shows only the code this browser just found
    "public.withdraw_done": {"anonymous"},  # and the one it just withdrew
    # -- studio settings (voxpop/studio/settings.py) --
    "studio.settings_event": {"organiser"},
    "studio.settings_logo": {"organiser"},
    "studio.settings_logo_remove": {"organiser"},
    "studio.branding_logo": {"anonymous"},  # shown on the kiosk's attract screen
    "studio.settings_new_event": {"organiser"},
    "studio.settings_perspectives": {"organiser"},
    "studio.settings_perspective_add": {"organiser"},
    "studio.settings_perspective_edit": {"organiser"},
    "studio.settings_perspective_move": {"organiser"},
    "studio.settings_perspective_retire": {"organiser"},
    "studio.settings_perspective_restore": {"organiser"},
    "studio.settings_prompts": {"organiser"},
    "studio.settings_prompt_add": {"organiser"},
    "studio.settings_prompt_edit": {"organiser"},
    "studio.settings_prompt_move": {"organiser"},
    "studio.settings_prompt_active": {"organiser"},
    "studio.settings_consent": {"organiser"},
    "studio.settings_kiosks": {"organiser"},
    "studio.settings_kiosk_add": {"organiser"},
    "studio.settings_kiosk_rename": {"organiser"},
    "studio.settings_kiosk_revoke": {"organiser"},
    "studio.settings_kiosk_resend": {"organiser"},
    "studio.settings_users": {"organiser"},
    "studio.settings_user_add": {"organiser"},
    "studio.settings_user_role": {"organiser"},
    "studio.settings_user_password": {"organiser"},
    "studio.settings_user_remove": {"organiser"},
    "studio.audit_log": {"organiser"},
    "studio.audit_log_csv": {"organiser"},  # the same entries as CSV
    "studio.compare_page": {"organiser", "facilitator"},  # "In their shoes" (issue 18)
    "studio.export_record": {"organiser"},  # the record of the day (PDF, CSV, JSON)
    "studio.export_reports": {"organiser"},  # the PDFs being made / made (the list, JSON)
    "studio.export_report_download": {"organiser"},
    "studio.export_report_delete": {"organiser"},
    # -- public archive (voxpop/archive) and its downloads (voxpop/studio/exporting.py) --
    "archive.landing": {"anonymous"},
    "archive.search_page": {"anonymous"},  # search over the public archive only
    "archive.perspective": {"anonymous"},
    "archive.colours": {"anonymous"},  # perspective colours as CSS (no inline styles: CSP)
    "archive.reflection_media": {"anonymous"},
    "archive.reflection_captions": {"anonymous"},
    "archive.reel_media": {"anonymous"},
    # -- the live wall for the venue's screen (voxpop/wall/views.py): read-only --
    "wall.page": {"anonymous"},
    "wall.state": {"anonymous"},  # JSON with a version (ETag), polled every 2 s
    "wall.media": {"anonymous"},  # only while the room rule allows it
    "wall.captions": {"anonymous"},
    "studio.export_page": {"organiser"},
    "studio.export_zip": {"organiser"},
    "studio.export_consent_log": {"organiser"},
    # -- dashboard (voxpop/studio/dashboard.py) --
    "studio.dashboard": {"organiser", "facilitator"},
    "studio.dashboard_live": {"organiser", "facilitator"},
    "studio.dashboard_chart": {"organiser", "facilitator"},
    # -- publishing to S3 (voxpop/studio/publishing.py) --
    "studio.publish_page": {"organiser"},
    "studio.publish_settings": {"organiser"},
    "studio.publish_now": {"organiser"},
    "studio.publish_status_json": {"organiser"},
    # -- reel builder (voxpop/studio/reels.py) --
    "studio.reels_page": {"organiser"},
    "studio.reel_create": {"organiser"},
    "studio.reel_builder": {"organiser"},
    "studio.reel_add": {"organiser"},
    "studio.reel_remove": {"organiser"},
    "studio.reel_move": {"organiser"},
    "studio.reel_order": {"organiser"},
    "studio.reel_settings": {"organiser"},
    "studio.reel_render": {"organiser"},
    "studio.reel_delete": {"organiser"},
    "studio.reel_status": {"organiser"},
    "studio.reel_timeline": {"organiser"},
    "studio.reel_file": {"organiser"},
}


def declared(app, endpoint: str) -> set[str]:
    view = app.view_functions[endpoint]
    return set(getattr(view, "voxpop_roles", ()))


def test_every_route_is_in_the_table(app) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ROLES_TABLE)


@pytest.mark.parametrize("endpoint", sorted(ROLES_TABLE))
def test_view_declares_the_roles_in_the_table(app, endpoint: str) -> None:
    assert declared(app, endpoint) == ROLES_TABLE[endpoint]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/studio/", {"anonymous": 302, "kiosk": 302, "facilitator": 200, "organiser": 200}),
        ("POST", "/studio/kiosks", {"anonymous": 302, "kiosk": 302, "facilitator": 403}),
        ("POST", "/logout", {"anonymous": 302, "kiosk": 302}),
        ("GET", "/studio/progress.json", {"anonymous": 302, "kiosk": 302, "facilitator": 200}),
        ("GET", "/studio/media/1/mp4", {"anonymous": 302, "kiosk": 302, "organiser": 404}),
        ("GET", "/review/", {"anonymous": 302, "kiosk": 302, "facilitator": 200, "organiser": 200}),
        ("GET", "/review/1", {"anonymous": 302, "kiosk": 302, "facilitator": 404}),
        ("POST", "/review/bulk", {"anonymous": 302, "kiosk": 302, "facilitator": 400}),
        ("POST", "/review/1/state", {"anonymous": 302, "kiosk": 302, "organiser": 404}),
        (
            "GET",
            "/studio/reels",
            {"anonymous": 302, "kiosk": 302, "facilitator": 403, "organiser": 200},
        ),
        (
            "POST",
            "/studio/reels/1/render",
            {"anonymous": 302, "facilitator": 403, "organiser": 404},
        ),
        (
            "GET",
            "/kiosk/receipt/KX7-4QF/qr.svg",
            {"anonymous": 401, "facilitator": 401, "organiser": 401, "kiosk": 200},
        ),
        (
            "POST",
            "/kiosk/api/reflections",
            {"anonymous": 401, "facilitator": 401, "organiser": 401},
        ),
    ],
)
def test_audiences_get_what_the_table_says(app, method, path, expected) -> None:
    for audience, status in expected.items():
        client = app.test_client()
        if audience == "kiosk":
            client = KioskDevice(app).client
        elif audience != "anonymous":
            from tests.conftest import Auth

            Auth(app, client).login(audience)
        if method == "POST":
            # Carry a valid CSRF token so only the role decides.
            from tests.conftest import csrf_from

            token = csrf_from(client.get("/login").text)
            response = client.post(path, data={"csrf_token": token})
        else:
            response = client.get(path)
        if status == 302:
            assert response.status_code == 302 and "/login" in response.location, audience
        else:
            assert response.status_code == status, (audience, response.status_code)
