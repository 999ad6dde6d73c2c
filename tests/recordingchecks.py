"""Checks shared by the browser tests that record in a real engine (Chromium, WebKit): the
stored original is the very file the browser made, in the container and codecs expected, and
the pipeline turns it into a ready delivery MP4 of the right length.

Browsers write fragmented MP4 (and WebM) with no duration in the header, so lengths are read
from the packets, never from the container.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import rows, run_queued

# Run in the page before recording: keep each Blob the kiosk shows for review (the CSP keeps
# fetch() away from blob: URLs), so a test can hash exactly what the browser recorded.
KEEP_BLOBS_JS = """
if (!window.__keptBlobs) {
  window.__keptBlobs = [];
  const create = URL.createObjectURL.bind(URL);
  URL.createObjectURL = function (object) {
    if (object instanceof Blob) window.__keptBlobs.push(object);
    return create(object);
  };
}
"""

# An async function: the sha256 (hex) of the last Blob kept by KEEP_BLOBS_JS.
LAST_BLOB_SHA256_JS = """async () => {
  const blob = window.__keptBlobs[window.__keptBlobs.length - 1];
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}"""


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a file: format (name, duration) and streams (codec, type, size)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "format=format_name,duration:stream=codec_type,codec_name,width,height",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout)


def packet_seconds(path: Path, stream: str) -> float:
    """How long a stream runs, from its packets (the header may not say)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
         "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    ends = []
    for line in result.stdout.split():
        pts, _, duration = line.partition(",")
        if pts in ("", "N/A"):
            continue
        ends.append(float(pts) + (float(duration) if duration not in ("", "N/A") else 0.0))
    assert ends, f"no packets in {stream} of {path}"
    return max(ends)


def codecs(info: dict[str, Any]) -> dict[str, str]:
    """{"video": codec, "audio": codec} of a file's first streams of each type."""
    found: dict[str, str] = {}
    for stream in info["streams"]:
        found.setdefault(stream["codec_type"], stream["codec_name"])
    return found


def check_original(
    uploads: Path, row: dict[str, Any], sha256: str, expected: dict[str, str]
) -> Path:
    """The stored original is byte for byte the browser's blob, an MP4 with these codecs."""
    original = uploads / row["original_path"]
    data = original.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256, "the stored original is not the blob"
    assert row["original_sha256"] == sha256, "the recorded sha256 is not the blob's"
    assert row["original_container"] == "mp4", row["original_container"]
    assert data[4:8] == b"ftyp", data[:16]
    info = ffprobe(original)
    assert "mp4" in info["format"]["format_name"], info["format"]
    found = codecs(info)
    assert {kind: found.get(kind) for kind in expected} == expected, found
    if "video" in expected:
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert video["width"] > 0 and video["height"] > 0, video
    return original


def check_delivery(app: Any, uploads: Path, reflection_id: int, original: Path) -> float:
    """Run the queued jobs; the reflection is ready with a delivery MP4 as long as the
    recording (read from the original's packets). Returns that length in seconds."""
    run_queued(app)
    jobs = rows(app, "SELECT status, error FROM job WHERE target_id = ?", reflection_id)
    assert jobs and all(job["status"] == "done" for job in jobs), jobs
    (reflection,) = rows(app, "SELECT * FROM reflection WHERE id = ?", reflection_id)
    assert reflection["status"] == "ready", (reflection["status"], reflection["failure_reason"])
    stream = "v:0" if reflection["kind"] == "video" else "a:0"
    recorded = packet_seconds(original, stream)
    assert recorded > 0.5, recorded
    assert abs(reflection["duration_seconds"] - recorded) < 0.5, (reflection, recorded)
    (asset,) = rows(
        app, "SELECT path FROM asset WHERE reflection_id = ? AND kind = 'mp4'", reflection_id
    )
    delivery = uploads / asset["path"]
    info = ffprobe(delivery)
    assert "mp4" in info["format"]["format_name"], info["format"]
    assert abs(float(info["format"]["duration"]) - recorded) < 0.5, (info["format"], recorded)
    found = codecs(info)
    assert found.get("video") == "h264" and found.get("audio") == "aac", found
    return recorded
