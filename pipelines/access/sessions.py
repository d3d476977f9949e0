"""Server-side sessions of the admin app: the browser holds a random token, the store its digest, an
expiry and a revocation time. Log-out revokes the row; a password change, a reset or disabling the
account revokes every row of the account (`users.end_sessions`), so no copied cookie outlives them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from pipelines.access import users
from pipelines.clock import as_utc, utcnow
from pipelines.store.schema import user_sessions
from pipelines.store.schema import users as users_table


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(conn: sa.Connection, user_id: int, hours: float) -> str:
    """A new session of `hours`; its token (for the browser's cookie, never stored in clear)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    conn.execute(
        user_sessions.insert().values(user_id=user_id, token_hash=_digest(token), created_at=now, expires_at=now + timedelta(hours=hours))
    )
    return token


def current(conn: sa.Connection, token: str | None) -> users.User | None:
    """The live session's user (re-read: a role change counts at once), or None when the session is
    unknown, revoked, expired or its account disabled."""
    if not isinstance(token, str) or not token:
        return None
    row = conn.execute(
        sa.select(user_sessions.c.expires_at, user_sessions.c.revoked_at, users_table.c.username)
        .join(users_table, users_table.c.id == user_sessions.c.user_id)
        .where(user_sessions.c.token_hash == _digest(token))
    ).first()
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= utcnow():
        return None
    user = users.get(conn, row.username)
    return None if user is None or user.disabled else user


def end(conn: sa.Connection, token: str) -> None:
    conn.execute(
        user_sessions.update()
        .where(user_sessions.c.token_hash == _digest(token), user_sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
