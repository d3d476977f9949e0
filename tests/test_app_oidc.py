"""Single sign-on in the app's pages (AppTest, whose `user` is what Streamlit's `st.user` holds after a
provider log-in): the log-in page per mode and per `[auth]` configuration (a misconfiguration is a
message, never a traceback), a provider identity becoming a session with its user's role, log-out
ending it. The real provider, cookie and browser are in test_app_oidc_browser.py."""

from __future__ import annotations

import json
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from pipelines.access import users
from pipelines.clock import utcnow
from pipelines.store.schema import audit_log, user_sessions
from tests.apptest import APP, texts
from tests.processes import free_port
from tests.servers import serve_http

GOOD = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "x" * 40,
    "corp": {
        "client_id": "crossdock",
        "client_secret": "s",
        "server_metadata_url": "https://idp.corp.example/.well-known/openid-configuration",
    },
}


def app(auth: dict | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if auth is not None:
        at.secrets["auth"] = auth
    if user is not None:
        at.user = user
    return at.run()


def identity(email: str, hours_ago: float = 0) -> dict:
    issued = int((utcnow() - timedelta(hours=hours_ago)).timestamp())
    return {"is_logged_in": True, "provider": "corp", "sub": email, "email": email, "email_verified": True, "iat": issued}


@pytest.fixture
def oidc_store(sqlite_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_APP_AUTH", "oidc")
    monkeypatch.setenv("CROSSDOCK_OIDC_DEFAULT_ROLE", "none")
    with sqlite_store.begin() as conn:
        users.add(conn, "ana@corp.example", "analyst", "a long enough password", actor="test", must_change=True)
    return sqlite_store


def test_the_log_in_page_offers_the_provider_and_in_oidc_mode_nothing_else(oidc_store):
    at = app(GOOD)
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in with Corp"]
    assert not at.text_input  # no password form


def test_accounts_mode_offers_the_provider_beside_the_password_form(oidc_store, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_APP_AUTH", "accounts")
    at = app({**GOOD, "client_id": "x", "client_secret": "y", "server_metadata_url": "https://idp.example/.well-known/x"})
    assert [b.label for b in at.button] == ["Log in with single sign-on", "Log in with Corp", "Log in"]
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert not at.error


def test_oidc_mode_without_auth_says_so(oidc_store):
    at = app()
    assert not at.exception and not at.button
    (message,) = texts(at.error)
    assert message.startswith("Single sign-on is not configured: CROSSDOCK_APP_AUTH is `oidc`")


@pytest.mark.parametrize(
    ("auth", "says"),
    [
        ({k: v for k, v in GOOD.items() if k != "cookie_secret"}, "`cookie_secret` in `[auth]` of `.streamlit/secrets.toml` is missing"),
        ({**GOOD, "cookie_secret": "short"}, "shorter than 32 characters"),
        ({k: v for k, v in GOOD.items() if k != "redirect_uri"}, "`redirect_uri` in `[auth]` of `.streamlit/secrets.toml` is ''"),
        ({**GOOD, "redirect_uri": "http://127.0.0.1:8501/"}, "followed by `/oauth2callback`"),
        ({k: v for k, v in GOOD.items() if k != "corp"}, "names no identity provider"),
        (
            {**GOOD, "corp": {"client_id": "crossdock", "server_metadata_url": "https://idp/.well-known/openid-configuration"}},
            "lacks `client_secret` for the provider `corp`",
        ),
        ({**GOOD, "corp": {**GOOD["corp"], "server_metadata_url": "idp.corp.example"}}, "must be the provider's full discovery URL"),
        ({**{k: v for k, v in GOOD.items() if k != "corp"}, "my_idp": GOOD["corp"]}, "has an underscore"),
    ],
)
def test_a_misconfigured_auth_section_is_a_message_on_the_log_in_page(oidc_store, monkeypatch, auth, says):
    for mode in ("oidc", "accounts"):
        monkeypatch.setenv("CROSSDOCK_APP_AUTH", mode)
        at = app(auth)
        assert not at.exception, at.exception
        (message,) = texts(at.error)
        assert message.startswith("Single sign-on is not usable: ") and says in message, message
        assert [b.label for b in at.button] == ([] if mode == "oidc" else ["Log in"])  # the password form stays


def test_a_provider_identity_opens_a_session_with_its_users_role_and_log_out_ends_it(oidc_store):
    at = app(GOOD, identity("ana@corp.example"))
    assert not at.exception, at.exception
    assert texts(at.title) == ["Dashboard"]  # her one-time password is not asked for: she never uses it
    at.switch_page("app_pages/studio.py").run()  # an analyst's page
    assert texts(at.title) == ["Mapping studio"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/users.py")  # an admin's
    at = app(GOOD, identity("ana@corp.example"))
    at.button(key="logout").click().run()
    assert at.user == {"is_logged_in": False}  # st.logout() was called
    assert [b.label for b in at.button] == ["Log in with Corp"]
    with oidc_store.connect() as conn:
        revoked = [row.revoked_at is not None for row in conn.execute(sa.select(user_sessions).order_by(user_sessions.c.id))]
        logged = [(r.action, r.actor) for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.id)) if r.actor != "test"]
    assert revoked == [False, True]  # the session logged out ends; the first (another browser's) lives on
    assert logged == [("login", "user:ana@corp.example"), ("login", "user:ana@corp.example"), ("logout", "user:ana@corp.example")]


def test_a_refused_person_gets_in_once_an_admin_adds_them_and_the_refusal_is_audited_once(oidc_store):
    at = app(GOOD, identity("bo@corp.example"))
    assert texts(at.error)[0].startswith("No Crossdock user is named bo@corp.example")
    at.run()  # a rerun (or a reload) of the same provider log-in: asked again, not audited again
    assert texts(at.error)[0].startswith("No Crossdock user is named bo@corp.example")
    with oidc_store.begin() as conn:
        users.add(conn, "bo@corp.example", "viewer", "a long enough password", actor="test")
    at.run()
    assert not at.error and texts(at.title) == ["Dashboard"]
    with oidc_store.connect() as conn:
        logged = [(r.action, r.actor) for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.id)) if r.actor != "test"]
    assert logged == [("login.failed", "oidc:bo@corp.example"), ("login", "user:bo@corp.example")]


