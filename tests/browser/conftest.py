"""Fixtures that drive the real kiosk page in Debian's Chromium against the real app.

The browser is Debian's build of Chromium's headless shell (package chromium-headless-shell):
the same Blink and V8 as the chromium package without its desktop shell, and what Playwright
itself runs for headless Chromium. It takes about 40% less CPU over tests/browser than full
Chromium in headless mode (docs/benchmarks.md). ``VOXPOP_TEST_CHROMIUM`` names another binary,
e.g. /usr/lib/chromium/chromium for the full browser.

The camera and microphone are Chromium's fake devices, fed from a test-card video and a sine
tone generated here with ffmpeg. The app runs in a thread on 127.0.0.1 (a secure context, so
getUserMedia works over plain HTTP), with its own instance and uploads folders under
``tests/.tmp``. A test gets a paired kiosk page from ``kiosk_page``.

Without the browser (or ffmpeg) these tests are skipped, except when ``CI`` is set:
CI installs both, so there a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import TMP
from voxpop import create_app, models
from voxpop.db import connect, database_path, get_db

CHROMIUM = Path(
    os.environ.get("VOXPOP_TEST_CHROMIUM") or "/usr/lib/chromium/chromium-headless-shell"
)
FFMPEG_TIMEOUT = 120
# Generous: Chromium on a busy CI machine can be slow to open the fake camera.
SCREEN_TIMEOUT_MS = 30_000


def require_tool(present: bool, what: str) -> None:
    """Skip when a tool the browser tests need is missing; fail instead under CI."""
    if present:
        return
    message = f"browser tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(
            f"{message}, and CI must run them (apt-get install -y chromium-headless-shell ffmpeg)"
        )
    pytest.skip(f"{message} (Debian: apt-get install -y chromium-headless-shell ffmpeg)")


@pytest.fixture(scope="session", autouse=True)
def browser_tmpdir() -> Iterator[Path]:
    """Point TMPDIR (browser profiles, Playwright artefacts) inside the run's scratch space."""
    TMP.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="browser-", dir=TMP))
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    yield folder
    tempfile.tempdir = saved_tempdir
    if saved_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved_env
    shutil.rmtree(folder, ignore_errors=True)


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
        check=True,
        capture_output=True,
        timeout=FFMPEG_TIMEOUT,
    )


@pytest.fixture(scope="session")
def fake_camera(browser_tmpdir: Path) -> Path:
    """A 2 s test-card .y4m that Chromium loops as the camera.

    320×240 at 15 fps: Chromium hands the page the file's own size and rate (the kiosk's ideal
    1280×720 is not scaled up to), and a smaller camera is a smaller preview to draw and a
    smaller take to encode, send and transcode; what the tests check does not depend on it.
    """
    require_tool(shutil.which("ffmpeg") is not None, "ffmpeg")
    path = browser_tmpdir / "camera.y4m"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-t", "2",
            "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


@pytest.fixture(scope="session")
def fake_microphone(browser_tmpdir: Path) -> Path:
    """A 2 s 440 Hz tone that Chromium loops as the microphone."""
    require_tool(shutil.which("ffmpeg") is not None, "ffmpeg")
    path = browser_tmpdir / "microphone.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
            "-ac", "1", str(path))  # fmt: skip
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], fake_camera: Path, fake_microphone: Path
) -> dict[str, Any]:
    """pytest-playwright's launch options: Debian's Chromium with fake media devices."""
    require_tool(CHROMIUM.exists(), str(CHROMIUM))
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_camera}",
            f"--use-file-for-fake-audio-capture={fake_microphone}",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


