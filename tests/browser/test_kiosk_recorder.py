"""The kiosk's recorder choices (issue 14), in real Chromium against the real app.

- A type that records nothing (WebKit's 0-byte or header-only MP4 when the H.264 level cannot
  hold the picture) is not a lost take: the kiosk says so in plain words, falls back to the
  next type, and the reflection records which fallback step made it.
- The MP4 upload path on every run, even where WebKit is not installed: with WebM hidden from
  the kiosk, Chromium records H.264 + Opus in fragmented MP4 (no duration in the header), and
  the pipeline makes a ready delivery MP4 of the right length.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREEN_TIMEOUT_MS, wait_for_screen, wait_until_recorded
from tests.browser.test_kiosk_journey import (
    begin,
    give_consent,
    start_recording,
    stored_reflection,
    submit_and_get_receipt,
)
from tests.recordingchecks import (
    KEEP_BLOBS_JS,
    LAST_BLOB_SHA256_JS,
    check_delivery,
    check_original,
)

pytestmark = [pytest.mark.browser, pytest.mark.media]

KioskTab = Any
TRY_ANOTHER_WAY = "That didn't record. Trying another way — please record again."

# The first MediaRecorder the page makes "records nothing": its data never arrives (empty), or
# only the container's header does (what WebKit writes for an H.264 level too small for the
# picture). Every recorder's requested type is listed in window.__recorderTypes.
FIRST_RECORDER_RECORDS_NOTHING = """
(() => {
  const Original = window.MediaRecorder;
  const HOW = %s;
  let made = 0;
  window.__recorderTypes = [];
  class FirstOneBroken extends Original {
    constructor(stream, options) {
      super(stream, options);
      this.__broken = made++ === 0;
      window.__recorderTypes.push((options && options.mimeType) || "");
    }
    get ondataavailable() {
      return super.ondataavailable;
    }
    set ondataavailable(handler) {
      if (!this.__broken) {
        super.ondataavailable = handler;
        return;
      }
      let first = true;
      super.ondataavailable = (event) => {
        const type = event.data.type;
        if (HOW === "empty" || !first) {
          handler({ data: new Blob([], { type }) });
          return;
        }
        first = false;
        event.data.arrayBuffer().then((buffer) => {
          const bytes = new Uint8Array(buffer);
          let end = 0; // up to the first WebM Cluster: the header alone
          while (end + 3 < bytes.length && !(bytes[end] === 0x1f && bytes[end + 1] === 0x43
                 && bytes[end + 2] === 0xb6 && bytes[end + 3] === 0x75)) end++;
          handler({ data: new Blob([bytes.slice(0, end)], { type }) });
        });
      };
    }
  }
  window.MediaRecorder = FirstOneBroken;
})();
"""

# Hide WebM from the kiosk, as on a Safari that records only MP4.
WEBM_HIDDEN = """
(() => {
  const supported = MediaRecorder.isTypeSupported.bind(MediaRecorder);
  MediaRecorder.isTypeSupported = (type) => !/webm/i.test(type) && supported(type);
})();
"""


def reload_with(tab: KioskTab, *scripts: str) -> Page:
    """Reload the paired kiosk page with ``scripts`` run before its own."""
    page = tab.page
    for script in scripts:
        page.context.add_init_script(script)
    page.reload()
    wait_for_screen(page, "attract")
    return page


def record_for(page: Page, seconds: int) -> None:
    """While recording: wait ``seconds`` on the kiosk's timer, then press Stop."""
    wait_until_recorded(page, seconds)
    page.click("#record-stop")


@pytest.mark.parametrize("how", ["empty", "header-only"])
def test_a_type_that_records_nothing_falls_back_to_the_next(
    kiosk_page: Callable[..., KioskTab], how: str
) -> None:
    tab = kiosk_page(max_clip_seconds=10)
    page = reload_with(tab, FIRST_RECORDER_RECORDS_NOTHING % json.dumps(how), KEEP_BLOBS_JS)
    begin(page, "volunteer")
    give_consent(page, ["archive", "reel"])
    start_recording(page, "video")
    record_for(page, 2)

    # Not the review screen with nothing in it: the delegate is told, and can go again at once.
    expect(page.locator("#device-error-message")).to_have_text(TRY_ANOTHER_WAY)
    expect(page.locator("#device-error")).to_be_visible()
    assert page.evaluate("voxpopKiosk.state()") == "record"
    expect(page.locator("#record-start")).to_be_enabled()
    page.click("#record-start")
    expect(page.locator("#rec-indicator")).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
    expect(page.locator("#device-error")).to_be_hidden()
    record_for(page, 2)
    wait_for_screen(page, "review")
    sha256 = page.evaluate(LAST_BLOB_SHA256_JS)
    code = submit_and_get_receipt(page)

    first, second = page.evaluate("window.__recorderTypes")
    assert first == 'video/webm;codecs="vp8,opus"', first
    assert second == 'video/webm;codecs="vp9,opus"', second
    row = stored_reflection(tab.live, code)
    capture = json.loads(row["capture"])
    assert capture["recorder_fallback"] == 1, capture
    assert "vp9" in capture["recorder_mime"], capture
    assert row["original_sha256"] == sha256
    assert row["original_container"] == "webm"
    # The device remembers: the next delegate records with the type that worked, first time.
    assert json.loads(page.evaluate("localStorage.getItem('voxpop-recorder-failed')")) == {
        "video": [first]
    }
    assert tab.js_errors == []


def test_chromium_records_mp4_when_webm_is_hidden(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page(max_clip_seconds=10)
    page = reload_with(tab, WEBM_HIDDEN, KEEP_BLOBS_JS)
    begin(page, "volunteer")
    give_consent(page, ["archive", "reel"])
    start_recording(page, "video")
    record_for(page, 3)
    wait_for_screen(page, "review")
    sha256 = page.evaluate(LAST_BLOB_SHA256_JS)
    code = submit_and_get_receipt(page)

    row = stored_reflection(tab.live, code)
    capture = json.loads(row["capture"])
    # H.264 at level 3.1 (the camera's size fits it), with Opus: Chromium cannot record AAC.
    assert capture["recorder_mime"].startswith("video/mp4"), capture
    assert "avc1.42e01f" in capture["recorder_mime"].lower(), capture
    assert "recorder_fallback" not in capture, capture
    original = check_original(tab.live.uploads, row, sha256, {"video": "h264", "audio": "opus"})
    seconds = check_delivery(tab.live.app, tab.live.uploads, row["id"], original)
    assert abs(seconds - row["client_duration_ms"] / 1000) < 1.0, (seconds, row)
    assert tab.js_errors == []
