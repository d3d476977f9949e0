"""History and period reports aggregated by DuckDB from the store. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pandas as pd

from pipelines.ingest import ingest
from pipelines.integrations import FileIntegration, WebhookIntegration, archive_integration, create_integration
from pipelines.ops.reports import (
    callback_delivery,
    duck,
    error_reasons,
    period_report,
    report_csv,
    sync_history,
)
from pipelines.store.binds import inserted_id
from pipelines.store.schema import callback_attempts, callback_outbox, record_errors, sync_runs

DAY = datetime(2024, 1, 15, tzinfo=UTC)


def _orders(prefix: str, n: int, broken: int = 0) -> list[dict]:
    good = [{"external_id": f"{prefix}-{i}", "client_name": "Ana", "address": "Zona 1"} for i in range(n - broken)]
    return good + [{"external_id": f"{prefix}-x{i}", "client_name": "Ana"} for i in range(broken)]


def _sync_at(store, integration, records, when: datetime) -> None:
    """Ingest, then place the run (and its record errors) at `when`, as if it ran then."""
    result = ingest(store, integration, records, source_kind="webhook")
    with store.begin() as conn:
        conn.execute(sync_runs.update().where(sync_runs.c.id == result.sync_run_id).values(started_at=when))
        conn.execute(record_errors.update().where(record_errors.c.sync_run_id == result.sync_run_id).values(created_at=when))


def _two_days(store):
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    xyz = create_integration(store, WebhookIntegration(name="cliente_xyz"))
    create_integration(store, FileIntegration(name="idle"))
    _sync_at(store, abc, _orders("A", 5), DAY + timedelta(hours=14, minutes=20))
    _sync_at(store, abc, _orders("B", 3, broken=1), DAY + timedelta(hours=14, minutes=30))
    _sync_at(store, xyz, _orders("C", 12, broken=1), DAY + timedelta(hours=15, minutes=25))
    _sync_at(store, abc, _orders("A", 5), DAY + timedelta(days=1, hours=9))  # a re-send: 5 unchanged
    return abc, xyz


def test_day_and_hour_buckets(store):
    _two_days(store)
    by_day = sync_history(store, DAY, DAY + timedelta(days=2), "day")
    assert by_day[["integration", "runs", "received", "created", "unchanged", "errors"]].to_dict("records") == [
        {"integration": "cliente_abc", "runs": 2, "received": 8, "created": 7, "unchanged": 0, "errors": 1},
        {"integration": "cliente_xyz", "runs": 1, "received": 12, "created": 11, "unchanged": 0, "errors": 1},
        {"integration": "cliente_abc", "runs": 1, "received": 5, "created": 0, "unchanged": 5, "errors": 0},
    ]
    assert list(by_day["bucket"]) == [pd.Timestamp("2024-01-15")] * 2 + [pd.Timestamp("2024-01-16")]
    by_hour = sync_history(store, DAY, DAY + timedelta(days=1), "hour", ["cliente_abc"])
    assert by_hour[["bucket", "runs", "created"]].to_dict("records") == [
        {"bucket": pd.Timestamp("2024-01-15 14:00"), "runs": 2, "created": 7}
    ]


def test_the_range_is_half_open_and_empty_ranges_are_empty(store):
    _two_days(store)
    assert sync_history(store, DAY + timedelta(days=1), DAY + timedelta(days=1, hours=9), "day").empty
    assert len(sync_history(store, DAY + timedelta(days=1, hours=9), DAY + timedelta(days=2), "day")) == 1


def test_error_reasons_ranked(store):
    abc, xyz = _two_days(store)
    _sync_at(store, xyz, [{"external_id": "P-1", "client_name": "Ana", "address": "Zona 1", "priority": 9}], DAY + timedelta(hours=16))
    reasons = error_reasons(store, DAY, DAY + timedelta(days=2))
    assert reasons[["reason", "records", "integrations"]].to_dict("records") == [
        {"reason": "address: required field is missing", "records": 2, "integrations": "cliente_abc, cliente_xyz"},
        {"reason": "priority: Input should be less than or equal to 5", "records": 1, "integrations": "cliente_xyz"},
    ]
    assert error_reasons(store, DAY, DAY + timedelta(days=2), ["cliente_abc"])["records"].tolist() == [1]


def _callbacks(store, integration, order_id: int, attempts: list[tuple[datetime, int | None, float]]) -> None:
    with store.begin() as conn:
        outbox_id = inserted_id(
            conn.execute(
                callback_outbox.insert().values(
                    integration_id=integration.id,
                    order_id=order_id,
                    event="delivered",
                    payload={},
                    webhook_id=f"msg_{order_id}",
                    status="delivered",
                    attempts=len(attempts),
                    next_attempt_at=DAY,
                    created_at=DAY,
                )
            )
        )
        conn.execute(
            callback_attempts.insert(),
            [
                {
                    "outbox_id": outbox_id,
                    "attempted_at": when,
                    "status_code": code,
                    "latency_ms": latency,
                    "error": None if code == 200 else "failed",
                    "succeeded": code == 200,
                }
                for when, code, latency in attempts
            ],
        )


def test_callback_success_and_latency(store):
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    order_id = ingest(store, abc, _orders("A", 1), source_kind="webhook").internal_ids[0]
    assert callback_delivery(store, DAY, DAY + timedelta(days=2)).empty
    _callbacks(
        store,
        abc,
        order_id,
        [
            (DAY + timedelta(hours=1), 503, 100.0),
            (DAY + timedelta(hours=2), 200, 200.0),
            (DAY + timedelta(hours=3), None, 300.0),
            (DAY + timedelta(hours=4), 200, 400.0),
            (DAY + timedelta(days=1, hours=1), 200, 50.0),
        ],
    )
    delivery = callback_delivery(store, DAY, DAY + timedelta(days=2), "day")
    first = delivery.iloc[0]
    assert (first["attempts"], first["delivered"], first["failed"], first["success_rate"]) == (4, 2, 2, 50.0)
    assert first["latency_p50_ms"] == 250.0
    assert round(first["latency_p95_ms"], 1) == 385.0
    assert delivery.iloc[1]["success_rate"] == 100.0


def test_period_report_lists_every_integration_and_a_total(store):
    _two_days(store)
    report = period_report(store, DAY, DAY + timedelta(days=1))
    rows = report.set_index("integration")
    assert list(rows.index) == ["cliente_abc", "cliente_xyz", "idle", "TOTAL"]
    assert rows.loc["cliente_abc", ["runs", "received", "created", "errors"]].tolist() == [2, 8, 7, 1]
    assert rows.loc["idle", ["runs", "received", "error_rate_pct"]].tolist() == [0, 0, 0.0]
    assert rows.loc["TOTAL", ["runs", "received", "created", "errors"]].tolist() == [3, 20, 18, 2]
    assert rows.loc["TOTAL", "error_rate_pct"] == 10.0
    parsed = list(csv.DictReader(io.StringIO(report_csv(report).decode("utf-8-sig"))))
    assert parsed[0]["integration"] == "cliente_abc" and parsed[-1]["integration"] == "TOTAL"
    assert parsed[-1]["received"] == "20"


def test_an_archived_integration_is_in_the_report_only_for_a_period_it_worked_in(store):
    """Deleting archives: the periods it worked in still count it by name; later periods do not list it idle."""
    _two_days(store)
    create_integration(store, FileIntegration(name="gone_idle"))
    archive_integration(store, "cliente_xyz", actor="user:admin")
    archive_integration(store, "gone_idle", actor="user:admin")
    first_day = period_report(store, DAY, DAY + timedelta(days=1)).set_index("integration")
    assert list(first_day.index) == ["cliente_abc", "cliente_xyz", "idle", "TOTAL"]
    assert first_day.loc["cliente_xyz", "received"] == 12
    second_day = period_report(store, DAY + timedelta(days=1), DAY + timedelta(days=2)).set_index("integration")
    assert list(second_day.index) == ["cliente_abc", "idle", "TOTAL"]


def test_duckdb_is_in_memory_and_never_fetches_extensions():
    con = duck()
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False
    assert con.execute("SELECT path FROM duckdb_databases() WHERE database_name = 'memory'").fetchone() is not None


def test_a_2xx_after_the_timeout_is_a_failure_in_the_outbox_the_reports_and_the_summary(store):
    """One verdict per attempt, decided when it is settled and read by everyone: a 2xx that arrived
    after the timeout is retried by the outbox, and the reports and the summary count it failed."""
    import random

    from pipelines.callbacks import callback_summary, claim_due, load_targets, settle
    from pipelines.callbacks.outbox import AttemptResult
    from pipelines.orders.status import change_status
    from tests.callback_helpers import make_integration, order_records

    _, ids = make_integration(store, "https://cliente.example/callbacks", orders=order_records(1), callbacks={"timeout_seconds": 1.0})
    changed = change_status(store, ids["PED-001"], "assigned", actor="test")
    [due] = claim_due(store, now=changed.changed_at, limit=10, lease=timedelta(minutes=1))
    late = AttemptResult(due, changed.changed_at, 200, 1_300.0, error="answered 200 after 1.3 s, over the 1 s timeout")
    [item] = settle(store, [late], targets=load_targets(store, changed.changed_at), now=changed.changed_at, rng=random.Random(1))
    assert item.verdict.kind == "retry"
    day = changed.changed_at.replace(hour=0, minute=0, second=0, microsecond=0)
    delivery = callback_delivery(store, day, day + timedelta(days=1))
    assert (delivery.iloc[0]["delivered"], delivery.iloc[0]["failed"]) == (0, 1)
    [summary] = callback_summary(store)
    assert summary.failing and summary.counts["pending"] == 1
