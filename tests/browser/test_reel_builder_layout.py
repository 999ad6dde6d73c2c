"""The reel builder in a real browser (issue 17): a layout that holds from 1024 to 1920 px wide
(no named part of a row sits on another, no text runs onto the buttons or under the "Add
reflections" column), and the preview that plays the sequence before a render: the clips'
trimmed ranges from their delivery MP4s and the cards, in order, for their lengths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import log_in, shoot, wait_until_playing
from tests.browser.test_review_keyboard import seed_text_reflections
from tests.conftest import add_reflection, ffmpeg, give_consent, made_in_place, process
from voxpop import models
from voxpop.db import get_db, transaction
from voxpop.reels import service as reels

pytestmark = [pytest.mark.browser]

NAME, PASSWORD = "Olwen Organiser", "correct horse battery"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TIMEOUT_MS = 15_000
LONG_NAME = "Angharad Llewelyn-Featherstonehaugh-Cholmondeley"
LONG_TEXT = (
    "We spent the morning mapping who holds power over the budget, and it turned out that"
    " nobody in the room had ever seen the commissioning plan written down in plain words."
)

# For every element matching ``row``: the named parts inside it must not overlap one another,
# and every piece of text inside ``.about`` (clipped to what is actually drawn) must stay
# inside it. Returns the problems found, as sentences.
FIND_OVERLAPS = """
([row, parts]) => {
  const problems = [];
  const box = el => el.getBoundingClientRect();
  const hit = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
                     && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const drawn = (node, rect) => {  // a text rect cut to its clipping ancestors
    let r = {left: rect.left, right: rect.right, top: rect.top, bottom: rect.bottom};
    for (let el = node.parentElement; el; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
        const c = box(el);
        r = {left: Math.max(r.left, c.left), right: Math.min(r.right, c.right),
             top: Math.max(r.top, c.top), bottom: Math.min(r.bottom, c.bottom)};
      }
      if (el.matches(row)) break;
    }
    return r;
  };
  document.querySelectorAll(row).forEach((item, index) => {
    const named = parts.map(sel => [sel, item.querySelector(sel)]).filter(([, el]) => el);
    for (let i = 0; i < named.length; i++) {
      for (let j = i + 1; j < named.length; j++) {
        if (hit(box(named[i][1]), box(named[j][1]))) {
          problems.push(`${row} #${index}: ${named[i][0]} overlaps ${named[j][0]}`);
        }
      }
    }
    const about = item.querySelector('.about');
    if (!about) return;
    const limit = box(about);
    const walker = document.createTreeWalker(about, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) {
        const r = drawn(node, rect);
        if (r.right <= r.left || r.bottom <= r.top) continue;  // clipped away entirely
        if (r.left < limit.left - 1 || r.right > limit.right + 1) {
          problems.push(`${row} #${index}: text "${node.textContent.trim().slice(0, 30)}"`
                        + ` runs outside its column (${r.left}-${r.right} vs`
                        + ` ${limit.left}-${limit.right})`);
        }
      }
    }
  });
  return problems;
}
"""


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


def apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] + a["width"] <= b["x"] + 0.5
        or b["x"] + b["width"] <= a["x"] + 0.5
        or a["y"] + a["height"] <= b["y"] + 0.5
        or b["y"] + b["height"] <= a["y"] + 0.5
    )


def test_builder_layout_holds_from_1024_to_1920(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., Any],
) -> None:
    live = live_kiosk_factory()
    ids = seed_text_reflections(live, 10)
    with live.app.app_context():
        db = get_db()
        models.create_user(db, NAME, "organiser", PASSWORD)
        with transaction(db):
            # Long words and long names: what pushed the rows under the other column.
            db.execute("UPDATE reflection SET review_state = 'approved', text_body = ?,"
                       " display_name = ?", (LONG_TEXT, LONG_NAME))  # fmt: skip
            db.execute("UPDATE consent SET show_name = 1")
            db.execute("UPDATE reflection SET starred = 1 WHERE id IN (?, ?, ?, ?, ?, ?)", ids[:6])
        reel_id = reels.create_reel(db, models.current_event(db), "Closing plenary", actor=None)
    url = f"{live.url}/studio/reels/{reel_id}"
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, url, NAME, PASSWORD)
    for width in (1024, 1366, 1920):
        page.set_viewport_size({"width": width, "height": 800})
        page.reload()
        expect(page.locator("#reel-items > li.reel-item")).to_have_count(6)
        expect(page.locator(".candidates > li")).to_have_count(4)
        expect(page.locator("#reel-timeline > li")).to_have_count(9)  # intro, section, 6, outro

        # The page does not scroll sideways, and the two columns stand side by side.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        main, side = box(page, ".reel-main"), box(page, ".reel-side")
        assert apart(main, side) and side["x"] >= main["x"] + main["width"], width
        # Every clip row stays in its own column, every candidate in the other.
        for selector, column in (("#reel-items > li", main), (".candidates > li", side)):
            for row in page.locator(selector).all():
                found = row.bounding_box()
                assert found is not None
                assert found["x"] >= column["x"] - 0.5, (width, selector)
                assert found["x"] + found["width"] <= column["x"] + column["width"] + 0.5, (
                    width,
                    selector,
                )
        # Inside each row: handle, thumbnail, text and each button apart; text in its column.
        problems = page.evaluate(
            FIND_OVERLAPS,
            ["#reel-items > li", [".handle", ".thumb", ".about", ".actions form:nth-child(1)",
                                  ".actions form:nth-child(2)", ".actions form:nth-child(3)"]],
        )  # fmt: skip
        problems += page.evaluate(FIND_OVERLAPS, [".candidates > li", [".thumb", ".about", "form"]])
        assert problems == [], (width, problems)
        # The timeline's items sit side by side in order, none on another.
        pieces = [piece.bounding_box() for piece in page.locator("#reel-timeline > li").all()]
        for before, after in zip(pieces, pieces[1:], strict=False):
            assert before is not None and after is not None
            assert before["x"] + before["width"] <= after["x"] + 0.5, width
    assert errors == []
    context.close()


@pytest.fixture(scope="session")
def six_second_webm(media_dir: Path) -> Path:
    """A 6 s camera-like WebM, long enough to be trimmed."""
    path = media_dir / "clip-6s.webm"
    if not path.exists():
        with made_in_place(path) as partial:
            ffmpeg(
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "6", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                "-c:a", "libopus", str(partial),
            )  # fmt: skip
    return path


def current_index(page: Page) -> int:
    return page.evaluate(
        "() => [...document.querySelectorAll('#reel-timeline > li')]"
        ".findIndex(li => li.classList.contains('is-current'))"
    )


def wait_for_current(page: Page, index: int) -> None:
    page.wait_for_function(
        "i => document.querySelectorAll('#reel-timeline > li')[i].classList.contains('is-current')",
        arg=index,
        timeout=TIMEOUT_MS,
    )


def test_preview_plays_the_sequence_in_order(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., Any],
    webm_clip: Path,
    six_second_webm: Path,
) -> None:
    live = live_kiosk_factory(max_clip_seconds=30)
    app = live.app
    first = add_reflection(app, "video", webm_clip, perspective="volunteer")
    trimmed = add_reflection(app, "video", six_second_webm, perspective="volunteer")
    text = add_reflection(app, "text", text="Short and true.", perspective="volunteer")
    for reflection_id in (first, trimmed, text):
        give_consent(app, reflection_id)
        assert process(app, reflection_id)["status"] == "ready"
    with app.app_context():
        db = get_db()
        models.create_user(db, NAME, "organiser", PASSWORD)
        with transaction(db):
            db.execute("UPDATE reflection SET review_state = 'approved', starred = 1")
            # 2.5–3.5 s is cut at the keyframes around it: the preview plays 2–4 s.
            db.execute("UPDATE reflection SET trim_in = 2.5, trim_out = 3.5 WHERE id = ?",
                       (trimmed,))  # fmt: skip
        event = models.current_event(db)
        reel_id = reels.create_reel(db, event, "Closing plenary", propose=False, actor=None)
        for reflection_id in (first, trimmed, text):
            reels.add_item(db, event, reel_id, reflection_id, actor=None)

    context = browser.new_context(**{**browser_context_args,
                                     "viewport": {"width": 1366, "height": 900}})  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, f"{live.url}/studio/reels/{reel_id}", NAME, PASSWORD)

    # The timeline lists the sequence in order with each piece's length.
    pieces = page.locator("#reel-timeline > li")
    expect(pieces).to_have_count(6)
    listed = pieces.evaluate_all(
        "items => items.map(li => [li.dataset.kind, li.dataset.id || null,"
        " li.querySelector('.piece-seconds').textContent.trim()])"
    )
    assert listed == [
        ["title", None, "0:04"],  # intro
        ["title", None, "0:03"],  # Volunteer
        ["clip", str(first), "0:02"],
        ["clip", str(trimmed), "0:02"],
        ["text", str(text), "0:04"],
        ["title", None, "0:04"],  # thanks
    ]
    # Widths follow the lengths: the 4 s intro is twice the 2 s clip.
    widths = [piece.bounding_box()["width"] for piece in pieces.all()]  # type: ignore[index]
    assert widths[0] / widths[2] == pytest.approx(2.0, rel=0.1)
    assert page.locator("#preview-clock").inner_text() == "0:00 / 0:19"

    # Play: the intro card shows the event; when its 4 s are up the section card follows.
    page.click("#preview-play")
    wait_for_current(page, 0)
    expect(page.locator("#preview-card")).to_be_visible()
    expect(page.locator("#preview-title")).to_have_text("Whose Shoes? Cardiff")
    expect(page.locator("#preview-now")).to_contain_text("1 of 6")
    wait_for_current(page, 1)
    expect(page.locator("#preview-title")).to_contain_text("Volunteer")

    # From the first clip: it plays from the start; the trimmed one follows at its trim in,
    # and the quote card comes when the trim out is reached, not the end of the file.
    page.locator("#reel-timeline > li").nth(2).locator("button").click()
    wait_for_current(page, 2)
    expect(page.locator("#preview-video")).to_be_visible()
    wait_until_playing(page, "#preview-video", past=0.3)
    assert page.evaluate("document.getElementById('preview-video').src").endswith(
        f"/studio/media/{first}/mp4"
    )
    wait_for_current(page, 3)
    page.wait_for_function(
        "src => { const video = document.getElementById('preview-video');"
        " return video.src.endsWith(src) && !video.paused && video.currentTime > 0; }",
        arg=f"/studio/media/{trimmed}/mp4",
        timeout=TIMEOUT_MS,
    )
    started = page.evaluate("document.getElementById('preview-video').currentTime")
    assert 1.9 <= started < 4.0
    wait_for_current(page, 4)
    stopped = page.evaluate("document.getElementById('preview-video').currentTime")
    assert 3.8 <= stopped <= 4.5  # the trim out (4 s), not the file's end (6 s)
    expect(page.locator("#preview-image")).to_be_visible()
    assert page.locator("#preview-image").get_attribute("src") == f"/studio/media/{text}/card"

    # Pause holds the current piece.
    page.click("#preview-play")
    expect(page.locator("#preview-play")).to_have_attribute("aria-pressed", "false")
    assert current_index(page) == 4
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shoot(page, path=str(DOCS_IMG / "reel-builder.png"), full_page=True)

    # A reorder (Alt+↑ on the written reflection) redraws the timeline in the new order.
    page.locator(f'#reel-items > li[data-id="{text}"]').focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#reel-live")).to_contain_text("Moved to position 2 of 3")
    page.wait_for_function(
        "id => document.querySelectorAll('#reel-timeline > li')[3].dataset.id === id",
        arg=str(text),
        timeout=TIMEOUT_MS,
    )
    assert current_index(page) == -1  # a new sequence plays from its start
    assert errors == []
    context.close()
