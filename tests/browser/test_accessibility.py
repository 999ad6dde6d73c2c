"""An automated WCAG 2.2 AA scan of every page, in English and in Welsh, in real Chromium.

axe-core (vendored in tests/vendor, no CDN) runs on each kiosk step, the pairing pages,
withdrawal, login, every studio and review page, the public archive and the static export,
and the test fails on any violation of the WCAG 2.2 AA rule tags. It also saves screenshots
of the main screens at tablet, phone and laptop sizes (``--screenshots`` or
``VOXPOP_SCREENSHOTS``; tests/.tmp/screenshots by default) for a reviewer to look at.

A scan that finds nothing proves little on its own: the first test scans a page broken on
purpose and expects axe to report it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import (
    SCREEN_SIZES,
    pair,
    screenshots_wanted,
    shoot,
    wait_for_screen,
    wait_until_recorded,
)
from tests.browser.test_kiosk_journey import begin, tick
from tests.browser.test_kiosk_journey import give_consent as consent_on_kiosk
from tests.conftest import add_reflection, check_captions, give_consent, process, run_queued
from voxpop import models
from voxpop.db import get_db
from voxpop.publishing.export import export_site
from voxpop.record import reports
from voxpop.reels import service as reels

pytestmark = [pytest.mark.browser, pytest.mark.media]

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = ["en", "cy"]
NAME, PASSWORD = "Olwen Organiser", "correct horse battery"
TIMEOUT_MS = 30_000
LiveKiosk = Any  # tests/browser/conftest.py

RUN_AXE = """tags => axe.run(document, {
  runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
}).then(result => result.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + " — " + n.failureSummary),
})))"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The WCAG A/AA violations axe finds on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE, WCAG_TAGS)


@dataclass
class Scan:
    """Scans page after page and keeps every violation, to report them all at the end."""

    lang: str
    screenshots: Path
    found: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scanned: list[str] = field(default_factory=list)

    def __call__(self, page: Page, name: str, screenshot: bool = False) -> None:
        label = f"{self.lang}/{name}"
        page.wait_for_load_state("load")
        self.scanned.append(label)
        violations = axe_violations(page)
        if violations:
            self.found[label] = violations
        if screenshot:
            self.screenshot(page, name)

    def screenshot(self, page: Page, name: str) -> None:
        """The page at laptop, tablet and phone sizes (then back to the laptop), when the run
        was asked for screenshots."""
        if not screenshots_wanted():
            return
        for size in ("laptop", "tablet-landscape", "phone"):
            page.set_viewport_size(SCREEN_SIZES[size]["viewport"])
            shoot(page, path=str(self.screenshots / f"{name}-{self.lang}-{size}.png"))
        page.set_viewport_size(SCREEN_SIZES["laptop"]["viewport"])

    def report(self) -> str:
        lines = []
        for label, violations in self.found.items():
            for violation in violations:
                lines.append(f"{label}: {violation['id']} ({violation['impact']}):"
                             f" {violation['help']}")  # fmt: skip
                lines.extend(f"    {node}" for node in violation["nodes"])
        return "\n".join(lines)