# The screen sizes the layout and accessibility tests look at: tablets both ways up, a
# laptop, and a phone held upright.
SCREEN_SIZES: dict[str, dict[str, Any]] = {
    "tablet-landscape": {"viewport": {"width": 1024, "height": 768}},
    "tablet-portrait": {"viewport": {"width": 768, "height": 1024}},
    "laptop": {"viewport": {"width": 1366, "height": 768}},
    # An 11-inch iPad (Air, Pro) on its side: Safari's page area in landscape.
    "ipad-landscape": {"viewport": {"width": 1180, "height": 820}, "has_touch": True},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


# Phones held upright, for pages that must fit their width (no sideways scrolling). A plain
# window of that size rather than Chromium's mobile emulation: with ``is_mobile`` the layout
# viewport grows to fit a page that is too wide, so nothing would ever look too wide.
PHONE_WIDTHS: tuple[dict[str, int], ...] = (
    {"width": 390, "height": 844},
    {"width": 360, "height": 740},
)

# What sticks out past the window's right edge, outside any box that scrolls sideways itself
# (a wide table in an ``overflow-x: auto`` box is fine: the page does not scroll).
_TOO_WIDE_JS = """() => {
  const width = window.innerWidth;
  const scrolls = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (["auto", "scroll", "hidden"].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5 && !scrolls(el)) {
      const classes = typeof el.className === "string" ? el.className.trim() : "";
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (classes ? "." + classes.split(/\\s+/).join(".") : "")
        + ` ends at ${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width,
          sticking_out: out.slice(0, 8)};
}"""


def sideways_overflow(page: Page) -> dict[str, Any]:
    """Empty when the page fits the window's width (``scrollWidth <= innerWidth``); otherwise
    both widths and the first elements that stick out, for the failure message."""
    found = page.evaluate(_TOO_WIDE_JS)
    return {} if found["scrollWidth"] <= found["innerWidth"] else found


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig: pytest.Config) -> Path:
    """Where screenshots of the main screens go for a reviewer to look at (``--screenshots``
    or ``VOXPOP_SCREENSHOTS``; an empty folder in the run's scratch space when neither is
    given, as then none are taken: see ``shoot``)."""
    chosen = pytestconfig.getoption("screenshots")
    folder = Path(chosen or TMP / "screenshots").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshots_wanted() -> bool:
    """Whether this run was asked for screenshots (``--screenshots``, which tests/conftest.py
    hands on as ``VOXPOP_SCREENSHOTS``)."""
    return bool(os.environ.get("VOXPOP_SCREENSHOTS"))


def shoot(target: Page | Locator, path: Path | str, **options: Any) -> None:
    """Save a screenshot for a person to look at, when the run was asked for them.

    No test checks anything in a screenshot, and each costs the browser a fraction of a
    second, so a run without ``--screenshots`` takes none (nor rewrites docs/img).
    """
    if screenshots_wanted():
        target.screenshot(path=str(path), **options)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A landscape tablet-sized window (the size of the README screenshots)."""
    return {**browser_context_args, "viewport": {"width": 1180, "height": 820}}


# Reports every Content-Security-Policy violation to the console, where the fixture below
# collects it (Chromium also logs "Refused to …" there itself).
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`
    + ` (${event.sourceFile}:${event.lineNumber}) ${event.sample || ""}`);
});
"""


def _is_csp_violation(text: str) -> bool:
    return "CSP violation" in text or "Content Security Policy" in text


@pytest.fixture(autouse=True)
def fail_on_csp_violations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any browser test during which a page broke its Content-Security-Policy.

    Every context a test opens (through any fixture) reports violations, as a
    `securitypolicyviolation` event or as Chromium's own console message.
    """
    from playwright.sync_api import Browser as SyncBrowser

    violations: list[str] = []
    original = SyncBrowser.new_context

    def new_context(self: SyncBrowser, *args: Any, **kwargs: Any) -> Any:
        context = original(self, *args, **kwargs)
        context.add_init_script(_REPORT_CSP_VIOLATIONS)

        def on_console(message: Any) -> None:
            if _is_csp_violation(message.text):
                violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

        context.on("console", on_console)
        return context

    monkeypatch.setattr(SyncBrowser, "new_context", new_context)
    yield violations
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@dataclass
class LiveKiosk:
    """The app running in a thread, and what a test needs to look inside it."""

    app: Any
    url: str
    instance: Path
    uploads: Path
    kiosk_mode: str = "kiosk"  # what new_pairing_token makes: "kiosk" or "roving"

    def db(self) -> sqlite3.Connection:
        """A fresh connection to the app's database (closed by the caller)."""
        return connect(database_path(self.instance))

    def new_pairing_token(self) -> str:
        """Create a kiosk and return its one-time pairing token."""
        with self.app.app_context():
            kiosk = models.create_kiosk(get_db(), "Browser test kiosk", mode=self.kiosk_mode)
            return kiosk.pairing_token


