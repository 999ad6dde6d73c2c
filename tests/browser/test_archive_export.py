"""The exported archive opened from file:// in real Chromium: no server, relative links only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Browser

from tests.browser.conftest import SCREEN_TIMEOUT_MS, shoot
from tests.conftest import add_reflection, check_captions, give_consent, process, rows
from voxpop.db import get_db
from voxpop.publishing.export import export_site


def publish(app: Flask, reflection_id: int) -> None:
    give_consent(app, reflection_id, online=1)
    assert process(app, reflection_id)["status"] == "ready"
    with app.app_context():
        get_db().execute(
            "UPDATE reflection SET review_state = 'approved', transcript_vtt = ? WHERE id = ?",
            ("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\nHello\n", reflection_id),
        )
    with app.app_context():
        kind = get_db().execute("SELECT kind FROM reflection WHERE id = ?", (reflection_id,))
        is_text = kind.fetchone()[0] == "text"
    if not is_text:
        check_captions(app, reflection_id)  # a person checked them: the captions gate opens


def test_exported_site_works_from_file_urls(
    app: Flask,
    browser: Browser,
    browser_context_args: dict[str, Any],
    webm_clip: Path,
    tmp_path: Path,
) -> None:
    video = add_reflection(app, "video", webm_clip, perspective="front-line-staff")
    text = add_reflection(app, "text", text="Sharing power is hard, and worth it.",
                          perspective="front-line-staff")  # fmt: skip
    for reflection_id in (video, text):
        publish(app, reflection_id)
    assert len(rows(app, "SELECT id FROM reflection WHERE review_state = 'approved'")) == 2
    site = tmp_path / "site"
    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, site)

    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    failed: list[str] = []
    # A media load cut short by leaving the page is "aborted"; anything else is a broken link.
    page.on("requestfailed", lambda request: request.failure == "net::ERR_ABORTED"
            or failed.append(f"{request.url}: {request.failure}"))  # fmt: skip
    page.goto((site / "index.html").as_uri())
    assert page.locator("h1").inner_text() == "Walk in their shoes"
    page.get_by_role("link", name="Front-line staff").click()
    page.wait_for_url("**/perspective-front-line-staff.html", timeout=SCREEN_TIMEOUT_MS)

    player = page.locator(f"#reflection-{video} video")
    player.scroll_into_view_if_needed()
    # preload="none" fetches nothing until asked: ask for the metadata, as pressing play would.
    player.evaluate("video => { video.preload = 'metadata'; video.load(); }")
    page.wait_for_function(
        f"() => document.querySelector('#reflection-{video} video').readyState >= 1",
        timeout=SCREEN_TIMEOUT_MS,
    )
    source = player.evaluate("video => video.currentSrc")
    duration = player.evaluate("video => video.duration")
    assert source == (site / f"media/reflections/{video}/video.mp4").as_uri()
    assert duration > 1
    for image in (f"#reflection-{video} img.clip-poster", f"#reflection-{text} img.quote-card"):
        page.locator(image).scroll_into_view_if_needed()
        page.wait_for_function(
            "selector => document.querySelector(selector).complete"
            " && document.querySelector(selector).naturalWidth > 0",
            arg=image,
            timeout=SCREEN_TIMEOUT_MS,
        )
    player.evaluate("video => { video.textTracks[0].mode = 'showing'; }")
    page.wait_for_function(
        f"() => (document.querySelector('#reflection-{video} video').textTracks[0].cues || [])"
        ".length === 1",
        timeout=SCREEN_TIMEOUT_MS,
    )
    assert page.locator(f"#reflection-{text} blockquote").inner_text().startswith("Sharing power")

    page.get_by_role("link", name="Cymraeg").click()
    page.wait_for_url("**/cy/perspective-front-line-staff.html", timeout=SCREEN_TIMEOUT_MS)
    assert page.locator("html").get_attribute("lang") == "cy"
    assert "Staff rheng flaen" in page.locator("h1").inner_text()
    assert not failed, failed
    context.close()


def test_the_exported_site_is_searchable_offline(
    app: Flask,
    browser: Browser,
    browser_context_args: dict[str, Any],
    tmp_path: Path,
) -> None:
    """The static copy has no server: its search page searches the index written beside it,
    from file://, under the page's own policy (script-src 'self'; a violation fails the test)."""
    from tests.archivedata import add_archived

    vtt = ("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nThe bus timetable was ours.\n\n"
           "00:00:03.000 --> 00:00:05.000\nNext time we ask the café first.\n")  # fmt: skip
    video = add_archived(app, "video", perspective="volunteer", transcript=vtt)
    text = add_archived(app, "text", perspective="manager", text="A cafe <b>owner</b> spoke.")
    add_archived(app, "video", transcript=vtt, captions="draft")  # held back by the gate
    site = tmp_path / "site"
    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, site)

    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    page.get_by_role("link", name="Search what was said").click()
    page.wait_for_url("**/search.html", timeout=SCREEN_TIMEOUT_MS)
    page.get_by_label("Words to find in the reflections and their captions").fill("CAFE")
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results > li').length === 2",
        timeout=SCREEN_TIMEOUT_MS,
    )
    found = page.locator("#search-results > li").evaluate_all(
        "items => items.map(li => Number(li.dataset.reflection))"
    )
    assert sorted(found) == sorted([video, text])
    assert page.locator("#search-summary").inner_text() == "2 reflections found."
    hit = page.locator(f'#search-results > li[data-reflection="{video}"] .search-hits li').first
    assert hit.inner_text() == "0:03 Next time we ask the café first."
    assert hit.locator("mark").inner_text() == "café"
    link = hit.locator("a.hit-time").get_attribute("href")
    assert link == f"media/reflections/{video}/video.mp4#t=3.0"
    # Text from the index is text, never markup.
    assert page.locator(f'#search-results > li[data-reflection="{text}"] b').count() == 0
    page.get_by_label("Words to find in the reflections and their captions").fill("bus timet")
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results > li').length === 1",
        timeout=SCREEN_TIMEOUT_MS,
    )
    shoot(page, path=str(Path("docs/img/archive-export-search.png")), full_page=True)

    page.get_by_role("link", name="Cymraeg").click()
    page.wait_for_url("**/cy/search.html", timeout=SCREEN_TIMEOUT_MS)
    page.get_by_label("Geiriau i'w canfod yn yr adlewyrchiadau a'u capsiynau").fill("caffi cafe")
    page.wait_for_function(
        "() => document.getElementById('search-summary').textContent.length > 0",
        timeout=SCREEN_TIMEOUT_MS,
    )
    assert page.locator("#search-summary").inner_text() == (
        "Dim wedi'i ganfod. Rhowch gynnig ar lai o eiriau, neu eiriau byrrach.")  # fmt: skip
    page.get_by_label("Geiriau i'w canfod yn yr adlewyrchiadau a'u capsiynau").fill("cafe")
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results > li').length === 2",
        timeout=SCREEN_TIMEOUT_MS,
    )
    href = page.locator(f'#search-results > li[data-reflection="{video}"] a.hit-time').first
    assert href.get_attribute("href") == f"../media/reflections/{video}/video.mp4#t=3.0"
    context.close()
