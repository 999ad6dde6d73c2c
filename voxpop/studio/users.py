"""The people who can log in: add, change role, reset password, remove."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from flask_babel import gettext as _

from voxpop import audit, models, passwords
from voxpop.db import transaction
from voxpop.studio.validation import (
    SettingNotFound,
    SettingsError,
    clean_text,
)

USER_NAME_MAX = 100


@dataclass(frozen=True)
class UserRow:
    """A person who can log in."""

    id: int
    name: str
    role: str
    created_at: str


def all_users(db: sqlite3.Connection) -> list[UserRow]:
    """Every user, organisers first, then by name."""
    rows = db.execute(
        "SELECT id, name, role, created_at FROM user ORDER BY role DESC, name COLLATE NOCASE"
    ).fetchall()
    return [UserRow(row["id"], row["name"], row["role"], row["created_at"]) for row in rows]


def _user(db: sqlite3.Connection, user_id: int) -> sqlite3.Row:
    row = db.execute("SELECT id, name, role FROM user WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise SettingNotFound(_("There is no such user."))
    return row


def _role(role: str) -> str:
    if role not in models.ROLES:
        raise SettingsError(_("Choose organiser or facilitator."), "role")
    return role


def _password(password: str | None) -> str:
    password = password or ""
    problem = passwords.password_problem(password)
    if problem:
        raise SettingsError(problem, "password")
    return password


def _other_organisers(db: sqlite3.Connection, user_id: int) -> int:
    return int(
        db.execute(
            "SELECT COUNT(*) FROM user WHERE role = 'organiser' AND id != ?", (user_id,)
        ).fetchone()[0]
    )


def add_user(
    db: sqlite3.Connection, name: str, role: str, password: str, *, actor: audit.Actor | None
) -> int:
    """Add a user with a salted password hash."""
    name = clean_text(
        name, field="name", maximum=USER_NAME_MAX, required=_("Give the user a name.")
    )
    role = _role(role)
    password_hash = passwords.hash_password(_password(password))
    with transaction(db):
        if db.execute("SELECT 1 FROM user WHERE name = ?", (name,)).fetchone():
            raise SettingsError(_("There is already a user called “%(name)s”.", name=name), "name")
        user_id = models.insert_user(db, name, role, password_hash)
        audit.record(
            db, "user.create", "user", user_id, None, {"name": name, "role": role}, actor=actor
        )
    return user_id


def change_role(
    db: sqlite3.Connection, user_id: int, role: str, *, actor: audit.Actor | None
) -> None:
    """Make a user an organiser or a facilitator; there is always at least one organiser."""
    role = _role(role)
    with transaction(db):
        row = _user(db, user_id)
        if row["role"] == role:
            return
        if row["role"] == "organiser" and not _other_organisers(db, user_id):
            raise SettingsError(
                _(
                    "%(name)s is the only organiser: make someone else an organiser first.",
                    name=row["name"],
                ),
                "role",
            )
        db.execute("UPDATE user SET role = ? WHERE id = ?", (role, user_id))
        audit.record(
            db, "user.role", "user", user_id, {"role": row["role"]}, {"role": role}, actor=actor
        )


def reset_password(
    db: sqlite3.Connection, user_id: int, password: str, *, actor: audit.Actor | None
) -> None:
    """Give a user a new password (the hash is stored; the log only says it changed)."""
    password_hash = passwords.hash_password(_password(password))
    with transaction(db):
        _user(db, user_id)
        # Their sessions end too: whoever had the old password is logged out everywhere.
        db.execute(
            "UPDATE user SET password_hash = ?, session_version = session_version + 1 WHERE id = ?",
            (password_hash, user_id),
        )
        audit.record(db, "user.password", "user", user_id, None, {"password": "reset"}, actor=actor)


def remove_user(db: sqlite3.Connection, user_id: int, *, actor: audit.Actor | None) -> str:
    """Remove a user who has never changed anything (``actor`` cannot remove themselves);
    returns their name.

    Someone with entries in the audit log cannot be deleted (the log keeps who did what):
    the message says so, and suggests resetting their password instead.
    """
    with transaction(db):
        row = _user(db, user_id)
        if actor is not None and user_id == actor.id:
            raise SettingsError(_("You cannot remove yourself."))
        if row["role"] == "organiser" and not _other_organisers(db, user_id):
            raise SettingsError(
                _("%(name)s is the only organiser and cannot be removed.", name=row["name"])
            )
        if db.execute("SELECT 1 FROM audit_log WHERE user_id = ? LIMIT 1", (user_id,)).fetchone():
            raise SettingsError(
                _(
                    "%(name)s has made changes recorded in the audit log, so they cannot be "
                    "removed. Reset their password to stop them logging in.",
                    name=row["name"],
                )
            )
        db.execute("DELETE FROM user WHERE id = ?", (user_id,))
        audit.record(
            db,
            "user.remove",
            "user",
            user_id,
            {"name": row["name"], "role": row["role"]},
            {"removed": True},
            actor=actor,
        )
    return str(row["name"])
