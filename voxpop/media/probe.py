"""Hardened probing of an uploaded recording: what it is, and whether we accept it.

Only ``voxpop.media.ffmpeg`` runs ffprobe; this module decides. MediaRecorder's WebM has no
duration in its header, so the duration is computed from the packets themselves (which also
catches a header that lies).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from voxpop.media import ffmpeg
from voxpop.media.ffmpeg import MediaRejected, MediaToolFailed, NotARecording
from voxpop.reasons import N_

VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
AUDIO_CODECS = {"aac", "opus", "vorbis", "mp3", "flac", "alac"} | {
    f"pcm_{fmt}" for fmt in ("s16le", "s24le", "s32le", "f32le", "u8", "s16be")
}
MAX_PIXELS = 4096 * 2304  # "4K" with room for DCI and 16:9 UHD
MAX_SIDE = 4096
MAX_FPS = 120.0
# The smallest picture we call a video: below this (a 1×1 stream, a 16×16 thumbnail) it is no
# camera's recording. QCIF (176×144), the smallest webcam size still met, passes.
MIN_SIDE = 96
DURATION_SLACK = 1.2  # a recording may run a little over the kiosk's limit (timers, latency)
PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class MediaInfo:
    """What an accepted recording contains."""

    format_name: str
    duration: float
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    rotation: int

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown, after the rotation flag is applied."""
        if self.width is None or self.height is None:
            return None
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


def _rate(value: str | None) -> float | None:
    try:
        rate = Fraction(value or "")
    except (ValueError, ZeroDivisionError):
        return None
    return float(rate) if rate > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(-float(side["rotation"])) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(float(tag)) % 360 if tag else 0


def _ffprobe_json(path: Path, *args: str) -> dict[str, Any]:
    result = ffmpeg.run(ffmpeg.ffprobe_command(path, *args, "-of", "json"), timeout=PROBE_TIMEOUT)
    if result.returncode != 0:
        raise NotARecording(
            N_(
                "This file is not a recording in a format we accept (WebM, MP4, M4A, Ogg, WAV "
                "or MP3), or it is damaged."
            ),
            result.stderr,
        )
    try:
        return dict(json.loads(result.stdout or "{}"))
    except json.JSONDecodeError as error:
        unreadable = N_("ffprobe gave an answer we could not read.")
        raise MediaToolFailed(unreadable, str(error)) from error


def _packet_timing(path: Path) -> tuple[dict[int, float], dict[int, int]]:
    """End time and packet count of each stream, read from the packets themselves."""
    data = _ffprobe_json(path, "-show_entries", "packet=stream_index,pts_time,duration_time")
    ends: dict[int, float] = {}
    counts: dict[int, int] = {}
    for packet in data.get("packets", []):
        index = int(packet.get("stream_index", -1))
        try:
            end = float(packet.get("pts_time", "nan")) + float(packet.get("duration_time") or 0)
        except ValueError:
            continue
        if math.isfinite(end):
            ends[index] = max(ends.get(index, 0.0), end)
            counts[index] = counts.get(index, 0) + 1
    return ends, counts


def _too_long(seconds: float, limit: float) -> MediaRejected:
    return MediaRejected(
        N_("The recording is too long (%(seconds).0f s; the limit is %(limit).0f s)."),
        seconds=seconds, limit=limit,
    )  # fmt: skip


def _cut_short(arrived: float, expected: float) -> MediaRejected:
    return MediaRejected(
        N_(
            "The recording is cut short (%(arrived).1f s of %(expected).1f s arrived);"
            " it may have been interrupted while uploading."
        ),
        arrived=arrived, expected=expected,
    )  # fmt: skip


