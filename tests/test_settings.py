"""Organiser settings: event, branding, perspectives, prompts, consent, kiosks, users, audit log.

Every action is driven through the test client as a browser would (CSRF token included), and
checked in the database, on the kiosk, and in the audit log.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags, Image

from tests import mediafiles
from tests.conftest import Auth, KioskDevice, csrf_from, rows
from voxpop import audit, models
from voxpop.db import get_db
from voxpop.slugs import slugify
from voxpop.studio import perspectives, users, validation

pytestmark = pytest.mark.python_only

# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def organiser(auth: Auth, client: FlaskClient) -> FlaskClient:
    """The test client, logged in as an organiser."""
    auth.login("organiser")
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST like the browser: with the session's CSRF token from a settings page."""
    token = csrf_from(client.get("/studio/settings/kiosks").text)
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


def event_row(app: Flask) -> dict[str, Any]:
    (row,) = rows(app, "SELECT * FROM event ORDER BY id DESC LIMIT 1")
    return row | {
        "branding": json.loads(row["branding"]),
        "languages": json.loads(row["languages"]),
    }


def audit_rows(app: Flask, action: str | None = None) -> list[dict[str, Any]]:
    found = rows(app, "SELECT * FROM audit_log ORDER BY id")
    return [
        row
        | {
            "before": json.loads(row["before"] or "null"),
            "after": json.loads(row["after"] or "null"),
        }
        for row in found
        if action is None or row["action"] == action
    ]


def perspective(app: Flask, slug: str) -> dict[str, Any]:
    (row,) = rows(
        app,
        "SELECT * FROM perspective WHERE slug = ? AND event_id = (SELECT MAX(id) FROM event)",
        slug,
    )
    return row | {"labels": json.loads(row["labels"])}


def kiosk_config(app: Flask) -> dict[str, Any]:
    """What a freshly loaded kiosk page is configured with."""
    return KioskDevice(app).config


def event_form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Whose Shoes? test day",
        "name_cy": "Whose Shoes? test day",
        "thanks_en": models.DEFAULT_THANKS["en"],
        "thanks_cy": models.DEFAULT_THANKS["cy"],
        "date": "2026-11-23",
        "venue": "Parc Eirias, Colwyn Bay",
        "languages": ["en", "cy"],
        "max_clip_seconds": "10",
        "idle_timeout_seconds": "60",
        "text_max_chars": "1000",
        "accent_colour": "#1b6ca8",
        "missing_voices_percent": "5",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# -- who may use the settings --------------------------------------------------------------------

SETTINGS_ROUTES = [
    ("GET", "/studio/settings/"),
    ("POST", "/studio/settings/"),
    ("POST", "/studio/settings/logo"),
    ("POST", "/studio/settings/logo/remove"),
    ("GET", "/studio/settings/new-event"),
    ("POST", "/studio/settings/new-event"),
    ("GET", "/studio/settings/perspectives"),
    ("POST", "/studio/settings/perspectives"),
    ("POST", "/studio/settings/perspectives/1"),
    ("POST", "/studio/settings/perspectives/1/move"),
    ("POST", "/studio/settings/perspectives/1/retire"),
    ("POST", "/studio/settings/perspectives/1/restore"),
    ("GET", "/studio/settings/prompts"),
    ("POST", "/studio/settings/prompts"),
    ("POST", "/studio/settings/prompts/1"),
    ("POST", "/studio/settings/prompts/1/move"),
    ("POST", "/studio/settings/prompts/1/active"),
    ("GET", "/studio/settings/consent"),
    ("POST", "/studio/settings/consent"),
    ("GET", "/studio/settings/kiosks"),
    ("POST", "/studio/settings/kiosks"),
    ("POST", "/studio/settings/kiosks/1"),
    ("POST", "/studio/settings/kiosks/1/revoke"),
    ("POST", "/studio/settings/kiosks/1/resend"),
    ("GET", "/studio/settings/users"),
    ("POST", "/studio/settings/users"),
    ("POST", "/studio/settings/users/1/role"),
    ("POST", "/studio/settings/users/1/password"),
    ("POST", "/studio/settings/users/1/remove"),
    ("GET", "/studio/audit"),
]


def test_every_settings_route_is_tested_for_every_role(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    covered = {adapter.match(path, method=method)[0] for method, path in SETTINGS_ROUTES}
    ours = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("studio.settings_") or rule.endpoint == "studio.audit_log"
    }
    assert covered == ours


def _client_as(app: Flask, audience: str) -> tuple[FlaskClient, str]:
    if audience == "kiosk":
        device = KioskDevice(app)
        return device.client, device.config["csrf_token"]
    client = app.test_client()
    if audience != "anonymous":
        Auth(app, client).login(audience)
    return client, csrf_from(client.get("/login").text)


@pytest.mark.parametrize(("method", "path"), SETTINGS_ROUTES)
@pytest.mark.parametrize("audience", ["anonymous", "kiosk", "facilitator", "organiser"])
def test_only_organisers_reach_settings(app: Flask, method: str, path: str, audience: str) -> None:
    client, token = _client_as(app, audience)
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data={"csrf_token": token})
    if audience in ("anonymous", "kiosk"):
        assert response.status_code == 302 and "/login" in response.location
    elif audience == "facilitator":
        assert response.status_code == 403
    else:
        # Allowed: a page, a redirect after the change, the form back with its reason, or
        # "no such thing" (nothing was made for these ids).
        assert response.status_code in (200, 302, 400, 404), response.status_code
        if response.status_code == 302:
            assert "/login" not in response.location


