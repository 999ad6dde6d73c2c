"""Keyboard triage in a real browser: a facilitator logs in and triages 50 reflections without
the mouse, then the database (and its audit log) is checked for every change they made."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from voxpop import models
from voxpop.db import get_db

pytestmark = [pytest.mark.browser]

LiveKiosk = Any  # tests/browser/conftest.py: .app, .url, .db()
NAME, PASSWORD = "Fran Facilitator", "correct horse battery"
TIMEOUT_MS = 15_000


@dataclass
class ReviewTab:
    """A logged-in facilitator's tab on the review queue, and the app behind it."""

    page: Page
    live: LiveKiosk
    ids: list[int]  # the seeded reflections, newest first (the queue's order)
    js_errors: list[str]

    def db(self) -> sqlite3.Connection:
        return self.live.db()


def seed_text_reflections(live: LiveKiosk, count: int) -> list[int]:
    """``count`` written reflections (consented to the reel), ready; newest first."""
    conn = live.db()
    try:
        event = conn.execute("SELECT id FROM event ORDER BY id DESC LIMIT 1").fetchone()["id"]
        volunteer = conn.execute(
            "SELECT id FROM perspective WHERE event_id = ? AND slug = 'volunteer'", (event,)
        ).fetchone()["id"]
        prompt = conn.execute("SELECT id FROM prompt WHERE event_id = ?", (event,)).fetchone()[0]
        consent = conn.execute("SELECT id, sha256 FROM consent_text WHERE event_id = ?",
                               (event,)).fetchone()  # fmt: skip
        ids = []
        conn.execute("BEGIN IMMEDIATE")
        for number in range(count):
            created = f"2025-03-14T{10 + number // 60:02d}:{number % 60:02d}:00+00:00"
            cursor = conn.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                " status, receipt_code, client_id, lang, created_at)"
                " VALUES (?, 'text', ?, ?, ?, 'ready', ?, ?, 'en', ?)",
                (event, volunteer, prompt, f"Reflection number {number}.", f"T{number:05d}",
                 str(uuid.uuid4()), created),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive,"
                " reel, online, show_name, given_at) VALUES (?, ?, ?, 1, 1, 0, 0, ?)",
                (cursor.lastrowid, consent["id"], consent["sha256"], created),
            )
            ids.append(int(cursor.lastrowid))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return list(reversed(ids))


