"""Roving mode: an interviewer walks the room with a phone held upright (390×844).

The kiosk is paired as ``roving``: the interviewer's name is asked once and kept on the phone,
sent as ``interviewer`` with every reflection, and the server records the consent as given
aloud to them. Real Chromium with a fake camera, real app; screenshots of the record and
receipt screens go to ``tests/.tmp/screens/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    SCREEN_TIMEOUT_MS,
    rows,
    shoot,
    wait_for_screen,
    wait_until_recorded,
)
from tests.browser.test_kiosk_journey import kiosk_config, outbox, submit, tick, wait_until_sent

pytestmark = [pytest.mark.browser, pytest.mark.media]

KioskTab = Any
SCREENS = Path(__file__).resolve().parents[1] / ".tmp" / "screens"
# A phone held upright (the size of an iPhone 12-15).
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

# A small phone (an iPhone SE's window): the receipt and the consent still fit.
SMALL_PHONE = {**PHONE, "viewport": {"width": 375, "height": 667}}

# Where an element is, whether all of it is on screen, and what a tap at its centre hits.
GEOMETRY = """selector => {
  const node = document.querySelector(selector);
  const box = node.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return {
    top: box.top, bottom: box.bottom, left: box.left, right: box.right,
    width: box.width, height: box.height,
    viewport: [window.innerWidth, window.innerHeight],
    inside: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0
      && box.right <= window.innerWidth && box.bottom <= window.innerHeight,
    on_top: !!hit && (hit === node || node.contains(hit)),
    hit: hit ? hit.outerHTML.slice(0, 120) : null,
  };
}"""


def geometry(page: Page, selector: str) -> dict[str, Any]:
    return page.evaluate(GEOMETRY, selector)


def assert_in_reach(page: Page, selector: str) -> dict[str, Any]:
    """The element is wholly inside the viewport and nothing covers its centre."""
    box = geometry(page, selector)
    assert box["inside"], f"{selector} is not wholly on screen: {box}"
    assert box["on_top"], f"{selector} is covered by {box['hit']}: {box}"
    return box


def reflections(live: Any) -> list[dict[str, Any]]:
    return rows(
        live,
        "SELECT r.receipt_code, r.kind, r.text_body, p.slug AS perspective, c.method,"
        " c.interviewer, c.archive, c.reel, c.online, c.show_name"
        " FROM reflection r JOIN consent c ON c.reflection_id = r.id"
        " JOIN perspective p ON p.id = r.perspective_id ORDER BY r.id",
    )


def set_interviewer(page: Page, typed: str, expected: str) -> None:
    """On the interviewer screen: type a name and press the keyboard's Done (Enter)."""
    wait_for_screen(page, "interviewer")
    name = page.locator("#interviewer-name")
    expect(name).to_be_focused()
    expect(page.locator("label[for=interviewer-name]")).to_have_text("Your name")
    name.fill("")
    expect(page.locator("#interviewer-save")).to_be_disabled()
    name.fill(typed)
    expect(page.locator("#interviewer-save")).to_be_enabled()
    name.press("Enter")
    wait_for_screen(page, "roving")
    expect(page.locator("#roving-title")).to_be_focused()
    expect(page.locator("section[data-screen=roving] [data-bind=interviewer-label]")).to_have_text(
        f"Interviewer: {expected}"
    )
    assert page.evaluate("localStorage.getItem('voxpop-interviewer')") == expected


def to_mode_screen(page: Page, perspective: str, purposes: list[str]) -> None:
    """From the perspective screen, through the question and the consent read aloud."""
    wait_for_screen(page, "perspective")
    expect(page.locator("#perspective-title")).to_have_text("Whose shoes are they in today?")
    shoot(page, path=str(SCREENS / "roving-perspective.png"))
    page.click(f"[data-perspective='{perspective}']")
    wait_for_screen(page, "prompt")
    expect(page.locator("#prompt-title")).to_have_text("The question to ask")
    page.click("section[data-screen=prompt] [data-action=next]")
    wait_for_screen(page, "consent")
    title = page.locator("#consent-title")
    expect(title).to_have_text("Read this aloud, then tick what they agreed to")
    expect(title).to_be_focused()
    expect(page.locator("label[for=first-name]")).to_have_text("Their first name")
    for box in page.locator("input[name=consent]").all():
        expect(box).not_to_be_checked()  # nothing left over from the last person
    for purpose in purposes:
        tick(page, purpose)
    shoot(page, path=str(SCREENS / "roving-consent.png"))
    page.click("#consent-next")
    wait_for_screen(page, "mode")
    expect(page.locator("#mode-title")).to_have_text("How will you record?")
    # Video or audio; typing is only the way out when neither device works.
    expect(page.locator("[data-mode=text]")).to_have_count(0)
    shoot(page, path=str(SCREENS / "roving-mode.png"))


