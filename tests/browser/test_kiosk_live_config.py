"""An open kiosk follows the event: a changed configuration, and its own storage running out.

- The organiser rewords a prompt while a kiosk is open: the outbox's session call answers a
  new ``config_version`` and the kiosk reloads itself on its attract screen (through its
  service worker, network-first), never in the middle of a delegate's turn.
- ``navigator.storage.estimate()`` says the browser's quota is nearly used: the attract
  screen's status area says so, calmly; it says nothing when there is room.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREEN_TIMEOUT_MS, rows, wait_for_screen
from tests.browser.test_kiosk_journey import (
    begin,
    give_consent,
    submit,
    wait_until_sent,
    write_reflection,
)
from tests.browser.test_kiosk_outbox import wait_for_service_worker
from voxpop import models
from voxpop.db import get_db
from voxpop.studio import perspectives

pytestmark = [pytest.mark.browser, pytest.mark.media]

KioskTab = Any
STORAGE_LOW = "This kiosk is running out of storage space — please tell an organiser."
NEW_PROMPT = {
    "en": "What will you do differently tomorrow?",
    "cy": "Beth wnewch chi'n wahanol yfory?",
}

# Runs before the kiosk's scripts on every load: the browser reports this much of its quota used.
FAKE_ESTIMATE = """(() => {
  const used = %s;
  Object.defineProperty(navigator.storage, "estimate", {
    configurable: true,
    value: () => Promise.resolve({usage: used * 1e9, quota: 1e9}),
  });
})();"""


def page_config(page: Page) -> dict[str, Any]:
    return json.loads(page.text_content("#kiosk-config") or "{}")


def reword_first_prompt(tab: KioskTab) -> int:
    """An organiser rewords the event's first prompt (as Settings → Prompts does)."""
    with tab.live.app.app_context():
        db = get_db()
        event = models.current_event(db)
        prompt = models.prompts(db, event.id)[0]
        perspectives.edit_prompt(db, event.id, prompt.id, NEW_PROMPT, actor=None)
        return prompt.id


def session_version(page: Page) -> str:
    """The config_version the server answers this kiosk now, for the page's language."""
    return page.evaluate(
        """async lang => (await (await fetch("/kiosk/api/session?lang=" + lang,
                                             {cache: "no-store"})).json()).config_version""",
        page_config(page)["lang"],
    )


# -- the storage warning ---------------------------------------------------------------------


@pytest.mark.parametrize(("used", "warned"), [(0.85, True), (0.2, False)])
def test_the_attract_screen_warns_when_storage_is_nearly_full(
    kiosk_page: Callable[..., KioskTab], used: float, warned: bool
) -> None:
    tab = kiosk_page()
    page = tab.page
    page.context.add_init_script(FAKE_ESTIMATE % used)
    page.reload()
    wait_for_screen(page, "attract")
    assert page.evaluate("navigator.storage.estimate()")["usage"] == used * 1e9
    warning = page.locator("#outbox-status #storage-warning")
    if warned:
        expect(warning).to_be_visible(timeout=SCREEN_TIMEOUT_MS)
        expect(warning).to_have_text(STORAGE_LOW)
    else:
        # The kiosk did ask (its heartbeat reports the same figures) and stays calm.
        page.evaluate("voxpopOutbox.heartbeat()")
        reported = "SELECT storage_usage, storage_quota FROM kiosk WHERE revoked_at IS NULL"
        assert rows(tab.live, reported) == [{"storage_usage": 2 * 10**8, "storage_quota": 10**9}]
        expect(warning).to_be_hidden()
    assert tab.js_errors == []


# -- a changed configuration -----------------------------------------------------------------


