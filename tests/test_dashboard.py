"""The live dashboard: counts, hours, review states, missing voices, the kiosk banner, charts."""

from __future__ import annotations

import json
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask

from tests.conftest import Auth, KioskDevice
from voxpop import create_app, models
from voxpop.counts import (
    dashboard_stats,
    kiosk_banner,
    missing_perspectives,
    target_share,
)
from voxpop.db import get_db, transaction
from voxpop.media import charts, colours

pytestmark = pytest.mark.python_only

SVG = "{http://www.w3.org/2000/svg}"
EVENT_DAY = "2026-11-23"  # the conftest event's date


# -- helpers -----------------------------------------------------------------------------------


def seed(
    app: Flask,
    perspective: str,
    *,
    kind: str = "text",
    status: str = "ready",
    review_state: str = "waiting",
    created_at: str = f"{EVENT_DAY}T10:15:00+00:00",
) -> int:
    """Insert one reflection straight into the database (any kind, status, time)."""
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        perspective_id = next(
            p.id for p in models.perspectives(db, event.id) if p.slug == perspective
        )
        is_text = kind == "text"
        with transaction(db):
            cursor = db.execute(
                "INSERT INTO reflection (event_id, kind, perspective_id, prompt_id, text_body,"
                " original_path, status, review_state, receipt_code, client_id, lang, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', ?)",
                (
                    event.id,
                    kind,
                    perspective_id,
                    models.prompts(db, event.id)[0].id,
                    "A thought." if is_text else None,
                    None if is_text else f"originals/{uuid.uuid4().hex}.webm",
                    status,
                    review_state,
                    uuid.uuid4().hex[:7],
                    str(uuid.uuid4()),
                    created_at,
                ),
            )
        return int(cursor.lastrowid)


def set_branding(app: Flask, **settings: Any) -> None:
    """Change the event's branding JSON, as the settings page would."""
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        branding = {**event.branding, **settings}
        db.execute("UPDATE event SET branding = ? WHERE id = ?", (json.dumps(branding), event.id))


def set_label(app: Flask, slug: str, label: str) -> None:
    with app.app_context():
        get_db().execute(
            "UPDATE perspective SET labels = ? WHERE slug = ?", (json.dumps({"en": label}), slug)
        )


def stats_for(app: Flask, **kwargs: Any) -> Any:
    with app.app_context():
        db = get_db()
        return dashboard_stats(db, models.current_event(db), **kwargs)


def missing_slugs(app: Flask) -> list[str]:
    with app.app_context():
        db = get_db()
        return [p.slug for p in missing_perspectives(db, models.current_event(db))]


def banner(app: Flask, lang: str = "en") -> str | None:
    with app.test_request_context("/"):
        db = get_db()
        return kiosk_banner(db, models.current_event(db), lang)


def parse_svg(text: str) -> ET.Element:
    """Parse an SVG the app drew (our own output, so the stdlib parser is fine)."""
    return ET.fromstring(text)  # noqa: S314


