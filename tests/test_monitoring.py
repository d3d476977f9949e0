"""The dashboard's queries (seed 000 "Monitoreo de Integraciones"): status, time since last sync, the
seed's sync lines, inbox backlog and dead letters. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.phrases import last_error, sync_summary, time_ago
from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, client_orders_table, demo_rows
from connectors.sql import pull_db
from pipelines.clock import as_utc, utcnow
from pipelines.ingest import ingest
from pipelines.integrations import ApiIntegration, DbIntegration, WebhookIntegration, create_integration, set_active
from pipelines.ops.monitoring import SyncLine, backlog, duration, integration_health, latest_syncs
from pipelines.store.schema import callback_outbox, inbox, sync_runs
from tests.conftest import load_example

NOW = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def test_time_ago_speaks_like_the_seed():
    assert time_ago(NOW - timedelta(minutes=5), NOW) == "hace 5 min"
    assert time_ago(NOW - timedelta(minutes=1, seconds=10), NOW) == "hace 1 min"
    assert time_ago(NOW - timedelta(seconds=20), NOW) == "hace menos de 1 min"
    assert time_ago(NOW - timedelta(hours=2, minutes=5), NOW) == "hace 2 h"
    assert time_ago(NOW - timedelta(days=3, hours=1), NOW) == "hace 3 días"
    assert time_ago(None, NOW) == "nunca"
    assert time_ago(datetime(2024, 1, 15, 14, 25), NOW) == "hace 5 min"  # naive values are UTC (SQLite)


def _line(
    created: int, updated: int, errors: int, target: str, status: str = "ok", message: str | None = None, reasons: list[dict] | None = None
) -> SyncLine:
    return SyncLine(
        id=1,
        started_at=NOW,
        integration="cliente_abc",
        target=target,
        source_kind="webhook",
        status=status,
        total_received=created + updated + errors,
        created=created,
        updated=updated,
        unchanged=0,
        errors=errors,
        message=message,
        reasons=reasons,
    )


def test_sync_summary_is_the_seed_line():
    assert sync_summary(_line(5, 0, 0, "order")) == "+5 pedidos, 0 errores"
    missing = [
        {"field": "address", "message": "required field is missing", "count": 3},
        {"field": "notes", "message": "too long", "count": 1},
    ]
    assert sync_summary(_line(12, 0, 1, "order", reasons=[{"field": "client_name", "message": "campo faltante", "count": 1}])) == (
        "+12 pedidos, 1 error (client_name: campo faltante)"
    )
    assert sync_summary(_line(1, 2, 3, "order", message="anything people read", reasons=missing)) == (
        "+1 pedido, 2 actualizados, 3 errores (address: required field is missing)"
    )
    assert sync_summary(_line(1, 0, 0, "sale")) == "+1 venta, 0 errores"
    assert sync_summary(_line(0, 0, 0, "order", status="failed", message="client API answered 500")) == ("falló: client API answered 500")


def test_durations_outside_the_dashboard_are_plain_words():
    """Alerts, Dagster and the CLI share one neutral wording; the Spanish phrases are the app's."""
    assert [duration(s) for s in (20, 61, 2 * 3600 + 300, 3 * 86400 + 60)] == ["under a minute", "1 min", "2 h", "3 days"]


def _backdate_last_run(store, minutes: int) -> datetime:
    """Move the newest sync run `minutes` into the past; returns its new start time."""
    with store.begin() as conn:
        run_id = conn.execute(sa.select(sa.func.max(sync_runs.c.id))).scalar_one()
        started = utcnow() - timedelta(minutes=minutes)
        conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(started_at=started))
    return started


