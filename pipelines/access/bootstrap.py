"""The first admin: made once, when the store has no admin, with a one-time password written to
`<home>/admin.first-password` (readable by this user only), the way the generated admin token and
password files are. Logging in with it forces a new password; the file is then no use to anyone."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from pipelines import settings
from pipelines.access import users
from pipelines.access.policy import Role

FIRST_ADMIN = "admin"
FIRST_PASSWORD_FILE = "admin.first-password"


def first_password_path() -> Path:
    return settings.home() / FIRST_PASSWORD_FILE


def ensure_first_admin(engine: sa.Engine) -> str | None:
    """Create the `admin` account when no admin exists; the path of its password file, else None."""
    with engine.begin() as conn:
        if users.any_admin(conn):
            return None
        password = users.one_time_password()
        if users.get(conn, FIRST_ADMIN) is None:
            users.add(conn, FIRST_ADMIN, Role.ADMIN, password, actor="crossdock up")
        else:  # an `admin` that lost its role: give the role back rather than invent a second name
            users.set_role(conn, FIRST_ADMIN, Role.ADMIN, actor="crossdock up")
            users.reset_password(conn, FIRST_ADMIN, actor="crossdock up", password=password)
        path = first_password_path()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password + "\n")
    return str(path)
