""" "In their shoes" in real Chromium: the grid at a laptop's size, a term opening its
reflections in the review queue, and a screenshot for the docs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.archivedata import add_archived
from tests.browser.conftest import (
    PHONE_WIDTHS,
    SCREEN_TIMEOUT_MS,
    LiveKiosk,
    log_in,
    shoot,
    sideways_overflow,
)
from tests.recordday import PUBLISHED_QUOTES, a_day_of_voices
from tests.test_compare import SHARED
from voxpop import models
from voxpop.db import get_db

NAME, PASSWORD = "Osian Organiser", "correct horse battery"


def test_the_grid_side_by_side(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
    screenshot_dir: Path,
) -> None:
    live = live_kiosk_factory()
    app = live.app
    a_day_of_voices(app)
    for text in SHARED:
        add_archived(app, "text", "manager", text=text, prompt=1)
        add_archived(app, "text", "provider", text=text, prompt=2)
        add_archived(app, "text", "volunteer", text=f"{text} The community fridge kept going.")
    with app.app_context():
        models.create_user(get_db(), NAME, "organiser", PASSWORD)

    context = browser.new_context(**{**browser_context_args,
                                     "viewport": {"width": 1366, "height": 768}})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: response.status >= 400
            and errors.append(f"{response.status} {response.url}"))  # fmt: skip
    log_in(page, f"{live.url}/studio/compare", NAME, PASSWORD)

    expect(page.get_by_role("heading", name="In their shoes")).to_be_visible()
    expect(page.locator("td.cell q").first).to_have_text(PUBLISHED_QUOTES["video"])
    expect(page.locator("td.is-missing").first).to_contain_text("Missing voice")
    # Perspective colours come from the archive's stylesheet (no inline styles under the CSP).
    border = page.locator('tr[data-perspective="volunteer"] th').evaluate(
        "element => getComputedStyle(element).borderLeftColor"
    )
    assert border == "rgb(42, 114, 54)"
    shoot(page, path="docs/img/compare-grid.png", full_page=False)

    page.locator('tr[data-perspective="volunteer"] .terms a', has_text="community fridge").click()
    page.wait_for_url("**/review/?perspective=volunteer&q=community+fridge",
                      timeout=SCREEN_TIMEOUT_MS)  # fmt: skip
    expect(page.locator(".review-card")).to_have_count(8)

    # On a phone, in both languages, the page fits the screen's width: the grid keeps columns
    # wide enough to read and scrolls sideways in its own box, its perspectives staying in view.
    for size in PHONE_WIDTHS:
        page.set_viewport_size(size)
        for lang in ("cy", "en"):
            page.goto(f"{live.url}/studio/compare?lang={lang}")
            expect(page.locator("td.cell").first).to_be_visible()
            assert sideways_overflow(page) == {}, (size, lang)
        scroller = page.locator(".compare-scroll")
        assert scroller.evaluate("box => box.scrollWidth > box.clientWidth")
        cell = page.locator("td.cell").first.bounding_box()
        assert cell is not None and cell["width"] >= 150, cell
        scroller.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
        name = page.locator('tr[data-perspective="volunteer"] th').bounding_box()
        assert name is not None and name["x"] >= 0, name  # still in view
    shoot(page, path=str(screenshot_dir / "compare-grid-phone.png"), full_page=True)
    assert errors == []
    context.close()
