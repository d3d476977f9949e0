"""Who an OpenID Connect identity is in Crossdock (pipelines.access.oidc), on a real store: matched by
e-mail address to a user name, given the default role as a new user or refused, never matched by
`preferred_username`, disabled users refused, stale provider log-ins not taken, all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pipelines.access import oidc, users
from pipelines.access.audit import AuditAction
from pipelines.access.policy import Role
from pipelines.clock import utcnow
from pipelines.store.schema import audit_log

PASSWORD = "a long enough password"


def claims(email: str | None = "ana@corp.example", **extra) -> dict:
    found = {"sub": "0001", "iat": int(utcnow().timestamp()), "is_logged_in": True, "provider": "corp", **extra}
    if email is not None:
        found["email"] = email
    return found


def who(email: str | None = "ana@corp.example", **extra) -> oidc.Identity:
    identity = oidc.identity(claims(email, **extra), "corp")
    assert identity is not None
    return identity


def audit(engine: sa.Engine) -> list[tuple[str, str, str | None, dict | None]]:
    with engine.connect() as conn:
        return [(r.action, r.actor, r.subject, r.details) for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]


def test_claims_are_read_defensively():
    assert oidc.identity({"email": "x@y.z"}, "corp") is None  # no subject, nobody
    identity = who(" Ana@Corp.Example ", email_verified="yes", iat="yesterday")
    assert identity.email == "ana@corp.example" and identity.email_verified is None and identity.issued_at is None
    assert not oidc.fresh(identity, 12)  # no `iat`: not taken as a fresh log-in
    assert oidc.parse_default_role("none") is None and oidc.parse_default_role("viewer") is Role.VIEWER


def test_a_provider_log_in_counts_for_a_session_length():
    now = utcnow()
    recent = who(iat=int((now - timedelta(hours=11)).timestamp()))
    old = who(iat=int((now - timedelta(hours=13)).timestamp()))
    assert oidc.fresh(recent, 12, now) and not oidc.fresh(old, 12, now)


def test_an_identity_is_the_user_its_email_names_with_that_users_role(store):
    with store.begin() as conn:
        users.add(conn, "ana@corp.example", "operator", PASSWORD, actor="test")
        result = oidc.login(conn, who("ANA@corp.example"), default_role=Role.VIEWER)
    assert result.user is not None and result.user.username == "ana@corp.example" and result.user.role is Role.OPERATOR
    assert result.user.last_login_at is not None
    assert audit(store)[-1] == (
        AuditAction.LOGIN,
        "user:ana@corp.example",
        "user:ana@corp.example",
        {"door": "app", "via": "oidc", "provider": "corp", "sub": "0001"},
    )


def test_an_unknown_identity_gets_the_default_role_as_a_new_user(store):
    with store.begin() as conn:
        result = oidc.login(conn, who("new@corp.example"), default_role=Role.ANALYST)
        again = oidc.login(conn, who("new@corp.example"), default_role=Role.ADMIN)  # the user exists now
    assert result.user is not None and result.user.role is Role.ANALYST and not result.user.must_change_password
    assert again.user is not None and again.user.role is Role.ANALYST
    assert [(action, actor) for action, actor, _, _ in audit(store)] == [
        (AuditAction.USER_ADDED, "oidc:corp"),
        (AuditAction.LOGIN, "user:new@corp.example"),
        (AuditAction.LOGIN, "user:new@corp.example"),
    ]
    with store.begin() as conn:  # the account's password is one nobody knows
        assert users.login(conn, "new@corp.example", PASSWORD, door="app").user is None


@pytest.mark.parametrize(
    ("identity", "reason", "message"),
    [
        (
            lambda: who("stranger@elsewhere.example"),
            "unknown identity",
            "no Crossdock user is named stranger@elsewhere.example: ask an admin to add one",
        ),
        (lambda: who(None), "no email", "the identity provider gave no e-mail address for you"),
        (lambda: who("ana@corp.example", email_verified=False), "email not verified", "is not verified"),
    ],
)
def test_refusals_say_why_and_are_audited(store, identity, reason, message):
    with store.begin() as conn:
        users.add(conn, "ana@corp.example", "admin", PASSWORD, actor="test")
        result = oidc.login(conn, identity(), default_role=None)
    assert result.user is None and message in str(result.reason)
    action, actor, _, details = audit(store)[-1]
    assert action == AuditAction.LOGIN_FAILED and actor.startswith("oidc:") and details["reason"] == reason


def test_a_disabled_user_is_refused_whatever_the_default_role(store):
    with store.begin() as conn:
        users.add(conn, "ana@corp.example", "admin", PASSWORD, actor="test")
        users.set_disabled(conn, "ana@corp.example", True, actor="test")
        result = oidc.login(conn, who(), default_role=Role.ADMIN)
    assert result.user is None and result.reason == "this account is disabled; ask an admin"
    assert audit(store)[-1][:3] == (AuditAction.LOGIN_FAILED, "user:ana@corp.example", "user:ana@corp.example")


def test_preferred_username_is_never_matched(store):
    """A person who may choose their own `preferred_username` at the provider must not become `admin`."""
    with store.begin() as conn:
        users.add(conn, "admin", "admin", PASSWORD, actor="test")
        result = oidc.login(conn, who("mallory@corp.example", preferred_username="admin"), default_role=Role.VIEWER)
    assert result.user is not None and result.user.username == "mallory@corp.example" and result.user.role is Role.VIEWER


def test_an_address_that_cannot_be_a_user_name_is_refused_with_the_reason(store):
    with store.begin() as conn:
        result = oidc.login(conn, who("ana+crossdock@corp.example"), default_role=Role.VIEWER)
    assert result.user is None and "cannot be a Crossdock user name" in str(result.reason)
    with store.connect() as conn:
        assert users.listing(conn) == []
