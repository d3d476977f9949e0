"""Single sign-on: who an OpenID Connect identity is in Crossdock, and whether it may come in.

The identity provider vouches for a person (the claims of its ID token); Crossdock decides the role.
An identity is matched to the local user whose user name is its e-mail address (lowercased, and only
when the provider does not say the address is unverified). An identity that matches nobody gets the
default role (`CROSSDOCK_OIDC_DEFAULT_ROLE`) as a new user named after its e-mail address, or is
refused when the default is `none`. A disabled user is refused. Every log-in and refusal is audited,
like a local log-in, with `"via": "oidc"` and the provider's name.

`preferred_username` is never matched: the OpenID Connect spec says it is not unique and some
providers let people choose it, so matching it would let anyone pick a colleague's (or `admin`'s) name.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipelines.access import audit, users
from pipelines.access.audit import AuditAction
from pipelines.access.policy import Role
from pipelines.clock import utcnow
from pipelines.store.schema import users as users_table

NONE = "none"  # the default role that refuses identities no user matches
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")  # a user name (as `users.add` takes it)


@dataclass(frozen=True)
class Identity:
    """What Crossdock reads of an ID token's claims."""

    provider: str  # the `[auth]` section it came through ("default" or the named section)
    subject: str  # `sub`: the provider's stable id of the person
    email: str | None  # lowercased; None when absent
    email_verified: bool | None  # None when the provider does not say
    issued_at: datetime | None  # `iat` of the ID token (when the person signed in at the provider)

    @property
    def who(self) -> str:
        """How the audit log names the identity before it is a user: `oidc:<email or sub>`."""
        return f"oidc:{(self.email or self.subject)[:200]}"


def identity(claims: Mapping[str, Any], provider: str) -> Identity | None:
    """The identity in `claims` (Streamlit's `st.user`), or None when they hold no subject."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return None
    email = claims.get("email")
    verified = claims.get("email_verified")
    issued = claims.get("iat")
    return Identity(
        provider=provider,
        subject=subject,
        email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
        email_verified=verified if isinstance(verified, bool) else None,
        issued_at=datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) and not isinstance(issued, bool) else None,
    )


def fresh(who: Identity, hours: float, now: datetime | None = None) -> bool:
    """Whether the provider log-in behind `who` is recent enough to open a session: no older than a
    session may last (`CROSSDOCK_SESSION_HOURS`). Streamlit keeps the identity in a cookie for 30 days;
    without this a reload would open new sessions from a log-in long past."""
    if who.issued_at is None:
        return False
    return (now or utcnow()) - who.issued_at <= timedelta(hours=hours)


def parse_default_role(value: str) -> Role | None:
    """`CROSSDOCK_OIDC_DEFAULT_ROLE`: a role, or None for `none` (refuse unknown identities)."""
    return None if value == NONE else Role(value)


def login(
    conn: sa.Connection,
    who: Identity,
    *,
    default_role: Role | None,
    door: str = "app",
    audit_refusal: bool = True,
    now: datetime | None = None,
) -> users.LoginResult:
    """Map `who` to a user and audit the outcome (in the caller's transaction). The result's reason
    is for the person: it says what to do, never more about other accounts than they could know.
    `audit_refusal=False` asks again about an identity refused before without a second entry."""
    now = now or utcnow()
    details: dict[str, Any] = {"door": door, "via": "oidc", "provider": who.provider, "sub": who.subject[:200]}

    def refused(reason: str, message: str, subject: str | None = None, actor: str | None = None) -> users.LoginResult:
        if audit_refusal:
            audit.record(conn, actor or who.who, AuditAction.LOGIN_FAILED, subject, {**details, "reason": reason})
        return users.LoginResult(None, message)

    if who.email is None:
        return refused(
            "no email",
            "the identity provider gave no e-mail address for you, and Crossdock finds its users by "
            "e-mail address; ask your identity provider's admin to release the `email` claim",
        )
    if who.email_verified is False:
        return refused(
            "email not verified",
            f"the identity provider says your e-mail address {who.email} is not verified; verify it there, then log in again",
        )
    user = users.get(conn, who.email) if _NAME.match(who.email) else None
    if user is not None and user.disabled:
        name = f"user:{user.username}"
        return refused("disabled", "this account is disabled; ask an admin", subject=name, actor=name)
    if user is None:
        if default_role is None:
            return refused(
                "unknown identity",
                f"no Crossdock user is named {who.email}: ask an admin to add one (`crossdock users add {who.email} --role viewer`)",
            )
        if not _NAME.match(who.email):
            return refused(
                "email not a user name",
                f"your e-mail address {who.email} cannot be a Crossdock user name "
                "(lowercase letters, digits and . _ @ - only, up to 64); ask an admin",
            )
        # A password nobody knows: the account is for single sign-on until an admin resets its password.
        user = users.add(conn, who.email, default_role.value, secrets.token_urlsafe(32), actor=f"oidc:{who.provider}", must_change=False)
    conn.execute(users_table.update().where(users_table.c.id == user.id).values(last_login_at=now))
    audit.record(conn, f"user:{user.username}", AuditAction.LOGIN, f"user:{user.username}", details)
    return users.LoginResult(users.get(conn, user.username), None)
