"""The kiosk's steps laid out on a landscape and an upright tablet, a laptop and a phone, in a
real browser: nothing hidden behind the Back/Next bar, the whole camera frame on screen while
recording (letterboxed, never cropped), and "Start recording" within reach, off the bottom edge.

Every check is on the bounding boxes the browser laid out, clipped by the scrolling areas and
the window the way a person sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREEN_SIZES, shoot, wait_for_screen, wait_until_recorded
from tests.browser.test_kiosk_journey import begin, give_consent, tick

pytestmark = [pytest.mark.browser, pytest.mark.media]

KioskTab = Any  # tests/browser/conftest.py
SCREEN_TIMEOUT_MS = 30_000
# The sizes the issue names (1024×768, 1366×768, 390×844) and an upright tablet.
SIZES = ["tablet-landscape", "tablet-portrait", "laptop", "phone"]
# "Off the bottom edge": at least this far above it.
EDGE_PX = 16

# The part of an element a person can see: its box clipped by every scrolling (or clipping)
# ancestor and by the window; null when none of it shows. Also what a tap at the centre of
# that part would hit.
VISIBLE_BOX = """
window.visibleBox = (node) => {
  let box = node.getBoundingClientRect();
  let [top, left, bottom, right] = [box.top, box.left, box.bottom, box.right];
  for (let up = node.parentElement; up; up = up.parentElement) {
    const style = getComputedStyle(up);
    if (style.overflowX === "visible" && style.overflowY === "visible") continue;
    const clip = up.getBoundingClientRect();
    top = Math.max(top, clip.top); left = Math.max(left, clip.left);
    bottom = Math.min(bottom, clip.bottom); right = Math.min(right, clip.right);
  }
  top = Math.max(top, 0); left = Math.max(left, 0);
  bottom = Math.min(bottom, innerHeight); right = Math.min(right, innerWidth);
  if (bottom - top < 1 || right - left < 1) return null;
  const hit = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
  return {
    top, left, bottom, right,
    whole: top <= box.top + 0.5 && left <= box.left + 0.5
      && bottom >= box.bottom - 0.5 && right >= box.right - 0.5,
    on_top: !!hit && (hit === node || node.contains(hit) || (node.control === hit)),
    hit: hit ? hit.outerHTML.slice(0, 100) : null,
  };
};
"""

BOX = "node => { const b = node.getBoundingClientRect();" \
    " return {top: b.top, left: b.left, bottom: b.bottom, right: b.right}; }"  # fmt: skip


def overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """The area two boxes share (0 when they do not touch)."""
    width = min(a["right"], b["right"]) - max(a["left"], b["left"])
    height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return max(width, 0) * max(height, 0)


def visible(page: Page, selector: str) -> dict[str, Any] | None:
    return page.locator(selector).evaluate("node => visibleBox(node)")


def box(page: Page, selector: str) -> dict[str, float]:
    return page.locator(selector).evaluate(BOX)


def open_at(kiosk_page: Callable[..., KioskTab], size: str) -> Page:
    tab = kiosk_page(context=SCREEN_SIZES[size])
    tab.page.add_init_script(VISIBLE_BOX)
    tab.page.evaluate(f"() => {{ {VISIBLE_BOX} }}")
    return tab.page


# The screen's content nodes that show (Playwright's "visible": a box, and not hidden) and
# overlap its bar, found in one round trip (a check per node cost a screen seconds).
BEHIND_THE_BAR = """
(section) => {
  const bar = section.querySelector(".bar").getBoundingClientRect();
  const found = [];
  for (const node of section.querySelectorAll(
      ".screen-body :is(h2, p, label, input, textarea, button)")) {
    const rects = node.getClientRects();
    if (!rects.length || getComputedStyle(node).visibility === "hidden") continue;
    const seen = visibleBox(node);
    if (!seen) continue;
    const width = Math.min(seen.right, bar.right) - Math.max(seen.left, bar.left);
    const height = Math.min(seen.bottom, bar.bottom) - Math.max(seen.top, bar.top);
    if (width > 0 && height > 0) {
      found.push({node: node.outerHTML.slice(0, 80), seen, bar: bar.toJSON()});
    }
  }
  return found;
}
"""


def assert_nothing_behind_the_bar(page: Page, screen: str) -> None:
    """No part of the screen's content that shows is under its bar (the hint, Back/Next)."""
    behind = page.locator(f"section[data-screen={screen}]").evaluate(BEHIND_THE_BAR)
    assert behind == [], behind


