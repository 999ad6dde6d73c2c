"""The reel builder pages (issue 6): forms and JSON, consent refusals in the user's words,
render requests and status, and the follow-up work queued by review changes."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Auth, add_reflection, csrf_from, give_consent, rows
from voxpop.db import get_db, transaction

pytestmark = pytest.mark.python_only


def sql(app: Flask, statement: str, *params: Any) -> None:
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(statement, params)


def ready(
    app: Flask,
    tmp_path: Path,
    *,
    perspective: str = "volunteer",
    reel: int = 1,
    starred: int = 1,
    approved: bool = True,
    duration: float = 12.0,
) -> int:
    """A video reflection as if processed, approved and starred, with a consent record."""
    source = tmp_path / f"{uuid.uuid4().hex}.webm"
    source.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 64)
    reflection_id = add_reflection(app, "video", source, perspective=perspective)
    give_consent(app, reflection_id, reel=reel)
    sql(
        app,
        "UPDATE reflection SET status = 'ready', duration_seconds = ?, review_state = ?,"
        " starred = ? WHERE id = ?",
        duration,
        "approved" if approved else "waiting",
        starred if reel else 0,
        reflection_id,
    )
    return reflection_id


@pytest.fixture
def organiser(app: Flask, client: FlaskClient, auth: Auth) -> FlaskClient:
    auth.login("organiser")
    return client


def token(client: FlaskClient, path: str = "/studio/reels") -> str:
    return csrf_from(client.get(path).text)


def create(client: FlaskClient, title: str = "Closing plenary", propose: bool = True) -> int:
    data = {"title": title, "csrf_token": token(client)}
    if propose:
        data["propose"] = "1"
    answer = client.post("/studio/reels", data=data)
    assert answer.status_code == 302, answer.text
    return int(answer.location.rstrip("/").rsplit("/", 1)[1])


def order(app: Flask, reel_id: int) -> list[int]:
    return [
        row["reflection_id"]
        for row in rows(
            app, "SELECT reflection_id FROM reel_item WHERE reel_id = ? ORDER BY position", reel_id
        )
    ]


def test_new_reel_proposes_starred_reflections_by_perspective_order(app, organiser, tmp_path):
    manager = ready(app, tmp_path, perspective="manager")
    volunteer = ready(app, tmp_path, perspective="volunteer")
    community = ready(app, tmp_path, perspective="community-member")
    ready(app, tmp_path, starred=0)  # approved but not starred: offered, not proposed
    ready(app, tmp_path, reel=0)  # no reel consent: never proposed nor offered
    reel_id = create(organiser)
    assert order(app, reel_id) == [community, volunteer, manager]
    page = organiser.get(f"/studio/reels/{reel_id}").text
    assert "Closing plenary" in page and "cut at the nearest keyframes" in page
    assert page.count('<li class="reel-item') == 3 and page.count('/add"') == 1
    empty = create(organiser, "Empty", propose=False)
    assert order(app, empty) == []


def test_adding_without_reel_consent_is_refused_with_a_reason(app, organiser, tmp_path):
    refused = ready(app, tmp_path, reel=0)
    waiting = ready(app, tmp_path, approved=False)
    reel_id = create(organiser, propose=False)
    builder = f"/studio/reels/{reel_id}"
    answer = organiser.post(
        f"{builder}/add", data={"reflection_id": refused, "csrf_token": token(organiser, builder)}
    )
    assert answer.status_code == 302
    assert "did not agree to the highlights reel" in organiser.get(builder).text
    answer = organiser.post(
        f"{builder}/add",
        headers={"Accept": "application/json"},
        data={"reflection_id": waiting, "csrf_token": token(organiser, builder)},
    )
    assert answer.status_code == 400 and "Approve this reflection" in answer.json["error"]
    assert order(app, reel_id) == []


def test_add_remove_move_and_json_order(app, organiser, tmp_path):
    a, b, c = (ready(app, tmp_path, starred=0) for _ in range(3))
    reel_id = create(organiser, propose=False)
    builder = f"/studio/reels/{reel_id}"
    csrf = token(organiser, builder)
    for reflection_id in (a, b, c):
        organiser.post(f"{builder}/add", data={"reflection_id": reflection_id, "csrf_token": csrf})
    assert order(app, reel_id) == [a, b, c]
    organiser.post(
        f"{builder}/move", data={"reflection_id": c, "direction": "up", "csrf_token": csrf}
    )
    assert order(app, reel_id) == [a, c, b]
    answer = organiser.post(
        f"{builder}/order",
        json={"order": [b, a, c]},
        headers={"X-CSRFToken": csrf, "Accept": "application/json"},
    )
    assert answer.status_code == 200 and answer.json["ok"]
    assert order(app, reel_id) == [b, a, c]
    stale = organiser.post(
        f"{builder}/order",
        json={"order": [b, a]},
        headers={"X-CSRFToken": csrf, "Accept": "application/json"},
    )
    assert stale.status_code == 400 and "Reload the page" in stale.json["error"]
    no_csrf = organiser.post(f"{builder}/order", json={"order": [a, b, c]})
    assert no_csrf.status_code == 400 and order(app, reel_id) == [b, a, c]
    organiser.post(f"{builder}/remove", data={"reflection_id": a, "csrf_token": csrf})
    assert order(app, reel_id) == [b, c]
    audit = rows(app, "SELECT action FROM audit_log WHERE target_kind = 'reel' ORDER BY id")
    assert [row["action"] for row in audit] == [
        "reel.create",
        "reel.add",
        "reel.add",
        "reel.add",
        "reel.order",
        "reel.order",
        "reel.remove",
    ]


def test_render_request_queues_a_job_and_status_reports_it(app, organiser, tmp_path):
    reel_id = create(organiser, propose=False)
    builder = f"/studio/reels/{reel_id}"
    csrf = token(organiser, builder)
    nothing = organiser.post(f"{builder}/render", data={"csrf_token": csrf})
    assert nothing.status_code == 302
    assert "Add at least one approved" in organiser.get(builder).text
    assert not rows(app, "SELECT 1 FROM job WHERE kind = 'render_reel'")
    organiser.post(
        f"{builder}/add", data={"reflection_id": ready(app, tmp_path), "csrf_token": csrf}
    )
    answer = organiser.post(
        f"{builder}/render", data={"csrf_token": csrf}, headers={"Accept": "application/json"}
    )
    assert answer.json["state"]["busy"] is True
    (job,) = rows(app, "SELECT * FROM job WHERE kind = 'render_reel'")
    assert job["target_id"] == reel_id and job["status"] == "queued"
    status = organiser.get(f"{builder}/status.json").json
    assert status["status"] == "rendering" and status["busy"] and status["files"] == {}
    assert organiser.get(f"{builder}/file/mp4").status_code == 404
    assert organiser.get(f"{builder}/file/other").status_code == 404


def finish_render(app: Flask, outcome: str) -> None:
    """What the render job leaves behind, as the worker writes it (the render itself is in
    tests/test_reels.py): "ready" (12 s), "failed" (with its reason), "nothing" (no clip may
    be shown any more), or "busy" (still running)."""
    job_status, progress = {"busy": ("running", 0.4), "failed": ("failed", 1.0)}.get(
        outcome, ("done", 1.0)
    )
    sql(app, "UPDATE job SET status = ?, progress = ? WHERE kind = 'render_reel'"
             " AND status IN ('queued', 'running')", job_status, progress)  # fmt: skip
    if outcome == "busy":
        return
    if outcome == "ready":
        sql(app, "UPDATE reel SET status = 'ready', failure_reason = NULL,"
                 " duration_seconds = 12, rendered_revision = revision, rendered_at = ?",
            "2025-03-14T12:00:00+00:00")  # fmt: skip
    elif outcome == "failed":
        sql(app, "UPDATE reel SET status = 'failed', failure_reason = ?",
            "Rendering failed unexpectedly.")  # fmt: skip
    else:
        sql(app, "UPDATE reel SET status = 'draft', failure_reason = ?, rendered_revision ="
                 " revision", "Nothing to show: add approved reflections to this reel, then"
                 " render it.")  # fmt: skip


RENDER_NOTE = re.compile(r'<p class="flash( error)?" role="status" id="render-flash">([^<]*)</p>')


@pytest.mark.parametrize(
    ("outcome", "note", "error"),
    [
        ("busy", "Rendering the reel…", False),
        ("ready", "Rendered, 0:12 long.", False),
        ("failed", "The render failed: Rendering failed unexpectedly.", True),
        ("nothing", "Nothing to show: add approved reflections to this reel, then render it.",
         False),
    ],
)  # fmt: skip
def test_after_render_reel_the_note_at_the_top_is_the_renders_state(
    app, organiser, tmp_path, outcome, note, error
):
    """The note after "Render reel" used to say "Rendering the reel…" whatever had happened:
    it is the render's state when the page is drawn (and reel.js keeps it so after)."""
    reel_id = create(organiser, propose=False)
    builder = f"/studio/reels/{reel_id}"
    csrf = token(organiser, builder)
    organiser.post(
        f"{builder}/add", data={"reflection_id": ready(app, tmp_path), "csrf_token": csrf}
    )
    organiser.get(builder)  # the "Added to the reel." note is read
    answer = organiser.post(f"{builder}/render", data={"csrf_token": csrf})
    assert answer.status_code == 302
    finish_render(app, outcome)
    page = organiser.get(answer.location).text
    found = RENDER_NOTE.findall(page)
    assert found == [(" error" if error else "", note)]
    assert '<p class="flash" role="status">' not in page  # no second, fixed note
    state = re.search(r'<p id="render-state"[^>]*>([^<]*)</p>', page)
    assert state and state.group(1) == ("Rendering…" if outcome == "busy" else note)
    # Read once: the next visit has no note at the top.
    assert RENDER_NOTE.findall(organiser.get(builder).text) == []