def log_in_with_the_keyboard(page: Page, live: LiveKiosk) -> None:
    """Open the queue (which asks for a login) and log in by typing, then Enter."""
    page.goto(f"{live.url}/review/")
    expect(page.locator("#name")).to_be_focused()  # the login form's autofocus
    page.keyboard.type(NAME)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/review/**", timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)


@pytest.fixture
def review_tab(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
) -> Iterator[Callable[[int], ReviewTab]]:
    """Return ``open(count)``: a fresh app with ``count`` reflections and a logged-in tab."""
    contexts = []

    def open_tab(count: int) -> ReviewTab:
        live = live_kiosk_factory()
        with live.app.app_context():
            models.create_user(get_db(), NAME, "facilitator", PASSWORD)
        ids = seed_text_reflections(live, count)
        context = browser.new_context(**browser_context_args)
        contexts.append(context)
        page = context.new_page()
        tab = ReviewTab(page, live, ids, [])
        page.on("pageerror", lambda error: tab.js_errors.append(str(error)))
        log_in_with_the_keyboard(page, live)
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def current_id(page: Page) -> int:
    return int(page.evaluate("() => window.voxpopReview.current().dataset.id"))


def wait_until_settled(page: Page) -> None:
    """Wait until no change is still on its way to the server."""
    page.wait_for_function(
        "() => document.querySelectorAll('.review-item.is-busy').length === 0",
        timeout=TIMEOUT_MS,
    )


def test_triage_fifty_reflections_from_the_keyboard(review_tab) -> None:
    tab = review_tab(50)
    page = tab.page
    cards = page.locator("#review-list > li.review-item")
    expect(cards).to_have_count(50)
    assert current_id(page) == tab.ids[0]
    expect(page.locator("#shortcut-line")).to_contain_text("approve")

    # ? shows every shortcut; Esc puts it away.
    page.keyboard.press("?")
    expect(page.locator("#review-shortcuts")).to_be_visible()
    expect(page.locator("#review-shortcuts")).to_contain_text("Manager or leader")
    page.keyboard.press("Escape")
    expect(page.locator("#review-shortcuts")).to_be_hidden()

    # j/k and the arrow keys move, and the focus follows (Enter would open it).
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    assert current_id(page) == tab.ids[2]
    page.keyboard.press("k")
    page.keyboard.press("ArrowUp")
    assert current_id(page) == tab.ids[0]
    assert page.evaluate("() => document.activeElement.closest('.review-item').dataset.id") == str(
        tab.ids[0]
    )

    # The plan: every 4th is starred, every 3rd moves to "Manager or leader" (key 6), every
    # 5th is hidden, the rest approved. a and h move on to the next by themselves.
    expected: dict[int, tuple[str, int, str]] = {}
    for index, reflection_id in enumerate(tab.ids):
        assert current_id(page) == reflection_id
        starred = index % 4 == 0
        manager = index % 3 == 0
        hidden = index % 5 == 0
        if starred:
            page.keyboard.press("s")
        if manager:
            page.keyboard.press("6")
        page.keyboard.press("h" if hidden else "a")
        expected[reflection_id] = (
            "hidden" if hidden else "approved",
            int(starred),
            "manager" if manager else "volunteer",
        )
    wait_until_settled(page)
    expect(page.locator('#review-list > li[data-state="waiting"]')).to_have_count(0)
    expect(page.locator('#review-list > li[data-starred="1"]')).to_have_count(13)
    first = page.locator(f"#reflection-{tab.ids[0]}")
    expect(first).to_have_attribute("data-state", "hidden")
    expect(first.locator('[data-field="perspective"]')).to_have_text("Manager or leader")

    conn = tab.db()
    try:
        stored = {
            row["id"]: (row["review_state"], row["starred"], row["slug"])
            for row in conn.execute(
                "SELECT r.id, r.review_state, r.starred, p.slug FROM reflection r"
                " JOIN perspective p ON p.id = r.perspective_id"
            )
        }
        audit = conn.execute(
            "SELECT action, target_id, user_name, before, after FROM audit_log ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert stored == expected
    by_action: dict[str, int] = {}
    for row in audit:
        by_action[row["action"]] = by_action.get(row["action"], 0) + 1
        assert row["user_name"] == NAME
    assert by_action == {"reflection.review": 50, "reflection.star": 13,
                         "reflection.perspective": 17}  # fmt: skip
    # a moves on at once: an s straight after stars the next one, and the note names it.
    page.keyboard.press("k")
    page.keyboard.press("a")
    wait_until_settled(page)  # (the two notes could otherwise come back in either order)
    page.keyboard.press("s")
    expect(page.locator(".review-live")).to_have_text(f"Reflection {tab.ids[49]}: Starred")
    star = next(row for row in audit if row["action"] == "reflection.star")
    assert (json.loads(star["before"]), json.loads(star["after"])) == (
        {"starred": False}, {"starred": True},
    )  # fmt: skip
    assert tab.js_errors == []


def test_keyboard_in_the_detail_view(review_tab) -> None:
    tab = review_tab(3)
    page = tab.page
    newest, middle, oldest = tab.ids
    page.keyboard.press("j")
    page.keyboard.press("Enter")  # the focused card's link
    page.wait_for_url(f"{tab.live.url}/review/{middle}", timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    expect(page.locator("#shortcut-line")).to_be_visible()

    item = page.locator(f"#reflection-{middle}")
    # Waiting: nothing to go back to, so no "Back to waiting" (it looked like the main action).
    approve, back = item.locator(".state-approved"), item.locator(".state-waiting")
    expect(back).to_be_hidden()
    expect(approve).to_have_attribute("aria-pressed", "false")
    approve.click()
    expect(approve).to_have_attribute("aria-pressed", "true")
    expect(back).to_be_visible()
    back.click()
    expect(back).to_be_hidden()
    expect(approve).to_have_attribute("aria-pressed", "false")

    page.keyboard.press("1")  # the first perspective: Community member
    expect(item.locator("h1 [data-field=perspective]")).to_have_text("Community member")
    page.keyboard.press("s")
    expect(item).to_have_attribute("data-starred", "1")
    expect(page.locator(".review-live")).to_have_text(f"Reflection {middle}: Starred")
    page.keyboard.press("h")  # hide, then on to the next (older) one
    page.wait_for_url(f"{tab.live.url}/review/{oldest}", timeout=TIMEOUT_MS)
    page.keyboard.press("k")
    page.wait_for_url(f"{tab.live.url}/review/{middle}", timeout=TIMEOUT_MS)
    page.keyboard.press("k")
    page.wait_for_url(f"{tab.live.url}/review/{newest}", timeout=TIMEOUT_MS)
    page.keyboard.press("a")  # approve, then on to the next
    page.wait_for_url(f"{tab.live.url}/review/{middle}", timeout=TIMEOUT_MS)
    expect(page.locator(f"#reflection-{middle}")).to_have_attribute("data-state", "hidden")
    page.keyboard.press("u")
    page.wait_for_url(f"{tab.live.url}/review/", timeout=TIMEOUT_MS)

    conn = tab.db()
    try:
        stored = {
            row["id"]: (row["review_state"], row["starred"], row["slug"])
            for row in conn.execute(
                "SELECT r.id, r.review_state, r.starred, p.slug FROM reflection r"
                " JOIN perspective p ON p.id = r.perspective_id"
            )
        }
        actions = [row[0] for row in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    finally:
        conn.close()
    assert stored == {
        newest: ("approved", 0, "volunteer"),
        middle: ("hidden", 1, "community-member"),
        oldest: ("waiting", 0, "volunteer"),
    }
    assert actions == [
        "reflection.review", "reflection.review",  # the buttons: approved, back to waiting
        "reflection.perspective", "reflection.star", "reflection.review", "reflection.review",
    ]  # fmt: skip
    assert tab.js_errors == []
