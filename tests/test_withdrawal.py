"""Withdrawal by receipt code (issue 7): the public pages, the organiser's button, the job that
deletes the files, and an audit of disk, database, export and bucket that finds no trace."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import mediafiles
from tests.archivedata import add_archived
from tests.conftest import (
    Auth,
    add_reflection,
    check_captions,
    csrf_from,
    give_consent,
    process,
    requires_ffmpeg,
    rows,
    run_queued,
)
from tests.s3server import (
    SeaweedS3,
    s3_server,  # noqa: F401 - the session's S3 server
    use_test_credentials,
)
from voxpop import copies, create_app, jobs, models, open_database
from voxpop import db as db_module
from voxpop.db import get_db, transaction, utcnow
from voxpop.publishing import publish
from voxpop.publishing.export import export_site, write_consent_log
from voxpop.reels import render
from voxpop.reels import service as reels
from voxpop.reflection import search, withdrawal

CODES = iter(f"WD{a}-{b}{c}{d}" for a in "ABCDEFGH" for b in "JKMN" for c in "PQRS" for d in "2345")


def sql(app: Flask, statement: str, *params: Any) -> None:
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute(statement, params)


def with_code(app: Flask, reflection_id: int) -> str:
    """Give a test reflection a receipt code of the kiosk's form; return it."""
    code = next(CODES)
    sql(app, "UPDATE reflection SET receipt_code = ? WHERE id = ?", code, reflection_id)
    return code


def status_of(app: Flask, reflection_id: int) -> str:
    (row,) = rows(app, "SELECT status FROM reflection WHERE id = ?", reflection_id)
    return str(row["status"])


def lookup(client: FlaskClient, code: str, **kwargs: Any) -> Any:
    """Step 2: post the code from the form page (step 1), answer the preview."""
    page = client.get("/withdraw", **kwargs)
    return client.post("/withdraw", data={"code": code, "csrf_token": csrf_from(page.text)},
                       follow_redirects=True, **kwargs)  # fmt: skip


def confirm(client: FlaskClient, code: str, **kwargs: Any) -> Any:
    """Steps 2 and 3: the preview, then its confirm button."""
    preview = lookup(client, code, **kwargs)
    assert preview.status_code == 200, preview.text
    return client.post(
        "/withdraw/confirm",
        data={"code": code, "csrf_token": csrf_from(preview.text)},
        follow_redirects=True,
        **kwargs,
    )


@pytest.fixture
def public_text(app: Flask) -> tuple[int, str]:
    """A text reflection shown in the public archive, with a name, tags and a review history."""
    reflection_id = add_archived(app, "text", text="Zarquon teapots listened to us.",
                                 name="Gwenllian", show_name=1)  # fmt: skip
    code = with_code(app, reflection_id)
    with app.app_context():
        db = get_db()
        with transaction(db):
            tag = db.execute("INSERT INTO tag (event_id, name) VALUES (1, 'housing')").lastrowid
            db.execute("INSERT INTO reflection_tag VALUES (?, ?)", (reflection_id, tag))
            db.execute(
                "INSERT INTO audit_log (at, user_name, action, target_kind, target_id, before,"
                " after) VALUES (?, 'fac', 'reflection.name', 'reflection', ?, ?, ?)",
                (utcnow(), reflection_id, '{"display_name": "Gwen"}',
                 '{"display_name": "Gwenllian"}'),
            )  # fmt: skip
    return reflection_id, code


# -- the public pages ------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["wdb-jp2", "WDBJP2", " wd b jp 2 ", "WDB-JP2"])
def test_the_qr_link_opens_the_form_with_the_code_filled_in(client, typed: str) -> None:
    page = client.get("/withdraw", query_string={"code": typed})
    assert page.status_code == 200
    assert 'value="WDB-JP2"' in page.text and 'name="csrf_token"' in page.text


def test_the_receipt_qr_encodes_the_withdraw_link(app: Flask) -> None:
    from voxpop.kiosk.views import withdraw_url

    with app.test_request_context("/", base_url="https://192.168.1.20:8443"):
        assert withdraw_url("KX7-4QF") == "http://192.168.1.20:8080/withdraw?code=KX7-4QF"


