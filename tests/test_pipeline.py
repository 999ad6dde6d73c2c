"""The worker's pipeline on real media: every input family ends ready in the delivery format,
hostile files end failed with a reason, and outputs carry nothing of what they should not."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests import mediafiles
from tests.conftest import add_reflection, process, requires_ffmpeg, rows
from voxpop import jobs, reasons
from voxpop.db import get_db
from voxpop.media import posters, transcode
from voxpop.media.images import open_image_safely

pytestmark = [requires_ffmpeg, pytest.mark.media]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of generated inputs shared by the module (made once)."""
    return tmp_path_factory.mktemp("clips")


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return json.loads(out)


def keyframe_times(path: Path) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey",
         "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [float(line.strip(",")) for line in out.split() if line.strip(",")]


def integrated_loudness(path: Path) -> float:
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:a",
         "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    summary = result.stderr.rsplit("Summary:", 1)[1]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))


def assets(app: Flask, reflection_id: int) -> dict[str, Path]:
    store = app.extensions["voxpop"].store
    found = rows(app, "SELECT kind, path, sha256, bytes FROM asset WHERE reflection_id = ?",
                 reflection_id)  # fmt: skip
    return {row["kind"]: store.root / row["path"] for row in found}


VIDEO_CASES: list[tuple[str, Callable[[Path], Path], tuple[int, int], float]] = [
    ("chromium-webm-vp8-opus", lambda d: mediafiles.chromium_webm(d / "chromium.webm"),
     (640, 360), 4.0),
    ("ipad-mp4-h264-aac", lambda d: mediafiles.ipad_mp4(d / "ipad.mp4"), (1280, 720), 4.0),
    ("phone-1080p-rotated", lambda d: mediafiles.rotated_phone_mp4(d / "phone.mp4"),
     (720, 1280), 4.0),
    ("chromium-vp9-in-mp4", lambda d: mediafiles.vp9_in_mp4(d / "vp9.mp4"), (640, 480), 4.0),
    ("video-without-sound", lambda d: mediafiles.silent_video_mp4(d / "silent.mp4"),
     (640, 360), 4.0),
]  # fmt: skip


def assert_delivery_mp4(path: Path, size: tuple[int, int], duration: float,
                        loud: bool = True) -> None:  # fmt: skip
    info = ffprobe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (video["width"], video["height"]) == size
    assert video["r_frame_rate"] == "30/1" and video["avg_frame_rate"] == "30/1"
    assert not any("rotation" in side for side in video.get("side_data_list", []))
    assert (audio["codec_name"], audio["profile"]) == ("aac", "LC")
    assert (int(audio["sample_rate"]), audio["channels"]) == (48000, 2)
    assert abs(float(info["format"]["duration"]) - duration) < 0.25
    keys = keyframe_times(path)
    assert keys == pytest.approx([2.0 * i for i in range(len(keys))], abs=0.02)
    assert keys[-1] > duration - 2.1, "a keyframe every 2 s right to the end"
    tags = info["format"].get("tags", {})
    assert not set(tags) - {"major_brand", "minor_version", "compatible_brands"}, tags
    with open(path, "rb") as handle:
        head = handle.read(4096)
    assert b"moov" in head, "+faststart puts the index first"
    if loud:
        assert integrated_loudness(path) == pytest.approx(-16.0, abs=1.0)


@pytest.mark.parametrize(("name", "make", "size", "duration"), VIDEO_CASES,
                         ids=[case[0] for case in VIDEO_CASES])  # fmt: skip
def test_video_becomes_a_delivery_mp4_with_poster(app, clips, name, make, size, duration) -> None:
    reflection_id = add_reflection(app, "video", make(clips))
    reflection = process(app, reflection_id)
    assert reflection["status"] == "ready", reflection["failure_reason"]
    assert reflection["duration_seconds"] == pytest.approx(duration, abs=0.1)
    files = assets(app, reflection_id)
    assert set(files) == {"mp4", "poster", "thumb"}
    assert_delivery_mp4(files["mp4"], size, duration, loud=name != "video-without-sound")
    from PIL import Image

    with Image.open(files["poster"]) as poster:
        assert poster.format == "JPEG"
        assert (poster.width > poster.height) == (size[0] > size[1])
        assert not poster.getexif() and "exif" not in poster.info
    with Image.open(files["thumb"]) as thumb:
        assert thumb.format == "WEBP" and thumb.width == 320


