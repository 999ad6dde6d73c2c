"""Small media files made with real ffmpeg for the tests (nothing binary is committed)."""

from __future__ import annotations

import functools
import hashlib
import inspect
import random
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import TMP, made_in_place


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=300,
    )


def _kept(make: Callable[..., Path]) -> Callable[..., Path]:
    """Make each generated file once per run and give every caller a copy of it.

    The same few clips (a 4 s Chromium WebM, an iPad MP4…) are asked for hundreds of times;
    encoding them is a test's set-up, not what it tests, and ffmpeg makes the same bytes from
    the same arguments every time. A copy, so a test may cut or damage its own.
    """

    signature = inspect.signature(make)

    @functools.wraps(make)
    def made(path: Path, *args: Any, **kwargs: Any) -> Path:
        # By the arguments as bound, so ipad_mp4(p), ipad_mp4(p, 4) and seconds=4 share one.
        call = signature.bind(path, *args, **kwargs)
        call.apply_defaults()
        arguments = sorted((k, v) for k, v in call.arguments.items() if k != "path")
        key = hashlib.sha256(repr(arguments).encode()).hexdigest()[:16]
        kept = TMP / "media" / "generated" / f"{make.__name__}-{key}{path.suffix}"
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            with made_in_place(kept) as partial:
                make(partial, *args, **kwargs)
        shutil.copyfile(kept, path)
        return path

    return made


def _video(size: str, rate: str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds)]  # fmt: skip


@_kept
def chromium_webm(path: Path, seconds: float = 4, size: str = "640x360") -> Path:
    """VP8 + Opus WebM with no duration in its header, as Chromium's MediaRecorder makes."""
    full = path.with_name(path.stem + "-full.webm")
    ffmpeg(*_video(size, "30", seconds), "-c:v", "libvpx", "-deadline", "realtime",
           "-cpu-used", "8", "-b:v", "1M", "-c:a", "libopus", str(full))  # fmt: skip
    # Live (streamed) muxing leaves the duration out of the header, like MediaRecorder.
    ffmpeg("-i", str(full), "-c", "copy", "-live", "1", "-f", "webm", str(path))
    full.unlink()
    return path


@_kept
def ipad_mp4(path: Path, seconds: float = 4, size: str = "1280x720") -> Path:
    """H.264 + AAC MP4, as an iPad records."""
    ffmpeg(*_video(size, "30", seconds), "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))  # fmt: skip
    return path


@_kept
def rotated_phone_mp4(path: Path, seconds: float = 4) -> Path:
    """1080p, 29.97 fps H.264/AAC with a 90° rotation flag, as a phone held upright records."""
    plain = path.with_name(path.stem + "-plain.mp4")
    ffmpeg(*_video("1920x1080", "30000/1001", seconds), "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(plain))  # fmt: skip
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path))
    plain.unlink()
    return path


@_kept
def vp9_in_mp4(path: Path, seconds: float = 4) -> Path:
    """VP9 + Opus in MP4: what Chromium gives for a plain ``video/mp4`` request."""
    ffmpeg(*_video("640x480", "30", seconds), "-c:v", "libvpx-vp9", "-deadline", "realtime",
           "-cpu-used", "8", "-b:v", "500k", "-c:a", "libopus", "-f", "mp4",
           str(path))  # fmt: skip
    return path


@_kept
def opus_webm(path: Path, seconds: float = 4) -> Path:
    """Audio-only Opus in WebM (Chromium, audio mode)."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", str(seconds),
           "-c:a", "libopus", str(path))  # fmt: skip
    return path


@_kept
def aac_m4a(path: Path, seconds: float = 4) -> Path:
    """Audio-only AAC in M4A (iPad, audio mode)."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=550:sample_rate=44100", "-t", str(seconds),
           "-c:a", "aac", str(path))  # fmt: skip
    return path


@_kept
def silent_video_mp4(path: Path, seconds: float = 4) -> Path:
    """Video with no sound track at all."""
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", str(seconds),
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


# -- hostile files ---------------------------------------------------------------------------


def hls_playlist(path: Path, canary: Path) -> Path:
    """An HLS playlist saved as .mp4, pointing at another file on the disk."""
    path.write_text(
        f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:4.0,\n{canary}\n"
        "#EXT-X-ENDLIST\n"
    )
    return path


def ffconcat_script(path: Path, canary: Path) -> Path:
    """An ffconcat script saved as .mp4, pointing at another file on the disk."""
    path.write_text(f"ffconcat version 1.0\nfile '{canary}'\n")
    return path


@_kept
def webm_with_duration(path: Path, seconds: float = 4) -> Path:
    """VP8 + Opus WebM with its duration in the header (as ffmpeg writes files)."""
    ffmpeg(*_video("320x240", "30", seconds), "-c:v", "libvpx", "-deadline", "realtime",
           "-cpu-used", "8", "-c:a", "libopus", str(path))  # fmt: skip
    return path


def truncated_webm(path: Path, source: Path) -> Path:
    """The first 45% of a WebM, as an interrupted upload leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.45)])
    return path


def random_bytes(path: Path, size: int = 50_000) -> Path:
    path.write_bytes(random.Random(7).randbytes(size))
    return path


def png_bytes(width: int, height: int) -> bytes:
    """A genuine 1-bit greyscale PNG, built row by row so huge sizes cost no memory to make."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_bomb(path: Path) -> Path:
    """A tiny PNG file declaring a 30000×30000 picture."""
    from PIL import Image

    Image.new("1", (30000, 30000)).save(path, format="PNG")
    return path


def ten_hour_claim_webm(path: Path, source: Path) -> Path:
    """A WebM whose header claims ten hours (its Duration element patched) over 4 s of media."""
    data = bytearray(source.read_bytes())
    marker = data.find(b"\x44\x89\x88")  # Segment Info > Duration, as an 8-byte float
    if marker < 0:
        raise ValueError(f"{source} has no 8-byte Duration element to patch")
    data[marker + 3 : marker + 11] = struct.pack(">d", 36000 * 1000.0)  # in milliseconds
    path.write_bytes(bytes(data))
    return path


@_kept
def one_pixel_mp4(path: Path, seconds: float = 2) -> Path:
    """An H.264 + AAC MP4 whose picture is 2×2 (H.264's smallest 4:2:0 size): no camera's."""
    ffmpeg("-f", "lavfi", "-i", "color=red:size=2x2:rate=30",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))  # fmt: skip
    return path


@_kept
def wav_claiming_hours(path: Path, seconds: float = 0.5, claimed_hours: float = 5) -> Path:
    """A PCM WAV holding ``seconds`` of sound whose RIFF header claims ``claimed_hours``."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
           "-c:a", "pcm_s16le", str(path))  # fmt: skip
    data = bytearray(path.read_bytes())
    claimed = int(48000 * 2 * 3600 * claimed_hours)
    marker = data.find(b"data")
    data[marker + 4 : marker + 8] = struct.pack("<I", claimed)
    data[4:8] = struct.pack("<I", claimed + marker)
    path.write_bytes(bytes(data))
    return path
