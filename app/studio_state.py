"""The mapping studio's per-integration session state: the editor's rows, its revision, the mapping
the table currently holds, and the last backtest.

`st.data_editor` keeps the user's edits as deltas on top of the data it was given. When code replaces
the rows (a path picked, a mapping pasted, a version rolled back), the editor gets new data and a new
key (the revision), so old deltas never apply to new rows.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pipelines.studio.backtest import BacktestResult


def _key(kind: str, name: str) -> str:
    return f"studio.{kind}.{name}"


def ensure(name: str, active_rows: list[dict[str, Any]]) -> None:
    """Start the table from the active mapping the first time an integration is opened."""
    st.session_state[_key("active_rows", name)] = active_rows
    if _key("rows", name) not in st.session_state:
        st.session_state[_key("rows", name)] = active_rows
        st.session_state[_key("rev", name)] = 0


def rows(name: str) -> list[dict[str, Any]]:
    return st.session_state[_key("rows", name)]


def editor_key(name: str) -> str:
    return f"studio.editor.{name}.{st.session_state[_key('rev', name)]}"


def replace_rows(name: str, new_rows: list[dict[str, Any]]) -> None:
    st.session_state[_key("rows", name)] = new_rows
    st.session_state[_key("rev", name)] = st.session_state.get(_key("rev", name), 0) + 1


def remember_rows(name: str, current_rows: list[dict[str, Any]]) -> None:
    """The rows as the table shows them now (base rows plus the user's edits), for button callbacks."""
    st.session_state[_key("current_rows", name)] = current_rows


def current_rows(name: str) -> list[dict[str, Any]]:
    return st.session_state.get(_key("current_rows", name), rows(name))


def say(name: str, message: str) -> None:
    """A message from a callback, shown once on the next run."""
    st.session_state[_key("message", name)] = message


def said(name: str) -> str | None:
    return st.session_state.pop(_key("message", name), None)


def reset(name: str) -> None:
    replace_rows(name, st.session_state[_key("active_rows", name)])


def remember(name: str, mapping: dict[str, Any], problems: list[str], issues: list) -> None:
    """What the table holds after this run, for the sections outside the editor's fragment."""
    st.session_state[_key("current", name)] = (mapping, problems, issues)


def current(name: str) -> tuple[dict[str, Any], list[str], list]:
    return st.session_state.get(_key("current", name), ({}, [], []))


def keep_backtest(name: str, mapping: dict[str, Any], result: BacktestResult) -> None:
    st.session_state[_key("backtest", name)] = (dict(mapping), result)


def backtest(name: str) -> tuple[dict[str, Any], BacktestResult] | None:
    return st.session_state.get(_key("backtest", name))


def keep_save_check(name: str, mapping: dict[str, Any], result: BacktestResult) -> None:
    """A save that would reject records landing today, kept until it is confirmed or the table changes.
    Each check gets a new token, so its confirmation checkbox starts unticked."""
    token = st.session_state.get(_key("save_check_token", name), 0) + 1
    st.session_state[_key("save_check_token", name)] = token
    st.session_state[_key("save_check", name)] = (dict(mapping), result, token)


def save_check(name: str) -> tuple[dict[str, Any], BacktestResult, int] | None:
    return st.session_state.get(_key("save_check", name))


def forget_save_check(name: str) -> None:
    st.session_state.pop(_key("save_check", name), None)