def chart(client: Any, name: str) -> ET.Element:
    response = client.get(f"/studio/dashboard/{name}.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    return parse_svg(response.text)


def bars(svg: ET.Element) -> dict[str, tuple[int, bool]]:
    """Label -> (value, flagged) of every horizontal bar."""
    found = {}
    for group in svg.iter(f"{SVG}g"):
        if "bar" not in group.get("class", "").split():
            continue
        texts = group.findall(f"{SVG}text")
        value = next(t for t in texts if t.get("class") == "value")
        found[texts[0].text] = (int(value.text), "is-flagged" in group.get("class", ""))
    return found


def segments(svg: ET.Element) -> dict[str, dict[str, int]]:
    """Row label -> {kind label: count} of the stacked kind chart (zero kinds left out)."""
    found = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") != "stack":
            continue
        label = group.find(f"{SVG}text").text
        parts = {}
        for rect in group.findall(f"{SVG}rect"):
            name, _sep, count = rect.find(f"{SVG}title").text.rpartition(": ")
            parts[name] = int(count)
        found[label] = parts
    return found


def columns(svg: ET.Element) -> dict[str, int]:
    """Hour label -> count of the hourly chart."""
    found = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") != "column":
            continue
        texts = group.findall(f"{SVG}text")
        value = [t for t in texts if t.get("class") == "value"]
        found[texts[-1].text] = int(value[0].text) if value else 0
    return found


@pytest.fixture
def organiser(auth: Auth, client: Any) -> Any:
    auth.login("organiser")
    return client


# -- counts --------------------------------------------------------------------------------------


def test_counts_by_perspective_and_kind_match_seeded_data(app, kiosk, organiser) -> None:
    for slug in ["volunteer", "volunteer", "manager"]:
        assert kiosk.post(kiosk.form(perspective=slug)).status_code == 201
    seed(app, "volunteer", kind="video")
    seed(app, "manager", kind="audio")
    seed(app, "manager", kind="video", status="failed")  # failed still counts: they spoke
    seed(app, "government", kind="video", status="received")

    stats = stats_for(app)
    assert stats.total == 7
    assert stats.kinds == {"video": 3, "audio": 1, "text": 3}
    by_slug = {entry.perspective.slug: entry for entry in stats.perspectives}
    assert by_slug["volunteer"].kinds == {"video": 1, "audio": 0, "text": 2}
    assert by_slug["manager"].kinds == {"video": 1, "audio": 1, "text": 1}
    assert by_slug["government"].total == 1
    assert by_slug["organiser"].total == 0

    drawn = bars(chart(organiser, "perspectives"))
    assert list(drawn) == [
        "Community member",
        "Person using services or family",
        "Volunteer",
        "Front-line staff",
        "Service provider",
        "Manager or leader",
        "Commissioner or government",
        "Organiser",
    ]
    assert drawn["Volunteer"][0] == 3
    assert drawn["Manager or leader"][0] == 3
    assert drawn["Commissioner or government"][0] == 1
    assert drawn["Organiser"][0] == 0

    stacked = segments(chart(organiser, "kinds"))
    assert stacked["Volunteer"] == {"Video": 1, "Text": 2}
    assert stacked["Manager or leader"] == {"Video": 1, "Audio": 1, "Text": 1}
    assert stacked["Organiser"] == {}


def test_bars_are_drawn_in_each_perspectives_colour(app, organiser) -> None:
    seed(app, "volunteer")
    seed(app, "manager")
    fills = []
    for group in chart(organiser, "perspectives").iter(f"{SVG}g"):
        if "bar" in group.get("class", "").split():
            fills += [r.get("fill") for r in group.findall(f"{SVG}rect") if r.get("fill") != "none"]
    colours = {slug: colour for slug, _en, _cy, colour in models.DEFAULT_PERSPECTIVES}
    # Bars appear only for heard perspectives; the rest carry their "missing" badge fill.
    assert colours["volunteer"] in fills and colours["manager"] in fills


def test_withdrawn_reflections_never_count(app, kiosk, organiser) -> None:
    seed(app, "volunteer", kind="video", review_state="approved")
    seed(app, "volunteer", kind="video", status="withdrawn", review_state="approved")
    seed(app, "manager", kind="audio", status="withdrawn", created_at=f"{EVENT_DAY}T14:00:00Z")
    stats = stats_for(app, tz=UTC)
    assert stats.total == 1
    assert stats.kinds == {"video": 1, "audio": 0, "text": 0}
    assert stats.review == {"approved": 1, "waiting": 0, "hidden": 0}
    assert dict(stats.hours)[14] == 0
    assert "manager" in missing_slugs(app)  # its only reflection was withdrawn
    assert bars(chart(organiser, "perspectives"))["Manager or leader"] == (0, True)
    assert bars(chart(organiser, "review"))["Approved"] == (1, False)


def test_review_states_are_counted_and_drawn(app, organiser) -> None:
    for state, count in {"approved": 3, "waiting": 2, "hidden": 1}.items():
        for _ in range(count):
            seed(app, "volunteer", review_state=state)
    assert stats_for(app).review == {"approved": 3, "waiting": 2, "hidden": 1}
    drawn = bars(chart(organiser, "review"))
    assert {label: value for label, (value, _flag) in drawn.items()} == {
        "Approved": 3,
        "Waiting": 2,
        "Hidden": 1,
    }


# -- hours ---------------------------------------------------------------------------------------

PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("created_at", "tz", "hour"),
    [
        (f"{EVENT_DAY}T10:00:00+00:00", UTC, 10),
        (f"{EVENT_DAY}T10:59:59+00:00", UTC, 10),
        (f"{EVENT_DAY}T11:00:00+00:00", UTC, 11),
        (f"{EVENT_DAY}T10:30:00+00:00", PLUS_ONE, 11),  # stored in UTC, shown in local time
        (f"{EVENT_DAY}T07:45:00+00:00", UTC, 7),  # before 09:00 widens the chart
        (f"{EVENT_DAY}T18:05:00+00:00", UTC, 18),  # so does after 17:00
        (f"{EVENT_DAY}T23:30:00+00:00", timezone(timedelta(hours=-5)), 18),
        ("2026-11-22T23:30:00+00:00", PLUS_ONE, 0),  # the day before in UTC, the day in +01
    ],
)
def test_reflections_land_in_their_local_hour(app, created_at, tz, hour) -> None:
    seed(app, "volunteer", created_at=created_at)
    stats = stats_for(app, tz=tz)
    hours = dict(stats.hours)
    assert hours[hour] == 1
    assert sum(hours.values()) == 1 and stats.other_days == 0
    assert min(hours) == min(9, hour) and max(hours) == max(16, hour)


