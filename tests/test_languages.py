"""Welsh as a first-class language: an event offering Welsh opens to kiosks only when every
text a delegate reads has its Welsh version, and the studio says exactly which do not."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from tests.conftest import Auth, KioskDevice, csrf_from
from tests.test_settings import event_form
from voxpop import models
from voxpop.db import get_db
from voxpop.studio import languages

pytestmark = pytest.mark.python_only


@pytest.fixture
def organiser(auth: Auth) -> FlaskClient:
    auth.login("organiser")
    return auth.client


def post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    page = client.get(path)
    return client.post(path, data={**data, "csrf_token": csrf_from(page.text)})


def english_only_consent() -> dict[str, str]:
    return {f"{key}_en": text for key, text in models.DEFAULT_CONSENT["en"].items()} | {
        f"{key}_cy": "" for key in models.DEFAULT_CONSENT["cy"]
    }


def missing(app: Flask) -> list[languages.MissingText]:
    with app.test_request_context("/"), app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        return languages.missing_translations(db, event)


def test_the_test_event_and_the_demo_event_are_complete_in_both_languages(app: Flask) -> None:
    from voxpop.cli import create_demo_event

    assert missing(app) == []
    with app.app_context():
        demo = create_demo_event()
        assert demo.languages == ["en", "cy"]
        assert demo.names["cy"] != demo.names["en"]  # a real Welsh name, not a copy
        consent = models.current_consent_text(get_db(), demo.id)
        assert set(consent.texts["cy"]) == set(consent.texts["en"])
        assert all(consent.texts["cy"][k] != consent.texts["en"][k] for k in consent.texts["en"])
    assert missing(app) == []
    page = KioskDevice(app).client.get("/kiosk/?lang=cy").text
    assert "Whose Shoes? — diwrnod arddangos" in page
    assert escape(models.DEFAULT_CONSENT["cy"]["archive"]) in page
    assert escape(models.DEFAULT_THANKS["cy"]) in page
    assert escape(models.DEFAULT_CONSENT["en"]["archive"]) not in page


def test_missing_welsh_consent_keeps_the_event_from_kiosks(
    app: Flask, organiser: FlaskClient
) -> None:
    kiosk = KioskDevice(app)  # paired while the event was complete
    before = kiosk.client.get("/kiosk/api/session?lang=cy").get_json()["config_version"]
    response = post(organiser, "/studio/settings/consent", english_only_consent())
    assert response.status_code == 302

    # The kiosk page no longer opens, in either language: no one is asked to consent in
    # English on a Welsh kiosk.
    for lang in ("cy", "en"):
        page = kiosk.client.get(f"/kiosk/?lang={lang}")
        assert page.status_code == 503
        assert 'id="kiosk-config"' not in page.text
        assert escape(models.DEFAULT_CONSENT["en"]["archive"]) not in page.text
    assert "Nid yw’r ciosg hwn ar agor eto" in kiosk.client.get("/kiosk/?lang=cy").text
    # An open kiosk learns at its next session call, and reloads to the notice.
    after = kiosk.client.get("/kiosk/api/session?lang=cy").get_json()["config_version"]
    assert after == "closed" != before
    # Pairing a new kiosk does not open it either.
    with pytest.raises(AssertionError):
        KioskDevice(app)

    # The studio says exactly which texts lack Welsh, each linked to its field.
    items = missing(app)
    assert [(m.lang, m.anchor) for m in items] == [
        ("cy", f"consent-{key}-cy") for key in ("intro", *models.PURPOSES)
    ]
    page = organiser.get("/studio/settings/").text
    gate = page.split('id="kiosk-gate"')[1].split("</section>")[0]
    assert "Kiosks are not open" in gate and "6 texts have no Welsh version" in gate
    for key in ("intro", *models.PURPOSES):
        assert f'href="/studio/settings/consent#consent-{key}-cy"' in gate
        assert f'id="consent-{key}-cy"' in organiser.get("/studio/settings/consent").text
    # ... in the organiser's language, quoting the English it lacks marked as English.
    welsh = organiser.get("/studio/settings/?lang=cy").text
    gate = welsh.split('id="kiosk-gate"')[1].split("</section>")[0]
    assert "Nid yw’r ciosgau ar agor" in gate and "Cymraeg" in gate
    assert f'<q lang="en">{escape(models.DEFAULT_CONSENT["en"]["reel"])}</q>' in gate
    assert 'id="kiosk-gate"' in organiser.get("/studio/").text

    # Welsh wording (a new version) opens the event again.
    welsh_consent = {f"{key}_cy": text for key, text in models.DEFAULT_CONSENT["cy"].items()}
    welsh_consent["name_cy"] = "Dangos fy enw cyntaf."
    post(organiser, "/studio/settings/consent", english_only_consent() | welsh_consent)
    assert kiosk.client.get("/kiosk/?lang=cy").status_code == 200
    assert 'id="kiosk-gate"' not in organiser.get("/studio/settings/").text


def test_an_english_only_event_needs_no_welsh(app: Flask, organiser: FlaskClient) -> None:
    with app.app_context():
        get_db().execute("UPDATE event SET languages = ?", (json.dumps(["en"]),))
    post(organiser, "/studio/settings/consent", english_only_consent())
    assert missing(app) == []
    assert KioskDevice(app).client.get("/kiosk/").status_code == 200


@pytest.mark.parametrize(
    ("sql", "anchor"),
    [
        ("UPDATE event SET names = json_object('en', name)", "event-name-cy"),
        ("UPDATE event SET thanks = json_object('en', 'Thanks!')", "event-thanks-cy"),
        (
            "UPDATE perspective SET labels = json_object('en', 'Volunteer')"
            " WHERE slug = 'volunteer'",
            r"p\d+-label-cy",
        ),
        (
            "UPDATE prompt SET texts = json_object('en', 'Why?')"
            " WHERE id = (SELECT MIN(id) FROM prompt)",
            r"q\d+-text-cy",
        ),
    ],
)
def test_every_kind_of_delegate_text_is_checked(
    app: Flask, organiser: FlaskClient, sql: str, anchor: str
) -> None:
    with app.app_context():
        get_db().execute(sql)
    (item,) = missing(app)
    assert re.fullmatch(anchor, item.anchor) and item.lang == "cy"
    gate = organiser.get("/studio/settings/").text.split('id="kiosk-gate"')[1]
    link = re.search(r'href="([^"#]+)#([^"]+)"', gate)
    assert link and link.group(2) == item.anchor
    assert f'id="{item.anchor}"' in organiser.get(link.group(1)).text


def test_a_retired_perspective_or_hidden_prompt_needs_no_welsh(app: Flask) -> None:
    with app.app_context():
        get_db().execute(
            "UPDATE perspective SET labels = json_object('en', 'Old'), retired_at = '2026-01-01'"
            " WHERE slug = 'volunteer'"
        )
        get_db().execute(
            "UPDATE prompt SET texts = json_object('en', 'Old?'), active = 0"
            " WHERE id = (SELECT MIN(id) FROM prompt)"
        )
    assert missing(app) == []


def test_event_form_saves_the_welsh_name_and_thanks(app: Flask, organiser: FlaskClient) -> None:
    page = organiser.get("/studio/settings/").text
    assert 'id="event-name-cy"' in page and 'id="event-thanks-cy"' in page
    form = event_form(
        name="Whose Shoes? Conwy",
        name_cy="Whose Shoes? Conwy (Cymraeg)",
        thanks_en="Thanks for coming.",
        thanks_cy="Diolch am ddod.",
    )
    assert post(organiser, "/studio/settings/", form).status_code == 302
    with app.app_context():
        event = models.current_event(get_db())
    assert event.names == {"en": "Whose Shoes? Conwy", "cy": "Whose Shoes? Conwy (Cymraeg)"}
    assert event.thanks == {"en": "Thanks for coming.", "cy": "Diolch am ddod."}
    page = KioskDevice(app).client.get("/kiosk/?lang=cy").text
    assert "Whose Shoes? Conwy (Cymraeg)" in page and "Diolch am ddod." in page
    # Saving it without a Welsh name closes the kiosks, and says why.
    assert post(organiser, "/studio/settings/", form | {"name_cy": ""}).status_code == 302
    assert "#event-name-cy" in organiser.get("/studio/settings/").text


# -- the language choice survives login and is remembered per user -------------------------------


def log_in(client: FlaskClient, name: str, path: str = "/login") -> Any:
    page = client.get(path)
    return client.post(
        "/login",
        data={"name": name, "password": "correct horse", "csrf_token": csrf_from(page.text)},
    )


def stored_language(app: Flask, name: str) -> str | None:
    with app.app_context():
        row = get_db().execute("SELECT language FROM user WHERE name = ?", (name,)).fetchone()
    return row["language"]


def test_the_language_chosen_before_login_survives_it_and_is_remembered(
    app: Flask, auth: Auth
) -> None:
    auth.make_user("siân", "organiser")
    first = app.test_client()
    assert log_in(first, "siân", "/login?lang=cy").status_code == 302
    assert '<html lang="cy">' in first.get("/studio/").text  # kept through the new session
    assert stored_language(app, "siân") == "cy"

    # Another browser, no choice made there: the user's language comes back at login.
    second = app.test_client()
    assert '<html lang="en">' in second.get("/login").text
    log_in(second, "siân")
    assert '<html lang="cy">' in second.get("/studio/").text

    # Choosing English while logged in is remembered too, and logging out keeps the choice.
    assert '<html lang="en">' in second.get("/studio/?lang=en").text
    assert stored_language(app, "siân") == "en"
    page = second.get("/studio/").text
    second.post("/logout", data={"csrf_token": csrf_from(page)})
    assert '<html lang="en">' in second.get("/login").text
    third = app.test_client()
    log_in(third, "siân")
    assert '<html lang="en">' in third.get("/studio/").text


def test_dates_and_numbers_are_written_for_the_language(app: Flask, organiser: FlaskClient) -> None:
    with app.app_context():
        get_db().execute("UPDATE event SET date = '2026-12-02'")
    assert "2 Rhagfyr 2026" in organiser.get("/studio/?lang=cy").text
    assert "2 December 2026" in organiser.get("/studio/?lang=en").text
    from voxpop import formatting

    with app.app_context():
        assert formatting.format_when("2026-07-02T13:05:00+00:00", "cy") == "2 Gorff 2026 14:05"
        assert formatting.format_when("2026-12-02T13:05:00+00:00", "en") == "2 Dec 2026, 13:05"
        assert formatting.format_size(0, "cy") == "0 beit"
        assert formatting.format_size(1_500_000, "en") == "1.5 MB"
        assert formatting.format_number(12345, "cy") == "12,345"


def test_the_reel_cards_name_the_event_in_both_languages_with_a_british_date(
    app: Flask,
) -> None:
    """The intro card showed the English name only and an American date ("November 23, 2026")."""
    from voxpop.reels import render

    with app.app_context():
        db = get_db()
        db.execute("UPDATE event SET names = ?",
                   (json.dumps({"en": "Test day", "cy": "Diwrnod prawf"}),))  # fmt: skip
        event = models.current_event(db)
    assert event is not None and event.languages == ["en", "cy"]
    intro = render.intro_look(event)
    assert (intro["title"], intro["kicker"]) == ("Test day", "Diwrnod prawf")
    assert intro["subtitle"] == "23 November 2026 · Parc Eirias, Colwyn Bay"
    assert render.outro_look(event)["subtitle"] == "Test day"
    with app.app_context():
        get_db().execute("UPDATE event SET languages = ?", (json.dumps(["cy", "en"]),))
        welsh_first = models.current_event(get_db())
    assert welsh_first is not None
    intro = render.intro_look(welsh_first)
    assert (intro["title"], intro["kicker"]) == ("Diwrnod prawf", "Test day")
    assert intro["subtitle"] == "23 Tachwedd 2026 · Parc Eirias, Colwyn Bay"
