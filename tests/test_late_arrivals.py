"""A reflection that reaches the laptop after its settings changed is kept whole.

A kiosk keeps what a delegate gave until the laptop confirms it, so a reflection can arrive
after the organiser started a new event, or lowered the longest clip, while the delegate was
mid-turn (or while the kiosk was offline). It is stored against the event it was given for,
with that event's consent wording and limits, and a recording is judged by the longest clip
that event has allowed: never refused or failed for a change the delegate could not see.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tests import mediafiles
from tests.conftest import Auth, KioskDevice, csrf_from, process, requires_ffmpeg, rows
from tests.test_kiosk_api import fake_webm
from tests.test_settings import event_form
from tests.test_tus import TusKiosk
from voxpop import models, reasons
from voxpop.cli import main
from voxpop.db import get_db, utc_in
from voxpop.reflection.records import upload_limit_bytes

FIRST_EVENT = "Whose Shoes? test day"  # the test database's event (longest clip: 10 s)


@pytest.fixture
def organiser(auth: Auth, client: FlaskClient) -> FlaskClient:
    """The test client, logged in as an organiser."""
    auth.login("organiser")
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    """POST like the browser: with the session's CSRF token from a settings page."""
    token = csrf_from(client.get("/studio/settings/kiosks").text)
    return client.post(path, data={"csrf_token": token, **data})


def start_new_event(organiser: FlaskClient, name: str = "Day two") -> None:
    """Settings → Event → Start a new event, as the organiser does it."""
    response = post(organiser, "/studio/settings/new-event", {"name": name, "name_cy": name})
    assert response.status_code == 302, response.text


def set_longest_clip(organiser: FlaskClient, seconds: int) -> Any:
    """Save the event settings with a new "Longest clip"; return the answer."""
    response = post(organiser, "/studio/settings/", event_form(max_clip_seconds=str(seconds)))
    assert response.status_code == 302, response.text
    return response


def event_ids(app: Flask) -> list[int]:
    return [row["id"] for row in rows(app, "SELECT id FROM event ORDER BY id")]


def stored_under(app: Flask, reflection_id: int) -> dict[str, int]:
    """The event of the reflection, and the events of what it refers to."""
    (row,) = rows(
        app,
        "SELECT r.event_id AS reflection, p.event_id AS perspective, pr.event_id AS prompt,"
        " ct.event_id AS consent FROM reflection r"
        " JOIN perspective p ON p.id = r.perspective_id JOIN prompt pr ON pr.id = r.prompt_id"
        " JOIN consent c ON c.reflection_id = r.id"
        " JOIN consent_text ct ON ct.id = c.consent_text_id WHERE r.id = ?",
        reflection_id,
    )
    return row


