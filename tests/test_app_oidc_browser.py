"""Single sign-on end to end: a real OpenID provider (node-oidc-provider, started on loopback) and
`streamlit run app/main.py` with a generated `.streamlit/secrets.toml`, driven by headless Chromium.

The person clicks "Log in with Corp", signs in at the provider's log-in page, comes back signed in as
the Crossdock user their e-mail address names, with that user's role (its pages and no others), and
logs out through the provider. An identity no user matches, with the default role `none`, is refused
with the reason on the log-in page. The audit log holds each log-in and refusal.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.access import users
from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from pipelines.store.schema import audit_log
from tests.oidc_provider import OpenIdProvider, openid_provider, require_provider
from tests.processes import free_port, stop, wait_for_http
from tests.services import CHROMIUM_ARGS, UI_TIMEOUT_MS, require_chromium

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90
OPERATOR = "ana@corp.example"

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _secrets(app_port: int, provider: OpenIdProvider) -> str:
    # Node-oidc-provider knows the prompts `login` and `consent`, not Streamlit's default `select_account`.
    return f"""[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"

[auth.corp]
client_id = "{provider.client_id}"
client_secret = "{provider.client_secret}"
server_metadata_url = "{provider.metadata_url}"
client_kwargs = {{ prompt = "login" }}
"""


@contextmanager
def _app(tmp_path: Path, default_role: str) -> Iterator[tuple[str, sa.Engine]]:
    """The provider, a store with users, and the app started in a folder holding its secrets.toml."""
    require_chromium()
    require_provider()
    home = tmp_path / "crossdock"
    store = f"sqlite:///{home / 'crossdock.db'}"
    engine = make_engine(store)
    upgrade(engine)
    with engine.begin() as conn:
        users.add(conn, OPERATOR, "operator", "a password nobody types", actor="test", must_change=True)
        users.add(conn, "gone@corp.example", "admin", "a password nobody types", actor="test", must_change=False)
        users.set_disabled(conn, "gone@corp.example", True, actor="test")
    port = free_port()
    with openid_provider(f"http://127.0.0.1:{port}/oauth2callback", tmp_path / "provider.log") as provider:
        site = tmp_path / "site"
        (site / ".streamlit").mkdir(parents=True)
        (site / ".streamlit" / "secrets.toml").write_text(_secrets(port, provider))
        env = {
            **os.environ,
            "CROSSDOCK_HOME": str(home),
            "CROSSDOCK_DATABASE_URL": store,
            "CROSSDOCK_APP_AUTH": "oidc",
            "CROSSDOCK_OIDC_DEFAULT_ROLE": default_role,
        }
        log = tmp_path / "streamlit.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    str(ROOT / "app" / "main.py"),
                    "--server.port",
                    str(port),
                    "--server.address",
                    "127.0.0.1",
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                ],
                cwd=site,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", process, STARTUP_SECONDS)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log.read_text()}") from None
            yield f"http://127.0.0.1:{port}", engine
        finally:
            stop(process, timeout=20)
            engine.dispose()


@contextmanager
def _browser() -> Iterator:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        # Loopback only: nothing here may depend on the outside world.
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        try:
            yield page
        finally:
            browser.close()


def _sign_in_at_provider(page, login: str) -> None:
    """The provider's dev log-in page takes any login name, then asks to authorize the app."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Log in with Corp").click()
    expect(page.locator("input[name=login]")).to_be_visible()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # consent for the Crossdock admin client


def _audit(engine: sa.Engine) -> list[tuple[str, str, str | None, dict | None]]:
    with engine.connect() as conn:
        return [(row.action, row.actor, row.subject, row.details) for row in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]


def test_single_sign_on_logs_in_as_the_matching_user_with_its_role(tmp_path):
    from playwright.sync_api import expect

    with _app(tmp_path, default_role="viewer") as (base, engine), _browser() as page:
        page.goto(base)
        expect(page.get_by_role("button", name="Log in with Corp")).to_be_visible()
        assert page.get_by_label("Password", exact=True).count() == 0  # oidc mode: no password form
        _sign_in_at_provider(page, OPERATOR)

        # Back in the app as ana, an operator: the studio is there, the admin pages are not, and the
        # one-time password she never used is not asked for.
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_text("Mapping studio", exact=True)).to_be_visible()
        expect(nav.get_by_text("Orders", exact=True)).to_be_visible()
        assert nav.get_by_text("Audit log", exact=True).count() == 0
        assert nav.get_by_text("Users and tokens", exact=True).count() == 0
        assert nav.get_by_text("Change password", exact=True).count() == 0
        assert page.get_by_test_id("stException").count() == 0

        # A reload keeps the session; log out ends it, at the provider too.
        page.reload()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("button", name="Yes, sign me out").click()
        expect(page.get_by_role("button", name="Log in with Corp")).to_be_visible()
        page.reload()
        expect(page.get_by_role("button", name="Log in with Corp")).to_be_visible()

        # A disabled user is refused, with the reason.
        _sign_in_at_provider(page, "gone@corp.example")
        expect(page.get_by_text("This account is disabled; ask an admin.")).to_be_visible()
        expect(page.get_by_role("button", name="Log out of the identity provider")).to_be_visible()

        # Someone no user matches gets the default role (viewer) as a new user named after the address.
        page.get_by_role("button", name="Log out of the identity provider").click()
        page.get_by_role("button", name="Yes, sign me out").click()
        _sign_in_at_provider(page, "new.person@corp.example")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_text("Orders", exact=True)).to_be_visible()
        assert nav.get_by_text("Mapping studio", exact=True).count() == 0

    with engine.connect() as conn:
        newcomer = users.get(conn, "new.person@corp.example")
    assert newcomer is not None and newcomer.role.value == "viewer" and not newcomer.must_change_password
    entries = [entry for entry in _audit(engine) if entry[1] != "test"]
    assert [(action, actor) for action, actor, _, _ in entries] == [
        ("login", f"user:{OPERATOR}"),
        ("logout", f"user:{OPERATOR}"),
        ("login.failed", "user:gone@corp.example"),
        ("user.added", "oidc:corp"),
        ("login", "user:new.person@corp.example"),
    ]
    login = entries[0][3]
    assert login == {"door": "app", "via": "oidc", "provider": "corp", "sub": OPERATOR}
    assert entries[2][3]["reason"] == "disabled"


def test_an_unknown_identity_is_refused_when_the_default_role_is_none(tmp_path):
    from playwright.sync_api import expect

    with _app(tmp_path, default_role="none") as (base, engine), _browser() as page:
        page.goto(base)
        _sign_in_at_provider(page, "stranger@elsewhere.example")
        expect(page.get_by_text("No Crossdock user is named stranger@elsewhere.example: ask an admin")).to_be_visible()
        assert page.get_by_role("heading", name="Dashboard").count() == 0
        assert page.get_by_test_id("stSidebarNav").count() == 0
        page.reload()  # the refusal holds across a reload, and is not audited twice for the same log-in
        expect(page.get_by_text("No Crossdock user is named stranger@elsewhere.example: ask an admin")).to_be_visible()

    with engine.connect() as conn:
        assert users.get(conn, "stranger@elsewhere.example") is None
    entries = [entry for entry in _audit(engine) if entry[1] != "test"]
    assert [(action, actor, subject) for action, actor, subject, _ in entries] == [
        ("login.failed", "oidc:stranger@elsewhere.example", None)
    ]
    assert entries[0][3] == {
        "door": "app",
        "via": "oidc",
        "provider": "corp",
        "sub": "stranger@elsewhere.example",
        "reason": "unknown identity",
    }
