"""The policy table, cell by cell: what each role may do, and the reason a refusal gives."""

from __future__ import annotations

import pytest

from pipelines.access.policy import POLICY, Action, Role, allowed, refusal

V, AN, OP, AD = Role.VIEWER, Role.ANALYST, Role.OPERATOR, Role.ADMIN
# The table written out: action -> the roles allowed it.
EXPECTED: dict[Action, set[Role]] = {
    Action.VIEW_DASHBOARD: {V, AN, OP, AD},
    Action.VIEW_HISTORY: {V, AN, OP, AD},
    Action.VIEW_REPORTS: {V, AN, OP, AD},
    Action.VIEW_INTEGRATIONS: {V, AN, OP, AD},
    Action.VIEW_ORDERS: {V, AN, OP, AD},
    Action.VIEW_DEAD_LETTERS: {V, AN, OP, AD},
    Action.VIEW_ALERTS: {V, AN, OP, AD},
    Action.USE_STUDIO: {AN, OP, AD},
    Action.SAVE_MAPPING: {AN, OP, AD},
    Action.SET_ORDER_STATUS: {OP, AD},
    Action.REPLAY: {OP, AD},
    Action.BACKFILL: {OP, AD},
    Action.ENABLE_INTEGRATION: {OP, AD},
    Action.ACKNOWLEDGE_ALERTS: {OP, AD},
    Action.MANAGE_INTEGRATIONS: {AD},
    Action.ROTATE_SECRETS: {AD},
    Action.MANAGE_USERS: {AD},
    Action.MANAGE_TOKENS: {AD},
    Action.MANAGE_CHANNELS: {AD},
    Action.MANAGE_ALERT_RULES: {AD},
    Action.VIEW_AUDIT: {AD},
    Action.PURGE: {AD},
}


def test_every_action_is_in_the_expected_table():
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_cell(role, action):
    assert allowed(role, action) is (role in EXPECTED[action])
    assert (action in POLICY[role]) is (role in EXPECTED[action])


def test_refusal_names_the_role_needed():
    assert refusal(Role.VIEWER, Action.REPLAY) == "the viewer role may not replay; it needs the operator role"
    assert refusal(Role.ADMIN, Action.PURGE) is None


def test_unknown_role_or_action_may_do_nothing():
    assert not allowed("root", Action.VIEW_DASHBOARD)
    assert not allowed(Role.ADMIN, "drop_tables")
