"""Mapping studio: take a sample of what the client sends, map it field by field, see the result live,
backtest against stored traffic, save as a new version, compare and roll back versions.

The preview and the backtest run `pipelines.ingest.prepare`, the very verdict ingest gives, so the
studio never says "valid" about a record that ingest would reject, and values are shown as ingest
would store them (after the target's coercion). Saving backtests the new mapping against the active
one first: when records that land today would be rejected, it says how many, shows some, and saves
only after an explicit confirmation.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app import auth
from app import studio_state as state
from app.auth import require_login
from app.store import engine
from app.ui import AMBER_ROW, RED_ROW, TYPE_LABELS, highlight_rows, json_text, show_issues, when
from pipelines.access.policy import Action
from pipelines.integrations import (
    IntegrationNotFound,
    MappingRejected,
    StoredIntegration,
    get_integration,
    list_integrations,
    list_mapping_versions,
    rollback_mapping,
    save_mapping,
)
from pipelines.mapping import FUNCTIONS, MappingError, source_paths
from pipelines.mapping.diff import diff_mappings
from pipelines.studio.backtest import BacktestResult, active_mapping, run_backtest
from pipelines.studio.preview import caret, mapping_rows, path_values, preview_sample, rows_to_mapping, with_field
from pipelines.studio.samples import MAX_BACKTEST, UnusableSample, parse_records, parse_upload, stored_samples
from pipelines.targets import FIELDS, REQUIRED

SAMPLE_SOURCES = ["Paste", "Upload", "Inbox", "Stored records"]
# Saving checks the new mapping against this many of the newest stored payloads (a backtest of 10,000
# takes well under 2 s).
SAVE_CHECK_PAYLOADS = MAX_BACKTEST
RESULT_TEXT = {"ok": "✓", "empty": "— no value", "error": "✗ ", "not_compiled": "✗ does not compile: ", "missing": "✗ "}


# ---------------------------------------------------------------- sample
def load_sample(stored: StoredIntegration) -> list:
    """The records to preview with, from wherever the analyst chose; [] with an explanation otherwise."""
    source = st.segmented_control(
        "Sample",
        SAMPLE_SOURCES,
        key="studio.sample_source",
        default="Paste",
        required=True,
        help="What the client sends: paste it, upload a file, or take the newest payloads Crossdock stored for this integration.",
    )
    name = stored.name
    try:
        if source == "Paste":
            text = st.text_area(
                "Sample payload: a JSON object, a JSON array, or JSON Lines",
                height=200,
                key=f"studio.paste.{name}",
                placeholder='{"id": 5678, "customer": {"first_name": "Juan"}, ...}',
            )
            return parse_records(text) if text.strip() else []
        if source == "Upload":
            upload = st.file_uploader(
                "Sample file (.json, .jsonl, .ndjson)", type=["json", "jsonl", "ndjson", "txt"], key=f"studio.upload.{name}"
            )
            return parse_upload(upload.name, upload.getvalue()) if upload else []
        limit = st.number_input("How many of the newest", min_value=1, max_value=500, value=20, step=10, key=f"studio.stored_limit.{name}")
        kind = "inbox" if source == "Inbox" else "landed"
        found = stored_samples(engine(), stored.id, stored.target, kind, int(limit))
        if not found:
            where = (
                "inbox (webhook bodies are kept there as they arrive)"
                if kind == "inbox"
                else "store (records are kept beside each order or sale that lands)"
            )
            st.info(f"Nothing from {name} in the {where} yet. Paste or upload a sample instead.")
            return []
        st.caption(f"{len(found)} record(s), newest first: {found[0].origin} ({when(found[0].at)}) to {found[-1].origin}.")
        return [item.record for item in found]
    except UnusableSample as exc:
        st.error(f"The sample cannot be read: {exc}")
        return []


# ---------------------------------------------------------------- editor and live preview
@st.fragment
def editor_and_preview(stored: StoredIntegration, records: list) -> None:
    """The mapping table, the path picker, the live preview and save: re-runs alone as the table changes."""
    name, target = stored.name, stored.target
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Mapping**: target field → expression")
        edited = st.data_editor(
            pd.DataFrame(state.rows(name), columns=["field", "expression"]),
            key=state.editor_key(name),
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            column_config={
                "field": st.column_config.SelectboxColumn(
                    "Target field",
                    options=list(FIELDS[target]),
                    required=True,
                    width="medium",
                    help="Required: " + ", ".join(sorted(REQUIRED[target])),
                ),
                "expression": st.column_config.TextColumn(
                    "Expression", width="large", help="A source path like customer.name, or an expression: format('shopify-{}', id)"
                ),
            },
        )
        current_rows = edited.to_dict("records")
        state.remember_rows(name, current_rows)
        mapping, row_problems = rows_to_mapping(current_rows)
        for problem in row_problems:
            st.warning(problem)
        message = state.said(name)
        if message:
            st.error(message)
        _table_tools(name)
    with right:
        _path_picker(name, target, records)

    sample = preview_sample(mapping, target, records) if records else None
    issues = sample.compile_issues if sample else preview_sample(mapping, target, []).compile_issues
    state.remember(name, mapping, row_problems, issues)
    for issue in issues:
        st.error(f"**{issue.field}** does not compile: {issue.message}")
        pointer = caret(issue)
        if pointer:
            st.code(pointer, language=None)

    if sample is None:
        st.info("Add a sample above to see every field's value, live, as you edit the mapping.")
    else:
        _preview(mapping, target, records, sample)
    _save(stored, mapping, row_problems, issues)


def _import_mapping(name: str) -> None:
    """Button callback: replace the table with the pasted mapping (before the re-run draws it)."""
    text = st.session_state.get(f"studio.import.{name}") or ""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        state.say(name, f"Not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        return
    if isinstance(document, dict) and isinstance(document.get("field_mapping"), dict):
        document = document["field_mapping"]
    if not isinstance(document, dict):
        state.say(name, "Expected an object of target field → expression.")
        return
    state.replace_rows(name, mapping_rows(document))


def _table_tools(name: str) -> None:
    with st.expander("Paste a whole mapping (JSON)"):
        st.text_area('Mapping JSON: {"field": "expression", ...}, or a file with a field_mapping', key=f"studio.import.{name}", height=140)
        st.button("Replace the table with this mapping", key=f"studio.import.go.{name}", on_click=_import_mapping, args=(name,))
    st.button("Reset to the active mapping", key=f"studio.reset.{name}", icon=":material/undo:", on_click=state.reset, args=(name,))


def _map_picked_path(name: str) -> None:
    """Button callback: set the chosen target field's expression to the chosen source path."""
    path = st.session_state.get(f"studio.pick.path.{name}")
    field = st.session_state.get(f"studio.pick.field.{name}")
    if path and field:
        state.replace_rows(name, with_field(state.current_rows(name), field, path))


