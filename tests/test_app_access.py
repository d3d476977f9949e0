"""The password gate (AppTest): nothing but the login page exists for a session until it logs in."""

from __future__ import annotations

import pytest

from tests.apptest import PASSWORD, log_in, start, texts


def test_wrong_password_is_refused_and_no_page_is_reachable(app_store):
    at = start()
    assert texts(at.title) == ["Crossdock admin"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/integrations.py")
    at = log_in(at, "not it")
    assert texts(at.error) == ["Wrong password."]
    assert texts(at.title) == ["Crossdock admin"]
    at = log_in(at, "")
    assert texts(at.error) == ["Enter the password."]


def test_right_password_opens_every_page_and_log_out_closes_them(app_store):
    at = log_in(start())
    assert texts(at.title) == ["Dashboard"]
    for page, title in [
        ("integrations", "Integrations"),
        ("studio", "Mapping studio"),
        ("orders", "Orders"),
        ("dead_letters", "Dead letters"),
        ("history", "Sync history"),
        ("reports", "Reports"),
    ]:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert texts(at.title) == [title]
    at = log_in(start())  # AppTest runs a switched page without app/main.py (no sidebar): log out from the first
    at.button(key="logout").click().run()
    assert texts(at.title) == ["Crossdock admin"]


def test_changing_the_password_logs_sessions_out(app_store, monkeypatch):
    at = log_in(start())
    assert texts(at.title) == ["Dashboard"]
    monkeypatch.setenv("CROSSDOCK_ADMIN_PASSWORD", "a new one")
    assert texts(at.run().title) == ["Crossdock admin"]


def test_without_a_configured_password_one_is_generated_and_its_file_named(sqlite_store, monkeypatch, crossdock_home):
    monkeypatch.delenv("CROSSDOCK_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("CROSSDOCK_APP_AUTH", "shared_password")
    at = start()
    password_file = crossdock_home / "admin.password"
    assert any(str(password_file) in caption for caption in texts(at.caption))
    assert password_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    at = log_in(at, password_file.read_text().strip())
    assert texts(at.title) == ["Dashboard"]
    assert PASSWORD not in password_file.read_text()


def test_an_unreachable_store_is_explained(app_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = log_in(start())
    assert not at.exception
    (message,) = texts(at.error)
    assert message.startswith("The store `postgresql+psycopg://nobody@127.0.0.1:1/none` cannot be reached")
