"""Crossdock admin: `streamlit run app/main.py` (binds 127.0.0.1:8501 by default, see .streamlit/config.toml).

Until a session logs in, the login page is the only page registered, so no other page can be reached
even by URL; every page also checks the session itself.
"""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from app import auth, sidebar
from app.store import engine, store_label
from pipelines.access.policy import Action
from pipelines.secrets import SecretKeyError
from pipelines.store.migrate import StoreOutdated

st.set_page_config(page_title="Crossdock admin", page_icon=":material/hub:", layout="wide")


def _store_unusable() -> str | None:
    """Why the store cannot be used, or None. Accounts live in the store, so with accounts this is
    asked before the log-in; with the shared password, after it (the pages need the store)."""
    try:
        engine()
    except sa.exc.OperationalError as exc:
        return (
            f"The store `{store_label()}` cannot be reached: {exc.orig or exc}. Check CROSSDOCK_DATABASE_URL "
            "and that the database is running, then reload."
        )
    except StoreOutdated as exc:
        return f"{str(exc)[0].upper()}{str(exc)[1:]}."
    return None


problem = _store_unusable() if auth.accounts_mode() else None
if problem:
    st.error(problem)
    st.stop()
auth.sync_cookie()
if not auth.logged_in():
    st.navigation([st.Page(auth.login_page, title="Log in", icon=":material/lock:")], position="hidden").run()
elif auth.must_change_password():
    st.navigation([st.Page(auth.change_password_page, title="Change password", icon=":material/key:")], position="hidden").run()
    sidebar.render()
else:
    # (section, file, title, icon, the action the page needs): a role sees only the pages it may use.
    catalogue = [
        ("Operate", "app_pages/dashboard.py", "Dashboard", ":material/monitor_heart:", Action.VIEW_DASHBOARD),
        ("Operate", "app_pages/alerts.py", "Alerts", ":material/notifications:", Action.VIEW_ALERTS),
        ("Operate", "app_pages/integrations.py", "Integrations", ":material/cable:", Action.VIEW_INTEGRATIONS),
        ("Operate", "app_pages/studio.py", "Mapping studio", ":material/schema:", Action.USE_STUDIO),
        ("Investigate", "app_pages/orders.py", "Orders", ":material/local_shipping:", Action.VIEW_ORDERS),
        ("Investigate", "app_pages/dead_letters.py", "Dead letters", ":material/report:", Action.VIEW_DEAD_LETTERS),
        ("Report", "app_pages/history.py", "Sync history", ":material/query_stats:", Action.VIEW_HISTORY),
        ("Report", "app_pages/reports.py", "Reports", ":material/summarize:", Action.VIEW_REPORTS),
        ("Administer", "app_pages/audit.py", "Audit log", ":material/policy:", Action.VIEW_AUDIT),
        ("Administer", "app_pages/users.py", "Users and tokens", ":material/group:", Action.MANAGE_USERS),
    ]
    pages: dict[str, list] = {}
    for section, path, title, icon, action in catalogue:
        if auth.can(action):
            pages.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=not pages))
    if auth.accounts_mode() and not auth.signed_in_by_provider():
        pages.setdefault("Account", []).append(
            st.Page(auth.change_password_page, title="Change password", icon=":material/key:", url_path="password")
        )
    page = st.navigation(pages)
    sidebar.render()
    # The two ways the whole app can be unusable get a plain answer instead of a generic error.
    try:
        engine()
        page.run()
    except sa.exc.OperationalError as exc:
        st.error(
            f"The store `{store_label()}` cannot be reached: {exc.orig or exc}. Check CROSSDOCK_DATABASE_URL "
            "and that the database is running, then reload."
        )
    except StoreOutdated as exc:
        st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    except SecretKeyError as exc:
        st.error(f"{exc}. Set CROSSDOCK_SECRET_KEY to the key the integrations were saved with.")