def test_settings_refuse_a_post_without_csrf_token(app: Flask, organiser: FlaskClient) -> None:
    before = event_row(app)
    response = organiser.post("/studio/settings/", data=event_form(name="Hijacked"))
    assert response.status_code == 400
    assert "expired" in response.text
    response = organiser.post(
        "/studio/settings/logo",
        data={"logo": (io.BytesIO(png(10, 10)), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert event_row(app) == before
    assert audit_rows(app) == []


# -- the event -----------------------------------------------------------------------------------


def test_event_form_shows_current_settings(organiser: FlaskClient) -> None:
    page = organiser.get("/studio/settings/").text
    assert 'value="Whose Shoes? test day"' in page
    assert re.search(r'<input [^>]*id="missing-voices"[^>]*value="5"', page)  # 0.05 as per cent
    assert re.search(r'<input [^>]*id="accent-colour"[^>]*type="color" value="#1b6ca8"', page)
    assert '<input checked id="language-en" name="languages" type="checkbox" value="en">' in page
    assert '<input checked id="language-cy" name="languages" type="checkbox" value="cy">' in page


def test_organiser_changes_the_event(app: Flask, organiser: FlaskClient) -> None:
    with app.app_context():
        db = get_db()
        db.execute("UPDATE event SET branding = ?", (json.dumps({"kiosk_banner": "Hello"}),))
    response = post(
        organiser,
        "/studio/settings/",
        event_form(
            name="Whose Shoes? Conwy",
            date="2026-12-01",
            venue="Venue Cymru",
            languages=["cy"],
            max_clip_seconds="120",
            idle_timeout_seconds="90",
            text_max_chars="500",
            accent_colour="#A4127F",
            missing_voices_percent="12.5",
            missing_voices_banner="y",
        ),
    )
    assert response.status_code == 302
    assert "Event settings saved." in organiser.get(response.location).text
    event = event_row(app)
    assert (event["name"], event["date"], event["venue"]) == (
        "Whose Shoes? Conwy",
        "2026-12-01",
        "Venue Cymru",
    )
    assert event["languages"] == ["cy"]
    assert (event["max_clip_seconds"], event["idle_timeout_seconds"], event["text_max_chars"]) == (
        120,
        90,
        500,
    )
    assert event["branding"] == {
        "kiosk_banner": "Hello",  # keys this form does not own are kept
        "accent_colour": "#a4127f",
        "missing_voices_target": 0.125,
        "missing_voices_banner": True,
    }
    config = kiosk_config(app)
    assert config["event"]["max_seconds"] == 120
    assert config["event"]["idle_seconds"] == 90
    assert config["languages"] == ["cy"]
    (entry,) = audit_rows(app, "event.update")
    assert entry["target_kind"] == "event" and entry["user_name"] == "organiser-user"
    assert entry["before"]["name"] == "Whose Shoes? test day"
    assert entry["after"]["name"] == "Whose Shoes? Conwy"
    assert entry["before"]["max_clip_seconds"] == 10 and entry["after"]["max_clip_seconds"] == 120
    assert entry["before"]["missing_voices_banner"] is False
    assert "venue" in entry["after"] and "text_max_chars" in entry["after"]


def test_saving_an_unchanged_event_records_nothing(app: Flask, organiser: FlaskClient) -> None:
    response = post(organiser, "/studio/settings/", event_form())
    assert "Nothing was changed." in organiser.get(response.location).text
    assert audit_rows(app) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_clip_seconds": "4"}, "between 5 and 600 seconds"),
        ({"max_clip_seconds": "601"}, "between 5 and 600 seconds"),
        ({"max_clip_seconds": "ten"}, "Please correct"),
        ({"max_clip_seconds": ""}, "Enter a whole number."),
        ({"idle_timeout_seconds": "3601"}, "between 5 and 3600 seconds"),
        ({"idle_timeout_seconds": "4"}, "between 5 and 3600 seconds"),
        ({"text_max_chars": "9"}, "between 10 and 20000 characters"),
        ({"text_max_chars": "20001"}, "between 10 and 20000 characters"),
        ({"accent_colour": "red"}, "is not a colour written like #1b6ca8"),
        ({"accent_colour": "#12345"}, "is not a colour written like #1b6ca8"),
        ({"accent_colour": "#1234567"}, "is not a colour written like #1b6ca8"),
        ({"accent_colour": "#12345g"}, "is not a colour written like #1b6ca8"),
        ({"languages": None}, "Tick at least one language"),
        ({"languages": ["fr"]}, "Please correct"),
        ({"missing_voices_percent": "51"}, "between 0 and 50 per cent"),
        ({"missing_voices_percent": "-1"}, "between 0 and 50 per cent"),
        ({"date": "23/11/2026"}, "is not a date written like 2026-11-23"),
        ({"name": "   "}, "Give the event a name."),
        ({"name": "x" * 201}, "too long"),
    ],
)
def test_bad_event_settings_are_refused_and_nothing_changes(
    app: Flask, organiser: FlaskClient, changes: dict[str, Any], message: str
) -> None:
    before = event_row(app)
    response = post(organiser, "/studio/settings/", event_form(**changes))
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text
    assert event_row(app) == before
    assert audit_rows(app) == []


def test_a_refusal_is_shown_next_to_its_field(organiser: FlaskClient) -> None:
    page = post(organiser, "/studio/settings/", event_form(max_clip_seconds="601")).text
    field = page.split('<label for="max-clip">')[1].split("</div>")[0]
    assert 'aria-invalid="true"' in field and "max-clip-error" in field
    assert "between 5 and 600 seconds" in field
    assert 'value="601"' in field  # what was typed stays, to be corrected


def test_missing_voices_target_of_zero_and_fifty_are_allowed(
    app: Flask, organiser: FlaskClient
) -> None:
    post(organiser, "/studio/settings/", event_form(missing_voices_percent="0"))
    assert event_row(app)["branding"]["missing_voices_target"] == 0
    post(organiser, "/studio/settings/", event_form(missing_voices_percent="50"))
    assert event_row(app)["branding"]["missing_voices_target"] == 0.5


# -- logo ----------------------------------------------------------------------------------------


png = mediafiles.png_bytes


def colour_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (164, 18, 127, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera maker
    exif[0x0112] = 6  # orientation: rotate 90° to display
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (53.0, 17.0, 0.0)
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "teal").save(buffer, "JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    assert b"SecretCam" in data
    return data


def upload_logo(client: FlaskClient, data: bytes, filename: str = "logo.png") -> Any:
    return post(
        client,
        "/studio/settings/logo",
        {"logo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def branding_files(app: Flask) -> list[Path]:
    folder = app.extensions["voxpop"].store.root / "derived" / "branding"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_logo_upload_is_shrunk_and_served(app: Flask, organiser: FlaskClient) -> None:
    response = upload_logo(organiser, colour_png(2000, 500))
    assert response.status_code == 302, response.text
    logo_path = event_row(app)["branding"]["logo_path"]
    assert re.fullmatch(r"derived/branding/logo-[0-9a-f]{16}\.png", logo_path)
    (saved,) = branding_files(app)
    assert f"derived/branding/{saved.name}" == logo_path
    with Image.open(saved) as image:
        assert image.format == "PNG" and image.size == (1024, 256) and image.mode == "RGBA"
    served = app.test_client().get("/studio/branding/logo")  # anyone: the kiosk shows it
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.data == saved.read_bytes()
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    page = organiser.get("/studio/settings/").text
    assert 'src="/studio/branding/logo?v=' in page
    (entry,) = audit_rows(app, "event.logo")
    assert entry["before"] == {"logo_path": None} and entry["after"] == {"logo_path": logo_path}
    assert not list(app.extensions["voxpop"].store.incoming.iterdir())  # the upload is gone


def test_logo_jpeg_loses_its_exif_and_is_turned_upright(app: Flask, organiser: FlaskClient) -> None:
    assert upload_logo(organiser, jpeg_with_exif(), "photo.jpg").status_code == 302
    (saved,) = branding_files(app)
    raw = saved.read_bytes()
    assert b"SecretCam" not in raw and b"Exif" not in raw and b"eXIf" not in raw
    with Image.open(saved) as image:
        assert image.format == "PNG"
        assert image.size == (100, 200)  # the orientation tag was applied, then dropped
        assert len(image.getexif()) == 0


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (png(20_000, 20_000), "bomb.png", "too large to open safely"),
        (b"just some text, honestly\n" * 10, "logo.png", "must be a PNG, JPEG or WebP"),
        (b"GIF89a" + b"\0" * 50, "logo.gif", "must be a PNG, JPEG or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "broken.png", "damaged"),
    ],
    ids=["decompression-bomb", "text-file", "gif", "damaged-png"],
)
def test_unsafe_logos_are_refused_and_nothing_changes(
    app: Flask, organiser: FlaskClient, data: bytes, filename: str, message: str
) -> None:
    assert len(data) < 1_000_000
    before = event_row(app)
    response = upload_logo(organiser, data, filename)
    assert response.status_code == 400
    assert message in response.text
    assert event_row(app) == before
    assert branding_files(app) == []
    assert audit_rows(app) == []


def test_logo_over_the_size_limit_is_refused(app: Flask, organiser: FlaskClient) -> None:
    response = upload_logo(organiser, b"\x89PNG" + b"\0" * (11 * 1024 * 1024))
    assert response.status_code == 400
    assert "a logo may be at most 10 MB" in response.text
    assert "logo_path" not in event_row(app)["branding"]


def test_logo_form_without_a_file(organiser: FlaskClient) -> None:
    response = post(organiser, "/studio/settings/logo", content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose an image file." in response.text


def test_logo_can_be_removed(app: Flask, organiser: FlaskClient) -> None:
    assert app.test_client().get("/studio/branding/logo").status_code == 404
    upload_logo(organiser, colour_png(64, 64))
    assert app.test_client().get("/studio/branding/logo").status_code == 200
    assert post(organiser, "/studio/settings/logo/remove").status_code == 302
    assert "logo_path" not in event_row(app)["branding"]
    assert app.test_client().get("/studio/branding/logo").status_code == 404
    assert [e["after"] for e in audit_rows(app, "event.logo")][-1] == {"logo_path": None}


# -- a new event ---------------------------------------------------------------------------------


def test_organiser_starts_a_new_event_with_the_defaults(app: Flask, organiser: FlaskClient) -> None:
    with app.app_context():
        old = models.current_event(get_db())
        old_consent = models.current_consent_text(get_db(), old.id)
    response = post(
        organiser,
        "/studio/settings/new-event",
        {
            "name": "Whose Shoes? Wrexham",
            "name_cy": "Whose Shoes? Wrecsam",
            "date": "2027-03-02",
            "venue": "Glyndŵr",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        db = get_db()
        new = models.current_event(db)
        assert new.id != old.id
        assert (new.name, new.date, new.venue) == ("Whose Shoes? Wrexham", "2027-03-02", "Glyndŵr")
        # Exactly what models.create_event makes.
        assert [(p.slug, p.labels, p.colour) for p in models.perspectives(db, new.id)] == [
            (slug, {"en": en, "cy": cy}, colour)
            for slug, en, cy, colour in models.DEFAULT_PERSPECTIVES
        ]
        assert [p.texts for p in models.prompts(db, new.id)] == models.DEFAULT_PROMPTS
        consent = models.current_consent_text(db, new.id)
        assert consent.version == 1 and consent.sha256 == old_consent.sha256
    assert kiosk_config(app)["event"]["name"] == "Whose Shoes? Wrexham"
    (entry,) = audit_rows(app, "event.create")
    assert entry["target_id"] == new.id
    assert entry["after"]["names"] == {"en": "Whose Shoes? Wrexham", "cy": "Whose Shoes? Wrecsam"}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": ""}, "Give the event a name."),
        ({"name": "Day", "date": "tomorrow"}, "is not a date written like"),
    ],
)
def test_new_event_needs_a_name_and_a_real_date(
    app: Flask, organiser: FlaskClient, form: dict[str, str], message: str
) -> None:
    response = post(organiser, "/studio/settings/new-event", form)
    assert response.status_code == 400 and message in response.text
    assert len(rows(app, "SELECT id FROM event")) == 1


def test_settings_with_no_event_lead_to_creating_one(tmp_path: Path) -> None:
    from voxpop import create_app

    app = create_app(
        {
            "INSTANCE": str(tmp_path / "i"),
            "UPLOADS": str(tmp_path / "u"),
            "TESTING": True,
            "QUEUE": "memory",
        }  # fmt: skip
    )
    client = app.test_client()
    Auth(app, client).login("organiser")
    response = client.get("/studio/settings/perspectives")
    assert response.status_code == 302 and response.location.endswith("/studio/settings/new-event")
    assert post(client, "/studio/settings/new-event", {"name": "First"}).status_code == 302
    assert client.get("/studio/settings/perspectives").status_code == 200


# -- perspectives --------------------------------------------------------------------------------


def test_slugs_are_made_from_the_english_label() -> None:
    assert slugify("Front-line staff") == "front-line-staff"
    assert slugify("  Young carer (under 18)! ") == "young-carer-under-18"
    assert slugify("Gŵr a gwraig") == "gwr-a-gwraig"
    assert slugify("!!!") == ""


def test_organiser_adds_a_perspective(app: Flask, organiser: FlaskClient) -> None:
    response = post(
        organiser,
        "/studio/settings/perspectives",
        {"label_en": "Young carer", "label_cy": "Gofalwr ifanc", "colour": "#0F6B63"},
    )
    assert response.status_code == 302
    added = perspective(app, "young-carer")
    assert added["labels"] == {"en": "Young carer", "cy": "Gofalwr ifanc"}
    assert added["colour"] == "#0f6b63"
    assert added["position"] == 8  # after the eight defaults
    assert kiosk_config(app)["perspectives"][-1] == {
        "slug": "young-carer",
        "label": "Young carer",
        "colour": "#0f6b63",
    }
    (entry,) = audit_rows(app, "perspective.create")
    assert entry["target_id"] == added["id"] and entry["after"]["slug"] == "young-carer"


def test_welsh_label_is_optional(app: Flask, organiser: FlaskClient) -> None:
    post(organiser, "/studio/settings/perspectives", {"label_en": "Carer", "colour": "#123456"})
    assert perspective(app, "carer")["labels"] == {"en": "Carer"}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"label_en": "Volunteer"}, "There is already a perspective called “volunteer”."),
        ({"label_en": "  VOLUNTEER!! "}, "There is already a perspective called “volunteer”."),
        ({"label_en": "!!!"}, "needs at least one letter or digit"),
        ({"label_en": ""}, "Give the perspective an English label."),
        ({"label_en": "x" * 81}, "too long"),
        ({"label_en": "Carer", "label_cy": "y" * 81}, "too long"),
        ({"label_en": "Carer", "colour": "blue"}, "is not a colour written like #1b6ca8"),
        ({"label_en": "Carer", "colour": "#fff"}, "is not a colour written like #1b6ca8"),
    ],
)
def test_bad_perspectives_are_refused(
    app: Flask, organiser: FlaskClient, form: dict[str, str], message: str
) -> None:
    response = post(organiser, "/studio/settings/perspectives", {"colour": "#123456", **form})
    assert response.status_code == 400
    assert message in response.text
    assert len(rows(app, "SELECT id FROM perspective WHERE event_id = 1")) == 8
    assert audit_rows(app) == []
    # What was typed is still in the add form, ready to correct.
    add_form = response.text.split('id="add"')[1]
    typed = form["label_en"]
    assert f'name="label_en" required type="text" value="{typed}"' in add_form


