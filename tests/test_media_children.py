"""ffmpeg dies with the voxpop process that started it, and a restart finishes the job once.

A real `voxpop serve` (its own process group) is SIGKILLed mid-transcode, as the out-of-memory
killer or a crash would: its ffmpeg must not go on running, competing with the re-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import add_reflection, requires_ffmpeg
from tests.serveprocess import ServeProcess
from voxpop import create_app, jobs
from voxpop.db import get_db
from voxpop.media import children

pytestmark = [requires_ffmpeg, pytest.mark.media]


def media_children_of(pid: int) -> list[int]:
    """ffmpeg/ffprobe processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        if children._parent_pid(int(entry.name)) == pid and children._tool_name(int(entry.name)):
            found.append(int(entry.name))
    return found


def running_tools(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running as ffmpeg/ffprobe (zombies and reused pids aside)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and children._tool_name(pid):
            alive.append(pid)
    return alive


def wait_for(predicate, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def job_row(server: ServeProcess, reflection_id: int) -> dict:
    db = server.db()
    try:
        return dict(db.execute("SELECT * FROM job WHERE target_id = ? AND kind = ?",
                               (reflection_id, jobs.PROCESS_REFLECTION)).fetchone())  # fmt: skip
    finally:
        db.close()


def test_serve_killed_mid_transcode_leaves_no_ffmpeg_and_finishes_the_job_once(
    tmp_path: Path, long_video: Path
) -> None:
    server = ServeProcess.demo(tmp_path)
    app = create_app({"INSTANCE": str(server.instance), "UPLOADS": str(server.uploads)})
    reflection_id = add_reflection(app, "video", long_video)
    with app.app_context():
        jobs.enqueue_processing(get_db(), app.extensions["voxpop"].queue, reflection_id)

    tools: list[int] = []
    server.start()
    try:
        wait_for(lambda: (j := job_row(server, reflection_id))["status"] == "running"
                 and j["progress"] > 0.1, "the transcode to be under way")  # fmt: skip
        tools += media_children_of(server.process.pid)
        assert tools, "the server runs ffmpeg itself"
        records = list((server.instance / "children").glob("*.json"))
        assert {json.loads(r.read_text())["pid"] for r in records} >= set(tools)
        os.kill(server.process.pid, signal.SIGKILL)  # the server only, as a crash would
        server.process.wait(timeout=30)
        wait_for(lambda: not running_tools(tools), "ffmpeg to die with its server", timeout=10)
        assert job_row(server, reflection_id)["status"] == "running"  # nobody runs it now

        server.start()
        wait_for(lambda: server.reflections()[0]["status"] in ("ready", "failed"),
                 "the reflection to be processed after the restart")  # fmt: skip
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()
        for pid in running_tools(tools):
            os.kill(pid, signal.SIGKILL)
    (reflection,) = server.reflections()
    assert reflection["status"] == "ready", reflection["failure_reason"]
    job = job_row(server, reflection_id)
    assert (job["status"], job["attempts"]) == ("done", 2)
    db = server.db()
    try:
        assets = [
            row[0]
            for row in db.execute(
                "SELECT kind FROM asset WHERE reflection_id = ? ORDER BY kind", (reflection_id,)
            )
        ]
    finally:
        db.close()
    assert assets == ["mp4", "poster", "thumb"]
    folder = server.uploads / "derived" / str(reflection_id)
    assert sorted(p.name for p in folder.iterdir()) == ["delivery.mp4", "poster.jpg",
                                                       "thumb.webp"]  # fmt: skip


ORPHAN_MAKER = textwrap.dedent(
    """
    import os, subprocess, sys
    from pathlib import Path
    from voxpop.media import children

    children.track_in(Path(sys.argv[1]))
    # Started without the parent-death signal: as on a system without it.
    tool = subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                             "-f", "lavfi", "-i", "anullsrc", "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.started(tool.pid)
    print(tool.pid, flush=True)
    os._exit(0)  # dies without stopping its child
    """
)


def test_a_start_reaps_recorded_orphans_but_not_reused_pids_or_live_owners(tmp_path) -> None:
    folder = tmp_path / "children"
    made = subprocess.run([sys.executable, "-c", ORPHAN_MAKER, str(folder)],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    orphan = int(made.stdout.split()[0])
    assert running_tools([orphan]) == [orphan]
    # A record whose pid now belongs to something else (a reused pid) is never killed.
    bystander = subprocess.Popen(["sleep", "30"])
    (folder / f"1-{bystander.pid}.json").write_text(
        json.dumps(
            {"pid": bystander.pid, "start": children._start_time(bystander.pid), "parent": 1}
        )  # fmt: skip
    )
    # A tool whose voxpop process is alive (another worker on this instance) is left alone.
    # Its record is written here as children.started() writes it, not through the module's
    # process-wide folder, which a thread left by an earlier test could point elsewhere.
    ours = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi",
                             "-i", "anullsrc", "-f", "null", "-"])  # fmt: skip
    # Seen as ffmpeg from /proc before its record is written (as children.started() is called
    # once the tool runs): under load the new process's command line can lag behind.
    wait_for(lambda: children._tool_name(ours.pid) == "ffmpeg", "ffmpeg to start", timeout=10)
    (folder / f"{os.getpid()}-{ours.pid}.json").write_text(
        json.dumps(
            {"pid": ours.pid, "start": children._start_time(ours.pid), "parent": os.getpid()}
        )  # fmt: skip
    )
    try:
        assert children.reap_orphans(folder) == [orphan]
        wait_for(lambda: not running_tools([orphan]), "the orphan to die", timeout=10)
        assert bystander.poll() is None and ours.poll() is None
        assert [p.name for p in folder.iterdir()] == [f"{os.getpid()}-{ours.pid}.json"]
    finally:
        bystander.kill()
        ours.kill()
        ours.wait()
        bystander.wait()
        for pid in running_tools([orphan]):
            os.kill(pid, signal.SIGKILL)
