"""Receipt codes are the delegate's, not staff's (issue 13, item 2).

A receipt code is the credential that withdraws a reflection for good. Staff screens, the JSON
the studio's scripts read, the exports and the command line show a reflection's id instead; a
staff member withdraws only through the organisers' own action, audited under their name.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tests.archivedata import add_archived, add_reel
from tests.conftest import Auth, KioskDevice, csrf_from, rows
from tests.test_roles import ROLES_TABLE
from voxpop.cli import main as cli_main
from voxpop.db import get_db, transaction
from voxpop.publishing.export import write_consent_log
from voxpop.studio.dashboard import CHARTS

pytestmark = pytest.mark.python_only

_CODES = (f"RC{a}-{b}{c}{d}" for a, b, c, d in itertools.product("ABCDEF", "JKMN", "PQRS",
                                                                  "2345"))  # fmt: skip


def set_code(app: Flask, reflection_id: int) -> str:
    """Give a reflection a receipt code of the kiosk's form (unlikely to occur by chance)."""
    code = next(_CODES)
    with app.app_context():
        db = get_db()
        with transaction(db):
            db.execute("UPDATE reflection SET receipt_code = ? WHERE id = ?", (code, reflection_id))
    return code


@pytest.fixture
def day(app: Flask) -> dict[str, Any]:
    """Reflections in every state a staff page shows, a kiosk's own, and a reel with them."""
    kiosk = KioskDevice(app)
    sent = kiosk.post(kiosk.form(text="Sent from the kiosk today."))
    assert sent.status_code == 201, sent.text
    ids = {
        "video": add_archived(app, transcript="WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"),
        "audio": add_archived(app, "audio", perspective="manager", review="waiting"),
        "text": add_archived(app, "text", name="Siân", show_name=1),
        "hidden": add_archived(app, review="hidden"),
        "failed": add_archived(app, status="failed"),
        "kiosk": int(sent.json["id"]),
    }
    codes = {key: set_code(app, rid) for key, rid in ids.items() if key != "kiosk"}
    codes["kiosk"] = sent.json["receipt_code"]
    reel = add_reel(app, clips=(ids["video"], ids["text"]))
    return {"ids": ids, "codes": codes, "reel": reel, "slugs": ["volunteer", "manager"]}


