"""Alerts in Dagster: the `alerts` sensor evaluates the alert rules (`pipelines.alerts`) over the same
facts the dashboard shows, moves the alerts along their life cycle and sends the notifications that
are due, all inside its tick and within a time budget.

It never launches a run: evaluating the rules and sending a handful of messages takes well under a
second, and a run per tick would fill the run queue with work that does nothing most of the time
(and an alert about a full queue could never be sent from behind it). Every tick ends in a
SkipReason that says what changed, so the Dagster UI's tick history is the evaluator's log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa

from assets.queue_status import dagster_load
from assets.resources import StoreResource
from connectors.notify import DeliveryPass, deliver_due
from pipelines.alerts import DagsterFacts, Evaluation, RuleBook, evaluate_alerts, load_rules
from pipelines.alerts.conditions import DAGSTER_KINDS
from pipelines.clock import utcnow

SENSOR_INTERVAL_SECONDS = 15
# Sends stop starting after this long: with a channel's 30 s timeout at most, a tick ends within
# about 45 s, inside Dagster's sensor timeout (60 s).
SEND_BUDGET_SECONDS = 15.0


def dagster_facts(instance: dg.DagsterInstance, book: RuleBook, now: float | None = None) -> DagsterFacts:
    """The run queue as the dashboard's "is Dagster keeping up?" panel reads it (`dagster_load`), and
    the failed runs over each window the Dagster rules use."""
    now = time.time() if now is None else now
    load = dagster_load(instance, now)
    facts = DagsterFacts(
        queued=load.queued,
        oldest_queued_seconds=load.oldest_queued_seconds,
        oldest_queued_job=load.oldest_queued_job,
        queued_per_class={name: entry.queued for name, entry in load.per_class.items()},
    )
    if book.any_enabled("dagster_failed_runs"):
        for window in book.windows("dagster_failed_runs"):
            records = instance.get_run_records(
                filters=dg.RunsFilter(
                    statuses=[dg.DagsterRunStatus.FAILURE], updated_after=datetime.fromtimestamp(now - window * 60, tz=UTC)
                ),
                limit=200,
            )
            facts.failed_runs[window] = [(r.dagster_run.run_id, r.dagster_run.job_name) for r in records]
    return facts


@dataclass(frozen=True)
class Tick:
    evaluation: Evaluation
    delivery: DeliveryPass

    def summary(self) -> str:
        return f"{self.evaluation.transitions.summary()}; {self.delivery.summary()}"


def alerts_tick(engine: sa.Engine, instance: dg.DagsterInstance | None, budget_seconds: float = SEND_BUDGET_SECONDS) -> Tick:
    """One evaluation and one delivery pass. Without an instance (or when its storage does not answer)
    the Dagster rules are skipped and their alerts stay as they are."""
    book = load_rules(engine)
    dagster = None
    if instance is not None and any(book.any_enabled(kind) for kind in DAGSTER_KINDS):
        try:
            dagster = dagster_facts(instance, book)
        except Exception:  # noqa: BLE001 - the store's rules must still be evaluated when Dagster's storage fails
            dagster = None
    evaluation = evaluate_alerts(engine, dagster, utcnow(), book)
    return Tick(evaluation, deliver_due(engine, budget_seconds))


@dg.sensor(
    name="alerts",
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the alert rules over the dashboard's facts and sends due notifications (email, chat, "
    "webhook) within the tick; never launches a run.",
)
def alerts_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SkipReason:
    tick = alerts_tick(store.engine(), context.instance)
    for channel, error in sorted(tick.delivery.errors.items()):
        context.log.warning(f"alert channel {channel} failed: {error}")
    return dg.SkipReason(tick.summary())


defs = dg.Definitions(sensors=[alerts_sensor])
