"""Logging in and out."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from tests.conftest import csrf_from

pytestmark = pytest.mark.python_only


def test_login_and_logout(auth, client) -> None:
    response = auth.login("organiser")
    assert response.status_code == 302 and response.location == "/studio/"
    assert client.get("/studio/").status_code == 200
    page = client.get("/studio/")
    out = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert out.status_code == 302
    assert client.get("/studio/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part(auth, client) -> None:
    auth.make_user("mair", "facilitator")
    page = client.get("/login")
    for name, password in (("mair", "wrong password"), ("nobody", "correct horse")):
        response = client.post(
            "/login", data={"name": name, "password": password, "csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 401
        assert "do not match" in response.text
    assert client.get("/studio/").status_code == 302


def test_login_form_needs_csrf(auth, client) -> None:
    auth.make_user("mair", "organiser")
    response = client.post("/login", data={"name": "mair", "password": "correct horse"})
    assert response.status_code == 400
    assert client.get("/studio/").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/studio/?x=1", "/studio/?x=1"),
        ("https://evil.example/", "/studio/"),
        ("//evil.example/", "/studio/"),
    ],
)
def test_login_only_redirects_locally(auth, client, next_url, landing) -> None:
    auth.make_user("mair", "organiser")
    page = client.get("/login")
    response = client.post(
        f"/login?next={next_url}",
        data={"name": "mair", "password": "correct horse", "csrf_token": csrf_from(page.text)},
    )
    assert response.location == landing


def test_password_is_stored_hashed(app, auth) -> None:
    from tests.conftest import rows

    auth.make_user("mair", "organiser")
    (user,) = rows(app, "SELECT password_hash FROM user")
    assert "correct horse" not in user["password_hash"]
    assert user["password_hash"].startswith(("scrypt:", "pbkdf2:"))


def test_production_hashes_passwords_with_scrypt(tmp_path, monkeypatch) -> None:
    """The suite's cheap hash (tests/conftest.py) is the suite's alone: an app given no
    setting hashes with scrypt, and logs in with a hash made either way."""
    from voxpop import create_app, models
    from voxpop.db import get_db

    monkeypatch.delenv("VOXPOP_PASSWORD_HASH_METHOD")
    app = create_app({"INSTANCE": str(tmp_path / "i"), "UPLOADS": str(tmp_path / "u")})
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with app.app_context():
        db = get_db()
        models.create_user(db, "mair", "organiser", "correct horse")
        (stored,) = db.execute("SELECT password_hash FROM user").fetchone()
        assert stored.startswith("scrypt:")
        db.execute(
            "UPDATE user SET password_hash = ?",
            (generate_password_hash("correct horse", method="pbkdf2:sha256:1"),),
        )
        assert models.authenticate(db, "mair", "correct horse") is not None
        assert models.authenticate(db, "mair", "wrong horse") is None
        assert models.authenticate(db, "nobody", "correct horse") is None


def test_the_suite_uses_a_cheap_hash(app, auth) -> None:
    from tests.conftest import rows

    auth.make_user("mair", "organiser")
    (user,) = rows(app, "SELECT password_hash FROM user")
    assert user["password_hash"].startswith("pbkdf2:sha256:1$")