def urls_for(app: Flask, endpoint: str, day: dict[str, Any]) -> list[str]:
    """Every URL of a GET route worth fetching, its arguments filled from the day."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    if "GET" not in (rule.methods or ()) or endpoint == "static":
        return []
    choices: dict[str, list[Any]] = {
        "reflection_id": list(day["ids"].values()),
        "reel_id": [day["reel"]],
        "kind": ["mp4", "poster", "thumb", "card", "vtt", "captioned_mp4"],
        "chart": list(CHARTS),
        "slug": day["slugs"],
    }
    if not set(rule.arguments) <= set(choices):  # tokens, upload ids, codes: not staff pages
        return []
    names = sorted(rule.arguments)
    with app.test_request_context():
        from flask import url_for

        found = [url_for(endpoint, **dict(zip(names, values, strict=True)))
                 for values in itertools.product(*(choices[name] for name in names))]  # fmt: skip
    extra = {"review.queue": ["?state=all", "?state=hidden", "?kind=text", "?q=Si%C3%A2n"]}
    return found + [found[0] + query for query in extra.get(endpoint, [])]


def leaks(body: bytes, codes: dict[str, str]) -> list[str]:
    """Which receipt codes a response shows (any spelling: with or without the dash)."""
    text = body.decode("utf-8", "replace").upper()
    return [code for code in codes.values() if code in text or code.replace("-", "") in text]


@pytest.mark.parametrize("role", ["facilitator", "organiser"])
def test_no_staff_page_shows_a_receipt_code(app: Flask, day: dict[str, Any], role: str) -> None:
    client = app.test_client()
    Auth(app, client).login(role)
    fetched = 0
    for endpoint, audience in sorted(ROLES_TABLE.items()):
        if role not in audience and "anonymous" not in audience:
            continue
        for url in urls_for(app, endpoint, day):
            answer = client.get(url)
            fetched += answer.status_code == 200
            assert leaks(answer.data, day["codes"]) == [], (endpoint, url)
    assert fetched > 20  # the walk really saw the staff pages
    # The JSON a change answers with (the review script updates the page in place).
    page = client.get(f"/review/{day['ids']['audio']}")
    for path, data in [("state", {"state": "approved"}), ("star", {"starred": "1"}),
                       ("tags", {"tags": "housing"})]:  # fmt: skip
        changed = client.post(f"/review/{day['ids']['audio']}/{path}",
                              data={**data, "csrf_token": csrf_from(page.text)},
                              headers={"Accept": "application/json"})  # fmt: skip
        assert changed.status_code == 200, changed.text
        assert leaks(changed.data, day["codes"]) == []


def test_the_walk_can_fail_the_code_is_in_the_database(app: Flask, day: dict[str, Any]) -> None:
    (row,) = rows(app, "SELECT receipt_code FROM reflection WHERE id = ?", day["ids"]["text"])
    assert leaks(json.dumps(row).encode(), day["codes"]) == [day["codes"]["text"]]


def test_staff_pages_show_the_reflection_number(app, client, auth, day) -> None:
    auth.login("facilitator")
    reflection_id = day["ids"]["text"]
    assert f"#{reflection_id}" in client.get(f"/review/{reflection_id}").text
    assert f"#{reflection_id}" in client.get("/studio/").text


# -- exports ---------------------------------------------------------------------------------


def test_consent_log_has_ids_and_no_receipt_codes(app, client, auth, day, tmp_path) -> None:
    with app.app_context():
        write_consent_log(get_db(), tmp_path / "consent.csv")
    written = (tmp_path / "consent.csv").read_bytes()
    auth.login("organiser")
    page = client.get("/studio/export")
    downloaded = client.post("/studio/export/consent-log.csv",
                             data={"csrf_token": csrf_from(page.text)})  # fmt: skip
    assert downloaded.status_code == 200
    for data in (written, downloaded.data):
        table = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        assert "receipt_code" not in table[0]
        assert {int(row["reflection_id"]) for row in table} == set(day["ids"].values())
        assert leaks(data, day["codes"]) == []


def test_voxpop_reflections_lists_no_receipt_codes(app, day, monkeypatch) -> None:
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    runner = CliRunner()
    for args in (["reflections"], ["reflections", "--json"]):
        result = runner.invoke(cli_main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert str(day["ids"]["text"]) in result.output
        assert leaks(result.output.encode(), day["codes"]) == []
    first = json.loads(runner.invoke(cli_main, ["reflections", "--json"]).output.splitlines()[0])
    assert "receipt_code" not in first


# -- withdrawing as staff ----------------------------------------------------------------------


def withdraw_form(client: FlaskClient, reflection_id: int, typed: str) -> Any:
    page = client.get(f"/review/{reflection_id}")
    data = {"confirm_code": typed, "csrf_token": csrf_from(page.text)}
    return client.post(f"/review/{reflection_id}/withdraw", data=data)


def withdraw_audit(app: Flask) -> list[dict[str, Any]]:
    return rows(app, "SELECT user_id, user_name, target_id, after FROM audit_log"
                     " WHERE action = 'reflection.withdraw'")  # fmt: skip


def test_a_wrong_code_at_the_organisers_withdrawal_does_not_reveal_the_right_one(
    app, client, auth, day
) -> None:
    auth.login("organiser")
    reflection_id = day["ids"]["text"]
    wrong = withdraw_form(client, reflection_id, "RCZ-ZZZ")
    assert wrong.status_code == 400
    assert "not the receipt code of this reflection" in wrong.text
    assert leaks(wrong.data, day["codes"]) == []
    assert withdraw_audit(app) == []


@pytest.mark.parametrize("typed", ["code", "number"])
def test_organiser_withdraws_with_the_code_they_are_told_or_the_number(
    app, client, auth, day, typed: str
) -> None:
    auth.login("organiser", name="Morwenna")
    reflection_id = day["ids"]["text"]
    confirmation = day["codes"]["text"].lower() if typed == "code" else f"#{reflection_id}"
    done = withdraw_form(client, reflection_id, confirmation)
    assert done.status_code == 303
    page = client.get(done.location)  # the note says which, by number
    assert f"#{reflection_id}" in page.text and leaks(page.data, day["codes"]) == []
    (entry,) = withdraw_audit(app)
    assert entry["user_name"] == "Morwenna" and entry["target_id"] == reflection_id
    assert json.loads(entry["after"]) == {
        "by": "organiser",
        "confirmed_with": "receipt code" if typed == "code" else "reflection number",
    }
    assert leaks(client.get("/studio/audit").data, day["codes"]) == []


def lookup_and_confirm(client: FlaskClient, code: str) -> tuple[Any, Any]:
    page = client.get("/withdraw")
    token = csrf_from(page.text) if 'name="csrf_token"' in page.text else ""
    form = {"code": code, "csrf_token": token}
    preview = client.post("/withdraw", data=form, follow_redirects=True)
    confirm = client.post("/withdraw/confirm", data=form, follow_redirects=True)
    return preview, confirm


def test_a_facilitator_cannot_withdraw_on_the_public_pages(app, client, auth, day) -> None:
    auth.login("facilitator")
    form = client.get("/withdraw")
    assert form.status_code == 403
    assert "Facilitators cannot withdraw reflections" in form.text
    assert "organiser" in form.text.lower()
    preview, confirm = lookup_and_confirm(client, day["codes"]["text"])
    assert preview.status_code == 403 and confirm.status_code == 403
    assert "Facilitators cannot withdraw reflections" in confirm.text
    assert rows(app, "SELECT status FROM reflection WHERE id = ?", day["ids"]["text"]) == [
        {"status": "ready"}]  # fmt: skip
    assert withdraw_audit(app) == []


def test_an_organiser_on_the_public_pages_withdraws_under_their_own_name(
    app, client, auth, day
) -> None:
    auth.login("organiser", name="Morwenna")
    preview, confirm = lookup_and_confirm(client, day["codes"]["text"])
    assert preview.status_code == 200 and "under your name" in preview.text
    assert confirm.status_code == 200
    (entry,) = withdraw_audit(app)
    assert entry["user_name"] == "Morwenna" and entry["user_id"] is not None
    assert json.loads(entry["after"]) == {"by": "organiser", "confirmed_with": "receipt code"}


def test_a_delegate_still_withdraws_with_no_account(app, client, day) -> None:
    preview, confirm = lookup_and_confirm(client, day["codes"]["kiosk"])
    assert preview.status_code == 200 and confirm.status_code == 200
    (entry,) = withdraw_audit(app)
    assert entry["user_name"] == "delegate (receipt code)" and entry["user_id"] is None
    assert re.search(r"delegate", entry["after"])