def test_the_laptops_own_kiosk_gives_a_qr_link_a_phone_can_open(app: Flask, monkeypatch) -> None:
    """A kiosk on the laptop itself (localhost) must not put "localhost" in the receipt's QR:
    on a delegate's phone that is the phone. The laptop's LAN address is used instead (which
    addresses this test machine has cannot be known: the list is set here)."""
    from voxpop import tls
    from voxpop.kiosk.views import withdraw_url

    monkeypatch.setattr(tls, "lan_addresses", lambda: ["192.168.1.20"])
    for loopback in ("http://localhost:8080", "http://127.0.0.1:8080"):
        with app.test_request_context("/", base_url=loopback):
            assert withdraw_url("KX7-4QF") == "http://192.168.1.20:8080/withdraw?code=KX7-4QF"
    monkeypatch.setattr(tls, "lan_addresses", lambda: [])  # no network at all: as it was
    with app.test_request_context("/", base_url="http://localhost:8080"):
        assert withdraw_url("KX7-4QF") == "http://localhost:8080/withdraw?code=KX7-4QF"


@pytest.mark.parametrize(
    ("code", "message"),
    [("WDZ-ZZZ", "No reflection has the receipt code WDZ-ZZZ"),
     ("hello", "does not look like a receipt code")],
)  # fmt: skip
def test_unknown_code_is_said_clearly(client, public_text, code: str, message: str) -> None:
    answer = lookup(client, code)
    assert answer.status_code == 404 and message in answer.text
    assert 'name="code"' in answer.text  # the form again, to correct it


def test_preview_says_what_will_go_without_showing_it(app, client, public_text) -> None:
    reflection_id, code = public_text
    page = lookup(client, code.lower().replace("-", " "))
    assert page.status_code == 200
    assert "A written reflection" in page.text and "Volunteer" in page.text
    assert "archive of the day" in page.text and "published online" in page.text
    assert "Zarquon" not in page.text and "Gwenllian" not in page.text
    assert f'value="{code}"' in page.text
    assert status_of(app, reflection_id) == "ready"  # nothing happens before the confirm


def test_preview_in_welsh(client, public_text) -> None:
    client.get("/withdraw?lang=cy")
    page = lookup(client, public_text[1])
    assert '<html lang="cy"' in page.text and "Gwirfoddolwr" in page.text


def test_confirm_removes_it_from_archive_and_review_at_once(app, client, auth,
                                                            public_text) -> None:  # fmt: skip
    reflection_id, code = public_text
    assert "Zarquon" in client.get("/archive/p/volunteer").text
    assert client.get(f"/archive/media/reflections/{reflection_id}/card").status_code == 200
    staff = app.test_client()
    Auth(app, staff).login("facilitator", name="staff-user")
    overview = staff.get("/studio/").text
    assert f'data-reflection="{reflection_id}"' in overview
    assert "1 reflection received" in overview
    done = confirm(client, code)
    assert done.status_code == 200
    assert "Removed." in done.text and "as soon as the laptop is online" in done.text
    # Before any job has run:
    assert status_of(app, reflection_id) == "withdrawn"
    assert rows(app, "SELECT kind, status FROM job WHERE target_id = ? AND kind = ?",
                reflection_id, withdrawal.WITHDRAW_REFLECTION) == [
        {"kind": "withdraw_reflection", "status": "queued"}]  # fmt: skip
    assert "Zarquon" not in client.get("/archive/p/volunteer").text
    assert client.get(f"/archive/media/reflections/{reflection_id}/card").status_code == 404
    auth.login("facilitator")
    assert f'id="reflection-{reflection_id}"' not in client.get("/review/").text
    assert client.get(f"/review/{reflection_id}").status_code == 404
    # Nor on the Reflections page, where it stayed as an empty entry, still counted.
    overview = staff.get("/studio/").text
    assert f'data-reflection="{reflection_id}"' not in overview
    assert "0 reflections received" in overview


