"""Crossdock admin app, minimal home page: integrations and recent sync runs.
(Placeholder so `crossdock up` runs whole; the full admin app replaces this file.)"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from pipelines.integrations import list_integrations
from pipelines.store import connect
from pipelines.store.schema import integrations, sync_runs


@st.cache_resource
def engine() -> sa.Engine:
    return connect()


def home() -> None:
    st.title("Crossdock")
    st.subheader("Integrations")
    rows = [
        {"name": i.name, "type": i.config.type, "target": i.target, "active": i.is_active,
         "ack mode": i.config.webhook.ack_mode if i.config.type == "webhook" else ""}
        for i in list_integrations(engine())
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.info("No integrations yet.")
    st.subheader("Recent sync runs")
    with engine().connect() as conn:
        runs = conn.execute(
            sa.select(sync_runs.c.started_at, integrations.c.name.label("integration"), sync_runs.c.source_kind,
                      sync_runs.c.created, sync_runs.c.updated, sync_runs.c.unchanged, sync_runs.c.errors,
                      sync_runs.c.status, sync_runs.c.message)
            .join(integrations, integrations.c.id == sync_runs.c.integration_id)
            .order_by(sync_runs.c.id.desc())
            .limit(50)
        ).mappings().all()
    if runs:
        st.dataframe(pd.DataFrame(runs), hide_index=True, width="stretch")
    else:
        st.info("No sync runs yet.")


st.navigation([st.Page(home, title="Home", default=True)]).run()