def test_adding_a_retired_perspectives_name_suggests_restoring_it(
    app: Flask, organiser: FlaskClient
) -> None:
    post(organiser, f"/studio/settings/perspectives/{perspective(app, 'volunteer')['id']}/retire")
    response = post(
        organiser, "/studio/settings/perspectives", {"label_en": "Volunteer", "colour": "#123456"}
    )
    assert response.status_code == 400 and "restore it instead" in response.text


def test_rename_and_recolour_keep_the_slug(app: Flask, organiser: FlaskClient, kiosk) -> None:
    assert kiosk.post(kiosk.form(perspective="volunteer")).status_code == 201
    volunteer = perspective(app, "volunteer")
    response = post(
        organiser,
        f"/studio/settings/perspectives/{volunteer['id']}",
        {"label_en": "Unpaid helper", "label_cy": "Helpwr di-dâl", "colour": "#2A7237"},
    )
    assert response.status_code == 302
    renamed = perspective(app, "volunteer")
    assert renamed["id"] == volunteer["id"]
    assert renamed["labels"] == {"en": "Unpaid helper", "cy": "Helpwr di-dâl"}
    assert renamed["colour"] == "#2a7237"
    # The reflection still belongs to it; new ones still arrive under the same slug.
    assert rows(app, "SELECT perspective_id FROM reflection") == [
        {"perspective_id": volunteer["id"]}
    ]
    assert kiosk.post(kiosk.form(perspective="volunteer")).status_code == 201
    labels = {p["slug"]: p["label"] for p in kiosk_config(app)["perspectives"]}
    assert labels["volunteer"] == "Unpaid helper"
    (entry,) = audit_rows(app, "perspective.update")
    assert entry["before"] == {
        "labels": {"en": "Volunteer", "cy": "Gwirfoddolwr"},
        "colour": "#2a7236",
    }
    assert entry["after"]["labels"]["en"] == "Unpaid helper"


