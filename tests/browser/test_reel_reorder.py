"""The reel builder in a real browser: an organiser reorders clips with the keyboard and by
drag and drop, and the database holds the order they see; then renders it, and the note at the
top follows the render to its end."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import log_in
from tests.browser.test_review_keyboard import seed_text_reflections
from tests.test_reel_builder import finish_render
from voxpop import models
from voxpop.db import get_db, transaction
from voxpop.reels import service as reels

pytestmark = [pytest.mark.browser]

NAME, PASSWORD = "Olwen Organiser", "correct horse battery"
TIMEOUT_MS = 15_000


def stored_order(live: Any, reel_id: int) -> list[int]:
    conn = live.db()
    try:
        return [row["reflection_id"] for row in conn.execute(
            "SELECT reflection_id FROM reel_item WHERE reel_id = ? ORDER BY position", (reel_id,)
        )]  # fmt: skip
    finally:
        conn.close()


def test_reorder_by_keyboard_and_drag(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., Any],
) -> None:
    live = live_kiosk_factory()
    ids = seed_text_reflections(live, 4)  # ready, reel consent; newest first
    with live.app.app_context():
        db = get_db()
        models.create_user(db, NAME, "organiser", PASSWORD)
        with transaction(db):
            db.execute("UPDATE reflection SET review_state = 'approved', starred = 1")
        reel_id = reels.create_reel(db, models.current_event(db), "Closing plenary", actor=None)
    start = stored_order(live, reel_id)
    assert sorted(start) == sorted(ids)

    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, f"{live.url}/studio/reels/{reel_id}", NAME, PASSWORD)
    items = page.locator("#reel-items > li.reel-item")
    expect(items).to_have_count(4)

    # Keyboard: focus the last clip, Alt+Up twice moves it to second place.
    last = items.nth(3)
    last.focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#reel-live")).to_contain_text("Moved to position 3 of 4")
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#reel-live")).to_contain_text("Moved to position 2 of 4")
    expected = [start[0], start[3], start[1], start[2]]  # announced once the server saved it
    assert stored_order(live, reel_id) == expected
    expect(page.locator(f'#reel-items > li[data-id="{start[3]}"]')).to_be_focused()

    # Drag and drop: the first clip goes below the last one.
    target = f'#reel-items > li[data-id="{expected[3]}"]'
    height = page.locator(target).bounding_box()["height"]
    page.drag_and_drop(f'#reel-items > li[data-id="{expected[0]}"]', target,
                       target_position={"x": 20, "y": height - 4})  # fmt: skip
    expect(page.locator("#reel-live")).to_contain_text("Moved to position 4 of 4")
    expected = [*expected[1:], expected[0]]
    assert stored_order(live, reel_id) == expected

    # The page after a reload shows the stored order.
    page.reload()
    shown = [int(value) for value in page.locator("#reel-items > li.reel-item").evaluate_all(
        "items => items.map(item => item.dataset.id)")]  # fmt: skip
    assert shown == expected

    # Render: the note at the top says it is rendering, and becomes the finished state when
    # the render is done (it used to stay "Rendering the reel…"), or says it failed.
    note = page.locator("main > p.flash")
    page.get_by_role("button", name="Render reel").click()
    expect(note).to_have_text("Rendering the reel…")
    finish_render(live.app, "ready")  # as the worker leaves it; the page asks every second
    expect(note).to_have_text("Rendered, 0:12 long.", timeout=TIMEOUT_MS)
    expect(page.locator("#render-state")).to_have_text("Rendered, 0:12 long.")
    expect(note).not_to_have_class(re.compile(r"\berror\b"))
    page.get_by_role("button", name="Render reel").click()
    expect(note).to_have_text("Rendering the reel…")
    finish_render(live.app, "failed")
    expect(note).to_have_text("The render failed: Rendering failed unexpectedly.",
                              timeout=TIMEOUT_MS)  # fmt: skip
    expect(note).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#render-state")).to_have_class("error-text")
    assert errors == []
    context.close()