def test_hours_cover_the_event_day_only(app) -> None:
    seed(app, "volunteer", created_at=f"{EVENT_DAY}T09:10:00+00:00")
    seed(app, "volunteer", created_at=f"{EVENT_DAY}T09:50:00+00:00")
    seed(app, "manager", created_at=f"{EVENT_DAY}T13:20:00+00:00")
    seed(app, "manager", created_at="2026-11-22T13:20:00+00:00")  # the rehearsal
    stats = stats_for(app, tz=UTC)
    assert str(stats.day) == EVENT_DAY
    assert stats.hours == [(9, 2), (10, 0), (11, 0), (12, 0), (13, 1), (14, 0), (15, 0), (16, 0)]
    assert stats.other_days == 1
    assert stats.total == 4  # the rehearsal still counts towards the totals


def test_without_an_event_date_the_day_is_the_newest_reflections(app) -> None:
    with app.app_context():
        get_db().execute("UPDATE event SET date = NULL")
    seed(app, "volunteer", created_at="2026-11-20T10:00:00+00:00")
    seed(app, "volunteer", created_at="2026-11-21T12:00:00+00:00")
    stats = stats_for(app, tz=UTC)
    assert str(stats.day) == "2026-11-21"
    assert dict(stats.hours)[12] == 1 and stats.other_days == 1


def test_hour_chart_uses_the_laptops_time_zone(app, organiser, monkeypatch) -> None:
    # POSIX TZ: "VPT-02" is two hours ahead of UTC (no tz database needed).
    monkeypatch.setenv("TZ", "VPT-02")
    time.tzset()
    try:
        seed(app, "volunteer", created_at=f"{EVENT_DAY}T08:30:00+00:00")
        seed(app, "volunteer", created_at=f"{EVENT_DAY}T08:45:00+00:00")
        seed(app, "manager", created_at=f"{EVENT_DAY}T12:00:00+00:00")
        svg = chart(organiser, "hours")
    finally:
        monkeypatch.undo()
        time.tzset()
    drawn = columns(svg)
    assert drawn["10:00"] == 2 and drawn["14:00"] == 1 and drawn["09:00"] == 0
    assert "VPT" in "".join(svg.itertext())


# -- missing voices ------------------------------------------------------------------------------

ALL_SLUGS = [slug for slug, _en, _cy, _colour in models.DEFAULT_PERSPECTIVES]
UNHEARD = ["service-user", "front-line-staff", "provider", "government", "organiser"]