def test_a_bad_rename_shows_the_reason_on_that_row(app: Flask, organiser: FlaskClient) -> None:
    volunteer = perspective(app, "volunteer")
    response = post(
        organiser,
        f"/studio/settings/perspectives/{volunteer['id']}",
        {"label_en": "", "colour": "#123456"},
    )
    assert response.status_code == 400
    row = response.text.split(f'id="perspective-{volunteer["id"]}"')[1].split("</li>")[0]
    assert "Give the perspective an English label." in row
    assert perspective(app, "volunteer")["labels"]["en"] == "Volunteer"


def slugs_in_order(app: Flask) -> list[str]:
    return [
        row["slug"]
        for row in rows(
            app, "SELECT slug FROM perspective WHERE event_id = 1 ORDER BY position, id"
        )
    ]


def test_perspectives_move_up_and_down(app: Flask, organiser: FlaskClient) -> None:
    start = slugs_in_order(app)
    assert start[:3] == ["community-member", "service-user", "volunteer"]
    volunteer = perspective(app, "volunteer")["id"]
    response = post(
        organiser, f"/studio/settings/perspectives/{volunteer}/move", {"direction": "up"}
    )
    assert response.status_code == 302 and response.location.endswith(f"#perspective-{volunteer}")
    assert slugs_in_order(app)[:3] == ["community-member", "volunteer", "service-user"]
    assert [p["slug"] for p in kiosk_config(app)["perspectives"]][:3] == slugs_in_order(app)[:3]
    post(organiser, f"/studio/settings/perspectives/{volunteer}/move", {"direction": "down"})
    assert slugs_in_order(app) == start
    moves = audit_rows(app, "perspective.move")
    assert {
        (m["target_id"], m["before"]["position"], m["after"]["position"]) for m in moves[:2]
    } == {
        (volunteer, 2, 1),
        (perspective(app, "service-user")["id"], 1, 2),
    }


def test_moving_past_either_end_changes_nothing(app: Flask, organiser: FlaskClient) -> None:
    first = perspective(app, "community-member")["id"]
    last = perspective(app, "organiser")["id"]
    post(organiser, f"/studio/settings/perspectives/{first}/move", {"direction": "up"})
    post(organiser, f"/studio/settings/perspectives/{last}/move", {"direction": "down"})
    assert slugs_in_order(app)[0] == "community-member"
    assert slugs_in_order(app)[-1] == "organiser"
    assert audit_rows(app) == []
    response = post(
        organiser, f"/studio/settings/perspectives/{first}/move", {"direction": "sideways"}
    )
    assert response.status_code == 400 and "Move up or down." in response.text


def test_move_buttons_are_real_buttons_with_names(organiser: FlaskClient) -> None:
    page = organiser.get("/studio/settings/perspectives").text
    assert 'aria-label="Move “Volunteer” up"' in page
    assert 'aria-label="Move “Volunteer” down"' in page
    first = page.split('aria-label="Move “Community member” up"')[0].rsplit("<button", 1)[1]
    assert "disabled" in first
    assert "js/settings.js" in page


def test_retired_perspectives_leave_the_kiosk_and_keep_their_reflections(
    app: Flask, organiser: FlaskClient, kiosk
) -> None:
    assert kiosk.post(kiosk.form(perspective="manager")).status_code == 201
    manager = perspective(app, "manager")
    response = post(organiser, f"/studio/settings/perspectives/{manager['id']}/retire")
    assert response.status_code == 302
    assert perspective(app, "manager")["retired_at"] is not None
    assert "manager" not in [p["slug"] for p in kiosk_config(app)["perspectives"]]
    # A delegate who chose it before it was retired (a recording in the kiosk's outbox) is
    # still heard: refused, the reflection would be stuck on the kiosk for good.
    late = kiosk.post(kiosk.form(perspective="manager"))
    assert late.status_code == 201, late.text
    assert rows(app, "SELECT perspective_id FROM reflection") == [
        {"perspective_id": manager["id"]}] * 2  # fmt: skip
    assert kiosk.post(kiosk.form(perspective="no-such-perspective")).status_code == 400
    page = organiser.get("/studio/settings/perspectives").text
    row = page.split(f'id="perspective-{manager["id"]}"')[1].split("</li>")[0]
    assert "retired" in row and "2 reflections" in row and "Restore" in row
    # The studio's Reflections page still shows them, under their perspective, marked retired
    # (they vanished from it, though counted nowhere else); a retired one with none is not.
    overview = organiser.get("/studio/").text
    assert "2 reflections received" in overview
    group = overview.split('id="perspective-manager"')[1].split("</section>")[0]
    assert "(2)" in group and "retired: no longer offered on the kiosk" in group
    volunteer = perspective(app, "volunteer")
    post(organiser, f"/studio/settings/perspectives/{volunteer['id']}/retire")
    assert 'id="perspective-volunteer"' not in organiser.get("/studio/").text
    assert (
        post(organiser, f"/studio/settings/perspectives/{manager['id']}/restore").status_code == 302
    )
    assert "manager" in [p["slug"] for p in kiosk_config(app)["perspectives"]]
    actions = [e["action"] for e in audit_rows(app)]
    assert actions == ["perspective.retire", "perspective.retire", "perspective.restore"]


