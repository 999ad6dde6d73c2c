"""The review queue (voxpop/review): listing and filtering, every change and its audit row,
plain-form fallbacks, every role, hostile input, and range requests on a real clip."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import (
    Auth,
    KioskDevice,
    add_reflection,
    csrf_from,
    give_consent,
    process,
    requires_ffmpeg,
    rows,
)
from voxpop import models, reasons
from voxpop.db import get_db, transaction, utcnow
from voxpop.reels import service as reel_service

REVIEWERS = ("facilitator", "organiser")
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


# -- helpers ----------------------------------------------------------------------------------


class Reviewer:
    """A logged-in test client that sends review changes with its CSRF token."""

    def __init__(self, app: Flask, client: FlaskClient, role: str) -> None:
        self.app, self.client, self.role = app, client, role
        Auth(app, client).login(role, name=f"{role}-reviewer")
        self.token = csrf_from(client.get("/review/").text)

    def post(self, path: str, data: dict[str, Any] | None = None, *, as_json: bool = True) -> Any:
        headers = {"Accept": "application/json"} if as_json else {}
        return self.client.post(
            path, data={**(data or {}), "csrf_token": self.token}, headers=headers
        )

    def get(self, path: str) -> Any:
        return self.client.get(path)


@pytest.fixture(params=REVIEWERS)
def reviewer(request: pytest.FixtureRequest, app: Flask, client: FlaskClient) -> Reviewer:
    """A facilitator, then (a second run of each test) an organiser."""
    return Reviewer(app, client, request.param)


def text_reflection(kiosk: KioskDevice, **fields: Any) -> int:
    """A written reflection sent through the kiosk API (with its consent record)."""
    fields.setdefault("consent", ["archive", "reel"])
    response = kiosk.post(kiosk.form(**fields))
    assert response.status_code == 201, response.text
    return int(response.json["id"])


def sql(app: Flask, statement: str, *params: Any) -> None:
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(statement, params)


def recording(
    app: Flask,
    tmp_path: Path,
    *,
    kind: str = "video",
    duration: float = 10.0,
    perspective: str = "volunteer",
    reel: int = 1,
    show_name: int = 0,
    name: str | None = None,
    status: str = "ready",
) -> int:
    """A recording as if processed (status and duration set), with a consent record."""
    source = tmp_path / f"{uuid.uuid4().hex}.webm"
    source.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 64)
    reflection_id = add_reflection(app, kind, source, perspective=perspective, name=name)
    give_consent(app, reflection_id, reel=reel, show_name=show_name)
    sql(app, "UPDATE reflection SET status = ?, duration_seconds = ? WHERE id = ?",
        status, duration, reflection_id)  # fmt: skip
    return reflection_id


def reflection(app: Flask, reflection_id: int) -> dict[str, Any]:
    (row,) = rows(app, "SELECT * FROM reflection WHERE id = ?", reflection_id)
    return row


def audit_rows(app: Flask, reflection_id: int) -> list[dict[str, Any]]:
    found = rows(
        app,
        "SELECT * FROM audit_log WHERE target_kind = 'reflection' AND target_id = ? ORDER BY id",
        reflection_id,
    )
    for row in found:
        row["before"] = json.loads(row["before"]) if row["before"] else None
        row["after"] = json.loads(row["after"]) if row["after"] else None
    return found


def perspective_id(app: Flask, slug: str) -> int:
    (row,) = rows(app, "SELECT id FROM perspective WHERE slug = ?", slug)
    return int(row["id"])


def card_ids(html: str) -> list[int]:
    """Reflection ids of the cards in the queue, in page order."""
    return [int(found) for found in re.findall(r'<li class="review-item[^"]*"[^>]*?data-id="(\d+)"',
                                               html, re.S)]  # fmt: skip


def card(html: str, reflection_id: int) -> str:
    """The markup of one card in the queue."""
    start = html.index(f'id="reflection-{reflection_id}"')
    return html[start : html.index("</li>", start)]


# -- the queue --------------------------------------------------------------------------------


def test_queue_lists_newest_first_with_what_triage_needs(app, reviewer, kiosk, tmp_path) -> None:
    older = text_reflection(kiosk, text="First thoughts.")
    video = recording(app, tmp_path, duration=75, perspective="manager")
    failed = recording(app, tmp_path, kind="audio", status="failed")
    sql(app, "UPDATE reflection SET failure_reason = 'This audio recording has no sound in it.'"
        " WHERE id = ?", failed)  # fmt: skip
    processing = text_reflection(kiosk, text="Still processing.")
    sql(app, "UPDATE job SET status = 'running', progress = 0.37 WHERE target_id = ?", processing)
    sql(app, "UPDATE reflection SET status = 'processing' WHERE id = ?", processing)
    sql(app, "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
        " VALUES (?, 'thumb', 'derived/x/thumb.webp', 'x', 1, ?)", video, utcnow())  # fmt: skip

    page = reviewer.get("/review/")
    assert page.status_code == 200
    html = page.text
    assert card_ids(html) == [processing, failed, video, older]
    assert "4 reflections" in html
    video_card = card(html, video)
    assert 'data-colour="#0f6b63"' in video_card and "Manager or leader" in video_card
    assert "Video" in video_card and "1:15" in video_card and "Ready" in video_card
    assert f"/studio/media/{video}/thumb" in video_card
    assert 'data-state="waiting"' in video_card
    processing_card = card(html, processing)
    assert 'value="0.37"' in processing_card and "37%" in processing_card
    failed_card = card(html, failed)
    assert "This audio recording has no sound in it." in failed_card
    assert f'action="/review/{failed}/retry?back=queue"' in failed_card
    assert "Retry" in failed_card
    assert "First thoughts." in card(html, older)
    # Keyboard help is on the page, and the script gets the perspective keys.
    assert "<kbd>a</kbd> approve" in html and 'id="review-shortcuts"' in html
    config = json.loads(re.search(r'id="review-config">(.*?)</script>', html, re.S).group(1))
    assert config["mode"] == "queue"
    assert [p["key"] for p in config["perspectives"]] == [str(n) for n in range(1, 9)]
    assert "css/review.css" in html and "js/review.js" in html


def test_queue_filters(app, reviewer, kiosk, tmp_path) -> None:
    prompts = kiosk.config["prompts"]
    housing = text_reflection(kiosk, text="Housing came up again and again.", perspective="manager")
    second_prompt = text_reflection(kiosk, text="Listening matters.",
                                    prompt=str(prompts[1]["id"]))  # fmt: skip
    video = recording(app, tmp_path)
    transcript = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nFish &amp; chips on the prom\n"
    sql(app, "UPDATE reflection SET transcript_vtt = ? WHERE id = ?", transcript, video)
    failed = recording(app, tmp_path, kind="audio", status="failed")
    sql(app, "UPDATE reflection SET review_state = 'approved' WHERE id = ?", housing)
    sql(app, "UPDATE reflection SET starred = 1 WHERE id = ?", second_prompt)

    def ids(query: str) -> list[int]:
        response = reviewer.get(f"/review/?{query}")
        assert response.status_code == 200
        return card_ids(response.text)

    assert ids("perspective=manager") == [housing]
    assert ids(f"prompt={prompts[1]['id']}") == [second_prompt]
    assert ids("kind=video") == [video]
    assert ids("kind=text") == [second_prompt, housing]
    assert ids("status=failed") == [failed]
    assert ids("status=ready") == [video]
    assert ids("status=processing") == [second_prompt, housing]
    assert ids("review=approved") == [housing]
    assert ids("review=starred") == [second_prompt]
    assert ids("review=waiting") == [failed, video, second_prompt]
    assert ids("q=housing") == [housing]  # text reflections, any case
    assert ids("q=fish+%26+chips") == [video]  # transcripts (stored escaped)
    assert ids("q=prom") == [video]
    assert ids("q=%25") == []  # a LIKE wildcard is just a character
    assert ids("perspective=manager&review=approved&kind=text") == [housing]
    # Nonsense filters are ignored rather than failing.
    assert len(ids("kind=sculpture&status=bogus&review=x&prompt=abc")) == 4


def test_queue_search_finds_tags(app, reviewer, kiosk) -> None:
    tagged = text_reflection(kiosk, text="Nothing special.")
    text_reflection(kiosk, text="Other.")
    assert reviewer.post(f"/review/{tagged}/tags", {"tags": "Transport"}).status_code == 200
    assert card_ids(reviewer.get("/review/?q=transp").text) == [tagged]


def many_reflections(app: Flask, count: int) -> list[int]:
    """``count`` written reflections, ready and waiting, a minute apart; newest first."""
    with app.app_context():
        db = get_db()
        with transaction(db):
            for number in range(count):
                db.execute(
                    "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                    " status, receipt_code, client_id, lang, created_at)"
                    " SELECT 1, 'text', 1, 1, ?, 'ready', ?, ?, 'en', ?",
                    (f"Reflection {number}", f"R{number:05d}", str(uuid.uuid4()),
                     f"2026-11-23T{10 + number // 60:02d}:{number % 60:02d}:00+00:00"),
                )  # fmt: skip
    found = rows(app, "SELECT id FROM reflection ORDER BY created_at DESC, id DESC")
    return [row["id"] for row in found]


def page_links(html: str) -> dict[str, str]:
    """The queue's Newer (``prev``) and Older (``next``) links."""
    links = re.findall(r'<a href="([^"]+)" rel="(prev|next)">', html)
    return {rel: href.replace("&amp;", "&") for href, rel in links}