def test_poster_candidates_come_from_one_ffmpeg_run_in_time_order(tmp_path: Path) -> None:
    """Two seconds of black, then two of picture: the strip holds the four frames asked for,
    left to right, and the poster is one of the two with picture."""
    clip = tmp_path / "black-then-picture.mp4"
    mediafiles.ffmpeg(
        "-f", "lavfi", "-i", "color=black:size=320x180:rate=30:d=2",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:d=2",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip),
    )  # fmt: skip
    strip = transcode.extract_frames(clip, [0.5, 1.5, 2.5, 3.5], tmp_path / "strip.png")
    frames = posters.split_frames(open_image_safely(strip), 4)
    assert [frame.size for frame in frames] == [(320, 180)] * 4
    assert [posters.is_mostly_black(frame) for frame in frames] == [True, True, False, False]
    assert posters.choose_poster_frame(frames) in frames[2:]
    with pytest.raises(ValueError, match="at least one time"):
        transcode.extract_frames(clip, [], tmp_path / "none.png")


@pytest.mark.parametrize(
    "make",
    [lambda d: mediafiles.opus_webm(d / "voice.webm"), lambda d: mediafiles.aac_m4a(d / "v.m4a")],
    ids=["opus-webm", "aac-m4a"],
)
def test_audio_becomes_the_same_mp4_over_a_card(app, clips, make) -> None:
    reflection_id = add_reflection(app, "audio", make(clips), perspective="manager")
    reflection = process(app, reflection_id)
    assert reflection["status"] == "ready", reflection["failure_reason"]
    files = assets(app, reflection_id)
    assert set(files) == {"mp4", "poster", "thumb", "card"}
    assert_delivery_mp4(files["mp4"], (1280, 720), 4.0)


def stream_durations(path: Path) -> dict[str, float]:
    info = ffprobe(path)
    return {s["codec_type"]: float(s["duration"]) for s in info["streams"]}


@pytest.mark.parametrize("volume", ["-24dB", "+8dB"], ids=["quiet", "loud"])
def test_audio_clip_keeps_its_length_and_lands_at_minus_16_lufs(app, clips, volume) -> None:
    """The still card is one GOP looped by copy: a length that is not a whole number of GOPs
    still ends with its sound, and the sound is normalised from one ebur128 measurement."""
    source = clips / f"voice{volume}.webm"
    mediafiles.ffmpeg("-f", "lavfi", "-i", "sine=frequency=200:sample_rate=48000",
                      "-f", "lavfi", "-i", "anoisesrc=c=pink:r=48000:a=0.05:seed=3",
                      "-filter_complex", f"[0][1]amix=inputs=2,tremolo=f=3:d=0.7,volume={volume}",
                      "-t", "7.3", "-c:a", "libopus", str(source))  # fmt: skip
    reflection_id = add_reflection(app, "audio", source)
    reflection = process(app, reflection_id)
    assert reflection["status"] == "ready", reflection["failure_reason"]
    mp4 = assets(app, reflection_id)["mp4"]
    assert_delivery_mp4(mp4, (1280, 720), 7.3)
    durations = stream_durations(mp4)
    assert durations["video"] == pytest.approx(7.3, abs=0.1)
    assert durations["audio"] == pytest.approx(7.3, abs=0.1)
    assert float(ffprobe(mp4)["format"]["duration"]) == pytest.approx(7.3, abs=0.1)
    assert integrated_loudness(mp4) == pytest.approx(-16.0, abs=1.0)
    assert not [p.name for p in mp4.parent.iterdir() if p.name.startswith(".")], "no leftovers"


def test_a_still_clip_has_the_parameter_sets_of_a_camera_clip(app, clips) -> None:
    """The reel joins by stream copy: the looped still GOP must carry the same SPS/PPS."""
    video_id = add_reflection(app, "video", mediafiles.ipad_mp4(clips / "sps.mp4", seconds=2))
    audio_id = add_reflection(app, "audio", mediafiles.aac_m4a(clips / "sps.m4a", seconds=3))
    extradata = []
    for reflection_id in (video_id, audio_id):
        assert process(app, reflection_id)["status"] == "ready"
        mp4 = assets(app, reflection_id)["mp4"]
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_data",
             "-show_entries", "stream=extradata", "-of", "json", str(mp4)],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        extradata.append(json.loads(out)["streams"][0]["extradata"])
    assert extradata[0] == extradata[1]


