"""The staging folder for resumable uploads: partial recordings on disk, owned by the server.

Pure file work, no Flask and no database. A partial upload is ``staging/<id>.part``; its
offset is its size on disk, so a restarted server resumes where the bytes stopped. Whoever
writes to a staged file holds an exclusive ``flock`` on it, and so does an upload streaming
into ``incoming/``: a sweep skips any file a live process holds, so no command can delete an
upload in flight.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from voxpop.storage import SNIFF_BYTES, file_sha256, fsync_folder, is_disk_full, try_lock

READ_BLOCK = 1024 * 1024  # bytes read from the request per write: memory stays flat
LOCK_POLL_SECONDS = 0.05
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}


class StagingError(Exception):
    """Base of the staging errors; each maps to one HTTP answer in the tus view."""


class UploadBusy(StagingError):
    """Another request is writing this upload right now (tus: 423 Locked)."""


class OffsetMismatch(StagingError):
    """The client's Upload-Offset is not where the bytes on disk end (tus: 409)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"The upload is at byte {offset}")
        self.offset = offset


class PastLength(StagingError):
    """The client sent more bytes than it declared (tus: 413); what it sent is dropped."""


class ChecksumMismatch(StagingError):
    """The chunk's bytes do not match its Upload-Checksum (tus: 460); the chunk is dropped."""


class DiskFull(StagingError):
    """Not enough free disk space for what the client is about to send (HTTP 507)."""


class ClientGone(StagingError):
    """The client stopped sending mid-chunk; what arrived is kept for the resume."""


@dataclass(frozen=True)
class Checksum:
    """A parsed ``Upload-Checksum`` header: algorithm and expected digest."""

    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, header: str) -> Checksum:
        """Parse ``"<algorithm> <base64 digest>"``; ValueError if malformed or unsupported."""
        algorithm, _sep, encoded = header.strip().partition(" ")
        if algorithm not in CHECKSUM_ALGORITHMS:
            raise ValueError(f"unsupported checksum algorithm {algorithm!r}")
        return cls(algorithm, base64.b64decode(encoded.strip(), validate=True))


def free_bytes(folder: Path) -> int:
    """Bytes free for an unprivileged writer on the file system that holds ``folder``."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def ensure_room(folder: Path, needed: int, floor: int) -> None:
    """Refuse (DiskFull) unless ``needed`` bytes fit with ``floor`` bytes to spare."""
    if free_bytes(folder) < needed + floor:
        raise DiskFull(f"{needed} bytes needed, {free_bytes(folder)} free, floor {floor}")


class StagingArea:
    """``uploads/staging/``: one ``<id>.part`` file per unfinished resumable upload."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, upload_id: str) -> Path:
        """Where upload ``upload_id`` is staged (ids are voxpop's own hex strings)."""
        if not upload_id.isalnum():
            raise ValueError(f"bad upload id {upload_id!r}")
        return self.folder / f"{upload_id}.part"

    def create(self, upload_id: str) -> None:
        """Create the empty staged file, durably."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path(upload_id), "xb") as handle:
            os.fsync(handle.fileno())
        fsync_folder(self.folder)

    def offset(self, upload_id: str) -> int | None:
        """How many bytes have arrived (the file's size), or None if nothing is staged."""
        try:
            return self.path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    @contextmanager
    def writing(self, upload_id: str, wait_seconds: float = 0.0) -> Iterator[BinaryIO]:
        """Open the staged file under an exclusive lock, waiting up to ``wait_seconds`` for it.

        Raises UploadBusy if another request still holds it, FileNotFoundError if it is gone.
        """
        with open(self.path(upload_id), "r+b", buffering=0) as handle:
            deadline = time.monotonic() + wait_seconds
            while not try_lock(handle):
                if time.monotonic() >= deadline:
                    raise UploadBusy(upload_id)
                time.sleep(LOCK_POLL_SECONDS)
            yield handle  # the lock goes with the file

    def append(
        self,
        upload_id: str,
        offset: int,
        length: int,
        read: Callable[[int], bytes],
        checksum: Checksum | None = None,
    ) -> int:
        """Append what ``read`` gives at ``offset`` (never past ``length``); return the new offset.

        Bytes are written unbuffered as they arrive and fsynced at the end, so the answered
        offset is durable and a killed server keeps what reached it. On PastLength,
        ChecksumMismatch or a full disk, the file goes back to ``offset``: nothing half-written
        stays. When the client stops mid-chunk (ClientGone), what arrived is kept, unless the
        chunk came with a checksum: bytes that cannot be checked are dropped too.
        """
        with self.writing(upload_id) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size != offset:
                raise OffsetMismatch(size)
            handle.seek(offset)
            digest = CHECKSUM_ALGORITHMS[checksum.algorithm]() if checksum else None
            written = offset
            try:
                while True:
                    try:
                        block = read(READ_BLOCK)
                    except (OSError, ValueError) as error:
                        if is_disk_full(error):
                            raise
                        raise ClientGone(str(error)) from error
                    if not block:
                        break
                    if written + len(block) > length:
                        raise PastLength(f"{written + len(block)} > {length}")
                    _write_all(handle, block)
                    written += len(block)
                    if digest is not None:
                        digest.update(block)
                if (
                    checksum is not None
                    and digest is not None
                    and digest.digest() != checksum.digest
                ):
                    raise ChecksumMismatch(checksum.algorithm)
            except ClientGone:
                if checksum is not None:
                    handle.truncate(offset)
                os.fsync(handle.fileno())
                raise
            except BaseException as error:
                handle.truncate(offset)
                os.fsync(handle.fileno())
                if is_disk_full(error):
                    raise DiskFull(str(error)) from error
                raise
            os.fsync(handle.fileno())
            return written

    def finished_file(self, upload_id: str) -> StagedFile:
        """The complete staged file, ready to become an original (hashed once, here)."""
        path = self.path(upload_id)
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        return StagedFile(path, head, path.stat().st_size, file_sha256(path))

    def remove(self, upload_id: str) -> bool:
        """Delete a staged file unless a live request is writing it; True if it is gone."""
        path = self.path(upload_id)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the unlink
        except FileNotFoundError:
            return True
        with handle:
            if not try_lock(handle):
                return False
            path.unlink(missing_ok=True)
        return True


def _write_all(handle: BinaryIO, block: bytes) -> None:
    view = memoryview(block)
    while view:
        count = handle.write(view)
        if count is None:  # pragma: no cover - only for non-blocking files
            continue
        view = view[count:]


@dataclass
class StagedFile:
    """A complete staged upload, shaped like an IncomingFile for MediaStore.commit_original."""

    path: Path
    head: bytes
    size: int
    sha256: str

    def sync(self) -> None:
        """Already fsynced by every append; nothing to flush."""

    def close(self) -> None:
        """Nothing is held open."""
