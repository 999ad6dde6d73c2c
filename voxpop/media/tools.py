"""Finding the media tools once, at start-up, with a clear answer when they are missing."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess


@functools.cache
def ffmpeg_version(binary: str = "ffmpeg") -> str | None:
    """Return ffmpeg's version string (e.g. ``5.1.6-0+deb12u1``), or None if it is not installed."""
    path = shutil.which(binary)
    if path is None:
        return None
    try:
        result = subprocess.run(
            [path, "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"version (\S+)", result.stdout)
    return match.group(1) if match else None