def _path_picker(name: str, target: str, records: list) -> None:
    """Autocompletion: every path in the sample, searchable, with its value; one click maps it."""
    st.markdown("**Source paths** in the sample")
    if not records:
        st.caption("Paths appear here once there is a sample.")
        return
    paths = source_paths(records)
    values = path_values(records[0], paths)
    path = st.selectbox(
        "Source path",
        paths,
        index=None,
        key=f"studio.pick.path.{name}",
        placeholder="Type to search the sample's paths",
        format_func=lambda p: f"{p}   = {json_text(values.get(p))[:40]}",
    )
    field = st.selectbox("Target field", list(FIELDS[target]), key=f"studio.pick.field.{name}")
    st.button(
        f"Map {field} ← {path or 'path'}",
        disabled=path is None,
        key=f"studio.pick.go.{name}",
        icon=":material/arrow_back:",
        on_click=_map_picked_path,
        args=(name,),
    )
    st.dataframe(
        pd.DataFrame([{"Path": p, "Value in record 1": json_text(values[p])} for p in paths]),
        hide_index=True,
        width="stretch",
        height=min(36 * (len(paths) + 1), 280),
    )


def _preview(mapping: dict, target: str, records: list, sample) -> None:
    st.markdown(f"**Preview**: {sample.valid} of {len(records)} sample record(s) would land")
    index = 0
    if len(records) > 1:
        labels = {i: f"Record {i + 1} of {len(records)}" for i in range(len(records))}
        index = st.selectbox("Record", list(labels), format_func=labels.get, key="studio.record")
        index = min(index or 0, len(records) - 1)
    preview = sample.record(mapping, target, index)
    source_col, mapped_col = st.columns([2, 3], gap="large")
    with source_col:
        st.markdown("**Source record**")
        st.json(records[index], expanded=True)
    with mapped_col:
        st.markdown(f"**Mapped {target}**")
        table = pd.DataFrame(
            [
                {
                    "Field": row.field + (" *" if row.required else ""),
                    "Value": json_text(row.value),
                    "Result": RESULT_TEXT[row.state] + (row.message or "") if row.state not in ("ok", "empty") else RESULT_TEXT[row.state],
                }
                for row in preview.rows
            ]
        )
        styles = [
            RED_ROW if row.state in ("error", "not_compiled", "missing") else AMBER_ROW if row.state == "empty" else None
            for row in preview.rows
        ]
        st.dataframe(
            highlight_rows(table, styles),
            hide_index=True,
            width="stretch",
            column_config={
                "Field": st.column_config.TextColumn(width=120),
                "Value": st.column_config.TextColumn(width=190),
                "Result": st.column_config.TextColumn(width="large"),
            },
        )
        st.caption("\\* required · red: the record would be rejected for this field · amber: no value")
        if preview.ok:
            st.success(f"Valid {target}: ingest would store it as shown below.")
        else:
            broken = {issue.field for issue in preview.compile_issues}
            lines = [f"**{r['field']}**: {r['message']}" for r in preview.reasons if r["field"] not in broken]
            lines += [f"**{issue.field}**: does not compile" for issue in preview.compile_issues]
            st.error("This record would be rejected:\n\n" + "\n".join(f"- {line}" for line in lines))
        st.caption("As ingest would store it (numbers as numbers, date-times in UTC):")
        st.json(preview.stored, expanded=True)


