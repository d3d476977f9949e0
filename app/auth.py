"""The password gate in front of every page.

The password is `CROSSDOCK_ADMIN_PASSWORD`, else `admin_password` from Streamlit secrets, else one
generated once into `.crossdock/admin.password`. A session remembers a digest of the password it
logged in with, so changing the password logs every session out. A signed cookie
(`app.session_cookie`) carries the log-in across page reloads for 12 hours.
"""
from __future__ import annotations

import getpass
import hashlib
import hmac

import streamlit as st

from app import session_cookie
from pipelines import settings

_SESSION_KEY = "auth.digest"
_NAME_KEY = "auth.name"
_COOKIE_PENDING = "auth.cookie"  # "remember" or "forget": written on the next run, once a page draws
_LOGGED_OUT = "auth.logged_out"  # this session logged out: its old cookie no longer counts
NAME_MAX = 64


def _from_streamlit_secrets() -> str | None:
    # Checked first: reading st.secrets with no secrets.toml anywhere raises.
    if not st.secrets.load_if_toml_exists():
        return None
    value = st.secrets.get("admin_password")
    return str(value) if value else None


def expected_password() -> str:
    configured = settings.current().admin_password
    return (configured.get_secret_value() if configured else None) or _from_streamlit_secrets() or settings.admin_password()


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def password_matches(candidate: str) -> bool:
    """Constant-time comparison: response time says nothing about how much of a guess was right."""
    return hmac.compare_digest(candidate.encode("utf-8"), expected_password().encode("utf-8"))


def logged_in() -> bool:
    expected = expected_password()
    digest = st.session_state.get(_SESSION_KEY)
    if isinstance(digest, str) and hmac.compare_digest(digest, _digest(expected)):
        return True
    if st.session_state.get(_LOGGED_OUT):
        return False
    name = session_cookie.verify(st.context.cookies.get(session_cookie.COOKIE), expected)
    if name is None:
        return False
    _start_session(expected, name)  # a reload of a browser that logged in before
    return True


def _start_session(password: str, name: str) -> None:
    st.session_state[_SESSION_KEY] = _digest(password)
    st.session_state[_NAME_KEY] = name
    st.session_state.pop(_LOGGED_OUT, None)


def log_out() -> None:
    st.session_state.pop(_SESSION_KEY, None)
    st.session_state.pop(_NAME_KEY, None)
    st.session_state[_LOGGED_OUT] = True
    st.session_state[_COOKIE_PENDING] = "forget"


def sync_cookie() -> None:
    """Write or clear the session cookie decided on the previous run. Called by the entry page on every
    run: a component drawn just before `st.rerun()` would never reach the browser."""
    pending = st.session_state.pop(_COOKIE_PENDING, None)
    if pending == "remember" and logged_in():
        session_cookie.remember(session_cookie.issue(st.session_state.get(_NAME_KEY, ""), expected_password()))
    elif pending == "forget":
        session_cookie.forget()


def actor() -> str:
    """Who this session's changes are recorded as (order status history, replays): `streamlit:<name>`,
    the name given at log-in, else the account the app runs under. Everyone shares one password, so
    the name is what a person says they are: enough to ask the right colleague, not an audit trail."""
    name = st.session_state.get(_NAME_KEY)
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in some containers; the door is still known
            return "streamlit"
    return f"streamlit:{name}"


def require_login() -> None:
    """Show the login form instead of the page unless this session has logged in (every page calls
    this first, so a page is never drawn for a stranger even if it were reached some other way)."""
    if not logged_in():
        login_page()
        st.stop()


def _password_hint() -> str:
    if settings.current().admin_password is not None:
        return "The password is the one set in `CROSSDOCK_ADMIN_PASSWORD`."
    if _from_streamlit_secrets():
        return "The password is `admin_password` in `.streamlit/secrets.toml`."
    settings.admin_password()  # generate it now, so the file named below exists
    return (f"No password was configured, so one was generated into `{settings.home() / 'admin.password'}`. "
            "Set `CROSSDOCK_ADMIN_PASSWORD` to choose your own.")


def login_page() -> None:
    """The only page a session sees until it logs in."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Crossdock admin")
        st.caption("Integrations, mappings, health and reports.")
        with st.form("login"):
            password = st.text_input("Password", type="password", key="login.password")
            name = st.text_input("Your name (optional)", key="login.name", max_chars=NAME_MAX,
                                 help="Recorded with the order status changes and replays you make.")
            submitted = st.form_submit_button("Log in", type="primary")
        if submitted:
            if password and password_matches(password):
                _start_session(password, " ".join((name or "").split()))
                st.session_state[_COOKIE_PENDING] = "remember"
                st.rerun()
            st.error("Wrong password." if password else "Enter the password.")
        st.caption(_password_hint())
