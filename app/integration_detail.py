"""One integration on the Integrations page: what to hand the client, its configuration, editing it,
switching it on and off, archiving it.

Each section is its own function so the page composes them; the overview carries the actions on the
integration as it is saved: testing an api/db connection, handing over the callback signing secret.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from app import auth, callback_secret, connection_test, integration_form, onboarding, phrases
from app.store import engine
from app.ui import show_issues, when
from pipelines import settings
from pipelines.access.policy import Action
from pipelines.errors import validation_issues
from pipelines.integrations import (
    IntegrationNotFound,
    MappingRejected,
    StoredIntegration,
    WebhookIntegration,
    archive_integration,
    masked_config,
    set_active,
    update_integration,
    waiting_work,
)
from pipelines.integrations.file_settings import folder_path
from pipelines.onboarding.webhook_example import auth_header_line, curl_example, signature_header_line, webhook_url
from pipelines.ops.monitoring import latest_syncs
from pipelines.secrets import mask

REVEAL_KEY = "intg.reveal"


def remember_secret_once(name: str, secret: str | None, signing_secret: str | None = None) -> None:
    """Keep just-typed secrets (the auth_value, the first signing secret) for this session's next view
    of the integration, so the curl example can be copied complete once; afterwards they only ever
    appear masked."""
    if secret or signing_secret:
        st.session_state[REVEAL_KEY] = {"name": name, "secret": secret, "signing_secret": signing_secret}


def first_secret(values) -> str | None:
    """The first signing secret a form or model holds (SecretStr or typed text), if any."""
    for value in values or []:
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if isinstance(text, str) and text:
            return text
    return None


def render_client_instructions(stored: StoredIntegration) -> None:
    """The endpoint URL, headers and a ready-to-copy curl (seed 000, "Compartir Endpoint con Cliente")."""
    config = stored.config_as(WebhookIntegration)
    preset = config.webhook.verification
    url = webhook_url(stored.name, preset)
    st.markdown("**Endpoint for the client**")
    st.code(f"URL: {url}\nMethod: POST", language=None)
    revealed = st.session_state.get(REVEAL_KEY)
    reveal = revealed if revealed and revealed.get("name") == stored.name else {}
    secret = config.auth_value.get_secret_value() if config.auth_value else ""
    shown = reveal.get("secret") or mask(secret) or ""
    signing = first_secret(config.webhook.signing_secrets) or ""
    shown_signing = reveal.get("signing_secret") or mask(signing) or ""
    headers = ["Content-Type: application/json"]
    for line in (auth_header_line(config.auth_type, shown), signature_header_line(preset, shown_signing)):
        if line:
            headers.append(line)
    st.markdown("Headers:\n" + "\n".join(f"- `{h}`" for h in headers))
    example = "sale" if stored.target == "sale" else "order"
    st.markdown(f"**Try it** (the seed's example {example}; send what the client's system really sends once the mapping is set up)")
    st.code(curl_example(stored.name, config.auth_type, shown, stored.target, preset, shown_signing), language="bash")
    masked = [
        value for value, typed in ((shown, reveal.get("secret")), (shown_signing, reveal.get("signing_secret"))) if value and not typed
    ]
    if reveal:
        st.success(
            "The secret is shown in full this once, so you can copy the command complete and share it "
            "with the client. Afterwards it is masked."
        )
        if st.button("I have copied it: mask the secret", key="intg.reveal.done"):
            st.session_state.pop(REVEAL_KEY, None)
            st.rerun()
    if masked:
        st.caption(
            f"Replace {' and '.join(f'`{m}`' for m in masked)} with the integration's secret"
            f"{'s' if len(masked) > 1 else ''}: shown in full only once, right after saving. Set a new one "
            "on the Edit tab if it was lost."
        )
    if preset != "none":
        st.caption(
            f"The command signs the body as the `{preset}` verification expects (openssl, in the shell); the "
            "client's system must sign every request the same way with the signing secret."
        )
    if config.webhook.ack_mode == "async" or preset == "autentikapp":
        st.caption("Acknowledgement mode is async: the receiver answers 202 at once and processes in the background.")


def render_source(stored: StoredIntegration) -> None:
    """Where a pulled integration's records come from (api, db, file)."""
    config = stored.config
    if config.type == "api":
        auth = "" if config.auth_type == "none" else f", signing in with {config.auth_type}"
        st.markdown(
            f"**Source**: polls `{config.endpoint}` every {config.poll_interval_seconds} s (pagination: {config.api.pagination}{auth})"
        )
    elif config.type == "db":
        st.markdown(
            f"**Source**: runs this query every {config.poll_interval_seconds} s against `{config.db.url or 'no database URL set yet'}`"
        )
        st.code(config.db.query or "-- no query set yet", language="sql")
    elif config.type == "file":
        try:
            folder = str(folder_path(config.file.folder, stored.name))  # inside the drops root, as a pull finds it
        except ValueError as exc:
            st.error(f"**file.folder** {exc}")
            return
        st.markdown(f"**Source**: picks up `{config.file.pattern}` files ({config.file.format}) dropped in `{folder}`")


