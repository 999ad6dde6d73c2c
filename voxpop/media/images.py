"""Image safety: the one door through which Pillow opens an image we did not draw, and the one
way images are saved.

Pure (no Flask): paths in, files out, :class:`UnsafeImage` with a human message on failure.
``open_image_safely`` checks the format and the pixel count before decoding; ``save_stripped``
writes a fresh image, so no EXIF (GPS!), XMP, ICC profile or comment from a delegate's upload is
ever republished.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, ImageOps

from voxpop.storage import fsync_folder

StrPath = str | os.PathLike[str]

# Our explicit decompression-bomb policy for Pillow (its own default is ~89 megapixels). It is a
# process-wide setting in Pillow, so it is one constant, never a per-call value.
PIXEL_LIMIT = 40_000_000

# Pillow reports a phone's multi-picture JPEG as "MPO"; for us it is a JPEG.
_FORMAT_FAMILY = {"MPO": "JPEG"}
_SIGNATURES = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "PNG": {"optimize": True},
    "JPEG": {"quality": 85, "optimize": True, "progressive": True},
    "WEBP": {"quality": 80},
}
_SAVE_MODES = {"PNG": ("RGB", "RGBA", "L", "LA"), "JPEG": ("RGB", "L"), "WEBP": ("RGB", "RGBA")}


class UnsafeImage(Exception):
    """An image we refuse to decode: wrong format, too large, or damaged."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def open_image_safely(
    path: StrPath,
    *,
    allowed_formats: Sequence[str] = ("PNG", "JPEG", "WEBP"),
    max_pixels: int = PIXEL_LIMIT,
) -> Image.Image:
    """Decode an untrusted image into a fresh RGB/RGBA image with orientation applied, no metadata.

    Raises:
        UnsafeImage: not an allowed format, larger than ``max_pixels``, or damaged.
        OSError: the file itself cannot be opened (missing, unreadable).
        ValueError: ``max_pixels`` is above the module's PIXEL_LIMIT policy.
    """
    if max_pixels > PIXEL_LIMIT:
        raise ValueError(f"max_pixels may only tighten the limit of {PIXEL_LIMIT} pixels")
    allowed = [fmt.upper() for fmt in allowed_formats]
    Image.MAX_IMAGE_PIXELS = PIXEL_LIMIT
    # Also process-wide, and other libraries change it: WeasyPrint sets it on import (for the
    # record of the day), which would let a cut-off upload through as a half-grey picture.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # Opened here so a missing or unreadable file stays an OSError rather than "damaged".
    with open(path, "rb") as fh:
        try:
            with warnings.catch_warnings():
                # Pillow only warns between 1x and 2x its limit; we refuse either way.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(fh, formats=allowed) as im:
                    if _FORMAT_FAMILY.get(im.format or "", im.format) not in allowed:
                        raise UnsafeImage(_not_allowed_message(allowed))
                    width, height = im.size  # from the header only: nothing decoded yet
                    if width * height > max_pixels:
                        raise UnsafeImage("This image is too large to open safely.")
                    im.load()
                    upright = ImageOps.exif_transpose(im)
        except UnsafeImage:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnsafeImage("This image is too large to open safely.") from exc
        except Image.UnidentifiedImageError as exc:
            fh.seek(0)
            if _has_signature_of(fh.read(12), allowed):
                raise UnsafeImage("This image is damaged and cannot be read.") from exc
            raise UnsafeImage(_not_allowed_message(allowed)) from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
            raise UnsafeImage("This image is damaged and cannot be read.") from exc
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    return _fresh(upright.convert("RGBA" if has_alpha else "RGB"))


def _has_signature_of(head: bytes, allowed: Sequence[str]) -> bool:
    """True if a file's first bytes are those of an allowed format (so damaged, not foreign)."""
    return any(head.startswith(_SIGNATURES[fmt]) for fmt in allowed if fmt in _SIGNATURES) or (
        "WEBP" in allowed and head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    )


def _not_allowed_message(allowed: Sequence[str]) -> str:
    """Say which formats are accepted, in words: "not a PNG, JPEG or WebP image"."""
    names = ["WebP" if fmt == "WEBP" else fmt for fmt in allowed]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"This file is not a {listed} image."


def _fresh(image: Image.Image) -> Image.Image:
    """Rebuild an image from its pixels alone, leaving every piece of metadata behind."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def save_stripped(image: Image.Image, path: StrPath, *, format: str) -> Path:
    """Write PNG, JPEG or WebP with no metadata at all, atomically and byte-for-byte repeatable."""
    fmt = format.upper()
    fmt = "JPEG" if fmt == "JPG" else fmt
    if fmt not in _SAVE_OPTIONS:
        raise ValueError(f"cannot save as {format!r}: use PNG, JPEG or WEBP")
    path = Path(path)
    clean = _fresh(mode_for(image, fmt))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            clean.save(fh, format=fmt, **_SAVE_OPTIONS[fmt])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def mode_for(image: Image.Image, fmt: str) -> Image.Image:
    """Convert to a mode the format stores plainly; JPEG has no alpha, so flatten onto black."""
    if image.mode in _SAVE_MODES[fmt]:
        return image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha and "RGBA" in _SAVE_MODES[fmt]:
        return image.convert("RGBA")
    if has_alpha:
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")
