"""The web delivery format, and how every recording, card and clip gets into it.

One format for everything so one player and the reel treat every clip alike: MP4 with H.264
High (yuv420p, at most 1280×720 keeping aspect — 720×1280 for portrait —, constant 30 fps,
closed GOPs with a keyframe exactly every 2 s) and AAC-LC (48 kHz stereo, 128 kb/s) normalised
to −16 LUFS, ``+faststart``, no metadata.

Loudness: EBU R128. One ``ebur128`` pass over the audio only measures the integrated loudness,
loudness range and true peak; the encode then applies one linear gain (the ``volume`` filter),
so speech keeps its natural dynamics (single-pass loudnorm rides the gain like a compressor)
and the result lands within a fraction of a LU of the target. This is what ``loudnorm``'s
linear mode does, without its resampling to 192 kHz. When the gain would push the true peak
over the limit, or the range is wider than the target's, ``loudnorm`` normalises that clip in
its dynamic mode instead (as loudnorm's own linear mode falls back).

Still pictures (audio reflections' cards, text reflections' quote cards, reel title cards) are
encoded once as one 2 s GOP and that GOP is looped by stream copy for the clip's length, so
their cost is the sound's, not 30 encoded frames a second. The GOP is encoded with the same
x264 settings as every clip, so the parameter sets, 30 fps CFR and 2 s keyframes are the same
and the reel still joins it by stream copy.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from voxpop.media import ffmpeg
from voxpop.media.ffmpeg import Input, MediaRejected, MediaToolFailed, Progress
from voxpop.media.probe import MediaInfo
from voxpop.reasons import N_

ProgressCallback = Callable[[float], None]

# Messages ffmpeg prints (at error level) when the data itself is broken.
_CORRUPTION = re.compile(
    r"File ended prematurely|Invalid data found|corrupt|error while decoding|Truncat|"
    r"moov atom not found|EBML header parsing failed|Error splitting the input",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DeliveryProfile:
    """The parameters of the delivery MP4 (see the module docstring)."""

    max_long_side: int = 1280
    max_short_side: int = 720
    fps: int = 30
    gop_seconds: int = 2
    # superfast's cheap motion search, but veryfast's macroblock-tree rate control and a 10-frame
    # lookahead (plain superfast drops both and costs far more bytes): see docs/benchmarks.md.
    preset: str = "superfast"
    x264_params: str = "mbtree=1:rc-lookahead=10"
    crf: int = 22
    audio_bitrate: str = "128k"
    sample_rate: int = 48000
    loudness: float = -16.0
    true_peak: float = -1.5
    loudness_range: float = 11.0
    # Output never exceeds this many bytes per second of media (about 40 Mb/s: far above what
    # these settings produce, so it only stops a runaway encode).
    max_bytes_per_second: int = 5_000_000

    @property
    def gop_frames(self) -> int:
        return self.fps * self.gop_seconds


DELIVERY = DeliveryProfile()


def delivery_size(width: int, height: int, profile: DeliveryProfile = DELIVERY) -> tuple[int, int]:
    """Fit a picture within the delivery box, keeping aspect and orientation; even sides."""
    if width >= height:
        box_w, box_h = profile.max_long_side, profile.max_short_side
    else:
        box_w, box_h = profile.max_short_side, profile.max_long_side
    scale = min(box_w / width, box_h / height, 1.0)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _timeout(duration: float) -> float:
    # Generous: a slow laptop under load must not fail a good clip. Hung tools still stop.
    return max(120.0, duration * 20)


def _output_bound(duration: float, profile: DeliveryProfile) -> int:
    return int((duration + 5) * profile.max_bytes_per_second)


def _video_codec_args(profile: DeliveryProfile) -> list[str]:
    # Identical for every clip, card and reel piece (no per-kind -tune): the reel joins them
    # by stream copy, which needs the same H.264 parameter sets throughout. No B-frames, so
    # decode order is display order and a join at any keyframe is clean.
    args = [
        "-c:v", "libx264", "-profile:v", "high", "-level:v", "4.0", "-pix_fmt", "yuv420p",
        "-preset", profile.preset, "-x264-params", profile.x264_params, "-crf", str(profile.crf),
        "-g", str(profile.gop_frames), "-keyint_min", str(profile.gop_frames),
        "-sc_threshold", "0", "-flags", "+cgop", "-bf", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{profile.gop_seconds})",
        "-r", str(profile.fps),
    ]  # fmt: skip
    return args


def _audio_codec_args(profile: DeliveryProfile) -> list[str]:
    return ["-c:a", "aac", "-profile:a", "aac_low", "-b:a", profile.audio_bitrate,
            "-ar", str(profile.sample_rate), "-ac", "2"]  # fmt: skip


def _container_args() -> list[str]:
    return ["-movflags", "+faststart", "-map_metadata", "-1", "-map_chapters", "-1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-f", "mp4"]  # fmt: skip


def _silence(duration: float, profile: DeliveryProfile) -> Input:
    return Input(
        f"anullsrc=r={profile.sample_rate}:cl=stereo",
        whitelist=ffmpeg.SILENCE_WHITELIST,
        options=("-f", "lavfi"),
        max_seconds=duration,
    )


def measure_loudness(
    source: Path, info: MediaInfo, profile: DeliveryProfile = DELIVERY
) -> dict[str, str] | None:
    """One ``ebur128`` pass over the audio only; None when there is no (measurable) sound.

    Returns loudnorm's names for what it measured: ``input_i`` (integrated, LUFS),
    ``input_tp`` (true peak, dBTP), ``input_lra`` (LU) and ``input_thresh`` (the relative gate).
    """
    if not info.has_audio:
        return None
    argv = ffmpeg.ffmpeg_command(
        [Input(source, max_seconds=info.duration + 1)],
        # framelog=verbose: the per-frame lines stay out of the log; the summary is at info.
        ["-vn", "-sn", "-dn", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null"],
        Path(os.devnull),
        max_output_bytes=1_000_000,
        max_seconds=info.duration + 1,
        loglevel="info",
    )
    result = ffmpeg.run(argv, timeout=_timeout(info.duration))
    if result.returncode != 0:
        _raise_for(result, N_("ffmpeg failed while measuring the sound."))
    summary = result.stderr.rsplit("Summary:", 1)[-1] if "Summary:" in result.stderr else ""
    found: dict[str, str] = {}
    for key, value in re.findall(r"(I|Threshold|LRA|Peak):\s+(-?[\d.]+|-inf)", summary):
        found.setdefault(key, value)  # the first Threshold is the integrated loudness's gate
    if len(found) < 4:
        raise MediaToolFailed(N_("Could not measure the recording's loudness."), result.stderr)
    # Digital silence measures as -70 LUFS (or -inf): nothing to normalise.
    if found["I"] == "-inf" or float(found["I"]) <= -70.0:
        return None
    return {
        "input_i": found["I"],
        "input_tp": found["Peak"],
        "input_lra": found["LRA"],
        "input_thresh": found["Threshold"],
    }


def _loudness_filter(measured: dict[str, str] | None, profile: DeliveryProfile) -> str:
    """The audio chain to the delivery format: gain to the target, 48 kHz stereo float."""
    chain = []
    if measured is not None:
        gain = profile.loudness - float(measured["input_i"])
        peak = float(measured["input_tp"]) if measured["input_tp"] != "-inf" else -99.0
        if (
            peak + gain <= profile.true_peak
            and float(measured["input_lra"]) <= profile.loudness_range
        ):
            chain.append(f"volume={gain:.2f}dB")
        else:
            chain.append(
                f"loudnorm=I={profile.loudness}:TP={profile.true_peak}"
                f":LRA={profile.loudness_range}:measured_I={measured['input_i']}"
                f":measured_TP={peak}:measured_LRA={measured['input_lra']}"
                f":measured_thresh={measured['input_thresh']}:offset=0:linear=true"
            )
    chain.append(f"aresample={profile.sample_rate}")
    chain.append("aformat=sample_fmts=fltp:channel_layouts=stereo")
    return ",".join(chain)


def _raise_for(result: object, failure: str) -> None:
    """Raise for a failed ffmpeg run: the recording's fault, or ``failure`` (a message)."""
    stderr = getattr(result, "stderr", "")
    if _CORRUPTION.search(stderr):
        raise MediaRejected(
            N_(
                "The recording is damaged or cut short; it may have been interrupted while"
                " uploading."
            ),
            stderr,
        )
    raise MediaToolFailed(failure, stderr)


