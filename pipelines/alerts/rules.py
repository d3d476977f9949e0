"""The alert rules: what each one watches, its parameters and their defaults, and the overrides people
save (globally, or for one integration).

Every rule is on from a fresh install with the defaults below; the store only holds what someone
changed (`alert_rules`). The effective settings of a rule for an integration are the built-in defaults,
then the global row, then the integration's row, key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.clock import utcnow
from pipelines.inbox.reporting import BACKLOG_MAX_AGE_SECONDS
from pipelines.sources.health import MAX_RECORD_ERROR_RATE
from pipelines.store.binds import Bind, connection, transaction
from pipelines.store.joins import live
from pipelines.store.schema import alert_rules, integrations

Scope = Literal["integration", "global"]

# Every rule has these; `for_minutes` holds a condition that long before it fires (0: at once).
COMMON_PARAMS: dict[str, tuple[float, str]] = {
    "renotify_minutes": (60, "while it lasts, notify again this often (0: never)"),
    "for_minutes": (0, "fire only once the condition has held this long"),
}


@dataclass(frozen=True)
class RuleKind:
    kind: str
    title: str
    scope: Scope
    description: str
    params: dict[str, tuple[float, str]] = field(default_factory=dict)  # name -> (default, meaning)

    def defaults(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: default for name, (default, _) in {**COMMON_PARAMS, **self.params}.items()}
        values["channels"] = None  # None: every enabled channel
        return values

    def param_help(self) -> dict[str, str]:
        return {name: meaning for name, (_, meaning) in {**self.params, **COMMON_PARAMS}.items()}


RULES: dict[str, RuleKind] = {
    rule.kind: rule
    for rule in (
        RuleKind(
            "sync_failed",
            "Last sync failed",
            "integration",
            "The integration's latest sync failed (a poll, query or file drop that could not finish).",
        ),
        RuleKind(
            "rejection_rate",
            "Rejection rate",
            "integration",
            "More than threshold_pct % of the records received over the window were rejected.",
            {
                "threshold_pct": (round(MAX_RECORD_ERROR_RATE * 100, 2), "rejected records, % of received"),
                "window_minutes": (60, "the window the rate is computed over"),
                "min_records": (20, "records needed in the window before the rate counts"),
            },
        ),
        RuleKind(
            "freshness",
            "Poll, pull or drop overdue",
            "integration",
            "A polled API or database stopped syncing (the dashboard's 'no sync hace …'), or a drop "
            "folder was not looked at within twice its interval.",
        ),
        RuleKind(
            "dead_letters",
            "Dead letters",
            "integration",
            "Inbox payloads that failed as a whole are waiting for a person; new ones notify at once.",
        ),
        RuleKind(
            "callbacks_failing",
            "Callbacks failing",
            "integration",
            "Status callbacks were given up on (dead letters), or the endpoint's latest attempt failed.",
            {"for_minutes": (2, "fire only once the condition has held this long")},
        ),
        RuleKind(
            "callbacks_disabled",
            "Callbacks stopped by a 410",
            "integration",
            "The client's callback endpoint answered 410 Gone: no callback is sent until a person resumes them.",
        ),
        RuleKind(
            "signature_failures",
            "Signature failures",
            "integration",
            "Many requests refused with 401 (bad signature or credential) over the window: someone probing, "
            "or a secret rotated on one side only.",
            {"threshold": (20, "refused requests in the window"), "window_minutes": (5, "the window")},
        ),
        RuleKind(
            "inbox_backlog",
            "Inbox backlog",
            "global",
            "Webhook payloads have waited to be processed longer than max_age_minutes.",
            {"max_age_minutes": (BACKLOG_MAX_AGE_SECONDS / 60, "age of the oldest waiting payload")},
        ),
        RuleKind(
            "dagster_failed_runs",
            "Dagster runs failing",
            "global",
            "Dagster runs failed over the window.",
            {"min_runs": (1, "failed runs in the window"), "window_minutes": (15, "the window")},
        ),
        RuleKind(
            "dagster_queue",
            "Dagster runs queued too long",
            "global",
            "A Dagster run has been queued longer than max_queued_minutes.",
            {"max_queued_minutes": (1, "age of the oldest queued run")},
        ),
    )
}


class RuleError(ValueError):
    """A rule change that cannot be saved; the message says why."""


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as it applies to one subject (an integration, or the whole install for global rules)."""

    kind: str
    integration_id: int | None
    enabled: bool
    params: dict[str, Any]
    overridden: bool = False  # this integration has its own row

    def value(self, name: str) -> float:
        return float(self.params[name])

    @property
    def channels(self) -> list[int] | None:
        return self.params.get("channels")


