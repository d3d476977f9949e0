"""The store engine for the app: one per database URL per server process, shared by every session."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import make_url

from pipelines import settings
from pipelines.store import connect


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    return connect(url)


def engine() -> sa.Engine:
    """The configured store, created and migrated on first use."""
    return _engine(settings.database_url())


def store_label() -> str:
    """The store URL as shown in the sidebar: never with its password."""
    return make_url(settings.database_url()).render_as_string(hide_password=True)
