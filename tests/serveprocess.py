"""A real `voxpop serve` process for tests: its own instance, uploads folder, free ports and
process group, so a test can SIGKILL it mid-request and start it again on the same folders.

Used by tests/test_tus_clients.py, tests/test_serve.py and the browser tests that need a
server they can kill (tests/browser/test_kiosk_resume.py).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from voxpop import models
from voxpop.db import connect, database_path

DEADLINE_SECONDS = 120  # how long to wait for a server before failing (not a speed target)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def voxpop(env: dict[str, str], *args: str) -> str:
    """Run the ``voxpop`` command line with ``env``; return its standard output."""
    return subprocess.run(
        [sys.executable, "-m", "voxpop", *args], env=env, capture_output=True, text=True,
        check=True, timeout=120,
    ).stdout  # fmt: skip


def stop_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in its own process group: SIGINT (it shuts down cleanly), then
    SIGKILL if it has not gone within 30 s. Nothing to do when it has already ended."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def kiosk_config(db: sqlite3.Connection) -> dict[str, Any]:
    """What tests/tusupload.video_metadata needs from the kiosk page's config."""
    event = models.current_event(db)
    assert event is not None
    return {
        "prompts": [{"id": prompt.id} for prompt in models.prompts(db, event.id)],
        "consent": {"version": models.current_consent_text(db, event.id).sha256},
    }


def reflections(db_path: Path) -> list[dict[str, Any]]:
    db = connect(db_path)
    try:
        return [dict(row) for row in db.execute("SELECT * FROM reflection ORDER BY id")]
    finally:
        db.close()


@dataclass
class ServeProcess:
    """`voxpop serve` on its own instance and ports, in its own process group."""

    env: dict[str, str]
    port: int
    tls_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    serve_args: tuple[str, ...] = ()  # more `voxpop serve` options, e.g. ("--no-worker",)

    @classmethod
    def demo(cls, root: Path) -> ServeProcess:
        """A server (not started) on a fresh instance under ``root`` with the demo event."""
        env = dict(os.environ, VOXPOP_INSTANCE=str(root / "instance"),
                   VOXPOP_UPLOADS=str(root / "uploads"))  # fmt: skip
        server = cls(env, free_port(), free_port(), root / "serve.log")
        server.cli("init", "--demo")
        return server

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def instance(self) -> Path:
        return Path(self.env["VOXPOP_INSTANCE"])

    @property
    def uploads(self) -> Path:
        return Path(self.env["VOXPOP_UPLOADS"])

    def db(self) -> sqlite3.Connection:
        """A fresh connection to the instance's database (closed by the caller)."""
        return connect(database_path(self.instance))

    def reflections(self) -> list[dict[str, Any]]:
        return reflections(database_path(self.instance))

    def cli(self, *args: str) -> str:
        return voxpop(self.env, *args)

    def add_kiosk(self, name: str) -> tuple[str, str]:
        """``voxpop kiosk add NAME``: return its (bearer token, pairing path)."""
        output = self.cli("kiosk", "add", name)
        token = re.search(r"Bearer …\): (\S+)", output)
        link = re.search(r"https?://[^/\s]+(/kiosk/pair/\S+)", output)
        assert token and link, output
        return token.group(1), link.group(1)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "voxpop", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--tls-port", str(self.tls_port), *self.serve_args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if requests.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"voxpop serve did not answer /healthz:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is flushed or closed."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        stop_group(self.process)