def probe_media(path: Path, *, max_seconds: float) -> MediaInfo:
    """Inspect an uploaded file and accept it, or raise MediaRejected with a reason.

    Refuses: anything but the accepted containers (so playlists and concat scripts in
    disguise never open), unknown codecs, no audio and no video, longer than ``max_seconds``
    (with slack), larger than 4K or faster than 120 fps, and files with no readable packets.
    Raises MediaToolFailed when ffprobe itself fails (worth retrying).
    """
    if path.stat().st_size == 0:
        raise NotARecording(N_("The recording is empty."))
    data = _ffprobe_json(path, "-show_format", "-show_streams")
    format_name = str((data.get("format") or {}).get("format_name", ""))
    if not set(format_name.split(",")) & set(ffmpeg.ACCEPTED_DEMUXERS):
        raise NotARecording(N_("This file is not a recording in a format we accept."))
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)  # fmt: skip
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise NotARecording(N_("This file has neither sound nor pictures."))
    if video is not None and video.get("codec_name") not in VIDEO_CODECS:
        raise MediaRejected(N_("The video is in a format we cannot read (%(codec)s)."),
                            codec=str(video.get("codec_name")))  # fmt: skip
    if audio is not None and audio.get("codec_name") not in AUDIO_CODECS:
        raise MediaRejected(N_("The sound is in a format we cannot read (%(codec)s)."),
                            codec=str(audio.get("codec_name")))  # fmt: skip

    limit = max_seconds * DURATION_SLACK + 2
    claimed = _rate((data.get("format") or {}).get("duration"))
    if claimed is not None and claimed > limit:
        raise _too_long(claimed, max_seconds)

    width = height = None
    fps = None
    if video is not None:
        width, height = int(video.get("width") or 0), int(video.get("height") or 0)
        if width <= 0 or height <= 0:
            raise MediaRejected(N_("The video has no picture size; it may be damaged."))
        if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
            raise MediaRejected(N_("The video is larger than 4K (%(width)d×%(height)d)."),
                                width=width, height=height)  # fmt: skip
        if min(width, height) < MIN_SIDE:
            raise MediaRejected(
                N_(
                    "The video's picture is too small to be a camera recording"
                    " (%(width)d×%(height)d; the smallest we accept is %(least)d×%(least)d)."
                ),
                width=width, height=height, least=MIN_SIDE,
            )  # fmt: skip

    ends, counts = _packet_timing(path)
    if not ends:
        raise NotARecording(N_("The recording is damaged: no sound or pictures could be read."))
    duration = max(ends.values())
    if duration > limit:
        raise _too_long(duration, max_seconds)
    if claimed is not None and duration < claimed * 0.9 - 0.5:
        raise _cut_short(duration, claimed)
    header = wav_header_seconds(path) if "wav" in format_name.split(",") else None
    if header is not None and duration < header * 0.9 - 0.5:
        # ffprobe trusts the file's size over a WAV header that claims more: we don't.
        raise _cut_short(duration, header)
    if duration < 0.2:
        raise MediaRejected(N_("The recording is too short to use."))
    if video is not None and int(video["index"]) not in counts:
        video = None  # a video stream without a single frame: only the sound is there
        width = height = None
    if video is not None:
        index = int(video["index"])
        fps = _rate(video.get("avg_frame_rate"))
        if index in counts and ends.get(index):
            measured = counts[index] / ends[index]
            fps = measured if fps is None or fps > MAX_FPS else fps
        if fps is not None and fps > MAX_FPS:
            raise MediaRejected(N_("The video's frame rate is too high (%(fps).0f fps)."), fps=fps)
    return MediaInfo(
        format_name=format_name,
        duration=round(duration, 3),
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=width,
        height=height,
        fps=fps,
        rotation=_rotation(video) if video else 0,
    )


def wav_header_seconds(path: Path) -> float | None:
    """How long a WAV file's own header says its sound is (data size / byte rate).

    None when it is not a RIFF/WAVE file or the size is unknown (streamed WAVs write 0 or
    0xFFFFFFFF until they are finished).
    """
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    byte_rate = None
    position = 12
    while position + 8 <= len(head):
        chunk, size = head[position : position + 4], struct.unpack_from("<I", head, position + 4)[0]
        if chunk == b"fmt " and position + 20 <= len(head):
            byte_rate = struct.unpack_from("<I", head, position + 16)[0]
        elif chunk == b"data":
            if not byte_rate or size in (0, 0xFFFFFFFF):
                return None
            return size / byte_rate
        position += 8 + size + (size & 1)
    return None


def video_duration(path: Path) -> float:
    """Duration of the first video stream of one of our own delivery MP4s (whole frames)."""
    data = _ffprobe_json(path, "-select_streams", "v:0", "-show_entries", "stream=duration")
    streams = data.get("streams") or []
    duration = _rate(streams[0].get("duration")) if streams else None
    if duration is None:
        raise MediaToolFailed(N_("Could not read the duration of %(file)s."), file=path.name)
    return round(duration, 4)
