"""Rate limits: wrong logins, wrong receipt codes and kiosk uploads, durable across restarts."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from flask import Flask
from limits import parse_many

from tests.archivedata import add_archived
from tests.conftest import Auth, KioskDevice, csrf_from
from tests.test_withdrawal import lookup, status_of, with_code
from voxpop import create_app, ratelimit

pytestmark = pytest.mark.python_only

GUESSER = {"REMOTE_ADDR": "10.0.0.66"}
ELSEWHERE = {"REMOTE_ADDR": "10.0.0.7"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rate limiter's clock, moved on by hand."""
    now = [time.time()]
    monkeypatch.setattr(ratelimit, "now", lambda: now[0])
    return now


def browser(app: Flask, environ: dict[str, str]):
    """A browser on another device (its own address)."""
    client = app.test_client()
    client.environ_base.update(environ)
    return client


def log_in(client, name: str, password: str) -> Any:
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


# -- logins ------------------------------------------------------------------------------------


def test_a_hundred_wrong_logins_are_braked_and_the_right_one_waits(app, clock) -> None:
    auth = Auth(app, app.test_client())
    auth.make_user("gwen", "organiser")
    auth.make_user("aled", "facilitator")
    guesser = browser(app, GUESSER)
    statuses = [log_in(guesser, "gwen", f"guess {n}").status_code for n in range(100)]
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}
    # The right password is held off too, until the window passes: that is the point.
    held = log_in(guesser, "gwen", "correct horse")
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) <= 60
    assert "logging in is paused" in held.text and 'name="name"' in held.text
    assert "no-store" in held.headers["Cache-Control"]
    # Someone else, on another device, logs in as usual.
    assert log_in(browser(app, ELSEWHERE), "aled", "correct horse").status_code == 302
    clock[0] += 61
    answer = log_in(guesser, "gwen", "correct horse")
    assert answer.status_code == 302 and answer.location.endswith("/studio/")


def test_an_account_is_braked_whatever_address_the_guesses_come_from(app, clock) -> None:
    Auth(app, app.test_client()).make_user("gwen", "organiser")
    for n in range(10):
        spread = browser(app, {"REMOTE_ADDR": f"10.0.1.{n}"})
        assert log_in(spread, "gwen", "wrong password").status_code == 401
    assert log_in(browser(app, ELSEWHERE), "gwen", "correct horse").status_code == 429
    clock[0] += 61
    assert log_in(browser(app, ELSEWHERE), "gwen", "correct horse").status_code == 302


def test_the_hourly_limit_outlasts_the_minute(app, clock) -> None:
    Auth(app, app.test_client()).make_user("gwen", "organiser")
    guesser = browser(app, GUESSER)
    for _minute in range(5):
        for _n in range(10):
            assert log_in(guesser, "gwen", "wrong password").status_code == 401
        clock[0] += 61
    assert log_in(guesser, "gwen", "correct horse").status_code == 429  # 50 in the hour
    clock[0] += 3600
    assert log_in(guesser, "gwen", "correct horse").status_code == 302


def test_only_wrong_passwords_count(app) -> None:
    Auth(app, app.test_client()).make_user("gwen", "organiser")
    for _ in range(25):  # a shared laptop at the venue, logging in all day
        assert log_in(browser(app, GUESSER), "gwen", "correct horse").status_code == 302


def test_the_pause_is_told_in_welsh(app) -> None:
    Auth(app, app.test_client()).make_user("gwen", "organiser")
    guesser = browser(app, GUESSER)
    guesser.get("/login?lang=cy")
    for _ in range(10):
        log_in(guesser, "gwen", "wrong password")
    held = log_in(guesser, "gwen", "correct horse")
    assert held.status_code == 429
    assert "oedi" in held.text  # "mewngofnodi wedi'i oedi"


# -- withdrawal codes --------------------------------------------------------------------------


@pytest.fixture
def public_reflection(app: Flask) -> tuple[int, str]:
    reflection_id = add_archived(app, "text", text="Wrong codes are braked.")
    return reflection_id, with_code(app, reflection_id)


# Wrong codes that could be codes (six of the receipt alphabet: no O, 0, I, 1 or L).
WELL_FORMED = "23456789ABCDEFGH"


