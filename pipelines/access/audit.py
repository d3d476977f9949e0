"""The audit log: who changed what, appended in the same transaction as the change it records.

Rows are only ever inserted; the listing pages like every admin list (newest first, opaque cursor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc, utcnow
from pipelines.paging import Page, page_of
from pipelines.store.schema import audit_log

MASK = "••••••••"


class AuditAction(StrEnum):
    INTEGRATION_CREATED = "integration.created"
    INTEGRATION_EDITED = "integration.edited"
    INTEGRATION_ENABLED = "integration.enabled"
    INTEGRATION_DISABLED = "integration.disabled"
    # Entries written before deleting became archiving; nothing records it any more.
    INTEGRATION_DELETED = "integration.deleted"
    INTEGRATION_ARCHIVED = "integration.archived"
    INTEGRATION_RESTORED = "integration.restored"
    INTEGRATION_PURGED = "integration.purged"
    MAPPING_SAVED = "mapping.saved"
    MAPPING_ROLLED_BACK = "mapping.rolled_back"
    SECRETS_ROTATED = "secrets.rotated"
    ORDER_STATUS_SET = "order.status_set"
    REPLAYED = "replayed"
    REINGESTED = "reingested"
    USER_ADDED = "user.added"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_PASSWORD_CHANGED = "user.password_changed"
    USER_UNLOCKED = "user.unlocked"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_SNOOZED = "alert.snoozed"
    ALERT_UNSNOOZED = "alert.unsnoozed"
    ALERT_RULE_SAVED = "alert_rule.saved"
    ALERT_RULE_RESET = "alert_rule.reset"
    CHANNEL_SAVED = "channel.saved"
    CHANNEL_DELETED = "channel.deleted"


def record(conn: sa.Connection, actor: str, action: AuditAction, subject: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry (in the caller's transaction: the change and its record commit together)."""
    conn.execute(
        audit_log.insert().values(
            at=utcnow(), actor=actor[:255], action=action.value, subject=subject[:255] if subject else None, details=details
        )
    )


def field_diff(before: dict[str, Any], after: dict[str, Any], secret_fields: set[str]) -> dict[str, Any]:
    """{field: {"from", "to"}} for every top-level field that changed; a secret's values are masked,
    so the log says a secret changed without saying what to."""
    diff: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key in secret_fields:
            old, new = (MASK if old else None), (MASK if new else None)
        diff[key] = {"from": old, "to": new}
    return diff


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who (`user:ana`, `token:ci`), did what, to what, with which details."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any] | None


def entries(
    conn: sa.Connection,
    *,
    action: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[AuditEntry]:
    """A page of entries, newest first, optionally of one action, actor and/or subject, since a time."""
    query = sa.select(audit_log)
    if action:
        query = query.where(audit_log.c.action == action)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if subject:
        query = query.where(audit_log.c.subject == subject)
    if since:
        query = query.where(audit_log.c.at >= since)
    return page_of(
        conn, query, audit_log.c.id, cursor=cursor, limit=limit, convert=lambda row: AuditEntry(**{**row, "at": as_utc(row["at"])})
    )
