"""Real tus clients over real HTTP: tuspy against the app in a thread, and raw PATCHes against
a `voxpop serve` process that is killed with SIGKILL mid-upload and restarted."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cheroot import wsgi
from tusclient.client import TusClient

from tests.conftest import TMP, requires_ffmpeg
from tests.serveprocess import DEADLINE_SECONDS, ServeProcess, kiosk_config, reflections
from tests.tusupload import (
    OFFSET_STREAM,
    TUS,
    UPLOADS_URL,
    big_webm,
    encode_metadata,
    sha256,
    video_metadata,
)
from voxpop import create_app, models
from voxpop.db import connect, database_path, get_db

pytestmark = [requires_ffmpeg, pytest.mark.media]

MB = 1024 * 1024


@pytest.fixture(scope="module")
def clip_4mb() -> Path:
    """A real VP8/Opus WebM of about 3.5 MB: four 1 MB chunks."""
    return big_webm(TMP / "media" / "tus-3.5mb.webm", 3.5)


@pytest.fixture(scope="module")
def clip_20mb() -> Path:
    return big_webm(TMP / "media" / "tus-20mb.webm", 20)


# -- tuspy against the app in a thread ------------------------------------------------------


@dataclass
class LiveApp:
    app: Any
    url: str
    token: str
    config: dict[str, Any]
    patch_bytes: list[int]  # body bytes the server read, per PATCH

    def staged(self) -> dict[str, int]:
        folder = self.app.extensions["voxpop"].store.staging
        return {path.stem: path.stat().st_size for path in folder.iterdir()}

    def reflections(self) -> list[dict[str, Any]]:
        return reflections(database_path(self.app.config["INSTANCE"]))


class CountingPatches:
    """WSGI middleware: how many body bytes each PATCH carried (the Content-Length sent)."""

    def __init__(self, app: Any, counts: list[int]) -> None:
        self.app, self.counts = app, counts

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["REQUEST_METHOD"] == "PATCH":
            self.counts.append(int(environ.get("CONTENT_LENGTH") or 0))
        return self.app(environ, start_response)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveApp]:
    """The real app served over HTTP on 127.0.0.1 by cheroot (as `voxpop serve` does), with
    one kiosk."""
    app = create_app({"INSTANCE": str(tmp_path / "instance"), "UPLOADS": str(tmp_path / "up"),
                      "TESTING": True, "QUEUE": "memory"})  # fmt: skip
    with app.app_context():
        db = get_db()
        models.create_event(db, "Whose Shoes? Wrexham", date="2026-11-23", venue="Wrexham",
                            languages=["en"], max_clip_seconds=10)  # fmt: skip
        token = models.create_kiosk(db, "tuspy").api_token
        config = kiosk_config(db)
    counts: list[int] = []
    server = wsgi.Server(("127.0.0.1", 0), CountingPatches(app, counts), numthreads=4)
    server.prepare()
    thread = threading.Thread(target=server.serve, name="tus-live", daemon=True)
    thread.start()
    try:
        port = server.bind_addr[1]
        yield LiveApp(app, f"http://127.0.0.1:{port}", token, config, counts)
    finally:
        server.stop()
        thread.join(timeout=10)


def test_tuspy_pauses_and_a_new_uploader_resumes(live: LiveApp, clip_4mb: Path) -> None:
    size = clip_4mb.stat().st_size
    assert size > 3 * MB
    client = TusClient(
        f"{live.url}{UPLOADS_URL}", headers={"Authorization": f"Bearer {live.token}"}
    )
    metadata = video_metadata(live.config)
    first = client.uploader(
        file_path=str(clip_4mb), chunk_size=MB, metadata=metadata, upload_checksum=True
    )
    pause_at = MB + MB // 2
    first.upload(stop_at=pause_at)  # a tablet put to sleep mid-upload
    assert first.offset == pause_at
    assert live.patch_bytes == [MB, MB // 2]
    (upload_id,) = live.staged()
    assert live.staged() == {upload_id: pause_at}
    assert first.url == f"{live.url}{UPLOADS_URL}{upload_id}"
    assert live.reflections() == []

    # The kiosk page was reloaded: a new uploader that only knows the upload's URL.
    second = client.uploader(file_path=str(clip_4mb), url=first.url, chunk_size=MB,
                             upload_checksum=True)  # fmt: skip
    assert second.offset == pause_at  # from HEAD
    second.upload()
    assert second.offset == size
    answer = second.request.response_headers
    # Only what the server lacked was sent again, in 1 MB chunks.
    assert live.patch_bytes[2:] == [min(MB, size - start) for start in range(pause_at, size, MB)]
    assert sum(live.patch_bytes) == size

    (reflection,) = live.reflections()
    assert answer["voxpop-reflection-id"] == str(reflection["id"])
    assert answer["voxpop-receipt-code"] == reflection["receipt_code"]
    assert reflection["original_sha256"] == sha256(clip_4mb)
    original = live.app.extensions["voxpop"].store.path(reflection["original_path"])
    assert original.read_bytes() == clip_4mb.read_bytes()
    assert live.staged() == {}
    listing = requests.get(first.url, headers={"Authorization": f"Bearer {live.token}"}, timeout=30)
    assert listing.json() == {"id": reflection["id"], "receipt_code": reflection["receipt_code"],
                              "status": "received"}  # fmt: skip


def test_a_client_gone_mid_chunk_over_a_real_socket(live: LiveApp, clip_4mb: Path) -> None:
    """A tablet's Wi-Fi drops in the middle of a chunk: the bytes that reached the server are
    kept, and the upload resumes from there (cheroot ends the body early; werkzeug's own
    server raises ClientDisconnected instead: tests/test_tus.py covers that one)."""
    data = clip_4mb.read_bytes()
    auth = {"Authorization": f"Bearer {live.token}"}
    created = requests.post(
        f"{live.url}{UPLOADS_URL}",
        headers=auth | TUS | {"Upload-Length": str(len(data)),
                              "Upload-Metadata": encode_metadata(video_metadata(live.config))},
        timeout=30,
    )  # fmt: skip
    url = f"{live.url}{created.headers['Location']}"
    sent = 300_000
    with socket.create_connection(("127.0.0.1", int(urlsplit(live.url).port or 0))) as sock:
        head = (
            f"PATCH {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {live.token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: {OFFSET_STREAM}\r\nUpload-Offset: 0\r\nContent-Length: {MB}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:sent])
    offset = -1
    deadline = time.monotonic() + DEADLINE_SECONDS
    while offset != sent and time.monotonic() < deadline:
        time.sleep(0.1)  # the server notices the hang-up and answers no one
        offset = int(requests.head(url, headers=auth | TUS, timeout=30).headers["Upload-Offset"])
    assert offset == sent
    for start in range(sent, len(data), MB):
        answer = requests.patch(
            url,
            data=data[start : start + MB],
            headers=auth | TUS | {"Upload-Offset": str(start), "Content-Type": OFFSET_STREAM},
            timeout=60,
        )
        assert answer.status_code == 204, answer.text
    (reflection,) = live.reflections()
    assert answer.headers["Voxpop-Reflection-Id"] == str(reflection["id"])
    assert reflection["original_sha256"] == sha256(data)


# -- a real `voxpop serve`, killed with SIGKILL mid-upload ---------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess.demo(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def stream_until_killed(
    server: ServeProcess, path: str, token: str, data: bytes, staged: Path, kill_after: int
) -> int:
    """PATCH all of ``data`` in one request, slowly, and SIGKILL the server once more than
    ``kill_after`` bytes are on its disk. Returns how many bytes were handed to the socket."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.putrequest("PATCH", path)
    for name, value in {
        "Authorization": f"Bearer {token}",
        **TUS,
        "Upload-Offset": "0",
        "Content-Type": OFFSET_STREAM,
        "Content-Length": str(len(data)),
    }.items():
        connection.putheader(name, value)  # fmt: skip
    connection.endheaders()
    handed = 0
    block = 256 * 1024
    try:
        while handed < len(data):
            connection.send(data[handed : handed + block])
            handed += block
            time.sleep(0.01)  # a tablet on busy Wi-Fi, not a loopback flood
            if staged.exists() and staged.stat().st_size > kill_after:
                server.kill()
                break
        else:
            raise AssertionError("the whole file went through before the server was killed")
    except OSError:
        pass  # the socket may already be gone
    finally:
        connection.close()
    return handed