def test_a_reworded_prompt_reaches_an_open_kiosk(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page()
    page = tab.page
    wait_for_service_worker(page)
    before = page_config(page)
    assert before["config_version"] == session_version(page)
    prompt_id = reword_first_prompt(tab)

    # The next session call (flushNow here, rather than waiting a minute) sees the change:
    # the kiosk, idle on its attract screen, reloads itself with the new wording.
    with page.expect_navigation(timeout=SCREEN_TIMEOUT_MS):
        page.evaluate("() => { voxpopKiosk.flushNow(); }")
    wait_for_screen(page, "attract")
    after = page_config(page)
    assert after["config_version"] != before["config_version"]
    assert after["config_version"] == session_version(page)
    assert after["prompts"][0] == {"id": prompt_id, "text": NEW_PROMPT["en"]}
    expect(page.locator("#prompt-text")).to_have_text(NEW_PROMPT["en"])

    # No reload loop: the next session calls agree with the page.
    page.evaluate("voxpopKiosk.flushNow()")
    page.evaluate("voxpopKiosk.flushNow()")
    assert page_config(page)["config_version"] == after["config_version"]
    assert tab.js_errors == []


def test_a_delegate_mid_flow_is_not_interrupted(kiosk_page: Callable[..., KioskTab]) -> None:
    tab = kiosk_page()
    page = tab.page
    old_text = page_config(page)["prompts"][0]["text"]
    begin(page, "volunteer")  # on the consent screen, first prompt chosen
    page.evaluate("window.sameDocument = true")
    reword_first_prompt(tab)

    with page.expect_response("**/kiosk/api/session*") as answer:
        page.evaluate("voxpopKiosk.flushNow()")
    assert answer.value.json()["config_version"] != page_config(page)["config_version"]
    page.wait_for_timeout(1500)  # longer than the kiosk waits before a reload
    assert page.evaluate("window.sameDocument === true")
    wait_for_screen(page, "consent")

    # The delegate carries on with the question they were shown, to the end.
    give_consent(page, ["archive"])
    page.click("[data-mode=text]")
    wait_for_screen(page, "text")
    expect(page.locator("section[data-screen=text] [data-bind=prompt-text]")).to_have_text(old_text)
    page.fill("#reflection-text", "Written while the prompt was being reworded")
    code = submit(page)
    wait_until_sent(page)
    page.evaluate("voxpopKiosk.flushNow()")  # another session call: still no reload
    page.wait_for_timeout(1500)
    assert page.evaluate("window.sameDocument === true")
    wait_for_screen(page, "thanks")
    (row,) = rows(tab.live, "SELECT receipt_code, text_body FROM reflection")
    assert row == {"receipt_code": code, "text_body": "Written while the prompt was being reworded"}

    # Done: back on the attract screen, the kiosk takes the new configuration.
    with page.expect_navigation(timeout=SCREEN_TIMEOUT_MS):
        page.click("[data-action=done]")
    wait_for_screen(page, "attract")
    assert page.evaluate("window.sameDocument === undefined")
    assert page_config(page)["prompts"][0]["text"] == NEW_PROMPT["en"]
    assert tab.js_errors == []


def test_a_kiosk_closed_for_missing_welsh_still_sends_what_it_holds(
    kiosk_page: Callable[..., KioskTab],
) -> None:
    """The event closes to kiosks (a new perspective has no Welsh name yet) while a kiosk holds
    a reflection it could not send: the "not open yet" page still sends it, and keeps the
    kiosk's heartbeat going. (It used to hold it unsent, and the studio said nothing waited.)"""
    tab = kiosk_page()
    page, live = tab.page, tab.live
    page.context.set_offline(True)  # the laptop is out of reach as the delegate submits
    write_reflection(page, "Kept through the closing")
    code = submit(page)
    with live.app.app_context():
        db = get_db()
        event = models.current_event(db)
        assert event is not None
        labels = {"en": "Student", "cy": None}
        perspectives.add_perspective(db, event.id, labels, "#225588", actor=None)

    page.click("[data-action=done]")  # home: where the kiosk may reload for a new config
    wait_for_screen(page, "attract")
    page.context.set_offline(False)
    with page.expect_navigation(timeout=SCREEN_TIMEOUT_MS):
        page.evaluate("() => { voxpopKiosk.flushNow(); }")  # the session says "closed"
    expect(page.locator("h1")).to_have_text("This kiosk is not open yet")
    deadline = SCREEN_TIMEOUT_MS / 250
    while not rows(live, "SELECT id FROM reflection WHERE receipt_code = ?", code):
        deadline -= 1
        assert deadline > 0, "the closed kiosk never sent what it held"
        page.wait_for_timeout(250)
    # Its heartbeat reaches the studio from the closed page too: nothing waits on it now.
    while rows(live, "SELECT id FROM kiosk WHERE outbox_count = 0") == []:
        deadline -= 1
        assert deadline > 0, "no heartbeat from the closed kiosk"
        page.wait_for_timeout(250)
    assert tab.js_errors == []