def review_config(html: str) -> dict[str, Any]:
    return json.loads(re.search(r'id="review-config">(.*?)</script>', html, re.S).group(1))


def test_queue_pages_big_events(app, reviewer, kiosk) -> None:
    ids = many_reflections(app, 65)
    first = reviewer.get("/review/").text
    assert card_ids(first) == ids[:60]
    assert "1–60 of 65 reflections" in first
    # A page starts at a reflection: Older shows those older than the last card.
    assert page_links(first) == {"next": f"/review/?before={ids[59]}"}
    assert review_config(first)["urls"] == {"nextPage": f"/review/?before={ids[59]}"}
    second = reviewer.get(page_links(first)["next"]).text
    assert card_ids(second) == ids[60:]
    assert "61–65 of 65 reflections" in second
    # Newer shows those newer than the first card: the first page again.
    assert page_links(second) == {"prev": f"/review/?after={ids[60]}"}
    assert card_ids(reviewer.get(page_links(second)["prev"]).text) == ids[:60]
    assert card_ids(reviewer.get(f"/review/?after={ids[3]}").text) == ids[:3]
    # The bulk form comes back to the page it was sent from.
    assert f'action="/review/bulk?before={ids[59]}"' in second
    # A start that is not a reflection of the event, or nonsense, is the newest page.
    for start in ("before=99999", "after=99999", "before=abc", "before=-3", "page=2"):
        assert card_ids(reviewer.get(f"/review/?{start}").text) == ids[:60], start
    # Past the end: nothing older, and the way back.
    past = reviewer.get(f"/review/?before={ids[-1]}").text
    assert card_ids(past) == []
    assert "No older reflections match these filters." in past
    assert page_links(past) == {"prev": f"/review/?after={ids[-1]}"}
    # A withdrawn reflection keeps its place as a start.
    sql(app, "UPDATE reflection SET status = 'withdrawn' WHERE id = ?", ids[59])
    assert card_ids(reviewer.get(f"/review/?before={ids[59]}").text) == ids[60:]


def test_approving_a_page_of_waiting_reflections_skips_none(app, reviewer, kiosk) -> None:
    """Approving the cards of a "waiting" page takes them out of the list; Older, and the
    page the plain form comes back to, still show the next reflections waiting."""
    ids = many_reflections(app, 150)
    first = reviewer.get("/review/?review=waiting").text
    assert card_ids(first) == ids[:60]
    older = page_links(first)["next"]
    # With the script: the cards are approved in place, and Older is what it was.
    approved = reviewer.post("/review/bulk?review=waiting",
                             {"ids": [str(i) for i in ids[:60]], "state": "approved"})  # fmt: skip
    assert approved.json["message"] == "60 reflections approved."
    second = reviewer.get(older).text
    assert card_ids(second) == ids[60:120]  # the next ones waiting, not 60 further on
    assert older == f"/review/?review=waiting&before={ids[59]}"
    assert "1–60 of 90 reflections" in second
    assert page_links(second) == {"next": f"/review/?review=waiting&before={ids[119]}"}
    # Without it: back to the same page, which shows the next ones waiting.
    plain = reviewer.post(f"/review/bulk?review=waiting&before={ids[59]}",
                          {"ids": [str(i) for i in ids[60:120]], "state": "hidden"},
                          as_json=False)  # fmt: skip
    assert plain.status_code == 303
    assert plain.location == f"/review/?review=waiting&before={ids[59]}"
    third = reviewer.get(plain.location).text
    assert "60 reflections hidden." in third
    assert card_ids(third) == ids[120:]
    # A card's plain form (Retry) comes back to its page too.
    sql(app, "UPDATE reflection SET status = 'failed' WHERE id = ?", ids[120])
    sql(app, "INSERT INTO job (kind, target_id, status, attempts, created_at)"
        " VALUES ('process_reflection', ?, 'failed', 3, ?)", ids[120], utcnow())  # fmt: skip
    third = reviewer.get(plain.location).text
    retry = f'action="/review/{ids[120]}/retry?back=queue&amp;review=waiting&amp;before={ids[59]}"'
    assert retry in card(third, ids[120])
    again = reviewer.post(f"/review/{ids[120]}/retry?back=queue&review=waiting&before={ids[59]}",
                          as_json=False)  # fmt: skip
    assert again.location == f"/review/?review=waiting&before={ids[59]}"


def test_withdrawn_reflections_are_not_reviewable(app, reviewer, kiosk) -> None:
    kept = text_reflection(kiosk)
    withdrawn = text_reflection(kiosk, text="Please forget this.")
    sql(app, "UPDATE reflection SET status = 'withdrawn' WHERE id = ?", withdrawn)
    assert card_ids(reviewer.get("/review/").text) == [kept]
    assert reviewer.get(f"/review/{withdrawn}").status_code == 404
    response = reviewer.post(f"/review/{withdrawn}/state", {"state": "approved"})
    assert response.status_code == 404 and "withdrawn" in response.json["error"]
    assert reflection(app, withdrawn)["review_state"] == "waiting"
    assert audit_rows(app, withdrawn) == []


# -- the detail view --------------------------------------------------------------------------


