"""Logging out (or a password change) ends a session everywhere; staff logins last a day."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Auth, KioskDevice, csrf_from
from voxpop.cli import main

pytestmark = pytest.mark.python_only


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def replay(app: Flask, cookie: str):
    """A fresh browser carrying a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.location


def test_a_cookie_copied_before_logout_no_longer_works(app, client, auth) -> None:
    auth.login("organiser")
    copied = cookie_of(client)
    assert replay(app, copied).get("/studio/").status_code == 200
    token = csrf_from(client.get("/studio/").text)
    assert is_sent_to_login(client.post("/logout", data={"csrf_token": token}))
    assert is_sent_to_login(replay(app, copied).get("/studio/"))
    assert is_sent_to_login(replay(app, copied).get("/review/"))


def test_logging_in_again_after_logout_works(app, client, auth) -> None:
    auth.login("facilitator")
    token = csrf_from(client.get("/studio/").text)
    client.post("/logout", data={"csrf_token": token})
    assert auth.client.post(
        "/login",
        data={"name": "facilitator-user", "password": "correct horse",
              "csrf_token": csrf_from(client.get("/login").text)},
    ).status_code == 302  # fmt: skip
    assert client.get("/studio/").status_code == 200


def test_a_password_change_in_settings_logs_that_user_out_everywhere(app) -> None:
    facilitator = app.test_client()
    Auth(app, facilitator).login("facilitator", name="gwen")
    copied = cookie_of(facilitator)
    organiser = app.test_client()
    Auth(app, organiser).login("organiser")
    from tests.conftest import rows

    gwen = rows(app, "SELECT id FROM user WHERE name = 'gwen'")[0]["id"]
    page = organiser.get("/studio/settings/users")
    answer = organiser.post(
        f"/studio/settings/users/{gwen}/password",
        data={"password": "a new password", "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 302
    assert is_sent_to_login(facilitator.get("/studio/"))
    assert is_sent_to_login(replay(app, copied).get("/studio/"))
    assert organiser.get("/studio/").status_code == 200  # someone else's change: still in


def test_changing_your_own_password_keeps_this_browser_only(app, client, auth) -> None:
    auth.login("organiser")
    other_tab = replay(app, cookie_of(client))
    from tests.conftest import rows

    me = rows(app, "SELECT id FROM user WHERE name = 'organiser-user'")[0]["id"]
    page = client.get("/studio/settings/users")
    client.post(
        f"/studio/settings/users/{me}/password",
        data={"password": "another password", "csrf_token": csrf_from(page.text)},
    )
    assert client.get("/studio/").status_code == 200
    assert is_sent_to_login(other_tab.get("/studio/"))


def cli(app: Flask, monkeypatch, *args: str, input: str):
    """Run ``voxpop`` against this app's instance, as a facilitator at the laptop would."""
    monkeypatch.setenv("VOXPOP_INSTANCE", app.config["INSTANCE"])
    monkeypatch.setenv("VOXPOP_UPLOADS", app.config["UPLOADS"])
    monkeypatch.setenv("VOXPOP_QUEUE", "memory")
    return CliRunner().invoke(main, list(args), input=input)


def test_the_cli_password_change_logs_the_user_out(app, client, auth, monkeypatch) -> None:
    auth.login("facilitator", name="aled")
    copied = cookie_of(client)
    result = cli(app, monkeypatch, "user", "password", "aled", "--password-stdin",
                 input="brand new secret\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert is_sent_to_login(replay(app, copied).get("/studio/"))
    assert is_sent_to_login(client.get("/studio/"))
    fresh = app.test_client()
    answer = fresh.post(
        "/login",
        data={"name": "aled", "password": "brand new secret",
              "csrf_token": csrf_from(fresh.get("/login").text)},
    )  # fmt: skip
    assert answer.status_code == 302


def test_the_cli_refuses_an_unknown_user_or_a_short_password(app, auth, monkeypatch) -> None:
    assert cli(app, monkeypatch, "user", "password", "nobody", "--password-stdin",
               input="long enough pw\n").exit_code == 1  # fmt: skip
    auth.make_user("rhys", "facilitator")
    assert cli(app, monkeypatch, "user", "password", "rhys", "--password-stdin",
               input="short\n").exit_code == 1  # fmt: skip


def test_a_staff_login_lasts_a_working_day(app, client, auth, monkeypatch) -> None:
    auth.login("organiser")
    cookie = client.get("/studio/").headers.get("Set-Cookie") or ""
    started = datetime.now(UTC)
    monkeypatch.setattr("voxpop.db.clock", lambda: started + timedelta(hours=11))
    assert client.get("/studio/").status_code == 200
    monkeypatch.setattr("voxpop.db.clock", lambda: started + timedelta(hours=12, seconds=5))
    assert is_sent_to_login(client.get("/studio/"))
    del cookie


def test_the_staff_cookie_expires_after_a_day_and_a_kiosks_after_two_weeks(app, auth) -> None:
    staff = app.test_client()
    answer = Auth(app, staff).login("organiser")
    expires = parsedate_to_datetime(
        answer.headers["Set-Cookie"].split("Expires=")[1].split(";")[0]
    ).timestamp()
    assert abs(expires - (time.time() + 12 * 3600)) < 120
    kiosk = KioskDevice(app)
    page = kiosk.client.get("/kiosk/")
    assert page.status_code == 200
    kiosk_cookie = kiosk.client.get_cookie("session")
    assert kiosk_cookie.expires.timestamp() - time.time() > 13 * 24 * 3600


def test_a_paired_kiosk_is_not_logged_out_by_time(app, monkeypatch) -> None:
    kiosk = KioskDevice(app)
    later = datetime.now(UTC) + timedelta(days=13)
    monkeypatch.setattr("voxpop.db.clock", lambda: later)
    assert kiosk.client.get("/kiosk/").status_code == 200
    assert kiosk.post(kiosk.form()).status_code == 201
