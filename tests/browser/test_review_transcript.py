"""The transcript beside the review player in real Chromium (issue 16): the words being said
are highlighted as the clip plays, a time or a word plays from there, ?t= opens at a moment,
Edit goes to that caption, the trim's note says what the reel will cut, saved captions show as
the person's, and "Mark captions checked" opens the captions gate."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import log_in, shoot, wait_until_at
from tests.conftest import add_reflection, give_consent, process
from voxpop import models
from voxpop.archive import service as archive
from voxpop.db import get_db

pytestmark = [pytest.mark.browser]
LiveKiosk = Any
TIMEOUT_MS = 15_000
NAME, PASSWORD = "Gwen Facilitator", "correct horse battery"
DRAFT = (
    "WEBVTT\n\n1\n00:00:00.000 --> 00:00:00.900\nWe shared power\n\n"
    "2\n00:00:01.000 --> 00:00:01.900\nand listened well\n"
)
WORDS = [
    (0.0, 0.3, "We"), (0.3, 0.6, "shared"), (0.6, 0.9, "power"),
    (1.0, 1.3, "and"), (1.3, 1.6, "listened"), (1.6, 1.9, "well"),
]  # fmt: skip


def test_the_transcript_follows_the_clip_and_the_facilitator_checks_it(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
    webm_clip: Path,
) -> None:
    live = live_kiosk_factory()
    app = live.app
    video = add_reflection(app, "video", webm_clip, perspective="volunteer")
    give_consent(app, video, online=1)
    assert process(app, video)["status"] == "ready"
    segments = [{"start": 0.0, "end": 1.9, "text": "We shared power and listened well",
                 "words": [{"start": s, "end": e, "text": w, "probability": 0.9}
                           for s, e, w in WORDS]}]  # fmt: skip
    with app.app_context():
        db = get_db()
        models.create_user(db, NAME, "facilitator", PASSWORD)
        db.execute("UPDATE reflection SET transcript_vtt = ?, review_state = 'approved'"
                   " WHERE id = ?", (DRAFT, video))  # fmt: skip
        db.execute(
            "INSERT INTO transcript (reflection_id, status, language, text, segments, draft_vtt,"
            " created_at, updated_at) VALUES (?, 'draft', 'en', ?, ?, ?, 'now', 'now')",
            (video, segments[0]["text"], json.dumps(segments), DRAFT),
        )
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, f"{live.url}/review/{video}?t=1.4", NAME, PASSWORD)

    # ?t=1.4 (a search hit's link) opens the clip at that moment: the second line, "listened".
    wait_until_at(page, 1.4)
    lines = page.locator(".transcript-line")
    expect(lines).to_have_count(2)
    expect(lines.nth(1)).to_have_class("transcript-line current")
    expect(page.locator(".word.current-word")).to_have_text("listened")

    # Selecting a word plays from it; selecting a line's time, from the line's start.
    page.locator(".word", has_text="power").click()
    wait_until_at(page, 0.6)
    expect(lines.nth(0)).to_have_class("transcript-line current")
    expect(page.locator(".word.current-word")).to_have_text("power")
    page.get_by_role("button", name="Play from 0:01").click()
    wait_until_at(page, 1.0)
    expect(lines.nth(1)).to_have_class("transcript-line current")

    # Playing moves the highlight on by itself (muted, so autoplay is allowed).
    page.evaluate("() => { const p = document.getElementById('player'); p.muted = true;"
                  " p.currentTime = 0; return p.play(); }")  # fmt: skip
    page.wait_for_function(
        "() => document.querySelector('.word.current-word')"
        " && document.querySelector('.word.current-word').textContent === 'listened'",
        timeout=TIMEOUT_MS,
    )
    page.evaluate("() => document.getElementById('player').pause()")

    # Edit takes the facilitator to that caption's words.
    page.get_by_role("link", name="Edit caption 2").click()
    expect(page.locator("#cue-text-2")).to_be_focused()
    # Each Remove button says which caption it removes, and still does after a new row.
    expect(page.get_by_role("button", name="Remove caption 2", exact=True)).to_have_count(1)
    rows_before = page.locator("#cue-rows .cue-row").count()
    page.click("[data-add-cue]")
    expect(
        page.get_by_role("button", name=f"Remove caption {rows_before + 1}", exact=True)
    ).to_have_count(1)
    shoot(page, path="docs/img/review-transcript.png", full_page=True)

    # The note under the trim follows what is typed. On this 2 s clip the reel's nearest cut
    # points (keyframes, every 2 s) are the clip's own ends, and the note says so plainly
    # (it used to say "it will use 0 s → 2 s", and the save "Trim saved.", as if trimmed).
    trim_note = page.locator("#trim-snapped")
    page.fill("#trim-in", "0.5")
    expect(trim_note).to_have_text(re.compile(r"^Nothing to trim for the reel: the nearest cut"))
    page.fill("#trim-in", "")
    expect(trim_note).to_have_text(re.compile(r"it will use 0 s → [\d.]+ s\.$"))
    page.fill("#trim-in", "0.5")
    page.get_by_role("button", name="Save trim").click()
    expect(page.locator("main > p.flash")).to_have_text(
        re.compile(r"^Trim saved for the archive .*, but nothing to trim for the reel")
    )
    expect(trim_note).to_have_text(re.compile(r"^Nothing to trim for the reel"))

    # Saved, the captions are the person's now: the status says so (it kept the speech step's).
    status = page.locator(".captions-box .captions-state")
    expect(status).to_have_text("Captions: machine draft, not checked")
    page.locator("#cue-text-2").fill("and listened very well")
    page.get_by_role("button", name="Save captions").click()
    saved_note = page.locator(".transcript p.flash")
    expect(saved_note).to_have_text("Captions saved.")
    expect(saved_note).to_be_in_viewport()  # the page comes back to the editor
    expect(page.locator("main > p.flash")).to_have_count(0)
    expect(status).to_have_text("Captions: written by a person, not checked")

    # Checked: the clip may now go online; who checked it is shown.
    with app.app_context():
        event_id = models.current_event(get_db()).id  # type: ignore[union-attr]
        assert video not in [r.id for r in archive.publishable_reflections(get_db(), event_id)]
    page.get_by_role("button", name="Mark captions checked").click()
    expect(page.locator(".captions-box")).to_contain_text(f"Checked by {NAME}")
    with app.app_context():
        assert video in [r.id for r in archive.publishable_reflections(get_db(), event_id)]
    assert not errors, errors
    context.close()