def record(page: Page, mode: str, screenshot: Path | None = None) -> None:
    """Record about two seconds in ``mode`` and stop; checks the buttons are in thumb reach."""
    page.click(f"[data-mode={mode}]")
    wait_for_screen(page, "record")
    expect(page.locator("#record-start")).to_be_enabled(timeout=SCREEN_TIMEOUT_MS)
    start = assert_in_reach(page, "#record-start")
    width, height = start["viewport"]
    assert start["top"] > height / 2, f"Start recording is out of thumb reach: {start}"
    assert start["width"] > width / 2, start
    # The page itself never scrolls on the record screen: everything fits the phone.
    assert page.evaluate("document.scrollingElement.scrollHeight") <= height
    if mode == "video":
        preview = assert_in_reach(page, "#preview")
        assert preview["height"] > 300, preview
        # The whole camera frame, letterboxed: never cropped, never mirrored (back camera).
        style = page.evaluate(
            "() => { const s = getComputedStyle(document.getElementById('preview'));"
            " return [s.objectFit, s.transform]; }"
        )
        assert style == ["contain", "none"], style
    page.click("#record-start")
    expect(page.locator("#record-stop")).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    stop = assert_in_reach(page, "#record-stop")
    assert stop["top"] > height / 2, f"Stop is out of thumb reach: {stop}"
    if mode == "video":
        assert_in_reach(page, "#preview")
    wait_until_recorded(page, 2)
    if screenshot is not None:  # while recording: the preview goes black once it stops
        shoot(page, path=str(screenshot))
    page.click("#record-stop")
    wait_for_screen(page, "review")


def test_an_interviewer_records_two_people_on_a_phone(
    kiosk_page: Callable[..., KioskTab],
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    tab = kiosk_page(kiosk_mode="roving", context=PHONE, max_clip_seconds=30)
    page, live = tab.page, tab.live
    assert kiosk_config(page)["kiosk"]["mode"] == "roving"
    assert page.evaluate("[innerWidth, innerHeight]") == [390, 844]

    # The first time, the phone asks who is interviewing; then the interviewer's home screen.
    expect(page.locator("#interviewer-cancel")).to_be_hidden()  # nothing to go back to
    shoot(page, path=str(SCREENS / "roving-interviewer.png"))
    set_interviewer(page, "  Gwen   Jones ", "Gwen Jones")
    expect(page.locator("section[data-screen=roving] #outbox-status")).to_have_count(1)
    assert_in_reach(page, "#next-interview")
    shoot(page, path=str(SCREENS / "roving-home.png"))
    page.click("#next-interview")

    # First person: video.
    wait_for_screen(page, "perspective")
    expect(
        page.locator("section[data-screen=perspective] [data-bind=interviewer-label]")
    ).to_have_text("Interviewer: Gwen Jones")
    to_mode_screen(page, "volunteer", ["archive", "online"])
    record(page, "video", screenshot=SCREENS / "roving-record.png")
    expect(page.locator("#review-video")).to_be_visible()
    shoot(page, path=str(SCREENS / "roving-review.png"))
    first = submit(page)  # big receipt code and its QR, drawn on the phone
    shoot(page, path=str(SCREENS / "roving-receipt.png"))

    code_box = assert_in_reach(page, "#receipt-code")
    qr_box = assert_in_reach(page, "#receipt-qr")
    font_size = page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('receipt-code')).fontSize)"
    )
    assert font_size >= 44, font_size
    assert code_box["width"] > 390 * 0.6, code_box  # most of the phone's width
    assert qr_box["width"] >= 240 and abs(qr_box["width"] - qr_box["height"]) < 2, qr_box
    expect(page.locator(".roving-note")).to_have_text(
        "Turn the phone round for the interviewee to photograph their code."
    )
    assert_in_reach(page, "#next-person")

    wait_until_sent(page)
    expect(page.locator("#receipt-code")).to_have_text(first)  # the server kept this code
    stored = reflections(live)
    assert len(stored) == 1, stored
    assert stored[0] == {
        "receipt_code": first,
        "kind": "video",
        "text_body": None,
        "perspective": "volunteer",
        "method": "verbal",
        "interviewer": "Gwen Jones",
        "archive": 1,
        "reel": 0,
        "online": 1,
        "show_name": 0,
    }

    # "Next person": straight to the perspectives, the interviewer remembered, nothing of the
    # last person left.
    page.click("#next-person")
    wait_for_screen(page, "perspective")
    expect(page.locator("#receipt-code")).to_have_text("")
    expect(
        page.locator("section[data-screen=perspective] [data-bind=interviewer-label]")
    ).to_have_text("Interviewer: Gwen Jones")
    assert page.evaluate("voxpopKiosk.interviewer()") == "Gwen Jones"

    # Second person: audio, sent while the phone is out of reach of the laptop.
    to_mode_screen(page, "manager", ["archive", "reel"])
    record(page, "audio")
    expect(page.locator("#review-audio")).to_be_visible()
    page.context.set_offline(True)
    second = submit(page)
    page.click("#next-person")
    wait_for_screen(page, "perspective")
    # The same status line as the fixed kiosk, on the screen the interviewer sees.
    expect(page.locator("section[data-screen=perspective] #outbox-status")).to_contain_text(
        "1 reflection waiting to send", timeout=SCREEN_TIMEOUT_MS
    )
    assert outbox(page)["entries"][0]["receipt_code"] == second
    page.context.set_offline(False)
    page.evaluate("voxpopKiosk.flushNow()")
    wait_until_sent(page)
    expect(page.locator("#outbox-waiting")).to_be_hidden()

    stored = reflections(live)
    # Each person their own code, kept by the server (the pool never hands one out twice).
    assert second != first
    assert [r["receipt_code"] for r in stored] == [first, second]
    assert [r["kind"] for r in stored] == ["video", "audio"]
    assert {(r["method"], r["interviewer"]) for r in stored} == {("verbal", "Gwen Jones")}
    assert (stored[1]["perspective"], stored[1]["reel"], stored[1]["online"]) == ("manager", 1, 0)
    assert tab.js_errors == []


