"""Local accounts, API tokens and their audit entries against the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pipelines import settings
from pipelines.access import audit, tokens, users
from pipelines.access.audit import AuditAction
from pipelines.access.bootstrap import FIRST_ADMIN, ensure_first_admin, first_password_path
from pipelines.access.policy import Role
from pipelines.clock import utcnow
from pipelines.store.schema import audit_log, user_sessions
from pipelines.store.schema import users as users_table

PASSWORD = "correct horse battery"


def actions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.action for row in conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


def test_password_is_stored_as_argon2id_never_in_clear(store):
    with store.begin() as conn:
        users.add(conn, "ana", "analyst", PASSWORD, actor="cli:root")
    with store.connect() as conn:
        stored = conn.execute(sa.select(users_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert actions(store) == [AuditAction.USER_ADDED]


def test_bad_accounts_are_refused_with_reasons(store):
    with store.begin() as conn:
        with pytest.raises(users.AccountError, match="no role 'root'"):
            users.add(conn, "ana", "root", PASSWORD, actor="t")
        with pytest.raises(users.AccountError, match="at least 10 characters"):
            users.add(conn, "ana", "viewer", "short", actor="t")
        with pytest.raises(users.AccountError, match="user name 'Ana Maria'"):
            users.add(conn, "Ana Maria", "viewer", PASSWORD, actor="t")
        users.add(conn, "ana", "viewer", PASSWORD, actor="t")
        with pytest.raises(users.AccountError, match="exists already"):
            users.add(conn, "ana", "viewer", PASSWORD, actor="t")


def test_login_locks_out_after_max_failed_even_with_the_right_password(store):
    with store.begin() as conn:
        users.add(conn, "ana", "operator", PASSWORD, actor="t")
    for _ in range(users.MAX_FAILED):
        with store.begin() as conn:
            assert users.login(conn, "ana", "wrong password!", door="app").user is None
    with store.begin() as conn:
        locked = users.login(conn, "ana", PASSWORD, door="app")
    assert locked.user is None and "locked" in (locked.reason or "")
    with store.connect() as conn:
        assert users.get(conn, "ana").locked()  # what `crossdock users list` shows an admin
    # Once the lockout has passed, the right password works and the counter starts again.
    later = utcnow() + users.LOCKOUT + timedelta(seconds=1)
    with store.begin() as conn:
        assert users.login(conn, "ana", PASSWORD, door="app", now=later).user is not None
    logged = actions(store)
    assert logged.count(AuditAction.LOGIN_FAILED) == users.MAX_FAILED + 1 and logged[-1] == AuditAction.LOGIN


def test_reset_lifts_a_lockout_ends_sessions_and_forces_a_change(store):
    with store.begin() as conn:
        user = users.add(conn, "ana", "viewer", PASSWORD, actor="t", must_change=False)
        conn.execute(
            user_sessions.insert().values(
                user_id=user.id, token_hash="x" * 64, created_at=utcnow(), expires_at=utcnow() + timedelta(hours=1)
            )
        )
        conn.execute(users_table.update().values(locked_until=utcnow() + timedelta(hours=1)))
        fresh = users.reset_password(conn, "ana", actor="cli:root")
    with store.begin() as conn:
        result = users.login(conn, "ana", fresh, door="app")
        assert result.user is not None and result.user.must_change_password
        assert conn.execute(sa.select(user_sessions.c.revoked_at)).scalar_one() is not None
        users.change_password(conn, "ana", fresh, "a brand new passphrase")
        assert not users.get(conn, "ana").must_change_password
    assert AuditAction.USER_PASSWORD_RESET in actions(store) and AuditAction.USER_PASSWORD_CHANGED in actions(store)


def test_disable_and_role_change_are_audited(store):
    with store.begin() as conn:
        users.add(conn, "ana", "viewer", PASSWORD, actor="t")
        users.set_role(conn, "ana", "operator", actor="user:admin")
        users.set_disabled(conn, "ana", True, actor="user:admin")
        assert users.login(conn, "ana", PASSWORD, door="app").reason == "this account is disabled; ask an admin"
        page = audit.entries(conn, subject="user:ana")
    kinds = [entry.action for entry in page.items]
    assert kinds[:3] == [AuditAction.LOGIN_FAILED, AuditAction.USER_DISABLED, AuditAction.USER_ROLE_CHANGED]
    assert page.items[2].details == {"from": "viewer", "to": "operator"} and page.items[2].actor == "user:admin"


def test_tokens_resolve_to_their_role_until_revoked_or_expired(store):
    with store.begin() as conn:
        users.add(conn, "ana", "analyst", PASSWORD, actor="t")
        mine = tokens.create(conn, "ana-laptop", "analyst", actor="cli:root", username="ana")
        ci = tokens.create(conn, "ci", "viewer", actor="cli:root")
        old = tokens.create(conn, "old", "admin", actor="cli:root", expires_at=utcnow() - timedelta(seconds=1))
    assert tokens.resolve(store, mine) == tokens.Principal("user:ana", Role.ANALYST)
    assert tokens.resolve(store, ci) == tokens.Principal("token:ci", Role.VIEWER)
    assert tokens.resolve(store, settings.admin_token()) == tokens.Principal("api:admin", Role.ADMIN)
    assert tokens.resolve(store, old) == "token 'old' expired"
    assert tokens.resolve(store, "cdk_guess") == "wrong token"
    with store.begin() as conn:
        tokens.revoke(conn, "ci", actor="cli:root")
        listed = {row.name: row for row in tokens.listing(conn)}
    assert tokens.resolve(store, ci) == "token 'ci' was revoked"
    assert listed["ana-laptop"].last_used_at is not None and listed["ci"].revoked_at is not None
    assert all(mine not in str(row) for row in listed.values())
    with store.begin() as conn:
        users.set_disabled(conn, "ana", True, actor="t")
    assert tokens.resolve(store, mine) == "token 'ana-laptop' was revoked"


def test_first_admin_is_made_once_with_a_private_one_time_password(sqlite_store):
    path = ensure_first_admin(sqlite_store)
    assert path == str(first_password_path()) and first_password_path().stat().st_mode & 0o077 == 0
    password = first_password_path().read_text().strip()
    with sqlite_store.begin() as conn:
        result = users.login(conn, FIRST_ADMIN, password, door="app")
    assert result.user is not None and result.user.role is Role.ADMIN and result.user.must_change_password
    assert ensure_first_admin(sqlite_store) is None  # an admin exists: nothing is made or rewritten


def test_field_diff_masks_secrets():
    diff = audit.field_diff(
        {"endpoint": "a", "auth_value": "s1", "same": 1}, {"endpoint": "b", "auth_value": "s2", "same": 1}, {"auth_value"}
    )
    assert diff == {"endpoint": {"from": "a", "to": "b"}, "auth_value": {"from": "••••••••", "to": "••••••••"}}


def test_sessions_end_on_log_out_expiry_password_change_and_disable(store):
    from pipelines.access import sessions

    with store.begin() as conn:
        user = users.add(conn, "ana", "viewer", PASSWORD, actor="t", must_change=False)
        kept = sessions.start(conn, user.id, hours=1)
        logged_out = sessions.start(conn, user.id, hours=1)
        expired = sessions.start(conn, user.id, hours=1)
        conn.execute(user_sessions.update().where(user_sessions.c.id == 3).values(expires_at=utcnow() - timedelta(seconds=1)))
        sessions.end(conn, logged_out)
        assert sessions.current(conn, kept).username == "ana"
        assert sessions.current(conn, logged_out) is None  # a copied cookie is worth nothing after log-out
        assert sessions.current(conn, expired) is None
        assert sessions.current(conn, "made-up") is None
        users.change_password(conn, "ana", PASSWORD, "another long passphrase")
        assert sessions.current(conn, kept) is None  # a password change ends every session
        again = sessions.start(conn, user.id, hours=1)
        users.set_role(conn, "ana", "operator", actor="t")
        assert sessions.current(conn, again).role is Role.OPERATOR  # a role change counts at once
        users.set_disabled(conn, "ana", True, actor="t")
        assert sessions.current(conn, again) is None