def test_refused_and_stale_identities_stay_on_the_log_in_page_with_the_reason(oidc_store):
    at = app(GOOD, identity("stranger@corp.example"))
    assert texts(at.error) == [
        "No Crossdock user is named stranger@corp.example: ask an admin to add one "
        "(`crossdock users add stranger@corp.example --role viewer`)."
    ]
    assert [b.label for b in at.button] == ["Log out of the identity provider", "Log in with Corp"]
    at = app(GOOD, identity("ana@corp.example", hours_ago=13))  # older than CROSSDOCK_SESSION_HOURS (12)
    assert texts(at.error) == ["Your log-in at the identity provider is older than a Crossdock session may last; log in again"]
    with oidc_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(user_sessions)).scalar_one() == 0


class NotAProvider(BaseHTTPRequestHandler):
    """Answers JSON that is not a discovery document (e.g. a mistyped path on the right host)."""

    def do_GET(self):
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_provider_that_cannot_be_used_is_said_when_log_in_is_clicked(oidc_store):
    """Streamlit would show a bare "Authentication error" page; the log-in page says what is wrong instead."""
    unreachable = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"
    at = app({**GOOD, "corp": {**GOOD["corp"], "server_metadata_url": unreachable}})
    at.button[0].click().run()
    assert not at.exception
    assert texts(at.error) == [
        f"Single sign-on is not usable: the identity provider's discovery URL {unreachable} cannot be reached (ConnectionError)."
    ]
    with serve_http(NotAProvider) as base:
        at = app({**GOOD, "corp": {**GOOD["corp"], "server_metadata_url": f"{base}/health"}})
        at.button[0].click().run()
    assert texts(at.error) == [
        f"Single sign-on is not usable: the document at {base}/health is not an OpenID provider's: "
        "it lacks issuer, authorization_endpoint, token_endpoint, jwks_uri."
    ]
