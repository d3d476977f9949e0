"""Handing the callback signing secret to the client's team, who need it to verify our callbacks, while
secrets are never shown in full: set the one agreed with the client (checked like the model checks it),
or generate a new one that is offered once as a text file to download, never drawn on the page.

Rotating needs no flag day: the sender signs each attempt when it sends it, and for the integration's
overlap (`callbacks.rotation_overlap_hours`, 24 h by default) with the previous secret as well, so the
client's system keeps verifying with whichever secret it holds until its team switches.
"""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import auth
from app.store import engine
from app.ui import show_issues
from connectors.callback_sender import SIGNATURE_HEADER
from pipelines.access.policy import Action
from pipelines.clock import utcnow
from pipelines.errors import validation_issues
from pipelines.integrations import IntegrationNotFound, StoredIntegration, new_callback_secret, update_integration
from pipelines.secrets import mask

_DOWNLOAD_KEY = "cbsecret.download.{id}"  # the generated secret, until the operator says it is saved
_OUTCOME_KEY = "cbsecret.outcome.{id}"


def _store(name: str, secret: str) -> list[dict[str, str]]:
    """Save `secret` as the integration's callback secret; the problems when it is refused."""
    try:
        update_integration(engine(), name, {"callback_secret": secret}, actor=auth.actor())
    except ValidationError as exc:
        return validation_issues(exc)
    except IntegrationNotFound:
        return [{"field": "integration", "message": f"{name} no longer exists (deleted in another session)"}]
    return []


def _set_agreed(stored: StoredIntegration, field_key: str) -> None:
    typed = (st.session_state.get(field_key) or "").strip()
    if not typed:
        problems = [{"field": "callback_secret", "message": "paste the secret agreed with the client first"}]
    else:
        problems = _store(stored.name, typed)
    if not problems:
        st.session_state[field_key] = ""
        st.session_state.pop(_DOWNLOAD_KEY.format(id=stored.id), None)
    st.session_state[_OUTCOME_KEY.format(id=stored.id)] = problems or "saved"


def _generate(stored: StoredIntegration, confirm_key: str) -> None:
    secret = new_callback_secret()
    problems = _store(stored.name, secret)
    if not problems:
        st.session_state[_DOWNLOAD_KEY.format(id=stored.id)] = secret
        st.session_state[confirm_key] = False
    st.session_state[_OUTCOME_KEY.format(id=stored.id)] = problems or "generated"


def _offer_download(stored: StoredIntegration, secret: str) -> None:
    with st.container(border=True):
        st.success(
            "A new callback signing secret is in force. Download it now and give the file to the client's "
            "team: it is offered this once and never shown on screen. Callbacks carry the previous "
            "secret's signature too until the overlap below ends."
        )
        download, done = st.columns(2)
        download.download_button(
            "Download the new secret (text file)",
            data=secret + "\n",
            file_name=f"{stored.name}-callback-secret.txt",
            mime="text/plain",
            on_click="ignore",
            icon=":material/download:",
            type="primary",
            key=f"cbsecret.file.{stored.id}",
        )
        if done.button("I have saved it: forget it", key=f"cbsecret.forget.{stored.id}"):
            st.session_state.pop(_DOWNLOAD_KEY.format(id=stored.id), None)
            st.rerun()


def _end_overlap(stored: StoredIntegration) -> None:
    try:
        update_integration(engine(), stored.name, {"callbacks": {"previous_secret": None}}, actor=auth.actor())
    except IntegrationNotFound:
        st.session_state[_OUTCOME_KEY.format(id=stored.id)] = [
            {"field": "integration", "message": f"{stored.name} no longer exists (deleted in another session)"}
        ]
        return
    st.session_state[_OUTCOME_KEY.format(id=stored.id)] = "overlap ended"


def _render_overlap(stored: StoredIntegration) -> None:
    """The previous secret still signing after a rotation, until when, and a way to stop it early."""
    callbacks = stored.config.callbacks
    previous = callbacks.previous_signing_secret(utcnow())
    if not previous:
        return
    until = callbacks.previous_secret_expires_at.strftime("%Y-%m-%d %H:%M UTC")
    note, action = st.columns([3, 1], vertical_alignment="center")
    note.info(
        f"Rotation overlap: the previous secret `{mask(previous)}` also signs every callback until {until}, "
        "so the client's system verifies with either. End it once their team uses the new one."
    )
    action.button("End the overlap now", key=f"cbsecret.endoverlap.{stored.id}", on_click=_end_overlap, args=(stored,))


def render_callback_secret(stored: StoredIntegration) -> None:
    """The masked secret, the download of a just-generated one, and the two ways to replace it."""
    config = stored.config
    if config.target != "order" or not (config.callback_url or config.callback_secret):
        return
    if not auth.can(Action.ROTATE_SECRETS):
        return
    secret = config.callback_secret.get_secret_value() if config.callback_secret else None
    st.markdown(f"**Callback signing secret**: `{mask(secret) or 'none yet'}`")
    st.caption(
        "The client's system verifies each callback with it: the Standard Webhooks headers (`webhook-id`, "
        f"`webhook-timestamp`, `webhook-signature`) or the hex HMAC-SHA256 of the body in `{SIGNATURE_HEADER}`."
    )
    generated = st.session_state.get(_DOWNLOAD_KEY.format(id=stored.id))
    outcome = st.session_state.pop(_OUTCOME_KEY.format(id=stored.id), None)
    if isinstance(outcome, list):
        show_issues(outcome, "Not saved:")
    elif outcome == "saved":
        st.success(
            "Saved: callbacks are signed with the secret agreed with the client from now on, queued ones "
            "included, and with the previous one too until the overlap below ends."
        )
    elif outcome == "overlap ended":
        st.success("Overlap ended: callbacks are signed with the current secret only.")
    _render_overlap(stored)
    if generated:
        _offer_download(stored, generated)
    with st.expander("Hand it to the client, or replace it"):
        agreed, fresh = st.columns(2, gap="large")
        with agreed:
            st.markdown("**Use a secret agreed with the client**")
            field_key = f"cbsecret.agreed.{stored.id}"
            st.text_input(
                "Secret (whsec_ followed by base64)",
                type="password",
                key=field_key,
                placeholder="whsec_…",
                help="Standard Webhooks format, as the client's library expects it.",
            )
            st.button("Save this secret", key=f"cbsecret.save.{stored.id}", on_click=_set_agreed, args=(stored, field_key))
        with fresh:
            st.markdown("**Generate a new secret**")
            overlap = stored.config.callbacks.rotation_overlap_hours
            st.caption(
                "Offered once as a text file to download. "
                + (
                    f"The current secret keeps signing alongside it for {overlap:g} h, time for the client's team to switch."
                    if overlap
                    else "The current secret stops verifying our callbacks at once (no overlap is configured): "
                    "agree the switch with the client's team first."
                )
            )
            confirm_key = f"cbsecret.confirm.{stored.id}"
            confirmed = st.checkbox("The client's team is ready for a new secret", key=confirm_key)
            st.button(
                "Generate a new secret",
                key=f"cbsecret.generate.{stored.id}",
                disabled=not confirmed,
                icon=":material/autorenew:",
                on_click=_generate,
                args=(stored, confirm_key),
            )
