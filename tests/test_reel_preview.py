"""The reel's sequence before a render (issue 17): the same cards, order and lengths a render
would make, the trims cut at keyframes, and the builder's timeline and its refreshed fragment."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Auth, add_reflection, give_consent
from tests.test_reel_builder import create, order, ready, sql, token
from voxpop import models
from voxpop.db import get_db
from voxpop.media import cards
from voxpop.reels import preview, service
from voxpop.reels.render import INTRO_SECONDS, OUTRO_SECONDS, SECTION_SECONDS

pytestmark = pytest.mark.python_only

KINDS = {"video": "Video", "audio": "Audio", "text": "Text"}
WORDS = "We were listened to, and the plan changed because of what we said on the day."


@pytest.fixture
def organiser(client: FlaskClient, auth: Auth) -> FlaskClient:
    auth.login("organiser")
    return client


def written(app: Flask, perspective: str = "volunteer") -> int:
    reflection_id = add_reflection(app, "text", text=WORDS, perspective=perspective)
    give_consent(app, reflection_id)
    sql(app, "UPDATE reflection SET status = 'ready', review_state = 'approved', starred = 1"
             " WHERE id = ?", reflection_id)  # fmt: skip
    return reflection_id


def sequence_of(app: Flask, reel_id: int) -> list[preview.PreviewPiece]:
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        return preview.sequence(db, event, service.entries(db, event, reel_id, "en"), KINDS)


def test_sequence_has_the_renders_cards_order_and_lengths(app, organiser, tmp_path) -> None:
    first = ready(app, tmp_path, duration=12.0)
    trimmed = ready(app, tmp_path, duration=12.0)
    text = written(app)
    other = ready(app, tmp_path, perspective="manager", duration=7.5)
    left_out = ready(app, tmp_path, duration=5.0)
    # 2.5–7 s is cut at the keyframes around it: 2–8 s, as the render cuts it.
    sql(app, "UPDATE reflection SET trim_in = 2.5, trim_out = 7 WHERE id = ?", trimmed)
    reel_id = create(organiser, propose=False)
    csrf = token(organiser, f"/studio/reels/{reel_id}")
    for reflection_id in (first, trimmed, text, other, left_out):
        organiser.post(f"/studio/reels/{reel_id}/add",
                       data={"reflection_id": reflection_id, "csrf_token": csrf})  # fmt: skip
    sql(app, "UPDATE reflection SET review_state = 'waiting' WHERE id = ?", left_out)

    pieces = sequence_of(app, reel_id)
    assert [(p.kind, p.reflection_id) for p in pieces] == [
        ("title", None),  # intro
        ("title", None),  # Volunteer
        ("clip", first),
        ("clip", trimmed),
        ("text", text),
        ("title", None),  # Manager or leader
        ("clip", other),
        ("title", None),  # outro
    ]  # the unapproved clip is left out, as the render leaves it out
    assert [p.seconds for p in pieces] == [
        INTRO_SECONDS, SECTION_SECONDS, 12.0, 6.0, cards.words_to_seconds(WORDS),
        SECTION_SECONDS, 7.5, OUTRO_SECONDS,
    ]  # fmt: skip
    assert (pieces[3].start, pieces[3].end) == (2.0, 8.0)
    assert (pieces[2].start, pieces[2].end) == (0.0, 12.0)
    # The cards say what the render's cards say (a bilingual event: both languages).
    assert pieces[0].title == "Whose Shoes? test day"
    assert pieces[1].title == "Volunteer" and pieces[1].subtitle == "Gwirfoddolwr"
    assert pieces[1].kicker == "In the shoes of… · Yn esgidiau…"
    assert pieces[-1].title == "Thank you · Diolch"
    assert preview.total_seconds(pieces) == pytest.approx(sum(p.seconds for p in pieces))


def test_an_empty_or_unshowable_reel_has_no_sequence(app, organiser, tmp_path) -> None:
    reel_id = create(organiser, propose=False)
    assert sequence_of(app, reel_id) == []
    page = organiser.get(f"/studio/reels/{reel_id}").text
    assert "Nothing to preview yet" in page and 'id="reel-timeline"' not in page


def test_builder_shows_the_timeline_and_its_fragment_follows_the_order(
    app, organiser, tmp_path
) -> None:
    a = ready(app, tmp_path, duration=4.0)
    b = written(app)
    reel_id = create(organiser)
    assert order(app, reel_id) == [a, b]
    page = organiser.get(f"/studio/reels/{reel_id}").text
    timeline = page.split('id="reel-timeline"')[1].split("</ol>")[0]
    assert timeline.count('class="timeline-piece') == 5  # intro, section, clip, text, outro
    assert f'data-src="/studio/media/{a}/mp4"' in timeline
    assert f'data-poster="/studio/media/{a}/poster"' in timeline
    assert f'data-image="/studio/media/{b}/card"' in timeline
    assert 'data-start="0.0" data-end="4.0"' in timeline
    assert "js/reel-preview.js" in page

    csrf = token(organiser, f"/studio/reels/{reel_id}")
    organiser.post(f"/studio/reels/{reel_id}/order", json={"order": [b, a]},
                   headers={"X-CSRFToken": csrf, "Accept": "application/json"})  # fmt: skip
    answer = organiser.get(f"/studio/reels/{reel_id}/timeline")
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    assert answer.headers["X-Voxpop-Fragment"] == "reel-timeline"
    html = answer.text
    assert "<html" not in html
    assert html.index(f"/studio/media/{b}/card") < html.index(f"/studio/media/{a}/mp4")
    seconds = INTRO_SECONDS + SECTION_SECONDS + cards.words_to_seconds(WORDS) + 4.0 + OUTRO_SECONDS
    assert f'data-seconds="{seconds}"' in html
    whole = round(seconds)
    assert f'data-length-text="about {whole // 60}:{whole % 60:02d} with cards"' in html
    # The cards' words are the reel's (English first at this event), marked as such.
    assert '<span class="piece-label" lang="en">Thank you · Diolch</span>' in html
    welsh = organiser.get(f"/studio/reels/{reel_id}/timeline?lang=cy").text
    assert "Chwarae o fan hyn:" in welsh


def test_preview_of_another_events_or_a_missing_reel_is_not_found(app, organiser) -> None:
    assert organiser.get("/studio/reels/999/timeline").status_code == 404
