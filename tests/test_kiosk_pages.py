"""Pairing a device, the kiosk page and its receipt QR code, HTTP vs HTTPS on the LAN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import KioskDevice, csrf_from
from voxpop import models
from voxpop.config import DEFAULTS
from voxpop.db import get_db

pytestmark = pytest.mark.python_only

ROOT = Path(__file__).resolve().parent.parent


def new_pairing(app) -> str:
    with app.app_context():
        return models.create_kiosk(get_db(), "Foyer iPad").pairing_token


def test_unpaired_device_sees_how_to_pair_and_no_reflections(client) -> None:
    response = client.get("/kiosk/")
    assert response.status_code == 403
    assert "not a kiosk yet" in response.text
    assert "kiosk-config" not in response.text


def test_pairing_link_works_once(app, client) -> None:
    token = new_pairing(app)
    page = client.get(f"/kiosk/pair/{token}")
    assert page.status_code == 200
    assert "Foyer iPad" in page.text and 'id="pair-button"' in page.text
    paired = client.post(f"/kiosk/pair/{token}", data={"csrf_token": csrf_from(page.text)})
    assert paired.status_code == 302 and paired.location.endswith("/kiosk/")
    assert client.get("/kiosk/").status_code == 200

    stranger = app.test_client()
    again = stranger.get(f"/kiosk/pair/{token}")
    assert again.status_code == 404 and "used" in again.text
    assert "Ask an organiser for a new one" in again.text
    assert stranger.get("/kiosk/").status_code == 403
    # The paired tablet opening its link again (from its history, or the QR once more) is
    # told it is a kiosk already, and led to it: not sent to an organiser for a new link.
    mine = client.get(f"/kiosk/pair/{token}")
    assert mine.status_code == 404 and "This device is already a kiosk" in mine.text
    assert "It is “Foyer iPad”" in mine.text and 'href="/kiosk/"' in mine.text
    assert "Ask an organiser for a new one" not in mine.text


def test_pairing_post_needs_csrf(app, client) -> None:
    token = new_pairing(app)
    client.get(f"/kiosk/pair/{token}")
    assert client.post(f"/kiosk/pair/{token}").status_code == 400
    assert client.get("/kiosk/").status_code == 403


def test_pairing_over_plain_http_on_the_lan_leads_to_certificate_setup(app) -> None:
    token = new_pairing(app)
    tablet = app.test_client()
    page = tablet.get(f"/kiosk/pair/{token}", base_url="http://192.168.1.20:8080")
    assert page.status_code == 200
    assert 'id="pair-button"' not in page.text
    assert f"https://192.168.1.20:8443/kiosk/pair/{token}" in page.text
    assert "/setup" in page.text
    # The link still works afterwards, over HTTPS.
    secure = tablet.get(f"/kiosk/pair/{token}", base_url="https://192.168.1.20:8443")
    assert 'id="pair-button"' in secure.text


def test_lan_http_redirects_to_https_except_setup_pages(client) -> None:
    lan = "http://192.168.1.20:8080"
    studio = client.get("/studio/", base_url=lan)
    assert studio.status_code == 302
    assert studio.location == "https://192.168.1.20:8443/studio/"
    for path in ("/setup", "/setup/voxpop-ca.crt", "/healthz", "/withdraw?code=KX7-4QF"):
        assert client.get(path, base_url=lan).status_code == 200, path
    api = client.post("/kiosk/api/reflections", base_url=lan)
    assert api.status_code == 307


def test_session_cookie_is_secure_over_https_only(app) -> None:
    token = new_pairing(app)
    tablet = app.test_client()
    https = "https://192.168.1.20:8443"
    page = tablet.get(f"/kiosk/pair/{token}", base_url=https)
    response = tablet.post(
        f"/kiosk/pair/{token}",
        data={"csrf_token": csrf_from(page.text)},
        base_url=https,
        headers={"Referer": f"{https}/kiosk/pair/{token}"},  # CSRF over HTTPS checks it
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    local = app.test_client().get("/login")
    assert "Secure" not in local.headers["Set-Cookie"]


def test_kiosk_page_carries_the_event_setup(kiosk: KioskDevice) -> None:
    config = kiosk.config
    assert [p["slug"] for p in config["perspectives"]] == [
        "community-member",
        "service-user",
        "volunteer",
        "front-line-staff",
        "provider",
        "manager",
        "government",
        "organiser",
    ]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", p["colour"]) for p in config["perspectives"])
    assert config["prompts"][0]["text"] == "What are you taking away from today?"
    assert [p["slug"] for p in config["consent"]["purposes"]] == [
        "archive",
        "reel",
        "room",
        "online",
        "name",
    ]
    assert [p["required"] for p in config["consent"]["purposes"]] == [
        True, False, False, False, False
    ]  # fmt: skip
    assert config["event"] == {
        "name": "Whose Shoes? test day",
        "thanks": models.DEFAULT_THANKS["en"],
        "max_seconds": 10,
        "idle_seconds": 60,
        "text_max_chars": 1000,
        "banner": None,
        "logo": None,  # none set in Settings: the kiosk's own look
        "accent": None,
        "accent_ink": None,
    }
    assert len(config["consent"]["version"]) == 64
    # The suite's apps count down 1 s (tests/conftest.py); a venue's count 3 s.
    assert config["kiosk"] == {"mode": "kiosk", "countdown_seconds": 1}
    assert DEFAULTS["KIOSK_COUNTDOWN_SECONDS"] == 3


@pytest.mark.parametrize(("setting", "shown"), [(3, 3), (0, 1), (-2, 1), (60, 10)])
def test_the_countdown_is_kept_between_1_and_10_seconds(app, setting, shown) -> None:
    app.config["KIOSK_COUNTDOWN_SECONDS"] = setting
    assert KioskDevice(app).config["kiosk"]["countdown_seconds"] == shown


KIOSK_JS = ROOT / "static" / "kiosk"


def _code_lines(path: Path) -> list[str]:
    """The script's lines without comments (a URL's // inside a string is kept)."""
    source = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [re.sub(r"(^|\s)//.*$", "", line) for line in source.splitlines()]


