"""The review queue in real Chromium (issue 17): a clip plays in its card with its captions,
from the keyboard; a skip link is the first thing Tab reaches and lands on the first card; the
search box is a usable size; and a reviewer can turn the single-key shortcuts off (WCAG 2.1.4),
after which pressing a letter does nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    PHONE_WIDTHS,
    log_in,
    shoot,
    sideways_overflow,
    wait_until_paused,
    wait_until_playing,
)
from tests.browser.test_review_keyboard import current_id, seed_text_reflections
from tests.conftest import add_reflection, give_consent, process
from voxpop import models
from voxpop.db import get_db

pytestmark = [pytest.mark.browser]
LiveKiosk = Any
TIMEOUT_MS = 15_000
NAME, PASSWORD = "Sioned Facilitator", "correct horse battery"
CAPTIONS = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.900\nWe shared power\n"
FOUR_CAPTIONS = "WEBVTT\n\n" + "".join(
    f"{n}\n00:00:00.{n}00 --> 00:00:00.{n}90\nWe shared power and listened to each other ({n})\n\n"
    for n in range(1, 5)
)


def open_queue(browser: Browser, context_args: dict[str, Any], live: LiveKiosk) -> Page:
    """A new facilitator, logged in on the review queue with its script running."""
    with live.app.app_context():
        models.create_user(get_db(), NAME, "facilitator", PASSWORD)
    page = browser.new_context(**context_args).new_page()
    log_in(page, f"{live.url}/review/", NAME, PASSWORD)
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    return page


def test_a_clip_plays_in_its_card_and_the_skip_link_reaches_it(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
    webm_clip: Path,
    screenshot_dir: Path,
) -> None:
    live = live_kiosk_factory()
    video = add_reflection(live.app, "video", webm_clip, perspective="volunteer")
    give_consent(live.app, video, online=1)
    assert process(live.app, video)["status"] == "ready"
    with live.app.app_context():
        get_db().execute("UPDATE reflection SET transcript_vtt = ? WHERE id = ?", (CAPTIONS, video))
    page = open_queue(browser, {**browser_context_args, "viewport": {"width": 1366, "height": 768}},
                  live)  # fmt: skip
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    card = page.locator(f"#reflection-{video}")

    # The first Tab reaches the skip link, and it lands on the first card's link.
    page.keyboard.press("Tab")
    skip = page.locator("#skip-to-reflections")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Skip to the reflections")
    assert skip.evaluate("node => node.getBoundingClientRect().top >= 0")  # shown when focused
    page.keyboard.press("Enter")
    expect(card.locator("a.open")).to_be_focused()
    assert current_id(page) == video

    # The card's play button, from the keyboard: the delivery MP4 plays where the thumbnail
    # was, with its captions showing.
    button = card.locator("button.play-inline")
    expect(button).to_have_accessible_name(f"Play here · Reflection #{video}")
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    player = card.locator("video.inline-player")
    expect(player).to_be_visible()
    assert player.get_attribute("src") == f"/studio/media/{video}/mp4"
    expect(card.locator(".thumb")).to_be_hidden()
    wait_until_playing(page, "video.inline-player", past=0.3)
    expect(button).to_have_accessible_name(f"Pause · Reflection #{video}")
    page.wait_for_function(
        "() => { const t = document.querySelector('video.inline-player').textTracks[0];"
        " return t && t.kind === 'captions' && t.mode === 'showing' && t.cues"
        " && t.cues.length === 1 && t.cues[0].text === 'We shared power'; }",
        timeout=TIMEOUT_MS,
    )
    shoot(page, path=str(screenshot_dir / "review-queue-playing-laptop.png"))
    # Enter again pauses it.
    page.keyboard.press("Enter")
    wait_until_paused(page, "video.inline-player")
    expect(button).to_contain_text("Play here")
    # And p plays the current card's clip (a single-key shortcut, on by default).
    page.keyboard.press("p")
    wait_until_playing(page, "video.inline-player")

    # On a phone, in both languages, the queue with its filters and the clip's page with its
    # caption editor fit the screen's width: nothing to scroll sideways to (the Welsh filter
    # names and choices are longer; the caption editor was a wide table).
    with live.app.app_context():
        get_db().execute("UPDATE reflection SET transcript_vtt = ? WHERE id = ?",
                         (FOUR_CAPTIONS, video))  # fmt: skip
    for size in PHONE_WIDTHS:
        page.set_viewport_size(size)
        for lang in ("cy", "en"):
            for path in (f"/review/?review=waiting&kind=video&lang={lang}",
                         f"/review/{video}?lang={lang}"):  # fmt: skip
                page.goto(f"{live.url}{path}")
                expect(page.locator("main")).to_be_visible()
                assert sideways_overflow(page) == {}, (size, path)
        expect(page.locator("#cue-rows .cue-row")).to_have_count(5)  # four, and a new one
        # Each caption's times are named beside their boxes, and Remove is on screen.
        expect(page.locator("#cue-rows .cue-label").first).to_be_visible()
        expect(page.locator("#cue-rows .cue-label").first).to_have_text("Start")
        remove = page.locator("#cue-rows button[data-remove-cue]").first
        box = remove.bounding_box()
        assert box is not None and box["x"] + box["width"] <= size["width"], box
    shoot(page, path=str(screenshot_dir / "review-captions-phone.png"), full_page=True)
    assert errors == []


def test_single_key_shortcuts_can_be_turned_off(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
    screenshot_dir: Path,
) -> None:
    live = live_kiosk_factory()
    ids = seed_text_reflections(live, 3)
    page = open_queue(browser, {**browser_context_args, "viewport": {"width": 1366, "height": 768}},
                  live)  # fmt: skip
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    changes: list[str] = []
    page.on("request", lambda r: changes.append(r.url) if r.method == "POST" else None)

    # A search box sized for use.
    search = page.get_by_label("Search text and transcripts")
    size = search.bounding_box()
    assert size is not None and size["width"] >= 320 and size["height"] >= 40, size
    shoot(page, path=str(screenshot_dir / "review-queue-laptop.png"))

    # The shortcut list says how to turn them off.
    page.locator("body").press("?")
    help_list = page.locator("#review-shortcuts")
    expect(help_list).to_be_visible()
    expect(help_list).to_contain_text("“Turn off single-key shortcuts”")
    page.keyboard.press("Escape")
    expect(help_list).to_be_hidden()

    page.get_by_role("button", name="Turn off single-key shortcuts").click()
    page.wait_for_url(f"{live.url}/review/", timeout=TIMEOUT_MS)
    expect(page.locator(".flash")).to_contain_text("Single-key shortcuts are off")
    expect(page.get_by_role("button", name="Turn on single-key shortcuts")).to_be_visible()
    db = live.db()
    try:
        row = db.execute("SELECT review_shortcuts FROM user WHERE name = ?", (NAME,)).fetchone()
        assert row["review_shortcuts"] == 0
    finally:
        db.close()

    # Off: a, h, s, 2 and ? do nothing; the arrows still move.
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    changes.clear()
    page.locator(f"#reflection-{ids[0]} a.open").focus()
    for key in ("a", "h", "s", "2", "j", "?"):
        page.keyboard.press(key)
        assert current_id(page) == ids[0], key
    expect(help_list).to_be_hidden()
    page.keyboard.press("ArrowRight")
    assert current_id(page) == ids[1]
    # On again (the same button, now saying so), from the page: a approves and moves on.
    page.get_by_role("button", name="Turn on single-key shortcuts").click()
    page.wait_for_url(f"{live.url}/review/", timeout=TIMEOUT_MS)
    assert not [
        url for url in changes if "/state" in url or "/star" in url or "/perspective" in url
    ]
    db = live.db()
    try:
        rows = db.execute("SELECT id, review_state, starred FROM reflection").fetchall()
        states = {row["id"]: (row["review_state"], row["starred"]) for row in rows}
    finally:
        db.close()
    assert all(state == ("waiting", 0) for state in states.values()), states

    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    page.locator(f"#reflection-{ids[0]} a.open").focus()
    page.keyboard.press("a")
    assert current_id(page) == ids[1]
    expect(page.locator(f"#reflection-{ids[0]}")).to_have_attribute(
        "data-state", "approved", timeout=TIMEOUT_MS
    )
    assert errors == []
