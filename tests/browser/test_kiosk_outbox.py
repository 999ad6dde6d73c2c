"""Field-proof capture: no delegate's reflection is lost when the laptop is out of reach.

The kiosk keeps every submitted reflection in its outbox (IndexedDB) until the server has
confirmed it, opens from its service worker when offline, and sends everything once it is
back in touch. Real Chromium, real app; the network is cut with ``context.set_offline``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREEN_TIMEOUT_MS, rows, wait_for_screen, wait_until_recorded
from tests.browser.test_kiosk_journey import (
    RECEIPT_CODE,
    begin,
    give_consent,
    outbox,
    start_recording,
    submit,
    wait_for_outbox,
    wait_until_sent,
    write_reflection,
)
from voxpop.studio import kiosks

pytestmark = [pytest.mark.browser, pytest.mark.media]

KioskTab = Any
SAVED = (
    "Your reflection is saved on this kiosk. It will be sent by itself when the connection"
    " allows: you don't need to wait."
)
KEPT_REFUSED = (
    "Your reflection is kept on this kiosk, but it could not be sent. Please tell an organiser."
)

SHA256_OF_ENTRY = """async clientId => {
  const entry = await voxpopOutbox.entry(clientId);
  const digest = await crypto.subtle.digest("SHA-256", await entry.blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}"""


def wait_for_reflections(page: Page, live: Any, count: int) -> None:
    """Wait until the server holds ``count`` reflections and the outbox is empty.

    Polls the database, not only the outbox: a take recovered into the outbox arrives there a
    moment after the screen changes, so an empty outbox alone proves nothing yet.
    """
    deadline = time.monotonic() + 2 * SCREEN_TIMEOUT_MS / 1000
    while len(rows(live, "SELECT id FROM reflection")) < count:
        assert time.monotonic() < deadline, f"only some reflections arrived: {outbox(page)}"
        page.wait_for_timeout(250)
    wait_until_sent(page)


def record_video(page: Page, seconds: int = 2) -> None:
    """From the attract screen to the review screen with a short video."""
    begin(page, "volunteer")
    give_consent(page, ["archive", "reel"])
    start_recording(page, "video")
    wait_until_recorded(page, seconds)
    page.click("#record-stop")
    wait_for_screen(page, "review")


def wait_for_service_worker(page: Page) -> None:
    """Wait until the service worker controls the page and has kept the kiosk page."""
    page.wait_for_function(
        "() => navigator.serviceWorker.controller !== null", timeout=SCREEN_TIMEOUT_MS
    )
    deadline = time.monotonic() + SCREEN_TIMEOUT_MS / 1000
    kept = "caches.open('voxpop-kiosk-pages').then(cache => cache.keys()).then(k => k.length)"
    while not page.evaluate(kept):
        assert time.monotonic() < deadline, "the service worker never kept the kiosk page"
        page.wait_for_timeout(250)


def test_offline_video_and_text_arrive_once_back_online(
    kiosk_page: Callable[..., KioskTab],
) -> None:
    tab = kiosk_page(max_clip_seconds=10)
    page, live = tab.page, tab.live
    context = page.context
    wait_for_service_worker(page)
    reserved = {row["code"] for row in rows(live, "SELECT code FROM receipt_reservation")}
    assert len(reserved) == 20, "the kiosk asks for its receipt codes when it opens"

    # A delegate records a video; the laptop goes out of reach before it is sent.
    record_video(page)
    context.set_offline(True)
    video_code = submit(page)
    assert video_code in reserved  # shown at once, from the pool the server reserved
    expect(page.locator("#thanks-saved")).to_have_text(SAVED, timeout=SCREEN_TIMEOUT_MS)
    (entry,) = outbox(page)["entries"]
    video_id = entry["client_id"]
    assert entry["receipt_code"] == video_code and entry["bytes"] > 10_000
    recorded_sha256 = page.evaluate(SHA256_OF_ENTRY, video_id)

    # Someone reloads the kiosk while it is still offline: it opens from its service worker.
    page.reload()
    wait_for_screen(page, "attract")
    expect(page.locator("#outbox-waiting")).to_have_text(
        "1 reflection waiting to send", timeout=SCREEN_TIMEOUT_MS
    )
    expect(page.locator("#outbox-status")).to_have_attribute("role", "status")

    # A second delegate writes a reflection, still offline.
    write_reflection(page, "Written while the laptop was away")
    text_code = submit(page)
    assert text_code in reserved and text_code != video_code
    page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    expect(page.locator("#outbox-waiting")).to_have_text("2 reflections waiting to send")
    text_id = next(e["client_id"] for e in outbox(page)["entries"] if e["client_id"] != video_id)
    assert rows(live, "SELECT id FROM reflection") == []

    # Back in touch: the `online` event sends both, the oldest first.
    context.set_offline(False)
    wait_until_sent(page)
    expect(page.locator("#outbox-waiting")).to_be_hidden()

    stored = rows(live, "SELECT * FROM reflection ORDER BY id")
    assert [(r["client_id"], r["kind"]) for r in stored] == [
        (video_id, "video"),
        (text_id, "text"),
    ]
    video, text = stored
    assert (video["receipt_code"], text["receipt_code"]) == (video_code, text_code)
    assert text["text_body"] == "Written while the laptop was away"
    original = live.uploads / video["original_path"]
    assert hashlib.sha256(original.read_bytes()).hexdigest() == recorded_sha256
    assert json.loads(video["capture"])["via"] == "tus"
    assert tab.js_errors == []


def test_idle_reset_keeps_an_unsent_recording(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(idle_timeout_seconds=5, max_clip_seconds=10)
    page, live = tab.page, tab.live
    record_video(page)
    page.context.set_offline(True)
    code = submit(page)

    # The delegate walks away from the thank-you screen: the kiosk starts afresh ...
    wait_for_screen(page, "attract", timeout=SCREEN_TIMEOUT_MS)
    expect(page.locator("#receipt-code")).to_have_text("")
    # ... but the recording stays in the outbox until the server has it.
    held = outbox(page)
    assert held["waiting"] == 1 and held["entries"][0]["receipt_code"] == code
    expect(page.locator("#outbox-waiting")).to_have_text("1 reflection waiting to send")

    page.context.set_offline(False)
    page.evaluate("voxpopKiosk.flushNow()")
    wait_until_sent(page)
    (row,) = rows(live, "SELECT receipt_code, kind FROM reflection")
    assert row == {"receipt_code": code, "kind": "video"}

    # The kiosk's heartbeat tells the studio it holds nothing now, and which version it runs.
    app_version = page.evaluate(
        "JSON.parse(document.getElementById('kiosk-config').text).app_version"
    )
    deadline = time.monotonic() + SCREEN_TIMEOUT_MS / 1000
    query = "SELECT outbox_count, refused_count, app_version FROM kiosk WHERE revoked_at IS NULL"
    while rows(live, query) != [
        {"outbox_count": 0, "refused_count": 0, "app_version": app_version}
    ]:
        assert time.monotonic() < deadline, rows(live, query)
        page.wait_for_timeout(250)
    assert tab.js_errors == []


def test_idle_on_the_review_screen_keeps_the_take(kiosk_page: Callable[..., KioskTab]) -> None:
    """A delegate who walks away before pressing Submit: the timer never throws a take away."""
    tab = kiosk_page(idle_timeout_seconds=5, max_clip_seconds=10)
    page, live = tab.page, tab.live
    record_video(page)  # on the review screen, not submitted
    wait_for_screen(page, "attract", timeout=SCREEN_TIMEOUT_MS)
    # The take moves to the outbox just after the reset, then is sent: wait for the server.
    wait_for_reflections(page, live, 1)
    (row,) = rows(live, "SELECT kind, capture FROM reflection")
    assert row["kind"] == "video"
    assert json.loads(row["capture"]).get("recovered") is True  # facilitators check it first
    assert tab.js_errors == []


def test_a_refused_upload_is_kept_and_shown(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(max_clip_seconds=10)
    page, live = tab.page, tab.live
    creations: list[str] = []

    def refuse_creation(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        creations.append(route.request.headers.get("upload-metadata", ""))
        route.fulfill(
            status=415,
            headers={"Tus-Resumable": "1.0.0"},
            json={"error": "This file is not a recording we can read."},
        )

    page.route("**/kiosk/api/uploads/", refuse_creation)
    record_video(page)
    code = submit(page)
    # Refused for good: the thank-you screen does not promise it will be sent by itself.
    expect(page.locator("#thanks-saved")).to_have_text(KEPT_REFUSED, timeout=SCREEN_TIMEOUT_MS)
    page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    expect(page.locator("#outbox-refused")).to_have_text(
        "1 reflection could not be sent. It is kept on this kiosk: please tell an organiser.",
        timeout=SCREEN_TIMEOUT_MS,
    )
    held = wait_for_outbox(page, lambda summary: summary["refused"] == 1)
    (entry,) = held["entries"]
    assert entry["state"] == "refused" and entry["receipt_code"] == code
    assert entry["last_error"] == "This file is not a recording we can read."
    assert held["waiting"] == 0

    # Kept on the device, and not retried by itself; still there after a reload.
    page.evaluate("voxpopKiosk.flushNow()")
    assert len(creations) == 1
    page.reload()
    wait_for_screen(page, "attract")
    expect(page.locator("#outbox-refused")).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    assert outbox(page)["refused"] == 1
    assert len(creations) == 1
    assert rows(live, "SELECT id FROM reflection") == []

    # The organiser's kiosk list says why: the kiosk's heartbeat carries the laptop's answer.
    (kiosk,) = wait_for_row(live, "SELECT * FROM kiosk WHERE refused_detail LIKE '%read%'")
    (item,) = json.loads(kiosk["refused_detail"])
    assert (item["kind"], item["status"]) == ("video", 415)
    assert item["reason"] == "This file is not a recording we can read."

    # The cause is fixed (here: the refusal was the test's) and the organiser presses "Send
    # them again": the kiosk hears of it on its next session call and sends it, once.
    page.unroute("**/kiosk/api/uploads/", refuse_creation)
    db = live.db()
    try:
        kiosks.resend_refused(db, kiosk["id"], actor=None)
        (asked,) = db.execute("SELECT resend_requested_at FROM kiosk").fetchone()
    finally:
        db.close()
    page.evaluate("voxpopKiosk.flushNow()")
    wait_for_reflections(page, live, 1)
    assert rows(live, "SELECT receipt_code FROM reflection") == [{"receipt_code": code}]
    expect(page.locator("#outbox-refused")).to_be_hidden()
    # The kiosk tells the laptop it acted on that request, and holds nothing refused now.
    wait_for_row(live, "SELECT id FROM kiosk WHERE resend_done_at = ?", asked)
    (kiosk,) = rows(live, "SELECT refused_count, refused_detail FROM kiosk")
    assert (kiosk["refused_count"], kiosk["refused_detail"]) == (0, "[]")
    assert tab.js_errors == []


def wait_for_row(live: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Poll the app's database until ``sql`` finds a row (heartbeats come a moment late)."""
    deadline = time.monotonic() + 2 * SCREEN_TIMEOUT_MS / 1000
    while not (found := rows(live, sql, *params)):
        assert time.monotonic() < deadline, f"nothing found by {sql}"
        time.sleep(0.2)
    return found


def test_a_take_cut_off_by_a_reload_is_recovered(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(max_clip_seconds=30)
    page, live = tab.page, tab.live
    begin(page, "manager")
    give_consent(page, ["archive", "online"])
    start_recording(page, "video")
    wait_until_recorded(page, 3)

    page.reload()  # the tab is closed mid-take (a crash, a reload, a flat battery)
    wait_for_screen(page, "attract")
    # The next load turns the kept slices into an outbox entry, then sends it.
    wait_for_reflections(page, live, 1)

    (row,) = rows(live, "SELECT * FROM reflection")
    assert row["kind"] == "video"
    assert RECEIPT_CODE.match(row["receipt_code"])
    assert json.loads(row["capture"]).get("recovered") is True
    consent = rows(live, "SELECT archive, online, reel FROM consent")
    assert consent == [{"archive": 1, "online": 1, "reel": 0}]
    assert row["client_duration_ms"] >= 2_000
    assert tab.js_errors == []
