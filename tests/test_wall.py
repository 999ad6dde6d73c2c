"""The live wall (/wall): only what may be shown in the room, a small JSON document with a
version, media served only while showable, and the "shown in the room" consent purpose."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.archivedata import add_archived, query
from voxpop import models
from voxpop.archive import service as archive
from voxpop.db import get_db, transaction
from voxpop.reflection import withdrawal

pytestmark = pytest.mark.python_only

CHECKED = (
    "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nThe first thing I said.\n\n"
    "2\n00:00:02.000 --> 00:00:04.000\nThe part that was kept &amp; shown.\n\n"
    "3\n00:00:04.000 --> 00:00:06.000\nThe part that was trimmed away.\n"
)


def state(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/wall/api/state")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def shown(client: FlaskClient) -> list[int]:
    return [item["id"] for item in state(client)["items"]]


def set_column(app: Flask, sql: str, *params: Any) -> None:
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(sql, params)


def withdraw(app: Flask, reflection_id: int) -> None:
    """Withdraw as the delegate's code would (the real service, not a column update)."""
    with app.app_context():
        extension = app.extensions["voxpop"]
        withdrawal.withdraw(get_db(), extension.queue, extension.store, reflection_id)


def _consent_withdrawn(app: Flask) -> int:
    reflection_id = add_archived(app, room=1)
    set_column(app, "UPDATE consent SET withdrawn_at = '2026-11-24T10:00:00+00:00'"
               " WHERE reflection_id = ?", reflection_id)  # fmt: skip
    return reflection_id


def _retired(app: Flask) -> int:
    reflection_id = add_archived(app, "text", "manager", room=1)
    set_column(app, "UPDATE perspective SET retired_at = '2026-11-24T10:00:00+00:00'"
               " WHERE slug = 'manager'")  # fmt: skip
    return reflection_id


def _relaxed_unchecked(app: Flask) -> int:
    # The organiser let unchecked captions go online; the wall still wants checked ones.
    set_column(app, "UPDATE event SET captions_required = 0")
    return add_archived(app, room=1, online=1, transcript=CHECKED, captions="draft")


NOT_SHOWN = {
    "online consent only": lambda app: add_archived(app, "text", online=1, room=0),
    "hidden": lambda app: add_archived(app, "text", room=1, review="hidden"),
    "waiting for review": lambda app: add_archived(app, "text", room=1, review="waiting"),
    "withdrawn": lambda app: add_archived(app, "text", room=1, withdrawn=True),
    "consent withdrawn only": _consent_withdrawn,
    "failed": lambda app: add_archived(app, room=1, status="failed", transcript=CHECKED),
    "captions not checked": lambda app: add_archived(
        app, room=1, transcript=CHECKED, captions="draft"
    ),  # fmt: skip
    "captions relaxed but not checked": _relaxed_unchecked,
    "retired perspective": _retired,
}


def test_a_room_consented_approved_reflection_is_on_the_wall(app: Flask, client) -> None:
    reflection_id = add_archived(
        app, "text", "volunteer", online=0, room=1, text="We should  listen\nfirst.", lang="cy"
    )
    found = state(client)
    assert [item["id"] for item in found["items"]] == [reflection_id]
    item = found["items"][0]
    assert item["quote"] == "We should listen first."
    assert item["kind"] == "text" and item["video"] is None
    assert item["perspective"] == "volunteer"
    assert item["label"] == {"en": "Volunteer", "cy": "Gwirfoddolwr"}
    assert item["prompt"]["en"] == "What are you taking away from today?"
    assert item["lang"] == "cy"
    assert item["name"] is None
    assert found["total"] == 1
    balance = {entry["perspective"]: entry["count"] for entry in found["balance"]}
    assert balance["volunteer"] == 1 and balance["manager"] == 0
    assert len(balance) == len(models.DEFAULT_PERSPECTIVES)
    assert re.fullmatch(r"[0-9a-f]{32}", found["version"])


@pytest.mark.parametrize("case", sorted(NOT_SHOWN))
def test_what_may_not_be_shown_in_the_room_is_not_on_the_wall(
    app: Flask, client, case: str
) -> None:
    visible = add_archived(app, "text", room=1)
    hidden = NOT_SHOWN[case](app)
    assert shown(client) == [visible]
    assert client.get(f"/wall/media/{hidden}/mp4").status_code == 404
    assert client.get(f"/wall/media/{hidden}/captions.vtt").status_code == 404
    with app.app_context():
        assert [r.id for r in archive.room_reflections(get_db(), 1)] == [visible]


