"""What is wrong right now, rule by rule: the facts, read once per evaluation from the same functions
the dashboard and the Reports page use, and the conditions the enabled rules find in them.

The dashboard's "needs a person" lines and these conditions come from one source: the dashboard
draws `pipelines.ops.monitoring.integration_health`'s problems, and `classify` turns the same problem
phrases into rule kinds here (and, for the dashboard, into the key of the alert to link to). Facts the
dashboard does not show as a line (rejection rate over a window, signature failures, a drop folder not
looked at, Dagster's failed runs) come from `pipelines.ops.reports`, the inbox's refused rows,
`pipelines.sources.health` and the Dagster instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipelines.alerts.rules import RULES, RuleBook
from pipelines.callbacks.queries import CallbackHealth, callback_summary
from pipelines.clock import as_utc, iso
from pipelines.inbox import REJECTED
from pipelines.ops.monitoring import Backlog, IntegrationHealth, Problem, ProblemKind, backlog, integration_health, waiting_for
from pipelines.ops.reports import error_reasons, period_report
from pipelines.sources.health import STALE_FACTOR, PullHealth, pull_health
from pipelines.store.engine import reader
from pipelines.store.schema import inbox

# A refused request whose answer was 401: a bad or missing signature or credential.
SIGNATURE_FAILURE_PREFIX = "401:"
STORE_KINDS = frozenset(kind for kind in RULES if not kind.startswith("dagster_"))
DAGSTER_KINDS = frozenset(kind for kind in RULES if kind.startswith("dagster_"))


def alert_key(kind: str, integration_id: int | None = None) -> str:
    """The one name of an alert's subject: "sync_failed:integration:3", or "inbox_backlog"."""
    return kind if integration_id is None else f"{kind}:integration:{integration_id}"


# The rule watching each kind of dashboard line. A rejection in the last sync links to the rejection-rate
# rule, which judges it over its window rather than line by line.
_RULE_OF: dict[ProblemKind, str] = {
    ProblemKind.SYNC_FAILED: "sync_failed",
    ProblemKind.REJECTED: "rejection_rate",
    ProblemKind.REJECTED_REPEAT: "rejection_rate",
    ProblemKind.DEAD_LETTERS: "dead_letters",
    ProblemKind.CALLBACKS_UNDELIVERED: "callbacks_failing",
    ProblemKind.CALLBACKS_STOPPED: "callbacks_disabled",
    ProblemKind.STALE: "freshness",
}


def classify(problem: Problem) -> str | None:
    """The rule kind behind one of `integration_health`'s problem lines (None: no rule watches it)."""
    return _RULE_OF.get(problem.kind)


def classify_dagster(problem: str) -> str | None:
    """The rule kind behind one of the dashboard's Dagster lines (`DagsterLoad.problems()`). The daemon
    being silent has none: the alerts sensor runs in that daemon, so it cannot report its silence."""
    return "dagster_queue" if problem.startswith("Dagster is behind") else None


# Kinds whose condition is exactly a dashboard problem line.
DASHBOARD_KINDS = frozenset({"sync_failed", "freshness", "dead_letters", "callbacks_failing", "callbacks_disabled"})


@dataclass(frozen=True)
class Condition:
    """One thing a rule finds wrong now. `count` is what it counts (dead letters, failed runs), when it counts."""

    key: str
    kind: str
    integration_id: int | None
    subject: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    count: int | None = None


@dataclass
class DagsterFacts:
    """The run queue and failed runs, read from the Dagster instance by the sensor (assets/alerts.py)."""

    queued: int = 0
    oldest_queued_seconds: float | None = None
    oldest_queued_job: str | None = None
    queued_per_class: dict[str, int] = field(default_factory=dict)
    failed_runs: dict[float, list[tuple[str, str]]] = field(default_factory=dict)  # window minutes -> (run id, job)


@dataclass
class StoreFacts:
    now: datetime
    health: list[IntegrationHealth]
    backlog: Backlog | None = None
    callbacks: list[CallbackHealth] = field(default_factory=list)
    # window -> integration name -> (received, rejected, top reason)
    rejections: dict[float, dict[str, tuple[int, int, str | None]]] = field(default_factory=dict)
    drops: list[PullHealth] = field(default_factory=list)
    signature_failures: dict[float, dict[int, tuple[int, str | None]]] = field(default_factory=dict)  # window -> id -> (count, last)

    @property
    def active(self) -> dict[int, IntegrationHealth]:
        return {item.id: item for item in self.health if item.is_active}


