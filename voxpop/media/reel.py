"""Reel pieces and their assembly: every piece in the delivery format, joined by stream copy.

A reel is a list of pieces: title cards, and for each clip a *head* (its first seconds
re-encoded with a lower third burned in) followed by the rest of the clip copied as it is.
Every piece has the delivery format's exact parameters (same size, frame rate, H.264
settings, GOP and audio layout), so ffmpeg's concat demuxer can join them with ``-c copy``:
building a reel costs a copy of its bytes, not an encode. Trims snap to the 2 s keyframes.
Portrait clips get a pillarboxed 16:9 version, made once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from voxpop.media import ffmpeg, images, typesetting
from voxpop.media.ffmpeg import Input
from voxpop.media.transcode import (
    DELIVERY,
    DeliveryProfile,
    _audio_codec_args,
    _container_args,
    _encode,
    _video_codec_args,
    still_to_delivery_mp4,
)
from voxpop.reasons import N_

HEAD_SECONDS = 4.0  # two GOPs: the lower third shows for the first seconds of each clip
# What the concat demuxer may open: our own script, and the MP4 pieces it names.
CONCAT_WHITELIST = "concat,mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True)
class Piece:
    """One entry of a reel: a delivery-format MP4, optionally from ``inpoint`` to ``outpoint``."""

    path: Path
    duration: float
    inpoint: float | None = None
    outpoint: float | None = None


def snap_trim(
    trim_in: float | None, trim_out: float | None, duration: float, gop: float = 2.0
) -> tuple[float, float]:
    """Snap a trim to keyframes: in down to a keyframe, out up to one (or the clip's end)."""
    start = 0.0 if trim_in is None else max(0.0, math.floor(trim_in / gop + 1e-6) * gop)
    end = duration if trim_out is None else min(duration, math.ceil(trim_out / gop - 1e-6) * gop)
    if end - start < 0.5:  # nothing sensible left: keep the whole clip rather than nothing
        return 0.0, duration
    return round(start, 3), round(end, 3)


def is_whole_clip(cut: tuple[float, float], duration: float) -> bool:
    """True when a cut (``snap_trim``) keeps the whole clip: nothing is trimmed off it."""
    return cut[0] <= 0 and cut[1] >= round(duration, 3) - 0.0005


def render_lower_third(
    out_png: Path,
    *,
    label: str,
    name: str | None,
    colour: str,
    size: tuple[int, int] = (1280, 720),
) -> Path:
    """A transparent 1280×720 PNG with a lower third: perspective, and first name if given."""
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    rgb = typesetting.parse_colour(colour)
    ink = typesetting.text_colour_for(rgb)
    title_font = typesetting.load_font(int(height * 0.05), bold=True)
    name_font = typesetting.load_font(int(height * 0.04))
    left, bottom = int(width * 0.05), int(height * 0.9)
    lines = [(label, title_font)] + ([(name, name_font)] if name else [])
    text_width = max(draw.textlength(text, font=font) for text, font in lines)
    line_height = [font.getbbox("Hg")[3] for _text, font in lines]
    box_h = sum(line_height) + int(height * 0.045) + (int(height * 0.01) if name else 0)
    box_w = int(text_width + width * 0.05)
    top = bottom - box_h
    draw.rounded_rectangle((left, top, left + box_w, bottom), radius=int(height * 0.012),
                           fill=(*rgb, 235))  # fmt: skip
    draw.rectangle((left, top, left + int(width * 0.008), bottom), fill=(*ink, 255))
    y = top + int(height * 0.022)
    for (text, font), line_h in zip(lines, line_height, strict=True):
        draw.text((left + int(width * 0.028), y), text, font=font, fill=(*ink, 255))
        y += line_h + int(height * 0.01)
    return images.save_stripped(image, out_png, format="PNG")


def make_head(
    clip_mp4: Path,
    start: float,
    seconds: float,
    overlay_png: Path,
    destination: Path,
    *,
    profile: DeliveryProfile = DELIVERY,
) -> None:
    """Re-encode ``seconds`` of a clip from keyframe ``start`` with the lower third on top.

    The overlay fades in and out within the head, so the cut to the copied rest is invisible.
    (No fps filter on the clip: it is already 30 fps CFR, and the filter would drop its last
    frame; only the still overlay goes through one.)
    """
    inputs = [
        Input(clip_mp4, options=("-ss", f"{start:.3f}"), max_seconds=seconds),
        # Read once a second and repeated by the fps filter, not decoded 30 times a second.
        Input(overlay_png, whitelist=ffmpeg.STILL_WHITELIST,
              options=("-loop", "1", "-framerate", "1"), max_seconds=seconds + 1),
    ]  # fmt: skip
    graph = overlay_graph(_drawn_box(overlay_png), seconds, profile)
    frames = round(seconds * profile.fps)
    output_args = ["-filter_complex", graph, "-map", "[v]", "-map", "[a]",
                   "-frames:v", str(frames), *_video_codec_args(profile),
                   *_audio_codec_args(profile), *_container_args()]  # fmt: skip
    _encode(inputs, output_args, destination, seconds, profile, None,
            N_("ffmpeg failed while preparing a reel clip."))  # fmt: skip


def overlay_graph(
    box: tuple[int, int, int, int], seconds: float, profile: DeliveryProfile = DELIVERY
) -> str:
    """make_head's filter graph: input 1 (a still, at any rate) cropped to ``box``, faded in
    and out within the head, and laid over input 0 at the box's place; input 0's sound
    resampled to the delivery format. Only the box is faded and laid over, a fraction of the
    frame."""
    fade = 0.4
    overlay_time = max(0.5, seconds - 0.6)
    left, top, right, bottom = box
    return (
        f"[1:v]crop={right - left}:{bottom - top}:{left}:{top},fps={profile.fps},format=rgba,"
        f"fade=t=in:st=0.2:d={fade}:alpha=1,"
        f"fade=t=out:st={overlay_time - fade:.3f}:d={fade}:alpha=1[lt];"
        f"[0:v:0][lt]overlay={left}:{top}:eof_action=pass,setsar=1,format=yuv420p[v];"
        f"[0:a:0]aresample={profile.sample_rate},"
        f"aformat=sample_fmts=fltp:channel_layouts=stereo[a]"
    )


def _drawn_box(overlay_png: Path, margin: int = 4) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) holding every visible pixel of an overlay, with a
    see-through margin and even sides; the whole picture when nothing in it is see-through.

    Laid over at its place, the box gives the very same frames as the whole picture (checked
    frame by frame in tests/test_reel_pieces.py): the margin keeps the edge of the crop out of
    the chroma subsampling of anything visible.
    """
    picture = images.open_image_safely(overlay_png)
    box = picture.getchannel("A").getbbox() if picture.mode == "RGBA" else None
    if box is None:
        return 0, 0, picture.width, picture.height
    left, top, right, bottom = box
    return (max(0, (left - margin) // 2 * 2), max(0, (top - margin) // 2 * 2),
            min(picture.width, right + margin + (right + margin) % 2),
            min(picture.height, bottom + margin + (bottom + margin) % 2))  # fmt: skip


def reel_frame(profile: DeliveryProfile = DELIVERY) -> tuple[int, int]:
    """Every reel is landscape at the delivery format's largest size (1280×720)."""
    return profile.max_long_side, profile.max_short_side


