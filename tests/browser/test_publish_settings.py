"""The publishing settings in real Chromium: the archive's public address refused when it
carries a password, then saved, and the page then linking to it (screenshots for a reviewer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.conftest import LiveKiosk, shoot, staff_page


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