def test_detail_shows_player_consent_and_neighbours(app, reviewer, kiosk, tmp_path) -> None:
    first = text_reflection(kiosk, perspective="manager")
    video = recording(app, tmp_path, show_name=1, name="Siân")
    last = text_reflection(kiosk, perspective="manager")
    sql(app, "INSERT INTO asset (reflection_id, kind, path, sha256, bytes, created_at)"
        " VALUES (?, 'mp4', 'derived/x/delivery.mp4', 'x', 1, ?)", video, utcnow())  # fmt: skip
    sql(app, "UPDATE reflection SET transcript_vtt = 'WEBVTT\n' WHERE id = ?", video)

    html = reviewer.get(f"/review/{video}").text
    assert f'src="/studio/media/{video}/mp4"' in html
    assert f'poster="/studio/media/{video}/poster"' in html
    assert f'src="/review/{video}/captions.vtt"' in html
    assert "Consent wording version 1" in html
    assert "Highlights reel: <strong>yes</strong>" in html
    assert "Published online: <strong>no</strong>" in html
    assert "First name shown: <strong>yes</strong>" in html
    assert "Siân" in html and 'name="display_name"' in html
    assert f'href="/review/{last}" rel="prev"' in html
    assert f'href="/review/{first}" rel="next"' in html
    assert "<kbd>j</kbd>" in html and "Back to the queue" in html
    # Neighbours follow the filters the queue had.
    html = reviewer.get(f"/review/{first}?perspective=manager").text
    assert f'href="/review/{last}?perspective=manager" rel="prev"' in html
    assert 'rel="next"' not in html
    assert 'href="/review/?perspective=manager"' in html


def test_detail_of_a_missing_reflection_is_404(reviewer) -> None:
    assert reviewer.get("/review/999").status_code == 404
    assert reviewer.get("/review/999/captions.vtt").status_code == 404
    # Bad input about a reflection that is not there: still a plain 404, as a page or JSON.
    page = reviewer.post("/review/999/state", {"state": "nope"}, as_json=False)
    assert page.status_code == 404 and "does not exist" in page.text
    assert reviewer.post("/review/999/trim", {"trim_in": "x"}).status_code == 400
    assert reviewer.post("/review/999/trim", {"trim_in": "1"}).status_code == 404


def test_first_name_is_shown_only_with_consent(app, reviewer, tmp_path) -> None:
    hidden = recording(app, tmp_path, show_name=0, name="Gareth")
    shown = recording(app, tmp_path, show_name=1, name="Ffion")
    queue = reviewer.get("/review/").text
    assert "Gareth" not in queue and "Ffion" in card(queue, shown)
    detail = reviewer.get(f"/review/{hidden}").text
    assert "Gareth" not in detail and 'name="display_name"' not in detail
    assert "did not agree" in detail


def test_text_reflections_have_no_trim_or_captions(app, reviewer, kiosk) -> None:
    written = text_reflection(kiosk, text="Words only.")
    html = reviewer.get(f"/review/{written}").text
    assert "Words only." in html
    assert 'name="trim_in"' not in html and 'name="cue_text"' not in html
    response = reviewer.post(f"/review/{written}/trim", {"trim_in": "1", "trim_out": "2"})
    assert response.status_code == 400 and "processed recording" in response.json["error"]


# -- approve / hide / waiting -----------------------------------------------------------------


@pytest.mark.parametrize("state", ["approved", "hidden"])
def test_set_state_changes_and_audits(app, reviewer, kiosk, state: str) -> None:
    reflection_id = text_reflection(kiosk)
    response = reviewer.post(f"/review/{reflection_id}/state", {"state": state})
    assert response.status_code == 200
    assert response.json["reflection"]["review_state"] == state
    change = {"approved": "Approved", "hidden": "Hidden"}[state]
    assert response.json["message"] == f"Reflection {reflection_id}: {change}"
    row = reflection(app, reflection_id)
    assert row["review_state"] == state and row["reviewed_at"]
    (entry,) = audit_rows(app, reflection_id)
    assert entry["action"] == "reflection.review"
    assert entry["user_name"] == f"{reviewer.role}-reviewer" and entry["user_id"]
    assert entry["before"] == {"review_state": "waiting"}
    assert entry["after"] == {"review_state": state}
    assert entry["at"]
    # The same again changes nothing and logs nothing.
    assert reviewer.post(f"/review/{reflection_id}/state", {"state": state}).status_code == 200
    assert len(audit_rows(app, reflection_id)) == 1
    back = reviewer.post(f"/review/{reflection_id}/state", {"state": "waiting"})
    assert back.json["reflection"]["review_state"] == "waiting"
    assert audit_rows(app, reflection_id)[-1]["after"] == {"review_state": "waiting"}


@pytest.mark.parametrize("state", ["", "published", "APPROVED"])
def test_set_state_refuses_unknown_states(app, reviewer, kiosk, state: str) -> None:
    reflection_id = text_reflection(kiosk)
    response = reviewer.post(f"/review/{reflection_id}/state", {"state": state})
    assert response.status_code == 400
    assert response.json["error"] == "Choose approve, hide or back to waiting."
    assert reflection(app, reflection_id)["review_state"] == "waiting"
    assert audit_rows(app, reflection_id) == []


def test_plain_form_fallback_redirects_back_with_a_note(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk)
    response = reviewer.post(f"/review/{reflection_id}/state?perspective=volunteer&q=x",
                             {"state": "approved"}, as_json=False)  # fmt: skip
    assert response.status_code == 303
    assert response.location == f"/review/{reflection_id}?perspective=volunteer&q=x"
    assert "Approved" in reviewer.get(response.location).text
    assert reflection(app, reflection_id)["review_state"] == "approved"
    bad = reviewer.post(f"/review/{reflection_id}/state", {"state": "nope"}, as_json=False)
    assert bad.status_code == 400
    assert "Choose approve, hide or back to waiting." in bad.text
    assert 'id="review-config"' in bad.text  # the detail page again, with the reason