def gather_store_facts(engine: sa.Engine, book: RuleBook, now: datetime) -> StoreFacts:
    """Read what the enabled rules need, and nothing else (a disabled rule costs no query)."""
    read = reader(engine)
    facts = StoreFacts(now=now, health=integration_health(read, now))
    if book.any_enabled("inbox_backlog") or book.any_enabled("dead_letters"):
        facts.backlog = backlog(read)
    if book.any_enabled("callbacks_failing"):
        facts.callbacks = callback_summary(read)
    if book.any_enabled("rejection_rate"):
        for window in book.windows("rejection_rate"):
            facts.rejections[window] = _rejections(read, now - timedelta(minutes=window), now)
    if book.any_enabled("freshness") and any(item.type == "file" and item.is_active for item in facts.health):
        facts.drops = pull_health(read, "file", now)
    if book.any_enabled("signature_failures"):
        for window in book.windows("signature_failures"):
            facts.signature_failures[window] = _signature_failures(read, now - timedelta(minutes=window))
    return facts


def _rejections(engine: sa.Engine, start: datetime, end: datetime) -> dict[str, tuple[int, int, str | None]]:
    """Per integration: records received and rejected in [start, end), as the Reports page counts them."""
    report = period_report(engine, start, end)
    found: dict[str, tuple[int, int, str | None]] = {}
    for row in report.itertuples():
        if row.integration == "TOTAL" or not row.received:
            continue
        reason = None
        if row.errors:
            reasons = error_reasons(engine, start, end, [row.integration], limit=1)
            reason = str(reasons.iloc[0]["reason"]) if len(reasons) else None
        found[str(row.integration)] = (int(row.received), int(row.errors), reason)
    return found


def _signature_failures(engine: sa.Engine, since: datetime) -> dict[int, tuple[int, str | None]]:
    """Requests refused with 401 since `since`, per integration, with the latest refusal's reason."""
    refused = sa.and_(inbox.c.status == REJECTED, inbox.c.error.like(f"{SIGNATURE_FAILURE_PREFIX}%"), inbox.c.received_at >= since)
    with engine.connect() as conn:
        counts = conn.execute(
            sa.select(inbox.c.integration_id, sa.func.count(), sa.func.max(inbox.c.id)).where(refused).group_by(inbox.c.integration_id)
        ).all()
        last_ids = [row[2] for row in counts]
        reasons = (
            dict(conn.execute(sa.select(inbox.c.id, inbox.c.error).where(inbox.c.id.in_(last_ids))).tuples().all()) if last_ids else {}
        )
    return {integration_id: (count, reasons.get(last_id)) for integration_id, count, last_id in counts}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def evaluate(book: RuleBook, store: StoreFacts | None, dagster: DagsterFacts | None) -> tuple[list[Condition], set[str]]:
    """The conditions the enabled rules find, and the kinds that were evaluated (a kind whose facts
    could not be read is not, so its open alerts stay as they are instead of looking resolved)."""
    found: dict[str, Condition] = {}
    evaluated: set[str] = set()

    def add(condition: Condition) -> None:
        if book.rule(condition.kind, condition.integration_id).enabled:
            found.setdefault(condition.key, condition)

    if store is not None:
        evaluated |= STORE_KINDS
        _integration_conditions(book, store, add)
        _global_store_conditions(book, store, add)
    if dagster is not None:
        evaluated |= DAGSTER_KINDS
        _dagster_conditions(book, dagster, add)
    return list(found.values()), evaluated


def _condition(kind: str, item: IntegrationHealth, summary: str, **details: Any) -> Condition:
    count = details.pop("count", None)
    return Condition(alert_key(kind, item.id), kind, item.id, item.name, summary, {"integration": item.name, **details}, count)


