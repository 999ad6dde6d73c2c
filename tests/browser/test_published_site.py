"""Issue 7's "done when", end to end: an organiser publishes the day from the studio to a real
S3 server (SeaweedFS), and real Chromium plays the archive — a reflection and the day's reel —
straight from the bucket over HTTP, as any static host would serve it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser

from tests.browser.conftest import SCREEN_TIMEOUT_MS
from tests.conftest import (
    Auth,
    add_reflection,
    check_captions,
    csrf_from,
    give_consent,
    process,
    rows,
    run_queued,
)
from tests.s3server import (
    SeaweedS3,
    s3_server,  # noqa: F401 - the session's S3 server
    use_test_credentials,
)
from voxpop import models
from voxpop.db import get_db, transaction
from voxpop.reels import service as reels

pytestmark = [pytest.mark.browser]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for the test server from the environment (boto3's chain), nothing else."""
    use_test_credentials(monkeypatch, tmp_path)


def test_the_published_archive_plays_from_the_bucket(
    app: Flask,
    browser: Browser,
    browser_context_args: dict[str, Any],
    webm_clip: Path,
    s3_server: SeaweedS3,  # noqa: F811
) -> None:
    if s3_server.process is None:
        s3_server.start()
    video = add_reflection(app, "video", webm_clip, perspective="volunteer")
    give_consent(app, video, reel=1, online=1)
    assert process(app, video)["status"] == "ready"
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute("UPDATE reflection SET review_state = 'approved', starred = 1,"
                       " transcript_vtt = ? WHERE id = ?",
                       ("WEBVTT\n\n00:00:00.200 --> 00:00:01.500\nDiolch\n", video))  # fmt: skip
    check_captions(app, video)  # a person checked them: the captions gate opens
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        reel_id = reels.create_reel(db, event, "Highlights", actor=None)
        reels.update_settings(db, event, reel_id, title="Highlights", burn_captions=False,
                              archived=True, actor=None)  # fmt: skip
        reels.request_render(db, app.extensions["voxpop"].queue, event, reel_id)
    run_queued(app)

    # The organiser saves the bucket in the studio and presses Publish now.
    bucket, prefix = s3_server.shared_bucket(), f"day-{uuid.uuid4().hex[:8]}"
    client = app.test_client()
    Auth(app, client).login("organiser")
    page = client.get("/studio/publish")
    saved = client.post("/studio/publish/settings", data={
        "csrf_token": csrf_from(page.text), "bucket": bucket, "prefix": prefix,
        "region": "us-east-1", "endpoint_url": s3_server.endpoint_url})  # fmt: skip
    assert saved.status_code in (200, 302), saved.text
    token = csrf_from(client.get("/studio/publish").text)
    pressed = client.post("/studio/publish/now", data={"csrf_token": token})
    assert pressed.status_code in (200, 302)
    run_queued(app)
    (state,) = rows(app, "SELECT * FROM publish_state")
    assert state["phase"] == "done", state
    site = f"{s3_server.endpoint_url}/{bucket}/{prefix}"

    context = browser.new_context(**browser_context_args)
    tab = context.new_page()
    failed: list[str] = []
    tab.on("requestfailed", lambda request: request.failure == "net::ERR_ABORTED"
           or failed.append(f"{request.url}: {request.failure}"))  # fmt: skip
    tab.goto(f"{site}/index.html")
    assert tab.locator("h1").inner_text() == "Walk in their shoes"

    def plays(selector: str) -> float:
        player = tab.locator(selector).first
        player.scroll_into_view_if_needed()
        player.evaluate("video => { video.preload = 'auto'; video.muted = true; video.load();"
                        " video.play(); }")  # fmt: skip
        tab.wait_for_function(
            "selector => { const v = document.querySelector(selector);"
            " return v.readyState >= 2 && v.currentTime > 0; }",
            arg=selector, timeout=SCREEN_TIMEOUT_MS,
        )  # fmt: skip
        return float(player.evaluate("video => video.duration"))

    assert plays(".reels video") > 10  # intro, section, clip and outro cards
    tab.get_by_role("link", name="Volunteer").first.click()
    tab.wait_for_url("**/perspective-volunteer.html", timeout=SCREEN_TIMEOUT_MS)
    assert plays(f"#reflection-{video} video") > 1
    source = tab.locator(f"#reflection-{video} video").evaluate("video => video.currentSrc")
    assert source.startswith(site)
    assert failed == []
    context.close()