def test_typing_slips_are_not_counted_as_guesses(app, public_reflection) -> None:
    """What cannot be a code at all (too short, a look-alike letter) guesses nothing: it is
    said plainly, and does not bring the brake nearer."""
    app.config["WITHDRAW_MAX_WRONG_CODES"] = 2
    app.config["WITHDRAW_BRAKED_PAUSE_SECONDS"] = 0.05
    guesser = browser(app, GUESSER)
    for slip in ("O0O-III", "ABC-123", "WDZ", "WDZ-ZZ10"):
        answer = lookup(guesser, slip)
        assert answer.status_code == 404 and "never the look-alikes O, 0, I, 1 or L" in answer.text
    assert lookup(guesser, "WDZ-ZZ2").status_code == 404  # the first real guess
    assert lookup(guesser, "WDZ-ZZ3").status_code == 404
    assert lookup(guesser, "WDZ-ZZ4").status_code == 429


def test_wrong_codes_are_braked_but_the_right_code_is_accepted(app, public_reflection) -> None:
    reflection_id, code = public_reflection
    app.config["WITHDRAW_BRAKED_PAUSE_SECONDS"] = 0.05
    guesser = browser(app, GUESSER)
    for n in range(10):
        assert lookup(guesser, f"WDZ-Z{WELL_FORMED[n]}Z").status_code == 404
    braked = lookup(guesser, "WDZ-ZZ9")
    assert braked.status_code == 429
    assert "Please wait 15 minutes" in braked.text
    assert 800 < int(braked.headers["Retry-After"]) <= 900
    # The right code always works, even from an address that is braked.
    preview = lookup(guesser, code)
    assert preview.status_code == 200, preview.text
    done = guesser.post("/withdraw/confirm", follow_redirects=True,
                        data={"code": code, "csrf_token": csrf_from(preview.text)})  # fmt: skip
    assert done.status_code == 200
    assert status_of(app, reflection_id) == "withdrawn"
    # Another address is not braked.
    assert lookup(browser(app, ELSEWHERE), "WDZ-ZZ8").status_code == 404


def test_a_braked_address_gets_one_answer_at_a_time(app, public_reflection) -> None:
    """While braked, codes are checked one by one after a pause: guessing cannot go fast."""
    import threading

    _reflection_id, code = public_reflection
    app.config["WITHDRAW_MAX_WRONG_CODES"] = 2
    app.config["WITHDRAW_BRAKED_PAUSE_SECONDS"] = 1.5
    guesser = browser(app, GUESSER)
    for n in range(2):
        assert lookup(guesser, f"WDZ-ZZ{n + 2}").status_code == 404
    answers: list[int] = []
    first = threading.Thread(
        target=lambda: answers.append(lookup(browser(app, GUESSER), code).status_code)
    )
    first.start()
    # While that check waits its turn, another from the same address is refused at once ...
    deadline = time.monotonic() + 10
    while not any(turn.locked() for turn in _braked_turns().values()):
        assert time.monotonic() < deadline, "the first check never took its turn"
        time.sleep(0.01)
    second = lookup(guesser, "WDZ-ZZ7")
    assert second.status_code == 429 and "previous code" in second.text
    first.join()
    # ... and the waiting one, the right code, was accepted.
    assert answers == [200]


def _braked_turns() -> dict[str, Any]:
    from voxpop.reflection import withdrawal

    return withdrawal._braked_turns


def test_the_brake_forgets_after_its_window(app, clock) -> None:
    app.config["WITHDRAW_MAX_WRONG_CODES"] = 3
    guesser = browser(app, GUESSER)
    for attempt in ("WDZ-ZZ2", "WDZ-ZZ3", "WDZ-ZZ4"):
        assert lookup(guesser, attempt).status_code == 404
    assert lookup(guesser, "WDZ-ZZ5").status_code == 429
    clock[0] += 901
    assert lookup(guesser, "WDZ-ZZ5").status_code == 404


# -- kiosk uploads -----------------------------------------------------------------------------


def tus_create(kiosk: KioskDevice, length: int = 1000) -> Any:
    fields = {
        "perspective": "volunteer",
        "prompt": str(kiosk.config["prompts"][0]["id"]),
        "kind": "audio",
        "consent": "archive",
        "client_id": "5d9c7c3e-0000-4000-8000-1",
    }
    metadata = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                        for key, value in fields.items())  # fmt: skip
    return kiosk.client.post(
        "/kiosk/api/uploads/",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(length),
                 "Upload-Metadata": metadata, "Authorization": f"Bearer {kiosk.token}"},
    )  # fmt: skip