def rows(live: LiveKiosk, sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows ``sql`` finds in the live app's database, as dictionaries."""
    db = live.db()
    try:
        return [dict(row) for row in db.execute(sql, args)]
    finally:
        db.close()


def make_live_app(
    parent: Path, prefix: str, max_clip_seconds: int, idle_timeout_seconds: int
) -> tuple[Any, Path, Path]:
    """The real app on fresh instance and uploads folders, with the bilingual test event."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    instance, uploads = root / "instance", root / "uploads"
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE": str(instance),
            "UPLOADS": str(uploads),
            "SECRET_KEY": "browser-test-secret",
        }
    )
    with app.app_context():
        models.create_event(
            get_db(),
            "Whose Shoes? Cardiff",
            date="2025-03-14",
            venue="Cardiff",
            languages=["en", "cy"],
            max_clip_seconds=max_clip_seconds,
            idle_timeout_seconds=idle_timeout_seconds,
        )
    return app, instance, uploads


@pytest.fixture
def live_kiosk_factory(browser_tmpdir: Path) -> Iterator[Callable[..., LiveKiosk]]:
    """Start the real app on 127.0.0.1 and a free port with a demo event; stop it after."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def start(
        max_clip_seconds: int = 5, idle_timeout_seconds: int = 300, kiosk_mode: str = "kiosk"
    ) -> LiveKiosk:
        app, instance, uploads = make_live_app(
            browser_tmpdir, "live-", max_clip_seconds, idle_timeout_seconds
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="live-kiosk", daemon=True)
        thread.start()
        servers.append((server, thread))
        url = f"http://127.0.0.1:{server.server_port}"
        return LiveKiosk(app, url, instance, uploads, kiosk_mode)

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def pair(page: Page, live: LiveKiosk) -> None:
    """Pair the browser as a kiosk through the pairing page, as an organiser's link would.

    A fixed kiosk then shows its attract screen; a roving one (a fresh browser) first asks
    the interviewer's name.
    """
    page.goto(f"{live.url}/kiosk/pair/{live.new_pairing_token()}")
    page.click("#pair-button")
    page.wait_for_url(f"{live.url}/kiosk/", timeout=SCREEN_TIMEOUT_MS)
    wait_for_screen(page, "interviewer" if live.kiosk_mode == "roving" else "attract")


def log_in(page: Page, url: str, name: str, password: str) -> None:
    """Open a staff page (which asks for a login), log in, and wait to be back on it."""
    page.goto(url)
    page.fill("#name", name)
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(url, timeout=SCREEN_TIMEOUT_MS)


STAFF_PASSWORD = "correct horse battery"
LAPTOP = {"width": 1366, "height": 768}


def staff_page(
    browser: Browser,
    context_args: dict[str, Any],
    live: LiveKiosk,
    path: str,
    *,
    role: str = "organiser",
    viewport: dict[str, int] = LAPTOP,
) -> tuple[Page, list[str]]:
    """A new tab on ``path``, logged in as a new ``role`` user, and the list its script errors
    go to (close it with ``page.context.close()``)."""
    name = f"Test {role}"
    with live.app.app_context():
        models.create_user(get_db(), name, role, STAFF_PASSWORD)
    page = browser.new_context(**{**context_args, "viewport": viewport}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, f"{live.url}{path}", name, STAFF_PASSWORD)
    return page, errors


