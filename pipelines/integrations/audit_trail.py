"""What an integration change writes to the audit log: which kind of change it was (enabled,
disabled, mapping saved or rolled back, secrets rotated, edited) and a field-level diff in which a
secret's values are masked, so the log says a secret changed but never what it was or became."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from pipelines.access import audit
from pipelines.access.audit import MASK, AuditAction
from pipelines.integrations.model import Integration
from pipelines.integrations.secret_fields import split_secrets


def _plain(value: Any) -> Any:
    """JSON-safe copy (times, decimals as text) for the audit row's JSON column."""
    return json.loads(json.dumps(value, default=str))


def _secret(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def diff(before: Integration, after: Integration) -> tuple[dict[str, Any], list[str]]:
    """(the changed plain fields {field: {from, to}}, the dotted paths of secrets that changed)."""
    plain_before, secrets_before = split_secrets(before.model_dump(mode="python"))
    plain_after, secrets_after = split_secrets(after.model_dump(mode="python"))
    fields = audit.field_diff(_plain(plain_before), _plain(plain_after), set())
    secrets = sorted(
        path for path in set(secrets_before) | set(secrets_after) if _secret(secrets_before.get(path)) != _secret(secrets_after.get(path))
    )
    return fields, secrets


def record_update(conn: sa.Connection, actor: str, before: Integration, after: Integration, note: str | None) -> None:
    subject = f"integration:{after.name}"
    fields, secrets = diff(before, after)
    if secrets:
        audit.record(conn, actor, AuditAction.SECRETS_ROTATED, subject, {"secrets": {path: {"from": MASK, "to": MASK} for path in secrets}})
    if set(fields) == {"is_active"}:
        audit.record(conn, actor, AuditAction.INTEGRATION_ENABLED if after.is_active else AuditAction.INTEGRATION_DISABLED, subject)
        return
    mapping = fields.pop("field_mapping", None)
    if mapping is not None:
        rolled_back = bool(note and note.startswith("rollback to version"))
        audit.record(
            conn, actor, AuditAction.MAPPING_ROLLED_BACK if rolled_back else AuditAction.MAPPING_SAVED, subject, {"note": note, **mapping}
        )
    if fields:
        audit.record(conn, actor, AuditAction.INTEGRATION_EDITED, subject, {"changes": fields})


def record_created(conn: sa.Connection, actor: str, config: Integration) -> None:
    plain, secrets = split_secrets(config.model_dump(mode="python"))
    audit.record(
        conn,
        actor,
        AuditAction.INTEGRATION_CREATED,
        f"integration:{config.name}",
        {"type": config.type, "target": config.target, "secrets": {path: MASK for path in secrets if _secret(secrets[path])}},
    )


def record_archived(conn: sa.Connection, actor: str, name: str, held: dict[str, int]) -> None:
    audit.record(conn, actor, AuditAction.INTEGRATION_ARCHIVED, f"integration:{name}", {"held": held})


def record_restored(conn: sa.Connection, actor: str, name: str) -> None:
    audit.record(conn, actor, AuditAction.INTEGRATION_RESTORED, f"integration:{name}")


def record_purged(conn: sa.Connection, actor: str, name: str, discarded: dict[str, int], *, reason: str) -> None:
    audit.record(conn, actor, AuditAction.INTEGRATION_PURGED, f"integration:{name}", {"discarded": discarded, "reason": reason})