@pytest.mark.parametrize(
    ("target", "missing"),
    [
        (None, UNHEARD),  # absent: 5%
        (0.05, UNHEARD),
        (0.1, UNHEARD),  # community member has exactly 10%: not below
        (0.15, ["community-member", *UNHEARD]),
        (0.35, ["community-member", *UNHEARD, "manager"]),
        (0.9, ["community-member", *UNHEARD, "manager"]),  # capped at 50%
        (0, []),  # 0 turns the highlighting off
        ("0.15", ["community-member", *UNHEARD]),
        ("lots", UNHEARD),  # unreadable: the default
    ],
)
def test_missing_list_follows_the_target_setting(app, target, missing) -> None:
    for slug, count in {"volunteer": 6, "manager": 3, "community-member": 1}.items():
        for _ in range(count):
            seed(app, slug)
    if target is not None:
        set_branding(app, missing_voices_target=target)
    assert sorted(missing_slugs(app)) == sorted(missing)
    assert {p.slug for p in stats_for(app).missing} == set(missing)


@pytest.mark.parametrize(
    ("value", "share"),
    [(None, 0.05), (0.2, 0.2), (-1, 0.0), (2, 0.5), (True, 0.05), ("x", 0.05), ("nan", 0.05)],
)
def test_target_share_is_read_with_its_default_and_bounds(value, share) -> None:
    branding = {} if value is None else {"missing_voices_target": value}
    event = models.Event(1, "e", None, None, ["en"], 90, 60, 1000, branding)
    assert target_share(event) == share


def test_with_no_reflections_every_perspective_is_missing(app, organiser) -> None:
    assert missing_slugs(app) == ALL_SLUGS
    assert all(flagged for _value, flagged in bars(chart(organiser, "perspectives")).values())
    page = organiser.get("/studio/dashboard").text
    assert "No reflections yet" in page


def test_missing_perspectives_are_highlighted_with_the_target(app, organiser) -> None:
    for slug, count in {"volunteer": 8, "manager": 1}.items():
        for _ in range(count):
            seed(app, slug)
    set_branding(app, missing_voices_target=0.2)
    svg = chart(organiser, "perspectives")
    drawn = bars(svg)
    assert drawn["Volunteer"] == (8, False)
    assert drawn["Manager or leader"] == (1, True)
    assert drawn["Organiser"] == (0, True)
    flagged = [g for g in svg.iter(f"{SVG}g") if "is-flagged" in g.get("class", "")]
    assert all("missing" in "".join(g.itertext()) for g in flagged)
    assert "target 20%" in "".join(svg.itertext())
    page = organiser.get("/studio/dashboard/live").text
    assert "below 20% of reflections" in page
    assert 'data-slug="manager"' in page.split('class="missing-list"')[1].split("</ul>")[0]


# -- the kiosk banner ----------------------------------------------------------------------------


def test_banner_appears_only_with_the_setting_on(app) -> None:
    seed(app, "volunteer")
    assert banner(app) is None  # default: off
    set_branding(app, missing_voices_banner=False)
    assert banner(app) is None
    set_branding(app, missing_voices_banner=True)
    text = banner(app)
    assert text is not None and text.startswith("We'd love to hear more from: ")


def test_banner_names_the_least_heard_missing_perspectives_first(app) -> None:
    for slug, count in {"volunteer": 20, "manager": 1, "community-member": 2}.items():
        for _ in range(count):
            seed(app, slug)
    # Below 10%: manager (1), community member (2) and the five unheard ones.
    set_branding(app, missing_voices_banner=True, missing_voices_target=0.1)
    assert banner(app) == (
        "We'd love to hear more from: Person using services or family, Front-line staff,"
        " and Service provider"
    )
    seed(app, "service-user", kind="video")
    for slug in ["front-line-staff", "provider", "government", "organiser"]:
        for _ in range(4):
            seed(app, slug)
    # Now 40 reflections: only these three are below 10% (4 is not below).
    assert banner(app) == (
        "We'd love to hear more from: Person using services or family, Manager or leader,"
        " and Community member"
    )


