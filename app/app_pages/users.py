"""Users and tokens: local accounts (add, change role, disable, reset a password, see lockouts) and
admin API tokens (create, shown once; revoke). Admins only; the CLI offers the same (`crossdock users`)."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from app import auth
from app.auth import require_login
from app.store import engine
from pipelines.access import tokens, users
from pipelines.access.policy import Action, Role

require_login(Action.MANAGE_USERS)
st.title("Users and tokens")

with engine().connect() as conn:
    accounts = users.listing(conn)
st.dataframe(
    pd.DataFrame(
        [
            {
                "user": u.username,
                "role": u.role.value,
                "state": "disabled" if u.disabled else "locked out" if u.locked() else "active",
                "locked until": u.locked_until if u.locked() else None,
                "last log-in": u.last_login_at,
            }
            for u in accounts
        ],
        columns=["user", "role", "state", "locked until", "last log-in"],
    ),
    hide_index=True,
    width="stretch",
)


def _done(change) -> None:
    try:
        with engine().begin() as conn:
            shown = change(conn)
    except (users.AccountError, tokens.TokenError) as exc:
        st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        return
    if shown:
        st.session_state["users.once"] = shown
    st.rerun()


once = st.session_state.pop("users.once", None)
if once:
    st.warning("Shown this once; hand it over now.")
    st.code(once, language=None)

add, change = st.columns(2)
with add.form("users.add"):
    st.subheader("Add a user")
    name = st.text_input("User name", key="users.add.name")
    role = st.selectbox("Role", [r.value for r in Role], key="users.add.role")
    if st.form_submit_button("Add user", type="primary"):
        password = users.one_time_password()
        _done(
            lambda conn: (
                users.add(conn, name.strip(), role, password, actor=auth.actor()),
                f"{name.strip()}: one-time password {password}",
            )[1]
        )
with change.form("users.change"):
    st.subheader("Change a user")
    who = st.selectbox("User", [u.username for u in accounts], key="users.change.name")
    new_role = st.selectbox("Role", [r.value for r in Role], key="users.change.role")
    what = st.radio("Change", ["Set role", "Disable", "Enable", "Reset password"], horizontal=True, key="users.change.what")
    if st.form_submit_button("Apply") and who:
        if what == "Set role":
            _done(lambda conn: users.set_role(conn, who, new_role, actor=auth.actor()) and None)
        elif what in ("Disable", "Enable"):
            _done(lambda conn: users.set_disabled(conn, who, what == "Disable", actor=auth.actor()) and None)
        else:
            _done(lambda conn: f"{who}: one-time password {users.reset_password(conn, who, actor=auth.actor())}")

st.header("API tokens")
with engine().connect() as conn:
    listed = tokens.listing(conn)
st.dataframe(
    pd.DataFrame(
        [asdict(token) for token in listed],
        columns=["name", "role", "user", "created_by", "created_at", "expires_at", "last_used_at", "revoked_at"],
    ),
    hide_index=True,
    width="stretch",
)
make, revoke = st.columns(2)
with make.form("tokens.add"):
    token_name = st.text_input("Token name", key="tokens.add.name")
    token_role = st.selectbox("Role", [r.value for r in Role], key="tokens.add.role")
    if st.form_submit_button("Create token", type="primary"):
        _done(lambda conn: tokens.create(conn, token_name.strip(), token_role, actor=auth.actor()))
with revoke.form("tokens.revoke"):
    live = [token.name for token in listed if not token.revoked_at]
    doomed = st.selectbox("Token", live, key="tokens.revoke.name")
    if st.form_submit_button("Revoke") and doomed:
        _done(lambda conn: tokens.revoke(conn, doomed, actor=auth.actor()))