@pytest.mark.parametrize("size", SIZES)
def test_the_consent_screen_hides_nothing_behind_its_bar(
    kiosk_page: Callable[..., KioskTab], size: str, screenshot_dir: Path
) -> None:
    page = open_at(kiosk_page, size)
    begin(page, "volunteer")
    shoot(page, path=str(screenshot_dir / f"kiosk-consent-{size}.png"))

    # The hint that says why Next is greyed out shows whole, beside Back/Next, not under them.
    hint = visible(page, "#consent-hint")
    assert hint is not None and hint["whole"] and hint["on_top"], hint
    for button in ("section[data-screen=consent] [data-action=back]", "#consent-next"):
        assert overlap(hint, box(page, button)) == 0, (hint, button)
        assert visible(page, button)["whole"], button  # type: ignore[index]
    assert_nothing_behind_the_bar(page, "consent")

    # Every option (the fourth is the one a phone's bar used to cover) comes wholly into view
    # above the bar when reached, and a tap on it ticks it.
    options = page.locator("section[data-screen=consent] label.check")
    assert options.count() >= 4
    bar = box(page, "section[data-screen=consent] .bar")
    for index in range(options.count()):
        option = options.nth(index)
        option.scroll_into_view_if_needed()
        seen = option.evaluate("node => visibleBox(node)")
        assert seen is not None and seen["whole"] and seen["on_top"], (index, seen)
        assert overlap(seen, bar) == 0, (index, seen, bar)
        assert_nothing_behind_the_bar(page, "consent")
    fourth = options.nth(3)
    fourth.click()
    expect(fourth.locator("input")).to_be_checked()

    # Once the required box is ticked the hint goes; the bar is only Back/Next.
    tick(page, "archive")
    expect(page.locator("#consent-hint")).to_be_hidden()
    expect(page.locator("#consent-next")).to_be_enabled()
    assert visible(page, "#consent-next")["whole"]  # type: ignore[index]


def rendered_frame(page: Page) -> dict[str, Any]:
    """Where the camera's picture is drawn inside the preview element, from its object-fit."""
    return page.evaluate(
        """() => {
      const video = document.getElementById("preview");
      const box = video.getBoundingClientRect();
      const style = getComputedStyle(video);
      const border = (side) => parseFloat(style[`border${side}Width`]) || 0;
      const inner = {
        left: box.left + border("Left"), top: box.top + border("Top"),
        width: box.width - border("Left") - border("Right"),
        height: box.height - border("Top") - border("Bottom"),
      };
      const [w, h] = [video.videoWidth, video.videoHeight];
      let [sx, sy] = [inner.width / w, inner.height / h];
      if (style.objectFit === "contain") sx = sy = Math.min(sx, sy);
      else if (style.objectFit === "cover") sx = sy = Math.max(sx, sy);
      else if (style.objectFit === "none") sx = sy = 1;
      else if (style.objectFit === "scale-down") sx = sy = Math.min(1, sx, sy);
      const [fw, fh] = [w * sx, h * sy];
      const frame = {
        left: inner.left + (inner.width - fw) / 2, top: inner.top + (inner.height - fh) / 2,
      };
      frame.right = frame.left + fw; frame.bottom = frame.top + fh;
      return {frame, inner, video: [w, h], fit: style.objectFit,
              seen: visibleBox(video)};
    }"""
    )