def test_banner_uses_the_kiosks_language_for_labels(app) -> None:
    seed(app, "volunteer", kind="video")
    set_branding(app, missing_voices_banner=True, missing_voices_target=0.5)
    text = banner(app, "cy")
    assert "Aelod o'r gymuned" in text and "Community member" not in text


def test_banner_sentence_is_translated_into_the_kiosks_language(tmp_path, monkeypatch) -> None:
    # A one-message Welsh catalogue: the sentence follows the kiosk's language, not the
    # language of whoever's request happens to build it.
    catalog = Catalog(locale="cy")
    catalog.add(
        "We'd love to hear more from: %(perspectives)s",
        "Hoffem glywed mwy gan: %(perspectives)s",
    )
    folder = tmp_path / "translations" / "cy" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    app = create_app(
        {
            "INSTANCE": str(tmp_path / "instance"),
            "UPLOADS": str(tmp_path / "uploads"),
            "TESTING": True,
            "QUEUE": "memory",
            "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "translations"),
        }
    )
    # Flask-Babel caches catalogues on the one shared Babel object, across apps: start this
    # app with an empty cache, and give the other tests theirs back afterwards.
    monkeypatch.setattr(app.extensions["babel"].instance.domain_instance, "cache", {})
    with app.app_context():
        models.create_event(get_db(), "Diwrnod", languages=["cy", "en"])
    seed(app, "volunteer")
    set_branding(app, missing_voices_banner=True, missing_voices_target=0.5)
    with app.test_request_context("/?lang=en"):
        db = get_db()
        event = models.current_event(db)
        assert kiosk_banner(db, event, "cy").startswith("Hoffem glywed mwy gan: Aelod o'r gymuned")
        assert kiosk_banner(db, event, "en").startswith("We'd love to hear more from: Community")


def test_banner_stays_quiet_without_reflections_or_missing_voices(app) -> None:
    set_branding(app, missing_voices_banner=True)
    assert banner(app) is None  # nothing recorded yet: every perspective is "missing"
    seed(app, "volunteer", status="withdrawn")
    assert banner(app) is None  # withdrawn ones do not count
    for slug in ALL_SLUGS:
        seed(app, slug)
    assert banner(app) is None  # everyone has been heard


def test_dashboard_previews_the_banner(app, organiser) -> None:
    seed(app, "volunteer")
    assert "Kiosk banner is off." in organiser.get("/studio/dashboard/live").text
    set_branding(app, missing_voices_banner=True, missing_voices_target=0.5)
    page = organiser.get("/studio/dashboard/live").text
    assert "Kiosk banner is on and shows:" in page
    assert "We&#39;d love to hear more from: Community member" in page


# -- the page, the fragment and the charts -------------------------------------------------------


def test_labels_with_markup_are_escaped_in_every_chart(app, organiser) -> None:
    evil = "<script>alert('x')</script> & <b>friends</b>"
    set_label(app, "volunteer", evil)
    seed(app, "volunteer")
    for name in ["perspectives", "kinds"]:
        response = organiser.get(f"/studio/dashboard/{name}.svg")
        assert "<script>" not in response.text and "<b>" not in response.text
        assert "&lt;script&gt;" in response.text
        svg = parse_svg(response.text)  # well-formed, and the label survives as text
        assert not list(svg.iter(f"{SVG}script"))
        assert evil in [element.text for element in svg.iter(f"{SVG}text")]
    page = organiser.get("/studio/dashboard").text
    assert "<script>alert" not in page and "<b>friends" not in page


def test_hostile_colours_do_not_reach_the_markup(app, organiser) -> None:
    with app.app_context():
        get_db().execute(
            "UPDATE perspective SET colour = ? WHERE slug = 'volunteer'",
            ('red" onload="alert(1)',),
        )
    seed(app, "volunteer")
    svg = organiser.get("/studio/dashboard/perspectives.svg").text
    assert "onload" not in svg and colours.FALLBACK_COLOUR in svg
    assert "onload" not in organiser.get("/studio/dashboard").text


