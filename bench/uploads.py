"""Resumable upload benchmark: concurrent kiosks sending big recordings to a real `voxpop serve`.

Run from the repository root::

    .venv/bin/python bench/uploads.py                    # 10 clients × 10 MB, then × 50 MB
    .venv/bin/python bench/uploads.py --sizes 50 --clients 10 --chunk-mb 1 --https

For each size it makes a fresh instance in a temporary folder (``voxpop init --demo``,
``voxpop kiosk add``), starts ``voxpop serve --no-worker`` as a subprocess (the worker would
compete for the two cores with the thing measured; ``--with-worker`` keeps it), and lets
``--clients`` threads each send its own file (WebM magic, then random bytes: incompressible,
distinct per client) over tus 1.0 in ``--chunk-mb`` PATCHes, all at once. It reports whether
every file arrived as exactly one reflection with the same sha256, errors and connection
resets, the wall time and throughput, and the server's memory: resident set size before the
run (after start-up and one request), the peak sampled every 20 ms during it (the serve
process and any children), the kernel's high-water mark (VmHWM) and the ratio peak ÷ before.
Memory should stay flat in the file size: the server streams each PATCH to disk 1 MB at a
time. It asserts nothing: benchmarks report, tests check (``/work/shared/TESTING.md``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.serveprocess import free_port, stop_group, voxpop  # noqa: E402 - server helpers
from voxpop.db import database_path  # noqa: E402

MB = 1024 * 1024
WEBM_MAGIC = bytes.fromhex("1a45dfa3") + b"\x9f\x42\x86\x81\x01"
DEMO_MAX_CLIP_SECONDS = 90
SAMPLE_SECONDS = 0.02


# -- the server process --------------------------------------------------------------------------


def run_together(pid: int, threads: list[threading.Thread], barrier: threading.Barrier) -> Any:
    """Release started client threads at once and wait for them, sampling the server's RSS.

    Returns ``(wall seconds, peak RSS kB, how many RSS samples were taken)``.
    """
    sampler = RssSampler(pid)
    sampler.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return wall, sampler.stop(), sampler.samples


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (0 once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def tree_rss_kb(pid: int) -> int:
    return sum(status_kb(member, "VmRSS") for member in process_tree(pid))


class RssSampler(threading.Thread):
    """Samples the server tree's resident set size until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.samples = pid, 0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self.samples += 1
            self.stopping.wait(SAMPLE_SECONDS)

    def stop(self) -> int:
        self.stopping.set()
        self.join()
        return self.peak_kb


