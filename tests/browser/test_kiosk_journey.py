"""A delegate's whole journey through the kiosk page, in a real browser, against the real app.

Each journey ends by looking at what the app stored: the database rows the kiosk created and,
for recordings, the original file as ffprobe sees it.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREEN_TIMEOUT_MS, shoot, wait_for_screen, wait_until_recorded
from voxpop import models

pytestmark = [pytest.mark.browser, pytest.mark.media]

# A kiosk tab from the ``kiosk_page`` fixture (tests/browser/conftest.py): .page, .live, .js_errors
KioskTab = Any

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
# The backend's receipt alphabet: A-Z and 2-9 without I, L, O (nor 0 and 1).
RECEIPT_CODE = re.compile(r"^[A-HJKMNP-Z2-9]{3}-[A-HJKMNP-Z2-9]{3}$")


# -- driving the page -------------------------------------------------------------------------


def kiosk_config(page: Page) -> dict[str, Any]:
    """The configuration the server embedded in the page."""
    return json.loads(page.text_content("#kiosk-config") or "{}")


def tick(page: Page, purpose: str) -> None:
    """Tap a consent row, as a delegate would (the box is drawn over the real checkbox)."""
    page.locator("label.check", has=page.locator(f"input[value='{purpose}']")).click()


def begin(page: Page, perspective: str, prompt_id: int | None = None) -> None:
    """From the attract screen to the consent screen."""
    page.click("[data-action=start]")
    wait_for_screen(page, "perspective")
    page.click(f"[data-perspective='{perspective}']")
    wait_for_screen(page, "prompt")
    if prompt_id is not None:
        page.click(f"[data-prompt-id='{prompt_id}']")
        expect(page.locator(f"[data-prompt-id='{prompt_id}']")).to_have_attribute(
            "aria-pressed", "true"
        )
    page.click("section[data-screen=prompt] [data-action=next]")
    wait_for_screen(page, "consent")


def give_consent(page: Page, purposes: list[str], first_name: str | None = None) -> None:
    """Tick ``purposes`` (and type a first name) on the consent screen, then go on."""
    for purpose in purposes:
        tick(page, purpose)
        expect(page.locator(f"input[name=consent][value='{purpose}']")).to_be_checked()
    if first_name is not None:
        expect(page.locator("#first-name")).to_be_visible()
        page.fill("#first-name", first_name)
    page.click("#consent-next")
    wait_for_screen(page, "mode")


# How many times the level bar's style changes in a second.
METER_WRITES_IN_A_SECOND = """() => new Promise(resolve => {
  let writes = 0;
  const watch = new MutationObserver(records => { writes += records.length; });
  watch.observe(document.getElementById("level-meter"), {attributes: true});
  setTimeout(() => { watch.disconnect(); resolve(writes); }, 1000);
})"""


def start_recording(page: Page, mode: str) -> None:
    """Choose video or audio, wait for the devices, and start recording (after 3-2-1)."""
    page.click(f"[data-mode={mode}]")
    wait_for_screen(page, "record")
    expect(page.locator("#record-start")).to_be_enabled(timeout=SCREEN_TIMEOUT_MS)
    # The level meter follows the (fake) microphone: a steady tone gives a bar.
    page.wait_for_function(
        "() => parseFloat(document.getElementById('level-meter').style.width) > 0",
        timeout=SCREEN_TIMEOUT_MS,
    )
    # ...and is redrawn only when it moves: a steady tone is not sixty repaints a second.
    assert page.evaluate(METER_WRITES_IN_A_SECOND) < 10
    page.click("#record-start")
    expect(page.locator("#countdown")).to_be_visible()
    expect(page.locator("#rec-indicator")).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    expect(page.locator("#record-stop")).to_be_visible()


def submit(page: Page) -> str:
    """Submit from the review or text screen; return the receipt code shown at once."""
    page.click(f"section[data-screen={page.evaluate('voxpopKiosk.state()')}] [data-action=submit]")
    wait_for_screen(page, "thanks")
    code = (page.text_content("#receipt-code") or "").strip()
    assert RECEIPT_CODE.match(code), code
    # The QR code is drawn in the page (it works offline), with its alt text.
    qr = page.locator("#receipt-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    expect(qr).to_have_attribute("alt", "QR code for your receipt")
    page.wait_for_function(
        "() => { const img = document.getElementById('receipt-qr');"
        " return img.complete && img.naturalWidth > 0; }",
        timeout=SCREEN_TIMEOUT_MS,
    )
    return code


def outbox(page: Page) -> dict[str, Any]:
    """What the kiosk holds: {waiting, refused, entries: [{client_id, state, ...}]}."""
    return page.evaluate("voxpopKiosk.outbox()")


def wait_for_outbox(
    page: Page, check: Callable[[dict[str, Any]], bool], timeout: int = SCREEN_TIMEOUT_MS * 2
) -> dict[str, Any]:
    """Poll the kiosk's outbox until ``check(summary)`` holds; return that summary."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        summary = outbox(page)
        if check(summary):
            return summary
        assert time.monotonic() < deadline, f"the outbox never got there: {summary}"
        page.wait_for_timeout(250)


