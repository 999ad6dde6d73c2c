"""Every ffmpeg/ffprobe call goes through one hardened door, whatever the pipeline does."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import mediafiles
from tests.conftest import add_reflection, process, requires_ffmpeg
from voxpop.media import ffmpeg

pytestmark = [requires_ffmpeg, pytest.mark.media]


@pytest.fixture
def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the argv and options of every process the media code starts."""
    calls: list[dict[str, Any]] = []
    real_popen, real_run = subprocess.Popen, ffmpeg.run

    def spy_popen(argv: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append({"argv": argv, "kwargs": kwargs})
        return real_popen(argv, *args, **kwargs)

    def spy_run(argv: Any, *, timeout: float, **kwargs: Any) -> Any:
        calls.append({"run_timeout": timeout, "argv_via_run": list(argv)})
        return real_run(argv, timeout=timeout, **kwargs)

    monkeypatch.setattr(ffmpeg.subprocess, "Popen", spy_popen)
    monkeypatch.setattr(ffmpeg, "run", spy_run)
    return calls


def assert_hardened(call: dict[str, Any], upload_paths: set[str]) -> None:
    argv, kwargs = call["argv"], call["kwargs"]
    assert isinstance(argv, list) and not kwargs.get("shell")
    assert kwargs.get("stdin") == subprocess.DEVNULL
    tool = Path(argv[0]).name
    assert tool in {"ffmpeg", "ffprobe"}
    inputs = [i for i, arg in enumerate(argv) if arg == "-i"]
    assert inputs, argv
    for position in inputs:
        before = argv[:position]
        # The nearest whitelist options before this -i belong to it.
        protocol = len(before) - 1 - before[::-1].index("-protocol_whitelist")
        fmt = len(before) - 1 - before[::-1].index("-format_whitelist")
        assert argv[protocol + 1] == "file"
        assert all(previous < protocol for previous in inputs if previous < position)
        if argv[position + 1] in upload_paths:
            assert argv[fmt + 1] == ffmpeg.UPLOAD_WHITELIST
        else:
            assert argv[fmt + 1] in {ffmpeg.UPLOAD_WHITELIST, ffmpeg.STILL_WHITELIST,
                                     ffmpeg.SILENCE_WHITELIST,
                                     ffmpeg.OWN_MP4_WHITELIST}  # fmt: skip
    if tool == "ffmpeg":
        assert "-nostdin" in argv
        outputs = argv[inputs[-1] + 2 :]
        assert "-t" in outputs and "-fs" in outputs, argv


@pytest.fixture
def reflection_ids(app, tmp_path) -> list[int]:
    """A video, an audio, a text and a hostile reflection, made before any spying starts."""
    sources = {
        "video": mediafiles.chromium_webm(tmp_path / "v.webm"),
        "audio": mediafiles.aac_m4a(tmp_path / "a.m4a"),
    }
    ids = [add_reflection(app, kind, path) for kind, path in sources.items()]
    ids.append(add_reflection(app, "text", text="Short and sweet."))
    ids.append(add_reflection(app, "video", mediafiles.random_bytes(tmp_path / "x.webm")))
    return ids


def test_every_call_in_the_pipeline_is_hardened(app, reflection_ids, recorded_calls) -> None:
    ids = reflection_ids
    for reflection_id in ids:
        process(app, reflection_id)
    store = app.extensions["voxpop"].store
    uploads = {str(p) for p in store.originals.iterdir()}
    popens = [call for call in recorded_calls if "argv" in call]
    runs = [call for call in recorded_calls if "run_timeout" in call]
    assert len(popens) >= 12 and len(popens) == len(runs)
    for call in popens:
        assert_hardened(call, uploads)
    assert all(0 < call["run_timeout"] <= 3600 for call in runs)


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["ffmpeg", "-i", "in.webm", "-t", "1", "-fs", "9", "o.mp4"], "-nostdin"),
        (["ffmpeg", "-nostdin", "-protocol_whitelist", "file", "-i", "in.webm", "-t", "1",
          "-fs", "9", "o.mp4"], "whitelist"),
        (["ffmpeg", "-nostdin", "-protocol_whitelist", "file,http", "-format_whitelist", "mp4",
          "-i", "in.mp4", "-t", "1", "-fs", "9", "o.mp4"], "-protocol_whitelist file"),
        (["ffmpeg", "-nostdin", "-protocol_whitelist", "file", "-format_whitelist", "mp4",
          "-i", "in.mp4", "o.mp4"], "output bound"),
        (["ffprobe", "-i", "in.mp4"], "whitelist"),
    ],
)  # fmt: skip
def test_unhardened_commands_are_refused_before_running(argv, missing) -> None:
    with pytest.raises(ValueError, match=missing):
        ffmpeg.run(argv, timeout=5)


def test_a_hung_tool_is_stopped_by_its_timeout(tmp_path) -> None:
    source = mediafiles.chromium_webm(tmp_path / "slow.webm", seconds=2)
    argv = ffmpeg.ffmpeg_command(
        [ffmpeg.Input(source, options=("-re", "-stream_loop", "-1"))],
        ["-f", "null"], Path("/dev/null"), max_output_bytes=10**9, max_seconds=600,
    )  # fmt: skip
    with pytest.raises(ffmpeg.MediaToolFailed, match="took longer than 1 s"):
        ffmpeg.run(argv, timeout=1)


def test_progress_lines_become_fractions() -> None:
    seen: list[float] = []
    progress = ffmpeg.Progress(10.0, seen.append)
    for line in ["frame=1", "out_time_us=2500000", "out_time_us=2501000", "out_time_us=5000000",
                 "out_time_us=N/A", "progress=end"]:  # fmt: skip
        progress.feed(line)
    assert seen == [0.25, 0.5, 1.0]
