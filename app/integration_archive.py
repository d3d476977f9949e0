"""The Integrations page's Archived section (admins): deleted integrations, each restorable with all
its data, or purged for good once its name is typed (the only way, besides the retention schedule,
that an integration's rows are really deleted)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import auth, phrases
from app.store import engine
from pipelines import settings
from pipelines.access.policy import Action
from pipelines.integrations import (
    IntegrationBusy,
    IntegrationNotFound,
    archived_view,
    get_integration,
    purge_integration,
    restore_integration,
    waiting_work,
)


def render() -> None:
    if not auth.can(Action.MANAGE_INTEGRATIONS):
        st.caption("The archive needs the admin role.")
        return
    days = settings.current().archive_retention_days
    entries = archived_view(engine())
    if not entries:
        st.info(
            f"No archived integrations. Deleting an integration archives it here for {days} day(s): "
            "restorable with all its data, then purged."
        )
        return
    st.caption(
        f"Deleted integrations keep their data for {days} day(s) (CROSSDOCK_ARCHIVE_RETENTION_DAYS), then a daily schedule purges them."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Name": e.name,
                    "Type": e.type,
                    "Target": e.target,
                    "Archived": phrases.time_ago(e.archived_at),
                    "By": e.archived_by,
                }
                for e in entries
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    name = st.selectbox("Archived integration", [e.name for e in entries], key="intg.archived.selected")
    if st.button("Restore", icon=":material/unarchive:", type="primary", key="intg.archived.restore"):
        try:
            restore_integration(engine(), name, actor=auth.actor())
        except IntegrationNotFound:
            st.warning(f"{name} was just restored or purged in another session.")
            return
        st.toast(f"Restored {name}.", icon=":material/unarchive:")
        st.rerun()
    if auth.can(Action.PURGE):
        _purge(name)


def _purge(name: str) -> None:
    """Purge with the name typed as confirmation; work still waiting needs an explicit discard."""
    st.divider()
    st.markdown(f"**Purge {name}**: deletes it with its orders, inbox, sync history and callbacks. This cannot be undone.")
    try:
        waiting = waiting_work(engine(), get_integration(engine(), name, archived=True).id)
    except IntegrationNotFound:
        return
    if waiting:
        listed = ", ".join(f"**{count}** {what}" for what, count in waiting.items())
        st.warning(f"{name} still holds {listed}. Purging discards them: the client was told they were received.")
    discard = st.checkbox("Discard them and purge anyway", key=f"intg.purge.force.{name}") if waiting else False
    typed = st.text_input("Type the integration's name to confirm", key=f"intg.purge.{name}")
    if st.button(
        "Purge permanently",
        icon=":material/delete_forever:",
        key=f"intg.purge.go.{name}",
        disabled=typed != name or bool(waiting and not discard),
    ):
        try:
            purge_integration(engine(), name, force=discard, actor=auth.actor())
        except IntegrationBusy as exc:  # work arrived since the page was drawn (a restore in between)
            st.error(f"Not purged: {exc}.")
            return
        except IntegrationNotFound:
            st.warning(f"{name} was just restored or purged in another session.")
            return
        st.toast(f"Purged {name}.", icon=":material/delete_forever:")
        st.rerun()
