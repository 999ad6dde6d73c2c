"""Reel groundwork (issue 6): pieces in the delivery format join by stream copy cleanly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests import mediafiles
from tests.conftest import requires_ffmpeg
from voxpop.media import cards, reel
from voxpop.media.probe import probe_media, video_duration
from voxpop.media.transcode import audio_to_delivery_mp4, transcode_to_delivery_mp4

pytestmark = [requires_ffmpeg, pytest.mark.media]


@pytest.mark.parametrize(
    ("trim_in", "trim_out", "duration", "expected"),
    [
        (None, None, 9.0, (0.0, 9.0)),
        (3.1, 6.2, 9.0, (2.0, 8.0)),
        (2.0, 4.0, 9.0, (2.0, 4.0)),
        (8.9, 9.0, 9.0, (8.0, 9.0)),
        (4.0, 4.1, 4.2, (0.0, 4.2)),  # too little left after snapping: keep it all
    ],
)
def test_trims_snap_to_keyframes(trim_in, trim_out, duration, expected) -> None:
    assert reel.snap_trim(trim_in, trim_out, duration) == expected


def streams(path: Path) -> dict[str, float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "json",
         str(path)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {s["codec_type"]: float(s["duration"]) for s in json.loads(out)["streams"]}


def test_cards_heads_and_copied_tails_join_without_drift(tmp_path: Path) -> None:
    pieces = []
    cards.render_title_card(tmp_path / "title.png", title="Whose Shoes? Cardiff")
    reel.make_still_clip(tmp_path / "title.png", tmp_path / "title.mp4", 3.0)
    pieces.append(reel.Piece(tmp_path / "title.mp4", video_duration(tmp_path / "title.mp4")))
    # An audio reflection (a still card looped by copy, 5.3 s: not a whole number of GOPs)
    # between two camera clips; each but the upright phone's (all head) has a copied tail.
    # The lengths are those other tests ask for too, so the generated clips are shared.
    sources = [mediafiles.ipad_mp4(tmp_path / "a.mp4", seconds=7),
               mediafiles.opus_webm(tmp_path / "voice.webm", seconds=5.3),
               mediafiles.chromium_webm(tmp_path / "b.webm", seconds=5),
               mediafiles.rotated_phone_mp4(tmp_path / "c.mp4")]  # fmt: skip
    cards.render_audio_card(tmp_path / "audio-card.png", perspective_label="Volunteer",
                            colour="#2a7236", prompt="What changed for you?")  # fmt: skip
    for index, source in enumerate(sources):
        info = probe_media(source, max_seconds=90)
        clip = tmp_path / f"clip{index}.mp4"
        if info.has_video:
            transcode_to_delivery_mp4(source, clip, info)
        else:
            audio_to_delivery_mp4(source, tmp_path / "audio-card.png", clip, info)
            assert video_duration(clip) == pytest.approx(5.3, abs=0.1)
        width, height = probe_media(clip, max_seconds=90).display_size
        if reel.needs_fitting(width, height):
            landscape = tmp_path / f"land{index}.mp4"
            reel.fit_to_reel_frame(clip, landscape, video_duration(clip))
            clip = landscape
        duration = video_duration(clip)
        start, end = reel.snap_trim(2.0 if index == 0 else None, None, duration)
        head_seconds = min(reel.HEAD_SECONDS, end - start)
        lower_third = reel.render_lower_third(
            tmp_path / f"lt{index}.png", label="Volunteer", name="Siân", colour="#2a7236"
        )
        head = tmp_path / f"head{index}.mp4"
        reel.make_head(clip, start, head_seconds, lower_third, head)
        pieces.append(reel.Piece(head, video_duration(head)))
        if end - start > head_seconds:
            pieces.append(reel.Piece(clip, end - start - head_seconds,
                                     inpoint=start + head_seconds, outpoint=end))  # fmt: skip
    output = tmp_path / "reel.mp4"
    planned = reel.assemble(pieces, output, tmp_path)
    measured = streams(output)
    assert measured["video"] == pytest.approx(planned, abs=0.1)
    assert abs(measured["video"] - measured["audio"]) < 0.05
    decode = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(output), "-f", "null",
                             "-"], capture_output=True, text=True)  # fmt: skip
    assert decode.returncode == 0 and decode.stderr.strip() == ""


def frame_hashes(*args: str) -> list[str]:
    """The MD5 of every decoded frame ffmpeg's graph gives (``-f framemd5``)."""
    argv = ["ffmpeg", "-nostdin", "-v", "error", *args, "-f", "framemd5", "-"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line[:1] != "#"]


@pytest.mark.parametrize("name", ["Siân", None])
def test_the_lower_third_box_gives_the_frames_of_the_whole_overlay(
    tmp_path: Path, name: str | None
) -> None:
    """make_head fades and lays over only the box the lower third covers: the frames are
    exactly those of the whole 1280×720 overlay, faded and laid over as a whole."""
    clip = mediafiles.ipad_mp4(tmp_path / "clip.mp4", seconds=4)
    overlay = reel.render_lower_third(tmp_path / "lt.png", label="Volunteer", name=name,
                                      colour="#2a7236")  # fmt: skip
    box = reel._drawn_box(overlay)
    left, top, right, bottom = box
    assert 0 < right - left < 640 and 0 < bottom - top < 240  # a fraction of the frame
    assert all(side % 2 == 0 for side in box)
    head = ["-i", str(clip), "-loop", "1", "-framerate", "1", "-t", "5", "-i", str(overlay)]
    whole = ["-i", str(clip), "-loop", "1", "-framerate", "30", "-t", "5", "-i", str(overlay)]
    ours = reel.overlay_graph(box, 3.0).replace("[v];", "[v]").split("[0:a:0]")[0]
    reference = (
        "[1:v]format=rgba,fade=t=in:st=0.2:d=0.4:alpha=1,fade=t=out:st=2.000:d=0.4:alpha=1[lt];"
        "[0:v:0][lt]overlay=0:0:eof_action=pass,setsar=1,format=yuv420p[v]"
    )
    frames = ["-map", "[v]", "-frames:v", "90"]
    expected = frame_hashes(*whole, "-filter_complex", reference, *frames)
    assert len(expected) == 90 and len(set(expected)) > 30  # the fades change the frames
    assert frame_hashes(*head, "-filter_complex", ours, *frames) == expected


def test_an_overlay_without_see_through_parts_is_laid_over_whole(tmp_path: Path) -> None:
    from PIL import Image

    opaque = tmp_path / "opaque.png"
    Image.new("RGB", (320, 180), (20, 90, 40)).save(opaque)
    assert reel._drawn_box(opaque) == (0, 0, 320, 180)
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (320, 180), (0, 0, 0, 0)).save(clear)
    assert reel._drawn_box(clear) == (0, 0, 320, 180)