def test_a_kiosk_is_braked_per_minute_across_both_upload_paths(app, clock) -> None:
    app.config["RATELIMIT_KIOSK_REQUESTS"] = "4/minute"
    kiosk, other = KioskDevice(app), KioskDevice(app)
    assert [kiosk.post(kiosk.form()).status_code for _ in range(3)] == [201] * 3
    assert tus_create(kiosk).status_code != 429  # the fourth request, by tus
    braked = tus_create(kiosk)
    assert braked.status_code == 429
    assert braked.headers["Tus-Resumable"] == "1.0.0" and "Retry-After" in braked.headers
    refused = kiosk.post(kiosk.form())
    assert refused.status_code == 429
    assert "tries again in a moment" in refused.get_json()["error"]
    assert other.post(other.form()).status_code == 201  # counted per kiosk
    clock[0] += 61
    assert kiosk.post(kiosk.form()).status_code == 201


def test_a_kiosk_is_braked_by_bytes_per_minute(app, clock) -> None:
    app.config["RATELIMIT_KIOSK_BYTES"] = "5000/minute"
    kiosk = KioskDevice(app)
    long_text = "Listening changed my mind. " * 30  # ~800 bytes with the other fields
    statuses = [kiosk.post(kiosk.form(text=long_text)).status_code for _ in range(8)]
    assert statuses[0] == 201 and statuses[-1] == 429
    assert statuses.index(429) >= 2  # some went through before the brake
    clock[0] += 61
    assert kiosk.post(kiosk.form(text=long_text)).status_code == 201


def test_the_default_kiosk_limits_let_a_busy_kiosk_through(app) -> None:
    # A 2 MiB chunk every 300 ms for a whole minute, plus its HEADs and heartbeats.
    requests, chunks = parse_many(app.config["RATELIMIT_KIOSK_REQUESTS"]), 200
    (per_minute,) = parse_many(app.config["RATELIMIT_KIOSK_BYTES"])
    assert all(item.amount >= chunks * 2 for item in requests)
    assert per_minute.amount >= chunks * 2 * 1024 * 1024
    assert per_minute.get_expiry() == 60


# -- durable ----------------------------------------------------------------------------------


def test_limits_survive_a_restart_on_the_same_instance(app, public_reflection) -> None:
    Auth(app, app.test_client()).make_user("gwen", "organiser")
    guesser = browser(app, GUESSER)
    for _ in range(10):
        log_in(guesser, "gwen", "wrong password")
        lookup(guesser, "WDZ-ZZ2")
    restarted = create_app({key: app.config[key]
                            for key in ("INSTANCE", "UPLOADS", "TESTING", "QUEUE")})  # fmt: skip
    again = browser(restarted, GUESSER)
    assert log_in(again, "gwen", "correct horse").status_code == 429
    assert lookup(again, "WDZ-ZZ3").status_code == 429
    assert lookup(browser(restarted, ELSEWHERE), "WDZ-ZZ3").status_code == 404
    # Each app keeps its own storage: the first one still counts in the same file.
    assert log_in(browser(app, GUESSER), "gwen", "correct horse").status_code == 429


def test_the_storage_is_configurable(tmp_path) -> None:
    app = create_app({"INSTANCE": str(tmp_path / "i"), "UPLOADS": str(tmp_path / "u"),
                      "TESTING": True, "QUEUE": "memory",
                      "RATELIMIT_STORAGE_URI": "memory://"})  # fmt: skip
    storage, _strategy = app.extensions["voxpop.ratelimit"]
    assert type(storage).__name__ == "MemoryStorage"
    default = create_app({"INSTANCE": str(tmp_path / "j"), "UPLOADS": str(tmp_path / "v"),
                          "TESTING": True, "QUEUE": "memory"})  # fmt: skip
    storage, _strategy = default.extensions["voxpop.ratelimit"]
    assert isinstance(storage, ratelimit.SQLiteStorage)
    assert storage.path == tmp_path / "j" / "ratelimits.sqlite3"