def needs_fitting(
    width: int | None, height: int | None, profile: DeliveryProfile = DELIVERY
) -> bool:
    """Whether a delivery clip of this size must be refitted to the reel frame to join by copy."""
    return (width, height) != reel_frame(profile)


def fit_to_reel_frame(
    clip_mp4: Path,
    destination: Path,
    duration: float,
    *,
    profile: DeliveryProfile = DELIVERY,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """A 1280×720 version of a delivery clip of another size or shape, for reels.

    Portrait clips are pillarboxed (black bars each side), smaller ones scaled up; the picture
    keeps its shape. Audio is copied: it is already in the delivery format.
    """
    width, height = reel_frame(profile)
    graph = (
        f"[0:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease"
        f":force_divisible_by=2,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:black,setsar=1,"
        "format=yuv420p[v]"
    )
    output_args = ["-filter_complex", graph, "-map", "[v]", "-map", "0:a:0",
                   *_video_codec_args(profile), "-c:a", "copy",
                   *_container_args()]  # fmt: skip
    _encode([Input(clip_mp4, max_seconds=duration + 1)], output_args, destination, duration,
            profile, on_progress,
            N_("ffmpeg failed while preparing a clip for the reel."))  # fmt: skip


def concat_script(pieces: Sequence[Piece], folder: Path) -> str:
    """An ffconcat script naming ``pieces`` relative to ``folder`` (so safe mode accepts it)."""
    lines = ["ffconcat version 1.0"]
    for piece in pieces:
        relative = piece.path.resolve().relative_to(folder.resolve()).as_posix()
        if "'" in relative or "\n" in relative:
            raise ValueError(f"Unexpected character in a reel piece path: {relative!r}")
        lines.append(f"file '{relative}'")
        if piece.inpoint is not None:
            lines.append(f"inpoint {piece.inpoint:.3f}")
        if piece.outpoint is not None:
            lines.append(f"outpoint {piece.outpoint:.3f}")
    return "\n".join(lines) + "\n"


def assemble(
    pieces: Sequence[Piece],
    destination: Path,
    folder: Path,
    *,
    profile: DeliveryProfile = DELIVERY,
    on_progress: Callable[[float], None] | None = None,
) -> float:
    """Join delivery-format pieces by stream copy into one MP4; return its planned duration.

    ``folder`` holds every piece (they are named relative to it, and nothing outside it can be
    opened). The script is written next to the output.
    """
    if not pieces:
        raise ValueError("A reel needs at least one piece")
    total = sum(piece.duration for piece in pieces)
    script = destination.with_name(f".{destination.stem}.ffconcat")
    script_text = concat_script(pieces, folder)
    script_in_folder = folder / script.name
    script_in_folder.write_text(script_text, encoding="utf-8")
    try:
        inputs = [Input(script_in_folder, whitelist=CONCAT_WHITELIST,
                        options=("-f", "concat", "-safe", "1"))]  # fmt: skip
        output_args = ["-map", "0:v:0", "-map", "0:a:0", "-c", "copy", *_container_args()]
        _encode(inputs, output_args, destination, total + 1, profile, on_progress,
                N_("ffmpeg failed while joining the reel."))  # fmt: skip
    finally:
        script_in_folder.unlink(missing_ok=True)
    return total


def burn_captions(
    reel_mp4: Path,
    vtt: Path,
    destination: Path,
    duration: float,
    *,
    profile: DeliveryProfile = DELIVERY,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """A copy of the reel with its captions burned into the picture (a full re-encode)."""
    escaped = str(vtt).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    style = "FontName=DejaVu Sans,FontSize=22,Outline=2,MarginV=40"
    graph = f"[0:v:0]subtitles=filename='{escaped}':fontsdir='{typesetting.FONT_DIR}'" \
            f":force_style='{style}',format=yuv420p[v]"  # fmt: skip
    output_args = ["-filter_complex", graph, "-map", "[v]", "-map", "0:a:0",
                   *_video_codec_args(profile), "-c:a", "copy", *_container_args()]  # fmt: skip
    _encode([Input(reel_mp4, max_seconds=duration + 1)], output_args, destination, duration + 1,
            profile, on_progress, N_("ffmpeg failed while burning in captions."))  # fmt: skip


def make_still_clip(png: Path, destination: Path, seconds: float) -> None:
    """A delivery-format clip of a still card (title, section and outro cards)."""
    still_to_delivery_mp4(png, destination, seconds)
