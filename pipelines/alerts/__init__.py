"""Alerts that reach people: rules evaluated over the facts the dashboard shows, an alert life cycle
kept in the store (pending → open → resolved, reminders, acknowledge, snooze, history), channels, and
a notification outbox. Sending is `connectors.notify`; the Dagster sensor that runs it all is
`assets/alerts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipelines.alerts.conditions import Condition, DagsterFacts, alert_key, classify, classify_dagster, evaluate, gather_store_facts
from pipelines.alerts.lifecycle import (
    AlertNotFound,
    Transitions,
    acknowledge,
    alert_events_for,
    alert_history,
    live_alerts,
    live_by_key,
    reconcile,
    snooze,
    unsnooze,
)
from pipelines.alerts.rules import RULES, RuleBook, RuleError, load_rules, reset_rule, save_rule
from pipelines.clock import utcnow


@dataclass(frozen=True)
class Evaluation:
    conditions: list[Condition]
    transitions: Transitions
    evaluated: set[str]


def evaluate_alerts(
    engine: sa.Engine, dagster: DagsterFacts | None, now: datetime | None = None, book: RuleBook | None = None
) -> Evaluation:
    """One evaluation: read the rules and the facts, find the conditions, move the alerts, queue the
    notifications. `dagster` None: the Dagster rules are not evaluated this time (their alerts stay)."""
    now = now or utcnow()
    book = book or load_rules(engine)
    store = gather_store_facts(engine, book, now)
    conditions, evaluated = evaluate(book, store, dagster)
    try:
        transitions = reconcile(engine, book, conditions, evaluated, set(store.active), now)
    except sa.exc.IntegrityError:
        # Another evaluator opened the same alert (or queued the same message) at the same moment:
        # its rows are there now, and reconciling again finds them instead of adding its own.
        transitions = reconcile(engine, book, conditions, evaluated, set(store.active), now)
    return Evaluation(conditions, transitions, evaluated)


__all__ = [
    "RULES",
    "AlertNotFound",
    "Condition",
    "DagsterFacts",
    "Evaluation",
    "RuleBook",
    "RuleError",
    "Transitions",
    "acknowledge",
    "alert_events_for",
    "alert_history",
    "alert_key",
    "classify",
    "classify_dagster",
    "evaluate_alerts",
    "live_alerts",
    "live_by_key",
    "load_rules",
    "reset_rule",
    "save_rule",
    "snooze",
    "unsnooze",
]