def test_changes_need_the_csrf_token(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk)
    response = reviewer.client.post(
        f"/review/{reflection_id}/state",
        data={"state": "approved"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "expired" in response.json["error"]
    assert reflection(app, reflection_id)["review_state"] == "waiting"
    with_header = reviewer.client.post(
        f"/review/{reflection_id}/state",
        data={"state": "approved"},
        headers={"Accept": "application/json", "X-CSRFToken": reviewer.token},
    )
    assert with_header.status_code == 200


# -- star -------------------------------------------------------------------------------------


def test_star_and_unstar(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk, consent=["archive", "reel"])
    response = reviewer.post(f"/review/{reflection_id}/star", {"starred": "1"})
    assert response.status_code == 200 and response.json["reflection"]["starred"] is True
    assert reflection(app, reflection_id)["starred"] == 1
    response = reviewer.post(f"/review/{reflection_id}/star", {"starred": "0"})
    assert response.json["reflection"]["starred"] is False
    entries = audit_rows(app, reflection_id)
    assert [(e["action"], e["before"], e["after"]) for e in entries] == [
        ("reflection.star", {"starred": False}, {"starred": True}),
        ("reflection.star", {"starred": True}, {"starred": False}),
    ]


def test_changes_answer_with_the_queues_new_counts(app, reviewer, kiosk, tmp_path) -> None:
    """The count line above the queue ("4 waiting · 0 approved …") follows changes made in
    place: each answer carries the new counts, and the line drawn in the reader's language."""
    ids = [text_reflection(kiosk) for _ in range(3)]
    video = recording(app, tmp_path)
    html = reviewer.get("/review/").text
    shown = re.search(r'<div id="review-counts" data-as-of="(\d+)">(.*?)</div>', html, re.S)
    assert shown is not None and ">4 waiting</a>" in shown.group(2)
    approved = reviewer.post(f"/review/{ids[0]}/state", {"state": "approved"}).json["counts"]
    assert approved["review"] == {"waiting": 3, "approved": 1, "hidden": 0, "starred": 0}
    assert approved["as_of"] > int(shown.group(1))
    assert ">3 waiting</a>" in approved["html"] and ">1 approved</a>" in approved["html"]
    starred = reviewer.post(f"/review/{ids[1]}/star", {"starred": "1"}).json["counts"]
    assert starred["review"]["starred"] == 1 and starred["as_of"] > approved["as_of"]
    bulk = reviewer.post("/review/bulk", {"ids": [str(ids[1]), str(video)], "state": "approved"})
    counts = bulk.json["counts"]
    assert counts["review"] == {"waiting": 1, "approved": 3, "hidden": 0, "starred": 1}
    # The approved clip now waits for its captions to be checked: that line follows too.
    assert counts["captions"]["waiting"] == 1
    assert "1 approved clip waits for its captions to be checked" in counts["html"]
    assert counts["as_of"] > starred["as_of"]
    # Nothing changed, nothing logged: the same moment, so either answer may be shown.
    same = reviewer.post(f"/review/{ids[0]}/state", {"state": "approved"}).json["counts"]
    assert same["as_of"] == counts["as_of"]
    # In the reader's language.
    reviewer.get("/review/?lang=cy")
    hidden = reviewer.post(f"/review/{ids[2]}/state", {"state": "hidden"}).json["counts"]
    assert ">0 yn aros</a>" in hidden["html"] and ">3 wedi’u cymeradwyo</a>" in hidden["html"]


def test_cannot_star_without_consent_to_the_reel(app, reviewer, kiosk, tmp_path) -> None:
    archive_only = text_reflection(kiosk, consent=["archive"])
    response = reviewer.post(f"/review/{archive_only}/star", {"starred": "1"})
    assert response.status_code == 400 and "highlights reel" in response.json["error"]
    no_record = add_reflection(app, "text", text="From before consent records.")
    assert reviewer.post(f"/review/{no_record}/star", {"starred": "1"}).status_code == 400
    assert reflection(app, archive_only)["starred"] == 0
    assert audit_rows(app, archive_only) == []
    assert "cannot be starred" in reviewer.get(f"/review/{archive_only}").text


@pytest.mark.parametrize("value", ["", "maybe", "2"])
def test_star_refuses_nonsense(app, reviewer, kiosk, value: str) -> None:
    reflection_id = text_reflection(kiosk)
    assert reviewer.post(f"/review/{reflection_id}/star", {"starred": value}).status_code == 400
    assert reflection(app, reflection_id)["starred"] == 0


# -- perspective ------------------------------------------------------------------------------


def test_set_perspective(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk, perspective="volunteer")
    manager = perspective_id(app, "manager")
    response = reviewer.post(f"/review/{reflection_id}/perspective", {"perspective": manager})
    assert response.status_code == 200
    assert response.json["reflection"]["perspective"] == {
        "id": manager, "slug": "manager", "label": "Manager or leader", "colour": "#0f6b63",
    }  # fmt: skip
    assert response.json["message"] == f"Reflection {reflection_id}: Perspective: Manager or leader"
    assert reflection(app, reflection_id)["perspective_id"] == manager
    (entry,) = audit_rows(app, reflection_id)
    assert (entry["action"], entry["before"], entry["after"]) == (
        "reflection.perspective", {"perspective": "volunteer"}, {"perspective": "manager"},
    )  # fmt: skip


def test_perspective_change_rebuilds_the_card_of_a_processed_text(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk)
    sql(app, "UPDATE job SET status = 'done' WHERE target_id = ?", reflection_id)
    sql(app, "UPDATE reflection SET status = 'ready' WHERE id = ?", reflection_id)
    reviewer.post(f"/review/{reflection_id}/perspective",
                  {"perspective": perspective_id(app, "government")})  # fmt: skip
    jobs = rows(app, "SELECT status FROM job WHERE target_id = ? ORDER BY id", reflection_id)
    assert [job["status"] for job in jobs] == ["done", "queued"]


@pytest.mark.parametrize("choice", ["retired", "other-event", "", "abc", "99999"])
def test_set_perspective_refuses_what_is_not_offered(app, reviewer, kiosk, choice: str) -> None:
    reflection_id = text_reflection(kiosk)
    retired = perspective_id(app, "provider")
    sql(app, "UPDATE perspective SET retired_at = ? WHERE id = ?", utcnow(), retired)
    # An older event (the running one is the newest) with a perspective of its own.
    sql(app, "INSERT INTO event (id, name, created_at) VALUES (0, 'Last year', ?)", utcnow())
    sql(app, "INSERT INTO perspective (event_id, slug, labels, colour, position)"
        " VALUES (0, 'manager', '{\"en\": \"Manager\"}', '#000000', 0)")  # fmt: skip
    (elsewhere,) = rows(app, "SELECT id FROM perspective WHERE event_id = 0")
    elsewhere = elsewhere["id"]
    values = {"retired": retired, "other-event": elsewhere}
    sent = values.get(choice, choice)
    response = reviewer.post(f"/review/{reflection_id}/perspective", {"perspective": sent})
    assert response.status_code in (400, 404)
    assert response.json["error"]
    assert reflection(app, reflection_id)["perspective_id"] == perspective_id(app, "volunteer")
    assert audit_rows(app, reflection_id) == []


# -- tags -------------------------------------------------------------------------------------


def test_set_tags_normalises_and_suggests(app, reviewer, kiosk) -> None:
    first = text_reflection(kiosk)
    second = text_reflection(kiosk)
    typed = " Housing ,  mental   health; housing,,\nTransport"
    response = reviewer.post(f"/review/{first}/tags", {"tags": typed})
    assert response.status_code == 200
    assert response.json["reflection"]["tags"] == ["Housing", "mental health", "Transport"]
    (entry,) = audit_rows(app, first)
    assert entry["action"] == "reflection.tags"
    assert entry["before"] == {"tags": []}
    assert entry["after"] == {"tags": ["Housing", "mental health", "Transport"]}
    # An existing tag is reused whatever its case; suggestions list the event's tags.
    reviewer.post(f"/review/{second}/tags", {"tags": "HOUSING"})
    assert rows(app, "SELECT name FROM tag ORDER BY id") == [
        {"name": "Housing"}, {"name": "mental health"}, {"name": "Transport"},
    ]  # fmt: skip
    html = reviewer.get(f"/review/{second}").text
    assert 'value="Housing"' in html
    assert html.index('data-tag="Housing"') < html.index('data-tag="mental health"')
    assert "Housing" in card(reviewer.get("/review/").text, first)
    # Clearing removes them.
    reviewer.post(f"/review/{first}/tags", {"tags": ""})
    assert audit_rows(app, first)[-1]["after"] == {"tags": []}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("x" * 41, "at most 40 characters"),
        (",".join(f"tag{n}" for n in range(21)), "at most 20 tags"),
        ("bell\x07", "on one line"),
    ],
)
def test_set_tags_refuses(app, reviewer, kiosk, tags: str, message: str) -> None:
    reflection_id = text_reflection(kiosk)
    reviewer.post(f"/review/{reflection_id}/tags", {"tags": "kept"})
    response = reviewer.post(f"/review/{reflection_id}/tags", {"tags": tags})
    assert response.status_code == 400 and message in response.json["error"]
    assert response.json["error"]
    assert rows(app, "SELECT name FROM tag") == [{"name": "kept"}]
    assert len(audit_rows(app, reflection_id)) == 1


