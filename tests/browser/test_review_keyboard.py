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


def test_pages_skip_nothing_after_changes_in_place(review_tab) -> None:
    """On the "waiting" list, approving a whole page (Approve selected, or a on every card)
    takes its cards out of the list; Older, and the a that moves past the last card, still go
    on to the very next reflections waiting. The count line follows every change, and a late
    answer does not draw older counts over newer ones."""
    tab = review_tab(150)
    page, ids = tab.page, tab.ids
    page.goto(f"{tab.live.url}/review/?review=waiting")
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    cards = page.locator("#review-list > li.review-item")
    counts = page.locator("#review-counts .review-counts")
    expect(counts).to_have_text("150 waiting · 0 approved · 0 hidden · 0 starred")
    expect(page.locator(".review-bulk .hint")).to_have_text("1–60 of 150 reflections")

    # Approve selected: the whole page.
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator(".review-live")).to_have_text("60 reflections approved.")
    expect(counts).to_have_text("90 waiting · 60 approved · 0 hidden · 0 starred")
    page.get_by_role("link", name="Older →").click()
    page.wait_for_url(f"{tab.live.url}/review/?review=waiting&before={ids[59]}",
                      timeout=TIMEOUT_MS)  # fmt: skip
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    expect(cards).to_have_count(60)
    assert current_id(page) == ids[60]  # the next one waiting, not 60 further on

    # Now from the keyboard, with two answers held back: the first until the next one's
    # answer has come (it must not draw its older counts over the newer), the last until the
    # page has tried to move on (it must wait for it).
    page.keyboard.press("s")
    expect(counts).to_have_text("90 waiting · 60 approved · 0 hidden · 1 starred")
    hold = {ids[60], ids[119]}
    held: dict[int, tuple[Any, Any]] = {}

    def hold_back(route: Any) -> None:
        reflection_id = int(route.request.url.rsplit("/", 2)[-2])
        if reflection_id in hold:
            held[reflection_id] = (route, route.fetch())  # the server has made the change
        else:
            route.continue_()

    page.route("**/review/*/state", hold_back)
    page.keyboard.press("a")
    page.keyboard.press("a")
    expect(counts).to_have_text("88 waiting · 62 approved · 0 hidden · 1 starred")
    route, answer = held.pop(ids[60])
    route.fulfill(response=answer)
    expect(page.locator(f"#reflection-{ids[60]}")).to_have_attribute("data-state", "approved")
    expect(counts).to_have_text("88 waiting · 62 approved · 0 hidden · 1 starred")
    for _ in range(58):
        page.keyboard.press("a")
    # Every answer but the held one is in; the page waits for it before moving on.
    page.wait_for_function(
        "id => document.querySelectorAll('.review-item.is-busy').length === 1"
        " && document.getElementById('reflection-' + id).classList.contains('is-busy')",
        arg=ids[119],
        timeout=TIMEOUT_MS,
    )
    for _ in range(TIMEOUT_MS // 50):  # until Playwright has handed the request to hold_back
        if ids[119] in held:
            break
        page.wait_for_timeout(50)
    assert page.url == f"{tab.live.url}/review/?review=waiting&before={ids[59]}"
    route, answer = held.pop(ids[119])
    route.fulfill(response=answer)
    page.wait_for_url(f"{tab.live.url}/review/?review=waiting&before={ids[119]}",
                      timeout=TIMEOUT_MS)  # fmt: skip
    page.wait_for_function("() => window.voxpopReview !== undefined", timeout=TIMEOUT_MS)
    expect(cards).to_have_count(30)
    assert current_id(page) == ids[120]
    expect(counts).to_have_text("30 waiting · 120 approved · 0 hidden · 1 starred")
    # Nothing newer is waiting any more: these 30 are the whole list, so no pages.
    expect(page.locator(".review-bulk .hint")).to_have_text("30 reflections")
    expect(page.locator("nav.pages")).to_have_count(0)

    conn = tab.db()
    try:
        states = {row["id"]: row["review_state"] for row in conn.execute(
            "SELECT id, review_state FROM reflection")}  # fmt: skip
    finally:
        conn.close()
    assert {states[i] for i in ids[:120]} == {"approved"}
    assert {states[i] for i in ids[120:]} == {"waiting"}
    assert tab.js_errors == []
