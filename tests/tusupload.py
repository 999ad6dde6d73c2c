"""Small helpers for talking tus 1.0 to voxpop: headers, metadata and generated recordings."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
UPLOADS_URL = "/kiosk/api/uploads/"


def encode_metadata(fields: dict[str, str]) -> str:
    """An ``Upload-Metadata`` header: ``key base64(value)`` pairs joined by commas."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode('ascii')}" for key, value in fields.items()
    )


def video_metadata(kiosk_config: dict[str, Any], **changes: str | None) -> dict[str, str]:
    """A valid video reflection's fields as a kiosk sends them; ``None`` removes a field."""
    fields: dict[str, str | None] = {
        "perspective": "volunteer",
        "prompt": str(kiosk_config["prompts"][0]["id"]),
        "kind": "video",
        "consent": "archive,online",
        "consent_version": kiosk_config["consent"]["version"],
        "client_id": str(uuid.uuid4()),
        "lang": "en",
        "duration_ms": "2500",
        "recorder_mime": "video/webm;codecs=vp8,opus",
        "filename": "recording.webm",
        "filetype": "video/webm",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def sha256(data: bytes | Path) -> str:
    """Hex sha256 of bytes or of a file."""
    if isinstance(data, Path):
        with open(data, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    return hashlib.sha256(data).hexdigest()


def sha1_header(chunk: bytes) -> str:
    """An ``Upload-Checksum`` header for ``chunk``."""
    return "sha1 " + base64.b64encode(hashlib.sha1(chunk).digest()).decode("ascii")  # noqa: S324


def big_webm(path: Path, megabytes: float) -> Path:
    """A real VP8/Opus WebM of about ``megabytes`` MB (a noisy test card at a high bitrate).

    Noise does not compress, so the size follows the bitrate; the clip is 4 s long.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = 4
    bitrate = int(megabytes * 8_000_000 / seconds)
    # Written under a private name and moved into place: several test processes (xdist
    # workers) may want the same clip at once, and none may read it half-written.
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30,noise=alls=100:allf=t",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
         "-b:v", str(bitrate), "-minrate", str(bitrate), "-maxrate", str(bitrate),
         "-bufsize", str(bitrate), "-c:a", "libopus", str(partial)],
        check=True, timeout=300,
    )  # fmt: skip
    os.replace(partial, path)
    return path