def test_the_last_active_perspective_cannot_be_retired(app: Flask, organiser: FlaskClient) -> None:
    ids = [row["id"] for row in rows(app, "SELECT id FROM perspective ORDER BY position")]
    for perspective_id in ids[:-1]:
        assert (
            post(organiser, f"/studio/settings/perspectives/{perspective_id}/retire").status_code
            == 302
        )
    response = post(organiser, f"/studio/settings/perspectives/{ids[-1]}/retire")
    assert response.status_code == 400
    assert "This is the last perspective on the kiosk" in response.text
    assert perspective(app, "organiser")["retired_at"] is None
    assert [p["slug"] for p in kiosk_config(app)["perspectives"]] == ["organiser"]


def test_perspectives_of_another_event_are_not_found(app: Flask, organiser: FlaskClient) -> None:
    old = perspective(app, "volunteer")["id"]
    post(organiser, "/studio/settings/new-event", {"name": "Next day"})
    response = post(
        organiser, f"/studio/settings/perspectives/{old}", {"label_en": "X", "colour": "#123456"}
    )
    assert response.status_code == 404
    assert post(organiser, f"/studio/settings/perspectives/{old}/retire").status_code == 404
    assert (
        post(organiser, "/studio/settings/perspectives/9999/move", {"direction": "up"}).status_code
        == 404
    )


def test_labels_and_prompts_are_escaped_everywhere(app: Flask, organiser: FlaskClient) -> None:
    attack = "<script>alert('x')</script>"
    post(
        organiser,
        "/studio/settings/perspectives",
        {"label_en": f"Carer {attack}", "label_cy": attack, "colour": "#123456"},
    )
    post(organiser, "/studio/settings/prompts", {"text_en": f"Why? {attack}", "text_cy": attack})
    for path in (
        "/studio/settings/perspectives",
        "/studio/settings/prompts",
        "/studio/audit",
        "/studio/",
    ):
        page = organiser.get(path).text
        assert "<script>alert" not in page, path
        assert "&lt;script&gt;alert" in page or "\\u003cscript\\u003e" in page, path
    kiosk_page = KioskDevice(app).client.get("/kiosk/").text
    assert "<script>alert" not in kiosk_page


# -- prompts -------------------------------------------------------------------------------------


def prompt_texts(app: Flask, active_only: bool = True) -> list[str]:
    sql = "SELECT texts FROM prompt WHERE event_id = 1"
    sql += " AND active = 1" if active_only else ""
    return [json.loads(row["texts"])["en"] for row in rows(app, sql + " ORDER BY position, id")]


def prompt_id(app: Flask, index: int) -> int:
    return rows(app, "SELECT id FROM prompt WHERE event_id = 1 ORDER BY position, id")[index]["id"]


def test_organiser_adds_edits_and_reorders_prompts(app: Flask, organiser: FlaskClient) -> None:
    response = post(
        organiser,
        "/studio/settings/prompts",
        {"text_en": "Who was missing today?", "text_cy": "Pwy oedd ar goll heddiw?"},
    )
    assert response.status_code == 302
    assert prompt_texts(app)[-1] == "Who was missing today?"
    new = prompt_id(app, 3)
    post(organiser, f"/studio/settings/prompts/{new}/move", {"direction": "up"})
    assert prompt_texts(app)[2] == "Who was missing today?"
    post(
        organiser,
        f"/studio/settings/prompts/{new}",
        {"text_en": "Who was not in the room?", "text_cy": ""},
    )
    (row,) = rows(app, "SELECT texts FROM prompt WHERE id = ?", new)
    assert json.loads(row["texts"]) == {"en": "Who was not in the room?"}
    post(
        organiser,
        f"/studio/settings/prompts/{new}",
        {"text_en": "Who was not in the room?", "text_cy": "Pwy nad oedd yn yr ystafell?"},
    )
    config = kiosk_config(app)
    assert [p["text"] for p in config["prompts"]] == prompt_texts(app)
    assert [e["action"] for e in audit_rows(app)] == [
        "prompt.create",
        "prompt.move",
        "prompt.move",
        "prompt.update",
        "prompt.update",
    ]
    assert (
        audit_rows(app, "prompt.update")[0]["before"]["texts"]["cy"] == "Pwy oedd ar goll heddiw?"
    )


def test_prompts_are_hidden_and_shown(app: Flask, organiser: FlaskClient, kiosk) -> None:
    first = prompt_id(app, 0)
    assert kiosk.post(kiosk.form(prompt=str(first))).status_code == 201
    response = post(organiser, f"/studio/settings/prompts/{first}/active", {"active": "0"})
    assert response.status_code == 302
    assert first not in [p["id"] for p in kiosk_config(app)["prompts"]]
    # An answer to it recorded before it was hidden is still taken (see the perspectives).
    assert kiosk.post(kiosk.form(prompt=str(first))).status_code == 201
    assert kiosk.post(kiosk.form(prompt="999999")).status_code == 400
    page = organiser.get("/studio/settings/prompts").text
    row = page.split(f'id="prompt-{first}"')[1].split("</li>")[0]
    assert "hidden" in row and "2 reflections" in row and "Show on the kiosk" in row
    post(organiser, f"/studio/settings/prompts/{first}/active", {"active": "1"})
    assert first in [p["id"] for p in kiosk_config(app)["prompts"]]
    assert [e["action"] for e in audit_rows(app)] == ["prompt.deactivate", "prompt.activate"]


def test_the_last_active_prompt_cannot_be_hidden(app: Flask, organiser: FlaskClient) -> None:
    post(organiser, f"/studio/settings/prompts/{prompt_id(app, 0)}/active", {"active": "0"})
    post(organiser, f"/studio/settings/prompts/{prompt_id(app, 1)}/active", {"active": "0"})
    last = prompt_id(app, 2)
    response = post(organiser, f"/studio/settings/prompts/{last}/active", {"active": "0"})
    assert response.status_code == 400
    assert "This is the last active prompt" in response.text
    assert len(prompt_texts(app)) == 1
    page = organiser.get("/studio/settings/prompts").text
    assert "The kiosk needs at least one prompt." in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"text_en": "  "}, "Write the prompt in English."),
        ({"text_en": "x" * 301}, "too long"),
        ({"text_en": "Fine", "text_cy": "y" * 301}, "too long"),
    ],
)
def test_bad_prompts_are_refused(
    app: Flask, organiser: FlaskClient, form: dict[str, str], message: str
) -> None:
    response = post(organiser, "/studio/settings/prompts", form)
    assert response.status_code == 400 and message in response.text
    response = post(organiser, f"/studio/settings/prompts/{prompt_id(app, 0)}", form)
    assert response.status_code == 400 and message in response.text
    assert len(prompt_texts(app, active_only=False)) == 3
    assert prompt_texts(app)[0] == models.DEFAULT_PROMPTS[0]["en"]
    assert audit_rows(app) == []


# -- consent -------------------------------------------------------------------------------------


def consent_form(**changes: str) -> dict[str, str]:
    data = {f"{key}_en": value for key, value in models.DEFAULT_CONSENT["en"].items()}
    data |= {f"{key}_cy": value for key, value in models.DEFAULT_CONSENT["cy"].items()}
    data.update(changes)
    return data