def assert_whole_frame_shows(page: Page) -> dict[str, Any]:
    """The whole camera frame is drawn, undistorted, inside what shows of the preview."""
    drawn = rendered_frame(page)
    frame, seen = drawn["frame"], drawn["seen"]
    width, height = drawn["video"]
    assert width > 0 and height > 0, drawn
    assert seen is not None, drawn
    for side in ("left", "top"):
        assert frame[side] >= seen[side] - 0.5, f"the frame is cropped at the {side}: {drawn}"
    for side in ("right", "bottom"):
        assert frame[side] <= seen[side] + 0.5, f"the frame is cropped at the {side}: {drawn}"
    drawn_ratio = (frame["right"] - frame["left"]) / (frame["bottom"] - frame["top"])
    assert abs(drawn_ratio - width / height) < 0.01, f"the frame is stretched: {drawn}"
    # And it is a real picture, not a postage stamp.
    assert frame["right"] - frame["left"] >= 0.5 * min(drawn["inner"]["width"], 300), drawn
    return drawn


def assert_in_reach(page: Page, selector: str, size: str, thumb: bool = True) -> dict[str, Any]:
    """Wholly on screen without scrolling, off the bottom edge, and (phone) in thumb reach."""
    assert page.evaluate("document.scrollingElement.scrollTop") == 0
    seen = visible(page, selector)
    assert seen is not None and seen["whole"] and seen["on_top"], (selector, seen)
    height = SCREEN_SIZES[size]["viewport"]["height"]
    assert seen["bottom"] <= height - EDGE_PX, f"{selector} sits on the bottom edge: {seen}"
    if thumb and size == "phone":
        assert seen["top"] >= height / 2, f"{selector} is out of thumb reach: {seen}"
    return seen


# Words (with the punctuation that sticks to them) wider than their tile's text box, measured
# in the tile's own font: such a word is broken mid-word.
WORDS_TOO_WIDE = r"""() => {
  const context = document.createElement("canvas").getContext("2d");
  const found = [];
  for (const tile of document.querySelectorAll("section[data-screen=perspective] .tile")) {
    const style = getComputedStyle(tile);
    context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = tile.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    for (const word of tile.textContent.trim().split(/\s+/)) {
      const width = context.measureText(word).width;
      if (width > room) found.push({word, width, room});
    }
  }
  return found;
}"""


@pytest.mark.parametrize("size", SIZES)
def test_the_perspective_tiles_keep_welsh_words_whole(
    kiosk_page: Callable[..., KioskTab], size: str, screenshot_dir: Path
) -> None:
    """On a phone "Gwirfoddolwr", "gwasanaethau" and "Comisiynydd" broke mid-word."""
    page = open_at(kiosk_page, size)
    page.click("a.lang-link[lang=cy]")
    page.wait_for_load_state()
    page.click("[data-action=start]")
    wait_for_screen(page, "perspective")
    expect(page.locator(".tile").first).to_contain_text("Aelod")
    shoot(page, path=str(screenshot_dir / f"kiosk-perspectives-cy-{size}.png"))
    assert page.evaluate(WORDS_TOO_WIDE) == []


@pytest.mark.parametrize("size", [*SIZES, "ipad-landscape"])
def test_the_question_screen_keeps_back_and_next_in_reach_in_welsh(
    kiosk_page: Callable[..., KioskTab], size: str, screenshot_dir: Path
) -> None:
    """Three questions in Welsh (the longer language) pushed Back/Next below a laptop's and an
    iPad's screen; the questions now scroll above the bar."""
    page = open_at(kiosk_page, size)
    page.click("a.lang-link[lang=cy]")
    page.wait_for_load_state()
    page.click("[data-action=start]")
    wait_for_screen(page, "perspective")
    page.click("[data-perspective='volunteer']")
    wait_for_screen(page, "prompt")
    expect(page.locator("[data-prompt-id]")).to_have_count(3)
    assert_nothing_behind_the_bar(page, "prompt")
    shoot(page, path=str(screenshot_dir / f"kiosk-prompt-cy-{size}.png"))
    for action in ("back", "next"):
        assert_in_reach(page, f"section[data-screen=prompt] [data-action={action}]", size)
    last = page.locator("[data-prompt-id]").last
    last.scroll_into_view_if_needed()
    seen = last.evaluate("node => visibleBox(node)")
    assert seen is not None and seen["whole"] and seen["on_top"], seen
    last.click()
    expect(last).to_have_attribute("aria-pressed", "true")
    page.click("section[data-screen=prompt] [data-action=next]")
    wait_for_screen(page, "consent")