def test_health_statuses_and_what_needs_a_person(store):
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    shop = create_integration(store, WebhookIntegration(name="shopify_store"))
    paused = create_integration(store, WebhookIntegration(name="paused"))
    create_integration(store, ApiIntegration(name="ClienteXYZ", endpoint="https://api.example/orders", poll_interval_seconds=60))
    ingest(store, abc, load_example("webhook_batch.json"), source_kind="webhook")
    started = _backdate_last_run(store, 5)
    ingest(store, shop, [{"external_id": "S-1", "client_name": "Ana"}], source_kind="webhook")
    ingest(store, paused, load_example("webhook_batch.json"), source_kind="webhook")
    set_active(store, "paused", False)
    later = utcnow() + timedelta(minutes=10)  # the api integration has now missed 3 polls of 60 s
    health = {h.name: h for h in integration_health(store, later)}

    assert list(health) == ["cliente_abc", "ClienteXYZ", "paused", "shopify_store"]  # by name, ignoring case
    abc_health = health["cliente_abc"]
    assert (abc_health.status, abc_health.type, abc_health.needs_person) == ("active", "webhook", False)
    assert time_ago(abc_health.last_sync_at, later) == time_ago(started, later) == "hace 15 min"
    assert health["shopify_store"].status == "error"
    assert health["shopify_store"].problems == ("last sync rejected 1 record: address: required field is missing",)
    assert health["shopify_store"].last_error == "address: required field is missing"
    assert last_error(health["shopify_store"], later).startswith("address: required field is missing (hace ")
    assert health["paused"].status == "disabled" and not health["paused"].needs_person
    assert health["ClienteXYZ"].status == "error"
    assert health["ClienteXYZ"].problems == ("never synced (polls every 60 seconds)",)
    assert health["ClienteXYZ"].last_sync_at is None and time_ago(None) == "nunca"


def test_dead_letters_make_an_integration_need_a_person(store):
    shop = create_integration(store, WebhookIntegration(name="shopify_store"))
    order = ingest(store, shop, load_example("webhook_batch.json"), source_kind="webhook").internal_ids[0]
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            inbox.insert(),
            [
                {
                    "integration_id": shop.id,
                    "received_at": now,
                    "source_kind": "webhook",
                    "headers": {},
                    "body": b"{",
                    "verified": True,
                    "status": "dead",
                    "attempts": 3,
                    "error": "not JSON",
                },
            ],
        )
        conn.execute(
            callback_outbox.insert().values(
                integration_id=shop.id,
                order_id=order,
                event="delivered",
                payload={},
                webhook_id="msg_1",
                status="dead",
                attempts=8,
                next_attempt_at=now,
                created_at=now,
            )
        )
    (health,) = integration_health(store)
    assert health.status == "error"
    assert health.problems == ("1 dead letter in the inbox", "1 callback not delivered")


def test_latest_syncs_newest_first_with_the_seed_phrase(store):
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    ingest(store, abc, [{"external_id": f"P-{i}", "client_name": "Ana", "address": "Zona 1"} for i in range(5)], source_kind="webhook")
    _backdate_last_run(store, 10)
    ingest(
        store,
        abc,
        [{"external_id": "P-9", "client_name": "Ana"}]
        + [{"external_id": f"Q-{i}", "client_name": "Bea", "address": "Zona 2"} for i in range(12)],
        source_kind="api",
    )
    lines = latest_syncs(store, limit=5)
    assert [sync_summary(line) for line in lines] == [
        "+12 pedidos, 1 error (address: required field is missing)",
        "+5 pedidos, 0 errores",
    ]
    assert [line.needs_person for line in lines] == [True, False]
    assert lines[0].source_kind == "api" and lines[0].integration == "cliente_abc"
    assert latest_syncs(store, integration_id=abc.id + 1000) == []


