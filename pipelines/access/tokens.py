"""Admin API tokens: per user or per service, each with a role, an optional expiry and a last-used
time; shown once and stored as a SHA-256 digest (they are 256 random bits: a slow hash adds nothing).

`CROSSDOCK_ADMIN_TOKEN` (or the generated `admin.token`) stays the bootstrap token with the admin role.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipelines import settings
from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.access.policy import Role
from pipelines.clock import as_utc, utcnow
from pipelines.store.schema import api_tokens, users

PREFIX = "cdk_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(ValueError):
    """A token request that cannot be done; the message says why."""


class TokenExists(TokenError):
    """The name is taken (the API answers 409)."""


class UnknownUser(TokenError):
    """The token names a user there is not (the API answers 404)."""


@dataclass(frozen=True)
class Principal:
    """Who a request is: the actor recorded with its changes and the role the policy checks."""

    actor: str
    role: Role


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(
    conn: sa.Connection, name: str, role: str, *, actor: str, username: str | None = None, expires_at: datetime | None = None
) -> str:
    """A new token (returned once, never stored in clear)."""
    if not _NAME.match(name):
        raise TokenError(f"token name {name!r}: letters, digits and . _ - (up to 64)")
    try:
        role_ = Role(role)
    except ValueError:
        raise TokenError(f"no role {role!r}; roles are {', '.join(Role)}") from None
    if conn.execute(sa.select(api_tokens.c.id).where(api_tokens.c.name == name)).first():
        raise TokenExists(f"a token named {name!r} exists already")
    user_id = None
    if username is not None:
        user_id = conn.execute(sa.select(users.c.id).where(users.c.username == username)).scalar()
        if user_id is None:
            raise UnknownUser(f"no user {username!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        api_tokens.insert().values(
            name=name,
            user_id=user_id,
            role=role_.value,
            token_hash=digest(token),
            created_by=actor[:255],
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )
    audit.record(
        conn,
        actor,
        AuditAction.TOKEN_CREATED,
        f"token:{name}",
        {"role": role_.value, "user": username, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return token


def revoke(conn: sa.Connection, name: str, *, actor: str) -> None:
    done = conn.execute(
        api_tokens.update().where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None)).values(revoked_at=utcnow())
    ).rowcount
    if not done:
        raise TokenError(f"no live token named {name!r}")
    audit.record(conn, actor, AuditAction.TOKEN_REVOKED, f"token:{name}")


@dataclass(frozen=True)
class TokenLine:
    """An API token as it is listed: never its secret."""

    name: str
    role: str
    user: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def listing(conn: sa.Connection) -> list[TokenLine]:
    """Every token without its secret: name, role, owner, expiry, last use, revocation."""
    query = (
        sa.select(
            api_tokens.c.name,
            api_tokens.c.role,
            users.c.username.label("user"),
            api_tokens.c.created_by,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
            api_tokens.c.last_used_at,
            api_tokens.c.revoked_at,
        )
        .select_from(api_tokens.outerjoin(users, users.c.id == api_tokens.c.user_id))
        .order_by(api_tokens.c.name)
    )
    return [
        TokenLine(
            name=row.name,
            role=row.role,
            user=row.user,
            created_by=row.created_by,
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at),
            last_used_at=as_utc(row.last_used_at),
            revoked_at=as_utc(row.revoked_at),
        )
        for row in conn.execute(query)
    ]


def resolve(engine: sa.Engine, token: str) -> Principal | str:
    """The principal a bearer token stands for, or why it is refused. The bootstrap token is admin."""
    if hmac.compare_digest(token.encode("utf-8"), settings.admin_token().encode("utf-8")):
        return Principal("api:admin", Role.ADMIN)
    if not token.startswith(PREFIX):
        return "wrong token"
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(api_tokens, users.c.username, users.c.disabled)
            .select_from(api_tokens.outerjoin(users, users.c.id == api_tokens.c.user_id))
            .where(api_tokens.c.token_hash == digest(token))
        ).first()
        if row is None:
            return "wrong token"
        if row.revoked_at is not None:
            return f"token {row.name!r} was revoked"
        if row.expires_at is not None and as_utc(row.expires_at) <= now:
            return f"token {row.name!r} expired"
        if row.disabled:
            return f"token {row.name!r} belongs to a disabled user"
        conn.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now))
    return Principal(f"user:{row.username}" if row.username else f"token:{row.name}", Role(row.role))