@dataclass
class Server:
    folder: Path
    https: bool
    with_worker: bool
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        if self.https:
            return f"https://localhost:{self.tls_port}"
        return f"http://127.0.0.1:{self.port}"

    @property
    def verify(self) -> str | bool:
        return str(self.folder / "instance" / "tls" / "ca.pem") if self.https else True

    def start(self, largest_bytes: int) -> str:
        """Create the instance and a kiosk, start serve; return the kiosk's API token."""
        # The demo event allows 90 s clips; raise the per-second allowance for big files.
        per_second = max(1_000_000, int(largest_bytes * 1.05 / (DEMO_MAX_CLIP_SECONDS * 1.25)))
        self.env = dict(
            os.environ,
            VOXPOP_INSTANCE=str(self.folder / "instance"),
            VOXPOP_UPLOADS=str(self.folder / "uploads"),
            VOXPOP_UPLOAD_BYTES_PER_SECOND=str(per_second),
        )
        voxpop(self.env, "init", "--demo")
        output = voxpop(self.env, "kiosk", "add", "Bench kiosk")
        token = re.search(r"Bearer …\): (\S+)", output)
        assert token, output
        self.port, self.tls_port = free_port(), free_port()
        argv = [sys.executable, "-m", "voxpop", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--tls-port", str(self.tls_port)]  # fmt: skip
        if not self.with_worker:
            argv.append("--no-worker")
        log = open(self.folder / "serve.log", "wb")  # noqa: SIM115 - the server's lifetime
        self.process = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit((self.folder / "serve.log").read_text())
            try:  # OSError too: the CA file appears only once serve has made it
                answer = requests.get(f"{self.base}/healthz", verify=self.verify, timeout=5)
                if answer.status_code == 200:
                    return token.group(1)
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("voxpop serve did not start")

    def stop(self) -> None:
        stop_group(self.process)

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(database_path(self.folder / "instance"))
        conn.row_factory = sqlite3.Row
        return conn


# -- the clients ---------------------------------------------------------------------------------


def make_recording(path: Path, size: int) -> str:
    """A file that passes the quick content check as WebM; returns its sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            block = WEBM_MAGIC if written == 0 else os.urandom(min(MB, size - written))
            handle.write(block)
            digest.update(block)
            written += len(block)
    return digest.hexdigest()


def metadata_header(fields: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


@dataclass
class ClientResult:
    path: Path
    seconds: float = 0.0
    patches: int = 0
    errors: list[str] = field(default_factory=list)
    resets: int = 0
    reflection_id: int | None = None


def send(server: Server, token: str, fields: dict[str, str], result: ClientResult,
         chunk: int, start: threading.Barrier) -> None:  # fmt: skip
    """One kiosk: create the upload, then PATCH the file chunk by chunk."""
    session = requests.Session()
    # Per request, not session.verify: REQUESTS_CA_BUNDLE would override a session's setting.
    verify = server.verify
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    size = result.path.stat().st_size
    start.wait()
    began = time.perf_counter()
    try:
        created = session.post(
            f"{server.base}/kiosk/api/uploads/",
            headers=headers | {"Upload-Length": str(size),
                               "Upload-Metadata": metadata_header(fields)},
            timeout=60, verify=verify,
        )  # fmt: skip
        if created.status_code != 201:
            result.errors.append(f"POST {created.status_code} {created.text[:200]}")
            return
        url = f"{server.base}{created.headers['Location']}"
        offset = 0
        with open(result.path, "rb") as handle:
            while offset < size:
                body = handle.read(chunk)
                answer = session.patch(
                    url, data=body, timeout=120, verify=verify,
                    headers=headers | {"Upload-Offset": str(offset),
                                       "Content-Type": "application/offset+octet-stream"},
                )  # fmt: skip
                result.patches += 1
                if answer.status_code != 204:
                    result.errors.append(f"PATCH {answer.status_code} {answer.text[:200]}")
                    return
                offset = int(answer.headers["Upload-Offset"])
        result.reflection_id = int(answer.headers["Voxpop-Reflection-Id"])
    except (requests.ConnectionError, ConnectionResetError) as error:
        result.resets += 1
        result.errors.append(f"connection: {error}")
    except Exception as error:  # noqa: BLE001 - a benchmark reports every failure
        result.errors.append(repr(error))
    finally:
        result.seconds = time.perf_counter() - began
        session.close()


# -- one run -------------------------------------------------------------------------------------


def run(size_mb: float, clients: int, chunk_mb: float, https: bool, with_worker: bool,
        work: Path) -> dict[str, Any]:  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix=f"uploads-{size_mb:g}mb-", dir=work))
    size = int(size_mb * MB)
    server = Server(folder, https, with_worker)
    inputs = folder / "inputs"
    inputs.mkdir()
    digests = {}
    for index in range(clients):
        path = inputs / f"kiosk-{index}.webm"
        digests[path.name] = make_recording(path, size)
    try:
        token = server.start(size)
        assert server.process is not None
        pid = server.process.pid
        db = server.db()
        event_id = db.execute("SELECT id FROM event").fetchone()["id"]
        prompt = db.execute("SELECT id FROM prompt WHERE event_id = ?", (event_id,)).fetchone()
        consent = db.execute("SELECT sha256 FROM consent_text ORDER BY id DESC").fetchone()
        db.close()
        options = requests.options(
            f"{server.base}/kiosk/api/uploads/",
            headers={"Authorization": f"Bearer {token}"},
            verify=server.verify,
            timeout=30,
        )
        assert options.status_code == 204, options.text
        before_kb = tree_rss_kb(pid)

        results = [ClientResult(inputs / f"kiosk-{index}.webm") for index in range(clients)]
        barrier = threading.Barrier(clients + 1)
        threads = []
        for result in results:
            fields = {"perspective": "volunteer", "prompt": str(prompt["id"]), "kind": "video",
                      "consent": "archive", "consent_version": consent["sha256"],
                      "client_id": str(uuid.uuid4())}  # fmt: skip
            thread = threading.Thread(
                target=send, args=(server, token, fields, result, int(chunk_mb * MB), barrier)
            )
            thread.start()
            threads.append(thread)
        wall, peak_kb, samples = run_together(pid, threads, barrier)
        hwm_kb = status_kb(pid, "VmHWM")
        load = os.getloadavg()[0]

        db = server.db()
        stored = [
            dict(row)
            for row in db.execute("SELECT id, original_path, original_sha256 FROM reflection")
        ]
        db.close()
        matched = 0
        for result in results:
            row = next((r for r in stored if r["id"] == result.reflection_id), None)
            if row is None:
                continue
            on_disk = hashlib.sha256((folder / "uploads" / row["original_path"]).read_bytes())
            if row["original_sha256"] == on_disk.hexdigest() == digests[result.path.name]:
                matched += 1
        staged_left = list((folder / "uploads" / "staging").glob("*.part"))
    finally:
        server.stop()
    return {
        "size_mb": size_mb,
        "clients": clients,
        "reflections": len(stored),
        "sha256_match": matched,
        "errors": sum(len(r.errors) for r in results),
        "resets": sum(r.resets for r in results),
        "error_samples": [e for r in results for e in r.errors][:3],
        "patches": sum(r.patches for r in results),
        "staged_left": len(staged_left),
        "wall_s": wall,
        "client_median_s": statistics.median(r.seconds for r in results),
        "throughput_mb_s": size_mb * clients / wall,
        "rss_before_mb": before_kb / 1024,
        "rss_peak_mb": peak_kb / 1024,
        "vmhwm_mb": hwm_kb / 1024,
        "peak_over_before": peak_kb / before_kb if before_kb else float("nan"),
        "samples": samples,
        "load": load,
        "folder": folder,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,50", help="MB per file, comma-separated")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--chunk-mb", type=float, default=1.0)
    parser.add_argument("--https", action="store_true", help="send over TLS (as tablets do)")
    parser.add_argument("--with-worker", action="store_true", help="serve runs its worker too")
    parser.add_argument("--keep", action="store_true", help="keep the instances and inputs")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-uploads-", dir=ROOT / "tests" / ".tmp"))
    print(f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {'HTTPS' if args.https else 'HTTP'}, "
          f"{args.clients} clients, {args.chunk_mb:g} MB chunks, "
          f"worker {'on' if args.with_worker else 'off'}")  # fmt: skip
    header = ("| files | arrived | sha256 ok | errors | resets | wall | MB/s | client median "
              "| RSS before | RSS peak | VmHWM | peak÷before | load |")  # fmt: skip
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    rows = []
    try:
        for size_mb in (float(s) for s in args.sizes.split(",")):
            result = run(size_mb, args.clients, args.chunk_mb, args.https, args.with_worker, work)
            rows.append(result)
            print(
                f"| {result['clients']} × {size_mb:g} MB | {result['reflections']} "
                f"| {result['sha256_match']} | {result['errors']} | {result['resets']} "
                f"| {result['wall_s']:.1f} s | {result['throughput_mb_s']:.0f} "
                f"| {result['client_median_s']:.1f} s | {result['rss_before_mb']:.0f} MB "
                f"| {result['rss_peak_mb']:.0f} MB | {result['vmhwm_mb']:.0f} MB "
                f"| {result['peak_over_before']:.2f} | {result['load']:.1f} |",
                flush=True,
            )
            for sample in result["error_samples"]:
                print(f"    error: {sample}")
            if result["staged_left"]:
                print(f"    {result['staged_left']} staged file(s) left behind")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        growth = (large["rss_peak_mb"] - large["rss_before_mb"]) - (
            small["rss_peak_mb"] - small["rss_before_mb"]
        )
        ratio = large["size_mb"] / small["size_mb"]
        print(
            f"\nPeak RSS growth, {large['size_mb']:g} MB files vs {small['size_mb']:g} MB files:"
            f" {growth:+.1f} MB for {ratio:g}× the bytes"
        )


if __name__ == "__main__":
    main()
