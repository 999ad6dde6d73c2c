"""Pairing links: one kiosk reused across `voxpop serve` starts, a day to use a link, and no
link or token in any log."""

from __future__ import annotations

import hashlib
import logging
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.conftest import csrf_from, rows
from tests.serveprocess import ServeProcess
from voxpop import logsafe, models
from voxpop.db import get_db, transaction


def pair(client, token: str) -> int:
    page = client.get(f"/kiosk/pair/{token}")
    if page.status_code != 200:
        return page.status_code
    return client.post(
        f"/kiosk/pair/{token}", data={"csrf_token": csrf_from(page.text)}
    ).status_code


def test_each_start_reuses_the_unused_start_up_kiosk_with_a_fresh_link(app) -> None:
    with app.app_context():
        db = get_db()
        stray = models.create_kiosk(db, "Kiosk 1", auto=True).kiosk  # from an older voxpop
        first, first_token = models.start_up_pairing(db, "Kiosk 2")
        second, second_token = models.start_up_pairing(db, "Kiosk 3")
    assert first.id == second.id == stray.id  # no pile of kiosks, one per start
    assert first_token != second_token
    assert len(rows(app, "SELECT id FROM kiosk")) == 1
    assert pair(app.test_client(), first_token) == 404  # the old link stopped working
    assert pair(app.test_client(), second_token) in (200, 302)
    with app.app_context():
        third, _token = models.start_up_pairing(get_db(), "Kiosk 2")
    assert third.id != first.id  # once paired, it is a kiosk: the next start makes a new one


def test_other_unused_start_up_kiosks_are_retired_but_kiosks_made_on_purpose_kept(app) -> None:
    with app.app_context():
        db = get_db()
        older = models.create_kiosk(db, "Kiosk 1", auto=True).kiosk
        on_purpose = models.create_kiosk(db, "Front desk")
        newest = models.create_kiosk(db, "Kiosk 3", auto=True).kiosk
        reused, _token = models.start_up_pairing(db, "Kiosk 4")
    assert reused.id == newest.id
    revoked = {r["id"]: r["revoked_at"] for r in rows(app, "SELECT id, revoked_at FROM kiosk")}
    assert revoked[older.id] is not None
    assert revoked[on_purpose.kiosk.id] is None and revoked[newest.id] is None
    assert pair(app.test_client(), on_purpose.pairing_token) in (200, 302)


def test_a_pairing_link_expires_after_a_day(app, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.app_context():
        fresh = models.create_kiosk(get_db(), "Tablet 1")
    later = datetime.now(UTC) + models.PAIRING_LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr("voxpop.db.clock", lambda: later)  # the one clock, a day on
    assert pair(app.test_client(), fresh.pairing_token) == 404
    monkeypatch.undo()
    assert pair(app.test_client(), fresh.pairing_token) in (200, 302)


@pytest.mark.parametrize(("age_hours", "works"), [(1, True), (25, False)])
def test_links_made_before_they_carried_a_time_count_from_the_kiosk(app, age_hours, works):
    old_token = "legacyTokenFromAnEarlierVoxpop12345"
    created = (datetime.now(UTC) - timedelta(hours=age_hours)).isoformat(timespec="seconds")
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(
                "INSERT INTO kiosk (name, token_hash, pairing_hash, created_at) VALUES (?,?,?,?)",
                ("Old", "x" * 64, hashlib.sha256(old_token.encode()).hexdigest(), created),
            )
    assert (pair(app.test_client(), old_token) in (200, 302)) is works


def test_pairing_tokens_and_bearer_tokens_never_reach_a_log(app, caplog, monkeypatch) -> None:
    with app.app_context():
        new = models.create_kiosk(get_db(), "Tablet 1")

    def broken(*_args, **_kwargs):
        raise RuntimeError(f"boom; Authorization: Bearer {new.api_token}")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(models, "use_pairing_token", broken)
    client = app.test_client()
    page = client.get(f"/kiosk/pair/{new.pairing_token}")
    with caplog.at_level(logging.INFO):
        answer = client.post(f"/kiosk/pair/{new.pairing_token}",
                             data={"csrf_token": csrf_from(page.text)})  # fmt: skip
        logging.getLogger("werkzeug").info('"GET /kiosk/pair/%s HTTP/1.1" 200', new.pairing_token)
        app.logger.warning("kiosk said Bearer %s", new.api_token)
    assert answer.status_code == 500
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Exception on /kiosk/pair/[hidden] [POST]" in logged
    assert new.pairing_token not in logged and new.api_token not in logged
    assert logsafe.redact(f"/kiosk/pair/{new.pairing_token}?x=1") == "/kiosk/pair/[hidden]?x=1"


def test_serve_writing_to_a_file_prints_no_link_and_makes_no_kiosk(tmp_path: Path) -> None:
    server = ServeProcess.demo(tmp_path)
    for _start in range(2):
        server.start()
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "/kiosk/pair/" not in log
    assert "voxpop kiosk add NAME" in log
    db = server.db()
    try:
        assert db.execute("SELECT COUNT(*) FROM kiosk").fetchone()[0] == 0
    finally:
        db.close()


def _serve_on_a_terminal(server: ServeProcess) -> tuple[subprocess.Popen, str]:
    """Start `voxpop serve` with a pseudo-terminal as its output; return it and its banner."""
    main, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "voxpop", "serve", "--host", "127.0.0.1",
         "--port", str(server.port), "--tls-port", str(server.tls_port)],
        env=server.env, stdout=terminal, stderr=terminal, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    banner = b""
    deadline = time.monotonic() + 120
    try:
        while b"Press Ctrl+C" not in banner and time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1)
            if ready:
                try:
                    banner += os.read(main, 65536)
                except OSError:
                    break
    finally:
        os.close(main)
    return process, banner.decode("utf-8", "replace")


def test_serve_on_a_terminal_prints_a_link_and_reuses_its_kiosk(tmp_path: Path) -> None:
    server = ServeProcess.demo(tmp_path)
    tokens = []
    for _start in range(2):
        process, banner = _serve_on_a_terminal(server)
        try:
            found = re.search(r"http://localhost:\d+/kiosk/pair/(\S+)", banner)
            assert found, banner
            tokens.append(found.group(1))
            if len(tokens) == 2:  # the first start's link no longer pairs
                answer = requests.get(f"{server.base}/kiosk/pair/{tokens[0]}", timeout=30)
                assert answer.status_code == 404
                answer = requests.get(f"{server.base}/kiosk/pair/{tokens[1]}", timeout=30)
                assert answer.status_code == 200
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
    db = server.db()
    try:
        kiosks = db.execute("SELECT id, auto, revoked_at FROM kiosk").fetchall()
    finally:
        db.close()
    assert [(k["auto"], k["revoked_at"]) for k in kiosks] == [(1, None)]