def render_overview(stored: StoredIntegration) -> None:
    if stored.config.type == "webhook":
        render_client_instructions(stored)
    else:
        render_source(stored)
        if connection_test.testable(stored.config):
            connection_test.render_connection_test(stored.config, f"intg.probe.{stored.id}")
    callback_secret.render_callback_secret(stored)
    onboarding.render_onboarding(stored)
    fields = len(stored.config.field_mapping)
    st.markdown(
        f"**Mapping**: version {stored.mapping_version}, "
        + (f"{fields} field(s)" if fields else "empty: records are read as the target's own fields")
    )
    if auth.can(Action.USE_STUDIO):  # the page is not registered for a role that may not use it
        st.page_link("app_pages/studio.py", label="Open in the mapping studio", icon=":material/schema:")
    syncs = latest_syncs(engine(), limit=5, integration_id=stored.id)
    st.markdown("**Latest syncs**")
    if syncs:
        st.dataframe(
            pd.DataFrame([{"Started": when(s.started_at), "Source": s.source_kind, "Result": phrases.sync_summary(s)} for s in syncs]),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No syncs yet.")
    with st.expander("Configuration (secrets masked)"):
        st.json(masked_config(stored), expanded=True)


@st.fragment
def render_edit(stored: StoredIntegration) -> None:
    """The edit form; secrets left empty keep their stored values."""
    if not auth.can(Action.MANAGE_INTEGRATIONS):
        st.caption("Editing an integration needs the admin role.")
        return
    prefix = f"intg.edit.{stored.id}"
    flag = f"{prefix}.submitted"
    result = integration_form.render("edit", stored.config.type, stored, prefix, st.session_state.get(flag, False))
    with st.container(horizontal=True):
        clicked = st.button("Save changes", type="primary", key=f"{prefix}.save", on_click=lambda: st.session_state.update({flag: True}))
        if connection_test.testable(result.config):
            connection_test.test_button(result.config, prefix)
    if connection_test.testable(result.config):
        connection_test.show_result(result.config, prefix)
    if not clicked:
        return
    if result.config is None:
        show_issues(result.issues, "Not saved: fix the fields marked in red.")
        return
    changes = integration_form.changes_for_update(result, stored)
    if not changes:
        st.info("Nothing changed.")
        return
    try:
        update_integration(engine(), stored.name, changes, actor=auth.actor())
    except ValidationError as exc:
        show_issues(validation_issues(exc), "Not saved:")
        return
    except MappingRejected as exc:
        show_issues(exc.issues, "Not saved:")
        return
    except IntegrationNotFound:
        st.error(f"{stored.name} no longer exists (deleted in another session).")
        return
    remember_secret_once(
        stored.name, result.secrets_typed.get("auth_value"), first_secret(result.secrets_typed.get("webhook.signing_secrets"))
    )
    st.session_state.pop(flag, None)
    st.toast(f"Saved {stored.name}.", icon=":material/check:")
    st.rerun(scope="app")


def render_lifecycle(stored: StoredIntegration) -> None:
    """Enable, disable, archive (what deleting does: restorable from the Archived section)."""
    if not auth.can(Action.ENABLE_INTEGRATION):
        st.caption("Enabling and disabling need the operator role.")
        return
    if stored.is_active:
        st.markdown("Disabling stops this integration: webhooks are refused (403) and nothing is polled.")
        if st.button("Disable", icon=":material/pause:", key="intg.disable"):
            set_active(engine(), stored.name, False, actor=auth.actor())
            st.rerun()
    else:
        st.markdown("This integration is disabled: it accepts and pulls nothing.")
        if st.button("Enable", icon=":material/play_arrow:", type="primary", key="intg.enable"):
            set_active(engine(), stored.name, True, actor=auth.actor())
            st.rerun()
    if not auth.can(Action.MANAGE_INTEGRATIONS):
        return
    st.divider()
    days = settings.current().archive_retention_days
    st.markdown(
        f"**Archive {stored.name}**: it stops receiving (webhooks answer like an unknown integration) and "
        "pulling; its orders, inbox, sync history and callbacks stay untouched. An admin can restore it from "
        f"**Archived** below, for {days} day(s); after that it is purged."
    )
    waiting = waiting_work(engine(), stored.id)
    if waiting:
        listed = ", ".join(f"**{count}** {what}" for what, count in waiting.items())
        st.info(f"{stored.name} still has {listed}: they wait, unprocessed, until it is restored.")
    if st.button("Archive", icon=":material/archive:", key=f"intg.archive.go.{stored.id}"):
        try:
            archive_integration(engine(), stored.name, actor=auth.actor())
        except IntegrationNotFound:  # archived meanwhile, from another session
            pass
        st.toast(f"Archived {stored.name}.", icon=":material/archive:")
        st.rerun()