def test_the_first_name_only_with_consent(app: Flask, client) -> None:
    named = add_archived(app, "text", room=1, show_name=1, name="Siân")
    unnamed = add_archived(app, "text", room=1, show_name=0, name="Gareth")
    names = {item["id"]: item["name"] for item in state(client)["items"]}
    assert names == {named: "Siân", unnamed: None}


def test_a_recording_plays_muted_with_its_checked_captions_and_quotes_the_kept_words(
    app: Flask, client
) -> None:
    reflection_id = add_archived(app, "video", room=1, transcript=CHECKED, trim=(2.0, 4.0))
    item = state(client)["items"][0]
    assert item["quote"] == "The part that was kept & shown."
    assert item["start"] == 2.0 and item["end"] == 4.0
    video = client.get(item["video"])
    assert video.status_code == 200 and video.data == f"mp4 of {reflection_id}".encode()
    assert client.get(item["poster"]).status_code == 200
    captions = client.get(item["captions"])
    assert captions.mimetype == "text/vtt"
    assert "The part that was kept &amp; shown." in captions.text
    # An audio reflection is quoted: the wall has nothing to play for it.
    audio = add_archived(app, "audio", room=1, transcript=CHECKED)
    by_id = {i["id"]: i for i in state(client)["items"]}
    assert by_id[audio]["video"] is None
    assert by_id[audio]["quote"].startswith("The first thing I said.")


def test_a_long_reflection_is_cut_at_a_word_to_fit_the_screen(app: Flask, client) -> None:
    add_archived(app, "text", room=1, text="word " * 300)
    item = state(client)["items"][0]
    assert item["size"] == "long"
    assert item["quote"].endswith("word…") and len(item["quote"]) <= 420