def test_database_keeps_no_words_name_or_tags(app, client, public_text) -> None:
    reflection_id, code = public_text
    confirm(client, code)
    (row,) = rows(app, "SELECT * FROM reflection WHERE id = ?", reflection_id)
    assert row["text_body"] == "" and row["display_name"] is None
    assert row["transcript_vtt"] is None and row["starred"] == 0
    assert rows(app, "SELECT * FROM reflection_tag WHERE reflection_id = ?", reflection_id) == []
    assert rows(app, "SELECT * FROM asset WHERE reflection_id = ?", reflection_id) == []
    log = rows(app, "SELECT action, user_name, before, after FROM audit_log"
                    " WHERE target_kind = 'reflection' AND target_id = ? ORDER BY id",
               reflection_id)  # fmt: skip
    assert [entry["action"] for entry in log] == ["reflection.name", "reflection.withdraw"]
    assert log[0]["before"] is None and log[0]["after"] is None
    assert log[1]["user_name"] == "delegate (receipt code)"
    (consent,) = rows(app, "SELECT withdrawn_at FROM consent WHERE reflection_id = ?",
                      reflection_id)  # fmt: skip
    assert consent["withdrawn_at"]


def test_consent_log_keeps_the_withdrawal_and_no_words(app, client, public_text,
                                                       tmp_path) -> None:  # fmt: skip
    reflection_id, code = public_text
    confirm(client, code)
    with app.app_context():
        write_consent_log(get_db(), tmp_path / "consent.csv")
    text = (tmp_path / "consent.csv").read_text(encoding="utf-8")
    (row,) = [r for r in csv.DictReader(text.splitlines())
              if r["reflection_id"] == str(reflection_id)]  # fmt: skip
    assert row["withdrawn_at"]
    assert "Zarquon" not in text and "Gwenllian" not in text and code not in text


def test_already_withdrawn_code_says_so(client, public_text) -> None:
    confirm(client, public_text[1])
    again = lookup(client, public_text[1])
    assert again.status_code == 410 and "already withdrawn" in again.text
    # When, as the other pages write times (the venue's, "3 Dec 2026, 19:47"), not raw UTC.
    assert re.search(r"already withdrawn \(\d{1,2} \w{3} \d{4}, \d\d:\d\d\)", again.text)


def test_back_and_reload_never_send_a_form_again(app, client, public_text) -> None:
    """Each step's POST answers with a redirect to a page: Back and reload only GET."""
    reflection_id, code = public_text
    token = csrf_from(client.get("/withdraw").text)
    found = client.post("/withdraw", data={"code": code, "csrf_token": token})
    assert (found.status_code, found.location) == (303, "/withdraw/confirm")
    assert code not in found.location  # the code goes by the signed session, not the URL
    preview = client.get("/withdraw/confirm")
    assert preview.status_code == 200 and "Withdraw this reflection?" in preview.text
    assert client.get("/withdraw/confirm").status_code == 200  # a reload shows it again

    done = client.post("/withdraw/confirm", data={"code": code, "csrf_token": token})
    assert (done.status_code, done.location) == (303, "/withdraw/done")
    assert status_of(app, reflection_id) == "withdrawn"
    for _reload in range(2):
        page = client.get("/withdraw/done")
        assert page.status_code == 200 and f"Receipt code {code} is withdrawn" in page.text
    # Back from there: the preview's code is spent, so it starts again at the form.
    back = client.get("/withdraw/confirm")
    assert (back.status_code, back.location) == (302, "/withdraw")
    # Nobody else's browser sees either page.
    other = app.test_client()
    assert other.get("/withdraw/done").location == "/withdraw"
    assert other.get("/withdraw/confirm").location == "/withdraw"


def test_a_preview_left_unconfirmed_is_forgotten_after_ten_minutes(
    client, public_text, monkeypatch
) -> None:
    """On a shared browser the next person must not find someone's preview on Back."""
    from voxpop import db

    assert lookup(client, public_text[1]).status_code == 200
    later = db.now_utc() + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(db, "clock", lambda: later)
    back = client.get("/withdraw/confirm")
    assert (back.status_code, back.location) == (302, "/withdraw")


def test_a_preview_withdrawn_elsewhere_meanwhile_says_so(client, public_text) -> None:
    code = public_text[1]
    assert lookup(client, code).status_code == 200
    confirm(app_client := client.application.test_client(), code)
    assert app_client.get("/withdraw/done").status_code == 200
    again = client.get("/withdraw/confirm")  # the first tab, reloaded
    assert again.status_code == 410 and "already withdrawn" in again.text