@pytest.mark.parametrize(
    ("trim", "said"),
    [
        ((2.5, 5.0), "Trimmed; cuts at 0:02–0:06 (keyframes)"),
        # Its nearest cut points are the clip's ends: nothing is cut, so "Trimmed" would be wrong.
        ((1.0, 5.0), "Shown whole: the nearest cut points to its trim are the start and end."),
        ((None, None), None),
    ],
)
def test_the_builder_says_where_a_trimmed_clip_is_cut(app, organiser, tmp_path, trim, said):
    reflection_id = ready(app, tmp_path, duration=6.0)
    sql(app, "UPDATE reflection SET trim_in = ?, trim_out = ? WHERE id = ?", *trim, reflection_id)
    reel_id = create(organiser)  # proposes the starred clip
    assert order(app, reel_id) == [reflection_id]
    page = organiser.get(f"/studio/reels/{reel_id}").text
    item = page[page.index('id="reel-items"') :]
    item = item[: item.index("</li>")]
    notes = re.findall(r'<span class="muted">([^<]*(?:Trimmed|Shown whole)[^<]*)</span>', item)
    assert notes == ([said] if said else [])


def test_settings_and_delete(app, organiser, tmp_path):
    reel_id = create(organiser)
    builder = f"/studio/reels/{reel_id}"
    csrf = token(organiser, builder)
    answer = organiser.post(f"{builder}/settings", data={"title": "  ", "csrf_token": csrf})
    assert answer.status_code == 302 and "Give the reel a title" in organiser.get(builder).text
    organiser.post(
        f"{builder}/settings",
        data={"title": "Three minutes", "burn_captions": "1", "archived": "1", "csrf_token": csrf},
    )
    (reel,) = rows(app, "SELECT * FROM reel WHERE id = ?", reel_id)
    assert (reel["title"], reel["burn_captions"], reel["archived"]) == ("Three minutes", 1, 1)
    organiser.post(f"{builder}/delete", data={"csrf_token": csrf})
    assert rows(app, "SELECT * FROM reel") == []
    assert organiser.get(builder).status_code == 404


