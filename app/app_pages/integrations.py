"""Integrations: the list with health, one integration's details, a form per type to create one, and
import of a configuration file such as the Logitrack plan's JSON examples."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import yaml
from pydantic import ValidationError

from app import auth, connection_test, integration_archive, integration_detail, integration_form, phrases
from app.auth import require_login
from app.store import engine
from app.ui import RED_ROW, STATUS_LABELS, TARGET_LABELS, TYPE_LABELS, highlight_rows, show_issues
from pipelines.access.policy import Action
from pipelines.errors import validation_issues
from pipelines.integrations import (
    ArchivedNameTaken,
    Integration,
    IntegrationExists,
    IntegrationNotFound,
    MappingRejected,
    create_integration,
    get_integration,
    parse_integration,
)
from pipelines.ops.monitoring import integration_health

VIEW_KEY = "intg.view"
GOTO_KEY = "intg.goto"
VIEWS = ["Details", "New integration", "Import JSON"]
ARCHIVED = "Archived"  # admins only

require_login(Action.VIEW_INTEGRATIONS)
st.title("Integrations")

health = integration_health(engine())
if health:
    table = pd.DataFrame(
        [
            {
                "Name": h.name,
                "Type": TYPE_LABELS.get(h.type, h.type),
                "Target": h.target,
                "Status": STATUS_LABELS[h.status],
                "Last sync": phrases.time_ago(h.last_sync_at),
                "Last error": phrases.last_error(h),
            }
            for h in health
        ]
    )
    st.dataframe(highlight_rows(table, [RED_ROW if h.needs_person else None for h in health]), hide_index=True, width="stretch")
else:
    st.info(
        "No integrations yet. Create one below: pick its type (a webhook is the quickest), fill the form, and "
        "you get the URL and a curl command to hand the client."
    )
    st.session_state.setdefault(VIEW_KEY, "New integration")

# Switching views from code (after a create) goes through GOTO: a widget's own key cannot be set once
# the widget is drawn in the same run.
for key, wanted in st.session_state.pop(GOTO_KEY, {}).items():
    st.session_state[key] = wanted
st.session_state.setdefault(VIEW_KEY, "Details")
views = [*VIEWS, ARCHIVED] if auth.can(Action.MANAGE_INTEGRATIONS) else VIEWS
if st.session_state[VIEW_KEY] not in views:
    st.session_state[VIEW_KEY] = "Details"
view = st.segmented_control("Show", views, key=VIEW_KEY, required=True, label_visibility="collapsed")


def _created(config: Integration, secret: str | None, **resets) -> None:
    """After a create: show the new integration with its client instructions."""
    signing = config.webhook.signing_secrets if config.type == "webhook" else []
    integration_detail.remember_secret_once(config.name, secret, integration_detail.first_secret(signing))
    st.session_state[GOTO_KEY] = {"intg.selected": config.name, VIEW_KEY: "Details", **resets}
    st.rerun(scope="app")


def _try_create(config: Integration) -> list[dict[str, str]]:
    try:
        create_integration(engine(), config, actor=auth.actor())
    except ArchivedNameTaken as exc:
        return [{"field": "name", "message": f"{exc} (under Archived), or choose another name"}]
    except IntegrationExists as exc:
        # After `make up` the demo already holds the seed's cliente_abc: point at it.
        return [{"field": "name", "message": f"{exc}: open it under Details (endpoint and curl are there), or choose another name"}]
    except MappingRejected as exc:
        return exc.issues
    return []


@st.fragment
def new_integration() -> None:
    """A form per type; validates as you type, every wrong field marked in red with the reason."""
    if not auth.can(Action.MANAGE_INTEGRATIONS):
        st.caption("Creating an integration needs the admin role.")
        return
    integration_type = st.radio(
        "Type",
        list(TYPE_LABELS),
        format_func=TYPE_LABELS.get,
        horizontal=True,
        key="intg.new.type",
        captions=["the client pushes to us", "we poll their REST API", "we query their database", "they drop export files"],
    )
    prefix = f"intg.new.{integration_type}"
    flag = f"{prefix}.submitted"
    left, right = st.columns([3, 2], gap="large")
    with left:
        result = integration_form.render("create", integration_type, None, prefix, st.session_state.get(flag, False))
        with st.container(horizontal=True, vertical_alignment="center"):
            clicked = st.button(
                "Create integration", type="primary", key=f"{prefix}.create", on_click=lambda: st.session_state.update({flag: True})
            )
            if connection_test.testable(result.config):
                connection_test.test_button(result.config, prefix)
            elif integration_type in connection_test.PROBES:
                st.caption("Test connection appears once the form is valid.")
    with right:
        st.markdown("**What will be saved**")
        if result.config is not None:
            preview = result.config.model_dump(mode="json", exclude_defaults=True)
            st.json(preview, expanded=True)
            st.caption("Secrets are stored encrypted and shown masked from now on.")
        else:
            st.caption("Fill in the form: the configuration appears here once it is valid.")
    if connection_test.testable(result.config):
        connection_test.show_result(result.config, prefix)  # full width: the record and its mapping side by side
    if not clicked:
        return
    if result.config is None:
        show_issues(result.issues, "Not created: fix the fields marked in red.")
        return
    problems = _try_create(result.config)
    if problems:
        show_issues(problems, "Not created:")
        return
    st.session_state.pop(flag, None)
    _created(result.config, result.secrets_typed.get("auth_value"))


def import_json() -> None:
    """Paste an integration file (JSON or YAML), e.g. the seed's cliente_abc configuration."""
    if not auth.can(Action.MANAGE_INTEGRATIONS):
        st.caption("Creating an integration needs the admin role.")
        return
    text = st.text_area(
        "Integration configuration (JSON or YAML)",
        height=260,
        key="intg.import.text",
        placeholder='{\n  "name": "cliente_abc",\n  "type": "webhook",\n  "auth_type": "apikey",\n'
        '  "auth_value": "secreto_compartido",\n  "is_active": true\n}',
    )
    if not text.strip():
        st.caption("The same files `crossdock integrations add --file` takes.")
        return
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        st.error(f"Not valid JSON or YAML{where}: {getattr(exc, 'problem', None) or exc}")
        return
    if not isinstance(document, dict):
        st.error("Expected an object with the integration's fields (name, type, ...).")
        return
    try:
        config = parse_integration(document)
    except ValidationError as exc:
        show_issues(validation_issues(exc), "This configuration is not valid:")
        return
    st.success(f"Valid: {TYPE_LABELS[config.type]} integration **{config.name}** for {TARGET_LABELS[config.target].lower()}.")
    if st.button("Create integration", type="primary", key="intg.import.create"):
        problems = _try_create(config)
        if problems:
            show_issues(problems, "Not created:")
            return
        secret = config.auth_value.get_secret_value() if config.auth_value else None
        _created(config, secret, **{"intg.import.text": ""})


def details() -> None:
    names = [h.name for h in health]
    if not names:
        st.info("Nothing to show yet: create an integration first.")
        return
    if st.session_state.get("intg.selected") not in names:
        st.session_state["intg.selected"] = names[0]
    name = st.selectbox("Integration", names, key="intg.selected")
    try:
        stored = get_integration(engine(), name)
    except IntegrationNotFound:
        st.warning(f"{name} was just archived in another session.")
        return
    overview, edit, lifecycle = st.tabs(["Overview", "Edit", "Enable / disable / archive"])
    with overview:
        integration_detail.render_overview(stored)
    with edit:
        integration_detail.render_edit(stored)
    with lifecycle:
        integration_detail.render_lifecycle(stored)


if view == "New integration":
    new_integration()
elif view == "Import JSON":
    import_json()
elif view == ARCHIVED:
    integration_archive.render()
else:
    details()