def test_the_scan_finds_a_broken_page(browser: Browser) -> None:
    """axe is loaded and reports violations (no lang, an image without alt, a bare input)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<title>x</title><img src='data:,'><input type='text'><a href='#'></a>")
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"html-has-lang", "image-alt", "label", "link-name"} <= found, found
    context.close()


@dataclass
class Site:
    """A live app with content on every page: reflections of each kind, a reel, a kiosk."""

    live: LiveKiosk
    video: int
    text: int
    reel: int
    receipt: str
    export: Path


@pytest.fixture
def site(live_kiosk_factory: Callable[..., LiveKiosk], webm_clip: Path, tmp_path: Path) -> Site:
    live = live_kiosk_factory(max_clip_seconds=120)  # the scan while recording takes a while
    app = live.app
    video = add_reflection(app, "video", webm_clip, perspective="volunteer")
    text = add_reflection(app, "text", text="Sharing power is hard, and worth it.",
                          perspective="front-line-staff")  # fmt: skip
    withdrawable = add_reflection(app, "text", text="I may change my mind.")
    for reflection_id in (video, text, withdrawable):
        give_consent(app, reflection_id, online=1)
        assert process(app, reflection_id)["status"] == "ready"
    with app.app_context():
        db = get_db()
        db.execute(
            "UPDATE reflection SET review_state = 'approved', starred = 1, transcript_vtt = ?"
            " WHERE id IN (?, ?)",
            ("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\nWe shared power\n", video, text),
        )
        receipt = "KX7-4QF"  # as a kiosk would have given (add_reflection makes up a code)
        db.execute("UPDATE reflection SET receipt_code = ? WHERE id = ?", (receipt, withdrawable))
        models.create_user(db, NAME, "organiser", PASSWORD)
        # A kiosk holding a reflection the laptop refused: its reasons and "Send them again".
        foyer = models.create_kiosk(db, "Foyer iPad").kiosk.id
        refused = {"kind": "video", "status": 413, "message": "Too large", "created_at": 1.8e12}
        models.record_heartbeat(db, foyer, {"refused_count": 1, "refused": [refused]}, "")
    check_captions(app, video)
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        reel = reels.create_reel(db, event, "Highlights", actor=None)
        export_site(db, app.extensions["voxpop"].store, tmp_path / "site")
        # The export page's list of reports: one made, one waiting (its progress bar).
        queue = app.extensions["voxpop"].queue
        reports.request_report(db, queue, event, "en", internal=False, actor=None)
    run_queued(app)
    with app.app_context():
        reports.request_report(get_db(), queue, event, "cy", internal=True, actor=None)
    return Site(live, video, text, reel, receipt, tmp_path / "site")


@pytest.fixture
def new_context(
    browser: Browser, browser_context_args: dict[str, Any]
) -> Iterator[Callable[[], BrowserContext]]:
    """Laptop-sized contexts that let axe's script in (the pages' CSP forbids inline scripts;
    browser_context_args keep the fake camera's permissions)."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(
            **{**browser_context_args, **SCREEN_SIZES["laptop"], "bypass_csp": True}
        )
        # axe is in every page from its first script on: no script tag sent after each load.
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def with_lang(url: str, lang: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}lang={lang}"


def scan_public_pages(page: Page, site: Site, scan: Scan) -> None:
    """Logged out: home, setup, login, withdrawal (all three steps), the public archive."""
    url, lang = site.live.url, scan.lang
    for path, name, wanted in [
        ("/", "home", False),
        ("/setup", "setup", False),
        ("/login", "login", True),
        ("/archive/", "archive", True),
        ("/archive/p/volunteer", "archive-perspective", False),
        ("/archive/search?q=power", "archive-search", False),
        ("/wall/", "wall", True),
        ("/withdraw", "withdraw", True),  # last: the steps below go on from it
    ]:
        page.goto(with_lang(url + path, lang))
        scan(page, name, wanted)
    page.locator("#code").fill(site.receipt)
    page.locator("#code").press("Enter")
    expect(page.locator("#confirm-withdraw")).to_be_visible()
    scan(page, "withdraw-confirm")
    page.locator("#confirm-withdraw").click()
    page.wait_for_load_state("load")
    scan(page, "withdraw-done")


