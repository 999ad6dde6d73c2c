"""The kiosk page resumes a big upload after the server process is killed mid-way.

A real `voxpop serve` (tests/serveprocess.py) in its own process group, the real kiosk page in
Chromium paired with it, and a 12 MB WebM in the page's outbox. Chromium's DevTools network
throttling slows the page's uploads to a venue Wi-Fi pace (Chromium paces XHR request bodies
under it), so the server can be SIGKILLed while a tus PATCH is half-way through. After a
restart on the same instance and port the kiosk asks the server for its offset and sends only
the rest: one reflection, byte-identical, with the receipt code the kiosk showed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request

from tests.browser.conftest import SCREEN_TIMEOUT_MS, wait_for_screen
from tests.browser.test_kiosk_journey import outbox, wait_until_sent
from tests.conftest import TMP
from tests.serveprocess import ServeProcess
from tests.tusupload import UPLOADS_URL, big_webm, sha256

pytestmark = [pytest.mark.browser, pytest.mark.media]

MB = 1024 * 1024
CHUNK = 2 * MB  # static/kiosk/outbox.js CHUNK_SIZE
UPLOAD_BYTES_PER_SECOND = 3_000_000  # a busy venue Wi-Fi: the 12 MB take needs ~4 s
KILL_AFTER = 5 * MB  # on the server's disk: mid-way through the file and through a chunk
RECORDING_URL = "/__test__/recording.webm"  # answered by page.route, never by the server

# Put a recording in the outbox as kiosk.js's submit() does: the fields it builds (from the
# page's own #kiosk-config) and a receipt code from the kiosk's pool.
ADD_RECORDING = """async url => {
  const config = JSON.parse(document.getElementById("kiosk-config").text);
  const blob = await (await fetch(url)).blob();
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  const sha256 = Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
  const code = await voxpopOutbox.takeReceiptCode();
  const fields = {
    client_id: crypto.randomUUID(),
    perspective: config.perspectives[0].slug,
    prompt: String(config.prompts[0].id),
    kind: "video",
    consent: "archive,online",
    consent_version: config.consent.version,
    first_name: "",
    lang: config.lang,
    recorder_mime: "video/webm;codecs=vp8,opus",
    filetype: "video/webm",
    filename: "recording.webm",
    duration_ms: "4000",
    receipt_code: code,
  };
  const result = await voxpopOutbox.add(fields, blob);
  return {client_id: fields.client_id, receipt_code: code, sha256, size: blob.size,
          persisted: result.persisted};
}"""


def watch_patches(page: Page) -> list[Request]:
    """Every tus PATCH the page sends, in order (filled in as Playwright sees them)."""
    patches: list[Request] = []
    page.on("request", lambda request: patches.append(request)
            if request.method == "PATCH" and UPLOADS_URL in request.url else None)  # fmt: skip
    return patches


def upload_offset(request: Request) -> int:
    return int(request.headers["upload-offset"])


@pytest.fixture(scope="module")
def clip_12mb() -> Path:
    return big_webm(TMP / "media" / "tus-12mb.webm", 12)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    """`voxpop serve` on a fresh demo instance under tests/.tmp (no worker: only the upload
    matters here, and a 12 MB transcode would compete with Chromium for the CPU)."""
    server = ServeProcess.demo(tmp_path)
    server.serve_args = ("--no-worker",)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kiosk_context(
    browser: Browser, browser_context_args: dict[str, Any]
) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def new(**options: Any) -> BrowserContext:
        context = browser.new_context(**{**browser_context_args, **options})
        contexts.append(context)
        return context

    yield new
    for context in contexts:
        context.close()


def pair(page: Page, server: ServeProcess, name: str) -> None:
    """Pair the tab with the link `voxpop kiosk add` printed, opened on this laptop."""
    _token, pairing_path = server.add_kiosk(name)
    page.goto(f"{server.base}{pairing_path}")
    page.click("#pair-button")
    page.wait_for_url(f"{server.base}/kiosk/", timeout=SCREEN_TIMEOUT_MS)
    wait_for_screen(page, "attract")


def staged_bytes(server: ServeProcess) -> int:
    staging = server.uploads / "staging"
    return max((part.stat().st_size for part in staging.glob("*.part")), default=0)


def test_the_kiosk_resumes_after_the_server_is_killed(
    serve: ServeProcess,
    kiosk_context: Callable[..., BrowserContext],
    clip_12mb: Path,
) -> None:
    size = clip_12mb.stat().st_size
    assert size > 11 * MB
    serve.start()
    # No service worker here: it is not what is tested, and page.route does not see the
    # requests a service worker makes on the page's behalf.
    context = kiosk_context(service_workers="block")
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    pair(page, serve, "Foyer laptop")
    page.route(f"{serve.base}{RECORDING_URL}",
               lambda route: route.fulfill(path=clip_12mb, content_type="video/webm"))  # fmt: skip

    patches = watch_patches(page)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
    })  # fmt: skip

    added = page.evaluate(ADD_RECORDING, RECORDING_URL)
    assert added["persisted"] and added["size"] == size
    assert added["sha256"] == sha256(clip_12mb)

    # Kill the server once more than 5 MB of the take are on its disk.
    deadline = time.monotonic() + 2 * SCREEN_TIMEOUT_MS / 1000
    while staged_bytes(serve) <= KILL_AFTER:
        assert time.monotonic() < deadline, f"the upload never got going: {outbox(page)}"
        page.wait_for_timeout(20)
    serve.kill()
    on_disk = staged_bytes(serve)
    assert KILL_AFTER < on_disk < size
    assert serve.reflections() == []
    assert outbox(page)["waiting"] == 1
    # While the server is dead the kiosk sends no PATCH (a resume starts with a HEAD, which
    # fails): every PATCH Playwright has reported by now was sent before the kill.
    page.wait_for_timeout(500)
    before_kill = len(patches)
    offsets = [upload_offset(request) for request in patches]
    assert offsets == list(range(0, len(offsets) * CHUNK, CHUNK))  # 2 MiB chunks from 0
    assert offsets[-1] <= on_disk

    serve.start()  # the same instance folder and ports
    page.evaluate("voxpopKiosk.flushNow()")  # rather than waiting out the backoff
    wait_until_sent(page, timeout=4 * SCREEN_TIMEOUT_MS)

    (reflection,) = serve.reflections()
    assert reflection["client_id"] == added["client_id"]
    assert reflection["receipt_code"] == added["receipt_code"]
    assert reflection["original_sha256"] == added["sha256"]
    assert sha256(serve.uploads / reflection["original_path"]) == added["sha256"]
    assert list((serve.uploads / "staging").glob("*.part")) == []

    # Resumed, not restarted: the first PATCH after the kill started where the server's disk
    # ended (the dead server can take none: a resume begins with a HEAD), and fewer bytes
    # than the whole file were sent again.
    resumed = patches[before_kill:]
    assert resumed, "the kiosk never PATCHed the restarted server"
    assert upload_offset(resumed[0]) == on_disk > 0
    assert all(request.response() is not None for request in resumed)
    resent = sum(len(request.post_data_buffer or b"") for request in resumed)
    assert resent == size - on_disk < size
    assert js_errors == []
