"""Which policy action each admin route is: one table, so a new route without an entry is refused to
everyone but admins (fail closed) rather than open to every token."""

from __future__ import annotations

from pipelines.access.policy import Action

ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    ("POST", "/integrations"): Action.MANAGE_INTEGRATIONS,
    ("GET", "/integrations"): Action.VIEW_INTEGRATIONS,
    ("GET", "/integrations/{name}"): Action.VIEW_INTEGRATIONS,
    ("PATCH", "/integrations/{name}"): Action.MANAGE_INTEGRATIONS,  # only is_active: ENABLE_INTEGRATION
    ("DELETE", "/integrations/{name}"): Action.MANAGE_INTEGRATIONS,  # archives
    ("GET", "/archived-integrations"): Action.MANAGE_INTEGRATIONS,
    ("POST", "/archived-integrations/{name}/restore"): Action.MANAGE_INTEGRATIONS,
    ("DELETE", "/archived-integrations/{name}"): Action.PURGE,
    ("GET", "/orders"): Action.VIEW_ORDERS,
    ("GET", "/customers"): Action.VIEW_ORDERS,
    ("GET", "/identifiers/{code}"): Action.VIEW_ORDERS,
    ("POST", "/identifiers"): Action.MANAGE_INTEGRATIONS,
    ("GET", "/inbox"): Action.VIEW_DEAD_LETTERS,
    ("POST", "/inbox/{inbox_id}/replay"): Action.REPLAY,
    ("POST", "/integrations/{name}/inbox/replay"): Action.REPLAY,
    ("POST", "/orders/{internal_id}/status"): Action.SET_ORDER_STATUS,
    ("GET", "/callbacks"): Action.VIEW_DEAD_LETTERS,
    ("GET", "/orders/{internal_id}/callbacks"): Action.VIEW_ORDERS,
    ("POST", "/callbacks/{callback_id}/replay"): Action.REPLAY,
    ("POST", "/integrations/{name}/callbacks/replay"): Action.REPLAY,
    ("POST", "/integrations/{name}/callbacks/resume"): Action.REPLAY,
    ("GET", "/audit"): Action.VIEW_AUDIT,
    ("GET", "/tokens"): Action.MANAGE_TOKENS,
    ("POST", "/tokens"): Action.MANAGE_TOKENS,
    ("DELETE", "/tokens/{name}"): Action.MANAGE_TOKENS,
}


def route_action(method: str, path: str, body: object = None) -> Action:
    """The action a request to the route `path` (its template) is; a PATCH that only switches an
    integration on or off is the operator's ENABLE_INTEGRATION."""
    if method == "PATCH" and path == "/integrations/{name}" and isinstance(body, dict) and body and set(body) <= {"is_active"}:
        return Action.ENABLE_INTEGRATION
    return ROUTE_ACTIONS.get((method, path), Action.MANAGE_USERS)