def _save(stored: StoredIntegration, mapping: dict, row_problems: list[str], issues: list) -> None:
    st.markdown("**Save**")
    unchanged = mapping == active_mapping(stored)
    blocked = row_problems or issues
    note = st.text_input("Note for this version", key=f"studio.note.{stored.name}", placeholder="e.g. address now includes the city")
    label = f"Save as version {stored.mapping_version + 1}"
    if st.button(label, type="primary", disabled=bool(blocked) or unchanged, key=f"studio.save.{stored.name}"):
        check = _check_before_saving(stored, mapping)
        if check is None:
            return
        if not check.broken:
            _store(stored, mapping, note)
            return
        state.keep_save_check(stored.name, mapping, check)
    if not blocked and not unchanged:
        _confirm_breaking_save(stored, mapping, note)
    if blocked:
        st.caption("Fix the problems above to save.")
    elif unchanged:
        st.caption(f"The table is the active mapping (version {stored.mapping_version}): nothing to save.")


def _check_before_saving(stored: StoredIntegration, mapping: dict) -> BacktestResult | None:
    """The backtest of the table's mapping against the active one over the newest stored payloads."""
    with st.spinner(f"Checking the mapping against the newest {SAVE_CHECK_PAYLOADS:,} payloads {stored.name} sent..."):
        try:
            return run_backtest(engine(), stored, mapping, SAVE_CHECK_PAYLOADS)
        except MappingError as exc:
            st.error(f"Not saved: the mapping does not compile: {exc}")
            return None


def _confirm_breaking_save(stored: StoredIntegration, mapping: dict, note: str) -> None:
    """The warning after a save that would reject records landing today, and the explicit confirmation."""
    pending = state.save_check(stored.name)
    if pending is None:
        return
    checked_mapping, result, token = pending
    if checked_mapping != mapping:  # the table changed since: that check says nothing about this mapping
        state.forget_save_check(stored.name)
        return
    st.warning(
        f"**Not saved yet: this mapping would reject {result.broken:,} of the {result.total:,} stored payloads, records "
        f"that land today with version {stored.mapping_version}.** From the moment it is saved, records like these "
        "would be rejected (kept with their reasons) instead of landing. Examples:",
        icon=":material/warning:",
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Payload": e.origin,
                    "Why it would be rejected": "; ".join(f"{r['field']}: {r['message']}" for r in e.reasons),
                    "Record": json_text(e.source),
                }
                for e in result.examples["broken"]
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    sure = st.checkbox(
        f"Yes, save it anyway and reject such records from now on ({result.broken:,} of {result.total:,} here)",
        key=f"studio.save.sure.{stored.name}.{token}",
    )
    if st.button(
        f"Save as version {stored.mapping_version + 1} anyway",
        disabled=not sure,
        icon=":material/warning:",
        key=f"studio.save.anyway.{stored.name}",
    ):
        _store(stored, mapping, note)