def test_editing_consent_makes_a_new_version_and_keeps_the_old(
    app: Flask, organiser: FlaskClient, kiosk
) -> None:
    assert kiosk.post(kiosk.form()).status_code == 201  # given under version 1
    (v1,) = rows(app, "SELECT * FROM consent_text")
    response = post(
        organiser,
        "/studio/settings/consent",
        consent_form(online_en="It may be published on the event's website."),
    )
    assert response.status_code == 302
    assert "saved as version 2" in organiser.get(response.location).text
    versions = rows(app, "SELECT * FROM consent_text ORDER BY version")
    assert versions[0] == v1  # untouched
    assert versions[1]["version"] == 2
    assert json.loads(versions[1]["texts"])["en"]["online"] == (
        "It may be published on the event's website."
    )
    fresh = KioskDevice(app)
    assert fresh.config["consent"]["version"] == versions[1]["sha256"]
    assert fresh.post(fresh.form()).status_code == 201
    links = rows(app, "SELECT consent_text_id FROM consent ORDER BY id")
    assert [row["consent_text_id"] for row in links] == [v1["id"], versions[1]["id"]]
    page = organiser.get("/studio/settings/consent").text
    v1_block = page.split('id="consent-v1"')[1].split("</article>")[0]
    v2_block = page.split('id="consent-v2"')[1].split("</article>")[0]
    assert "used by 1 reflection" in v1_block and "used by 1 reflection" in v2_block
    assert "current" in v2_block and "current" not in v1_block
    assert models.DEFAULT_CONSENT["en"]["online"] in v1_block  # the old wording is readable
    (entry,) = audit_rows(app, "consent_text.create")
    assert entry["target_id"] == versions[1]["id"]
    assert entry["before"]["version"] == 1 and entry["after"]["version"] == 2


def test_consent_form_starts_from_the_current_wording(organiser: FlaskClient) -> None:
    page = organiser.get("/studio/settings/consent").text
    assert "Keep my reflection in the archive of the day" in page.split('id="versions"')[0]


@pytest.mark.parametrize("part", ["intro", "archive", "reel", "online", "name"])
def test_every_english_consent_part_is_required(
    app: Flask, organiser: FlaskClient, part: str
) -> None:
    response = post(organiser, "/studio/settings/consent", consent_form(**{f"{part}_en": "  "}))
    assert response.status_code == 400
    assert "The English text for" in response.text and "is required" in response.text
    assert f'id="consent-{part}-en-error"' in response.text
    assert len(rows(app, "SELECT id FROM consent_text")) == 1
    assert audit_rows(app) == []


def test_welsh_consent_is_all_or_nothing(app: Flask, organiser: FlaskClient) -> None:
    no_welsh = {f"{key}_cy": "" for key in models.DEFAULT_CONSENT["cy"]}
    partial = consent_form(**(no_welsh | {"intro_cy": "Chi sy'n penderfynu."}))
    response = post(organiser, "/studio/settings/consent", partial)
    assert response.status_code == 400 and "The Welsh text for" in response.text
    welsh = {
        "intro_cy": "Chi sy'n penderfynu sut y defnyddir eich myfyrdod.",
        "archive_cy": "Cadw fy myfyrdod yn archif y dydd.",
        "reel_cy": "Gall ymddangos yn y rîl uchafbwyntiau.",
        "room_cy": "Gellir ei ddangos ar y sgrin fawr yn yr ystafell yn ystod y digwyddiad.",
        "online_cy": "Gellir ei gyhoeddi ar-lein.",
        "name_cy": "Dangos fy enw cyntaf.",
    }
    assert post(organiser, "/studio/settings/consent", consent_form(**welsh)).status_code == 302
    device = KioskDevice(app)
    welsh_page = device.client.get("/kiosk/?lang=cy").text
    assert "Cadw fy myfyrdod yn archif y dydd." in welsh_page


def test_unchanged_consent_makes_no_version(app: Flask, organiser: FlaskClient) -> None:
    response = post(organiser, "/studio/settings/consent", consent_form())
    assert "this is the current wording already" in organiser.get(response.location).text
    assert len(rows(app, "SELECT id FROM consent_text")) == 1


def test_going_back_to_an_old_wording_is_explained(app: Flask, organiser: FlaskClient) -> None:
    post(organiser, "/studio/settings/consent", consent_form(name_en="Show my name."))
    response = post(organiser, "/studio/settings/consent", consent_form())
    assert response.status_code == 400
    assert "the same as version 1" in response.text
    assert len(rows(app, "SELECT id FROM consent_text")) == 2


# -- kiosks --------------------------------------------------------------------------------------


def test_organiser_creates_a_kiosk_with_a_qr_code_that_pairs(
    app: Flask, organiser: FlaskClient
) -> None:
    response = post(organiser, "/studio/settings/kiosks", {"name": "Foyer iPad"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "<svg" in response.text
    link = response.text.split('id="pairing-link">')[1].split("<")[0]
    token = link.rsplit("/", 1)[1]
    tablet = app.test_client()
    pair_page = tablet.get(f"/kiosk/pair/{token}")
    assert "Foyer iPad" in pair_page.text
    tablet.post(f"/kiosk/pair/{token}", data={"csrf_token": csrf_from(pair_page.text)})
    assert tablet.get("/kiosk/").status_code == 200
    page = organiser.get("/studio/settings/kiosks").text
    assert "Foyer iPad" in page and "paired" in page
    (entry,) = audit_rows(app, "kiosk.create")
    assert entry["after"] == {"name": "Foyer iPad", "mode": "kiosk"}
    assert token not in json.dumps(audit_rows(app))


def test_an_unnamed_kiosk_gets_a_name(app: Flask, organiser: FlaskClient) -> None:
    post(organiser, "/studio/settings/kiosks", {"name": "  "})
    assert rows(app, "SELECT name FROM kiosk") == [{"name": "Kiosk 1"}]


def test_kiosks_are_renamed(app: Flask, organiser: FlaskClient, kiosk) -> None:
    response = post(organiser, f"/studio/settings/kiosks/{kiosk.kiosk_id}", {"name": "Stage left"})
    assert response.status_code == 302
    assert rows(app, "SELECT name FROM kiosk") == [{"name": "Stage left"}]
    response = post(organiser, f"/studio/settings/kiosks/{kiosk.kiosk_id}", {"name": ""})
    assert response.status_code == 400 and "Give the kiosk a name." in response.text
    assert post(organiser, "/studio/settings/kiosks/999", {"name": "X"}).status_code == 404
    (entry,) = audit_rows(app, "kiosk.rename")
    assert entry["before"] == {"name": "Test kiosk"} and entry["after"] == {"name": "Stage left"}


def test_a_revoked_kiosk_is_refused_with_a_clear_message(
    app: Flask, organiser: FlaskClient, kiosk
) -> None:
    assert kiosk.post(kiosk.form()).status_code == 201
    response = post(organiser, f"/studio/settings/kiosks/{kiosk.kiosk_id}/revoke")
    assert response.status_code == 302
    refused = kiosk.post(kiosk.form())
    assert refused.status_code == 401
    assert "revoked" in refused.json["error"]
    bearer = app.test_client().post(
        "/kiosk/api/reflections",
        data=kiosk.form(),
        headers={"Authorization": f"Bearer {kiosk.token}"},
        content_type="multipart/form-data",
    )
    assert bearer.status_code == 401 and "revoked" in bearer.json["error"]
    assert kiosk.client.get("/kiosk/").status_code == 403  # the pairing help, not the kiosk
    page = organiser.get("/studio/settings/kiosks").text
    row = page.split(f'id="kiosk-{kiosk.kiosk_id}"')[1].split("</li>")[0]
    assert "revoked" in row and ">Revoke<" not in row
    (entry,) = audit_rows(app, "kiosk.revoke")
    assert entry["target_id"] == kiosk.kiosk_id and entry["before"] == {"revoked_at": None}


# -- users ---------------------------------------------------------------------------------------


def user_row(app: Flask, name: str) -> dict[str, Any]:
    (row,) = rows(app, "SELECT * FROM user WHERE name = ?", name)
    return row


def can_log_in(app: Flask, name: str, password: str) -> bool:
    with app.app_context():
        return models.authenticate(get_db(), name, password) is not None


def test_organiser_adds_a_user(app: Flask, organiser: FlaskClient) -> None:
    response = post(
        organiser,
        "/studio/settings/users",
        {"name": "Gwen", "role": "facilitator", "password": "long enough"},
    )
    assert response.status_code == 302
    gwen = user_row(app, "Gwen")
    assert gwen["role"] == "facilitator"
    assert "long enough" not in gwen["password_hash"] and gwen["password_hash"].startswith(
        ("scrypt:", "pbkdf2:")
    )
    assert can_log_in(app, "Gwen", "long enough")
    (entry,) = audit_rows(app, "user.create")
    assert entry["after"] == {"name": "Gwen", "role": "facilitator"}
    assert "long enough" not in json.dumps(audit_rows(app))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "Gwen", "role": "facilitator", "password": "short12"}, "at least 8 characters"),
        ({"name": "", "role": "facilitator", "password": "long enough"}, "Give the user a name."),
        (
            {"name": "Gwen", "role": "admin", "password": "long enough"},
            "Choose organiser or facilitator.",
        ),
        (
            {"name": "organiser-user", "role": "organiser", "password": "long enough"},
            "There is already a user called",
        ),
    ],
)
def test_bad_users_are_refused(
    app: Flask, organiser: FlaskClient, form: dict[str, str], message: str
) -> None:
    response = post(organiser, "/studio/settings/users", form)
    assert response.status_code == 400 and message in response.text
    assert len(rows(app, "SELECT id FROM user")) == 1
    assert audit_rows(app) == []