def test_the_kiosk_page_loads_its_scripts_in_order_and_the_service_worker_keeps_them(
    kiosk: KioskDevice,
) -> None:
    from voxpop.kiosk.views import KIOSK_SCRIPTS

    page = kiosk.client.get("/kiosk/").text
    loaded = re.findall(r'<script src="/static/([^"]+)" defer></script>', page)
    assert loaded == list(KIOSK_SCRIPTS)
    assert loaded[-1] == "kiosk/kiosk.js"  # the entry comes last: it starts the others
    worker = kiosk.client.get("/kiosk/sw.js").text
    precache = json.loads(re.search(r"^var SW_CONFIG = (.*);$", worker, re.M).group(1))
    assert [f"/static/{name}" for name in loaded] == precache["precache"][1:]
    for name in loaded:
        assert kiosk.client.get(f"/static/{name}").status_code == 200, name


def test_the_kiosk_scripts_hold_no_words_of_their_own(kiosk: KioskDevice) -> None:
    """Every word the kiosk scripts show comes from the page's translated config.strings."""
    config = kiosk.config
    scripts = sorted(KIOSK_JS.glob("*.js")) + [ROOT / "static" / "js" / "net.js"]
    assert {p.name for p in scripts} >= {"kiosk.js", "screens.js", "recorder.js", "outbox.js"}
    used: set[str] = set()
    plural_names: set[str] = set()
    for path in scripts:
        for number, line in enumerate(_code_lines(path), start=1):
            where = f"{path.name}:{number}: {line.strip()}"
            used.update(re.findall(r'text\.(?:get|format)\("(\w+)"', line))
            plural_names.update(re.findall(r'text\.plural\("(\w+)"', line))
            # Shown text set from a literal: only the translated strings may be shown.
            assert not re.search(
                r"(textContent|innerText|innerHTML|label|title|placeholder|alt)\s*=\s*[\"'][^\"']",
                line,
            ), where
            # A sentence in a literal is for developers only: the console, an Error, or the
            # outbox's diagnostic (last_error, never shown to a delegate).
            for literal in re.findall(r'"([^"\\]*)"|\'([^\'\\]*)\'', line):
                words = "".join(literal)
                if re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", words) and words != "use strict":
                    assert re.search(r"console\.|Error\(|message: ", line), where
    template = (ROOT / "templates" / "kiosk" / "kiosk.html").read_text(encoding="utf-8")
    used.update(re.findall(r'data-string="(\w+)"', template))
    used.update(re.findall(r"config\.strings\.(\w+)", template))
    assert used, "the scan found no strings: it is looking in the wrong place"
    assert used <= set(config["strings"]), used - set(config["strings"])
    assert plural_names == set(config["plurals"]) == {"waiting", "refused"}
    # No string is sent that nothing uses (each one costs a translation).
    assert set(config["strings"]) == used