@dataclass
class RuleBook:
    """Every rule's saved overrides, read once per evaluation."""

    global_rows: dict[str, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    integration_rows: dict[tuple[str, int], tuple[bool, dict[str, Any]]] = field(default_factory=dict)

    def rule(self, kind: str, integration_id: int | None = None) -> EffectiveRule:
        spec = RULES[kind]
        params = spec.defaults()
        enabled = True
        if kind in self.global_rows:
            enabled, saved = self.global_rows[kind]
            params.update(saved)
        overridden = integration_id is not None and (kind, integration_id) in self.integration_rows
        if overridden:
            enabled, saved = self.integration_rows[(kind, integration_id)]  # type: ignore[index]
            params.update(saved)
        return EffectiveRule(kind, integration_id, enabled, params, overridden)

    def any_enabled(self, kind: str) -> bool:
        if self.rule(kind).enabled:
            return True
        return any(enabled for (k, _), (enabled, _) in self.integration_rows.items() if k == kind)

    def windows(self, kind: str, name: str = "window_minutes") -> set[float]:
        """Every distinct value of a parameter among the rule's global setting and its overrides."""
        values = {self.rule(kind).value(name)}
        values |= {self.rule(kind, integration_id).value(name) for k, integration_id in self.integration_rows if k == kind}
        return values


def load_rules(bind: Bind) -> RuleBook:
    book = RuleBook()
    with connection(bind) as conn:
        for row in conn.execute(sa.select(alert_rules)):
            if row.kind not in RULES:
                continue  # a rule a newer version added, read by an older one
            saved = (bool(row.enabled), dict(row.params or {}))
            if row.integration_id is None:
                book.global_rows[row.kind] = saved
            else:
                book.integration_rows[(row.kind, row.integration_id)] = saved
    return book


def clean_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Only known parameters, as numbers (channels: a list of channel ids or None); raises RuleError."""
    spec = RULES[kind]
    allowed = {**COMMON_PARAMS, **spec.params}
    cleaned: dict[str, Any] = {}
    for name, value in params.items():
        if name == "channels":
            if value is not None and not (isinstance(value, list) and all(isinstance(v, int) for v in value)):
                raise RuleError("channels must be a list of channel ids, or empty for every channel")
            cleaned[name] = value
            continue
        if name not in allowed:
            raise RuleError(f"{spec.title} has no parameter {name!r} (it has: {', '.join(sorted(allowed))})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RuleError(f"{name} must be a number, got {value!r}") from None
        if number < 0:
            raise RuleError(f"{name} must be 0 or more, got {value!r}")
        cleaned[name] = int(number) if number.is_integer() else number
    return cleaned


def save_rule(bind: Bind, kind: str, *, enabled: bool, params: Mapping[str, Any], actor: str, integration_id: int | None = None) -> None:
    """Set a rule globally (`integration_id` None) or for one integration; `params` holds only what
    differs from the level below (the defaults, or the global rule)."""
    if kind not in RULES:
        raise RuleError(f"unknown rule {kind!r}")
    if integration_id is not None and RULES[kind].scope == "global":
        raise RuleError(f"{RULES[kind].title} is one rule for the whole install; it has no per-integration setting")
    values = {"enabled": enabled, "params": clean_params(kind, params), "updated_at": utcnow(), "updated_by": actor}
    with transaction(bind) as conn:
        if (
            integration_id is not None
            and conn.execute(sa.select(integrations.c.id).where(integrations.c.id == integration_id, live())).first() is None
        ):
            raise RuleError(f"no integration with id {integration_id}")
        where = _where(kind, integration_id)
        if conn.execute(alert_rules.update().where(*where).values(**values)).rowcount == 0:
            conn.execute(alert_rules.insert().values(kind=kind, integration_id=integration_id, **values))
        audit.record(
            conn, actor, AuditAction.ALERT_RULE_SAVED, _subject(kind, integration_id), {"enabled": enabled, "params": values["params"]}
        )


def reset_rule(bind: Bind, kind: str, integration_id: int | None = None, *, actor: str) -> bool:
    """Back to the defaults (global) or to the global rule (an integration's override)."""
    with transaction(bind) as conn:
        removed = conn.execute(alert_rules.delete().where(*_where(kind, integration_id))).rowcount > 0
        if removed:
            audit.record(conn, actor, AuditAction.ALERT_RULE_RESET, _subject(kind, integration_id))
        return removed


def _subject(kind: str, integration_id: int | None) -> str:
    """The audit log's subject: "alert_rule:sync_failed" (global) or "alert_rule:sync_failed:integration:3"."""
    return f"alert_rule:{kind}" + (f":integration:{integration_id}" if integration_id is not None else "")


def _where(kind: str, integration_id: int | None) -> list:
    owner = alert_rules.c.integration_id
    return [alert_rules.c.kind == kind, owner.is_(None) if integration_id is None else owner == integration_id]
