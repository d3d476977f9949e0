"""The sidebar under the page list: which store this is, where the other consoles are, log out."""

from __future__ import annotations

import streamlit as st

from app import auth
from app.store import store_label
from pipelines import settings


def dagster_url() -> str:
    shown = "127.0.0.1" if settings.host() in ("0.0.0.0", "::") else settings.host()
    return f"http://{shown}:{settings.dagster_port()}"


def render() -> None:
    with st.sidebar:
        st.caption("Store")
        st.code(store_label(), language=None, wrap_lines=True)
        st.link_button("Dagster UI (runs, sensors, backfills)", dagster_url(), icon=":material/open_in_new:", width="stretch")
        st.link_button(
            "Receiver API docs (/docs)", f"{settings.public_receiver_url()}/docs", icon=":material/open_in_new:", width="stretch"
        )
        st.button("Log out", icon=":material/logout:", width="stretch", key="logout", on_click=auth.log_out)