def test_the_version_answers_304_until_something_changes(app: Flask, client) -> None:
    reflection_id = add_archived(app, "text", room=1)
    first = client.get("/wall/api/state")
    etag = first.headers["ETag"]
    assert etag == f'"{first.get_json()["version"]}"'
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/wall/api/state", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # A new approval changes the version ...
    newcomer = add_archived(app, "text", "manager", room=1, review="waiting")
    assert client.get("/wall/api/state", headers={"If-None-Match": etag}).status_code == 304
    set_column(app, "UPDATE reflection SET review_state = 'approved' WHERE id = ?", newcomer)
    changed = client.get("/wall/api/state", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert [i["id"] for i in changed.get_json()["items"]] == [reflection_id, newcomer]
    # ... and so does a withdrawal, through the real withdrawal service.
    etag = changed.headers["ETag"]
    withdraw(app, reflection_id)
    after = client.get("/wall/api/state", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert [i["id"] for i in after.get_json()["items"]] == [newcomer]
    balance = {e["perspective"]: e["count"] for e in after.get_json()["balance"]}
    assert balance["volunteer"] == 0 and balance["manager"] == 1


def test_media_stop_being_served_the_moment_a_reflection_is_withdrawn(app: Flask, client) -> None:
    reflection_id = add_archived(app, "video", room=1, transcript=CHECKED)
    item = state(client)["items"][0]
    assert client.get(item["video"]).status_code == 200
    set_column(app, "UPDATE reflection SET review_state = 'hidden' WHERE id = ?", reflection_id)
    assert client.get(item["video"]).status_code == 404
    assert client.get(item["captions"]).status_code == 404
    assert shown(client) == []


def test_the_page_speaks_the_events_languages_welsh_first(app: Flask, client) -> None:
    add_archived(app, "text", room=1, text="Gwrando yn gyntaf.", lang="cy")
    page = client.get("/wall/")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="cy">' in html
    assert html.index('<span lang="cy">Adlewyrchiadau byw</span>') < html.index(
        '<span lang="en">Live reflections</span>'
    )
    assert "style=" not in html and "<script>" not in html
    config = json.loads(re.search(r'id="wall-config">(.*?)</script>', html, re.S).group(1))
    assert config["languages"] == ["cy", "en"]
    assert config["state_url"] == "/wall/api/state"
    embedded = json.loads(re.search(r'id="wall-state">(.*?)</script>', html, re.S).group(1))
    assert embedded["items"][0]["quote"] == "Gwrando yn gyntaf."
    assert f'data-version="{state(client)["version"]}"' in html
    assert 'href="/archive/colours.css"' in html
    english = client.get("/wall/?lang=en").text
    assert '<html lang="en">' in english and 'lang="cy">Adlewyrchiadau byw' not in english


def test_the_wall_is_public_and_read_only(client) -> None:
    assert client.get("/wall/").status_code == 200
    assert client.get("/wall/api/state").status_code == 200
    assert client.post("/wall/api/state").status_code == 405


def test_organisers_find_the_wall_in_the_studio(auth, client) -> None:
    auth.login("organiser")
    assert 'href="/wall/"' in client.get("/studio/").text


# -- the consent purpose --------------------------------------------------------------------


def test_the_kiosk_asks_about_the_room_and_records_the_answer(app: Flask, kiosk) -> None:
    purposes = [p["slug"] for p in kiosk.config["consent"]["purposes"]]
    assert purposes == ["archive", "reel", "room", "online", "name"]
    room_text = kiosk.config["consent"]["purposes"][2]["text"]
    assert room_text == models.DEFAULT_CONSENT["en"]["room"]
    yes = kiosk.post(kiosk.form(consent=["archive", "room"]))
    no = kiosk.post(kiosk.form(consent=["archive", "online"]))
    assert yes.status_code == 201 and no.status_code == 201, (yes.text, no.text)
    rows = query(app, "SELECT reflection_id, room, online FROM consent ORDER BY reflection_id")
    assert [(r["room"], r["online"]) for r in rows] == [(1, 0), (0, 1)]


def test_wording_from_before_the_room_purpose_does_not_offer_it(app: Flask, kiosk) -> None:
    # Both languages, as before the room purpose (the event opens to kiosks with it).
    old = {lang: {key: value for key, value in wording.items() if key != "room"}
           for lang, wording in models.DEFAULT_CONSENT.items()}  # fmt: skip
    with app.app_context():
        models.add_consent_version(get_db(), 1, old)
    fresh = type(kiosk)(app)
    assert [p["slug"] for p in fresh.config["consent"]["purposes"]] == [
        "archive", "reel", "online", "name"
    ]  # fmt: skip
    refused = fresh.post(fresh.form(consent=["archive", "room"]))
    assert refused.status_code == 400
    assert query(app, "SELECT COUNT(*) AS n FROM consent")[0]["n"] == 0


def test_the_consent_log_lists_the_room(app: Flask) -> None:
    from voxpop.publishing import export

    add_archived(app, "text", room=1, online=0)
    with app.app_context():
        rows = export.consent_log_rows(get_db())
    assert "room" in rows[0][3].split() and "online" not in rows[0][3].split()


def test_migrations_leave_earlier_consents_without_the_room(app: Flask) -> None:
    columns = query(app, "SELECT name, dflt_value FROM pragma_table_info('consent')")
    assert {"name": "room", "dflt_value": "0"} in columns


def test_the_withdrawal_preview_says_it_leaves_the_wall(app: Flask, client) -> None:
    from tests.conftest import csrf_from
    from voxpop.reflection.intake.receipts import new_receipt_code

    on_wall = add_archived(app, "text", room=1, online=0)
    off_wall = add_archived(app, "text", room=0, online=1)
    line = "its place on the live wall in the room, where it is shown now"
    for reflection_id, shown_now in ((on_wall, True), (off_wall, False)):
        code = new_receipt_code()
        set_column(app, "UPDATE reflection SET receipt_code = ? WHERE id = ?", code, reflection_id)
        token = csrf_from(client.get("/withdraw").text)
        form = {"code": code, "csrf_token": token}
        preview = client.post("/withdraw", data=form, follow_redirects=True)
        assert preview.status_code == 200, preview.text
        assert (line in preview.text) is shown_now


def test_the_wall_cycles_the_newest_and_counts_them_all(
    app: Flask, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxpop.wall import service

    monkeypatch.setattr(service, "WALL_ITEMS", 2)
    oldest = add_archived(app, "text", "volunteer", room=1, created_at="2026-11-23T09:00:00+00:00")
    middle = add_archived(app, "text", "manager", room=1, created_at="2026-11-23T10:00:00+00:00")
    newest = add_archived(app, "text", "manager", room=1, created_at="2026-11-23T11:00:00+00:00")
    found = state(client)
    assert [item["id"] for item in found["items"]] == [middle, newest]
    assert oldest not in {item["id"] for item in found["items"]}
    assert found["total"] == 3
    balance = {entry["perspective"]: entry["count"] for entry in found["balance"]}
    assert balance["volunteer"] == 1 and balance["manager"] == 2


def test_the_event_is_named_in_each_language(app: Flask, client) -> None:
    set_column(app, "UPDATE event SET names = ?",
               json.dumps({"en": "Whose Shoes? day", "cy": "Diwrnod Esgidiau Pwy?"}))  # fmt: skip
    html = client.get("/wall/").text
    assert (
        '<span lang="cy">Diwrnod Esgidiau Pwy?</span><span lang="en">Whose Shoes? day</span>'
        in html
    )
    assert "<title>Adlewyrchiadau byw · Diwrnod Esgidiau Pwy?</title>" in html