# -- first name -------------------------------------------------------------------------------


def test_set_name_with_consent(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk, consent=["archive", "name"], first_name="Sian")
    response = reviewer.post(f"/review/{reflection_id}/name", {"display_name": "  Siân  "})
    assert response.status_code == 200
    assert reflection(app, reflection_id)["display_name"] == "Siân"
    reviewer.post(f"/review/{reflection_id}/name", {"display_name": "   "})
    assert reflection(app, reflection_id)["display_name"] is None
    assert [e["after"] for e in audit_rows(app, reflection_id)] == [
        {"display_name": "Siân"}, {"display_name": None},
    ]  # fmt: skip


def test_set_name_refused_without_consent_or_too_long(app, reviewer, kiosk) -> None:
    without = text_reflection(kiosk, consent=["archive"])
    response = reviewer.post(f"/review/{without}/name", {"display_name": "Dai"})
    assert response.status_code == 400 and "did not agree" in response.json["error"]
    assert reflection(app, without)["display_name"] is None
    named = text_reflection(kiosk, consent=["archive", "name"], first_name="Ann")
    response = reviewer.post(f"/review/{named}/name", {"display_name": "A" * 41})
    assert response.status_code == 400
    assert reflection(app, named)["display_name"] == "Ann"
    assert audit_rows(app, without) == audit_rows(app, named) == []


# -- trim -------------------------------------------------------------------------------------


def test_set_trim_and_see_the_snapped_cut(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, duration=10.5)
    response = reviewer.post(f"/review/{reflection_id}/trim",
                             {"trim_in": "1.25", "trim_out": "0:07.5"})  # fmt: skip
    assert response.status_code == 200
    row = reflection(app, reflection_id)
    assert (row["trim_in"], row["trim_out"]) == (1.25, 7.5)
    (entry,) = audit_rows(app, reflection_id)
    assert entry["before"] == {"trim_in": None, "trim_out": None}
    assert entry["after"] == {"trim_in": 1.25, "trim_out": 7.5}
    html = reviewer.get(f"/review/{reflection_id}").text
    assert 'value="1.25"' in html and 'value="7.5"' in html
    assert "keyframes, every 2 s: it will use 0 s → 8 s." in html
    # Only one end set: the other is the clip's own. The end snaps no further than the clip, so
    # here the reel's nearest cut points are the clip's own ends, and the note says so.
    reviewer.post(f"/review/{reflection_id}/trim", {"trim_in": "", "trim_out": "10.2"})
    html = reviewer.get(f"/review/{reflection_id}").text
    assert trim_note(html).startswith("Nothing to trim for the reel: the nearest cut points")
    reviewer.post(f"/review/{reflection_id}/trim", {"clear": "1"})
    row = reflection(app, reflection_id)
    assert (row["trim_in"], row["trim_out"]) == (None, None)
    assert len(audit_rows(app, reflection_id)) == 3
    assert trim_note(reviewer.get(f"/review/{reflection_id}").text) == (
        "The reel cuts at keyframes, every 2 s: it will use 0 s → 10.5 s."
    )


def trim_note(html: str) -> str:
    """The note under the trim form: where the reel will cut."""
    found = re.search(r'<p class="hint" id="trim-snapped"[^>]*>([^<]*)</p>', html)
    assert found, "no trim note"
    return found.group(1)


def reel_revision(app: Flask, reflection_id: int) -> int:
    """The revision of a reel showing the reflection (made on first call): it goes up whenever
    something the reel shows changes, and then the reel renders again."""
    found = rows(app, "SELECT r.id, r.revision FROM reel r JOIN reel_item i ON i.reel_id = r.id"
                      " WHERE i.reflection_id = ?", reflection_id)  # fmt: skip
    if found:
        return int(found[0]["revision"])
    sql(app, "UPDATE reflection SET review_state = 'approved' WHERE id = ?", reflection_id)
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        reel_id = reel_service.create_reel(db, event, "Highlights", propose=False, actor=None)
        reel_service.add_item(db, event, reel_id, reflection_id, actor=None)
    return reel_revision(app, reflection_id)


# A 6 s clip; the reel cuts at keyframes every 2 s (in down to one, out up to one). The archive
# and the room's screen play the trim as set. (before, typed in, typed out, stored, message,
# whether the reel's cut moves.)
TRIMS_OF_A_6_S_CLIP = [
    pytest.param((None, None), "1", "5", (1, 5),
                 "Trim saved for the archive and the screen in the room, but nothing to trim for"
                 " the reel: the nearest cut points are the start and end of the clip, so the"
                 " reel shows it whole.", False,
                 id="reel-cut-is-the-whole-clip"),
    pytest.param((None, None), "2.5", "", (2.5, None), "Trim saved.", True, id="reel-cut-moves"),
    pytest.param((2.5, None), "3.5", "6", (3.5, None),
                 "Trim saved for the archive and the screen in the room. The reel still cuts at"
                 " 2 s → 6 s, the nearest keyframes.", False,
                 id="same-reel-cut"),
    pytest.param((None, None), "0", "6", (None, None), "Nothing to trim: that is the whole clip.",
                 False, id="the-whole-clip-is-no-trim"),
    pytest.param((1.0, 5.0), "1", "5.0", (1, 5), "Nothing changed: that trim is already saved.",
                 False, id="unchanged"),
    pytest.param((1.0, 5.0), "", "", (None, None), "Trim cleared.", False, id="cleared"),
    pytest.param((2.5, None), "0", "", (None, None), "Trim cleared.", True,
                 id="cleared-reel-moves"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "trim_in", "trim_out", "stored", "message", "reel_moves"), TRIMS_OF_A_6_S_CLIP
)
def test_a_trim_says_what_it_changed_for_the_reel(
    app, reviewer, tmp_path, before, trim_in, trim_out, stored, message, reel_moves
) -> None:
    reflection_id = recording(app, tmp_path, duration=6.0)
    sql(app, "UPDATE reflection SET trim_in = ?, trim_out = ? WHERE id = ?", *before,
        reflection_id)  # fmt: skip
    revision = reel_revision(app, reflection_id)
    response = reviewer.post(f"/review/{reflection_id}/trim",
                             {"trim_in": trim_in, "trim_out": trim_out})  # fmt: skip
    assert response.status_code == 200 and response.json["message"] == message
    row = reflection(app, reflection_id)
    assert (row["trim_in"], row["trim_out"]) == stored
    changes = [
        entry for entry in audit_rows(app, reflection_id) if entry["action"] == "reflection.trim"
    ]
    if stored == before:  # nothing changed: nothing written, no audit row
        assert changes == []
    else:
        (entry,) = changes
        assert entry["before"] == dict(zip(("trim_in", "trim_out"), before, strict=True))
        assert entry["after"] == dict(zip(("trim_in", "trim_out"), stored, strict=True))
    # Reels render again only when their cut moved.
    assert reel_revision(app, reflection_id) == revision + (1 if reel_moves else 0)