def test_review_changes_queue_reel_work(app, organiser, tmp_path):
    """Starring prepares a clip's pieces; unapproving re-renders reels that showed it."""
    reflection_id = ready(app, tmp_path, starred=0)
    review = f"/review/{reflection_id}"
    csrf = token(organiser, review)
    organiser.post(f"{review}/star", data={"starred": "1", "csrf_token": csrf})
    prepared = rows(app, "SELECT target_id FROM job WHERE kind = 'prepare_reel_clip'")
    assert [job["target_id"] for job in prepared] == [reflection_id]
    reel_id = create(organiser)
    sql(app, "UPDATE reel SET rendered_revision = revision, status = 'ready' WHERE id = ?", reel_id)
    organiser.post(f"{review}/state", data={"state": "hidden", "csrf_token": csrf})
    (reel,) = rows(app, "SELECT * FROM reel WHERE id = ?", reel_id)
    assert reel["revision"] == reel["rendered_revision"] + 1 and reel["status"] == "rendering"
    (job,) = rows(app, "SELECT * FROM job WHERE kind = 'render_reel'")
    assert job["target_id"] == reel_id and job["status"] == "queued"
    page = organiser.get(f"/studio/reels/{reel_id}").text
    assert "Left out of the render:" in page and "Not approved." in page


def test_reel_pages_in_welsh_keep_working(app, organiser, tmp_path):
    ready(app, tmp_path)
    reel_id = create(organiser)
    page = organiser.get(f"/studio/reels/{reel_id}?lang=cy")
    assert page.status_code == 200
    messages = page.text.split('id="reel-messages">')[1].split("</script>")[0]
    assert "{n}" in json.loads(messages)["moved"]


def test_builder_says_when_a_clip_keeps_the_reel_out_of_the_public_archive(
    app, organiser, tmp_path
):
    ready(app, tmp_path)  # reel consent, but not online (give_consent's default)
    reel_id = create(organiser)
    page = organiser.get(f"/studio/reels/{reel_id}").text
    assert "not for online" in page and "stays out of the public archive" in page