def test_every_post_needs_the_csrf_token(app, client, public_text) -> None:
    reflection_id, code = public_text
    assert client.post("/withdraw", data={"code": code}).status_code == 400
    assert client.post("/withdraw/confirm", data={"code": code}).status_code == 400
    assert status_of(app, reflection_id) == "ready"


def test_posting_over_plain_http_on_the_lan_works(app, client, public_text) -> None:
    """A phone opens the QR link over plain HTTP (no venue certificate): no HTTPS detour."""
    lan = "http://192.168.1.20:8080"
    code = public_text[1]
    # Every step stays on plain HTTP: a redirect to HTTPS would meet the venue certificate,
    # which a delegate's phone has not installed (a "not private" warning, a dead end).
    form = client.get(f"/withdraw?code={code}", base_url=lan)
    assert form.status_code == 200
    fields = {"code": code, "csrf_token": csrf_from(form.text)}
    found = client.post("/withdraw", data=fields, base_url=lan)
    assert (found.status_code, found.location) == (303, "/withdraw/confirm")
    preview = client.get(found.location, base_url=lan)
    assert preview.status_code == 200, preview.location
    done = client.post("/withdraw/confirm", data=fields, base_url=lan)
    assert (done.status_code, done.location) == (303, "/withdraw/done")
    page = client.get(done.location, base_url=lan)
    assert page.status_code == 200, page.location
    assert status_of(app, public_text[0]) == "withdrawn"


# The brake on wrong codes (durable, the right code never refused): tests/test_rate_limits.py


# -- organisers, on someone's behalf ---------------------------------------------------------


def test_organiser_withdraws_on_someones_behalf(app, client, auth, public_text) -> None:
    reflection_id, code = public_text
    auth.login("organiser", name="Morwenna")
    page = client.get(f"/review/{reflection_id}")
    assert "Withdraw for this person" in page.text
    token = csrf_from(page.text)
    assert code not in page.text  # the delegate tells the organiser; staff never see it
    wrong = client.post(f"/review/{reflection_id}/withdraw",
                        data={"confirm_code": "WDZ-ZZZ", "csrf_token": token})  # fmt: skip
    assert wrong.status_code == 400 and "not the receipt code of this reflection" in wrong.text
    assert code not in wrong.text
    assert status_of(app, reflection_id) == "ready"
    assert (
        client.post(f"/review/{reflection_id}/withdraw", data={"confirm_code": code}).status_code
        == 400
    )  # no CSRF token
    done = client.post(f"/review/{reflection_id}/withdraw",
                       data={"confirm_code": code.lower(), "csrf_token": token})  # fmt: skip
    assert done.status_code == 303 and done.location.endswith("/review/")
    assert status_of(app, reflection_id) == "withdrawn"
    (entry,) = rows(app, "SELECT user_name, after FROM audit_log"
                         " WHERE action = 'reflection.withdraw'")  # fmt: skip
    assert entry == {"user_name": "Morwenna",
                     "after": '{"by": "organiser", "confirmed_with": "receipt code"}'}  # fmt: skip


