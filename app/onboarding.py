"""Client onboarding on an integration's overview: the client's guide to download, the staging stage
and its test deliveries, promotion to production, and the client's status link.

The guide is rendered on request (a PDF takes about a second) and kept in the session for the
download button. The status link's token is shown in full once, right after it is made, like a
secret: afterwards only its mask, and replacing it is how a leaked link is revoked.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app.auth import actor
from app.store import engine
from app.ui import when
from connectors.guide_render import FORMATS, RenderFailed, file_name, render
from pipelines.guide import build_guide, staging_url, status_url
from pipelines.integrations import StoredIntegration, WebhookIntegration
from pipelines.onboarding.client_status import new_status_token, revoke_status_token
from pipelines.onboarding.staging import back_to_staging, list_test_deliveries, promote
from pipelines.secrets import mask

GUIDE_KEY = "intg.guide"
LINK_KEY = "intg.status_link"
LANG_LABELS = {"es": "Español", "en": "English"}
FORMAT_LABELS = {"pdf": "PDF", "html": "HTML", "md": "Markdown"}
MIME = {"pdf": "application/pdf", "html": "text/html", "md": "text/markdown"}


def render_onboarding(stored: StoredIntegration) -> None:
    st.markdown("**Client onboarding**")
    render_guide_download(stored)
    if stored.config.type == "webhook":
        render_stage(stored)
        render_test_deliveries(stored)
    render_status_link(stored)


def render_guide_download(stored: StoredIntegration) -> None:
    """The client's integration guide (no secret in it), in the language and format chosen."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        lang = st.selectbox("Guide language", list(LANG_LABELS), format_func=LANG_LABELS.get, key=f"{GUIDE_KEY}.lang")
        fmt = st.selectbox(
            "Format", [f for f in ("pdf", "html", "md") if f in FORMATS], format_func=FORMAT_LABELS.get, key=f"{GUIDE_KEY}.format"
        )
        if st.button("Prepare the client's guide", icon=":material/description:", key=f"{GUIDE_KEY}.make"):
            guide = build_guide(stored.config, lang)
            try:
                st.session_state[GUIDE_KEY] = {
                    "name": stored.name,
                    "file": file_name(guide, fmt),
                    "format": fmt,
                    "data": render(guide, fmt),
                }
            except RenderFailed as exc:
                st.error(f"The guide could not be rendered: {exc}")
    ready = st.session_state.get(GUIDE_KEY)
    if ready and ready["name"] == stored.name:
        st.download_button(
            f"Download {ready['file']}",
            ready["data"],
            file_name=ready["file"],
            mime=MIME[ready["format"]],
            icon=":material/download:",
            key=f"{GUIDE_KEY}.download",
        )
    st.caption(
        "Endpoint, signing, payload schema and example, answers, retries, callbacks and tested code in curl, "
        "Python, Node.js and PHP. It holds no secret: hand those over separately."
    )


def render_stage(stored: StoredIntegration) -> None:
    config = stored.config_as(WebhookIntegration)
    st.markdown(f"Staging URL: `{staging_url(stored.name, config.webhook.verification)}`")
    if config.onboarding.stage == "staging":
        st.warning(
            "**In staging**: the production URL answers 403. Deliveries to the staging URL are checked and "
            "answered but store nothing; promote once the client's tests pass."
        )
        if st.button("Promote to production", type="primary", icon=":material/rocket_launch:", key="intg.promote"):
            promote(engine(), stored.name, actor=actor())
            st.toast(f"{stored.name} is in production.", icon=":material/check:")
            st.rerun()
    else:
        st.caption("In production. The staging URL stays available for trying changes without storing anything.")
        if st.button("Move back to staging", icon=":material/science:", key="intg.unpromote"):
            back_to_staging(engine(), stored.name, actor=actor())
            st.rerun()


def render_test_deliveries(stored: StoredIntegration) -> None:
    """Staging traffic with the detail of a real delivery: headers, body, the answer given."""
    deliveries = list_test_deliveries(engine(), stored.id, limit=50)
    st.markdown("**Test deliveries** (staging)")
    if not deliveries:
        st.caption("None yet: the client's tests against the staging URL show up here.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "#": d.id,
                    "Received": when(d.received_at),
                    "Answer": d.status_code,
                    "Signature ok": d.verified,
                    "Result": d.error or f"{d.response.get('valid', 0)} valid, {d.response.get('errors', 0)} errors",
                }
                for d in deliveries
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    chosen = st.selectbox("Look at a test delivery", [d.id for d in deliveries], key=f"intg.test.{stored.id}")
    delivery = next(d for d in deliveries if d.id == chosen)
    with st.expander(f"Test delivery #{delivery.id}: answered {delivery.status_code}", expanded=False):
        st.markdown("Headers (credentials are never kept)")
        st.json(delivery.headers)
        st.markdown("Body")
        try:
            st.json(json.loads(delivery.body))
        except ValueError:
            st.code(delivery.body.decode("utf-8", "replace"), language=None)
        st.markdown("Answer")
        st.json(delivery.response)


def render_status_link(stored: StoredIntegration) -> None:
    st.markdown("**Client status link** (read-only: its deliveries, rejected records and callbacks)")
    token = stored.config.onboarding.status_token
    fresh = st.session_state.get(LINK_KEY)
    if fresh and fresh["name"] == stored.name:
        st.success("The link is shown in full this once: send it to the client over a secure channel.")
        st.code(fresh["url"], language=None)
        st.session_state.pop(LINK_KEY, None)
    elif token is not None:
        st.code(status_url(stored.name, "") + (mask(token.get_secret_value()) or ""), language=None)
        st.caption("Masked: the full link was shown once. Replace it if the client lost it or it leaked.")
    with st.container(horizontal=True):
        label = "Replace the link" if token is not None else "Create a link"
        if st.button(label, icon=":material/link:", key="intg.status.new"):
            _, new = new_status_token(engine(), stored.name)
            st.session_state[LINK_KEY] = {"name": stored.name, "url": status_url(stored.name, new)}
            st.rerun()
        if token is not None and st.button("Revoke the link", icon=":material/link_off:", key="intg.status.revoke"):
            revoke_status_token(engine(), stored.name)
            st.rerun()