def listed(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """What ``voxpop reflections`` prints for this app's instance."""
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    result = CliRunner().invoke(main, ["reflections", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# -- a new event while a delegate is mid-turn ---------------------------------------------------


@requires_ffmpeg
def test_text_written_before_a_new_event_is_kept_under_its_event(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = event_ids(app)[0]
    with app.app_context():  # the first event takes longer texts than a new one starts with
        models.update_event_settings(get_db(), first, text_max_chars=2000)
    # The delegate chose a perspective and a question of the first event, and writes…
    words = "Being listened to changed how I ask for help. " * 30  # 1,380 characters
    data = kiosk.form(consent=["archive", "reel"], text=words, lang="cy")
    start_new_event(organiser)  # …while the organiser starts day two
    response = kiosk.post(data)

    assert response.status_code == 201, response.json
    reflection_id = response.json["id"]
    assert stored_under(app, reflection_id) == dict.fromkeys(
        ("reflection", "perspective", "prompt", "consent"), first
    )
    (stored,) = rows(app, "SELECT text_body, lang FROM reflection")
    assert (stored["text_body"], stored["lang"]) == (words.strip(), "cy")
    assert process(app, reflection_id)["status"] == "ready"

    # The studio shows the current event only: the Kiosks page says it came, and where it is…
    note = organiser.get("/studio/settings/kiosks").text.split('id="late-arrivals"')[1]
    note = note.split("</section>")[0]
    assert f"1 reflection given at “{FIRST_EVENT}” arrived from a kiosk after the" in note
    assert "It is kept under the event it was given for." in note
    assert "<code>voxpop reflections</code>" in note
    # …and the command line lists it, with its event.
    (record,) = [json.loads(line) for line in listed(app, monkeypatch, "--json").splitlines()]
    assert record["id"] == reflection_id
    assert record["event"] == {"id": first, "name": FIRST_EVENT}
    assert f"[event {first}: {FIRST_EVENT}]" in listed(app, monkeypatch)


def test_a_text_refused_for_its_length_gets_in_once_the_limit_is_raised_even_after_a_new_event(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient
) -> None:
    """Typed under a higher limit that was lowered before it arrived: refused, kept on the
    kiosk; "Send them again" after raising the limit (the current event's: an earlier one's
    cannot be edited any more) lets it in."""
    words = "Being listened to changed how I ask for help. " * 30  # 1,380 characters
    data = kiosk.form(consent=["archive"], text=words)
    start_new_event(organiser)
    with app.app_context():
        for event_id in event_ids(app):
            models.update_event_settings(get_db(), event_id, text_max_chars=500)
    refused = kiosk.post(data)
    assert refused.status_code == 400 and "under 500 characters" in refused.text
    with app.app_context():  # the organiser raises the current event's limit
        models.update_event_settings(get_db(), event_ids(app)[-1], text_max_chars=2000)
    again = kiosk.post(data)
    assert again.status_code == 201, again.json
    assert stored_under(app, again.json["id"])["reflection"] == event_ids(app)[0]


@requires_ffmpeg
def test_recording_sent_by_tus_after_a_new_event_is_kept_under_its_event(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient, tmp_path: Path
) -> None:
    first = event_ids(app)[0]
    take = mediafiles.chromium_webm(tmp_path / "take.webm", seconds=2, size="320x240")
    payload = take.read_bytes()
    tus = TusKiosk(app, kiosk)
    start_new_event(organiser)

    url = tus.start(len(payload))  # the kiosk's fields are the first event's
    (last,) = tus.send(url, payload, chunk=len(payload))

    reflection_id = int(last.headers["Voxpop-Reflection-Id"])
    assert stored_under(app, reflection_id) == dict.fromkeys(
        ("reflection", "perspective", "prompt", "consent"), first
    )
    assert process(app, reflection_id)["status"] == "ready"


def test_the_consent_recorded_is_the_wording_of_the_event_it_was_given_for(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient
) -> None:
    first = event_ids(app)[0]
    shown = kiosk.config["consent"]["version"]
    with app.app_context():  # the first event's wording changed after the delegate read it
        db = get_db()
        texts = models.current_consent_text(db, first).texts
        texts["en"] = texts["en"] | {"intro": "Reworded after the delegate read it."}
        models.add_consent_version(db, first, texts)
    start_new_event(organiser)  # a new event starts with the same standard wording
    with app.app_context():
        (day_two,) = [e for e in event_ids(app) if e != first]
        assert models.current_consent_text(get_db(), day_two).sha256 == shown

    response = kiosk.post(kiosk.form(consent_version=shown))

    assert response.status_code == 201, response.json
    (consent,) = rows(
        app,
        "SELECT ct.event_id, ct.version FROM consent c"
        " JOIN consent_text ct ON ct.id = c.consent_text_id",
    )
    assert consent == {"event_id": first, "version": 1}


@pytest.mark.parametrize("via", ["multipart", "tus"])
@pytest.mark.parametrize(
    ("fields", "field", "first_words"),
    [
        ({"prompt": "99999"}, "prompt", "does not know the question"),
        ({"perspective": "astronaut"}, "perspective", "does not know the perspective"),
        ({"consent_version": "0" * 64}, "consent_version", "does not know the consent wording"),
    ],
)
def test_what_this_laptop_never_had_is_refused_with_what_an_organiser_can_do(
    app: Flask, kiosk: KioskDevice, via: str, fields: dict[str, str], field: str, first_words: str
) -> None:
    # The only way such a reflection arrives: the kiosk gave it with another copy of voxpop.
    # The organiser reads this on the Kiosks page, as the reason the kiosk keeps it.
    if via == "multipart":
        response = kiosk.post(kiosk.form(**fields))
    else:
        tus = TusKiosk(app, kiosk)
        response = tus.create(4096, tus.metadata(**fields))
    assert response.status_code == 400
    assert response.json["field"] == field
    message = response.json["error"]
    assert first_words in message
    assert "It stays on the kiosk" in message
    assert "pair it with that one again" in message
    assert rows(app, "SELECT id FROM reflection") == []


def test_new_event_page_warns_of_reflections_still_on_kiosks(
    app: Flask, organiser: FlaskClient
) -> None:
    holding, refusing, empty, revoked = (KioskDevice(app) for _ in range(4))
    reports = {
        holding: {"outbox_count": 2, "outbox_bytes": 3_000_000},
        refusing: {"outbox_count": 0, "refused_count": 1},
        empty: {"outbox_count": 0, "refused_count": 0},
        revoked: {"outbox_count": 5},
    }
    with app.app_context():
        db = get_db()
        for device, report in reports.items():
            models.record_heartbeat(db, device.kiosk_id, report, "test")
            db.execute(
                "UPDATE kiosk SET name = ? WHERE id = ?",
                (f"Kiosk {device.kiosk_id}", device.kiosk_id),
            )
        models.revoke_kiosk(db, revoked.kiosk_id)

    page = organiser.get("/studio/settings/new-event").text

    warning = page.split('id="unsent-on-kiosks"')[1].split("</section>")[0]
    assert f"Kiosk {holding.kiosk_id}</strong>" in warning
    assert "2 reflections waiting to send" in warning
    assert f"Kiosk {refusing.kiosk_id}</strong>" in warning
    assert "1 reflection refused by the laptop, kept on the kiosk" in warning
    assert f"Kiosk {empty.kiosk_id}<" not in warning
    assert f"Kiosk {revoked.kiosk_id}<" not in warning
    assert f"each is kept under the event it was given for (“{FIRST_EVENT}”" in warning
    assert "<code>voxpop reflections</code>" in warning


def stored_an_hour_ago(app: Flask, reflection_id: int) -> None:
    """Timestamps are to the second: an earlier reflection must look earlier than the switch."""
    with app.app_context():
        get_db().execute(
            "UPDATE reflection SET created_at = ? WHERE id = ?", (utc_in(-3600), reflection_id)
        )


def test_the_kiosks_page_counts_only_late_arrivals_not_withdrawn(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient
) -> None:
    stored_an_hour_ago(app, kiosk.post(kiosk.form()).json["id"])  # stored before the switch
    late = kiosk.form()
    start_new_event(organiser)
    withdrawn = kiosk.post(kiosk.form()).json["id"]
    assert kiosk.post(late).status_code == 201
    with app.app_context():
        get_db().execute("UPDATE reflection SET status = 'withdrawn' WHERE id = ?", (withdrawn,))

    page = organiser.get("/studio/settings/kiosks").text

    assert f"1 reflection given at “{FIRST_EVENT}” arrived from a kiosk" in page


def test_the_kiosks_page_says_nothing_of_late_arrivals_when_there_are_none(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient
) -> None:
    stored_an_hour_ago(app, kiosk.post(kiosk.form()).json["id"])
    assert 'id="late-arrivals"' not in organiser.get("/studio/settings/kiosks").text
    start_new_event(organiser)
    assert 'id="late-arrivals"' not in organiser.get("/studio/settings/kiosks").text


def test_new_event_page_says_nothing_when_kiosks_hold_nothing(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient
) -> None:
    with app.app_context():
        models.record_heartbeat(get_db(), kiosk.kiosk_id, {"outbox_count": 0}, "test")
    assert "unsent-on-kiosks" not in organiser.get("/studio/settings/new-event").text


# -- "Longest clip" lowered while a delegate is mid-turn ------------------------------------------


def longest_clip(app: Flask) -> tuple[int, int]:
    """The current event's (setting, longest it ever allowed)."""
    with app.app_context():
        event = models.current_event(get_db())
        assert event is not None
        return event.max_clip_seconds, event.longest_clip_allowed


@requires_ffmpeg
@pytest.mark.media
def test_a_take_recorded_before_longest_clip_was_lowered_is_processed_whole(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient, tmp_path: Path
) -> None:
    assert kiosk.config["event"]["max_seconds"] == 10  # the kiosk records up to 10 s
    set_longest_clip(organiser, 5)
    # A 9 s take: more than 5 s allows (with its slack, 8 s), within what the kiosk allowed.
    take = mediafiles.chromium_webm(tmp_path / "take.webm", seconds=9, size="320x240")
    tus = TusKiosk(app, kiosk)
    (last,) = tus.send(tus.start(take.stat().st_size), take.read_bytes(), take.stat().st_size)
    reflection_id = int(last.headers["Voxpop-Reflection-Id"])

    reflection = process(app, reflection_id)

    assert reflection["status"] == "ready", reasons.english(reflection["failure_reason"])
    assert reflection["duration_seconds"] == pytest.approx(9, abs=0.2)


@requires_ffmpeg
@pytest.mark.media
def test_a_take_longer_than_the_event_ever_allowed_still_fails(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient, tmp_path: Path
) -> None:
    # Not a way round the limit for a paired kiosk: the highest the event had (10 s) holds.
    set_longest_clip(organiser, 5)
    take = mediafiles.opus_webm(tmp_path / "long.webm", seconds=15)
    data = kiosk.form(kind="audio", text=None)
    data["media"] = (io.BytesIO(take.read_bytes()), "long.webm", "audio/webm")
    response = kiosk.post(data)
    assert response.status_code == 201, response.json

    reflection = process(app, response.json["id"])

    assert reflection["status"] == "failed"
    assert "the limit is 10 s" in reasons.english(reflection["failure_reason"])


RATE = 100_000  # bytes a second: the limits below are a few MB
# Room left for the multipart form around the file (the whole body counts toward the limit).
FORM_ROOM = 100_000


def send_take(app: Flask, kiosk: KioskDevice, via: str, size: int) -> Any:
    """Send a take of ``size`` bytes for the kiosk's (first) event: tus creation or multipart."""
    if via == "tus":
        tus = TusKiosk(app, kiosk)
        return tus.create(size)
    data = kiosk.form(kind="video", text=None)
    data["media"] = (io.BytesIO(fake_webm(size)), "take.webm", "video/webm")
    return kiosk.post(data)


@pytest.mark.parametrize("via", ["multipart", "tus"])
def test_a_large_take_from_before_longest_clip_was_lowered_is_not_refused(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient, via: str
) -> None:
    app.config["UPLOAD_BYTES_PER_SECOND"] = RATE
    set_longest_clip(organiser, 5)
    fits_ten_seconds = upload_limit_bytes(10, RATE) - FORM_ROOM
    assert fits_ten_seconds > upload_limit_bytes(5, RATE)

    assert send_take(app, kiosk, via, fits_ten_seconds).status_code == 201
    too_large = send_take(app, kiosk, via, upload_limit_bytes(10, RATE) + 1)
    assert too_large.status_code == 413
    assert "too large" in too_large.json["error"]


@pytest.mark.parametrize("via", ["multipart", "tus"])
def test_raising_longest_clip_also_lets_an_earlier_events_large_take_in(
    app: Flask, kiosk: KioskDevice, organiser: FlaskClient, via: str
) -> None:
    # The Kiosks page's way out of "too large to send" is a higher "Longest clip": it works
    # for a take from before the new event started too.
    app.config["UPLOAD_BYTES_PER_SECOND"] = RATE
    with app.app_context():
        models.create_event(get_db(), "Day two", max_clip_seconds=5)
    size = upload_limit_bytes(10, RATE) + FORM_ROOM  # too large for the first event's limit
    assert send_take(app, kiosk, via, size).status_code == 413

    set_longest_clip(organiser, 20)

    response = send_take(app, kiosk, via, size)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("via", ["multipart", "tus"])
def test_a_take_is_sized_by_its_own_event_not_the_largest_any_event_allowed(
    app: Flask, kiosk: KioskDevice, via: str
) -> None:
    app.config["UPLOAD_BYTES_PER_SECOND"] = RATE
    with app.app_context():
        models.create_event(get_db(), "A long day", max_clip_seconds=30)
        models.create_event(get_db(), "Day three", max_clip_seconds=5)
    response = send_take(app, kiosk, via, upload_limit_bytes(10, RATE) + FORM_ROOM)
    assert response.status_code == 413
    assert rows(app, "SELECT id FROM reflection") == []


def test_the_settings_page_says_earlier_clips_are_kept_whole_when_longest_clip_is_lowered(
    app: Flask, organiser: FlaskClient
) -> None:
    set_longest_clip(organiser, 20)
    raised = organiser.get("/studio/settings/").text
    assert "kept whole" not in raised

    set_longest_clip(organiser, 8)

    page = organiser.get("/studio/settings/").text
    flash = page.split('class="flash"')[2].split("</p>")[0]
    assert "stop new recordings at 8 seconds" in flash
    assert "already recorded under the longer limit (20 seconds) are kept whole" in flash
    hint = page.split('id="max-clip-hint">')[1].split("</span>")[0]
    assert "(up to 20 seconds) are still kept whole" in hint
    assert longest_clip(app) == (8, 20)
    # The flash is said once; the hint stays while the setting is below what it was.
    assert "stop new recordings" not in organiser.get("/studio/settings/").text
    assert "are still kept whole" in organiser.get("/studio/settings/").text