def wait_until_sent(page: Page, timeout: int = SCREEN_TIMEOUT_MS * 2) -> None:
    """Wait until the kiosk's outbox is empty: the server confirmed every reflection."""
    wait_for_outbox(page, lambda summary: not summary["entries"], timeout)


def submit_and_get_receipt(page: Page) -> str:
    """Submit, return the receipt code the kiosk shows, and wait until the server has it."""
    code = submit(page)
    wait_until_sent(page)
    # Confirmed by the server: the code on screen is the one it stored.
    expect(page.locator("#receipt-code")).to_have_text(code)
    expect(page.locator("#thanks-saved")).to_have_text("", timeout=SCREEN_TIMEOUT_MS)
    return code


def finish(page: Page) -> None:
    """Press Done and check the kiosk is back to a blank attract screen."""
    page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    expect(page.locator("#receipt-code")).to_have_text("")
    assert page.evaluate("document.getElementById('review-video').getAttribute('src')") is None
    assert page.evaluate("document.getElementById('review-audio').getAttribute('src')") is None
    for box in page.locator("input[name=consent]").all():
        expect(box).not_to_be_checked()


# -- looking at what was stored ---------------------------------------------------------------


def stored_reflection(live: Any, code: str) -> dict[str, Any]:
    """The reflection row with this receipt code, with its consent and perspective."""
    db = live.db()
    try:
        row = db.execute(
            "SELECT r.*, p.slug AS perspective_slug, c.archive, c.reel, c.room, c.online,"
            " c.show_name, c.consent_sha256"
            " FROM reflection r JOIN perspective p ON p.id = r.perspective_id"
            " JOIN consent c ON c.reflection_id = r.id WHERE r.receipt_code = ?",
            (code,),
        ).fetchone()
        count = db.execute("SELECT COUNT(*) FROM reflection").fetchone()[0]
    finally:
        db.close()
    assert row is not None, f"no reflection with receipt code {code}"
    assert count == 1, "a retry or double tap stored the reflection twice"
    return dict(row)


