"""Browsers' fragmented MP4 (issue 14): WebKit writes the last fragment's moof twice, and
processing reads a copy without the orphan, leaving the original untouched."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from voxpop.media import fmp4

pytestmark = pytest.mark.media


def _fragmented(tmp_path: Path) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    path = tmp_path / "fragmented.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", "3", "-c:v", "libx264", "-g", "30", "-c:a", "aac", "-movflags",
         "frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


def _doubled_last_moof(source: Path, target: Path) -> None:
    """What WebKitGTK's recorder wrote: the last moof twice in a row, then its mdat."""
    data = source.read_bytes()
    offset, size, _ = [box for box in fmp4.top_level_boxes(source) if box[2] == b"moof"][-1]
    target.write_bytes(data[: offset + size] + data[offset:])


def _decode_errors(path: Path) -> str:
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    ).stderr  # fmt: skip


def test_a_doubled_moof_is_left_out_of_the_working_copy(tmp_path: Path) -> None:
    clean = _fragmented(tmp_path)
    assert fmp4.orphan_fragments(clean) == []
    assert fmp4.without_orphan_fragments(clean, tmp_path / "copy.mp4") == clean

    broken = tmp_path / "webkit.mp4"
    _doubled_last_moof(clean, broken)
    before = hashlib.sha256(broken.read_bytes()).hexdigest()
    assert len(fmp4.orphan_fragments(broken)) == 1
    assert _decode_errors(broken) != ""  # what made the pipeline refuse the take

    repaired = fmp4.without_orphan_fragments(broken, tmp_path / "copy.mp4")
    assert repaired == tmp_path / "copy.mp4"
    assert repaired.read_bytes() == clean.read_bytes()
    assert _decode_errors(repaired) == ""
    assert hashlib.sha256(broken.read_bytes()).hexdigest() == before  # original untouched


def test_not_an_mp4_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "clip.webm"
    other.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 64)
    assert fmp4.top_level_boxes(other) == []
    assert fmp4.without_orphan_fragments(other, tmp_path / "copy") == other
