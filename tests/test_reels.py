"""Highlights reels (issue 6) with real ffmpeg: what a render contains, where, and for how long;
consent enforced below the UI; withdrawal and unapproval re-render without the clip; only
what changed is encoded again."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image

from tests import mediafiles
from tests.conftest import add_reflection, give_consent, process, requires_ffmpeg, rows, run_queued
from voxpop import create_app, models
from voxpop.db import get_db, transaction
from voxpop.media import vtt
from voxpop.reels import render
from voxpop.reels import service as reels

pytestmark = [requires_ffmpeg, pytest.mark.media]

COLOURS = {"volunteer": "#1f6f8b", "manager": "#c0392b", "government": "#6b3fa0"}
CAPTIONS = "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nWe were listened to.\n"


def make_app(folder: Path) -> Flask:
    return create_app({"INSTANCE": str(folder / "instance"), "UPLOADS": str(folder / "uploads"),
                       "TESTING": True, "QUEUE": "memory"})  # fmt: skip


def sql(app: Flask, statement: str, *params: Any) -> None:
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(statement, params)


@pytest.fixture(scope="module")
def processed_day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An event with four processed, approved, starred reflections with reel consent, and one
    without reel consent; built once, copied for each test."""
    folder = tmp_path_factory.mktemp("reel-day")
    media = folder / "media"
    media.mkdir()
    app = make_app(folder)
    with app.app_context():
        db = get_db()
        event = models.create_event(db, "Whose Shoes? Conwy", date="2026-11-23",
                                    venue="Parc Eirias", languages=["en"],
                                    max_clip_seconds=60)  # fmt: skip
        with transaction(db):
            for slug, colour in COLOURS.items():
                db.execute("UPDATE perspective SET colour = ? WHERE slug = ? AND event_id = ?",
                           (colour, slug, event.id))  # fmt: skip
    ids = {
        "landscape": add_reflection(app, "video", mediafiles.ipad_mp4(media / "a.mp4", seconds=7),
                                    perspective="volunteer", name="Siân"),
        "small": add_reflection(app, "video",
                                mediafiles.chromium_webm(media / "b.webm", seconds=3),
                                perspective="volunteer"),
        "text": add_reflection(app, "text", text="Commissioners heard us today, and acted.",
                               perspective="manager"),
        "audio": add_reflection(app, "audio", mediafiles.opus_webm(media / "c.webm", seconds=3),
                                perspective="government"),
        "no_reel": add_reflection(app, "video", mediafiles.ipad_mp4(media / "d.mp4", seconds=2),
                                  perspective="volunteer"),
    }  # fmt: skip
    for key, reflection_id in ids.items():
        give_consent(app, reflection_id, reel=0 if key == "no_reel" else 1,
                     show_name=1 if key == "landscape" else 0)  # fmt: skip
        assert process(app, reflection_id)["status"] == "ready"
        sql(app, "UPDATE reflection SET review_state = 'approved', starred = ? WHERE id = ?",
            0 if key == "no_reel" else 1, reflection_id)  # fmt: skip
    sql(app, "UPDATE reflection SET transcript_vtt = ? WHERE id = ?", CAPTIONS, ids["landscape"])
    return {"folder": folder, "ids": ids}


@pytest.fixture
def day(processed_day: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Flask, dict[str, int]]]:
    for name in ("instance", "uploads"):
        shutil.copytree(processed_day["folder"] / name, tmp_path / name)
    yield make_app(tmp_path), processed_day["ids"]