def _store(stored: StoredIntegration, mapping: dict, note: str) -> None:
    try:
        saved = save_mapping(engine(), stored.name, mapping, note or None, actor=auth.actor())
    except MappingRejected as exc:
        show_issues(exc.issues, "Not saved:")
        return
    except IntegrationNotFound:
        st.error(f"{stored.name} no longer exists.")
        return
    state.forget_save_check(stored.name)
    state.replace_rows(stored.name, mapping_rows(saved.config.field_mapping))
    st.toast(f"Saved mapping version {saved.mapping_version} of {stored.name}.", icon=":material/check:")
    st.rerun(scope="app")


# ---------------------------------------------------------------- backtest
def backtest_section(stored: StoredIntegration) -> None:
    st.subheader("Backtest")
    st.caption(
        f"Runs the table's mapping and the active one (version {stored.mapping_version}) over the newest "
        f"payloads {stored.name} sent (landed and rejected), and counts what would change."
    )
    limit = st.number_input("Payloads", min_value=1, max_value=MAX_BACKTEST, value=1_000, step=500, key=f"studio.bt.limit.{stored.name}")
    mapping, problems, issues = state.current(stored.name)
    if st.button("Run backtest", icon=":material/science:", key=f"studio.bt.go.{stored.name}"):
        if problems or issues:
            st.error("Fix the mapping first: it must compile to be backtested.")
        else:
            try:
                state.keep_backtest(stored.name, mapping, run_backtest(engine(), stored, mapping, int(limit)))
            except MappingError as exc:
                st.error(f"The mapping does not compile: {exc}")
    kept = state.backtest(stored.name)
    if kept is None:
        return
    tested_mapping, result = kept
    if result.total == 0:
        st.info(
            f"No stored payloads for {stored.name} yet: payloads are kept as they arrive (landed orders keep "
            "their source record; rejected records are kept with their reasons)."
        )
        return
    if tested_mapping != mapping:
        st.caption("The table changed since this backtest: run it again to see the effect.")
    _backtest_result(result)


