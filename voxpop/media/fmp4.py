"""Fragmented MP4 as browsers record it: a small repair before processing (issue 14).

WebKit's recorder (seen in WebKitGTK 2.50, the iPad's engine family) can write the last
fragment's ``moof`` box twice in a row before its ``mdat``. A ``moof`` addresses its samples
relative to itself, so the first copy points into the second and decoders read garbage: ffmpeg
reports "Invalid data found" for the last fraction of a second, and the whole take would be
refused as damaged. A ``moof`` that is followed directly by another ``moof`` (no ``mdat`` of
its own) carries no media: processing reads a copy without such orphans. The original is
never changed (it is the delegate's recording, byte for byte).
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

_HEADER = struct.Struct(">I4s")


def top_level_boxes(path: Path) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of each top-level box; [] if the file is not ISO-BMFF."""
    boxes: list[tuple[int, int, bytes]] = []
    total = path.stat().st_size
    with open(path, "rb") as handle:
        offset = 0
        while offset + 8 <= total:
            handle.seek(offset)
            size, kind = _HEADER.unpack(handle.read(8))
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
            elif size == 0:
                size = total - offset
            if size < 8 or offset + size > total:
                break  # cut short or not a box: leave the rest to the probe
            boxes.append((offset, size, kind))
            offset += size
    if not boxes or boxes[0][2] != b"ftyp":
        return []
    return boxes


def orphan_fragments(path: Path) -> list[tuple[int, int]]:
    """(offset, size) of each ``moof`` directly followed by another ``moof``."""
    boxes = top_level_boxes(path)
    return [
        (offset, size)
        for (offset, size, kind), (_, _, following) in zip(boxes, boxes[1:], strict=False)
        if kind == b"moof" and following == b"moof"
    ]


def without_orphan_fragments(original: Path, scratch: Path) -> Path:
    """``original`` itself, or (when it has orphan fragments) a copy without them at
    ``scratch``, which the caller removes when done."""
    orphans = orphan_fragments(original)
    if not orphans:
        return original
    skip = dict(orphans)
    partial = scratch.with_name(f".{scratch.name}.partial")
    with open(original, "rb") as source, open(partial, "wb") as target:
        for offset, size, _kind in top_level_boxes(original):
            if offset in skip:
                continue
            source.seek(offset)
            remaining = size
            while remaining:
                chunk = source.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                target.write(chunk)
                remaining -= len(chunk)
        # Anything after the last whole box (a cut-short tail) stays, for the probe to judge.
        boxes = top_level_boxes(original)
        end = boxes[-1][0] + boxes[-1][1]
        source.seek(end)
        shutil.copyfileobj(source, target)
    partial.replace(scratch)
    return scratch
