"""ffmpeg and ffprobe processes die with the voxpop process that started them.

A server killed with SIGKILL (or by the out-of-memory killer) cannot stop its children, and an
orphaned ffmpeg would go on writing the same partial file as the re-run of its job. Two layers:

- On Linux each child asks the kernel to SIGKILL it when its parent goes
  (``PR_SET_PDEATHSIG``). The kernel ties this to the *thread* that started the child; voxpop
  starts tools from long-lived threads (Huey's worker threads, cheroot's request threads, the
  main thread) that always wait for the tool, so the thread cannot end first.
- Every child is recorded as a small file in ``instance/children/`` (its pid, its start time
  and its parent's pid), removed when it ends. ``voxpop serve`` and ``voxpop worker`` call
  :func:`reap_orphans` before they recover interrupted jobs: a recorded child that is still an
  ffmpeg/ffprobe (``/proc/<pid>/cmdline``), started at the recorded time (so a reused pid is
  never hit) and no longer a child of the process that started it, is killed. Children of a
  live voxpop process (another worker on the same instance) are left alone.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TOOL_NAMES = ("ffmpeg", "ffprobe")
_PR_SET_PDEATHSIG = 1

_folder: Path | None = None


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when its parent dies (Linux only)."""
    if _prctl is None:
        return None
    prctl, parent = _prctl, os.getpid()

    def preexec() -> None:
        # Runs in the forked child before exec: nothing here takes a lock or imports.
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def track_in(folder: Path | None) -> None:
    """Record the children this process starts in ``folder`` (None: stop recording)."""
    global _folder  # noqa: PLW0603 - one setting for the process, made at start-up
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    _folder = folder


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _tool_name(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    name = Path(cmdline.split(b"\0", 1)[0].decode("utf-8", "replace")).name
    return name if name in TOOL_NAMES else None


def started(pid: int) -> None:
    """Record a child just started (no-op unless :func:`track_in` chose a folder)."""
    folder = _folder
    if folder is None:
        return
    record = {"pid": pid, "start": _start_time(pid), "parent": os.getpid()}
    path = folder / f"{os.getpid()}-{pid}.json"
    try:
        path.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        log.warning("Could not record child process %s in %s", pid, folder)


def ended(pid: int) -> None:
    """Forget a child that has ended."""
    folder = _folder
    if folder is not None:
        (folder / f"{os.getpid()}-{pid}.json").unlink(missing_ok=True)


def reap_orphans(folder: Path) -> list[int]:
    """Kill ffmpeg/ffprobe children left by a voxpop process that died; return their pids."""
    killed: list[int] = []
    if not folder.is_dir():
        return killed
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            pid, parent, start = int(record["pid"]), int(record["parent"]), record.get("start")
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        alive = _tool_name(pid) is not None and (start is None or _start_time(pid) == start)
        if alive and _parent_pid(pid) == parent:
            continue  # its voxpop process is still running it
        if alive:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        path.unlink(missing_ok=True)
    if killed:
        log.warning("Stopped %d ffmpeg process(es) left by a voxpop that died: %s",
                    len(killed), killed)  # fmt: skip
    return killed
