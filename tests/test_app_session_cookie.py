"""The session cookie: a log-in survives a reload, and only the right password's signature counts."""

from __future__ import annotations

from app.session_cookie import LIFETIME_SECONDS, issue, verify

NOW = 1_800_000_000


def test_a_token_names_who_logged_in_until_it_expires():
    token = issue("Ana", "s3cret", now=NOW)
    assert verify(token, "s3cret", now=NOW + 60) == "Ana"
    assert verify(token, "s3cret", now=NOW + LIFETIME_SECONDS + 1) is None


def test_changing_the_password_invalidates_every_token():
    assert verify(issue("Ana", "old", now=NOW), "new", now=NOW) is None


def test_forged_and_malformed_tokens_are_refused():
    payload, signature = issue("Ana", "s3cret", now=NOW).split(".")
    longer = issue("Ana", "s3cret", now=NOW + 10 * LIFETIME_SECONDS).split(".")[0]
    assert verify(f"{longer}.{signature}", "s3cret", now=NOW) is None  # extended expiry, old signature
    for junk in (None, "", "abc", "a.b.c", f"{payload}.", f".{signature}", "%%%.zzz"):
        assert verify(junk, "s3cret", now=NOW) is None