@pytest.mark.parametrize("size", [*SIZES, "ipad-landscape"])
def test_the_record_screen_shows_the_whole_frame_and_start_in_reach(
    kiosk_page: Callable[..., KioskTab], size: str, screenshot_dir: Path
) -> None:
    page = open_at(kiosk_page, size)
    begin(page, "volunteer")
    give_consent(page, ["archive"])
    shoot(page, path=str(screenshot_dir / f"kiosk-mode-{size}.png"))
    page.click("[data-mode=video]")
    wait_for_screen(page, "record")
    expect(page.locator("#record-start")).to_be_enabled(timeout=SCREEN_TIMEOUT_MS)
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")

    assert_whole_frame_shows(page)
    assert_in_reach(page, "#record-start", size)
    assert_in_reach(page, "#record-back", size)
    assert overlap(box(page, "#record-start"), box(page, "#stage")) == 0

    page.click("#record-start")
    expect(page.locator("#rec-indicator")).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    wait_until_recorded(page, 1)
    # While recording: still the whole frame, and Stop where Start was.
    drawn = assert_whole_frame_shows(page)
    assert drawn["fit"] == "contain", drawn
    assert_in_reach(page, "#record-stop", size)
    rec = visible(page, "#rec-indicator")
    assert rec is not None and rec["whole"], rec
    shoot(page, path=str(screenshot_dir / f"kiosk-recording-{size}.png"))
    page.click("#record-stop")
    wait_for_screen(page, "review")
    # Playing it back: Retake and Submit stay on screen however tall the video is (on an
    # iPad on its side they used to end below the screen's edge).
    page.wait_for_function("() => document.getElementById('review-video').videoWidth > 0")
    assert_nothing_behind_the_bar(page, "review")
    assert_in_reach(page, "section[data-screen=review] [data-action=retake]", size)
    assert_in_reach(page, "#review-submit", size)
    video = visible(page, "#review-video")
    assert video is not None and video["bottom"] - video["top"] >= 150, video
    shoot(page, path=str(screenshot_dir / f"kiosk-review-{size}.png"))


@pytest.mark.parametrize("size", SIZES)
def test_the_text_screen_hides_nothing_behind_its_bar(
    kiosk_page: Callable[..., KioskTab], size: str, screenshot_dir: Path
) -> None:
    page = open_at(kiosk_page, size)
    begin(page, "volunteer")
    give_consent(page, ["archive"])
    page.click("[data-mode=text]")
    wait_for_screen(page, "text")
    page.fill("#reflection-text", "A long day, and a good one. " * 20)
    assert_nothing_behind_the_bar(page, "text")
    counter = page.locator("#text-counter")
    counter.scroll_into_view_if_needed()
    seen = visible(page, "#text-counter")
    assert seen is not None and seen["whole"], seen
    assert overlap(seen, box(page, "section[data-screen=text] .bar")) == 0
    submit = visible(page, "#text-submit")
    assert submit is not None and submit["whole"] and submit["on_top"], submit
    shoot(page, path=str(screenshot_dir / f"kiosk-text-{size}.png"))

    # The thank-you screen: the receipt code, its QR code and "Done" all on screen at once.
    page.click("#text-submit")
    wait_for_screen(page, "thanks")
    page.wait_for_function(
        "() => { const img = document.getElementById('receipt-qr');"
        " return !img.hidden && img.complete && img.naturalWidth > 0; }"
    )
    shoot(page, path=str(screenshot_dir / f"kiosk-thanks-{size}.png"))
    assert_in_reach(page, "#receipt-code", size, thumb=False)
    assert_in_reach(page, "#receipt-qr", size, thumb=False)
    assert_in_reach(page, "section[data-screen=thanks] [data-action=done]", size)
