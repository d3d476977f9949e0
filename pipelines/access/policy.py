"""The one policy table: which role may do which action, read by the admin API, the app and the CLI.

Roles are cumulative (each has everything of the one before): a viewer reads (alerts included), an
analyst also edits mappings, an operator also changes statuses, replays, switches integrations on and
off and acknowledges or snoozes alerts (the day-to-day running), an admin also manages integrations,
secrets, users, tokens, alert rules and channels. The table is written out in full
(not derived from the order) so a reader, and a test, see each cell.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    OPERATOR = "operator"
    ADMIN = "admin"


class Action(StrEnum):
    # viewer
    VIEW_DASHBOARD = "view_dashboard"
    VIEW_HISTORY = "view_history"
    VIEW_REPORTS = "view_reports"
    VIEW_INTEGRATIONS = "view_integrations"
    VIEW_ORDERS = "view_orders"
    VIEW_DEAD_LETTERS = "view_dead_letters"
    VIEW_ALERTS = "view_alerts"
    # analyst
    USE_STUDIO = "use_studio"
    SAVE_MAPPING = "save_mapping"
    # operator
    SET_ORDER_STATUS = "set_order_status"
    REPLAY = "replay"
    BACKFILL = "backfill"
    ENABLE_INTEGRATION = "enable_integration"
    ACKNOWLEDGE_ALERTS = "acknowledge_alerts"  # acknowledge, snooze, unsnooze
    # admin
    MANAGE_INTEGRATIONS = "manage_integrations"
    ROTATE_SECRETS = "rotate_secrets"
    MANAGE_USERS = "manage_users"
    MANAGE_TOKENS = "manage_tokens"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_ALERT_RULES = "manage_alert_rules"
    VIEW_AUDIT = "view_audit"
    PURGE = "purge"


_VIEWER = frozenset(
    {
        Action.VIEW_DASHBOARD,
        Action.VIEW_HISTORY,
        Action.VIEW_REPORTS,
        Action.VIEW_INTEGRATIONS,
        Action.VIEW_ORDERS,
        Action.VIEW_DEAD_LETTERS,
        Action.VIEW_ALERTS,
    }
)
_ANALYST = _VIEWER | {Action.USE_STUDIO, Action.SAVE_MAPPING}
_OPERATOR = _ANALYST | {Action.SET_ORDER_STATUS, Action.REPLAY, Action.BACKFILL, Action.ENABLE_INTEGRATION, Action.ACKNOWLEDGE_ALERTS}
_ADMIN = frozenset(Action)

POLICY: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.ANALYST: frozenset(_ANALYST),
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.ADMIN: _ADMIN,
}


def allowed(role: Role | str, action: Action | str) -> bool:
    """Whether `role` may do `action`; an unknown role or action may do nothing (fail closed)."""
    try:
        return Action(action) in POLICY[Role(role)]
    except ValueError:
        return False


def least_role(action: Action) -> Role:
    """The first role (viewer → admin) allowed `action`: what a refusal tells the caller to ask for."""
    return next(role for role in Role if action in POLICY[role])


def refusal(role: Role | str, action: Action) -> str | None:
    """Why `role` may not do `action` (for a 403 or an error line), or None when it may."""
    if allowed(role, action):
        return None
    return f"the {role} role may not {action.value.replace('_', ' ')}; it needs the {least_role(action)} role"