def test_kiosk_page_in_welsh(kiosk: KioskDevice) -> None:
    page = kiosk.client.get("/kiosk/?lang=cy")
    assert '<html lang="cy"' in page.text
    assert "Gwirfoddolwr" in page.text
    assert "Beth fyddwch chi" in page.text


def test_a_language_the_event_stops_offering_leaves_no_words_behind(app, kiosk) -> None:
    """A kiosk left in Welsh, then Welsh turned off: all English, not Welsh buttons on it."""
    assert "Ydych chi dal yno?" in kiosk.client.get("/kiosk/?lang=cy").text  # remembered
    with app.app_context():
        get_db().execute("UPDATE event SET languages = ?", (json.dumps(["en"]),))
    page = kiosk.client.get("/kiosk/").text
    assert '<html lang="en"' in page
    assert "Still there?" in page and "Ydych chi dal yno?" not in page


def test_receipt_qr_is_an_svg_for_the_withdraw_page(app, kiosk: KioskDevice) -> None:
    code = kiosk.post(kiosk.form()).json["receipt_code"]
    response = kiosk.client.get(f"/kiosk/receipt/{code}/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.text.lstrip().startswith("<svg")
    assert app.test_client().get(f"/kiosk/receipt/{code}/qr.svg").status_code == 401
    assert kiosk.client.get("/kiosk/receipt/NOT-OK!/qr.svg").status_code == 400


def test_withdraw_page_opens_with_the_code_filled_in(client) -> None:
    page = client.get("/withdraw?code=kx7 4qf")
    assert 'value="KX7-4QF"' in page.text and 'name="csrf_token"' in page.text
    # More in tests/test_withdrawal.py.


def test_healthz_reports_ffmpeg_and_disk_without_versions(client, app, monkeypatch) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    found = app.extensions["voxpop"].ffmpeg_version
    assert response.json["ffmpeg"] == ("ok" if found else "missing")
    assert found is None or found not in response.text  # no versions for anonymous visitors
    assert response.json["disk"] == "ok" and response.json["disk_free_bytes"] > 0
    assert response.json["status"] == ("ok" if found else "degraded")
    # Below the upload floor the server says so (uploads are then refused with a 507).
    monkeypatch.setitem(app.config, "DISK_FREE_FLOOR_BYTES", 2**62)
    low = client.get("/healthz").json
    assert (low["status"], low["disk"]) == ("degraded", "full")


def test_serve_retires_only_its_own_unused_pairing_links(app) -> None:
    with app.app_context():
        db = get_db()
        manual = models.create_kiosk(db, "Foyer iPad")
        printed = models.create_kiosk(db, "Kiosk 2", auto=True)
        assert models.retire_unused_pairings(db) == 1
        assert models.kiosk_by_api_token(db, manual.api_token) is not None
        assert models.kiosk_by_pairing_token(db, manual.pairing_token) is not None
        assert models.kiosk_by_pairing_token(db, printed.pairing_token) is None


def test_staff_pages_warn_when_the_disk_is_nearly_full(app, auth, client, monkeypatch) -> None:
    auth.login("facilitator")
    warning = "disk is nearly full"
    assert warning not in client.get("/studio/").text
    monkeypatch.setitem(app.config, "DISK_FREE_FLOOR_BYTES", 2**62)
    assert warning in client.get("/studio/").text
