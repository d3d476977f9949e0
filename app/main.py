"""Crossdock admin: `streamlit run app/main.py` (binds 127.0.0.1:8501 by default, see .streamlit/config.toml).

Until a session logs in, the login page is the only page registered, so no other page can be reached
even by URL; every page also checks the session itself.
"""
from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from app import auth, sidebar
from app.store import engine, store_label
from pipelines.secrets import SecretKeyError
from pipelines.store.migrate import StoreOutdated

st.set_page_config(page_title="Crossdock admin", page_icon=":material/hub:", layout="wide")

auth.sync_cookie()
if not auth.logged_in():
    st.navigation([st.Page(auth.login_page, title="Log in", icon=":material/lock:")], position="hidden").run()
else:
    pages = {
        "Operate": [
            st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitor_heart:", default=True),
            st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:"),
            st.Page("app_pages/integrations.py", title="Integrations", icon=":material/cable:"),
            st.Page("app_pages/studio.py", title="Mapping studio", icon=":material/schema:"),
        ],
        "Investigate": [
            st.Page("app_pages/orders.py", title="Orders", icon=":material/local_shipping:"),
            st.Page("app_pages/dead_letters.py", title="Dead letters", icon=":material/report:"),
        ],
        "Report": [
            st.Page("app_pages/history.py", title="Sync history", icon=":material/query_stats:"),
            st.Page("app_pages/reports.py", title="Reports", icon=":material/summarize:"),
        ],
    }
    page = st.navigation(pages)
    sidebar.render()
    # The two ways the whole app can be unusable get a plain answer instead of a generic error.
    try:
        engine()
        page.run()
    except sa.exc.OperationalError as exc:
        st.error(f"The store `{store_label()}` cannot be reached: {exc.orig or exc}. Check CROSSDOCK_DATABASE_URL "
                 "and that the database is running, then reload.")
    except StoreOutdated as exc:
        st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    except SecretKeyError as exc:
        st.error(f"{exc}. Set CROSSDOCK_SECRET_KEY to the key the integrations were saved with.")
