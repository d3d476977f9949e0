"""The log-in in front of every page, in one of three modes (`CROSSDOCK_APP_AUTH`):

- `accounts` (the default): local users with roles (`crossdock users`), passwords checked by
  `pipelines.access.users` (argon2id, lockout after repeated failures), server-side sessions
  (`pipelines.access.sessions`) that expire and that log-out or a password change end everywhere.
  What a role may see and do comes from `pipelines.access.policy` (`can`). When `.streamlit/secrets.toml`
  has an `[auth]` section, the log-in page also offers its identity provider (`app.oidc`): the identity
  it signs in becomes a user (`pipelines.access.oidc`) with an ordinary server-side session.
- `oidc`: the same, with the identity provider as the only way in (no password form).
- `shared_password` (only when chosen): one password for everyone, every session an admin.
  The password is `CROSSDOCK_ADMIN_PASSWORD`, else `admin_password` from Streamlit secrets, else one
generated once into `.crossdock/admin.password`. A session remembers a digest of the password it
logged in with, so changing the password logs every session out. A signed cookie
(`app.session_cookie`) carries the log-in across page reloads for 12 hours.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac

import sqlalchemy as sa
import streamlit as st

from app import oidc, session_cookie
from pipelines import settings
from pipelines.access import policy
from pipelines.access.policy import Action, Role

_SESSION_KEY = "auth.digest"
_NAME_KEY = "auth.name"
_COOKIE_PENDING = "auth.cookie"  # "remember" or "forget": written on the next run, once a page draws
_LOGGED_OUT = "auth.logged_out"  # this session logged out: its old cookie no longer counts
_SESSION_TOKEN = "auth.session"  # accounts mode: this browser's server-side session token
_USER = "auth.user"  # accounts mode: (username, role, must_change_password), re-read on every run
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


def accounts_mode() -> bool:
    """Users with roles and server-side sessions (signed in by password, the identity provider or both)."""
    return settings.current().app_auth in ("accounts", "oidc")


def provider_only() -> bool:
    """Single sign-on is the only way in (`CROSSDOCK_APP_AUTH=oidc`): no password form."""
    return settings.current().app_auth == "oidc"


def signed_in_by_provider() -> bool:
    """This session's user is the one the identity provider signed in (then there is no Crossdock
    password for them to change): the browser's identity names the session's user."""
    user = st.session_state.get(_USER) if accounts_mode() else None
    found = oidc.claims() if user else None
    return bool(found and str(found.get("email") or "").strip().lower() == user[0])


def _engine() -> sa.Engine:
    from app.store import engine

    return engine()


def _account_logged_in() -> bool:
    from pipelines.access import sessions

    token = st.session_state.get(_SESSION_TOKEN)
    if not token and not st.session_state.get(_LOGGED_OUT):
        token = st.context.cookies.get(session_cookie.COOKIE)  # a reload of a browser that logged in before
    if not isinstance(token, str) or not token:
        return _provider_session()
    with _engine().connect() as conn:
        user = sessions.current(conn, token)
    if user is None:
        st.session_state.pop(_SESSION_TOKEN, None)
        st.session_state.pop(_USER, None)
        return _provider_session()
    st.session_state[_SESSION_TOKEN] = token
    st.session_state[_USER] = (user.username, user.role.value, user.must_change_password)
    return True


def _provider_session() -> bool:
    """Start a session for the identity the provider signed in, when there is one and it may come in.
    A refusal is audited once per provider log-in, and said on the log-in page; success reruns the script."""
    from pipelines.access import oidc as identities
    from pipelines.access import sessions

    found = oidc.claims()
    if found is None:
        return False
    config = oidc.configuration()
    if config is None or config.problem:
        return False  # the log-in page says what is wrong with the configuration
    who = identities.identity(found, str(found.get("provider") or "default"))
    key = oidc.identity_key(found)
    if who is None:
        oidc.remember_refusal(key, "The identity provider's answer names nobody (no `sub` claim); log in again")
        return False
    current = settings.current()
    if not identities.fresh(who, current.session_hours):
        oidc.remember_refusal(key, "Your log-in at the identity provider is older than a Crossdock session may last; log in again")
        return False
    with _engine().begin() as conn:
        # Asked again on every run (an admin may have added the user meanwhile), audited once per provider log-in.
        result = identities.login(
            conn, who, default_role=identities.parse_default_role(current.oidc_default_role), audit_refusal=not oidc.refused_before(key)
        )
        token = sessions.start(conn, result.user.id, current.session_hours) if result.user else None
    if token is None or result.user is None:
        oidc.remember_refusal(key, f"{str(result.reason)[0].upper()}{str(result.reason)[1:]}.")
        return False
    oidc.forget_refusal(key)
    st.session_state[_SESSION_TOKEN] = token
    st.session_state[_USER] = (result.user.username, result.user.role.value, result.user.must_change_password)
    st.session_state.pop(_LOGGED_OUT, None)
    st.session_state[_COOKIE_PENDING] = "remember"
    st.rerun()  # the next run writes the session cookie (as after a password log-in), so a reload keeps it


def role() -> Role:
    """This session's role: the account's (read on every run), or admin with the shared password."""
    user = st.session_state.get(_USER) if accounts_mode() else None
    return Role(user[1]) if user else Role.ADMIN


def can(action: Action) -> bool:
    """Whether this session may do `action`: pages and buttons it may not use are not drawn."""
    return policy.allowed(role(), action)


def must_change_password() -> bool:
    """A one-time password waits to be replaced (not asked of someone the identity provider signed in)."""
    user = st.session_state.get(_USER) if accounts_mode() else None
    return bool(user and user[2]) and not signed_in_by_provider()


def logged_in() -> bool:
    if accounts_mode():
        return _account_logged_in()
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
    token = st.session_state.pop(_SESSION_TOKEN, None)
    user = st.session_state.pop(_USER, None)
    if token:
        from pipelines.access import audit, sessions
        from pipelines.access.audit import AuditAction

        with _engine().begin() as conn:
            sessions.end(conn, token)
            if user:
                audit.record(conn, f"user:{user[0]}", AuditAction.LOGOUT, f"user:{user[0]}")
    st.session_state.pop(_SESSION_KEY, None)
    st.session_state.pop(_NAME_KEY, None)
    st.session_state[_LOGGED_OUT] = True
    st.session_state[_COOKIE_PENDING] = "forget"
    if oidc.claims() is not None:
        st.logout()  # forget the provider's identity too (and sign out there, when the provider offers that)


def sync_cookie() -> None:
    """Write or clear the session cookie decided on the previous run. Called by the entry page on every
    run: a component drawn just before `st.rerun()` would never reach the browser."""
    pending = st.session_state.pop(_COOKIE_PENDING, None)
    if pending == "remember" and accounts_mode() and logged_in():
        session_cookie.remember(st.session_state[_SESSION_TOKEN], int(settings.current().session_hours * 3600))
    elif pending == "remember" and logged_in():
        session_cookie.remember(session_cookie.issue(st.session_state.get(_NAME_KEY, ""), expected_password()))
    elif pending == "forget":
        session_cookie.forget()


def actor() -> str:
    """Who this session's changes are recorded as (order status history, replays): `streamlit:<name>`,
    the name given at log-in, else the account the app runs under. With accounts it is `user:<name>`;
    with the shared password the name is what a person says they are, not proof of who they are."""
    user = st.session_state.get(_USER) if accounts_mode() else None
    if user:
        return f"user:{user[0]}"
    name = st.session_state.get(_NAME_KEY)
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in some containers; the door is still known
            return "streamlit"
    return f"streamlit:{name}"


def require_login(action: Action | None = None) -> None:
    """Show the login form instead of the page unless this session has logged in, and a refusal
    unless its role may do `action` (every page calls this first, so a page is never drawn for a
    stranger or the wrong role even if it were reached some other way)."""
    if not logged_in():
        login_page()
        st.stop()
    if must_change_password():
        change_password_page()
        st.stop()
    if action is not None and not can(action):
        st.error(f"Not for your role: {policy.refusal(role(), action)}.")
        st.stop()


def _password_hint() -> str:
    if settings.current().admin_password is not None:
        return "The password is the one set in `CROSSDOCK_ADMIN_PASSWORD`."
    if _from_streamlit_secrets():
        return "The password is `admin_password` in `.streamlit/secrets.toml`."
    settings.admin_password()  # generate it now, so the file named below exists
    return (
        f"No password was configured, so one was generated into `{settings.home() / 'admin.password'}`. "
        "Set `CROSSDOCK_ADMIN_PASSWORD` to choose your own."
    )


def login_page() -> None:
    """The only page a session sees until it logs in."""
    if accounts_mode():
        _account_login_page()
        return
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Crossdock admin")
        st.caption("Integrations, mappings, health and reports.")
        with st.form("login"):
            password = st.text_input("Password", type="password", key="login.password")
            name = st.text_input(
                "Your name (optional)",
                key="login.name",
                max_chars=NAME_MAX,
                help="Recorded with the order status changes and replays you make.",
            )
            submitted = st.form_submit_button("Log in", type="primary")
        if submitted:
            said = " ".join((name or "").split())
            if password and password_matches(password):
                _start_session(password, said)
                _audit_shared(said, succeeded=True)
                st.session_state[_COOKIE_PENDING] = "remember"
                st.rerun()
            if password:
                _audit_shared(said, succeeded=False)
            st.error("Wrong password." if password else "Enter the password.")
        st.caption(_password_hint())


def _audit_shared(name: str, *, succeeded: bool) -> None:
    """Shared-password log-ins are audited too, under the name given (what a person says they are)."""
    from pipelines.store.migrate import StoreOutdated

    try:
        _record_shared(name, succeeded)
    except (sa.exc.SQLAlchemyError, StoreOutdated):
        pass  # the store is unusable: the page that opens next says so; the log-in itself needs no store


def _record_shared(name: str, succeeded: bool) -> None:
    from pipelines.access import audit
    from pipelines.access.audit import AuditAction

    with _engine().begin() as conn:
        audit.record(
            conn,
            f"streamlit:{name}" if name else "streamlit",
            AuditAction.LOGIN if succeeded else AuditAction.LOGIN_FAILED,
            None,
            {"door": "app", "mode": "shared_password"},
        )


def _account_login_page() -> None:
    from pipelines.access import sessions, users
    from pipelines.access.bootstrap import FIRST_ADMIN, first_password_path

    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Crossdock admin")
        st.caption("Integrations, mappings, health and reports.")
        if _single_sign_on():
            return
        with st.form("login"):
            username = st.text_input("User name", key="login.user", max_chars=NAME_MAX)
            password = st.text_input("Password", type="password", key="login.password")
            submitted = st.form_submit_button("Log in", type="primary")
        if submitted:
            if not username or not password:
                st.error("Enter your user name and password.")
            else:
                with _engine().begin() as conn:
                    result = users.login(conn, username.strip().lower(), password, door="app")
                    token = sessions.start(conn, result.user.id, settings.current().session_hours) if result.user else None
                if token:
                    st.session_state[_SESSION_TOKEN] = token
                    st.session_state.pop(_LOGGED_OUT, None)
                    st.session_state[_COOKIE_PENDING] = "remember"
                    st.rerun()
                st.error(f"{str(result.reason)[0].upper()}{str(result.reason)[1:]}.")
        hint = "Accounts are made by an admin (`crossdock users add NAME --role ROLE`)."
        if first_password_path().exists():
            hint += f" The first admin is `{FIRST_ADMIN}`; its one-time password is in `{first_password_path()}`."
        st.caption(hint)


def _single_sign_on() -> bool:
    """The identity provider's part of the log-in page: its buttons, a refusal, or what is wrong with its
    configuration. True when the password form must not follow (`oidc` mode)."""
    config = oidc.configuration()
    if config is None:
        if provider_only():
            st.error(
                "Single sign-on is not configured: CROSSDOCK_APP_AUTH is `oidc`, but `.streamlit/secrets.toml` has no "
                "`[auth]` section (or the file cannot be read). See docs/how-to/admin/people-and-roles.md."
            )
        return provider_only()
    refused = oidc.refusal()
    if refused:
        st.error(refused)
        oidc.sign_out_button()
    oidc.login_buttons(config)
    if not provider_only():
        st.caption("Or with a Crossdock user name and password:")
    return provider_only()


def change_password_page() -> None:
    """Shown instead of every page while the account's password is a one-time one; also under the sidebar."""
    from pipelines.access import sessions, users

    st.title("Change your password")
    username = st.session_state[_USER][0]
    if must_change_password():
        st.info("Your password was given to you once: choose your own before going on.")
    with st.form("change_password"):
        current = st.text_input("Current password", type="password", key="password.current")
        new = st.text_input("New password", type="password", key="password.new", help=f"At least {users.MIN_PASSWORD} characters.")
        again = st.text_input("New password again", type="password", key="password.again")
        submitted = st.form_submit_button("Change password", type="primary")
    if submitted:
        if new != again:
            st.error("The two new passwords differ.")
            return
        try:
            with _engine().begin() as conn:
                users.change_password(conn, username, current, new)  # ends every session of the account
                user = users.get(conn, username)
                assert user is not None
                st.session_state[_SESSION_TOKEN] = sessions.start(conn, user.id, settings.current().session_hours)
        except users.AccountError as exc:
            st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            return
        st.session_state[_COOKIE_PENDING] = "remember"
        st.success("Password changed; every other session of yours has ended.")
        st.rerun()