# How often the waits below ask the page (ms). Playwright's default asks on every animation
# frame, 60 times a second: over the suite's many long waits (countdowns, recordings, idle
# timeouts) that kept a core of Chromium busy. A tenth of a second is quicker than any step.
POLL_MS = 100


def wait_for_screen(page: Page, name: str, timeout: int = SCREEN_TIMEOUT_MS) -> None:
    """Wait until the kiosk's state machine shows screen ``name``."""
    page.wait_for_function(
        "name => document.body.dataset.screen === name"
        " && window.voxpopKiosk && window.voxpopKiosk.state() === name",
        arg=name,
        timeout=timeout,
        polling=POLL_MS,
    )


# The seconds the kiosk's recording timer shows ("00:03 / 00:10" is 3), or -1 when it shows none.
TIMER_SECONDS_JS = """() => {
  const shown = /^\\s*(\\d+):(\\d+) \\//.exec(document.getElementById("rec-timer").textContent);
  return shown ? Number(shown[1]) * 60 + Number(shown[2]) : -1;
}"""


def wait_until_recorded(page: Page, seconds: int, timeout: int = SCREEN_TIMEOUT_MS) -> None:
    """Wait until the kiosk's recording timer shows ``seconds`` or more. (Not the exact text:
    on a busy machine the timer, drawn once a second, can go from 00:01 to 00:03.)"""
    page.wait_for_function(
        f"s => ({TIMER_SECONDS_JS})() >= s", arg=seconds, timeout=timeout, polling=POLL_MS
    )


def wait_until_at(
    page: Page, seconds: float, player: str = "#player", timeout: int = SCREEN_TIMEOUT_MS
) -> None:
    """Wait until the video ``player`` (a CSS selector) stands at ``seconds`` (within 50 ms)."""
    page.wait_for_function(
        "([player, t]) => Math.abs(document.querySelector(player).currentTime - t) < 0.05",
        arg=[player, seconds],
        timeout=timeout,
    )


def wait_until_playing(
    page: Page, player: str, past: float = 0.0, timeout: int = SCREEN_TIMEOUT_MS
) -> None:
    """Wait until the video ``player`` (a CSS selector) is there and playing, at ``past`` s or
    later."""
    page.wait_for_function(
        "([player, past]) => { const video = document.querySelector(player);"
        " return Boolean(video) && !video.paused && video.currentTime >= past; }",
        arg=[player, past],
        timeout=timeout,
        polling=POLL_MS,
    )


def wait_until_paused(page: Page, player: str, timeout: int = SCREEN_TIMEOUT_MS) -> None:
    """Wait until the video ``player`` (a CSS selector) is paused."""
    page.wait_for_function(
        "player => document.querySelector(player).paused",
        arg=player,
        timeout=timeout,
        polling=POLL_MS,
    )


@dataclass
class KioskTab:
    """A browser tab paired as a kiosk, the app behind it, and any script errors it raised."""

    page: Page
    live: LiveKiosk
    js_errors: list[str]


@pytest.fixture
def kiosk_page(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
) -> Iterator[Callable[..., KioskTab]]:
    """Return ``open(**event_settings)``: a fresh app and a browser tab paired with it.

    ``kiosk_mode="roving"`` pairs an interviewer's phone instead of a fixed kiosk, and
    ``context={...}`` adds browser context options (e.g. a phone's viewport).
    """
    contexts = []

    def open_kiosk(*, context: dict[str, Any] | None = None, **settings: Any) -> KioskTab:
        live = live_kiosk_factory(**settings)
        browser_context = browser.new_context(**{**browser_context_args, **(context or {})})
        contexts.append(browser_context)
        page = browser_context.new_page()
        tab = KioskTab(page, live, [])
        page.on("pageerror", lambda error: tab.js_errors.append(str(error)))
        pair(page, live)
        return tab

    yield open_kiosk
    for context in contexts:
        context.close()