def test_the_clear_button_says_when_there_was_nothing_to_clear(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, duration=6.0)
    response = reviewer.post(f"/review/{reflection_id}/trim", {"clear": "1"}, as_json=False)
    assert response.status_code == 303
    assert "There was no trim to clear." in reviewer.get(response.location).text
    assert audit_rows(app, reflection_id) == []


def test_without_the_script_a_trim_the_reel_cannot_make_is_said_plainly(
    app, reviewer, tmp_path
) -> None:
    reflection_id = recording(app, tmp_path, duration=6.0)
    response = reviewer.post(f"/review/{reflection_id}/trim",
                             {"trim_in": "1", "trim_out": "5"}, as_json=False)  # fmt: skip
    assert response.status_code == 303
    html = reviewer.get(response.location).text
    assert re.search(
        r'<p class="flash" role="status">Trim saved for the archive and the screen'
        r" in the room, but nothing to trim for the reel: ",
        html,
    )
    assert "Trim saved.<" not in html
    assert trim_note(html) == (
        "Nothing to trim for the reel: the nearest cut points (keyframes, every 2 s) are the"
        " start and end of the clip, so the reel shows it whole."
    )


@pytest.mark.parametrize(
    ("trim_in", "trim_out", "message"),
    [
        ("5", "5", "before the end"),
        ("6", "2", "before the end"),
        ("0", "10.6", "between 0 and 10.5"),
        ("11", "", "before the end"),
        ("-1", "3", "seconds (12.5)"),
        ("abc", "3", "seconds (12.5)"),
        ("1:75", "", "seconds (12.5)"),
        ("nan", "3", "seconds (12.5)"),
    ],
)
def test_set_trim_refuses(app, reviewer, tmp_path, trim_in, trim_out, message) -> None:
    reflection_id = recording(app, tmp_path, duration=10.5)
    sql(app, "UPDATE reflection SET trim_in = 1, trim_out = 2 WHERE id = ?", reflection_id)
    response = reviewer.post(f"/review/{reflection_id}/trim",
                             {"trim_in": trim_in, "trim_out": trim_out})  # fmt: skip
    assert response.status_code == 400 and message in response.json["error"]
    row = reflection(app, reflection_id)
    assert (row["trim_in"], row["trim_out"]) == (1, 2)
    assert audit_rows(app, reflection_id) == []


def test_refused_trim_keeps_what_was_typed(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, duration=10)
    response = reviewer.post(f"/review/{reflection_id}/trim",
                             {"trim_in": "8", "trim_out": "3"}, as_json=False)  # fmt: skip
    assert response.status_code == 400
    assert 'role="alert">The start must be before the end' in response.text
    assert 'value="8"' in response.text and 'value="3"' in response.text


def test_trim_needs_a_processed_recording(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, status="received")
    sql(app, "UPDATE reflection SET duration_seconds = NULL WHERE id = ?", reflection_id)
    response = reviewer.post(f"/review/{reflection_id}/trim", {"trim_in": "1"})
    assert response.status_code == 400 and "Wait until it is ready" in response.json["error"]


# -- transcript and captions ------------------------------------------------------------------


def test_save_captions_as_webvtt(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, duration=8)
    response = reviewer.post(
        f"/review/{reflection_id}/transcript",
        {
            "cue_start": ["0", "2.5", ""],
            "cue_end": ["0:02.5", "6", ""],
            "cue_text": ["Fish & chips", "<b>Bold</b> claim", ""],
        },
    )
    assert response.status_code == 200
    stored = reflection(app, reflection_id)["transcript_vtt"]
    assert stored == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:02.500\nFish &amp; chips\n\n"
        "2\n00:00:02.500 --> 00:00:06.000\n&lt;b&gt;Bold&lt;/b&gt; claim\n"
    )
    (entry,) = audit_rows(app, reflection_id)
    assert entry["action"] == "reflection.transcript"
    assert entry["before"] == {"transcript_vtt": None}
    assert entry["after"] == {"transcript_vtt": stored}
    served = reviewer.get(f"/review/{reflection_id}/captions.vtt")
    assert served.status_code == 200
    assert served.mimetype == "text/vtt"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.text == stored
    html = reviewer.get(f"/review/{reflection_id}").text
    assert 'value="0:02.500"' in html and "&lt;b&gt;Bold&lt;/b&gt; claim</textarea>" in html
    # Clearing every caption's words removes the captions.
    reviewer.post(f"/review/{reflection_id}/transcript",
                  {"cue_start": ["0"], "cue_end": ["1"], "cue_text": [" "]})  # fmt: skip
    assert reflection(app, reflection_id)["transcript_vtt"] is None
    assert reviewer.get(f"/review/{reflection_id}/captions.vtt").status_code == 404


@pytest.mark.parametrize(
    ("starts", "ends", "texts", "message"),
    [
        (["0", "3"], ["4", "5"], ["a", "b"], "Caption 2: A caption starts before"),
        (["3", "0"], ["4", "1"], ["a", "b"], "Caption 2: Captions must be in time order"),
        (["0"], ["9"], ["a"], "Caption 1: A caption cannot end after the clip"),
        (["2"], ["1"], ["a"], "Caption 1: A caption must end after it starts"),
        (["soon"], ["1"], ["a"], "Caption 1: write times as seconds"),
        (["0"], [""], ["a"], "Caption 1: write times as seconds"),
        (["0"], ["1"], ["x" * 501], "at most 500 characters"),
        (["0", "1"], ["1"], ["a", "b"], "not understood"),
    ],
)
def test_save_captions_refuses(app, reviewer, tmp_path, starts, ends, texts, message) -> None:
    reflection_id = recording(app, tmp_path, duration=8)
    sql(app, "UPDATE reflection SET transcript_vtt = 'WEBVTT\n' WHERE id = ?", reflection_id)
    response = reviewer.post(f"/review/{reflection_id}/transcript",
                             {"cue_start": starts, "cue_end": ends, "cue_text": texts})  # fmt: skip
    assert response.status_code == 400 and message in response.json["error"]
    assert reflection(app, reflection_id)["transcript_vtt"] == "WEBVTT\n"
    assert audit_rows(app, reflection_id) == []


def test_refused_captions_keep_what_was_typed(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, duration=8)
    response = reviewer.post(
        f"/review/{reflection_id}/transcript",
        {"cue_start": ["0", "1"], "cue_end": ["2", "3"], "cue_text": ["typed once", "overlap"]},
        as_json=False,
    )
    assert response.status_code == 400
    assert "Caption 2: A caption starts before" in response.text
    assert "typed once</textarea>" in response.text and 'value="3"' in response.text


