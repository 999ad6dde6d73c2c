"""Quick content check of an upload's first bytes, before it is stored.

This is not the full probe (that runs ffprobe, hardened, in the worker): it only refuses what
is obviously not a recording a kiosk could make, whatever its filename or Content-Type claims.
"""

from __future__ import annotations

# Containers a browser's MediaRecorder (or a phone) produces, with the extension we store.
EXTENSIONS = {"webm": "webm", "mp4": "mp4", "ogg": "ogg", "wav": "wav", "mp3": "mp3"}

_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide")


def sniff_container(head: bytes) -> str | None:
    """Return the container family of a file from its first bytes, or None if not media.

    >>> sniff_container(bytes.fromhex("1a45dfa3") + b"...")
    'webm'
    """
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"  # EBML: Matroska or WebM
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mp4"  # ISO BMFF: MP4, M4A, MOV, 3GP
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None
