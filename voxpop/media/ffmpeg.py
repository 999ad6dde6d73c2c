"""The one door into ffmpeg and ffprobe.

Every command is built here and run here: an argv list (never a shell), no standard input
(``-nostdin`` for ffmpeg; ffprobe has no such flag and gets ``/dev/null``), only the
``file`` protocol, an explicit list of the demuxers each input may use, a bound on how much
is read (``-t``) and written (``-fs``), and a timeout. ``run`` refuses a command that lacks any
of these, so a future caller cannot forget one. Every tool dies with the voxpop process that
started it (``voxpop.media.children``).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxpop.media import children
from voxpop.reasons import N_, ErrorWithReason

# Containers a kiosk or phone produces. ffmpeg names its demuxers like this; "mov" covers
# mp4/m4a/3gp/3g2/mj2. No playlist (hls), concat, image2 sequence, lavfi or network demuxer.
ACCEPTED_DEMUXERS = ("matroska", "webm", "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "ogg", "wav",
                     "mp3")  # fmt: skip
UPLOAD_WHITELIST = ",".join(ACCEPTED_DEMUXERS)
# Inputs voxpop makes itself: still PNG cards, and generated silence.
STILL_WHITELIST = "image2,png_pipe"
SILENCE_WHITELIST = "lavfi"
# MP4 files voxpop wrote itself (a still card's one-GOP clip, looped by stream copy).
OWN_MP4_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2"


_running: set[subprocess.Popen[str]] = set()
_running_lock = threading.Lock()


class MediaError(ErrorWithReason):
    """Base of media failures: ``reason`` for a facilitator to read (``voxpop.reasons``), in
    English in ``message``; ``detail`` (a tool's stderr) is for the log."""

    def __init__(self, message: str, detail: str = "", **values: Any) -> None:
        super().__init__(message, **values)
        self.detail = detail


class MediaRejected(MediaError):
    """The file itself is unacceptable (wrong format, too long, damaged): retrying won't help."""


class NotARecording(MediaRejected):
    """The file cannot be read as a recording at all (junk, or damaged beyond use).

    Unlike a readable recording refused by a rule (too long, too large), there is nothing in it
    to rescue, so the job deletes it.
    """


class MediaToolFailed(MediaError):
    """ffmpeg failed, crashed or timed out: worth retrying."""


class DiskFull(MediaToolFailed):
    """The disk (or a file size limit) filled up while a tool was writing: free space, retry."""


# What ffmpeg prints when a write fails with ENOSPC, EDQUOT or EFBIG.
_DISK_FULL = re.compile(r"No space left on device|Disk quota exceeded|File too large", re.I)


def ran_out_of_disk(returncode: int, stderr: str) -> bool:
    """True when a tool stopped because the disk was full (or SIGXFSZ: a file size limit)."""
    if returncode == 0:
        return False
    return returncode == -signal.SIGXFSZ or bool(_DISK_FULL.search(stderr))


@dataclass(frozen=True)
class Input:
    """One ``-i`` input with the demuxers it may use and its own options (placed before it)."""

    path: Path | str
    whitelist: str = UPLOAD_WHITELIST
    options: Sequence[str] = ()
    max_seconds: float | None = None


@dataclass
class Progress:
    """Parses ffmpeg's ``-progress`` key=value lines into a fraction of ``duration``."""

    duration: float
    callback: Callable[[float], None]
    last: float = field(default=-1.0)

    def feed(self, line: str) -> None:
        key, _sep, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time_ms") and value.isdigit() and self.duration > 0:
            # ffmpeg 5 reports microseconds under both names.
            fraction = min(1.0, int(value) / 1_000_000 / self.duration)
        elif key == "progress" and value == "end":
            fraction = 1.0
        else:
            return
        if fraction - self.last >= 0.01 or fraction == 1.0:
            self.last = fraction
            self.callback(fraction)


def binary(name: str) -> str:
    """Return the path of ffmpeg or ffprobe. Raises MediaToolFailed when it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise MediaToolFailed(
            N_("%(tool)s is not installed on the laptop running voxpop."), tool=name
        )
    return found


def ffmpeg_command(
    inputs: Sequence[Input],
    output_args: Sequence[str],
    output: Path,
    *,
    max_output_bytes: int,
    max_seconds: float,
    progress: bool = False,
    loglevel: str = "error",
) -> list[str]:
    """Build a hardened ffmpeg argv writing one output file."""
    argv = [binary("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", loglevel, "-y"]
    if progress:
        argv += ["-progress", "pipe:1"]
    for item in inputs:
        argv += ["-protocol_whitelist", "file", "-format_whitelist", item.whitelist]
        if item.max_seconds is not None:
            argv += ["-t", f"{item.max_seconds:.3f}"]
        argv += [*item.options, "-i", str(item.path)]
    argv += [*output_args, "-t", f"{max_seconds:.3f}", "-fs", str(max_output_bytes), str(output)]
    return argv


def ffprobe_command(path: Path | str, *args: str) -> list[str]:
    """Build a hardened ffprobe argv reading one uploaded file."""
    return [
        binary("ffprobe"), "-hide_banner", "-loglevel", "error",
        "-protocol_whitelist", "file", "-format_whitelist", UPLOAD_WHITELIST,
        *args, "-i", str(path),
    ]  # fmt: skip


def check_hardened(argv: Sequence[str]) -> None:
    """Refuse an ffmpeg/ffprobe argv that lacks any of the hardening flags."""
    inputs = argv.count("-i")
    problems = []
    is_ffmpeg = Path(argv[0]).name.startswith("ffmpeg")
    if is_ffmpeg and "-nostdin" not in argv:
        problems.append("-nostdin")
    if argv.count("-protocol_whitelist") < inputs or argv.count("-format_whitelist") < inputs:
        problems.append("a protocol and format whitelist for every input")
    for index, arg in enumerate(argv):
        if arg == "-protocol_whitelist" and argv[index + 1] != "file":
            problems.append("-protocol_whitelist file")
    if is_ffmpeg and ("-fs" not in argv or "-t" not in argv):
        problems.append("an output bound (-t and -fs)")
    if problems:
        raise ValueError(f"Unhardened media command (missing {', '.join(problems)}): {argv}")


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    progress: Progress | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a hardened command with a timeout; stdout is returned (or parsed as progress).

    Raises MediaToolFailed on timeout or when the tool cannot start, DiskFull when it stopped
    because the disk (or a file size limit) was full; the caller decides what another
    non-zero exit means (the returned object carries ``returncode`` and ``stderr``).
    """
    check_hardened(argv)
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as errors:
        try:
            process = subprocess.Popen(  # argv list, checked above
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                text=True, encoding="utf-8", errors="replace",
                preexec_fn=children.die_with_parent(),  # noqa: PLW1509 - see children.py
            )  # fmt: skip
        except OSError as error:
            raise MediaToolFailed(
                N_("Could not start %(tool)s: %(error)s"), tool=Path(argv[0]).name, error=str(error)
            ) from error
        children.started(process.pid)
        with _running_lock:
            _running.add(process)
        killed = threading.Event()

        def stop_for_timeout() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(timeout, stop_for_timeout)
        # A daemon: were it left uncancelled (a worker interrupted at shutdown), the process
        # would otherwise wait for it before exiting, up to the tool's whole timeout.
        timer.daemon = True
        timer.start()
        try:
            assert process.stdout is not None
            output: list[str] = []
            for line in process.stdout:
                if progress is not None:
                    progress.feed(line)
                else:
                    output.append(line)
            process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
            with _running_lock:
                _running.discard(process)
            children.ended(process.pid)
        errors.seek(0)
        stderr = errors.read()[-20_000:]
    if killed.is_set():
        raise MediaToolFailed(
            N_("%(tool)s took longer than %(seconds).0f s and was stopped."), stderr,
            tool=Path(argv[0]).name, seconds=timeout,
        )  # fmt: skip
    if ran_out_of_disk(process.returncode, stderr):
        raise DiskFull(N_("The disk filled up while %(tool)s was writing."), stderr,
                       tool=Path(argv[0]).name)  # fmt: skip
    return subprocess.CompletedProcess(list(argv), process.returncode, "".join(output), stderr)


def stop_all() -> None:
    """Kill every ffmpeg/ffprobe this process started that is still running (at shutdown).

    Their jobs stay ``running`` in the database and are re-queued at the next worker start.
    """
    with _running_lock:
        for process in list(_running):
            if process.poll() is None:
                process.kill()
