"""Make an S3 bucket (or any S3-compatible store) hold exactly the files of a local folder.

Generic and settings-free: give it a boto3 S3 client, a local directory, a bucket and a key
prefix; it reports progress as it goes and returns what it did. It knows nothing about events,
jobs or where its settings come from (``voxpop.publishing.publish`` holds those rules).

The sync compares each file's sha256 with the ``sha256`` metadata of the object already there
(multipart ETags are not content hashes), sends only what changed, media first and pages last
(so a page never links to a file not yet there), then deletes objects under the prefix that are
no longer in the folder. A PUT or a completed multipart upload is atomic in S3, and multipart
uploads left incomplete by a lost connection are aborted at the start of the next sync, so the
bucket never holds a partial object.

Errors from boto3 (offline, refused, no such bucket…) propagate unchanged for the caller to
explain; the last ``SyncProgress`` passed to ``on_progress`` says how far the sync came.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxpop.storage import file_sha256

log = logging.getLogger(__name__)

MB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MB
MULTIPART_CHUNKSIZE = 8 * MB
UPLOAD_THREADS = 4
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes

_TEXT = "; charset=utf-8"
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html" + _TEXT,
    ".htm": "text/html" + _TEXT,
    ".css": "text/css" + _TEXT,
    ".js": "text/javascript" + _TEXT,
    ".mjs": "text/javascript" + _TEXT,
    ".json": "application/json",
    ".vtt": "text/vtt" + _TEXT,
    ".txt": "text/plain" + _TEXT,
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".webm": "video/webm",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".zip": "application/zip",
}
# Pages and the manifest change with every review or withdrawal: short. Captions, styles and
# scripts: a few minutes. Media: an hour, not days, so that a withdrawal also leaves caches soon.
CACHE_PAGES = "public, max-age=60, must-revalidate"
CACHE_TEXT = "public, max-age=300"
CACHE_MEDIA = "public, max-age=3600"
_PAGE_SUFFIXES = {".html", ".htm", ".json", ".xml", ".txt"}
_TEXT_SUFFIXES = {".vtt", ".css", ".js", ".mjs", ".svg"}


class DeleteRefused(Exception):
    """The store refused to delete an object; ``key`` and ``reason`` say which and why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def key_prefix(prefix: str) -> str:
    """What every key starts with: ``prefix/``, or nothing for the bucket's root."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


@dataclass(frozen=True)
class LocalFile:
    """One file of the export, as it should be in the bucket."""

    path: str  # inside the export, with forward slashes
    file: Path
    size: int
    sha256: str
    content_type: str
    cache_control: str


@dataclass
class SyncProgress:
    """Where a sync is: passed to ``on_progress`` as it goes."""

    phase: str  # "checking", "uploading", "deleting", "done"
    files_total: int = 0
    files_to_send: int = 0
    files_sent: int = 0
    bytes_to_send: int = 0
    bytes_sent: int = 0  # including the part of the file being sent
    files_to_delete: int = 0
    files_deleted: int = 0
    current: str | None = None

    @property
    def files_queued(self) -> int:
        """Files still to send or delete."""
        return (self.files_to_send - self.files_sent) + (self.files_to_delete - self.files_deleted)

    @property
    def fraction(self) -> float:
        """0–1 for a progress bar: mostly bytes, a little for checking and deleting."""
        if self.phase == "done":
            return 1.0
        if self.phase == "checking":
            return 0.0
        sent = self.bytes_sent / self.bytes_to_send if self.bytes_to_send else 1.0
        deleted = self.files_deleted / self.files_to_delete if self.files_to_delete else 1.0
        return round(0.05 + 0.9 * min(sent, 1.0) + 0.05 * deleted * (self.phase == "deleting"), 4)


@dataclass
class SyncResult:
    """What a sync did."""

    files_total: int = 0
    files_uploaded: int = 0
    bytes_sent: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0


def human_bytes(count: int) -> str:
    """1536 -> "1.5 KB" (decimal units are what people expect from upload sizes)."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover - the loop always returns


def content_type_for(name: str) -> str:
    """The Content-Type to store a file with, from its name."""
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _encoding = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def cache_control_for(name: str) -> str:
    """The Cache-Control to store a file with: pages short, media longer."""
    suffix = Path(name).suffix.lower()
    if suffix in _PAGE_SUFFIXES:
        return CACHE_PAGES
    if suffix in _TEXT_SUFFIXES:
        return CACHE_TEXT
    return CACHE_MEDIA


def scan_directory(local_dir: Path) -> list[LocalFile]:
    """Every regular file under ``local_dir`` (symbolic links are not followed), sorted by path."""
    root = Path(local_dir)
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        files.append(
            LocalFile(
                relative,
                path,
                path.stat().st_size,
                file_sha256(path),
                content_type_for(relative),
                cache_control_for(relative),
            )
        )
    return files