def test_draft_captions_split_sentences_across_the_clip(app, reviewer, tmp_path) -> None:
    reflection_id = recording(app, tmp_path, duration=6)
    text = "It was good. Really very good indeed!"
    response = reviewer.post(f"/review/{reflection_id}/transcript/draft", {"plain": text})
    assert response.status_code == 200
    stored = reflection(app, reflection_id)["transcript_vtt"]
    assert stored == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:02.000\nIt was good.\n\n"
        "2\n00:00:02.000 --> 00:00:06.000\nReally very good indeed!\n"
    )
    assert audit_rows(app, reflection_id)[0]["action"] == "reflection.transcript"
    html = reviewer.get(f"/review/{reflection_id}").text
    assert "It was good. Really very good indeed!</textarea>" in html
    empty = reviewer.post(f"/review/{reflection_id}/transcript/draft", {"plain": "  "})
    assert empty.status_code == 400 and "transcript first" in empty.json["error"]
    assert reflection(app, reflection_id)["transcript_vtt"] == stored


# -- retry ------------------------------------------------------------------------------------


def test_retry_a_failed_reflection(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk)
    sql(app, "UPDATE job SET status = 'failed', error = 'gave up', attempts = 3"
        " WHERE target_id = ?", reflection_id)  # fmt: skip
    sql(app, "UPDATE reflection SET status = 'failed', failure_reason = 'gave up' WHERE id = ?",
        reflection_id)  # fmt: skip
    response = reviewer.post(f"/review/{reflection_id}/retry")
    assert response.status_code == 200
    assert response.json["reflection"]["status"] == "received"
    (job,) = rows(app, "SELECT status, attempts FROM job WHERE target_id = ?", reflection_id)
    assert job == {"status": "queued", "attempts": 0}
    assert reflection(app, reflection_id)["failure_reason"] is None
    (entry,) = audit_rows(app, reflection_id)
    assert entry["action"] == "reflection.retry"
    assert entry["before"] == {"status": "failed", "failure_reason": "gave up"}
    # Nothing to retry now.
    again = reviewer.post(f"/review/{reflection_id}/retry")
    assert again.status_code == 400 and "failed to process" in again.json["error"]


def test_no_retry_for_a_file_deleted_as_not_a_recording(app, reviewer, tmp_path) -> None:
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"not a recording, just bytes " * 200)
    reflection_id = add_reflection(app, "video", junk)
    failed = process(app, reflection_id)  # the real probe refuses it, and the file is deleted
    assert failed["status"] == "failed"
    assert "The file was deleted." in reasons.english(failed["failure_reason"])
    page = reviewer.get(f"/review/{reflection_id}").text
    assert "The file was deleted." in page
    assert f"/review/{reflection_id}/retry" not in page  # a button that could only fail again
    state = reviewer.get("/studio/progress.json").json["reflections"][str(reflection_id)]
    assert state["status"] == "failed" and state["retry"] is False
    response = reviewer.post(f"/review/{reflection_id}/retry")
    assert response.status_code == 400 and "nothing to retry" in response.json["error"]
    assert reflection(app, reflection_id) == failed
    assert audit_rows(app, reflection_id) == []


def test_retry_from_the_queue_without_script_returns_to_the_queue(app, reviewer, kiosk) -> None:
    reflection_id = text_reflection(kiosk)
    sql(app, "UPDATE job SET status = 'failed' WHERE target_id = ?", reflection_id)
    sql(app, "UPDATE reflection SET status = 'failed' WHERE id = ?", reflection_id)
    response = reviewer.post(f"/review/{reflection_id}/retry?back=queue&kind=text", as_json=False)
    assert response.status_code == 303 and response.location == "/review/?kind=text"
    assert "Queued to be processed again." in reviewer.get(response.location).text


# -- bulk -------------------------------------------------------------------------------------


def test_bulk_approve_and_hide(app, reviewer, kiosk) -> None:
    ids = [text_reflection(kiosk) for _ in range(3)]
    sql(app, "UPDATE reflection SET review_state = 'approved' WHERE id = ?", ids[0])
    response = reviewer.post("/review/bulk", {"ids": [str(i) for i in ids], "state": "approved"})
    assert response.status_code == 200
    assert response.json["changed"] == 2
    assert response.json["message"] == "2 reflections approved."
    assert [r["review_state"] for r in response.json["reflections"]] == ["approved"] * 3
    assert [len(audit_rows(app, i)) for i in ids] == [0, 1, 1]
    plain = reviewer.post("/review/bulk?review=approved",
                          {"ids": [str(ids[1])], "state": "hidden"}, as_json=False)  # fmt: skip
    assert plain.status_code == 303 and plain.location == "/review/?review=approved"
    assert "1 reflection hidden." in reviewer.get(plain.location).text
    assert reflection(app, ids[1])["review_state"] == "hidden"


@pytest.mark.parametrize(
    ("ids", "state", "status", "message"),
    [
        ([], "approved", 400, "Select at least one"),
        (["1", "x"], "approved", 400, "not understood"),
        (["1", "999"], "approved", 404, "does not exist"),
        (["1"], "starred", 400, "Choose approve, hide"),
        ([str(n) for n in range(1, 202)], "approved", 400, "at most 200"),
    ],
)
def test_bulk_is_all_or_nothing(app, reviewer, kiosk, ids, state, status, message) -> None:
    text_reflection(kiosk)
    response = reviewer.post("/review/bulk", {"ids": ids, "state": state})
    assert response.status_code == status and message in response.json["error"]
    assert reflection(app, 1)["review_state"] == "waiting"
    assert rows(app, "SELECT * FROM audit_log") == []


def test_bulk_without_script_shows_the_reason_on_the_queue(app, reviewer, kiosk) -> None:
    text_reflection(kiosk)
    response = reviewer.post("/review/bulk", {"state": "approved"}, as_json=False)
    assert response.status_code == 400
    assert "Select at least one reflection first." in response.text
    assert 'id="bulk-form"' in response.text


# -- hostile input ----------------------------------------------------------------------------


def test_hostile_text_tags_names_and_transcripts_render_inert(app, reviewer, kiosk, tmp_path):
    written = text_reflection(kiosk, text=XSS, consent=["archive", "reel", "name"],
                              first_name="<img src=x>")  # fmt: skip
    video = recording(app, tmp_path, show_name=1, name="<svg onload=alert(1)>")
    assert reviewer.post(f"/review/{written}/tags", {"tags": XSS[:40]}).status_code == 200
    assert reviewer.post(f"/review/{video}/transcript", {
        "cue_start": ["0"], "cue_end": ["2"], "cue_text": [XSS + " --> 00:00:09.000"],
    }).status_code == 200  # fmt: skip
    draft = {"plain": XSS + " 00:00.000 --> 00:05.000"}
    assert reviewer.post(f"/review/{video}/transcript/draft", draft).status_code == 200
    sql(app, "UPDATE perspective SET labels = ?, colour = ? WHERE slug = 'volunteer'",
        json.dumps({"en": "<i>Volunteer</i>"}), "red; background: url(javascript:x)")  # fmt: skip
    pages = [
        reviewer.get("/review/").text,
        reviewer.get(f"/review/{written}").text,
        reviewer.get(f"/review/{video}").text,
        reviewer.get("/review/?q=" + "%3Cscript").text,
    ]
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html and "<svg" not in html and "<i>Volunteer" not in html
        assert "javascript:x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[1]
    assert 'data-colour="#5b5b5b"' in pages[0]  # an unsafe colour falls back to grey
    captions = reviewer.get(f"/review/{video}/captions.vtt").text
    assert "<" not in captions.split("\n", 1)[1]
    assert captions.count("-->") == 1  # only the real timing line
    assert "&lt;script&gt;" in captions