def test_serve_killed_mid_upload_resumes_from_its_disk(
    serve: ServeProcess, clip_20mb: Path
) -> None:
    data = clip_20mb.read_bytes()
    assert len(data) > 18 * MB
    token, _pairing = serve.add_kiosk("Foyer")
    instance = Path(serve.env["VOXPOP_INSTANCE"])
    db = connect(database_path(instance))
    config = kiosk_config(db)
    db.close()
    auth = {"Authorization": f"Bearer {token}"}
    metadata = video_metadata(config)
    serve.start()

    created = requests.post(
        f"{serve.base}{UPLOADS_URL}",
        headers=auth | TUS | {"Upload-Length": str(len(data)),
                              "Upload-Metadata": encode_metadata(metadata)},
        timeout=30,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    path = created.headers["Location"]
    staged = Path(serve.env["VOXPOP_UPLOADS"]) / "staging" / f"{path.rsplit('/', 1)[1]}.part"
    handed = stream_until_killed(serve, path, token, data, staged, kill_after=8 * MB)
    assert serve.process is not None and serve.process.returncode == -signal.SIGKILL
    on_disk = staged.stat().st_size
    assert 8 * MB < on_disk < len(data)
    assert on_disk <= handed
    assert staged.read_bytes() == data[:on_disk], "what reached the disk is the file's start"
    assert reflections(database_path(instance)) == []

    serve.start()  # the same instance folder and ports
    head = requests.head(f"{serve.base}{path}", headers=auth | TUS, timeout=30)
    assert head.status_code == 200
    offset = int(head.headers["Upload-Offset"])
    assert offset == staged.stat().st_size == on_disk
    assert head.headers["Upload-Metadata"] == encode_metadata(metadata)

    resent = 0
    for start in range(offset, len(data), 4 * MB):
        chunk = data[start : start + 4 * MB]
        answer = requests.patch(
            f"{serve.base}{path}",
            data=chunk,
            headers=auth | TUS | {"Upload-Offset": str(start), "Content-Type": OFFSET_STREAM},
            timeout=120,
        )
        assert answer.status_code == 204, answer.text
        resent += len(chunk)
    assert resent == len(data) - offset < len(data) - 8 * MB

    (reflection,) = reflections(database_path(instance))
    assert answer.headers["Voxpop-Reflection-Id"] == str(reflection["id"])
    assert reflection["original_sha256"] == sha256(data)
    original = Path(serve.env["VOXPOP_UPLOADS"]) / reflection["original_path"]
    assert original.read_bytes() == data
    assert not staged.exists()
    listing = [json.loads(line) for line in serve.cli("reflections", "--json").splitlines()]
    assert [item["id"] for item in listing] == [reflection["id"]]