def test_audio_reflections_with_the_same_card_share_one_encoded_gop(
    app, clips, monkeypatch
) -> None:
    from voxpop.media import transcode

    encoded = []
    real_still_gop = transcode._still_gop
    monkeypatch.setattr(transcode, "_still_gop",
                        lambda *args: encoded.append(args) or real_still_gop(*args))  # fmt: skip
    first = add_reflection(app, "audio", mediafiles.aac_m4a(clips / "same1.m4a", seconds=3))
    second = add_reflection(app, "audio", mediafiles.opus_webm(clips / "same2.webm", seconds=5))
    for reflection_id in (first, second):
        assert process(app, reflection_id)["status"] == "ready"
        assert_delivery_mp4(
            assets(app, reflection_id)["mp4"], (1280, 720), 3 if reflection_id == first else 5
        )
    assert len(encoded) == 1, "the second reflection reused the first one's card GOP"
    store = app.extensions["voxpop"].store
    assert len(list((store.derived / "audio-card-gops").iterdir())) == 1


def test_loudness_gain_is_linear_unless_the_peak_limit_forbids_it() -> None:
    from voxpop.media.transcode import DELIVERY, _loudness_filter

    quiet = {"input_i": "-30.0", "input_tp": "-20.0", "input_lra": "4.0", "input_thresh": "-40"}
    assert _loudness_filter(quiet, DELIVERY).startswith("volume=14.00dB,")
    peaky = {**quiet, "input_tp": "-10.0"}  # +14 dB would put the peak at +4 dBTP
    assert _loudness_filter(peaky, DELIVERY).startswith("loudnorm=I=-16.0:")
    wide = {**quiet, "input_lra": "15.0"}
    assert _loudness_filter(wide, DELIVERY).startswith("loudnorm=")
    assert _loudness_filter(None, DELIVERY).startswith("aresample=48000,")


def test_text_becomes_a_quote_card_and_a_short_clip(app) -> None:
    text = "Gweld y dydd drwy esgidiau rhywun arall — ŵ ŷ â. We listened, and it changed us."
    reflection_id = add_reflection(app, "text", text=text, name="Siân")
    reflection = process(app, reflection_id)
    assert reflection["status"] == "ready", reflection["failure_reason"]
    files = assets(app, reflection_id)
    assert set(files) == {"mp4", "poster", "thumb", "card"}
    from voxpop.media.cards import words_to_seconds

    assert_delivery_mp4(files["mp4"], (1280, 720), words_to_seconds(text), loud=False)
    from PIL import Image

    with Image.open(files["card"]) as card:
        assert card.size == (1280, 720)


def test_processing_twice_gives_the_same_files_and_no_duplicate_assets(app, clips) -> None:
    reflection_id = add_reflection(
        app, "video", mediafiles.ipad_mp4(clips / "twice.mp4", size="640x360")
    )
    process(app, reflection_id)
    first = rows(app, "SELECT kind, sha256 FROM asset WHERE reflection_id = ? ORDER BY kind",
                 reflection_id)  # fmt: skip
    process(app, reflection_id)
    second = rows(app, "SELECT kind, sha256 FROM asset WHERE reflection_id = ? ORDER BY kind",
                  reflection_id)  # fmt: skip
    assert first == second


def _canary(clips: Path) -> Path:
    return mediafiles.chromium_webm(clips / "canary-secret.webm", seconds=2)


HOSTILE: list[tuple[str, Callable[[Path], Path], str]] = [
    ("hls-playlist", lambda d: mediafiles.hls_playlist(d / "playlist.mp4", _canary(d)),
     "not a recording in a format we accept"),
    ("ffconcat-script", lambda d: mediafiles.ffconcat_script(d / "concat.mp4", _canary(d)),
     "not a recording in a format we accept"),
    ("zero-bytes", lambda d: (d / "empty.webm", (d / "empty.webm").write_bytes(b""))[0],
     "empty"),
    ("truncated-webm", lambda d: mediafiles.truncated_webm(
        d / "cut.webm", mediafiles.webm_with_duration(d / "whole.webm")), "cut short"),
    ("truncated-recorder-webm", lambda d: mediafiles.truncated_webm(
        d / "cut-live.webm", mediafiles.chromium_webm(d / "live.webm")), "damaged or cut short"),
    ("random-bytes", lambda d: mediafiles.random_bytes(d / "noise.webm"),
     "not a recording in a format we accept"),
    ("image-bomb", lambda d: mediafiles.png_bomb(d / "bomb.mp4"),
     "not a recording in a format we accept"),
    ("ten-hour-claim", lambda d: mediafiles.ten_hour_claim_webm(
        d / "long.webm", mediafiles.webm_with_duration(d / "short.webm")), "too long"),
    ("tiny-picture", lambda d: mediafiles.one_pixel_mp4(d / "tiny.mp4"), "too small"),
    ("wav-header-claims-hours", lambda d: mediafiles.wav_claiming_hours(d / "liar.wav"),
     "cut short"),
]  # fmt: skip
# Not readable as a recording at all: the job deletes these (nothing in them to rescue).
# The others are real recordings refused by a rule; they are kept (a raised limit and Retry).
JUNK = {"hls-playlist", "ffconcat-script", "zero-bytes", "random-bytes", "image-bomb"}


