"""Captions checked by a person, the captions gate and search over what was said (issue 16).

Reflections are written straight into the database (tests/archivedata.py) with tiny
placeholder files; the speech model itself is exercised in tests/test_speech.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.archivedata import add_archived, query
from tests.conftest import Auth, csrf_from
from voxpop import models
from voxpop.archive import service as archive
from voxpop.db import get_db
from voxpop.media import vtt
from voxpop.publishing.export import export_site
from voxpop.reflection import search, transcripts

pytestmark = pytest.mark.python_only

VTT = (
    "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nWe co-produced the timetable together.\n\n"
    "2\n00:00:02.500 --> 00:00:05.000\nNext time I will ask the café staff first.\n"
)


def ids_public(app: Flask) -> list[int]:
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        return [r.id for r in archive.publishable_reflections(db, event.id)]


def transcript_of(app: Flask, reflection_id: int) -> dict | None:
    found = query(app, "SELECT * FROM transcript WHERE reflection_id = ?", reflection_id)
    return found[0] if found else None


def post_on_page(client: FlaskClient, page: str, action: str, **data: str):
    html = client.get(page).text
    return client.post(action, data={"csrf_token": csrf_from(html), **data})


# -- the gate -------------------------------------------------------------------------------------


def test_a_recording_goes_online_only_once_its_captions_are_checked(
    app: Flask, client: FlaskClient, auth: Auth, tmp_path: Path
) -> None:
    video = add_archived(app, "video", transcript=VTT, captions="draft")
    audio = add_archived(app, "audio", transcript=VTT, captions=None)
    text = add_archived(app, "text")
    assert ids_public(app) == [text]
    assert client.get(f"/archive/media/reflections/{video}/mp4").status_code == 404
    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, tmp_path / "before")
    before = (tmp_path / "before" / "manifest.json").read_text()
    assert f'"id": {video}' not in before and f'"id": {text}' in before

    auth.login("facilitator", "Siân")
    answer = post_on_page(client, f"/review/{video}", f"/review/{video}/captions/checked")
    assert answer.status_code == 303
    row = transcript_of(app, video)
    assert row["status"] == "checked" and row["checked_at"]
    (user,) = query(app, "SELECT id FROM user WHERE name = 'Siân'")
    assert row["checked_by"] == user["id"]
    assert row["text"] == (
        "We co-produced the timetable together. Next time I will ask the café staff first."
    )
    (logged,) = query(app, "SELECT * FROM audit_log WHERE action = 'reflection.captions_checked'")
    assert logged["user_name"] == "Siân" and logged["target_id"] == video

    assert ids_public(app) == [video, text]  # the audio still waits
    assert audio not in ids_public(app)
    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, tmp_path / "after")
    assert f'"id": {video}' in (tmp_path / "after" / "manifest.json").read_text()
    page = client.get(f"/review/{video}").text
    assert "Checked by Siân" in page


def test_changing_checked_captions_sends_them_back_to_be_checked(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    video = add_archived(app, "video", transcript=VTT, captions="checked")
    assert video in ids_public(app)
    auth.login("facilitator")
    answer = post_on_page(
        client, f"/review/{video}", f"/review/{video}/transcript",
        cue_start="0:00.000", cue_end="0:02.000", cue_text="We wrote the timetable together.",
    )  # fmt: skip
    assert answer.status_code == 303
    row = transcript_of(app, video)
    assert row["status"] == "none" and row["checked_at"] is None and row["checked_by"] is None
    assert video not in ids_public(app)
    actions = [r["action"] for r in query(app, "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["reflection.transcript", "reflection.captions_unchecked"]


def test_captions_must_exist_before_they_are_checked_unless_nobody_spoke(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    empty = add_archived(app, "video", captions="draft")
    silent = add_archived(app, "video", captions="no-speech")
    text = add_archived(app, "text")
    auth.login("facilitator")
    refused = post_on_page(client, f"/review/{empty}", f"/review/{empty}/captions/checked")
    assert refused.status_code == 400
    assert "Write the captions first" in refused.text
    assert transcript_of(app, empty)["status"] == "draft"
    assert (
        post_on_page(client, f"/review/{silent}", f"/review/{silent}/captions/checked").status_code
        == 303
    )
    assert transcript_of(app, silent)["status"] == "checked"
    assert silent in ids_public(app)
    refused = post_on_page(client, f"/review/{text}", f"/review/{text}/captions/checked")
    assert refused.status_code == 400 and transcript_of(app, text) is None


def caption_status(page: str) -> tuple[str, str]:
    """The captions box's status line: (its class's state, its words)."""
    found = re.search(r'<p class="captions-state captions-([\w-]+)">([^<]*)</p>', page)
    assert found, "no captions status line"
    return found.group(1), found.group(2)


def listed(client: FlaskClient, captions: str) -> list[int]:
    """The reflections in one of the queue's captions work lists."""
    page = client.get(f"/review/?captions={captions}").text
    return [int(i) for i in re.findall(r'<li class="review-item[^"]*"[^>]*?data-id="(\d+)"', page)]