def test_roles_change_but_the_last_organiser_stays(
    app: Flask, auth: Auth, organiser: FlaskClient
) -> None:
    me = user_row(app, "organiser-user")["id"]
    response = post(organiser, f"/studio/settings/users/{me}/role", {"role": "facilitator"})
    assert response.status_code == 400
    assert "the only organiser" in response.text
    assert user_row(app, "organiser-user")["role"] == "organiser"
    auth.make_user("Gwen", "facilitator")
    gwen = user_row(app, "Gwen")["id"]
    assert (
        post(organiser, f"/studio/settings/users/{gwen}/role", {"role": "organiser"}).status_code
        == 302
    )
    assert user_row(app, "Gwen")["role"] == "organiser"
    # With another organiser, I may step down, and lose the settings at once.
    response = post(organiser, f"/studio/settings/users/{me}/role", {"role": "facilitator"})
    assert response.status_code == 302 and response.location.endswith("/studio/")
    assert organiser.get("/studio/settings/").status_code == 403
    assert [(e["before"], e["after"]) for e in audit_rows(app, "user.role")] == [
        ({"role": "facilitator"}, {"role": "organiser"}),
        ({"role": "organiser"}, {"role": "facilitator"}),
    ]


def test_passwords_are_reset(app: Flask, auth: Auth, organiser: FlaskClient) -> None:
    auth.make_user("Gwen", "facilitator", "old password")
    gwen = user_row(app, "Gwen")["id"]
    response = post(organiser, f"/studio/settings/users/{gwen}/password", {"password": "short"})
    assert response.status_code == 400 and "at least 8 characters" in response.text
    assert can_log_in(app, "Gwen", "old password")
    response = post(
        organiser, f"/studio/settings/users/{gwen}/password", {"password": "new password"}
    )
    assert response.status_code == 302
    assert can_log_in(app, "Gwen", "new password") and not can_log_in(app, "Gwen", "old password")
    (entry,) = audit_rows(app, "user.password")
    assert entry["after"] == {"password": "reset"} and "new password" not in json.dumps(entry)


def test_users_are_removed_unless_they_have_history(
    app: Flask, auth: Auth, organiser: FlaskClient
) -> None:
    auth.make_user("Gwen", "facilitator")
    gwen = user_row(app, "Gwen")["id"]
    assert post(organiser, f"/studio/settings/users/{gwen}/remove").status_code == 302
    assert rows(app, "SELECT id FROM user WHERE name = 'Gwen'") == []
    assert not can_log_in(app, "Gwen", "correct horse")
    me = user_row(app, "organiser-user")["id"]
    response = post(organiser, f"/studio/settings/users/{me}/remove")
    assert response.status_code == 400 and "You cannot remove yourself." in response.text
    # Someone who has changed things stays in the log, so cannot be deleted.
    auth.make_user("Dai", "organiser")
    dai = user_row(app, "Dai")["id"]
    with app.app_context():
        get_db().execute(
            "INSERT INTO audit_log (at, user_id, user_name, action, target_kind)"
            " VALUES ('2026-01-01', ?, 'Dai', 'prompt.create', 'prompt')",
            (dai,),
        )
    response = post(organiser, f"/studio/settings/users/{dai}/remove")
    assert response.status_code == 400 and "recorded in the audit log" in response.text
    assert user_row(app, "Dai")


def test_the_last_organiser_cannot_be_removed(app: Flask, auth: Auth) -> None:
    auth.make_user("Only", "organiser")
    only = user_row(app, "Only")["id"]
    with app.test_request_context():
        from flask import g

        g.user = None
        with pytest.raises(validation.SettingsError, match="the only organiser"):
            users.remove_user(get_db(), only, actor=None)
        with pytest.raises(validation.SettingsError, match="the only organiser"):
            users.change_role(get_db(), only, "facilitator", actor=None)
    assert user_row(app, "Only")["role"] == "organiser"


def test_removed_users_are_logged_out(app: Flask, auth: Auth, organiser: FlaskClient) -> None:
    other = app.test_client()
    Auth(app, other).login("facilitator", name="Gwen")
    assert other.get("/studio/").status_code == 200
    post(organiser, f"/studio/settings/users/{user_row(app, 'Gwen')['id']}/remove")
    assert other.get("/studio/").status_code == 302


# -- audit log -----------------------------------------------------------------------------------


