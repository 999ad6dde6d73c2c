"""The live dashboard fits one screen (issue 17): at 1366×768 on a laptop, and in big-screen
mode on a 1920×1080 projector, with a realistic day (8 perspectives, several prompts, about
100 reflections). Screenshots land in docs/img/ for a person to look at."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import log_in, shoot
from voxpop import models
from voxpop.db import get_db
from voxpop.studio import dashboard

pytestmark = [pytest.mark.browser]

NAME, PASSWORD = "Olwen Organiser", "correct horse battery"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TIMEOUT_MS = 15_000
FONT_SIZE = "e => parseFloat(getComputedStyle(e).fontSize)"
# How many reflections each perspective had by the afternoon: two stay below the 5% target.
DAY = {
    "community-member": 18,
    "service-user": 3,
    "volunteer": 24,
    "front-line-staff": 15,
    "provider": 14,
    "manager": 12,
    "government": 2,
    "organiser": 11,
}
KINDS = ("video", "video", "audio", "text", "text")
REVIEW = ("approved", "approved", "waiting", "hidden", "approved", "waiting")


def seed_day(live: Any) -> int:
    """About 100 ready reflections across the day, the perspectives, prompts and kinds."""
    conn = live.db()
    try:
        event = conn.execute("SELECT id FROM event ORDER BY id DESC LIMIT 1").fetchone()["id"]
        perspectives = {
            row["slug"]: row["id"]
            for row in conn.execute("SELECT id, slug FROM perspective WHERE event_id = ?", (event,))
        }
        prompts = [row["id"] for row in conn.execute("SELECT id FROM prompt WHERE event_id = ?",
                                                      (event,))]  # fmt: skip
        assert len(perspectives) == 8 and len(prompts) >= 3
        number = 0
        conn.execute("BEGIN IMMEDIATE")
        for slug, count in DAY.items():
            for _ in range(count):
                kind = KINDS[number % len(KINDS)]
                created = f"2025-03-14T{9 + number % 8:02d}:{number % 60:02d}:00+00:00"
                conn.execute(
                    "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                    " original_path, status, review_state, receipt_code, client_id, lang,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, 'ready', ?, ?, ?, 'en', ?)",
                    (event, kind, perspectives[slug], prompts[number % len(prompts)],
                     "A thought." if kind == "text" else None,
                     None if kind == "text" else f"originals/{uuid.uuid4().hex}.webm",
                     REVIEW[number % len(REVIEW)], f"D{number:05d}", str(uuid.uuid4()),
                     created),
                )  # fmt: skip
                number += 1
        conn.execute("COMMIT")
    finally:
        conn.close()
    return number


def page_fits(page: Page) -> tuple[int, int, int, int]:
    """The page's scroll size and the viewport's, after layout has settled."""
    return page.evaluate(
        "() => [document.documentElement.scrollHeight, window.innerHeight,"
        " document.documentElement.scrollWidth, window.innerWidth]"
    )


def boxes(page: Page) -> dict[str, dict[str, float]]:
    """The bounding box of every cell of the dashboard's grid, by its grid area."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-area]')].map(
            el => { const r = el.getBoundingClientRect();
                    return [el.dataset.area, {x: r.x, y: r.y, w: r.width, h: r.height}]; }))"""
    )


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["w"] - 0.5
        and b["x"] < a["x"] + a["w"] - 0.5
        and a["y"] < b["y"] + b["h"] - 0.5
        and b["y"] < a["y"] + a["h"] - 0.5
    )


@pytest.mark.parametrize(
    ("width", "height", "query", "screenshot"),
    [
        (1366, 768, "", "dashboard-laptop.png"),
        (1920, 1080, "?big=1", "dashboard-big-screen.png"),
        (1366, 768, "?big=1", None),  # the projector mode also fits a laptop driving it
        (1366, 768, "?lang=cy", None),  # Welsh: longer words, the same one screen
    ],
)
def test_dashboard_fits_one_screen(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., Any],
    width: int,
    height: int,
    query: str,
    screenshot: str | None,
) -> None:
    live = live_kiosk_factory()
    total = seed_day(live)
    assert 95 <= total <= 110
    with live.app.app_context():
        models.create_user(get_db(), NAME, "organiser", PASSWORD)
    context = browser.new_context(**{**browser_context_args,
                                     "viewport": {"width": width, "height": height}})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, f"{live.url}/studio/dashboard{query}", NAME, PASSWORD)
    expect(page.locator("[data-total]")).to_have_text(str(total))
    # Refreshed: the time is written as voxpop writes times (24-hour), not "7:18:16 PM".
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # refresh now
    updated = re.compile(r"^(Updated at|Diweddarwyd am) \d\d:\d\d:\d\d$")
    expect(page.locator("#dashboard-status .when")).to_have_text(updated)
    # Every chart is drawn, and the two thin perspectives are named as missing voices.
    expect(page.locator("svg.chart")).to_have_count(4)
    missing = page.locator(".missing-voice").evaluate_all("els => els.map(e => e.dataset.slug)")
    assert sorted(missing) == ["government", "service-user"]
    assert ("is-big" in (page.locator("body").get_attribute("class") or "")) == ("big" in query)
    assert page.locator("html").get_attribute("lang") == ("cy" if "cy" in query else "en")

    scroll_height, inner_height, scroll_width, inner_width = page_fits(page)
    assert scroll_height <= inner_height, f"{scroll_height} px tall in a {inner_height} px window"
    assert scroll_width <= inner_width

    # Side by side, not stacked: the cells share rows, none overlaps another, each is on screen
    # and every chart is drawn at a size a person can read (not squeezed to a sliver).
    cells = boxes(page)
    assert set(cells) == {"totals", "missing", "perspectives", "kinds", "hours", "review"}
    names = sorted(cells)
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            assert not overlaps(cells[first], cells[second]), (first, second)
    for name, box in cells.items():
        assert box["y"] + box["h"] <= inner_height + 0.5, name
        assert box["x"] + box["w"] <= inner_width + 0.5, name
    assert len({round(box["y"]) for box in cells.values()}) < len(cells)
    charts = page.locator("svg.chart").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [e.id, r.width, r.height]; })"
    )
    for chart_id, chart_width, chart_height in charts:
        assert chart_width >= width / 6 and chart_height >= height / 8, chart_id

    # The live fragment keeps the layout when it is swapped in.
    page.wait_for_function(
        "() => document.querySelector('#dashboard-status .when').textContent.match(/\\d/)",
        timeout=TIMEOUT_MS,
    )
    assert page_fits(page)[0] <= inner_height
    if screenshot:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shoot(page, path=str(DOCS_IMG / screenshot))
    assert errors == []
    context.close()


def chart_text_sizes(page: Page) -> dict[str, tuple[float, float]]:
    """For each chart, the drawn size in pixels of its labels (a row's name, an hour) and of
    its smallest text of any kind (labels, values, legend, badges, notes)."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('svg.chart')].map(svg => {
            const px = text => parseFloat(text.getAttribute('font-size')) * text.getScreenCTM().a;
            const labels = svg.querySelectorAll(
                'g.bar > text[font-weight="600"], g.stack > text[font-weight="600"],'
                + ' g.column > text:not(.value)');
            return [svg.id, [Math.min(...[...labels].map(px)),
                             Math.min(...[...svg.querySelectorAll('text')].map(px))]];
        }))"""
    )


def assert_every_missing_voice_is_on_screen(page: Page, expected: int) -> None:
    """Each missing voice is whole in the window and in its box, which has nothing to scroll."""
    expect(page.locator(".missing-voice")).to_have_count(expected)
    found = page.evaluate(
        """() => {
            const cell = document.querySelector('[data-area="missing"]');
            const box = r => ({top: r.top, bottom: r.bottom, left: r.left, right: r.right});
            return {
                scroll: [cell.scrollHeight, cell.clientHeight, cell.scrollWidth, cell.clientWidth],
                cell: box(cell.getBoundingClientRect()),
                entries: [...cell.querySelectorAll('.missing-voice')].map(
                    e => [e.dataset.slug, box(e.getBoundingClientRect())]),
                window: [window.innerWidth, window.innerHeight],
            };
        }"""
    )
    scroll_height, client_height, scroll_width, client_width = found["scroll"]
    assert scroll_height <= client_height, f"{scroll_height} px of list in {client_height} px"
    assert scroll_width <= client_width
    width, height = found["window"]
    cell = found["cell"]
    for slug, entry in found["entries"]:
        assert entry["top"] >= 0 and entry["bottom"] <= height, (slug, entry, height)
        assert entry["left"] >= 0 and entry["right"] <= width, (slug, entry, width)
        assert cell["top"] <= entry["top"] and entry["bottom"] <= cell["bottom"], (slug, cell)
        assert cell["left"] <= entry["left"] and entry["right"] <= cell["right"], (slug, cell)


def test_big_screen_shows_every_missing_voice_in_larger_type(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., Any],
) -> None:
    """A projector cannot be scrolled: with all eight perspectives missing, big-screen mode
    shows each one whole, and every chart's type is larger than in normal mode, at 1920×1080
    and 1366×768, in English and in Welsh (the longest names)."""
    live = live_kiosk_factory()
    seed_day(live)
    conn = live.db()
    try:  # every perspective is below a target of 50%: eight missing voices
        conn.execute(
            "UPDATE event SET branding = json_set(branding, '$.missing_voices_target', 0.5)"
        )
        conn.commit()
    finally:
        conn.close()
    with live.app.app_context():
        models.create_user(get_db(), NAME, "organiser", PASSWORD)
    context = browser.new_context(**{**browser_context_args,
                                     "viewport": {"width": 1920, "height": 1080}})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, f"{live.url}/studio/dashboard", NAME, PASSWORD)
    normal_size = page.locator("[data-total]").evaluate(FONT_SIZE)
    page.click("#big-screen-toggle")
    page.wait_for_url(f"{live.url}/studio/dashboard?big=1", timeout=TIMEOUT_MS)
    big_size = page.locator("[data-total]").evaluate(FONT_SIZE)
    assert big_size > normal_size * 1.2

    for width, height in ((1920, 1080), (1366, 768)):
        page.set_viewport_size({"width": width, "height": height})
        for lang in ("en", "cy"):
            page.goto(f"{live.url}/studio/dashboard?lang={lang}")
            normal = chart_text_sizes(page)
            page.goto(f"{live.url}/studio/dashboard?big=1&lang={lang}")
            assert "is-big" in (page.locator("body").get_attribute("class") or "")
            big = chart_text_sizes(page)
            assert set(big) == set(normal) == {f"chart-{name}" for name in dashboard.CHARTS}
            for chart_id, (label, smallest) in big.items():
                # Labels larger than on the laptop's dashboard, and no word or number on a
                # chart under 1/72 of the screen's height (normal mode has some at 1/90).
                assert label >= normal[chart_id][0] * 1.2, (width, lang, chart_id, big, normal)
                assert smallest >= height / 72, (width, lang, chart_id, smallest)
            assert_every_missing_voice_is_on_screen(page, expected=8)
            assert page_fits(page)[0] <= height, (width, lang)

    page.click("#big-screen-toggle")
    page.wait_for_url(f"{live.url}/studio/dashboard", timeout=TIMEOUT_MS)
    assert errors == []
    context.close()