def test_backlog_counts_pending_dead_and_the_oldest_wait(store):
    shop = create_integration(store, WebhookIntegration(name="shopify_store"))
    now = utcnow()
    rows = [
        {"received_at": now - timedelta(minutes=12), "status": "pending"},
        {"received_at": now - timedelta(minutes=1), "status": "pending"},
        {"received_at": now - timedelta(hours=2), "status": "dead"},
        {"received_at": now - timedelta(hours=3), "status": "done"},
    ]
    with store.begin() as conn:
        conn.execute(
            inbox.insert(),
            [
                {
                    "integration_id": shop.id,
                    "source_kind": "webhook",
                    "headers": {},
                    "body": b"[]",
                    "verified": True,
                    "attempts": 0,
                    "error": None,
                    **row,
                }
                for row in rows
            ],
        )
    waiting = backlog(store)
    assert (waiting.inbox_pending, waiting.inbox_dead, waiting.dead_letters) == (2, 1, 1)
    assert abs(as_utc(waiting.inbox_oldest_pending_at) - (now - timedelta(minutes=12))) < timedelta(seconds=1)
    assert waiting.inbox_stuck(now) is True
    assert waiting.inbox_stuck(now - timedelta(minutes=11, seconds=30)) is False  # 30 s old then
    assert waiting.per_integration == {"shopify_store": {"inbox_pending": 2, "inbox_dead": 1}}


def test_a_sync_run_keeps_its_reasons_ranked_and_structured(store):
    """The dashboard reads why records were rejected from the run's `reasons`, not from its text."""
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    records = [
        {"external_id": "A", "client_name": "x"},
        {"external_id": "B", "client_name": "y"},
        {"external_id": "C", "address": "Zona 1"},
    ]
    ingest(store, abc, records, source_kind="webhook")
    with store.connect() as conn:
        reasons, message = conn.execute(sa.select(sync_runs.c.reasons, sync_runs.c.message)).one()
    assert reasons == [
        {"field": "address", "message": "required field is missing", "count": 2},
        {"field": "client_name", "message": "required field is missing", "count": 1},
    ]
    assert message == "address: required field is missing (x2); client_name: required field is missing"
    [line] = latest_syncs(store)
    assert sync_summary(line) == "+0 pedidos, 3 errores (address: required field is missing)"


def _client_orders(tmp_path, invalid_head: int, valid: int) -> str:
    """A SQLite client database of the plan's orders, oldest first; the oldest `invalid_head` lack a name."""
    url = f"sqlite:///{tmp_path / 'client.db'}"
    engine = sa.create_engine(url)
    table = client_orders_table(sa.MetaData())
    table.metadata.create_all(engine)
    rows = sorted(demo_rows(invalid_head + valid, now=NOW.replace(tzinfo=None)), key=lambda r: r["created_at"])
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{**row, "status": "ready_to_ship", "customer_name": "" if i < invalid_head else "Ana López"} for i, row in enumerate(rows)],
        )
    engine.dispose()
    return url


def test_a_query_stuck_on_the_same_rejected_rows_needs_a_person_with_the_reason(store, tmp_path):
    url = _client_orders(tmp_path, invalid_head=100, valid=50)
    erp = create_integration(store, DbIntegration(name="erp_cliente", db={"url": url, "query": SEED_QUERY, "write_back": SEED_WRITE_BACK}))
    pull_db(store, erp)

    (health,) = integration_health(store)
    assert health.needs_person and health.status == "error"
    (problem,) = health.problems
    assert problem.startswith(
        "stuck: the query keeps returning the same 100 rejected rows and hold back the rows behind them (first reasons: client_name: "
    )
    assert problem.endswith("add db.write_back_rejected, a db.watermark_column, or fix the rows")


def test_rejected_rows_that_only_come_back_are_flagged_without_stuck(store, tmp_path):
    url = _client_orders(tmp_path, invalid_head=1, valid=3)
    erp = create_integration(
        store,
        DbIntegration(name="erp_cliente", db={"url": url, "query": SEED_QUERY.replace("LIMIT 100", ""), "write_back": SEED_WRITE_BACK}),
    )
    pull_db(store, erp)
    (first,) = integration_health(store)
    assert first.problems[0].startswith("last sync rejected 1 record: client_name: ")  # once is an ordinary error

    pull_db(store, erp)
    (again,) = integration_health(store)
    assert again.problems[0].startswith("the query keeps returning the same 1 rejected row (first reasons: client_name: ")
