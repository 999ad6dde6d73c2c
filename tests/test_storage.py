"""MediaStore: hashing while streaming, atomic originals, no path escapes, crash leftovers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from voxpop.storage import MediaStore, StorageError

pytestmark = pytest.mark.python_only


def test_incoming_file_hashes_while_writing(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    incoming = store.open_incoming()
    chunks = [b"\x1a\x45\xdf\xa3", b"a" * 70_000, b"b" * 3]
    for chunk in chunks:
        assert incoming.write(chunk) == len(chunk)
    data = b"".join(chunks)
    assert incoming.sha256 == hashlib.sha256(data).hexdigest()
    assert incoming.size == len(data)
    assert incoming.head == data[:64]
    incoming.seek(0)
    assert incoming.read(4) == b"\x1a\x45\xdf\xa3"
    original = store.commit_original(incoming, "webm")
    path = store.path(original.relative_path)
    assert path.read_bytes() == data
    assert original.sha256 == hashlib.sha256(data).hexdigest()
    assert list(store.incoming.iterdir()) == []
    assert not path.stat().st_mode & 0o222


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "originals/../../x", "", "."])
def test_paths_outside_the_store_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(StorageError):
        MediaStore(tmp_path / "uploads").path(bad)


def test_bad_extension_is_refused(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    with pytest.raises(StorageError):
        store.commit_original(store.open_incoming(), "../webm")


def test_sweep_removes_half_written_uploads_only(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    store.ensure_folders()
    leftover = store.open_incoming()
    leftover.write(b"partial")
    leftover.close()
    kept = store.commit_original(store.open_incoming(), "mp4")
    assert store.sweep_incoming() == 1
    assert list(store.incoming.iterdir()) == []
    assert store.path(kept.relative_path).exists()