def ffprobe_streams(path: Path) -> list[dict[str, Any]]:
    """The streams ffprobe finds in a file."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout)["streams"]


def recorded_seconds(path: Path, stream: str) -> float:
    """How long a stream runs, from its packets (MediaRecorder's WebM has no duration header)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time",
         "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    times = [float(value) for value in result.stdout.split() if value not in ("", "N/A")]
    assert times, f"no {stream} packets in {path.name}"
    return max(times) - min(times)


# -- the journeys -----------------------------------------------------------------------------


def test_video_journey_stops_at_the_maximum_length(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(max_clip_seconds=5)
    page, live = tab.page, tab.live
    prompts = kiosk_config(page)["prompts"]
    assert len(prompts) > 1, "the demo event should offer several prompts"
    chosen_prompt = prompts[1]["id"]

    page.click("[data-action=start]")
    wait_for_screen(page, "perspective")
    expect(page.locator("[data-perspective]")).to_have_count(8)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shoot(page, path=str(DOCS_IMG / "kiosk-perspectives.png"))
    page.click("section[data-screen=perspective] [data-action=back]")
    wait_for_screen(page, "attract")

    begin(page, "volunteer", prompt_id=chosen_prompt)
    give_consent(page, ["archive", "reel", "name"], first_name="  Aled ")
    start_recording(page, "video")
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#rec-timer")).to_contain_text("/ 00:05")
    # Screenshot while recording: the preview goes black once the camera stops.
    wait_until_recorded(page, 2)
    shoot(page, path=str(DOCS_IMG / "kiosk-recording.png"))

    # Nobody presses Stop: the kiosk stops by itself at the event's maximum length.
    wait_for_screen(page, "review", timeout=SCREEN_TIMEOUT_MS + 5_000)
    expect(page.locator("#review-video")).to_be_visible()
    expect(page.locator("#review-video")).to_have_attribute("src", re.compile(r"^blob:"))
    assert page.evaluate("document.getElementById('preview').srcObject") is None
    code = submit_and_get_receipt(page)
    finish(page)

    row = stored_reflection(live, code)
    assert row["kind"] == "video"
    assert row["perspective_slug"] == "volunteer"
    assert row["prompt_id"] == chosen_prompt
    assert (row["archive"], row["reel"], row["online"], row["show_name"]) == (1, 1, 0, 1)
    assert row["room"] == 0  # not ticked: never on the live wall
    assert row["consent_sha256"] == kiosk_config(page)["consent"]["version"]
    assert row["display_name"] == "Aled"
    assert row["lang"] == "en"
    assert row["original_container"] == "webm"
    capture = json.loads(row["capture"])  # sent with tus, by the recorder the kiosk chose
    assert capture["via"] == "tus" and capture["recorder_mime"].startswith("video/webm"), capture
    assert 4_500 <= row["client_duration_ms"] <= 8_000

    original = live.uploads / row["original_path"]
    streams = ffprobe_streams(original)
    video = [s for s in streams if s["codec_type"] == "video"]
    assert video and video[0]["width"] > 0 and video[0]["height"] > 0, streams
    assert any(s["codec_type"] == "audio" for s in streams), streams
    seconds = recorded_seconds(original, "v:0")
    assert abs(seconds - row["client_duration_ms"] / 1000) < 1.0, seconds
    assert tab.js_errors == []


def test_audio_journey_stopped_early(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(max_clip_seconds=30)
    page, live = tab.page, tab.live

    begin(page, "front-line-staff")
    give_consent(page, ["archive", "reel"])
    start_recording(page, "audio")
    expect(page.locator("#audio-visual")).to_be_visible()
    expect(page.locator("#preview")).to_be_hidden()
    wait_until_recorded(page, 2)
    page.click("#record-stop")

    wait_for_screen(page, "review")
    expect(page.locator("#review-audio")).to_be_visible()
    expect(page.locator("#review-video")).to_be_hidden()
    code = submit_and_get_receipt(page)
    finish(page)

    row = stored_reflection(live, code)
    assert row["kind"] == "audio"
    assert row["perspective_slug"] == "front-line-staff"
    assert row["prompt_id"] == kiosk_config(page)["prompts"][0]["id"]
    assert (row["archive"], row["reel"], row["online"], row["show_name"]) == (1, 1, 0, 0)
    assert row["display_name"] is None
    assert 1_500 <= row["client_duration_ms"] < 30_000

    original = live.uploads / row["original_path"]
    kinds = [s["codec_type"] for s in ffprobe_streams(original)]
    assert kinds == ["audio"], kinds
    seconds = recorded_seconds(original, "a:0")
    assert abs(seconds - row["client_duration_ms"] / 1000) < 1.0, seconds
    assert tab.js_errors == []


def test_text_journey(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page()
    page, live = tab.page, tab.live
    words = "Listening to a carer's morning changed how I plan visits."

    begin(page, "service-user")
    # The room (the live wall) is a choice of its own, asked in the kiosk's language.
    expect(page.locator("input[name=consent][value=room]")).to_have_count(1)
    give_consent(page, ["archive", "room", "online", "name"], first_name="Siân")
    page.click("[data-mode=text]")
    wait_for_screen(page, "text")
    expect(page.locator("#reflection-text")).to_have_attribute("maxlength", "1000")
    expect(page.locator("#text-counter")).to_have_text("0 of 1000 characters")
    expect(page.locator("#text-submit")).to_be_disabled()
    page.fill("#reflection-text", "   ")
    expect(page.locator("#text-submit")).to_be_disabled()
    page.fill("#reflection-text", words)
    expect(page.locator("#text-counter")).to_have_text(f"{len(words)} of 1000 characters")
    expect(page.locator("#text-submit")).to_be_enabled()
    code = submit_and_get_receipt(page)
    finish(page)
    expect(page.locator("#reflection-text")).to_have_value("")

    row = stored_reflection(live, code)
    assert row["kind"] == "text"
    assert row["perspective_slug"] == "service-user"
    assert row["text_body"] == words
    assert row["original_path"] is None
    assert (row["archive"], row["reel"], row["online"], row["show_name"]) == (1, 0, 1, 1)
    assert row["room"] == 1
    assert row["display_name"] == "Siân"
    assert tab.js_errors == []


def test_consent_needs_the_archive_purpose_and_a_name_to_show(
    kiosk_page: Callable[..., KioskTab],
) -> None:
    tab = kiosk_page()
    page = tab.page
    begin(page, "manager")
    next_button, hint = page.locator("#consent-next"), page.locator("#consent-hint")
    name, name_hint = page.locator("#first-name"), page.locator("#first-name-hint")

    for box in page.locator("input[name=consent]").all():
        expect(box).not_to_be_checked()
    expect(next_button).to_be_disabled()
    expect(hint).to_be_visible()
    expect(page.locator("#first-name")).to_be_hidden()

    tick(page, "reel")
    tick(page, "online")
    tick(page, "name")
    expect(page.locator("#first-name")).to_be_visible()
    expect(page.locator("#first-name")).to_have_attribute("maxlength", "40")
    expect(next_button).to_be_disabled()
    next_button.click(force=True)  # a tap on the disabled button goes nowhere
    assert page.evaluate("voxpopKiosk.state()") == "consent"

    tick(page, "archive")
    expect(hint).to_be_hidden()
    # "Show my first name" with no name: the server would refuse the reflection after it was
    # recorded, so Next waits for a name (spaces are not one) or for the box to be unticked.
    expect(name_hint).to_be_visible()
    expect(name_hint).to_contain_text("Write your first name, or untick the box above.")
    expect(next_button).to_be_disabled()
    steps: list[tuple[str, Callable[[], None], bool]] = [  # what is done; may Next be pressed?
        ("spaces are not a name", lambda: name.fill("   "), False),
        ("a name", lambda: name.fill("Gwen"), True),
        ("the name rubbed out", lambda: name.fill(""), False),
        ("the box unticked", lambda: tick(page, "name"), True),
        ("the box ticked again, empty", lambda: tick(page, "name"), False),
        ("a name again", lambda: name.fill("Gwen"), True),
    ]
    for what, step, allowed in steps:
        step()
        expect(next_button).to_be_enabled() if allowed else expect(next_button).to_be_disabled()
        expect(name_hint).to_be_hidden() if allowed else expect(name_hint).to_be_visible()
        assert next_button.is_enabled() == allowed, what

    tick(page, "archive")
    expect(next_button).to_be_disabled()
    expect(hint).to_be_visible()
    assert tab.js_errors == []


def test_an_idle_kiosk_warns_before_it_starts_again(kiosk_page: Callable[..., KioskTab]) -> None:
    """The last third of the idle time (at most 15 s) shows "Still there?" with a countdown; a
    tap carries on where the delegate was. (It used to go back to the start without notice.)"""
    tab = kiosk_page(idle_timeout_seconds=6)
    page = tab.page
    begin(page, "volunteer")
    tick(page, "archive")
    warning = page.locator("#idle-warning")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    assert page.evaluate("voxpopKiosk.state()") == "consent"
    expect(page.locator("#idle-warning-text")).to_contain_text("This screen will start again in")
    expect(page.locator("#idle-warning-stay")).to_be_focused()
    page.click("#idle-warning-stay")
    expect(warning).to_be_hidden()
    assert page.evaluate("voxpopKiosk.state()") == "consent"
    expect(page.locator("input[name=consent][value='archive']")).to_be_checked()
    # Left alone again, it warns again and then starts again, the warning gone with it.
    expect(warning).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    wait_for_screen(page, "attract", timeout=SCREEN_TIMEOUT_MS)
    expect(warning).to_be_hidden()
    assert tab.js_errors == []


def test_idle_timeout_forgets_the_delegate(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(idle_timeout_seconds=5, max_clip_seconds=8)
    page, live = tab.page, tab.live

    # Someone writes a few words and walks away.
    begin(page, "volunteer")
    give_consent(page, ["archive", "reel", "name"], first_name="Gwen")
    page.click("[data-mode=text]")
    wait_for_screen(page, "text")
    page.fill("#reflection-text", "Something I would rather not leave lying around")
    wait_for_screen(page, "attract", timeout=SCREEN_TIMEOUT_MS)

    expect(page.locator("#reflection-text")).to_have_value("")
    expect(page.locator("#first-name")).to_have_value("")
    expect(page.locator("#first-name")).to_be_hidden()
    for box in page.locator("input[name=consent]").all():
        expect(box).not_to_be_checked()
    expect(page.locator("#perspective-chip")).to_be_hidden()

    # The next delegate starts afresh, and a recording longer than the idle timeout is not
    # cut short by it (3 s countdown + 8 s recording > 5 s idle).
    begin(page, "manager")
    expect(page.locator("#consent-next")).to_be_disabled()
    give_consent(page, ["archive"])
    start_recording(page, "video")
    wait_for_screen(page, "review", timeout=SCREEN_TIMEOUT_MS + 5_000)

    # Left on the review screen (never submitted), the screen is cleared and the camera let
    # go, but the take itself is never thrown away by a timer: it is sent marked "recovered"
    # for a facilitator to check (tests/browser/test_kiosk_outbox.py). The unsent words above
    # were never a recording and are gone.
    wait_for_screen(page, "attract", timeout=SCREEN_TIMEOUT_MS)
    assert page.evaluate("document.getElementById('review-video').getAttribute('src')") is None
    assert page.evaluate("document.getElementById('preview').srcObject") is None
    deadline = time.monotonic() + 2 * SCREEN_TIMEOUT_MS / 1000
    while True:
        db = live.db()
        try:
            kinds = [row[0] for row in db.execute("SELECT kind FROM reflection")]
        finally:
            db.close()
        if kinds:
            break
        assert time.monotonic() < deadline, "the take left on the review screen never arrived"
        page.wait_for_timeout(250)
    assert kinds == ["video"]
    assert tab.js_errors == []


# -- when sending goes wrong ------------------------------------------------------------------
# The delegate never waits for the network: the reflection goes to the kiosk's outbox
# (IndexedDB) and the thank-you screen shows its receipt code at once. The outbox keeps
# trying in the background (tests/browser/test_kiosk_outbox.py covers offline and media).


def write_reflection(page: Page, words: str) -> None:
    """From the attract screen to a filled-in text screen."""
    begin(page, "organiser")
    give_consent(page, ["archive"])
    page.click("[data-mode=text]")
    wait_for_screen(page, "text")
    page.fill("#reflection-text", words)


def form_field(body: str, name: str) -> str:
    """One field of a multipart body the kiosk sent."""
    match = re.search(rf'name="{name}"\r\n\r\n([^\r]*)\r\n', body)
    assert match, body[:500]
    return match.group(1)


def test_sending_retries_with_the_same_client_id(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page()
    page, live = tab.page, tab.live
    posts: list[str] = []
    failures = iter(["network", "busy"])

    def flaky_network(route: Any) -> None:
        posts.append(route.request.post_data or "")
        failure = next(failures, None)
        if failure == "network":
            route.abort("connectionreset")
        elif failure == "busy":
            route.fulfill(status=503, json={"error": "Busy"})
        else:
            route.continue_()

    page.route("**/kiosk/api/reflections", flaky_network)
    write_reflection(page, "Worth sending twice")
    code = submit(page)  # at once, although the first two tries fail
    wait_until_sent(page)

    assert len(posts) == 3
    ids = [form_field(body, "client_id") for body in posts]
    assert len(set(ids)) == 1, ids
    assert {form_field(body, "receipt_code") for body in posts} == {code}
    row = stored_reflection(live, code)
    assert row["client_id"] == ids[0]
    assert row["text_body"] == "Worth sending twice"
    assert tab.js_errors == []


def test_a_refused_reflection_is_kept_and_reported(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page()
    page, live = tab.page, tab.live
    posts: list[str] = []

    def refuse(route: Any) -> None:
        posts.append(route.request.post_data or "")
        route.fulfill(status=422, json={"error": "Please keep it shorter."})

    page.route("**/kiosk/api/reflections", refuse)
    write_reflection(page, "Too long, says the server")
    code = submit(page)
    # Refused for good: no promise that it will be sent by itself.
    expect(page.locator("#thanks-saved")).to_have_text(
        "Your reflection is kept on this kiosk, but it could not be sent."
        " Please tell an organiser.",
        timeout=SCREEN_TIMEOUT_MS,
    )
    page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    status = page.locator("#outbox-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_contain_text(
        "1 reflection could not be sent. It is kept on this kiosk: please tell an organiser.",
        timeout=SCREEN_TIMEOUT_MS,
    )
    held = outbox(page)
    assert (held["waiting"], held["refused"]) == (0, 1)
    assert held["entries"][0]["receipt_code"] == code
    assert held["entries"][0]["last_error"] == "Please keep it shorter."

    page.evaluate("voxpopKiosk.flushNow()")  # a refusal is not retried by itself
    assert len(posts) == 1, "a permanent 4xx answer must not be retried"
    db = live.db()
    try:
        assert db.execute("SELECT COUNT(*) FROM reflection").fetchone()[0] == 0
    finally:
        db.close()
    assert tab.js_errors == []


def test_a_kiosk_that_lost_its_pairing_keeps_the_reflection(
    kiosk_page: Callable[..., KioskTab],
) -> None:
    tab = kiosk_page()
    page, live = tab.page, tab.live
    write_reflection(page, "Nobody will receive this yet")
    db = live.db()
    try:  # an organiser revokes the kiosk while a delegate is writing
        for kiosk in models.kiosks(db):
            models.revoke_kiosk(db, kiosk.id)
    finally:
        db.close()
    code = submit(page)
    expect(page.locator("#thanks-saved")).to_have_text(
        "Your reflection is saved on this kiosk. It will be sent by itself when the connection"
        " allows: you don't need to wait.",
        timeout=SCREEN_TIMEOUT_MS,
    )
    page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    expect(page.locator("#outbox-not-paired")).to_have_text(
        "This kiosk is no longer paired with the event, so it cannot send anything."
        " Reflections stay on it: please ask an organiser to pair it again.",
        timeout=SCREEN_TIMEOUT_MS,
    )
    expect(page.locator("#outbox-waiting")).to_have_text("1 reflection waiting to send")
    held = outbox(page)
    assert held["waiting"] == 1 and held["entries"][0]["receipt_code"] == code
    expect(page.locator("#reflection-text")).to_have_value("")

    db = live.db()
    try:
        assert db.execute("SELECT COUNT(*) FROM reflection").fetchone()[0] == 0
    finally:
        db.close()
    assert tab.js_errors == []
