"""The public archive (/archive): only publishable reflections are ever shown or served."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.archivedata import TRANSCRIPT, add_archived, add_reel, query
from tests.conftest import (
    add_reflection,
    check_captions,
    give_consent,
    process,
    requires_ffmpeg,
)
from voxpop.archive import service
from voxpop.db import connect, database_path, get_db


def shown_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'data-reflection="(\d+)"', html)]


def set_column(app: Flask, sql: str, *params: Any) -> None:
    with app.app_context():
        get_db().execute(sql, params)


# Each way a reflection can fail to be publishable, as (name, how to make it).
NOT_PUBLISHABLE = {
    "hidden": lambda app: add_archived(app, review="hidden"),
    "waiting for review": lambda app: add_archived(app, review="waiting"),
    "no online consent": lambda app: add_archived(app, online=0),
    "withdrawn": lambda app: add_archived(app, withdrawn=True),
    "consent withdrawn only": lambda app: _consent_withdrawn(app),
    "failed": lambda app: add_archived(app, status="failed"),
    "processing": lambda app: add_archived(app, status="processing"),
    "no consent row": lambda app: _no_consent(app),
}


def _consent_withdrawn(app: Flask) -> int:
    reflection_id = add_archived(app)
    set_column(app, "UPDATE consent SET withdrawn_at = '2026-11-24T10:00:00+00:00'"
               " WHERE reflection_id = ?", reflection_id)  # fmt: skip
    return reflection_id


def _no_consent(app: Flask) -> int:
    reflection_id = add_archived(app)
    set_column(app, "DELETE FROM consent WHERE reflection_id = ?", reflection_id)
    return reflection_id


def test_landing_has_a_tile_per_perspective_with_public_counts(app, client) -> None:
    add_archived(app, perspective="volunteer")
    add_archived(app, "text", perspective="volunteer")
    add_archived(app, perspective="manager")
    for make in NOT_PUBLISHABLE.values():
        make(app)

    page = client.get("/archive/")

    assert page.status_code == 200
    assert "Walk in their shoes" in page.text
    assert 'href="/archive/p/volunteer"' in page.text
    assert "2 reflections" in page.text and "1 reflection<" in page.text
    # Perspectives with nothing public are shown greyed, not as links.
    assert 'data-perspective="provider"' in page.text
    assert 'href="/archive/p/provider"' not in page.text
    assert page.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("case", sorted(NOT_PUBLISHABLE))
def test_a_reflection_that_is_not_publishable_is_never_shown_or_served(app, client, case) -> None:
    public = add_archived(app, transcript=TRANSCRIPT)
    hidden = NOT_PUBLISHABLE[case](app)
    set_column(app, "UPDATE reflection SET transcript_vtt = ? WHERE id = ?", TRANSCRIPT, hidden)

    listing = client.get("/archive/p/volunteer")
    assert shown_ids(listing.text) == [public]
    for kind in ("mp4", "poster", "captions.vtt"):
        assert client.get(f"/archive/media/reflections/{public}/{kind}").status_code == 200
        assert client.get(f"/archive/media/reflections/{hidden}/{kind}").status_code == 404
    assert f"/{hidden}/" not in client.get("/archive/").text


def test_a_reflection_under_a_retired_perspective_is_not_listed_or_served(app, client) -> None:
    reflection_id = add_archived(app, perspective="manager")
    set_column(app, "UPDATE perspective SET retired_at = '2026-11-23' WHERE slug = 'manager'")

    assert client.get("/archive/p/manager").status_code == 404
    assert client.get(f"/archive/media/reflections/{reflection_id}/mp4").status_code == 404


def test_files_not_meant_for_the_public_are_not_served(app, client) -> None:
    video = add_archived(app)
    text = add_archived(app, "text")

    # thumbnails and a text reflection's silent clip exist, but the archive does not use them
    assert client.get(f"/archive/media/reflections/{video}/thumb").status_code == 404
    assert client.get(f"/archive/media/reflections/{text}/mp4").status_code == 404
    assert client.get(f"/archive/media/reflections/{video}/card").status_code == 404
    assert client.get(f"/archive/media/reflections/{video}/../../secret").status_code == 404
    # no transcript, no captions
    assert client.get(f"/archive/media/reflections/{video}/captions.vtt").status_code == 404


def test_media_answer_range_requests(app, client) -> None:
    reflection_id = add_archived(app)

    whole = client.get(f"/archive/media/reflections/{reflection_id}/mp4")
    part = client.get(
        f"/archive/media/reflections/{reflection_id}/mp4", headers={"Range": "bytes=0-2"}
    )

    assert whole.mimetype == "video/mp4" and whole.data == f"mp4 of {reflection_id}".encode()
    assert part.status_code == 206
    assert part.data == b"mp4"
    assert part.headers["Content-Range"] == f"bytes 0-2/{len(whole.data)}"
    assert part.headers["Accept-Ranges"] == "bytes"


def test_perspective_page_shows_players_captions_and_quote_cards(app, client) -> None:
    video = add_archived(app, transcript=TRANSCRIPT, trim=(1.0, 2.5))
    text = add_archived(app, "text", text="Fish & chips <b>for all</b>")

    page = client.get("/archive/p/volunteer").text

    assert 'preload="none"' in page
    assert f'src="/archive/media/reflections/{video}/mp4#t=1,2.5"' in page
    assert f'<track kind="captions" src="/archive/media/reflections/{video}/captions.vtt"' in page
    assert f'src="/archive/media/reflections/{video}/poster" loading="lazy"' in page
    assert f'src="/archive/media/reflections/{text}/card" loading="lazy"' in page
    assert "Fish &amp; chips &lt;b&gt;for all&lt;/b&gt;" in page  # escaped, never markup
    assert "What are you taking away from today?" in page
    assert page.count("<h1") == 1 and f'id="reflection-{video}-heading"' in page


def test_captions_are_served_as_webvtt_from_the_transcript(app, client) -> None:
    reflection_id = add_archived(app, transcript=TRANSCRIPT)

    response = client.get(f"/archive/media/reflections/{reflection_id}/captions.vtt")

    assert response.mimetype == "text/vtt"
    assert response.text.startswith("WEBVTT\n")
    assert "Fish &amp; chips for all" in response.text  # cue tags dropped, text kept escaped


def test_pages_hold_24_reflections_oldest_first_with_previous_and_next(app, client) -> None:
    ids = [add_archived(app, created_at=f"2026-11-23T10:{minute:02d}:00+00:00")
           for minute in range(30)]  # fmt: skip

    first = client.get("/archive/p/volunteer")
    second = client.get("/archive/p/volunteer?page=2")

    assert shown_ids(first.text) == ids[:24]
    assert shown_ids(second.text) == ids[24:]
    assert "Page 1 of 2" in first.text
    assert 'rel="next" href="/archive/p/volunteer?page=2"' in first.text
    assert 'rel="prev"' not in first.text
    assert 'rel="prev" href="/archive/p/volunteer"' in second.text
    assert 'rel="next"' not in second.text
    assert '<ol class="reflections" start="25">' in second.text
    assert client.get("/archive/p/volunteer?page=3").status_code == 404
    assert client.get("/archive/p/volunteer?page=0").status_code == 404
    assert client.get("/archive/p/nobody").status_code == 404


def test_welsh_pages_use_welsh_labels_and_prompts(app, client) -> None:
    add_archived(app)

    landing = client.get("/archive/?lang=cy")
    page = client.get("/archive/p/volunteer")  # the language is remembered

    assert '<html lang="cy">' in landing.text
    assert "Gwirfoddolwr" in landing.text and "Aelod o&#39;r gymuned" in landing.text
    assert "Beth fyddwch chi&#39;n ei gymryd gyda chi o heddiw?" in page.text
    assert 'href="/archive/p/volunteer?lang=en"' in page.text  # switch back, same page


@pytest.mark.parametrize(("show_name", "shown"), [(1, True), (0, False)])
def test_first_name_only_when_the_delegate_agreed(app, client, show_name, shown) -> None:
    add_archived(app, name="Gwenllian", show_name=show_name)

    assert ("Gwenllian" in client.get("/archive/p/volunteer").text) is shown


def test_archived_ready_reels_are_on_the_landing_page(app, client) -> None:
    online = add_archived(app)
    offline = add_archived(app, online=0)
    shown = add_reel(app, clips=(online,), kinds=("mp4", "vtt", "captioned_mp4"))
    hidden = {
        "not archived": add_reel(app, archived=0),
        "rendering": add_reel(app, status="rendering"),
        "stale": add_reel(app, stale=True),
        "a clip without online consent": add_reel(app, clips=(online, offline)),
    }

    page = client.get("/archive/").text

    assert f'data-reel="{shown}"' in page
    assert f'<source src="/archive/media/reels/{shown}/mp4"' in page
    assert f'src="/archive/media/reels/{shown}/vtt"' in page
    for kind in ("mp4", "vtt", "captioned_mp4"):
        assert client.get(f"/archive/media/reels/{shown}/{kind}").status_code == 200
    for why, reel_id in hidden.items():
        assert f'data-reel="{reel_id}"' not in page, why
        assert client.get(f"/archive/media/reels/{reel_id}/mp4").status_code == 404, why


def test_a_page_costs_the_same_queries_for_3_or_24_reflections(app) -> None:
    def statements(count: int) -> int:
        with app.app_context():
            db = get_db()
            db.execute("DELETE FROM asset")
            db.execute("DELETE FROM transcript")
            db.execute("DELETE FROM consent")
            db.execute("DELETE FROM reflection")
        for _ in range(count):
            add_archived(app, transcript=TRANSCRIPT)
        seen: list[str] = []
        db = connect(database_path(app.config["INSTANCE"]))
        db.set_trace_callback(seen.append)
        event_id = db.execute("SELECT id FROM event").fetchone()[0]
        page = service.perspective_page(db, event_id, "volunteer")
        db.close()
        assert len(page.reflections) == count
        return len(seen)

    assert statements(3) == statements(24)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT r.perspective_id, COUNT(*)" + service._FROM + " WHERE "
        + service.PUBLISHABLE_WHERE + " GROUP BY r.perspective_id",
        service._SELECT + " WHERE " + service.PUBLISHABLE_WHERE + " AND r.perspective_id = ?"
        + service._ORDER + " LIMIT 24 OFFSET 0",
    ],
    ids=["counts", "page"],
)  # fmt: skip
def test_archive_queries_use_indexes_not_table_scans(app, sql) -> None:
    add_archived(app)
    with app.app_context():
        params = [1] * sql.count("?")
        plan = [row[3] for row in get_db().execute("EXPLAIN QUERY PLAN " + sql, params)]
    scans = [step for step in plan if re.match(r"SCAN (r|c|a|reflection|consent|asset)\b", step)]
    assert not scans, plan
    assert any(step.startswith("SEARCH r USING INDEX") for step in plan), plan


def test_archive_is_open_to_anyone_and_changes_nothing(app, client: FlaskClient) -> None:
    add_archived(app)
    before = query(app, "SELECT COUNT(*) AS n FROM audit_log")

    assert client.get("/archive/").status_code == 200
    assert client.post("/archive/").status_code in (400, 405)  # no CSRF token, or no POST
    assert query(app, "SELECT COUNT(*) AS n FROM audit_log") == before


@requires_ffmpeg
def test_real_processed_video_and_text_are_published(app, client, webm_clip) -> None:
    video = add_reflection(app, "video", webm_clip, perspective="service-user")
    text = add_reflection(app, "text", text="Co-production means sharing power.",
                          perspective="service-user", name="Aled")  # fmt: skip
    for reflection_id in (video, text):
        give_consent(app, reflection_id, online=1, show_name=1)
        assert process(app, reflection_id)["status"] == "ready"
    hidden = add_reflection(app, "video", webm_clip, perspective="service-user")
    give_consent(app, hidden, online=1)
    process(app, hidden)  # ready, but waiting for review
    set_column(app, "UPDATE reflection SET review_state = 'approved' WHERE id IN (?, ?)",
               video, text)  # fmt: skip
    # The captions gate: the video waits for a person to check its captions; text needs none.
    assert shown_ids(client.get("/archive/p/service-user").text) == [text]
    assert client.get(f"/archive/media/reflections/{video}/mp4").status_code == 404
    check_captions(app, video)

    page = client.get("/archive/p/service-user").text
    mp4 = client.get(f"/archive/media/reflections/{video}/mp4")
    card = client.get(f"/archive/media/reflections/{text}/card")

    assert shown_ids(page) == [video, text]
    assert "Aled" in page and "Co-production means sharing power." in page
    (asset,) = query(app, "SELECT path FROM asset WHERE reflection_id = ? AND kind = 'mp4'", video)
    assert mp4.data == (app.extensions["voxpop"].store.root / asset["path"]).read_bytes()
    assert mp4.data[4:8] == b"ftyp"
    assert card.mimetype == "image/png" and card.data.startswith(b"\x89PNG")
    assert client.get(f"/archive/media/reflections/{hidden}/mp4").status_code == 404


def _main_file_gone(app: Flask) -> int:
    reflection_id = add_archived(app)
    set_column(app, "DELETE FROM asset WHERE reflection_id = ? AND kind = 'mp4'", reflection_id)
    return reflection_id


def _retired(app: Flask) -> int:
    reflection_id = add_archived(app, perspective="manager")
    set_column(app, "UPDATE perspective SET retired_at = '2026-11-23' WHERE slug = 'manager'")
    return reflection_id


def _captions_not_required(app: Flask) -> int:
    set_column(app, "UPDATE event SET captions_required = 0")
    return add_archived(app, captions="draft")


# How a reflection is made -> the reason the report gives for not publishing it (None: it is).
NOT_PUBLISHED_BECAUSE = {
    "publishable": (lambda app: add_archived(app), None),
    "text": (lambda app: add_archived(app, "text", captions=None), None),
    "captions gate relaxed": (_captions_not_required, None),
    "withdrawn": (lambda app: add_archived(app, withdrawn=True), "withdrawn"),
    "consent withdrawn only": (_consent_withdrawn, "withdrawn"),
    "retired perspective": (_retired, "retired"),
    "no online consent": (lambda app: add_archived(app, online=0), "not_online"),
    "hidden": (lambda app: add_archived(app, review="hidden"), "hidden"),
    "failed": (lambda app: add_archived(app, status="failed"), "failed"),
    "received": (lambda app: add_archived(app, status="received"), "processing"),
    "processing": (lambda app: add_archived(app, status="processing"), "processing"),
    "main file gone": (_main_file_gone, "processing"),
    "waiting for review": (lambda app: add_archived(app, review="waiting"), "waiting"),
    "no captions": (lambda app: add_archived(app, captions=None), "captions"),
    "draft captions": (lambda app: add_archived(app, "audio", captions="draft"), "captions"),
    # Several at once: a choice someone made comes before what passes with time.
    "offline and waiting": (
        lambda app: add_archived(app, online=0, review="waiting", captions=None),
        "not_online",
    ),
    "hidden and processing": (
        lambda app: add_archived(app, review="hidden", status="processing"),
        "hidden",
    ),
}


@pytest.mark.parametrize("case", list(NOT_PUBLISHED_BECAUSE))
def test_the_reason_for_not_publishing_agrees_with_the_rule(app, case) -> None:
    make, reason = NOT_PUBLISHED_BECAUSE[case]
    reflection_id = make(app)
    rows = query(
        app,
        f"SELECT {service.NOT_PUBLISHED_REASON} AS reason FROM reflection r"  # noqa: S608
        " JOIN consent c ON c.reflection_id = r.id JOIN perspective p ON p.id = r.perspective_id"
        " WHERE r.id = ?",
        reflection_id,
    )
    assert rows == [{"reason": reason}]
    assert reason is None or reason in service.NOT_PUBLISHED_REASONS
    with app.app_context():
        assert service.is_publishable(get_db(), reflection_id) == (reason is None)


def test_is_publishable_agrees_with_the_listing(app) -> None:
    public = add_archived(app)
    others = [make(app) for make in NOT_PUBLISHABLE.values()]
    with app.app_context():
        db: sqlite3.Connection = get_db()
        assert service.is_publishable(db, public)
        assert not any(service.is_publishable(db, other) for other in others)
        listed = [r.id for r in service.publishable_reflections(db, 1)]
    assert listed == [public]