@pytest.fixture(scope="module")
def prepared_day(
    processed_day: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The same day with every clip's reel pieces prepared in the background, as the worker
    does after approval; built once, copied for each test that starts from a rendered reel.
    (The tests of a first render and of the preparation itself start from ``day``.)"""
    folder = tmp_path_factory.mktemp("reel-day-prepared")
    for name in ("instance", "uploads"):
        shutil.copytree(processed_day["folder"] / name, folder / name)
    app = make_app(folder)
    with app.app_context():
        assert reels.prepare_clips(get_db(), app.extensions["voxpop"].queue,
                                   processed_day["ids"].values()) == 3  # fmt: skip
    assert {outcome for _kind, _id, outcome in run_queued(app)} == {"done"}
    return {"folder": folder, "ids": processed_day["ids"]}


@pytest.fixture
def prepared(
    prepared_day: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[Flask, dict[str, int]]]:
    for name in ("instance", "uploads"):
        shutil.copytree(prepared_day["folder"] / name, tmp_path / name)
    yield make_app(tmp_path), prepared_day["ids"]


def new_reel(app: Flask, title: str = "Closing plenary") -> int:
    with app.app_context():
        db = get_db()
        return reels.create_reel(db, models.current_event(db), title, actor=None)


def render_now(app: Flask, reel_id: int) -> None:
    with app.app_context():
        db = get_db()
        reels.request_render(db, app.extensions["voxpop"].queue, models.current_event(db), reel_id)
    run_queued(app)


def reel_files(app: Flask, reel_id: int) -> dict[str, Path]:
    store = app.extensions["voxpop"].store
    assets = rows(app, "SELECT kind, path FROM reel_asset WHERE reel_id = ?", reel_id)
    return {asset["kind"]: store.path(asset["path"]) for asset in assets}


def plan_of(app: Flask, reel_id: int) -> render.ReelPlan:
    with app.app_context():
        return render.plan_reel(get_db(), app.extensions["voxpop"].store, reel_id)


def streams(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=codec_type,duration,width,height:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    data = json.loads(out)
    found: dict[str, Any] = {s["codec_type"]: s for s in data["streams"]}
    found["format"] = float(data["format"]["duration"])
    return found


def colour_at(mp4: Path, seconds: float, folder: Path) -> tuple[int, int, int]:
    """The average colour of a corner of the frame shown at ``seconds`` (cards fill corners)."""
    png = folder / f"frame-{seconds:.2f}.png"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{seconds:.3f}", "-i",
                    str(mp4), "-frames:v", "1", str(png)], check=True)  # fmt: skip
    with Image.open(png) as image:
        corner = image.convert("RGB").crop((8, 8, 48, 48)).resize((1, 1), Image.BOX)
        return corner.getpixel((0, 0))


def near(rgb: tuple[int, int, int], hex_colour: str, tolerance: int = 14) -> bool:
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, target, strict=True))


# -- proposals and consent ---------------------------------------------------------------------


def test_proposal_is_the_starred_reflections_with_reel_consent_in_perspective_order(day) -> None:
    app, ids = day
    reel_id = new_reel(app)
    order = [
        row["reflection_id"]
        for row in rows(
            app, "SELECT reflection_id FROM reel_item WHERE reel_id = ? ORDER BY position", reel_id
        )
    ]
    assert order == [ids["landscape"], ids["small"], ids["text"], ids["audio"]]  # fmt: skip


def test_a_reflection_without_reel_consent_is_refused_by_the_service_and_the_database(day) -> None:
    app, ids = day
    reel_id = new_reel(app)
    with app.app_context():
        db = get_db()
        with pytest.raises(reels.ReelError, match="did not agree to the highlights reel"):
            reels.add_item(db, models.current_event(db), reel_id, ids["no_reel"], actor=None)
        with pytest.raises(sqlite3.IntegrityError, match="reel consent required"):
            db.execute("INSERT INTO reel_item (reel_id, reflection_id, position) VALUES (?, ?, 9)",
                       (reel_id, ids["no_reel"]))  # fmt: skip
    assert not rows(app, "SELECT 1 FROM reel_item WHERE reflection_id = ?", ids["no_reel"])


# -- the render --------------------------------------------------------------------------------


def test_render_joins_cards_and_clips_in_order_with_captions_at_reel_time(day, tmp_path) -> None:
    app, ids = day
    reel_id = new_reel(app)
    render_now(app, reel_id)
    (reel,) = rows(app, "SELECT * FROM reel WHERE id = ?", reel_id)
    assert reel["status"] == "ready" and reel["rendered_revision"] == reel["revision"]
    files = reel_files(app, reel_id)
    plan = plan_of(app, reel_id)
    assert [planned.what for planned in plan.pieces] == [
        "intro", "section",
        f"clip {ids['landscape']} head", f"clip {ids['landscape']} rest",  # 7 s: 4 s head + rest
        f"clip {ids['small']} head",  # 3 s: all head (and made 1280×720 first)
        "section", f"clip {ids['text']}", "section", f"clip {ids['audio']} head", "outro",
    ]  # fmt: skip

    measured = streams(files["mp4"])
    assert float(measured["video"]["duration"]) == pytest.approx(plan.duration, abs=0.1)
    assert abs(float(measured["video"]["duration"]) - float(measured["audio"]["duration"])) < 0.05
    assert (measured["video"]["width"], measured["video"]["height"]) == (1280, 720)

    # Cards by colour at known times: the intro, each perspective's section card, the quote card.
    starts, offset = [], 0.0
    for planned in plan.pieces:
        starts.append((planned.what, offset))
        offset += planned.piece.duration
    at = dict(starts)
    assert near(colour_at(files["mp4"], 1.0, tmp_path), render.DEFAULT_CARD_COLOUR)
    sections = [start for what, start in starts if what == "section"]
    for start, slug in zip(sections, ["volunteer", "manager", "government"], strict=True):
        assert near(colour_at(files["mp4"], start + 1.5, tmp_path), COLOURS[slug])
    quote_start = at[f"clip {ids['text']}"]
    assert near(colour_at(files["mp4"], quote_start + 1.0, tmp_path), COLOURS["manager"])

    # The caption (0.5–1.5 s into the first clip) lands at the same moment of the reel.
    cues = vtt.parse_vtt(files["vtt"].read_text(encoding="utf-8"))
    clip_start = at[f"clip {ids['landscape']} head"]
    assert [(c.start, c.end, c.text) for c in cues] == [
        (pytest.approx(clip_start + 0.5, abs=0.002), pytest.approx(clip_start + 1.5, abs=0.002),
         "We were listened to.")]  # fmt: skip
    decode = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(files["mp4"]),
                             "-f", "null", "-"], capture_output=True, text=True)  # fmt: skip
    assert decode.returncode == 0 and decode.stderr.strip() == ""


def test_a_trimmed_clip_is_cut_at_keyframes_and_only_its_head_is_encoded_again(prepared) -> None:
    app, ids = prepared
    reel_id = new_reel(app)
    render_now(app, reel_id)
    store = app.extensions["voxpop"].store
    with app.app_context():
        first = render.plan_reel(get_db(), store, reel_id)
    assert not [p for p in first.pieces if p.missing]
    sql(app, "UPDATE reflection SET trim_in = 2.3, trim_out = 6.0 WHERE id = ?", ids["landscape"])
    with app.app_context():
        second = render.plan_reel(get_db(), store, reel_id)
        missing = [planned.what for planned in second.pieces if planned.missing]
        assert missing == [f"clip {ids['landscape']} head"]
        assert render.build_pieces(second.pieces) == 1
    clip = [p.piece for p in second.pieces if p.what.startswith(f"clip {ids['landscape']}")]
    assert sum(piece.duration for piece in clip) == pytest.approx(4.0)  # 2.0 → 6.0, snapped


def test_unapproving_a_clip_re_renders_every_reel_without_it(prepared, client_for) -> None:
    app, ids = prepared
    short, full = new_reel(app, "Three minutes"), new_reel(app, "Everything")
    render_now(app, short)
    render_now(app, full)
    before = plan_of(app, full).duration
    client = client_for(app)
    page = client.get(f"/review/{ids['landscape']}")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post(f"/review/{ids['landscape']}/state",
                         data={"state": "hidden", "csrf_token": token})  # fmt: skip
    assert answer.status_code in (200, 302, 303)
    queued = rows(app, "SELECT target_id FROM job WHERE kind = 'render_reel' AND status = 'queued'")
    assert sorted(job["target_id"] for job in queued) == [short, full]
    run_queued(app)
    for reel_id in (short, full):
        (reel,) = rows(app, "SELECT * FROM reel WHERE id = ?", reel_id)
        assert reel["status"] == "ready" and reel["rendered_revision"] == reel["revision"]
        plan = plan_of(app, reel_id)
        assert f"clip {ids['landscape']} head" not in [p.what for p in plan.pieces]
        files = reel_files(app, reel_id)
        assert float(streams(files["mp4"])["video"]["duration"]) == pytest.approx(
            plan.duration, abs=0.1)  # fmt: skip
        assert vtt.parse_vtt(files["vtt"].read_text(encoding="utf-8")) == []
    assert plan_of(app, full).duration < before - 6


def test_a_reel_left_with_nothing_to_show_keeps_no_file(day) -> None:
    app, ids = day
    with app.app_context():
        db = get_db()
        reel_id = reels.create_reel(
            db, models.current_event(db), "Just one", propose=False, actor=None
        )
        reels.add_item(db, models.current_event(db), reel_id, ids["text"], actor=None)
    render_now(app, reel_id)
    mp4 = reel_files(app, reel_id)["mp4"]
    assert mp4.exists()
    sql(app, "UPDATE reflection SET review_state = 'hidden' WHERE id = ?", ids["text"])
    with app.app_context():
        db = get_db()
        with transaction(db):
            reels.reflections_changed(db, [ids["text"]])
        reels.follow_up(db, app.extensions["voxpop"].queue)
    run_queued(app)
    (reel,) = rows(app, "SELECT * FROM reel WHERE id = ?", reel_id)
    assert reel["status"] == "draft" and "Nothing to show" in reel["failure_reason"]
    assert not mp4.exists() and reel_files(app, reel_id) == {}


@pytest.fixture
def client_for():
    def login(app: Flask):
        from tests.conftest import Auth

        client = app.test_client()
        Auth(app, client).login("organiser")
        return client

    return login


def test_pieces_prepared_in_the_background_leave_only_the_join_to_the_render(day) -> None:
    app, ids = day
    reel_id = new_reel(app)
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        reels.prepare_clips(get_db(), queue, ids.values())
    prepared = rows(app, "SELECT target_id FROM job WHERE kind = 'prepare_reel_clip'")
    # Text needs no head; no reel consent, no preparation.
    assert sorted(job["target_id"] for job in prepared) == sorted(
        [ids["landscape"], ids["small"], ids["audio"]]
    )
    run_queued(app)
    missing = [p.what for p in plan_of(app, reel_id).pieces if p.missing]
    assert missing == ["section"]  # only the text reflection's perspective card is left


def test_captions_can_be_burned_into_a_copy(prepared, tmp_path) -> None:
    app, ids = prepared
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        reel_id = reels.create_reel(db, event, "Captioned", propose=False, actor=None)
        reels.add_item(db, event, reel_id, ids["landscape"], actor=None)
        reels.update_settings(db, event, reel_id, title="Captioned", burn_captions=True,
                              archived=False, actor=None)  # fmt: skip
    render_now(app, reel_id)
    files = reel_files(app, reel_id)
    assert set(files) == {"mp4", "vtt", "captioned_mp4"}
    plain, burned = streams(files["mp4"]), streams(files["captioned_mp4"])
    assert float(burned["video"]["duration"]) == pytest.approx(
        float(plain["video"]["duration"]), abs=0.05
    )
    # At the caption's moment the captioned copy differs from the plain one near the bottom.
    when = render.INTRO_SECONDS + render.SECTION_SECONDS + 1.0
    frames = []
    for kind in ("mp4", "captioned_mp4"):
        png = tmp_path / f"{kind}.png"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{when}", "-i",
                        str(files[kind]), "-frames:v", "1", str(png)], check=True)  # fmt: skip
        with Image.open(png) as image:
            frames.append(image.convert("L").crop((320, 560, 960, 700)).tobytes())
    differing = sum(a != b for a, b in zip(frames[0], frames[1], strict=True))
    assert differing > 2000
