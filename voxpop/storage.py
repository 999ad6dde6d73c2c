"""MediaStore: where uploaded and derived media live on disk.

An upload streams into ``incoming/`` through :class:`IncomingFile`, which hashes as it writes.
Only a complete, fsynced file is renamed (atomically) into ``originals/`` under a name voxpop
generates; the client's filename never becomes a path. Originals are then read-only.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNIFF_BYTES = 64


class StorageError(Exception):
    """Raised when a path would escape the store or a file cannot be stored."""


class IncomingFile(io.RawIOBase):
    """A writable file in ``incoming/`` that keeps a running sha256, size and first bytes."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file = open(path, "xb+")  # noqa: SIM115 - lifetime spans the request
        # Held until closed: a sweep (serve/worker start) never deletes an upload in flight.
        try_lock(self._file)
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.head = b""

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        self._file.write(view)  # buffered writer: writes everything or raises
        self._sha256.update(view)
        if len(self.head) < SNIFF_BYTES:
            self.head += bytes(view[: SNIFF_BYTES - len(self.head)])
        self.size += len(view)
        return len(view)

    def read(self, size: int = -1) -> bytes:
        self._file.flush()
        return self._file.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self._file.flush()
        return self._file.readinto(buffer)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._file.flush()
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    @property
    def sha256(self) -> str:
        """Hex sha256 of everything written so far."""
        return self._sha256.hexdigest()

    def sync(self) -> None:
        """Flush to the operating system and to the disk."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()


@dataclass(frozen=True)
class StoredOriginal:
    """An original media file, complete on disk."""

    relative_path: str
    sha256: str
    size: int


class MediaStore:
    """The uploads folder: ``incoming/``, ``originals/`` and ``derived/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.incoming = self.root / "incoming"
        self.originals = self.root / "originals"
        self.derived = self.root / "derived"
        # Resumable (tus) uploads in progress; see voxpop.reflection.intake.staging.
        self.staging = self.root / "staging"

    def ensure_folders(self) -> None:
        """Create the store's folders if they are missing."""
        for folder in (self.incoming, self.originals, self.derived, self.staging):
            folder.mkdir(parents=True, exist_ok=True)

    def open_incoming(self) -> IncomingFile:
        """Return a new, empty file in ``incoming/`` to stream an upload into."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        return IncomingFile(self.incoming / f"{uuid.uuid4().hex}.part")

    def discard(self, incoming: IncomingFile) -> None:
        """Close and delete an upload that will not be kept."""
        incoming.close()
        incoming.path.unlink(missing_ok=True)

    def commit_original(self, incoming: IncomingFile, extension: str) -> StoredOriginal:
        """Make a finished upload a read-only original: fsync, atomic rename, fsync folder."""
        if not extension.isalnum():
            raise StorageError(f"Bad extension {extension!r}")
        incoming.sync()
        incoming.close()
        self.originals.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.{extension}"
        target = self.originals / name
        os.replace(incoming.path, target)
        os.chmod(target, 0o444)
        fsync_folder(self.originals)
        return StoredOriginal(f"originals/{name}", incoming.sha256, incoming.size)

    def path(self, relative_path: str) -> Path:
        """Return the absolute path of a stored file, refusing anything outside the store."""
        candidate = (self.root / relative_path).resolve()
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            raise StorageError(f"{relative_path!r} is not inside the media store")
        return candidate

    def sweep_incoming(self) -> int:
        """Delete uploads a crash left half-written; returns how many were removed.

        Only files no live process holds: an upload another server process is streaming
        holds a lock on its file and is kept.
        """
        return sweep_unheld(self.incoming)


def file_sha256(path: Path) -> str:
    """The sha256 of a file (hex), read in chunks: the one hash every stored file is named by."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fsync_folder(folder: Path) -> None:
    """Make a rename into ``folder`` durable (POSIX; Windows cannot open folders, and needs not)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def try_lock(handle: Any) -> bool:
    """Take an exclusive lock on an open file without waiting; False if another holds it."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def sweep_unheld(folder: Path, pattern: str = "*.part") -> int:
    """Delete files matching ``pattern`` in ``folder`` that no live process holds a lock on."""
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.glob(pattern):
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            continue
        with handle:
            if try_lock(handle):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def is_disk_full(error: BaseException) -> bool:
    """True for an OSError that means the disk (or a file size limit) is full."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
