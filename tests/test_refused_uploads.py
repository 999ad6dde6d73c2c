"""Junk that passes the quick sniff does not stay on disk once the probe refuses it.

The quick check only reads the first bytes, so 10 MB of random bytes behind a WebM magic is
accepted (201); the job then finds it is not a recording, deletes the file and keeps the row,
failed, with the reason. Everything that reads the row still works without the file.
"""

from __future__ import annotations

import io
import json
import random

import pytest
from click.testing import CliRunner

from tests.conftest import KioskDevice, requires_ffmpeg, rows, run_queued
from voxpop import reasons
from voxpop.cli import main
from voxpop.db import get_db
from voxpop.reflection import withdrawal

pytestmark = [requires_ffmpeg, pytest.mark.media]

WEBM_MAGIC = bytes.fromhex("1a45dfa3")


def junk(size: int = 10 * 1024 * 1024) -> bytes:
    return WEBM_MAGIC + random.Random(13).randbytes(size - len(WEBM_MAGIC))


def test_junk_with_a_webm_magic_is_refused_by_the_job_and_deleted(
    app, kiosk: KioskDevice, auth, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = kiosk.form(kind="video", text=None, duration_ms="4000")
    data["media"] = (io.BytesIO(junk()), "recording.webm", "video/webm")
    response = kiosk.post(data)
    assert response.status_code == 201, response.json  # the sniff only sees the magic
    (stored,) = rows(app, "SELECT id, original_path, original_bytes FROM reflection")
    store = app.extensions["voxpop"].store
    original = store.path(stored["original_path"])
    assert original.stat().st_size == 10 * 1024 * 1024

    assert ("process_reflection", stored["id"], "failed") in run_queued(app)
    assert not original.exists()
    assert list(store.originals.iterdir()) == []
    (reflection,) = rows(app, "SELECT * FROM reflection")
    assert reflection["status"] == "failed"
    words = reasons.english(reflection["failure_reason"])
    assert "not a recording" in words and words.endswith(" The file was deleted.")
    assert reflection["original_bytes"] == 10 * 1024 * 1024  # what arrived is still on record

    # The facilitator sees that it was refused, and why.
    auth.login("facilitator")
    page = auth.client.get(f"/review/{stored['id']}")
    assert page.status_code == 200
    assert "Could not be processed" in page.text and "The file was deleted." in page.text
    assert auth.client.get("/review/").status_code == 200

    # Rebuild leaves it alone (its reason stays); the export and the listing still work.
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    cli = CliRunner()
    rebuilt = cli.invoke(main, ["rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Rebuilt 0 reflection(s)" in rebuilt.output
    listed = cli.invoke(main, ["reflections", "--json"])
    assert json.loads(listed.output.splitlines()[0])["status"] == "failed"
    exported = cli.invoke(main, ["export", str(tmp_path / "site")])
    assert exported.exit_code == 0, exported.output
    (after,) = rows(app, "SELECT status, failure_reason FROM reflection")
    assert after["failure_reason"] == reflection["failure_reason"]

    # It can still be withdrawn: nothing to delete is fine.
    with app.app_context():
        withdrawal.withdraw(get_db(), app.extensions["voxpop"].queue, store, stored["id"])
    run_queued(app)
    assert rows(app, "SELECT status FROM reflection") == [{"status": "withdrawn"}]