def test_the_interviewer_is_remembered_and_idling_keeps_a_typed_note(
    kiosk_page: Callable[..., KioskTab],
) -> None:
    tab = kiosk_page(kiosk_mode="roving", context=SMALL_PHONE, idle_timeout_seconds=5)
    page, live = tab.page, tab.live
    set_interviewer(page, "Rhys", "Rhys")

    # The name stays on the phone: a reload goes straight to the interviewer's home screen.
    page.reload()
    wait_for_screen(page, "roving")
    expect(page.locator("section[data-screen=roving] [data-bind=interviewer-label]")).to_have_text(
        "Interviewer: Rhys"
    )

    # "Change interviewer": the name comes filled in, and Cancel goes back.
    page.click("section[data-screen=roving] [data-action=change-interviewer]")
    wait_for_screen(page, "interviewer")
    expect(page.locator("#interviewer-name")).to_have_value("Rhys")
    page.click("#interviewer-cancel")
    wait_for_screen(page, "roving")
    page.click("section[data-screen=roving] [data-action=change-interviewer]")
    set_interviewer(page, "Rhys Evans", "Rhys Evans")

    # Left idle mid-flow for the event's idle time: back to the interviewer's home screen
    # (not the attract screen), the interviewer still set.
    page.click("#next-interview")
    wait_for_screen(page, "perspective")
    page.click("[data-perspective='service-user']")
    wait_for_screen(page, "prompt")
    wait_for_screen(page, "roving", timeout=SCREEN_TIMEOUT_MS)
    assert page.evaluate("voxpopKiosk.interviewer()") == "Rhys Evans"
    expect(page.locator("#perspective-chip")).to_be_hidden()

    # Neither camera nor microphone works: a typed note instead. On this small phone the
    # consent screen leaves room for the boxes: Back and Next side by side, not stacked (they
    # and the hint took half the height, hiding the required box's tick).
    page.click("#next-interview")
    page.click("[data-perspective='service-user']")
    wait_for_screen(page, "prompt")
    page.click("section[data-screen=prompt] [data-action=next]")
    wait_for_screen(page, "consent")
    back_button = "section[data-screen=consent] [data-action=back]"
    back, forward = assert_in_reach(page, back_button), assert_in_reach(page, "#consent-next")
    assert abs(back["top"] - forward["top"]) < 2, (back, forward)
    assert_in_reach(page, "label.check-required .check-box")
    page.click(back_button)
    wait_for_screen(page, "prompt")
    page.click("section[data-screen=prompt] [data-action=back]")
    to_mode_screen(page, "service-user", ["archive"])
    page.evaluate(
        "() => { navigator.mediaDevices.getUserMedia ="
        " () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); }"
    )
    page.click("[data-mode=video]")
    wait_for_screen(page, "record")
    expect(page.locator("#device-error")).to_be_visible()
    page.click("section[data-screen=record] [data-action=fallback-text]")
    wait_for_screen(page, "text")
    expect(page.locator("#text-title")).to_have_text("Type a note of what they say")
    words = "The bus timetable decides who can come to the day centre."
    page.fill("#reflection-text", words)
    # Longer than the idle time without a tap: a note already typed is never thrown away.
    page.wait_for_timeout(7_000)
    assert page.evaluate("voxpopKiosk.state()") == "text"
    code = submit(page)
    assert_in_reach(page, "#receipt-qr")
    assert_in_reach(page, "#next-person")  # below the receipt, still on the screen
    wait_until_sent(page)

    stored = reflections(live)
    assert len(stored) == 1, stored
    assert (stored[0]["receipt_code"], stored[0]["kind"], stored[0]["text_body"]) == (
        code,
        "text",
        words,
    )
    assert (stored[0]["method"], stored[0]["interviewer"]) == ("verbal", "Rhys Evans")
    assert tab.js_errors == []
