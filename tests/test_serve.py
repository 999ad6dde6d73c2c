"""`voxpop serve` end to end: the real server with its embedded worker turns an upload into a
ready clip with nobody touching a terminal."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests import mediafiles
from tests.conftest import requires_ffmpeg
from tests.serveprocess import free_port, voxpop

pytestmark = [requires_ffmpeg, pytest.mark.media]


def multipart(fields: dict[str, str], media: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())  # fmt: skip
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="r.webm"\r\n'
        "Content-Type: video/webm\r\n\r\n".encode()
        + media.read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_serve_processes_an_upload_over_https(tmp_path: Path) -> None:
    env = dict(os.environ, VOXPOP_INSTANCE=str(tmp_path / "instance"),
               VOXPOP_UPLOADS=str(tmp_path / "uploads"))  # fmt: skip
    voxpop(env, "init", "--demo")
    token = re.search(r"Bearer …\): (\S+)", voxpop(env, "kiosk", "add", "Script")).group(1)
    port, tls_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "voxpop", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--tls-port", str(tls_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        banner = ""
        while "Press Ctrl+C" not in banner:
            line = server.stdout.readline()
            assert line, f"server exited early:\n{banner}"
            banner += line
        # Its output goes to a pipe, not a terminal: no live pairing link in it (a log file
        # would keep it); it says where to make one (tests/test_pairing_links.py).
        assert "/kiosk/pair/" not in banner and "voxpop kiosk add NAME" in banner
        context = ssl.create_default_context(cafile=str(tmp_path / "instance/tls/ca.pem"))
        base = f"https://localhost:{tls_port}"
        with urllib.request.urlopen(f"{base}/healthz", context=context, timeout=30) as answer:
            assert json.load(answer)["ffmpeg"] == "ok"

        prompt_id = "1"
        body, content_type = multipart(
            {"perspective": "front-line-staff", "prompt": prompt_id, "kind": "video",
             "consent": "archive", "client_id": str(uuid.uuid4())},
            mediafiles.chromium_webm(tmp_path / "kiosk.webm"),
        )  # fmt: skip
        request = urllib.request.Request(
            f"{base}/kiosk/api/reflections", data=body, method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )  # fmt: skip
        with urllib.request.urlopen(request, context=context, timeout=60) as answer:
            assert answer.status == 201
            reflection_id = json.load(answer)["id"]

        deadline = time.monotonic() + 180
        record: dict = {}
        while time.monotonic() < deadline:
            listing = voxpop(env, "reflections", "--json").splitlines()
            record = next(json.loads(x) for x in listing if json.loads(x)["id"] == reflection_id)
            if record["status"] in ("ready", "failed"):
                break
            time.sleep(0.5)
        assert record["status"] == "ready", record
        assert set(record["files"]) == {"mp4", "poster", "thumb"}
        for relative in record["files"].values():
            assert (tmp_path / "uploads" / relative).is_file()

        # A kiosk made on the command line while serve runs on other ports than the default
        # gets links to those ports (they said 8080 whatever serve was told), and they work.
        added = voxpop(env, "kiosk", "add", "Made while serving")
        assert "voxpop is not running" not in added
        link = re.search(r"on this laptop: +(\S+)", added).group(1)
        assert link.startswith(f"http://localhost:{port}/kiosk/pair/")
        local = link.replace("localhost", "127.0.0.1")
        with urllib.request.urlopen(local, timeout=30) as answer:
            assert "Made while serving" in answer.read().decode()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "voxpop stopped" in output
    # Stopped: the note of its ports is gone, and a new link says the server is not running.
    assert not (tmp_path / "instance" / "serving.json").exists()
    assert "voxpop is not running" in voxpop(env, "kiosk", "add", "Made after")