# -- who may do what --------------------------------------------------------------------------

ROUTES = [
    ("GET", "/review/"),
    ("GET", "/review/{id}"),
    ("GET", "/review/{id}/captions.vtt"),
    ("POST", "/review/{id}/state"),
    ("POST", "/review/{id}/star"),
    ("POST", "/review/{id}/perspective"),
    ("POST", "/review/{id}/tags"),
    ("POST", "/review/{id}/name"),
    ("POST", "/review/{id}/trim"),
    ("POST", "/review/{id}/transcript"),
    ("POST", "/review/{id}/transcript/draft"),
    ("POST", "/review/{id}/retry"),
    ("POST", "/review/bulk"),
]
CHANGES = {
    "state": {"state": "approved"},
    "star": {"starred": "1"},
    "perspective": {"perspective": "6"},
    "tags": {"tags": "x"},
    "name": {"display_name": "Eve"},
    "trim": {"trim_in": "1"},
    "transcript": {"cue_start": ["0"], "cue_end": ["1"], "cue_text": ["x"]},
    "draft": {"plain": "Hello."},
    "retry": {},
    "bulk": {"ids": ["1"], "state": "hidden"},
}


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("audience", ["anonymous", "kiosk"])
def test_kiosks_and_strangers_cannot_review(app, tmp_path, method, path, audience) -> None:
    reflection_id = recording(app, tmp_path, show_name=1)
    before = reflection(app, reflection_id)
    if audience == "kiosk":
        device = KioskDevice(app)
        client, token = device.client, device.config["csrf_token"]
    else:
        client = app.test_client()
        token = csrf_from(client.get("/login").text)
    url = path.format(id=reflection_id)
    if method == "GET":
        response = client.get(url)
    else:
        action = url.rstrip("/").rsplit("/", 1)[-1]
        data = {**CHANGES.get(action, {}), "csrf_token": token}
        response = client.post(url, data=data, headers={"Accept": "application/json"})
    assert response.status_code == 302 and "/login" in response.location
    assert reflection(app, reflection_id) == before
    assert rows(app, "SELECT * FROM audit_log") == []


@pytest.mark.parametrize("role", REVIEWERS)
def test_every_change_works_for_both_roles(app, client, tmp_path, role: str) -> None:
    reviewer = Reviewer(app, client, role)
    reflection_id = recording(app, tmp_path, show_name=1)
    sql(app, "INSERT INTO job (kind, target_id, status, created_at)"
        " VALUES ('process_reflection', ?, 'failed', ?)", reflection_id, utcnow())  # fmt: skip
    for action, data in CHANGES.items():
        if action == "retry":
            sql(app, "UPDATE reflection SET status = 'failed' WHERE id = ?", reflection_id)
        path = {"draft": "transcript/draft", "bulk": None}.get(action, action)
        url = "/review/bulk" if path is None else f"/review/{reflection_id}/{path}"
        data = {**data, "ids": [str(reflection_id)]} if action == "bulk" else data
        response = reviewer.post(url, data)
        assert response.status_code == 200, (action, response.json)
    actions = [row["action"] for row in audit_rows(app, reflection_id)]
    assert actions == [
        "reflection.review", "reflection.star", "reflection.perspective", "reflection.tags",
        "reflection.name", "reflection.trim", "reflection.transcript", "reflection.transcript",
        "reflection.retry", "reflection.review",
    ]  # fmt: skip
    names = {row["user_name"] for row in audit_rows(app, reflection_id)}
    assert names == {f"{role}-reviewer"}
    for method, path in ROUTES:
        if method == "GET":
            url = path.format(id=reflection_id)
            assert reviewer.get(url).status_code == 200, url


# -- range requests on a real, processed clip -------------------------------------------------


@pytest.mark.media
@requires_ffmpeg
def test_player_media_is_served_with_range_requests(app, client, webm_clip) -> None:
    reviewer = Reviewer(app, client, "facilitator")
    reflection_id = add_reflection(app, "video", webm_clip)
    assert process(app, reflection_id)["status"] == "ready"
    html = reviewer.get(f"/review/{reflection_id}").text
    url = f"/studio/media/{reflection_id}/mp4"
    assert f'src="{url}"' in html
    whole = reviewer.get(url)
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    data = whole.data
    size = len(data)
    assert size > 1000

    first = reviewer.client.get(url, headers={"Range": "bytes=0-0"})
    assert first.status_code == 206
    assert first.data == data[:1] and first.headers["Content-Length"] == "1"
    assert first.headers["Content-Range"] == f"bytes 0-0/{size}"

    tail = reviewer.client.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206
    assert tail.data == data[-500:]
    assert tail.headers["Content-Range"] == f"bytes {size - 500}-{size - 1}/{size}"

    middle = reviewer.client.get(url, headers={"Range": "bytes=100-199"})
    assert middle.status_code == 206 and middle.data == data[100:200]

    beyond = reviewer.client.get(url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    far = reviewer.client.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert far.status_code == 416

    # The queue shows the processed clip's thumbnail and duration.
    queue = reviewer.get("/review/").text
    assert f"/studio/media/{reflection_id}/thumb" in queue
    assert "0:02" in card(queue, reflection_id)


# -- single-key shortcuts (issue 17, WCAG 2.1.4) ------------------------------------------------


def review_shortcuts(app: Flask, name: str) -> int:
    with app.app_context():
        row = get_db().execute("SELECT review_shortcuts FROM user WHERE name = ?", (name,))
        return int(row.fetchone()[0])


def test_each_reviewer_can_turn_single_key_shortcuts_off_and_on(app, reviewer) -> None:
    name = f"{reviewer.role}-reviewer"
    with app.app_context():
        models.create_user(get_db(), "Another Reviewer", "facilitator", "correct horse battery")
    assert review_shortcuts(app, name) == 1  # on unless turned off
    page = reviewer.get("/review/").text
    assert '"singleKeys": true' in page and "Turn off single-key shortcuts" in page

    # Without the token nothing changes.
    refused = reviewer.client.post("/review/shortcuts", data={"shortcuts": "off"})
    assert refused.status_code == 400 and review_shortcuts(app, name) == 1

    # The plain form goes back to the page it was sent from, with a note.
    off = reviewer.post("/review/shortcuts", {"shortcuts": "off", "next": "/review/?kind=text"},
                        as_json=False)  # fmt: skip
    assert off.status_code == 303 and off.headers["Location"] == "/review/?kind=text"
    assert review_shortcuts(app, name) == 0
    page = reviewer.get("/review/?kind=text").text
    assert '"singleKeys": false' in page
    assert "Single-key shortcuts are off" in page and "Turn on single-key shortcuts" in page

    # Only back to a review page: anywhere else means the queue.
    on = reviewer.post("/review/shortcuts", {"shortcuts": "on", "next": "https://evil.example/"},
                       as_json=False)  # fmt: skip
    assert on.status_code == 303 and on.headers["Location"] == "/review/"
    assert review_shortcuts(app, name) == 1
    answer = reviewer.post("/review/shortcuts", {"shortcuts": "off"})
    assert answer.status_code == 200 and answer.json["singleKeys"] is False
    assert reviewer.post("/review/shortcuts", {"shortcuts": "maybe"}).status_code == 400
    assert review_shortcuts(app, name) == 0
    assert review_shortcuts(app, "Another Reviewer") == 1  # each person's own choice