MACHINE_DRAFT = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nWe co-produced it\n"


@pytest.mark.parametrize(
    ("speech", "before"),
    [
        ("no-speech", "Captions: no speech heard"),
        ("needs-person", "Captions: a person must write them"),
        (None, "No captions yet"),  # automatic captions off: no transcript row
        ("draft", "Captions: machine draft, not checked"),  # then edited by a person
    ],
)
def test_captions_a_person_saves_are_shown_as_written_until_checked(
    app: Flask, client: FlaskClient, auth: Auth, speech: str | None, before: str
) -> None:
    """After "Captions saved." the status is the saved captions', not what the speech step
    found before a person wrote them; and the work lists agree with it."""
    draft = MACHINE_DRAFT if speech == "draft" else None
    video = add_archived(app, "video", transcript=draft, captions=speech)
    with app.app_context():
        get_db().execute(
            "UPDATE transcript SET draft_vtt = ?, reason = ? WHERE reflection_id = ?",
            (draft, transcripts.welsh_kiosk_reason() if speech == "needs-person" else None,
             video),
        )  # fmt: skip
    auth.login("facilitator", "Siân")
    page = client.get(f"/review/{video}").text
    assert caption_status(page)[1] == before
    if speech:
        assert listed(client, speech) == [video]

    saved = post_on_page(
        client, f"/review/{video}", f"/review/{video}/transcript",
        cue_start="0", cue_end="2.5", cue_text="We wrote the timetable together.",
    )  # fmt: skip
    assert saved.status_code == 303
    assert saved.location.endswith("#transcript-title")  # back to the editor, not the top
    page = client.get(saved.location).text
    editor = page[page.index('id="transcript-title"') :]
    assert '<p class="flash" role="status">Captions saved.</p>' in editor  # said beside it
    assert caption_status(page) == ("written", "Captions: written by a person, not checked")
    assert "a person needs to write them" not in page  # the Welsh kiosk's reason is done with
    assert "Mark captions checked" in page
    assert listed(client, "written") == [video]
    assert listed(client, "waiting") == [video]  # approved: it still waits for a check
    if speech:
        assert listed(client, speech) == []

    # Checked: the audit log says what it was before, as the page showed it.
    post_on_page(client, f"/review/{video}", f"/review/{video}/captions/checked")
    assert caption_status(client.get(f"/review/{video}").text)[0] == "checked"
    (logged,) = query(app, "SELECT * FROM audit_log WHERE action = 'reflection.captions_checked'")
    assert json.loads(logged["before"]) == {"captions": "written"}


