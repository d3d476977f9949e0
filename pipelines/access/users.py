"""Local accounts: argon2id password hashes, roles, disabling, and log-in with a lockout.

A wrong password counts against the account; after `MAX_FAILED` in a row the account is locked for
`LOCKOUT` (an admin sees it in `crossdock users list` and can lift it with a password reset). A
locked account is refused even with the right password, so guessing gains nothing while locked.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.access.policy import Role
from pipelines.clock import as_utc, utcnow
from pipelines.store.schema import api_tokens, user_sessions, users

MAX_FAILED = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the user does not exist, so a log-in takes as long for a stranger as for a user
    (made on first need: hashing takes a quarter of a second, too long for every import)."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    disabled: bool
    must_change_password: bool
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())


def _user(row: sa.Row) -> User:
    return User(
        row.id,
        row.username,
        Role(row.role),
        row.disabled,
        row.must_change_password,
        row.failed_logins,
        as_utc(row.locked_until),
        as_utc(row.last_login_at),
    )


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"no role {role!r}; roles are {', '.join(Role)}") from None


def get(conn: sa.Connection, username: str) -> User | None:
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    return _user(row) if row else None


def _require(conn: sa.Connection, username: str) -> User:
    user = get(conn, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def add(conn: sa.Connection, username: str, role: str, password: str, *, actor: str, must_change: bool = True) -> User:
    """Create an account; `must_change` makes `password` one-time (replaced at the first log-in)."""
    if not _USERNAME.match(username):
        raise AccountError(f"user name {username!r}: lowercase letters, digits and . _ @ - (up to 64)")
    if get(conn, username) is not None:
        raise AccountError(f"user {username!r} exists already")
    _check_password(password)
    now = utcnow()
    conn.execute(
        users.insert().values(
            username=username,
            role=_role(role).value,
            password_hash=_hasher.hash(password),
            disabled=False,
            must_change_password=must_change,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
    )
    audit.record(conn, actor, AuditAction.USER_ADDED, f"user:{username}", {"role": role})
    return _require(conn, username)


def listing(conn: sa.Connection) -> list[User]:
    return [_user(row) for row in conn.execute(sa.select(users).order_by(users.c.username))]


def any_admin(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(users.c.id).where(users.c.role == Role.ADMIN.value)).first() is not None


def end_sessions(conn: sa.Connection, user_id: int) -> None:
    """Revoke every app session of the account (log-out everywhere)."""
    conn.execute(
        user_sessions.update().where(user_sessions.c.user_id == user_id, user_sessions.c.revoked_at.is_(None)).values(revoked_at=utcnow())
    )


def set_disabled(conn: sa.Connection, username: str, disabled: bool, *, actor: str) -> User:
    """Disable (or enable) an account; disabling ends its sessions and revokes its API tokens."""
    user = _require(conn, username)
    conn.execute(users.update().where(users.c.id == user.id).values(disabled=disabled, updated_at=utcnow()))
    if disabled:
        end_sessions(conn, user.id)
        conn.execute(
            api_tokens.update().where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    audit.record(conn, actor, AuditAction.USER_DISABLED if disabled else AuditAction.USER_ENABLED, f"user:{username}")
    return _require(conn, username)


def set_role(conn: sa.Connection, username: str, role: str, *, actor: str) -> User:
    user = _require(conn, username)
    new = _role(role)
    conn.execute(users.update().where(users.c.id == user.id).values(role=new.value, updated_at=utcnow()))
    audit.record(conn, actor, AuditAction.USER_ROLE_CHANGED, f"user:{username}", {"from": user.role.value, "to": new.value})
    return _require(conn, username)


def reset_password(conn: sa.Connection, username: str, *, actor: str, password: str | None = None) -> str:
    """Give the account a new one-time password (returned, to hand over once), lift a lockout and
    end its sessions."""
    user = _require(conn, username)
    password = password or one_time_password()
    _check_password(password)
    conn.execute(
        users.update()
        .where(users.c.id == user.id)
        .values(password_hash=_hasher.hash(password), must_change_password=True, failed_logins=0, locked_until=None, updated_at=utcnow())
    )
    end_sessions(conn, user.id)
    audit.record(conn, actor, AuditAction.USER_PASSWORD_RESET, f"user:{username}")
    return password


def change_password(conn: sa.Connection, username: str, old: str, new: str) -> None:
    """The account holder's own change: needs the current password; ends every session of the account."""
    user = _require(conn, username)
    if not _verify(conn, user.id, old):
        raise AccountError("the current password is wrong")
    if new == old:
        raise AccountError("the new password must differ from the current one")
    _check_password(new)
    conn.execute(
        users.update().where(users.c.id == user.id).values(password_hash=_hasher.hash(new), must_change_password=False, updated_at=utcnow())
    )
    end_sessions(conn, user.id)
    audit.record(conn, f"user:{username}", AuditAction.USER_PASSWORD_CHANGED, f"user:{username}")


def _verify(conn: sa.Connection, user_id: int, password: str) -> bool:
    stored = conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id)).scalar_one()
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginResult:
    user: User | None  # set when the log-in succeeded
    reason: str | None  # for the person, when it did not (never says whether the name exists)


def login(conn: sa.Connection, username: str, password: str, *, door: str, now: datetime | None = None) -> LoginResult:
    """Check a log-in, count a failure towards the lockout, and audit both outcomes. `door` names
    where it came from ("app", "cli")."""
    now = now or utcnow()
    user = get(conn, username)
    refused = LoginResult(None, "wrong user name or password")
    if user is None:
        try:
            _hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        audit.record(conn, f"{door}:{username[:64]}", AuditAction.LOGIN_FAILED, f"user:{username[:64]}", {"reason": "unknown user"})
        return refused
    if user.disabled:
        audit.record(conn, f"user:{username}", AuditAction.LOGIN_FAILED, f"user:{username}", {"reason": "disabled", "door": door})
        return LoginResult(None, "this account is disabled; ask an admin")
    if user.locked(now):
        audit.record(conn, f"user:{username}", AuditAction.LOGIN_FAILED, f"user:{username}", {"reason": "locked", "door": door})
        return LoginResult(None, "too many wrong passwords: this account is locked for a while; ask an admin to reset it")
    if not _verify(conn, user.id, password):
        failed = user.failed_logins + 1
        values: dict[str, object] = {"failed_logins": failed}
        if failed >= MAX_FAILED:
            values.update(locked_until=now + LOCKOUT, failed_logins=0)
        conn.execute(users.update().where(users.c.id == user.id).values(**values))
        audit.record(
            conn,
            f"user:{username}",
            AuditAction.LOGIN_FAILED,
            f"user:{username}",
            {"reason": "wrong password", "door": door, "locked": failed >= MAX_FAILED},
        )
        return refused
    conn.execute(users.update().where(users.c.id == user.id).values(failed_logins=0, locked_until=None, last_login_at=now))
    audit.record(conn, f"user:{username}", AuditAction.LOGIN, f"user:{username}", {"door": door})
    return LoginResult(_require(conn, username), None)
