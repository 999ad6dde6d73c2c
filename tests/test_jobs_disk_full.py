"""A full disk stops a job with a reason a facilitator can act on, and the job waits for room.

Two real ways to fill a disk: a small tmpfs (needs root; skipped with the reason otherwise)
and a file size limit (RLIMIT_FSIZE) in a child process, which works for anyone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import mediafiles
from tests.conftest import add_reflection, csrf_from, requires_ffmpeg, rows
from voxpop import create_app, jobs, models
from voxpop.db import get_db

pytestmark = [requires_ffmpeg, pytest.mark.media]

DISK_FULL = "The laptop's disk is full"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 6 MB tmpfs mounted for this test (root only), unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; return it (delete it to free the space)."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def test_a_full_disk_waits_with_a_reason_then_finishes_when_space_is_freed(
    tmp_path: Path, small_disk: Path
) -> None:
    app = create_app({"INSTANCE": str(tmp_path / "instance"), "UPLOADS": str(small_disk),
                      "TESTING": True, "QUEUE": "memory"})  # fmt: skip
    with app.app_context():
        models.create_event(get_db(), "Full disk day", max_clip_seconds=10)
    source = mediafiles.chromium_webm(tmp_path / "clip.webm", seconds=3, size="320x240")
    reflection_id = add_reflection(app, "video", source)
    queue = app.extensions["voxpop"].queue
    with app.app_context():
        job_id = jobs.enqueue_processing(get_db(), queue, reflection_id)
    filler = fill(small_disk)

    for attempt in range(1, 5):  # never fails for good while the disk is full
        assert jobs.run_job(queue, job_id) == "retrying"
        (job,) = rows(app, "SELECT * FROM job WHERE id = ?", job_id)
        assert job["status"] == "queued"
        assert job["attempts"] == attempt
        assert job["error"].startswith(DISK_FULL), job["error"]
        assert "ffmpeg failed" not in job["error"]
        (reflection,) = rows(app, "SELECT status, failure_reason FROM reflection")
        assert reflection["status"] == "received"  # waiting, not failed
        assert reflection["failure_reason"].startswith(DISK_FULL)
    # Waits grow to at most five minutes between tries.
    assert jobs.backoff(20, cap=jobs.DISK_FULL_WAIT_CAP) == 300
    folder = small_disk / "derived" / str(reflection_id)
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no partials

    filler.unlink()
    assert jobs.run_job(queue, job_id) == "done"
    (reflection,) = rows(app, "SELECT status, failure_reason FROM reflection")
    assert (reflection["status"], reflection["failure_reason"]) == ("ready", None)


def test_the_review_page_shows_why_a_reflection_is_waiting(app, auth) -> None:
    reflection_id = add_reflection(app, "text", text="Waiting for room on the disk.")
    with app.app_context():
        get_db().execute("UPDATE reflection SET failure_reason = ? WHERE id = ?",
                         (jobs.disk_full_reason(), reflection_id))  # fmt: skip
    auth.login("facilitator")
    page = auth.client.get(f"/review/{reflection_id}")
    assert page.status_code == 200
    assert "The laptop&#39;s disk is full" in page.text
    welsh = auth.client.get(f"/review/{reflection_id}?lang=cy")
    assert "Mae disg y gliniadur yn llawn" in welsh.text


CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from voxpop import jobs
    from voxpop.media import cards
    from voxpop.media.probe import probe_media
    from voxpop.media.transcode import transcode_to_delivery_mp4

    source, folder = Path(sys.argv[1]), Path(sys.argv[2])
    info = probe_media(source, max_seconds=60)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    found = {}
    try:
        transcode_to_delivery_mp4(source, folder / "delivery.mp4", info)
    except Exception as error:
        found["ffmpeg"] = [type(error).__name__, jobs.ran_out_of_disk(error)]
    try:
        cards.render_audio_card(folder / "card.png", perspective_label="Volunteer",
                                colour="#1f6feb", prompt="What changed for you today?")
    except Exception as error:
        found["python"] = [type(error).__name__, jobs.ran_out_of_disk(error)]
    print(json.dumps(found))
    """
)


def test_a_file_size_limit_is_a_full_disk_for_ffmpeg_and_for_python_writes(tmp_path) -> None:
    source = mediafiles.chromium_webm(tmp_path / "clip.webm", seconds=3, size="640x360")
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([sys.executable, "-c", CHILD, str(source), str(out)],
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["ffmpeg"] == ["DiskFull", True]  # ffmpeg killed by SIGXFSZ
    assert found["python"][1] is True, found  # OSError EFBIG from a Python write
    assert list(out.iterdir()) == []  # nothing half-written left behind


def test_a_full_disk_during_a_studio_download_says_so_to_staff(app, auth, monkeypatch) -> None:
    import errno

    import voxpop.studio.exporting

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(voxpop.studio.exporting, "write_site_zip", full)
    auth.login("organiser")
    page = auth.client.get("/studio/export")
    answer = auth.client.post("/studio/export/archive.zip",
                              data={"csrf_token": csrf_from(page.text)})  # fmt: skip
    assert answer.status_code == 507
    assert "The laptop&#39;s disk is full: free some space on it, then try again." in answer.text
    assert "kiosk" not in answer.text.lower().split("<main", 1)[-1].split("</main>", 1)[0]
