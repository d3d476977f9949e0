"""Accounts in the admin app (AppTest): log-in by user name, the one-time password changed first,
pages by role (a page a role may not use is not even registered), buttons by role, lockout, log-out
ending the server-side session, and the audit entries each of these leaves."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from pipelines.access import users
from pipelines.store.schema import audit_log, user_sessions
from tests.apptest import APP, texts

PASSWORD = "a long enough password"
PAGES = {
    "dashboard": "Dashboard",
    "alerts": "Alerts",
    "integrations": "Integrations",
    "studio": "Mapping studio",
    "orders": "Orders",
    "dead_letters": "Dead letters",
    "history": "Sync history",
    "reports": "Reports",
    "audit": "Audit log",
    "users": "Users and tokens",
}
# The pages each role is shown (the policy table's view_* / use_studio / manage_users rows).
VISIBLE = {
    "viewer": {"dashboard", "alerts", "integrations", "orders", "dead_letters", "history", "reports"},
    "analyst": {"dashboard", "alerts", "integrations", "studio", "orders", "dead_letters", "history", "reports"},
    "operator": {"dashboard", "alerts", "integrations", "studio", "orders", "dead_letters", "history", "reports"},
    "admin": set(PAGES),
}


@pytest.fixture
def accounts(sqlite_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_APP_AUTH", "accounts")
    with sqlite_store.begin() as conn:
        for role in VISIBLE:
            users.add(conn, role, role, PASSWORD, actor="test", must_change=False)
    return sqlite_store


def log_in(username: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input(key="login.user").input(username)
    at.text_input(key="login.password").input(password)
    return at.button[0].click().run()


def audit_actions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.action for row in conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


@pytest.mark.parametrize("role", list(VISIBLE))
def test_pages_by_role(accounts, role):
    at = log_in(role)
    assert not at.exception, at.exception
    assert texts(at.title) == ["Dashboard"]
    for page, title in PAGES.items():
        if page in VISIBLE[role]:
            at.switch_page(f"app_pages/{page}.py").run()
            assert not at.exception, (role, page, at.exception)
            assert texts(at.title) == [title]
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(f"app_pages/{page}.py")


@pytest.mark.parametrize(
    ("role", "disable", "delete", "edit"),
    [
        ("viewer", False, False, False),
        ("analyst", False, False, False),
        ("operator", True, False, False),
        ("admin", True, True, True),
    ],
)
def test_integration_buttons_by_role(accounts, role, disable, delete, edit):
    from tests.receiver_helpers import integration

    integration(accounts)
    at = log_in(role)
    at.switch_page("app_pages/integrations.py").run()
    assert not at.exception, at.exception
    keys = {b.key for b in at.button}
    assert ("intg.disable" in keys) is disable
    assert any(str(k).startswith("intg.archive.go.") for k in keys) is delete
    assert ("Archived" in at.segmented_control(key="intg.view").options) is delete  # the archive: admins only
    assert ("Editing an integration needs the admin role." not in texts(at.caption)) is edit


def test_wrong_passwords_lock_out_and_are_audited(accounts):
    for _ in range(users.MAX_FAILED):
        at = log_in("operator", "not the password")
        assert texts(at.error) == ["Wrong user name or password."]
    at = log_in("operator")
    assert texts(at.error)[0].startswith("Too many wrong passwords")
    assert audit_actions(accounts).count("login.failed") == users.MAX_FAILED + 1


def test_one_time_password_must_be_changed_first_and_log_out_ends_the_session(accounts):
    with accounts.begin() as conn:
        users.add(conn, "ana", "analyst", "one time pass 123", actor="test")
    at = log_in("ana", "one time pass 123")
    assert texts(at.title) == ["Change your password"]
    at.text_input(key="password.current").input("one time pass 123")
    at.text_input(key="password.new").input("my own passphrase")
    at.text_input(key="password.again").input("my own passphrase")
    at = at.button[0].click().run()
    assert texts(at.title) == ["Dashboard"], (texts(at.error), texts(at.title))
    at.button(key="logout").click().run()
    assert texts(at.title) == ["Crossdock admin"]
    with accounts.connect() as conn:
        live = conn.execute(sa.select(sa.func.count()).select_from(user_sessions).where(user_sessions.c.revoked_at.is_(None))).scalar_one()
    assert live == 0
    assert audit_actions(accounts)[-3:] == ["login", "user.password_changed", "logout"]


def test_shared_password_log_ins_are_audited_too(app_store):
    from tests.apptest import log_in as shared_log_in
    from tests.apptest import start

    shared_log_in(start(), "not it")
    shared_log_in(start())
    assert audit_actions(app_store) == ["login.failed", "login"]


def test_with_accounts_an_unreachable_store_is_explained_before_the_log_in(accounts, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    (message,) = texts(at.error)
    assert message.startswith("The store `postgresql+psycopg://nobody@127.0.0.1:1/none` cannot be reached")
