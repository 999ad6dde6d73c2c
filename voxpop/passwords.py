"""Password hashing: one place that chooses the method.

Production uses werkzeug's default (scrypt), slow on purpose. The ``PASSWORD_HASH_METHOD``
setting exists so the test suite can use a cheap one (``pbkdf2:sha256:1``); nothing else should
change it. Hashes name their own method, so a check works whatever the setting is now.
"""

from __future__ import annotations

from functools import cache

from flask import current_app, has_app_context
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

DEFAULT_METHOD = "scrypt"
# The one password rule, for every way a password is set (settings page, CLI, first run).
PASSWORD_MIN, PASSWORD_MAX = 8, 200


def password_problem(password: str) -> str | None:
    """What is wrong with ``password`` as a new password (in the page's language), or None."""
    if len(password) < PASSWORD_MIN:
        return _("A password needs at least %(min)d characters.", min=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _("A password may have at most %(max)d characters.", max=PASSWORD_MAX)
    return None


def hash_method() -> str:
    """The configured hash method (the production default outside an app)."""
    if has_app_context():
        return str(current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_METHOD)
    return DEFAULT_METHOD


def hash_password(password: str) -> str:
    """A salted hash of ``password`` with the configured method."""
    return generate_password_hash(password, method=hash_method())


def check_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    return check_password_hash(password_hash, password)


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-real-password", method=method)


def check_against_nothing(password: str) -> None:
    """Spend the same work as a real check, so timing does not reveal which names exist."""
    check_password_hash(_dummy_hash(hash_method()), password)