def test_removing_a_persons_captions_shows_what_the_speech_step_found_again(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    video = add_archived(app, "video", captions="no-speech")
    auth.login("facilitator")
    post_on_page(client, f"/review/{video}", f"/review/{video}/transcript",
                 cue_start="0", cue_end="1", cue_text="Hello?")  # fmt: skip
    assert caption_status(client.get(f"/review/{video}").text)[0] == "written"
    post_on_page(client, f"/review/{video}", f"/review/{video}/transcript",
                 cue_start="0", cue_end="1", cue_text=" ")  # fmt: skip
    page = client.get(f"/review/{video}").text
    assert caption_status(page) == ("no-speech", "Captions: no speech heard")
    assert listed(client, "no-speech") == [video] and listed(client, "written") == []


def test_the_new_captions_row_shows_the_time_format_not_a_time(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    """The empty row's time boxes used to show 0:00.000 and 0:02.000 in grey, which read as
    times already set. Their placeholders must not be times, and they point to the hint that
    says how to write one."""
    video = add_archived(app, "video", captions="no-speech")
    auth.login("facilitator")
    page = client.get(f"/review/{video}").text
    row = page[page.index('<tr class="cue-row cue-new">') :]
    row = row[: row.index("</tr>")]
    boxes = re.findall(r'<input type="text" name="cue_(start|end)"([^>]*)>', row)
    assert [name for name, _attrs in boxes] == ["start", "end"]
    for _name, attrs in boxes:
        placeholder = re.search(r'placeholder="([^"]*)"', attrs)
        assert placeholder and placeholder.group(1)
        with pytest.raises(vtt.VttError):
            vtt.parse_time(placeholder.group(1))
        assert 'aria-describedby="cues-hint"' in attrs
    assert re.search(r'<p class="hint" id="cues-hint">Times in seconds', page)


def test_the_gate_can_be_relaxed_by_an_organiser_with_a_warning(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    video = add_archived(app, "video", transcript=VTT, captions="draft")
    auth.login("organiser")
    page = client.get("/studio/publish").text
    assert "1 approved clip is held back until its captions are checked." in page
    answer = post_on_page(client, "/studio/publish", "/studio/captions-gate", required="0",
                          back="publish")  # fmt: skip
    assert answer.status_code == 302
    assert video in ids_public(app)
    page = client.get("/studio/export").text
    assert "will not meet WCAG 2.2 AA" in page
    post_on_page(client, "/studio/export", "/studio/captions-gate", required="1", back="export")
    assert video not in ids_public(app)
    changes = query(app, "SELECT after FROM audit_log WHERE action = 'event.captions_gate'")
    assert [c["after"] for c in changes] == [
        '{"captions_required": false}', '{"captions_required": true}']  # fmt: skip


def test_facilitators_cannot_relax_the_gate(app: Flask, client: FlaskClient, auth: Auth) -> None:
    add_archived(app, "video", transcript=VTT, captions="draft")
    auth.login("facilitator")
    html = client.get("/review/").text
    answer = client.post(
        "/studio/captions-gate", data={"csrf_token": csrf_from(html), "required": "0"}
    )
    assert answer.status_code == 403
    with app.app_context():
        assert models.current_event(get_db()).captions_required  # type: ignore[union-attr]


def test_an_archived_reel_stays_private_while_a_clip_in_it_waits_for_captions(
    app: Flask,
) -> None:
    from tests.archivedata import add_reel

    video = add_archived(app, "video", transcript=VTT, captions="checked")
    reel_id = add_reel(app, clips=(video,))
    with app.app_context():
        event_id = models.current_event(get_db()).id  # type: ignore[union-attr]
        assert [r.id for r in archive.archived_reels(get_db(), event_id)] == [reel_id]
        get_db().execute("UPDATE transcript SET status = 'draft' WHERE reflection_id = ?", (video,))
        assert archive.archived_reels(get_db(), event_id) == []


# -- the work list ----------------------------------------------------------------------------


def test_the_queue_lists_approved_clips_waiting_for_captions(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    waiting = add_archived(app, "video", transcript=VTT, captions="draft")
    person = add_archived(app, "audio", captions="needs-person", lang="cy")
    add_archived(app, "video", transcript=VTT, captions="checked")
    add_archived(app, "video", review="waiting", captions="draft")  # not approved yet
    add_archived(app, "text")
    auth.login("facilitator")
    page = client.get("/review/").text
    assert "2 approved clips wait for their captions to be checked" in page
    assert "1 needs captions written by a person" in page
    listed = client.get("/review/?captions=waiting").text
    assert sorted(int(i) for i in re.findall(r'data-id="(\d+)"', listed)) == [waiting, person]
    assert "Captions: a person must write them" in listed
    only_person = client.get("/review/?captions=needs-person").text
    assert [int(i) for i in re.findall(r'data-id="(\d+)"', only_person)] == [person]


def test_the_studio_says_when_automatic_captions_are_off(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    auth.login("facilitator")
    app.config["SPEECH_AFTER_PROCESSING"] = False
    assert "Automatic captions are turned off in the settings" in client.get("/review/").text
    app.config["SPEECH_AFTER_PROCESSING"] = True
    app.config["SPEECH_MODEL"] = ""
    from voxpop.speech import model as speech_model

    has_model = speech_model.packaged_parts() is not None
    page = client.get("/review/").text
    assert ("Automatic captions are off: no speech model is installed" in page) is not has_model


# -- the transcript beside the player -------------------------------------------------------------


def test_the_review_page_shows_the_transcript_with_word_times_while_it_is_the_draft(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    import json

    draft = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.200\nHello there friends\n"
    video = add_archived(app, "video", transcript=draft, captions="draft")
    words = [{"start": 0.0, "end": 0.4, "text": " Hello", "probability": 0.9},
             {"start": 0.4, "end": 0.8, "text": " there", "probability": 0.9},
             {"start": 0.8, "end": 1.2, "text": " friends", "probability": 0.9}]  # fmt: skip
    with app.app_context():
        get_db().execute(
            "UPDATE transcript SET draft_vtt = ?, segments = ? WHERE reflection_id = ?",
            (draft, json.dumps([{"start": 0, "end": 1.2, "text": "Hello there friends",
                                 "words": words}]), video),
        )  # fmt: skip
    auth.login("facilitator")
    page = client.get(f"/review/{video}?t=0.5").text
    assert re.findall(r'<span class="word" data-start="([\d.]+)"[^>]*>(\w+)</span>', page) == [
        ("0.0", "Hello"), ("0.4", "there"), ("0.8", "friends")]  # fmt: skip
    assert 'href="#cue-text-1"' in page and 'id="cue-text-1"' in page
    assert "js/transcript.js" in page
    # Edited by a person: lines only (the machine's word times no longer match the words).
    post_on_page(
        client, f"/review/{video}", f"/review/{video}/transcript",
        cue_start="0:00.000", cue_end="0:01.200", cue_text="Hello, dear friends",
    )  # fmt: skip
    page = client.get(f"/review/{video}").text
    assert 'class="word"' not in page and "Hello, dear friends" in page


# -- search ---------------------------------------------------------------------------------------


def test_search_finds_captions_with_their_time_text_and_tags_and_folds_accents(
    app: Flask,
) -> None:
    video = add_archived(app, "video", transcript=VTT, captions="draft")
    text = add_archived(app, "text", text="The cafe listened to what we said.")
    with app.app_context():
        db = get_db()
        db.execute("INSERT INTO tag (event_id, name) VALUES (1, 'transport')")
        db.execute("INSERT INTO reflection_tag (reflection_id, tag_id) VALUES (?, 1)", (text,))
        event_id = models.current_event(db).id  # type: ignore[union-attr]
        found = search.search(db, event_id, "cafe")
        assert {f.reflection_id for f in found} == {video, text}
        hit = next(f for f in found if f.reflection_id == video).hits[0]
        assert hit.source == "caption" and hit.start == 2.5
        assert search.plain(hit.snippet) == "Next time I will ask the café staff first."
        assert str(hit.html) == "Next time I will ask the <mark>café</mark> staff first."
        assert [f.reflection_id for f in search.search(db, event_id, "co-produced timet")] == [
            video]  # fmt: skip
        assert [f.reflection_id for f in search.search(db, event_id, "transport")] == [text]
        assert search.search(db, event_id, '"unbalanced AND (') == []  # typed syntax is words
        assert search.search(db, event_id, "  ") == []


def test_search_sees_edits_without_being_told(app: Flask) -> None:
    video = add_archived(app, "video", transcript=VTT, captions="draft")
    with app.app_context():
        db = get_db()
        event_id = models.current_event(db).id  # type: ignore[union-attr]
        assert search.search(db, event_id, "timetable")
        db.execute(
            "UPDATE reflection SET transcript_vtt = ? WHERE id = ?",
            ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nBuses at last.\n", video),
        )
        assert search.search(db, event_id, "timetable") == []
        assert [f.reflection_id for f in search.search(db, event_id, "buses")] == [video]


def test_the_review_queue_shows_where_it_matched_with_a_link_to_that_moment(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    video = add_archived(app, "video", transcript=VTT, captions="draft")
    add_archived(app, "text", text="Nothing about drinks here.")
    auth.login("facilitator")
    page = client.get("/review/?q=caf").text
    assert [int(i) for i in re.findall(r'data-id="(\d+)"', page)] == [video]
    assert re.search(
        rf'href="/review/{video}\?t=2\.5[^"]*"><span class="hit-time">0:02</span> '
        r"Next time I will ask the <mark>café</mark> staff first\.</a>",
        page,
    ), page


def test_public_search_covers_only_what_the_archive_shows(app: Flask, client: FlaskClient) -> None:
    public = add_archived(app, "video", transcript=VTT, captions="checked")
    add_archived(app, "video", transcript=VTT, captions="draft")  # gate closed
    add_archived(app, "video", transcript=VTT, online=0)  # no online consent
    add_archived(app, "text", text="The timetable was mine.", review="hidden")
    with app.app_context():
        db = get_db()
        event_id = models.current_event(db).id  # type: ignore[union-attr]
        found = search.search(db, event_id, "timetable", publishable_only=True)
    assert [f.reflection_id for f in found] == [public]
    page = client.get("/archive/search?q=timetable")
    assert page.status_code == 200
    assert [int(i) for i in re.findall(r'data-reflection="(\d+)"', page.text)] == [public]
    assert "<mark>timetable</mark>" in page.text


def test_withdrawal_takes_the_words_out_of_the_index_and_the_file(
    app: Flask, client: FlaskClient
) -> None:
    from tests.test_withdrawal import confirm, run_withdraw_job, with_code

    secret = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nZyxwvutsrq marmalade\n"
    video = add_archived(app, "video", transcript=secret, captions="checked")
    keep = add_archived(app, "text", text="Zyxwvutsrq is mine too.")
    code = with_code(app, video)
    with app.app_context():
        db = get_db()
        event_id = models.current_event(db).id  # type: ignore[union-attr]
        assert {f.reflection_id for f in search.search(db, event_id, "zyxwvutsrq")} == {
            video, keep}  # fmt: skip
    confirm(client, code)
    with app.app_context():  # gone from search at once, before the job runs
        assert [f.reflection_id for f in search.search(get_db(), event_id, "zyxwvutsrq")] == [keep]
        assert (
            get_db()
            .execute("SELECT COUNT(*) FROM search_entry WHERE reflection_id = ?", (video,))
            .fetchone()[0]
            == 0
        )
    assert run_withdraw_job(app, video) == "done"
    path = Path(app.config["INSTANCE"]) / "voxpop.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert b"marmalade" not in path.read_bytes()