def _backtest_result(result: BacktestResult) -> None:
    one, two, three = st.columns(3)
    one.metric("Would pass", f"{result.passed:,}", help="Valid records under the table's mapping")
    two.metric("Would fail", f"{result.failed:,}", help="Records the table's mapping would reject")
    three.metric("Would change", f"{result.changed:,}", help="A different outcome than the active mapping's")
    st.caption(
        f"{result.total:,} payloads in {result.seconds:.2f} s · fixed {result.fixed:,} (rejected today, "
        f"valid with this mapping) · broken {result.broken:,} (valid today, rejected with this mapping)"
    )
    passing, failing, changing = st.tabs([f"Pass ({result.passed:,})", f"Fail ({result.failed:,})", f"Changed ({result.changed:,})"])
    with passing:
        if result.examples["pass"]:
            st.dataframe(
                pd.DataFrame([{"Payload": e.origin, **{k: json_text(v) for k, v in e.stored.items()}} for e in result.examples["pass"]]),
                hide_index=True,
                width="stretch",
            )
        else:
            st.caption("None.")
    with failing:
        if result.examples["fail"]:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "Payload": e.origin,
                            "Why": "; ".join(f"{r['field']}: {r['message']}" for r in e.reasons),
                            "Record": json_text(e.source),
                        }
                        for e in result.examples["fail"]
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        else:
            st.caption("None.")
    with changing:
        for example in result.examples["changed"]:
            verdict = (
                "now valid"
                if example.reasons == [] and not example.passed_before
                else "now rejected"
                if example.reasons and example.passed_before
                else "values differ"
            )
            st.markdown(f"`{example.origin}` ({verdict})")
            st.dataframe(
                pd.DataFrame(
                    [
                        {"Field": c.field, "Active mapping": json_text(c.before), "Table's mapping": json_text(c.after)}
                        for c in example.changes
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        if not result.examples["changed"]:
            st.caption("None: the table's mapping gives the same result as the active one.")


# ---------------------------------------------------------------- versions
def versions_section(stored: StoredIntegration) -> None:
    st.subheader("Versions")
    versions = list_mapping_versions(engine(), stored.name)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Version": v.version,
                    "Active": "✓" if v.active else "",
                    "Fields": len(v.field_mapping),
                    "Note": v.note or "",
                    "Saved": when(v.created_at),
                }
                for v in versions
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    by_version = {v.version: v.field_mapping for v in versions}
    editing = "table"
    options = [editing, *by_version]
    label = {editing: "the table being edited", **{v: f"version {v}" for v in by_version}}
    left, right = st.columns(2)
    # Keyed by the active version: after a save or rollback the comparison starts from the new active one.
    suffix = f"{stored.name}.{stored.mapping_version}"
    versions_list = list(by_version)
    before = left.selectbox(
        "Compare",
        versions_list,
        format_func=label.get,
        key=f"studio.diff.a.{suffix}",
        index=versions_list.index(stored.mapping_version) if stored.mapping_version in by_version else 0,
    )
    after = right.selectbox("with", options, format_func=label.get, key=f"studio.diff.b.{suffix}")
    current_mapping = state.current(stored.name)[0]
    changes = diff_mappings(by_version.get(before, {}), current_mapping if after == editing else by_version[after])
    if changes:
        st.dataframe(
            highlight_rows(
                pd.DataFrame(
                    [
                        {"Field": d.field, "Change": d.change, label[before]: json_text(d.before), label[after]: json_text(d.after)}
                        for d in changes
                    ]
                ),
                [RED_ROW if d.change == "removed" else AMBER_ROW if d.change == "changed" else None for d in changes],
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption(f"{label[before].capitalize()} and {label[after]} are identical.")

    earlier = [v for v in by_version if v != stored.mapping_version]
    if not earlier:
        return
    back_to = st.selectbox("Roll back to", earlier, format_func=label.get, key=f"studio.rollback.{stored.name}")
    sure = st.checkbox(
        f"Yes, make version {back_to}'s mapping active again (saved as version {stored.mapping_version + 1})",
        key=f"studio.rollback.sure.{stored.name}",
    )
    if st.button("Roll back", disabled=not sure, icon=":material/history:", key=f"studio.rollback.go.{stored.name}"):
        restored = rollback_mapping(engine(), stored.name, back_to, actor=auth.actor())
        state.replace_rows(stored.name, mapping_rows(restored.config.field_mapping))
        st.toast(f"Version {back_to} is active again (as version {restored.mapping_version}).", icon=":material/history:")
        st.rerun()


def functions_help() -> None:
    with st.expander("Expression help: paths, constants and functions"):
        st.markdown(
            "- a field: `customer.name`; keys with dashes as they are: `order-id`\n"
            "- a text constant in single quotes: `'central'`; numbers and true/false in backticks: `` `1` ``\n"
            "- lists: `items[].sku`, filters: ``items[?qty > `0`]``; any JMESPath works\n"
            "- a path missing from the record gives no value (a required field then rejects the record)\n"
            "- arithmetic is exact (decimal): ``divide(amount_total, `100`)``, `sum(items[].multiply(quantity, price))`\n"
            "- local times of the client's zone become UTC: `to_datetime(fecha, '%d/%m/%Y %H:%M', 'America/Guatemala')`\n"
            "- the preview shows values as ingest stores them: numbers as numbers, date-times in UTC"
        )
        st.dataframe(
            pd.DataFrame([{"Function": f.usage, "What it does": f.summary} for f in FUNCTIONS.values()]), hide_index=True, width="stretch"
        )


# ---------------------------------------------------------------- page
require_login(Action.USE_STUDIO)
st.title("Mapping studio")

integrations = list_integrations(engine())
if not integrations:
    st.info("No integrations yet. Create one first: the studio maps a client's records for one integration.")
    st.page_link("app_pages/integrations.py", label="Go to Integrations", icon=":material/add:")
    st.stop()

names = [i.name for i in integrations]
chosen = st.selectbox("Integration", names, key="studio.integration")
try:
    current = get_integration(engine(), chosen)
except IntegrationNotFound:
    st.warning(f"{chosen} was just deleted.")
    st.stop()
state.ensure(current.name, mapping_rows(active_mapping(current)))
st.caption(
    f"{TYPE_LABELS.get(current.config.type, current.config.type)} · target **{current.target}** · active "
    f"mapping version {current.mapping_version}"
    + ("" if current.config.field_mapping else " (none saved: records are read as the target's own fields)")
)

sample_records = load_sample(current)
editor_and_preview(current, sample_records)
st.divider()
backtest_section(current)
st.divider()
versions_section(current)
functions_help()
