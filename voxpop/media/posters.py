"""Posters and thumbnails from a clip's frames, and choosing the frame that makes the best poster.

Pure (no Flask): frame PNGs in, a JPEG poster and a WebP thumbnail out, each opened and saved
through ``images`` so nothing of the upload's metadata survives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from PIL import Image, ImageStat

from voxpop.media.images import StrPath, mode_for, open_image_safely, save_stripped

Frame = TypeVar("Frame", Image.Image, Path, str)


def poster_and_thumbnail(
    frame: Image.Image | StrPath,
    poster_out: StrPath,
    thumb_out: StrPath,
    *,
    poster_max: tuple[int, int] = (1280, 720),
    thumb_width: int = 320,
) -> tuple[Path, Path]:
    """From one frame (an image, or a PNG opened through the safe door), write a JPEG poster
    (within poster_max) and a WebP thumbnail."""
    if min(poster_max) < 1 or thumb_width < 1:
        raise ValueError("poster_max and thumb_width must be positive")
    picture = mode_for(_as_image(frame), "JPEG")
    poster = picture.copy()
    poster.thumbnail(poster_max, Image.Resampling.LANCZOS)
    thumb_height = max(1, round(picture.height * thumb_width / picture.width))
    thumb = picture.resize((thumb_width, thumb_height), Image.Resampling.LANCZOS)
    return (
        save_stripped(poster, poster_out, format="JPEG"),
        save_stripped(thumb, thumb_out, format="WEBP"),
    )


def _as_image(image_or_path: Image.Image | StrPath) -> Image.Image:
    """Use an image as is, or open a path through the safe door."""
    if isinstance(image_or_path, Image.Image):
        return image_or_path
    return open_image_safely(image_or_path)


def _luma_sample(image: Image.Image) -> Image.Image:
    """Greyscale, reduced to at most 160 pixels wide: plenty for brightness statistics."""
    grey = image.convert("L")
    if grey.width > 160:
        grey = grey.resize(
            (160, max(1, round(grey.height * 160 / grey.width))), Image.Resampling.BOX
        )
    return grey


def is_mostly_black(
    image_or_path: Image.Image | StrPath, threshold: float = 0.95, *, dark_level: int = 24
) -> bool:
    """True if at least ``threshold`` of the pixels are darker than ``dark_level`` (0-255)."""
    histogram = _luma_sample(_as_image(image_or_path)).histogram()
    return sum(histogram[: dark_level + 1]) / sum(histogram) >= threshold


def frame_score(path: Image.Image | StrPath) -> float:
    """How good a poster a frame makes, 0 to 1; black, white and flat frames score near 0.

    The score is the geometric mean of exposure (how far the mean brightness is from pure black
    or white) and contrast (standard deviation of brightness), each scaled to 0..1, so a frame
    needs both to score well.
    """
    stat = ImageStat.Stat(_luma_sample(_as_image(path)))
    mean, spread = stat.mean[0], stat.stddev[0]
    exposure = min(mean, 255 - mean) / 127.5
    contrast = min(spread / 127.5, 1.0)
    return math.sqrt(max(0.0, exposure) * contrast)


def choose_poster_frame(frames: Sequence[Frame]) -> Frame:
    """Pick the best-scoring frame (an image or a PNG's path), preferring any not mostly black;
    ties go to the earliest. Returns the one chosen, as given."""
    if not frames:
        raise ValueError("no frames to choose from")
    ranked = []
    for index, frame in enumerate(frames):
        image = _as_image(frame)
        ranked.append((not is_mostly_black(image), frame_score(image), -index))
    return frames[-max(ranked)[2]]


def split_frames(strip: Image.Image, count: int) -> list[Image.Image]:
    """Cut a strip of ``count`` equal frames side by side (``transcode.extract_frames``) apart."""
    if count < 1 or strip.width % count:
        raise ValueError(f"a strip {strip.width} pixels wide does not hold {count} frames")
    width = strip.width // count
    return [strip.crop((index * width, 0, (index + 1) * width, strip.height))
            for index in range(count)]  # fmt: skip
