"""The "Test connection" of api and db integrations, saved or still in the form: the connectors' own probes
(`probe_api`, `probe_db`) fetch a sample the way a poll would, and the first record is shown beside
what the integration's mapping makes of it, so the operator sees whether records would land.

The answer stays on screen while the configuration it tested is unchanged (a digest of it, secrets
included, is kept in the session; the secrets themselves are not).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import streamlit as st
from pydantic import SecretStr

from app.ui import show_issues
from connectors.rest.probe import probe_api
from connectors.sql.probe import probe_db
from pipelines.integrations import Integration
from pipelines.sources.probe import Probe
from pipelines.studio.preview import stored_values

PROBES: dict[str, Callable[[Integration], Probe]] = {"api": probe_api, "db": probe_db}
_UNIT = {"api": ("record", "on the first page"), "db": ("row", "read")}


def _digest(config: Integration) -> str:
    dumped = config.model_dump(mode="python")
    text = json.dumps(dumped, sort_keys=True, default=lambda v: v.get_secret_value() if isinstance(v, SecretStr) else str(v))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """Database values (decimals, dates) as the JSON a person reads."""
    return json.loads(json.dumps(value, default=str))


def testable(config: Integration | None) -> bool:
    return config is not None and config.type in PROBES


def test_button(config: Integration, key: str) -> None:
    """The "Test connection" button; a click runs the probe and keeps its answer for `show_result`."""
    if st.button(
        "Test connection",
        key=f"{key}.test",
        icon=":material/network_check:",
        help="Fetches a sample the way a poll would (the API's first page, the query's first rows) and "
        "maps the first record. Nothing is stored; bounded to a few seconds.",
    ):
        with st.spinner("Testing the connection…"):
            st.session_state[f"{key}.probe"] = (_digest(config), PROBES[config.type](config))


def show_result(config: Integration, key: str) -> None:
    """The last test's answer, while the configuration is the one it tested."""
    tested = st.session_state.get(f"{key}.probe")
    if tested and tested[0] == _digest(config):
        render_probe(config.type, tested[1], config.target)
    elif tested:
        st.caption("The configuration changed since the last connection test: test again.")


def render_connection_test(config: Integration, key: str) -> None:
    test_button(config, key)
    show_result(config, key)


def render_probe(kind: str, probe: Probe, target: str) -> None:
    """What the probe found: reachable or not and why, how many records, the first one and its fate."""
    noun, where = _UNIT[kind]
    took = f"{probe.elapsed_ms:,.0f} ms"
    if probe.ok and probe.records:
        st.success(f"Reachable ({probe.status}): {probe.records} {noun}(s) {where}, in {took}.")
    elif probe.ok:
        st.info(
            f"Reachable ({probe.status}), but no {noun}s {where}: nothing to pull right now, or the "
            f"{'endpoint filters' if kind == 'api' else 'query filters'} everything out. ({took})"
        )
    elif probe.reachable:
        st.error(f"Reached ({probe.status}), but no records could be read: {probe.error}")
    else:
        st.error(f"Not reachable: {probe.error}")
    st.caption(f"Tested `{probe.source}`" + "".join(f" · {note}" for note in probe.notes))
    if not probe.records:
        return
    source, mapped = st.columns(2)
    with source:
        st.markdown(f"**First {noun}** (as the source gives it)")
        st.json(_plain(probe.first), expanded=True)
    with mapped:
        st.markdown("**Mapped** (as ingest would store it, with this integration's mapping)")
        verdict = probe.verdict
        if verdict is None:
            st.warning("Not mapped: the mapping does not compile. Fix it in the mapping studio.")
            return
        st.json(stored_values(target, verdict), expanded=True)
        if verdict.ok:
            st.success("Would land: valid record.")
        else:
            show_issues(verdict.reasons, "Would be rejected:")