@pytest.mark.parametrize("name", ["perspectives", "kinds", "hours", "review"])
def test_every_chart_is_labelled_for_screen_readers(app, organiser, name) -> None:
    seed(app, "volunteer", kind="audio", created_at=f"{EVENT_DAY}T11:00:00+00:00")
    svg = chart(organiser, name)
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title.text and desc.text
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert any(character.isdigit() for character in desc.text)  # the numbers, in words


def test_page_has_charts_and_number_tables(app, organiser) -> None:
    seed(app, "volunteer", kind="video")
    seed(app, "volunteer", kind="text")
    page = organiser.get("/studio/dashboard")
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") == 4
    assert 'id="dashboard-live"' in html and "js/dashboard.js" in html
    assert "css/dashboard.css" in html
    row = html.split('<tr data-slug="volunteer">')[1].split("</tr>")[0]
    assert "<td>2</td><td>100%</td><td>no</td>" in row


def test_fragment_is_uncached_and_marked_for_the_script(app, organiser) -> None:
    response = organiser.get("/studio/dashboard/live")
    assert response.status_code == 200
    assert response.headers["X-Voxpop-Fragment"] == "dashboard"
    assert "no-store" in response.headers["Cache-Control"]
    assert "<html" not in response.text and response.text.count("<svg") == 4


def test_fragment_follows_new_reflections(app, kiosk, organiser) -> None:
    before = organiser.get("/studio/dashboard/live").text
    assert 'data-total="0"' in before
    kiosk.post(kiosk.form(perspective="provider"))
    after = organiser.get("/studio/dashboard/live").text
    assert 'data-total="1"' in after


def label_sizes(svg: ET.Element) -> set[float]:
    """The type sizes of the row labels (a bar's or a stack's name) in a chart."""
    return {
        float(text.get("font-size", "0"))
        for group in svg.iter(f"{SVG}g")
        if group.get("class", "").split()[0] in {"bar", "stack"}
        for text in group.findall(f"{SVG}text")
        if text.get("font-weight") == "600"
    }


def test_big_screen_draws_its_charts_with_larger_type(app, organiser) -> None:
    """?big=1 reaches the charts on the page, in the live fragment the page fetches, and
    on a chart of its own; without it the charts are as before."""
    seed(app, "volunteer")
    page = organiser.get("/studio/dashboard?big=1").text
    assert 'data-live-url="/studio/dashboard/live?big=1"' in page
    assert 'data-live-url="/studio/dashboard/live"' in organiser.get("/studio/dashboard").text
    for name in ("perspectives", "kinds"):
        normal = label_sizes(chart(organiser, name))
        big = label_sizes(parse_svg(organiser.get(f"/studio/dashboard/{name}.svg?big=1").text))
        assert normal == {charts.NORMAL.label} and big == {charts.BIG.label}
    for query, style in [("", charts.NORMAL), ("?big=1", charts.BIG)]:
        fragment = organiser.get(f"/studio/dashboard/live{query}").text
        svg = parse_svg(fragment.split("</figcaption>", 1)[1].split("<table", 1)[0].strip())
        assert label_sizes(svg) == {style.label}
    # Big screen: hours as "09" (a third of the width); the laptop keeps "09:00".
    hours = [text.text for text in chart(organiser, "hours").iter(f"{SVG}text")]
    big_hours = [
        text.text
        for text in parse_svg(organiser.get("/studio/dashboard/hours.svg?big=1").text).iter(
            f"{SVG}text"
        )
    ]
    assert "10:00" in hours and "10:00" not in big_hours and "10" in big_hours


def test_unknown_chart_is_not_found(organiser) -> None:
    assert organiser.get("/studio/dashboard/secrets.svg").status_code == 404


