"""The record of the day's PDF from the export page, in real Chromium: ask for it, watch it
being made without a reload, hear that it is ready, download it. The job runs in this process
as the worker would (the live app's queue holds it until the test runs it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.archivedata import add_archived
from tests.browser.conftest import SCREEN_TIMEOUT_MS, LiveKiosk, log_in, shoot
from tests.conftest import run_queued
from voxpop import models
from voxpop.db import get_db

NAME, PASSWORD = "org", "organiser-password-1"


def test_a_report_is_made_in_the_background_and_downloaded(
    live_kiosk_factory: Callable[..., LiveKiosk], browser: Browser, screenshot_dir: Path
) -> None:
    live = live_kiosk_factory()
    for perspective in ("volunteer", "manager", "community-member"):
        words = f"What the {perspective} learnt today, in a sentence or two."
        add_archived(live.app, "text", perspective, text=words)
    with live.app.app_context():
        models.create_user(get_db(), NAME, "organiser", PASSWORD)
    context = browser.new_context(viewport={"width": 1180, "height": 820}, accept_downloads=True)
    page = context.new_page()
    log_in(page, f"{live.url}/studio/export", NAME, PASSWORD)
    expect(page.locator("#report-list")).to_contain_text("No report made yet.")

    page.select_option("select[name=language]", "cy")
    page.check("input[name=internal]")
    page.click("text=Make report (PDF)")
    page.wait_for_url(f"{live.url}/studio/export?language=cy&internal=1#reports",
                      timeout=SCREEN_TIMEOUT_MS)  # fmt: skip
    # The form is still set as it was.
    expect(page.locator("select[name=language]")).to_have_value("cy")
    expect(page.locator("input[name=internal]")).to_be_checked()
    item = page.locator(".report-item")
    expect(item).to_have_attribute("data-state", "making")
    expect(item).to_contain_text("Cymraeg · internal")
    expect(item.locator("progress")).to_be_visible()
    shoot(page, path=str(screenshot_dir / "export-report-waiting.png"))

    # The worker makes it while the page is open; the page follows without a reload.
    page.evaluate("() => { window.__sameDocument = true; }")
    worker = threading.Thread(target=run_queued, args=(live.app,))
    worker.start()
    download_link = page.locator(".report-item a", has_text="Download report (PDF)")
    expect(download_link).to_be_visible(timeout=60_000)
    worker.join(timeout=60)
    expect(item).to_have_attribute("data-state", "ready")
    expect(page.locator("#report-announce")).to_contain_text("Made")
    assert page.evaluate("() => window.__sameDocument === true")
    shoot(page, path=str(screenshot_dir / "export-report-ready.png"))

    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename.endswith("-record-internal-cy.pdf")
    saved = screenshot_dir.parent / "report-download.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
    context.close()
