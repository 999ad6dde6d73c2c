"""The publishing page in real Chromium: the archive's public address refused when it carries
a password, then saved, and the page then linking to it; a publish that cannot reach its
endpoint saying why, trying the corrected settings at once, and the whole status area following
it to the end without a reload (screenshots for a reviewer)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import LiveKiosk, rows, shoot, staff_page
from tests.s3server import (
    SeaweedS3,
    free_ports,
    s3_server,  # noqa: F401 - the session's S3 server
    use_test_credentials,
)
from voxpop import jobs

# The page asks for the status every 2 s while a publish is under way: a few polls' time.
FOLLOWS_MS = 10_000


def test_the_public_address_of_the_archive(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
    screenshot_dir: Path,
) -> None:
    live = live_kiosk_factory()
    page, errors = staff_page(browser, browser_context_args, live, "/studio/publish")

    address = page.get_by_label("Public address of the archive (optional)")
    expect(address).to_have_attribute("aria-describedby", "archive-public-url-hint")
    page.locator("#s3-bucket").fill("whose-shoes-archive")
    address.fill("https://organiser:secret@archive.example.org/whose-shoes/")
    page.get_by_role("button", name="Save publishing settings").click()
    expect(page.locator("#archive-public-url-error")).to_contain_text(
        "Leave the user name and password out of the public address"
    )
    expect(address).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#s3-bucket")).to_have_value("whose-shoes-archive")
    shoot(page, path=str(screenshot_dir / "publish-public-address-refused.png"), full_page=True)

    address.fill("https://archive.example.org/whose-shoes")
    page.get_by_role("button", name="Save publishing settings").click()
    expect(page.get_by_text("Publishing settings saved.")).to_be_visible()
    expect(address).to_have_value("https://archive.example.org/whose-shoes/")
    expect(page.locator("#archive-address")).to_contain_text(
        "Once published, the archive opens at:"
    )
    link = page.locator("#archive-address a")
    expect(link).to_have_attribute("href", "https://archive.example.org/whose-shoes/index.html")
    shoot(page, path=str(screenshot_dir / "publish-public-address.png"), full_page=True)
    assert not errors
    page.context.close()


def test_a_publish_that_cannot_reach_its_endpoint_says_why_then_follows_through(
    browser: Browser,
    browser_context_args: dict[str, Any],
    live_kiosk_factory: Callable[..., LiveKiosk],
    screenshot_dir: Path,
    s3_server: SeaweedS3,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    use_test_credentials(monkeypatch, tmp_path)
    if s3_server.process is None:
        s3_server.start()
    live = live_kiosk_factory()
    queue = live.app.extensions["voxpop"].queue
    page, errors = staff_page(browser, browser_context_args, live, "/studio/publish")
    bucket, prefix = s3_server.shared_bucket(), f"day-{uuid.uuid4().hex[:8]}"
    (port,) = free_ports(1)  # nothing listens there: a mistyped endpoint
    page.locator("#s3-bucket").fill(bucket)
    page.locator("#s3-prefix").fill(prefix)
    page.locator("#s3-endpoint").fill(f"http://127.0.0.1:{port}")
    page.get_by_role("button", name="Save publishing settings").click()
    expect(page.get_by_text("Publishing settings saved.")).to_be_visible()
    page.get_by_role("button", name="Publish now").click()
    expect(page.locator("#publish-text")).to_have_text("Queued: publishing starts in a moment.")
    (job,) = rows(live, "SELECT id FROM job")
    assert jobs.run_job(queue, job["id"]) == "retrying"
    expect(page.locator("#publish-text")).to_contain_text(
        f"Can't reach http://127.0.0.1:{port} (the connection was refused): check the endpoint"
        " in the settings, or wait for the internet. Next try at ",
        timeout=FOLLOWS_MS,
    )
    expect(page.locator("#publish-last")).to_have_text("Never published.")
    expect(page.locator("#publish-progress")).to_be_hidden()  # nothing moves while it waits
    shoot(page, path=str(screenshot_dir / "publish-cannot-reach.png"), full_page=True)

    # The organiser corrects the endpoint: the waiting publish tries it at once.
    page.locator("#s3-endpoint").fill(s3_server.endpoint_url)
    page.get_by_role("button", name="Save publishing settings").click()
    expect(page.get_by_text("The waiting publish tries again with them now.")).to_be_visible()
    expect(page.locator("#publish-text")).to_have_text("Queued: publishing starts in a moment.")
    assert jobs.run_job(queue, job["id"]) == "done"
    # No reload: the status, the last publish and the archive's address all follow it.
    expect(page.locator("#publish-text")).to_contain_text("Published: ", timeout=FOLLOWS_MS)
    expect(page.locator("#publish-last")).to_contain_text("Last published ")
    expect(page.locator("#archive-address-label")).to_have_text("Address of the published archive:")
    expect(page.locator("#archive-address a")).to_have_attribute(
        "href", f"{s3_server.endpoint_url}/{bucket}/{prefix}/index.html"
    )
    expect(page.locator("#publish-progress")).to_be_hidden()
    shoot(page, path=str(screenshot_dir / "publish-done.png"), full_page=True)
    assert not errors
    page.context.close()