def _integration_conditions(book: RuleBook, store: StoreFacts, add) -> None:
    active = store.active
    per = store.backlog.per_integration if store.backlog else {}
    for item in active.values():
        for problem in item.problems:
            kind = classify(problem)
            if kind not in DASHBOARD_KINDS:
                continue
            count = None
            if kind == "dead_letters":
                count = per.get(item.name, {}).get("inbox_dead")
            add(_condition(kind, item, problem, count=count, last_error=item.last_error))
    by_name = {i.name: i for i in active.values()}
    for entry in store.callbacks:  # an endpoint failing now, before anything is given up on
        found = by_name.get(entry.integration)
        if found is None or not entry.failing:
            continue
        add(
            _condition(
                "callbacks_failing",
                found,
                f"the latest callback attempt failed ({entry.last_result}) at {iso(entry.last_attempt_at)}",
                pending=entry.counts.get("pending", 0),
            )
        )
    for drop in store.drops:
        found = by_name.get(drop.name)
        if found is None or not drop.stale(store.now) or any(classify(p) == "sync_failed" for p in found.problems):
            continue  # a failing drop folder is the sync_failed alert's; this one is for a folder nobody looks at
        since = drop.last_success or drop.created_at
        add(
            _condition(
                "freshness",
                found,
                f"drop folder not looked at for {waiting_for(since, store.now)} "
                f"(looked at every {drop.interval} s, overdue after {STALE_FACTOR}×)",
            )
        )
    for item in active.values():
        rule = book.rule("rejection_rate", item.id)
        window = rule.value("window_minutes")
        received, rejected, reason = store.rejections.get(window, {}).get(item.name, (0, 0, None))
        if received and received >= rule.value("min_records") and 100.0 * rejected / received > rule.value("threshold_pct"):
            rate = 100.0 * rejected / received
            add(
                _condition(
                    "rejection_rate",
                    item,
                    f"{rate:.1f} % of records rejected over the last {window:g} min ({rejected} of {received})"
                    + (f", mostly {reason}" if reason else ""),
                    received=received,
                    rejected=rejected,
                    top_reason=reason,
                    rate_pct=round(rate, 2),
                )
            )
        rule = book.rule("signature_failures", item.id)
        window = rule.value("window_minutes")
        count, last = store.signature_failures.get(window, {}).get(item.id, (0, None))
        if count and count >= rule.value("threshold"):
            add(
                _condition(
                    "signature_failures",
                    item,
                    f"{_plural(count, 'request', 'requests')} refused with 401 in the last {window:g} min (latest: {last or 'no detail'})",
                    count=count,
                    latest=last,
                )
            )


def _global_store_conditions(book: RuleBook, store: StoreFacts, add) -> None:
    waiting = store.backlog
    if waiting is not None and waiting.inbox_oldest_pending_at is not None:
        age = (store.now - as_utc(waiting.inbox_oldest_pending_at)).total_seconds()
        if age > book.rule("inbox_backlog").value("max_age_minutes") * 60:
            add(
                Condition(
                    alert_key("inbox_backlog"),
                    "inbox_backlog",
                    None,
                    "Inbox",
                    f"{waiting.inbox_pending} payload(s) waiting, the oldest for {waiting_for(waiting.inbox_oldest_pending_at, store.now)}",
                    {"pending": waiting.inbox_pending, "oldest_seconds": round(age)},
                )
            )


def _dagster_conditions(book: RuleBook, dagster: DagsterFacts, add) -> None:
    rule = book.rule("dagster_queue")
    oldest = dagster.oldest_queued_seconds or 0.0
    if oldest > rule.value("max_queued_minutes") * 60:
        waiting = ", ".join(f"{n} {name}" for name, n in sorted(dagster.queued_per_class.items()) if n)
        add(
            Condition(
                alert_key("dagster_queue"),
                "dagster_queue",
                None,
                "Dagster",
                f"{dagster.queued} run(s) queued ({waiting}), the oldest ({dagster.oldest_queued_job}) for {oldest / 60:.0f} min"
                if oldest >= 120
                else f"{dagster.queued} run(s) queued ({waiting}), the oldest ({dagster.oldest_queued_job}) for {oldest:.0f} s",
                {"queued": dagster.queued, "oldest_seconds": round(oldest)},
            )
        )
    rule = book.rule("dagster_failed_runs")
    window = rule.value("window_minutes")
    failed = dagster.failed_runs.get(window, [])
    if failed and len(failed) >= rule.value("min_runs"):
        shown = ", ".join(f"{job} ({run_id[:8]})" for run_id, job in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        add(
            Condition(
                alert_key("dagster_failed_runs"),
                "dagster_failed_runs",
                None,
                "Dagster",
                f"{_plural(len(failed), 'run', 'runs')} failed in the last {window:g} min: {shown}{more}",
                {"runs": [run_id for run_id, _ in failed[:20]]},
                len(failed),
            )
        )