def _send_order(local: LocalFile) -> tuple[int, str]:
    # Media first, then captions/styles, then pages and the manifest that point to them.
    suffix = Path(local.path).suffix.lower()
    rank = 2 if suffix in _PAGE_SUFFIXES else 1 if suffix in _TEXT_SUFFIXES else 0
    return rank, local.path


def _abort_incomplete_uploads(client: Any, bucket: str, key_prefix: str) -> int:
    """Abort multipart uploads under our prefix that a lost connection left behind."""
    from botocore.exceptions import ClientError  # loaded with the client (see publish.py)

    aborted = 0
    try:
        pages = client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=key_prefix
        )
        for page in pages:
            for upload in page.get("Uploads", []) or []:
                client.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                aborted += 1
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NotImplemented", "501"}:
            return aborted  # a store without multipart listing; nothing to clean then
        raise
    if aborted:
        log.info(
            "Aborted %d incomplete multipart upload(s) in s3://%s/%s", aborted, bucket, key_prefix
        )
    return aborted


def _remote_sizes(client: Any, bucket: str, key_prefix: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
    for page in pages:
        for item in page.get("Contents", []) or []:
            sizes[item["Key"]] = int(item["Size"])
    return sizes


def _is_current(client: Any, bucket: str, key: str, local: LocalFile) -> bool:
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return (
        head.get("Metadata", {}).get("sha256") == local.sha256
        and head.get("ContentType") == local.content_type
        and head.get("CacheControl") == local.cache_control
    )


def sync_directory(
    client: Any,
    local_dir: Path,
    bucket: str,
    prefix: str = "",
    *,
    on_progress: Callable[[SyncProgress], None] | None = None,
    on_object: Callable[[str, LocalFile | None], None] | None = None,
    delete: bool = True,
    multipart_threshold: int = MULTIPART_THRESHOLD,
    multipart_chunksize: int = MULTIPART_CHUNKSIZE,
) -> SyncResult:
    """Make ``bucket/prefix/`` hold exactly the files of ``local_dir``; send only what changed.

    ``on_progress`` gets a ``SyncProgress`` as files are checked, sent and deleted (from the
    upload threads too, one call at a time). ``on_object(path, local)`` is called after each
    upload (``local``) or delete (``None``) has succeeded.

    Raises:
        botocore/boto3 errors as they come: nothing partial is left, so run the sync again.
        DeleteRefused: the store would not delete an object that is no longer in the folder.
    """
    start_of_key = key_prefix(prefix)
    local_files = scan_directory(Path(local_dir))
    progress = SyncProgress(phase="checking", files_total=len(local_files))
    lock = threading.Lock()

    def report() -> None:
        if on_progress is not None:
            on_progress(progress)

    report()
    _abort_incomplete_uploads(client, bucket, start_of_key)
    remote = _remote_sizes(client, bucket, start_of_key)
    same_size = [f for f in local_files if remote.get(start_of_key + f.path) == f.size]
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
        current = dict(
            zip(
                (f.path for f in same_size),
                pool.map(
                    lambda f: _is_current(client, bucket, start_of_key + f.path, f), same_size
                ),
                strict=True,
            )
        )
    to_send = sorted((f for f in local_files if not current.get(f.path)), key=_send_order)
    wanted = {start_of_key + f.path for f in local_files}
    stale = sorted(key for key in remote if key not in wanted) if delete else []
    progress.phase = "uploading"
    progress.files_to_send = len(to_send)
    progress.bytes_to_send = sum(f.size for f in to_send)
    progress.files_to_delete = len(stale)
    report()
    from boto3.s3.transfer import TransferConfig

    transfer = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=multipart_chunksize,
        max_concurrency=UPLOAD_THREADS,
    )
    sent_before = 0
    for local in to_send:
        progress.current = local.path

        def on_bytes(count: int, limit: int = sent_before + local.size) -> None:
            with lock:
                progress.bytes_sent = min(progress.bytes_sent + count, limit)
                report()

        client.upload_file(
            str(local.file),
            bucket,
            start_of_key + local.path,
            ExtraArgs={
                "ContentType": local.content_type,
                "CacheControl": local.cache_control,
                "Metadata": {"sha256": local.sha256},
            },
            Callback=on_bytes,
            Config=transfer,
        )
        sent_before += local.size
        with lock:
            progress.files_sent += 1
            progress.bytes_sent = sent_before
            if on_object is not None:
                on_object(local.path, local)
            report()
    progress.phase = "deleting"
    progress.current = None
    for start in range(0, len(stale), DELETE_BATCH):
        batch = stale[start : start + DELETE_BATCH]
        answer = client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise DeleteRefused(str(first.get("Key")), first.get("Message") or first.get("Code"))
        progress.files_deleted += len(batch)
        if on_object is not None:
            for key in batch:
                on_object(key[len(start_of_key) :], None)
        report()
    progress.phase = "done"
    report()
    return SyncResult(
        files_total=len(local_files),
        files_uploaded=progress.files_sent,
        bytes_sent=progress.bytes_sent,
        files_unchanged=len(local_files) - len(to_send),
        files_deleted=progress.files_deleted,
    )