@pytest.mark.parametrize(("name", "make", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_fail_with_a_reason_and_leak_nothing(app, clips, name, make, reason) -> None:
    source = make(clips)
    reflection_id = add_reflection(app, "video", source)
    reflection = process(app, reflection_id)
    assert reflection["status"] == "failed"
    assert reason in reasons.english(reflection["failure_reason"])
    assert rows(app, "SELECT id FROM asset WHERE reflection_id = ?", reflection_id) == []
    (job,) = rows(app, "SELECT status, error FROM job WHERE target_id = ?", reflection_id)
    assert job["status"] == "failed" and reason in reasons.english(job["error"])
    original = app.extensions["voxpop"].store.root / reflection["original_path"]
    assert original.exists() is (name not in JUNK)
    if name in JUNK:
        assert reasons.english(reflection["failure_reason"]).endswith(" The file was deleted.")
    derived = app.extensions["voxpop"].store.derived
    canary = clips / "canary-secret.webm"
    if canary.exists():
        secret = canary.read_bytes()[-2000:]
        for output in derived.rglob("*"):
            if output.is_file():
                assert secret not in output.read_bytes(), output


def test_sound_sent_as_video_is_kept_as_an_audio_reflection(app, clips) -> None:
    # A camera that fails mid-take still leaves the delegate's words: they are not refused
    # for the missing picture, and the reflection says what it is.
    reflection_id = add_reflection(app, "video", mediafiles.opus_webm(clips / "voice.webm"))
    reflection = process(app, reflection_id)
    assert (reflection["status"], reflection["kind"]) == ("ready", "audio")
    assert (reflection["width"], reflection["height"]) == (None, None)
    assert set(assets(app, reflection_id)) == {"mp4", "poster", "thumb", "card"}


def test_retrying_a_deleted_junk_upload_keeps_its_reason(app, clips) -> None:
    reflection_id = add_reflection(app, "video", mediafiles.random_bytes(clips / "junk.webm"))
    refused = process(app, reflection_id)
    assert refused["status"] == "failed"
    queue = app.extensions["voxpop"].queue
    (job,) = rows(app, "SELECT id FROM job WHERE target_id = ?", reflection_id)
    with app.app_context():
        assert jobs.retry(get_db(), queue, job["id"])
    assert jobs.run_job(queue, job["id"]) == "failed"
    (again,) = rows(app, "SELECT status, failure_reason FROM reflection")
    assert again["failure_reason"] == refused["failure_reason"]


def test_organisers_see_the_ready_clip_and_can_seek(app, auth, client, clips) -> None:
    reflection_id = add_reflection(
        app, "video", mediafiles.ipad_mp4(clips / "seek.mp4", size="640x360")
    )
    process(app, reflection_id)
    with app.app_context():
        from voxpop.db import get_db

        get_db().execute(
            "INSERT INTO consent (reflection_id, consent_text_id, consent_sha256, archive, reel,"
            " online, show_name, given_at) VALUES (?, 1, 'x', 1, 0, 0, 0, 'now')",
            (reflection_id,),
        )
    auth.login("facilitator")
    page = client.get("/studio/").text
    assert f"/studio/media/{reflection_id}/mp4" in page and "<video" in page
    whole = client.get(f"/studio/media/{reflection_id}/mp4")
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    part = client.get(f"/studio/media/{reflection_id}/mp4", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100
    assert part.headers["Content-Range"].startswith("bytes 0-99/")
    assert client.get(f"/studio/media/{reflection_id}/poster").mimetype == "image/jpeg"
    assert client.get(f"/studio/media/{reflection_id}/card").status_code == 404
    assert client.get(f"/studio/media/{reflection_id}/../secret").status_code == 404
