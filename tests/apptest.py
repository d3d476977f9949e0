"""Driving the admin app in-process with `streamlit.testing.v1.AppTest`: log in, open a page, read it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app" / "main.py"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app_store(sqlite_store, monkeypatch):
    """A migrated SQLite store the app will use, in the shared-password mode with its password set
    (the page tests drive one admin session; accounts and roles have their own fixture)."""
    monkeypatch.setenv("CROSSDOCK_APP_AUTH", "shared_password")
    monkeypatch.setenv("CROSSDOCK_ADMIN_PASSWORD", PASSWORD)
    return sqlite_store


def start() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()


def log_in(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login.password").input(password)
    return at.button[0].click().run()


def open_page(page: str) -> AppTest:
    """A logged-in session showing `app_pages/<page>.py`."""
    at = log_in(start())
    assert not at.exception, at.exception
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def markdown_text(at: AppTest) -> str:
    return "\n".join(texts(at.markdown))