def scan_staff_pages(page: Page, site: Site, scan: Scan) -> None:
    """Logged in as an organiser: the studio, settings, reels, review, publish and export."""
    url, lang = site.live.url, scan.lang
    page.goto(with_lang(f"{url}/login?next=/studio/", lang))
    page.locator("#name").fill(NAME)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{url}/studio/**", timeout=TIMEOUT_MS)
    for path, name, wanted in [
        ("/studio/", "studio", True),
        ("/studio/dashboard", "dashboard", True),
        ("/studio/compare", "compare", True),
        ("/review/", "review-queue", True),
        (f"/review/{site.video}", "review-video", True),
        (f"/review/{site.text}", "review-text", False),
        ("/studio/reels", "reels", False),
        (f"/studio/reels/{site.reel}", "reel", True),
        ("/studio/publish", "publish", False),
        ("/studio/export", "export", False),
        ("/studio/settings/", "settings-event", True),
        ("/studio/settings/new-event", "settings-new-event", False),
        ("/studio/settings/perspectives", "settings-perspectives", False),
        ("/studio/settings/prompts", "settings-prompts", False),
        ("/studio/settings/consent", "settings-consent", False),
        ("/studio/settings/kiosks", "settings-kiosks", False),
        ("/studio/settings/users", "settings-users", False),
        ("/studio/audit", "audit", False),
    ]:
        page.goto(with_lang(url + path, lang))
        scan(page, name, wanted)
    # The review queue's shortcut list, open.
    page.goto(with_lang(f"{url}/review/", lang))
    page.wait_for_function("() => window.voxpopReview !== undefined")
    page.locator("body").press("?")
    expect(page.locator("#review-shortcuts")).to_be_visible()
    scan(page, "review-shortcuts")


def scan_static_export(page: Page, site: Site, scan: Scan) -> None:
    """The exported archive from file://: the first language at the top, others in a folder."""
    folder = site.export if scan.lang == "en" else site.export / scan.lang
    for name in ("index.html", "perspective-volunteer.html"):
        page.goto((folder / name).as_uri())
        scan(page, f"export-{name.removesuffix('.html')}", name == "index.html")


def scan_kiosk(context: BrowserContext, site: Site, scan: Scan) -> None:
    """A paired kiosk, step by step: a video take from attract to thanks, then the text step."""
    page = context.new_page()
    url, lang = site.live.url, scan.lang
    page.goto(with_lang(f"{url}/kiosk/", lang))  # not paired yet
    scan(page, "kiosk-unpaired")
    token_page_url = f"{url}/kiosk/pair/{site.live.new_pairing_token()}"
    page.goto(with_lang(token_page_url, lang))
    scan(page, "kiosk-pair")
    page.goto(token_page_url)
    pair(page, site.live)
    page.goto(with_lang(f"{url}/kiosk/", lang))
    wait_for_screen(page, "attract")
    scan(page, "kiosk-attract")
    page.click("[data-action=start]")
    wait_for_screen(page, "perspective")
    scan(page, "kiosk-perspective")
    page.click("[data-perspective='volunteer']")
    wait_for_screen(page, "prompt")
    scan(page, "kiosk-prompt")
    page.click("section[data-screen=prompt] [data-action=next]")
    wait_for_screen(page, "consent")
    scan(page, "kiosk-consent")
    tick(page, "archive")
    tick(page, "name")
    scan(page, "kiosk-consent-ticked")
    page.fill("#first-name", "Siân")
    page.click("#consent-next")
    wait_for_screen(page, "mode")
    scan(page, "kiosk-mode")
    page.click("[data-mode=video]")
    wait_for_screen(page, "record")
    expect(page.locator("#record-start")).to_be_enabled(timeout=TIMEOUT_MS)
    scan(page, "kiosk-record")
    page.click("#record-start")
    expect(page.locator("#record-stop")).to_be_visible(timeout=TIMEOUT_MS)
    wait_until_recorded(page, 1, timeout=TIMEOUT_MS)
    scan(page, "kiosk-recording")
    page.click("#record-stop")
    wait_for_screen(page, "review")
    scan(page, "kiosk-review")
    page.click("section[data-screen=review] [data-action=submit]")
    wait_for_screen(page, "thanks")
    scan(page, "kiosk-thanks")
    page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    begin(page, "volunteer")
    consent_on_kiosk(page, ["archive"])
    page.click("[data-mode=text]")
    wait_for_screen(page, "text")
    page.fill("#reflection-text", "A good day.")
    scan(page, "kiosk-text")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_meets_wcag_2_2_aa(
    site: Site,
    new_context: Callable[[], BrowserContext],
    screenshot_dir: Path,
    lang: str,
) -> None:
    scan = Scan(lang, screenshot_dir)
    errors: list[str] = []
    public = new_context().new_page()
    public.on("pageerror", lambda error: errors.append(str(error)))
    scan_public_pages(public, site, scan)
    scan_static_export(public, site, scan)
    staff = new_context().new_page()
    staff.on("pageerror", lambda error: errors.append(str(error)))
    scan_staff_pages(staff, site, scan)
    scan_kiosk(new_context(), site, scan)

    assert len(scan.scanned) >= 40, scan.scanned
    assert not scan.found, (
        f"WCAG 2.2 AA violations on {len(scan.found)} of {len(scan.scanned)} pages:\n"
        + scan.report()
    )
    assert errors == []
