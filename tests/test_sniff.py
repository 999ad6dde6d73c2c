"""The quick content check that refuses obvious non-media before anything is stored."""

from __future__ import annotations

import pytest

from voxpop.media.sniff import sniff_container

pytestmark = pytest.mark.python_only


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (bytes.fromhex("1a45dfa3") + b"\x9f\x42\x86\x81", "webm"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  ", "mp4"),
        (b"OggS\x00\x02" + b"\0" * 20, "ogg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04\x00" + b"\0" * 10, "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"", None),
        (b"\x1a\x45", None),
        (b"%PDF-1.7", None),
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", None),
        (b"ffconcat version 1.0\nfile '/etc/passwd'\n", None),
        (b"<html>", None),
        (b"RIFF\x24\x00\x00\x00AVI LIST", None),
        (b"PK\x03\x04", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert sniff_container(head) == expected
