"""Who runs a CLI command, and whether their role lets them.

`CROSSDOCK_TOKEN` set: the command runs as that API token's user or service, with its role (so a
shared machine can hand an analyst a token that cannot delete integrations). Unset: whoever runs the
CLI holds the store and its keys on this machine, which is the bootstrap admin (`cli:<os user>`).
"""

from __future__ import annotations

import os

from crossdock.cli_common import default_actor, fail
from pipelines.access.policy import Action, Role, refusal

TOKEN_VARIABLE = "CROSSDOCK_TOKEN"


def caller() -> tuple[str, Role]:
    """(actor, role) of this command; exits 1 when CROSSDOCK_TOKEN is set but refused."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        return default_actor(), Role.ADMIN
    from pipelines.access.tokens import resolve
    from pipelines.store import connect

    resolved = resolve(connect(), token)
    if isinstance(resolved, str):
        fail(f"{TOKEN_VARIABLE}: {resolved}")
        raise AssertionError  # fail exits
    return resolved.actor, resolved.role


def require(action: Action) -> str:
    """The actor to record, once the caller's role may do `action`; else exit 3 with the reason."""
    actor, role = caller()
    reason = refusal(role, action)
    if reason:
        fail(f"{actor}: {reason}", 3)
    return actor


def acting(action: Action, declared: str | None) -> str:
    """`require(action)`, recording the `--actor` a person declared only when no token says who they are."""
    actor = require(action)
    return declared if declared and not os.environ.get(TOKEN_VARIABLE, "").strip() else actor