@pytest.mark.parametrize(
    "path", ["/studio/dashboard", "/studio/dashboard/live", "/studio/dashboard/hours.svg"]
)
@pytest.mark.parametrize(
    ("audience", "status"),
    [("anonymous", 302), ("kiosk", 302), ("facilitator", 200), ("organiser", 200)],
)
def test_who_may_see_the_dashboard(app, path, audience, status) -> None:
    client = app.test_client()
    if audience == "kiosk":
        client = KioskDevice(app).client
    elif audience != "anonymous":
        Auth(app, client).login(audience)
    response = client.get(path)
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.location


# -- chart builders ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("colour", "safe"),
    [
        ("#2a7236", "#2a7236"),
        ("#ABC", "#ABC"),
        ("red", colours.FALLBACK_COLOUR),
        ("#2a7236; fill:url(x)", colours.FALLBACK_COLOUR),
        ("", colours.FALLBACK_COLOUR),
    ],
)
def test_only_plain_hex_colours_are_drawn(colour, safe) -> None:
    assert colours.safe_colour(colour) == safe


def test_chart_ids_are_checked() -> None:
    with pytest.raises(ValueError, match="Chart ids"):
        charts.horizontal_bars([], chart_id='x" onload="y', title="t", desc="d")


LONG_WELSH = "Person sy'n defnyddio gwasanaethau, neu deulu"  # 45 characters


@pytest.mark.parametrize(
    ("style", "label", "lines", "size"),
    [
        (charts.NORMAL, "Volunteer", ["Volunteer"], 30),
        (charts.NORMAL, LONG_WELSH, [LONG_WELSH], 30),  # fits the laptop's type
        (charts.NORMAL, "w" * 60, ["w" * 60], 25),  # one line, smaller type
        (charts.BIG, "Volunteer", ["Volunteer"], 48),
        # Big screen: two lines at full size rather than one in small type.
        (charts.BIG, LONG_WELSH, ["Person sy'n defnyddio", "gwasanaethau, neu deulu"], 48),
        (charts.BIG, "w" * 60, ["w" * 60], 25),  # no space to break at: smaller type
        (charts.BIG, ("word " * 16).strip(), [("word " * 8).strip()] * 2, 38.5),  # both
    ],
)
def test_row_labels_fit_the_chart(style, label, lines, size) -> None:
    for svg in [
        charts.horizontal_bars(
            [charts.Bar(label, 3, "#137a4b"), charts.Bar("Next", 1, "#137a4b")],
            chart_id="a",
            title="t",
            desc="d",
            style=style,
        ),
        charts.stacked_bars(
            [
                charts.StackedRow(label, [charts.Segment("Text", 3, "#137a4b")]),
                charts.StackedRow("Next", [charts.Segment("Text", 1, "#137a4b")]),
            ],
            legend=[],
            chart_id="b",
            title="t",
            desc="d",
            style=style,
        ),
    ]:
        drawn = [
            text for text in parse_svg(svg).iter(f"{SVG}text") if text.get("font-weight") == "600"
        ]
        assert [text.text for text in drawn] == [*lines, "Next"]
        assert [float(text.get("font-size", "0")) for text in drawn[:-1]] == [size] * len(lines)
        # The lines of a label stack downwards, its bar comes after them, then the next row.
        baselines = [float(text.get("y", "0")) for text in drawn]
        bar_tops = [
            float(rect.get("y", "0"))
            for rect in parse_svg(svg).iter(f"{SVG}rect")
            if rect.get("fill") == "#137a4b"
        ]
        assert baselines[:-1] == sorted(baselines[:-1])
        assert baselines[-2] < bar_tops[0] < baselines[-1] < bar_tops[1]


def test_empty_charts_are_still_valid_svg() -> None:
    for svg in [
        charts.horizontal_bars([], chart_id="a", title="t", desc="d"),
        charts.stacked_bars([], legend=[], chart_id="b", title="t", desc="d"),
        charts.column_chart([], colour="#000", chart_id="c", title="t", desc="d", axis_label="x"),
        charts.horizontal_bars([], chart_id="a", title="t", desc="d", style=charts.BIG),
        charts.stacked_bars([], legend=[], chart_id="b", title="t", desc="d", style=charts.BIG),
    ]:
        assert parse_svg(svg).tag == f"{SVG}svg"