def _write_atomically(run_into: Callable[[Path], None], destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        run_into(partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def _encode(
    inputs: list[Input],
    output_args: list[str],
    destination: Path,
    duration: float,
    profile: DeliveryProfile,
    on_progress: ProgressCallback | None,
    failure: str,
) -> None:
    def run_into(partial: Path) -> None:
        argv = ffmpeg.ffmpeg_command(
            inputs,
            output_args,
            partial,
            max_output_bytes=_output_bound(duration, profile),
            max_seconds=duration,
            progress=on_progress is not None,
        )
        progress = Progress(duration, on_progress) if on_progress else None
        result = ffmpeg.run(argv, timeout=_timeout(duration), progress=progress)
        if result.returncode != 0 or _CORRUPTION.search(result.stderr):
            _raise_for(result, failure)

    _write_atomically(run_into, destination)


def transcode_to_delivery_mp4(
    source: Path,
    destination: Path,
    info: MediaInfo,
    *,
    profile: DeliveryProfile = DELIVERY,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Turn an accepted video recording into the delivery MP4 (atomically).

    Rotation flags are applied (ffmpeg auto-rotates), so portrait phones stay portrait.
    A video without sound gets a silent track, so every clip has audio for the reel.
    Raises MediaRejected for damaged data, MediaToolFailed otherwise.
    """
    display = info.display_size
    if display is None:
        raise ValueError("transcode_to_delivery_mp4 needs a video; use audio_to_delivery_mp4")
    width, height = delivery_size(*display, profile)
    measured = measure_loudness(source, info, profile)
    inputs = [Input(source, max_seconds=info.duration + 1)]
    video_chain = (
        f"[0:v:0]scale={width}:{height}:flags=bicubic,setsar=1,fps={profile.fps},format=yuv420p[v]"
    )
    if info.has_audio:
        audio_chain = f"[0:a:0]{_loudness_filter(measured, profile)}[a]"
    else:
        inputs.append(_silence(info.duration, profile))
        audio_chain = f"[1:a]{_loudness_filter(None, profile)}[a]"
    output_args = [
        "-filter_complex", f"{video_chain};{audio_chain}", "-map", "[v]", "-map", "[a]",
        *_video_codec_args(profile), *_audio_codec_args(profile), *_container_args(),
    ]  # fmt: skip
    _encode(inputs, output_args, destination, info.duration, profile, on_progress,
            N_("ffmpeg failed while converting the video."))  # fmt: skip


def audio_to_delivery_mp4(
    source: Path,
    card_png: Path,
    destination: Path,
    info: MediaInfo,
    *,
    profile: DeliveryProfile = DELIVERY,
    on_progress: ProgressCallback | None = None,
    gop_cache: Path | None = None,
) -> None:
    """Turn an audio-only recording into the delivery MP4, over a still card.

    ``gop_cache``: a folder keeping the card's encoded GOP by the card's hash, for the next
    reflection with the same card (audio cards show only the perspective and prompt, nothing of
    the person, so they may outlive a withdrawn reflection).
    """
    measured = measure_loudness(source, info, profile)
    sound = Input(source, max_seconds=info.duration + 1)
    _still_clip(card_png, destination, info.duration, sound, _loudness_filter(measured, profile),
                profile, on_progress, N_("ffmpeg failed while converting the audio."),
                gop_cache)  # fmt: skip


def still_to_delivery_mp4(
    card_png: Path,
    destination: Path,
    seconds: float,
    *,
    profile: DeliveryProfile = DELIVERY,
    on_progress: ProgressCallback | None = None,
) -> None:
    """A silent clip of a still card (quote cards for text reflections, title cards)."""
    silence, audio_filter = _silence(seconds, profile), _loudness_filter(None, profile)
    _still_clip(card_png, destination, seconds, silence, audio_filter, profile, on_progress,
                N_("ffmpeg failed while making a card clip."))  # fmt: skip


def _still_gop(card_png: Path, destination: Path, profile: DeliveryProfile) -> None:
    """One GOP (2 s at 30 fps) of a still card, with the delivery format's video settings."""
    inputs = [
        # One frame a second is read (decoding the PNG 30 times a second was most of the cost);
        # the fps filter repeats it.
        Input(card_png, whitelist=ffmpeg.STILL_WHITELIST,
              options=("-loop", "1", "-framerate", "1"), max_seconds=profile.gop_seconds + 1),
    ]  # fmt: skip
    output_args = [
        "-filter_complex",
        f"[0:v]scale={profile.max_long_side}:{profile.max_short_side},setsar=1,"
        f"format=yuv420p,fps={profile.fps}[v]",
        "-map", "[v]", "-frames:v", str(profile.gop_frames), "-an",
        *_video_codec_args(profile), *_container_args(),
    ]  # fmt: skip
    _encode(inputs, output_args, destination, profile.gop_seconds, profile, None,
            N_("ffmpeg failed while making a card clip."))  # fmt: skip


def _still_clip(
    card_png: Path,
    destination: Path,
    seconds: float,
    sound: Input,
    audio_filter: str,
    profile: DeliveryProfile,
    on_progress: ProgressCallback | None,
    failure: str,
    gop_cache: Path | None = None,
) -> None:
    """A delivery MP4 of a still card for ``seconds``, with ``sound`` through ``audio_filter``.

    The card is encoded once as one GOP; ``-stream_loop`` repeats that GOP by stream copy
    (timestamps continue, so the clip stays 30 fps CFR with a keyframe every 2 s) and the
    output's ``-t`` cuts the last GOP short. Only the sound is encoded for the clip's length.
    """
    if gop_cache is not None:
        # Named by the card's pixels and every video setting, so a cached GOP is never stale.
        key = hashlib.sha256(card_png.read_bytes())
        key.update(repr((_video_codec_args(profile), _container_args())).encode())
        gop = gop_cache / f"{key.hexdigest()[:32]}.mp4"
    else:
        gop = destination.with_name(f".{destination.stem}.still-gop.mp4")
    try:
        if not gop.exists():
            _still_gop(card_png, gop, profile)
        loops = max(0, math.ceil(seconds / profile.gop_seconds - 1e-6) - 1)
        inputs = [
            Input(gop, whitelist=ffmpeg.OWN_MP4_WHITELIST,
                  options=("-stream_loop", str(loops)), max_seconds=seconds),
            sound,
        ]  # fmt: skip
        output_args = [
            "-filter_complex", f"[1:a:0]{audio_filter}[a]", "-map", "0:v:0", "-map", "[a]",
            "-c:v", "copy", *_audio_codec_args(profile), *_container_args(),
        ]  # fmt: skip
        _encode(inputs, output_args, destination, seconds, profile, on_progress, failure)
    finally:
        if gop_cache is None:
            gop.unlink(missing_ok=True)


def extract_frames(mp4: Path, times: Sequence[float], destination: Path) -> Path:
    """Write the frames of a delivery MP4 at ``times`` side by side, as one PNG (for posters).

    One ffmpeg run seeks to each time (an input per time, so only the GOP before each is
    decoded) and stacks the frames left to right: a process and a PNG instead of one of each
    per frame. ``posters.split_frames`` cuts the strip apart again.
    """
    if not times:
        raise ValueError("extract_frames needs at least one time")
    inputs = [Input(mp4, options=("-ss", f"{at:.3f}")) for at in times]
    if len(times) == 1:
        graph = ["-map", "0:v:0"]
    else:
        stacked = "".join(f"[{index}:v:0]" for index in range(len(times)))
        graph = ["-filter_complex", f"{stacked}hstack=inputs={len(times)}[v]", "-map", "[v]"]

    def run_into(partial: Path) -> None:
        argv = ffmpeg.ffmpeg_command(
            inputs,
            [*graph, "-frames:v", "1", "-an", "-map_metadata", "-1", "-f", "image2",
             "-c:v", "png"],
            partial,
            max_output_bytes=50_000_000 * len(times),
            max_seconds=1,
        )  # fmt: skip
        result = ffmpeg.run(argv, timeout=60)
        if result.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
            _raise_for(result, N_("ffmpeg failed while taking poster frames."))

    _write_atomically(run_into, destination)
    return destination