def test_audit_log_page_lists_and_filters(app: Flask, organiser: FlaskClient) -> None:
    volunteer = perspective(app, "volunteer")["id"]
    post(
        organiser,
        f"/studio/settings/perspectives/{volunteer}",
        {"label_en": "Helper", "colour": "#2a7236"},
    )
    post(organiser, "/studio/settings/prompts", {"text_en": "Anything else?"})
    page = organiser.get("/studio/audit").text
    added = "organiser-user added the prompt “Anything else?”."
    renamed = "organiser-user renamed the perspective “Volunteer” to “Helper”."
    assert page.index(added) < page.index(renamed)  # newest first
    only_perspectives = organiser.get("/studio/audit?kind=perspective").text
    assert renamed in only_perspectives and added not in only_perspectives
    one = organiser.get(f"/studio/audit?kind=perspective&target={volunteer}").text
    assert renamed in one
    none = organiser.get(f"/studio/audit?kind=perspective&target={volunteer + 1}").text
    assert "Nothing matches these filters." in none
    assert organiser.get("/studio/audit?kind=perspective&target=abc").status_code == 200


def test_a_change_and_its_audit_row_are_one_transaction(
    app: Flask, organiser: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_record(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record", broken_record)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError):
        post(organiser, "/studio/settings/perspectives", {"label_en": "Carer", "colour": "#123456"})
    with pytest.raises(RuntimeError):
        post(organiser, "/studio/settings/new-event", {"name": "Half made"})
    assert rows(app, "SELECT id FROM perspective WHERE slug = 'carer'") == []
    assert len(rows(app, "SELECT id FROM event")) == 1


def test_services_record_the_actor_they_are_given_outside_a_request(app: Flask) -> None:
    """The CLI and tests call a service as a view does: the acting user is an argument."""
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        ceri = models.create_user(db, "Ceri", "organiser", "a long enough password")
        perspectives.add_prompt(db, event.id, {"en": "Who asked this?"}, actor=ceri)
        perspectives.add_prompt(db, event.id, {"en": "And who asked this?"}, actor=None)
    logged = rows(
        app, "SELECT user_id, user_name, after FROM audit_log WHERE action = ?", "prompt.create"
    )
    assert [(row["user_id"], row["user_name"]) for row in logged[-2:]] == [
        (ceri.id, "Ceri"),
        (None, "system"),
    ]
    assert "Who asked this?" in logged[-2]["after"]


# -- done when: a new event set up entirely from the browser --------------------------------------


def test_an_organiser_sets_up_a_new_event_from_the_browser(
    app: Flask, organiser: FlaskClient
) -> None:
    assert (
        post(
            organiser,
            "/studio/settings/new-event",
            {"name": "Whose Shoes? Bangor", "date": "2027-05-01"},
        ).status_code
        == 302
    )
    event_id = event_row(app)["id"]
    post(
        organiser,
        "/studio/settings/",
        event_form(name="Whose Shoes? Bangor", languages=["en"], max_clip_seconds="60"),
    )
    post(
        organiser,
        "/studio/settings/perspectives",
        {"label_en": "Carer", "label_cy": "Gofalwr", "colour": "#7a1f5c"},
    )
    government = rows(
        app, "SELECT id FROM perspective WHERE event_id = ? AND slug = 'government'", event_id
    )[0]["id"]
    post(organiser, f"/studio/settings/perspectives/{government}/retire")
    post(organiser, "/studio/settings/prompts", {"text_en": "What will you do on Monday?"})
    post(
        organiser,
        "/studio/settings/consent",
        consent_form(intro_en="Your reflection, your choice."),
    )
    added = post(organiser, "/studio/settings/kiosks", {"name": "Hall tablet"})
    token = added.text.split('id="pairing-link">')[1].split("<")[0].rsplit("/", 1)[1]
    tablet = app.test_client()
    pair_page = tablet.get(f"/kiosk/pair/{token}")
    tablet.post(f"/kiosk/pair/{token}", data={"csrf_token": csrf_from(pair_page.text)})
    page = tablet.get("/kiosk/").text
    config = json.loads(re.search(r'id="kiosk-config">(.*?)</script>', page, re.S).group(1))
    assert config["event"]["name"] == "Whose Shoes? Bangor" and config["event"]["max_seconds"] == 60
    assert config["languages"] == ["en"]
    slugs = [p["slug"] for p in config["perspectives"]]
    assert "carer" in slugs and "government" not in slugs
    assert config["prompts"][-1]["text"] == "What will you do on Monday?"
    assert config["consent"]["intro"] == "Your reflection, your choice."
    prompt = config["prompts"][-1]["id"]
    response = tablet.post(
        "/kiosk/api/reflections",
        data={
            "perspective": "carer",
            "prompt": str(prompt),
            "kind": "text",
            "consent": ["archive"],
            "consent_version": config["consent"]["version"],
            "text": "Bring the carers in earlier.",
            "client_id": "5f0c1b1e-3d4b-4a77-9a53-0c6f1d1b2c3d",
            "lang": "en",
        },
        headers={"X-CSRFToken": config["csrf_token"]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    (reflection,) = rows(app, "SELECT event_id FROM reflection")
    assert reflection["event_id"] == event_id
    kinds = {row["target_kind"] for row in audit_rows(app)}
    assert kinds == {"event", "perspective", "prompt", "consent_text", "kiosk"}


def device_config(page: str) -> dict:
    """The kiosk page's embedded configuration."""
    found = re.search(
        r'<script type="application/json" id="kiosk-config">(.*?)</script>', page, re.S
    )
    return json.loads(found.group(1))


def test_kiosk_attract_screen_shows_the_logo_and_accent(app: Flask, organiser: FlaskClient) -> None:
    assert upload_logo(organiser, colour_png(600, 200)).status_code == 302
    post(organiser, "/studio/settings/", event_form(accent_colour="#A4127F"))
    device = KioskDevice(app)
    page = device.client.get("/kiosk/").text
    assert re.search(r'<img class="event-logo" src="/studio/branding/logo\?v=[^"]+" alt="', page)
    # kiosk.js sets the accent from the page's config (the CSP allows no style="" attribute)
    assert device_config(page)["event"]["accent"] == "#a4127f"
    assert device_config(page)["event"]["accent_ink"] == "#ffffff"
    assert device.config["event"]["accent"] == "#a4127f"
    logo = device.client.get(device.config["event"]["logo"])
    assert logo.status_code == 200 and logo.mimetype == "image/png"


def test_wording_from_before_the_room_question_is_flagged_and_the_line_suggested(
    app: Flask, organiser: FlaskClient
) -> None:
    page = organiser.get("/studio/settings/consent").text
    assert 'id="consent-room-missing"' not in page
    old = {key: value for key, value in models.DEFAULT_CONSENT["en"].items() if key != "room"}
    with app.app_context():
        models.add_consent_version(get_db(), models.current_event(get_db()).id, {"en": old})
    # (English only here: the Welsh room field then stays empty, all or nothing.)
    page = organiser.get("/studio/settings/consent").text
    assert 'id="consent-room-missing"' in page
    suggested = models.DEFAULT_CONSENT["en"]["room"]
    assert re.search(r'<textarea[^>]*name="room_en"[^>]*>\s*' + re.escape(suggested), page)
    assert re.search(r'<textarea[^>]*name="room_cy"[^>]*>\s*</textarea>', page)
    # Saving it asks about the room from the next delegate on.
    edited = consent_form(room_en="It may be shown on the screen in the room today.")
    assert post(organiser, "/studio/settings/consent", edited).status_code == 302
    assert 'id="consent-room-missing"' not in organiser.get("/studio/settings/consent").text