def test_facilitators_cannot_withdraw(app, client, auth, public_text) -> None:
    reflection_id, code = public_text
    auth.login("facilitator")
    page = client.get(f"/review/{reflection_id}")
    assert "Withdraw for this person" not in page.text
    answer = client.post(
        f"/review/{reflection_id}/withdraw",
        data={"confirm_code": code, "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 403
    assert status_of(app, reflection_id) == "ready"


# -- the job ---------------------------------------------------------------------------------


def stored_video(app: Flask) -> tuple[int, str, list[Path]]:
    """A video reflection with an original, derived files and a reel piece on disk."""
    reflection_id = add_archived(app, "video")
    code = with_code(app, reflection_id)
    store = app.extensions["voxpop"].store
    (row,) = rows(app, "SELECT original_path FROM reflection WHERE id = ?", reflection_id)
    original = store.root / row["original_path"]
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(b"webm bytes")
    original.chmod(0o444)
    piece = render.clip_folder(store, reflection_id) / "head-abc.mp4"
    piece.parent.mkdir(parents=True)
    piece.write_bytes(b"head")
    return reflection_id, code, [original, store.derived / str(reflection_id), piece]


def run_withdraw_job(app: Flask, reflection_id: int) -> str:
    (job,) = rows(app, "SELECT id FROM job WHERE kind = ? AND target_id = ? AND status = 'queued'",
                  withdrawal.WITHDRAW_REFLECTION, reflection_id)  # fmt: skip
    return jobs.run_job(app.extensions["voxpop"].queue, job["id"])


def test_job_deletes_the_original_and_every_derived_file(app, client) -> None:
    reflection_id, code, paths = stored_video(app)
    confirm(client, code)
    assert all(path.exists() for path in paths)  # the job does this, not the request
    assert run_withdraw_job(app, reflection_id) == "done"
    assert not any(path.exists() for path in paths)


def test_job_is_idempotent(app, client) -> None:
    reflection_id, code, paths = stored_video(app)
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    with app.app_context():
        jobs.enqueue(get_db(), app.extensions["voxpop"].queue, withdrawal.WITHDRAW_REFLECTION,
                     reflection_id)  # fmt: skip
    assert run_withdraw_job(app, reflection_id) == "done"
    assert not any(path.exists() for path in paths)


def test_queued_processing_is_cancelled_and_running_work_is_waited_for(app, client) -> None:
    reflection_id, code, _paths = stored_video(app)
    with app.app_context():
        db, queue = get_db(), app.extensions["voxpop"].queue
        processing = jobs.enqueue_processing(db, queue, reflection_id)
        render_job = jobs.enqueue(db, queue, reels.RENDER_REEL, 99)
    sql(app, "UPDATE job SET status = 'running' WHERE id = ?", render_job)
    confirm(client, code)
    (cancelled,) = rows(app, "SELECT status FROM job WHERE id = ?", processing)
    assert cancelled["status"] == "done"
    assert run_withdraw_job(app, reflection_id) == "retrying"  # a render may be writing pieces
    sql(app, "UPDATE job SET status = 'done' WHERE id = ?", render_job)
    assert run_withdraw_job(app, reflection_id) == "done"


def test_offline_the_publish_waits_but_the_staged_copy_goes_now(
    app, client, public_text, aws_environment
) -> None:
    from tests.s3server import free_ports

    reflection_id, code = public_text
    (port,) = free_ports(1)  # nothing listens there: the laptop is offline
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        publish.save_settings(
            db,
            event.id,
            {"bucket": "archive", "endpoint_url": f"http://127.0.0.1:{port}"},
            actor=None,
        )
        staged = publish.staging_folder(Path(app.config["INSTANCE"]), event.id)
        staged.mkdir(parents=True)
        export_site(db, app.extensions["voxpop"].store, staged, event.id)
    assert (staged / f"media/reflections/{reflection_id}").is_dir()
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    assert not (staged / f"media/reflections/{reflection_id}").exists()
    assert b"Zarquon" not in b"".join(files_under(staged).values())
    assert rows(app, "SELECT status FROM job WHERE kind = 'publish_archive'") == [
        {"status": "queued"}
    ]  # it deletes the objects once the store answers (tests/test_publish.py)


def test_withdrawing_twice_is_refused(app, public_text) -> None:
    state = app.extensions["voxpop"]
    with app.app_context():
        withdrawal.withdraw(get_db(), state.queue, state.store, public_text[0])
        with pytest.raises(withdrawal.AlreadyWithdrawn):
            withdrawal.withdraw(get_db(), state.queue, state.store, public_text[0])


# -- copies voxpop made elsewhere: backups before an upgrade, export folders -----------------


def upgrade(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Upgrade the app's database to a next schema version, as a new voxpop would at start;
    return the backup it keeps from before."""
    shipped = db_module.migrations()
    future = (len(shipped) + 1, "9999_test.sql", "ALTER TABLE event ADD COLUMN motto TEXT;")
    monkeypatch.setattr(db_module, "migrations", lambda: [*shipped, future])
    open_database(app.config["INSTANCE"]).close()
    backup = Path(app.config["INSTANCE"]) / f"voxpop.sqlite3.before-v{len(shipped) + 1}"
    assert backup.is_file()
    return backup


def test_a_kept_backup_is_scrubbed_by_the_withdrawal(app, client, public_text,
                                                     monkeypatch) -> None:  # fmt: skip
    reflection_id, code = public_text
    backup = upgrade(app, monkeypatch)
    assert b"Zarquon" in backup.read_bytes()  # the copy from before the upgrade has it all
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    data = backup.read_bytes()
    assert b"Zarquon" not in data and b"Gwenllian" not in data and b"Gwen" not in data
    assert [p.name for p in backup.parent.iterdir() if p.name.startswith(backup.name)] == [
        backup.name]  # no journal or write-ahead log left beside it  # fmt: skip
    conn = sqlite3.connect(backup)
    try:
        row = conn.execute("SELECT status, text_body, display_name FROM reflection WHERE id = ?",
                           (reflection_id,)).fetchone()  # fmt: skip
        assert row == ("withdrawn", "", None)  # restoring it would not bring it back
        (withdrawn_at,) = conn.execute(
            "SELECT withdrawn_at FROM consent WHERE reflection_id = ?", (reflection_id,)
        ).fetchone()
        assert withdrawn_at
        assert conn.execute("SELECT COUNT(*) FROM reflection_tag").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM reflection WHERE status = 'ready'").fetchone()
    finally:
        conn.close()


def test_a_backup_that_cannot_be_scrubbed_is_deleted(app, client, public_text,
                                                     monkeypatch) -> None:  # fmt: skip
    reflection_id, code = public_text
    backup = upgrade(app, monkeypatch)
    backup.write_bytes(b"Zarquon " * 512)  # not a database any more
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    assert not backup.exists()


def test_an_earlier_export_folder_is_cleaned_by_the_withdrawal(app, client, public_text,
                                                               tmp_path) -> None:  # fmt: skip
    reflection_id, code = public_text
    kept = add_archived(app, "text", text="Kept words stay.")
    usb = tmp_path / "usb-stick" / "archive"
    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, usb)
    assert copies.export_folders(app.config["INSTANCE"]) == [usb.resolve()]
    assert (usb / f"media/reflections/{reflection_id}").is_dir()
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    site = files_under(usb)
    assert not any(f"reflections/{reflection_id}/" in name for name in site)
    assert not any(b"Zarquon" in data or b"Gwenllian" in data for data in site.values())
    manifest = json.loads((usb / "manifest.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in manifest["reflections"]] == [kept]  # the rest is still there


def test_an_export_that_cannot_be_rebuilt_loses_the_reflection_anyway(
    app, client, public_text, tmp_path
) -> None:
    reflection_id, code = public_text
    kept = add_archived(app, "video")
    usb = tmp_path / "usb"
    store = app.extensions["voxpop"].store
    with app.app_context():
        export_site(get_db(), store, usb)
    (store.derived / str(kept) / "poster.jpg").write_bytes(b"changed on disk")  # rebuild fails
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    site = files_under(usb)
    assert not any(f"reflections/{reflection_id}/" in name for name in site)
    assert not any(b"Zarquon" in data or b"Gwenllian" in data for data in site.values())
    manifest = json.loads((usb / "manifest.json").read_text(encoding="utf-8"))
    assert [r["id"] for r in manifest["reflections"]] == [kept]
    assert (usb / f"media/reflections/{kept}").is_dir()


def test_a_folder_no_longer_an_export_is_forgotten_untouched(app, client, public_text,
                                                             tmp_path) -> None:  # fmt: skip
    reflection_id, code = public_text
    folder = tmp_path / "reused"
    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, folder)
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "notes.txt").write_text("Zarquon: someone's own file", encoding="utf-8")
    confirm(client, code)
    assert run_withdraw_job(app, reflection_id) == "done"
    assert (folder / "notes.txt").read_text(encoding="utf-8").startswith("Zarquon")
    assert copies.export_folders(app.config["INSTANCE"]) == []


# -- with real media, a real reel, a real export and a real bucket ---------------------------

TEXT_MARK = "Zephyrine quokka marmalade 7319"
CAPTION_MARK = "Quillfeather obsidian lantern"
VIDEO_NAME = "Ysoldequix"
TEXT_NAME = "Brannoquel"
CAPTIONS = f"WEBVTT\n\n00:00:00.500 --> 00:00:02.000\n{CAPTION_MARK} murmurs.\n"


def make_app(folder: Path) -> Flask:
    return create_app({"INSTANCE": str(folder / "instance"), "UPLOADS": str(folder / "uploads"),
                       "TESTING": True, "QUEUE": "memory"})  # fmt: skip


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A processed video (captions, first name) and a text reflection (first name), approved
    and starred with reel and online consent; built once, copied for each test."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("withdraw-day")
    app = make_app(folder)
    with app.app_context():
        models.create_event(get_db(), "Whose Shoes? Llandudno", date="2026-11-23",
                            languages=["en"], max_clip_seconds=60)  # fmt: skip
    video = add_reflection(app, "video", mediafiles.ipad_mp4(folder / "in.mp4", seconds=3),
                           perspective="volunteer", name=VIDEO_NAME)  # fmt: skip
    text = add_reflection(app, "text", text=f"{TEXT_MARK}: we were heard.",
                          perspective="manager", name=TEXT_NAME)  # fmt: skip
    (folder / "in.mp4").unlink()
    ids = {"video": video, "text": text}
    for reflection_id in ids.values():
        give_consent(app, reflection_id, reel=1, online=1, show_name=1)
        assert process(app, reflection_id)["status"] == "ready"
        sql(app, "UPDATE reflection SET review_state = 'approved', starred = 1 WHERE id = ?",
            reflection_id)  # fmt: skip
        with_code(app, reflection_id)
    check_captions(app, video, CAPTIONS)  # so it is online, and its words are in the index
    with app.app_context():
        assert search.refresh(get_db()) == 2
        event_id = models.current_event(get_db()).id  # type: ignore[union-attr]
        assert [f.reflection_id for f in search.search(get_db(), event_id, CAPTION_MARK)] == [
            video]  # fmt: skip
    return {"folder": folder, "ids": ids}


@pytest.fixture
def day(processed: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Flask, dict[str, int]]]:
    for name in ("instance", "uploads"):
        shutil.copytree(processed["folder"] / name, tmp_path / name)
    yield make_app(tmp_path), processed["ids"]


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials for the test server from the environment (boto3's chain), nothing else."""
    use_test_credentials(monkeypatch, tmp_path)


def checkpoint(app: Flask) -> str:
    """Fold the write-ahead log into the database file (as closing the last connection
    would), so the file's bytes are what a copy of the laptop's disk would hold; its dump."""
    conn = sqlite3.connect(Path(app.config["INSTANCE"]) / "voxpop.sqlite3")
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def _data_urls(data: bytes) -> bytes:
    """What the export inlines as base64 ``data:`` URLs (captions), decoded, to search too."""
    found = re.findall(rb"data:[a-z/]+(?:;charset=[\w-]+)?;base64,([A-Za-z0-9+/=]+)", data)
    return b"\n".join(base64.b64decode(chunk) for chunk in found)


def find_traces(blobs: dict[str, bytes], needles: list[bytes],
                hashes: set[str]) -> list[str]:  # fmt: skip
    """Where any needle (or a file whose sha256 is one of ``hashes``) shows up."""
    traces = []
    for where, data in blobs.items():
        searched = data + _data_urls(data)
        traces += [f"{where}: {needle!r}" for needle in needles if needle in searched]
        if hashlib.sha256(data).hexdigest() in hashes:
            traces.append(f"{where}: a copy of its file")
    return traces


def files_under(root: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@requires_ffmpeg
@pytest.mark.media
@pytest.mark.parametrize("withdrawn", ["video", "text"])
def test_audit_after_withdrawal_finds_no_trace(
    day,
    s3_server: SeaweedS3,  # noqa: F811 - the fixture imported above
    aws_environment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    withdrawn: str,
) -> None:
    app, ids = day
    gone, kept = ids[withdrawn], ids["text" if withdrawn == "video" else "video"]
    store = app.extensions["voxpop"].store
    queue = app.extensions["voxpop"].queue
    if s3_server.process is None:
        s3_server.start()
    settings = {"bucket": s3_server.shared_bucket(), "prefix": f"wd-{uuid.uuid4().hex[:10]}",
                "region": "us-east-1", "endpoint_url": s3_server.endpoint_url}  # fmt: skip
    key_prefix = settings["prefix"] + "/"
    # The day as it stands: a reel in the archive, an export, a publish.
    with app.app_context():
        db = get_db()
        event = models.current_event(db)
        reel_id = reels.create_reel(db, event, "Closing plenary", actor=None)
        reels.update_settings(db, event, reel_id, title="Closing plenary", burn_captions=False,
                              archived=True, actor=None)  # fmt: skip
        reels.request_render(db, queue, event, reel_id)
        publish.save_settings(db, event.id, settings, actor=None)
    run_queued(app)
    with app.app_context():
        assert [c.reflection_id for c in render.load_clips(get_db(), store, reel_id)] == [
            ids["video"], ids["text"]]  # fmt: skip
        export_site(get_db(), store, tmp_path / "export")
        export_site(get_db(), store, tmp_path / "usb")  # an earlier copy, never exported again
        publish.request_publish(get_db(), queue, event.id)
    run_queued(app)
    backup = upgrade(app, monkeypatch)  # a new voxpop started: the copy from before the upgrade
    (reflection,) = rows(app, "SELECT * FROM reflection WHERE id = ?", gone)
    assets = rows(app, "SELECT kind, sha256 FROM asset WHERE reflection_id = ?", gone)
    hashes = {asset["sha256"] for asset in assets}
    if reflection["original_path"]:  # (add_reflection leaves original_sha256 out)
        hashes.add(hashlib.sha256(store.path(reflection["original_path"]).read_bytes()).hexdigest())
    assert len(hashes) >= 4  # mp4, poster, thumb (+ card for text) and the original
    words = [TEXT_MARK, TEXT_NAME] if withdrawn == "text" else [CAPTION_MARK, VIDEO_NAME]
    needles = [word.encode() for word in words] + [h.encode() for h in hashes]
    bucket = {key: obj["body"] for key, obj in
              s3_server.objects(settings["bucket"], key_prefix).items()}  # fmt: skip
    # The audit can fail: before the withdrawal, it finds it everywhere.
    assert any(f"reflections/{gone}/" in key for key in bucket)
    assert find_traces(bucket, needles, hashes)
    assert find_traces(files_under(tmp_path / "export"), needles, hashes)
    assert find_traces(files_under(tmp_path / "usb"), needles, hashes)
    assert find_traces({"backup": backup.read_bytes()}, needles, hashes)
    assert find_traces(files_under(store.root), needles, hashes)
    checkpoint(app)
    assert find_traces(files_under(Path(app.config["INSTANCE"])), needles, hashes)

    client = app.test_client()
    assert confirm(client, reflection["receipt_code"]).status_code == 200
    ran = run_queued(app)
    assert ("withdraw_reflection", gone, "done") in ran
    assert ("render_reel", reel_id, "done") in ran
    assert ("publish_archive", event.id, "done") in ran

    # The reel was made again, without it.
    (reel,) = rows(app, "SELECT * FROM reel WHERE id = ?", reel_id)
    assert reel["status"] == "ready" and reel["rendered_revision"] == reel["revision"]
    with app.app_context():
        assert [c.reflection_id for c in render.load_clips(get_db(), store, reel_id)] == [kept]
        export_site(get_db(), store, tmp_path / "export")  # the next export
    assert rows(app, "SELECT * FROM reel_item WHERE reflection_id = ?", gone) == []

    dump = checkpoint(app)

    bucket = {f"s3:{key}": obj["body"] for key, obj in
              s3_server.objects(settings["bucket"], key_prefix).items()}  # fmt: skip
    blobs = (
        files_under(store.root)
        | files_under(Path(app.config["INSTANCE"]))
        | files_under(tmp_path / "export")
        | files_under(tmp_path / "usb")
        | bucket
        | {"database dump": dump.encode()}
    )
    assert backup.is_file() and str(backup) in blobs  # kept until the upgrade is confirmed
    assert find_traces(blobs, needles, hashes) == []
    names = [name for name in blobs if re.search(rf"(derived|reflections)/{gone}/", name)]
    assert names == []
    assert not (store.derived / str(gone)).exists()
    assert any(f"reflections/{kept}/" in name for name in bucket)  # the other one stays
    (after,) = rows(app, "SELECT * FROM reflection WHERE id = ?", gone)
    assert after["text_body"] in ("", None) and after["transcript_vtt"] is None
    assert after["display_name"] is None and after["original_sha256"] is None
