"""Dashboard, sync history, reports, orders and dead letters (AppTest), on a store with real ingests."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, client_orders_table, demo_rows
from connectors.sql import pull_db
from pipelines.clock import utcnow
from pipelines.ingest import ingest
from pipelines.integrations import DbIntegration, WebhookIntegration, create_integration
from pipelines.store.schema import inbox, sync_runs
from tests.apptest import open_page, texts
from tests.conftest import load_example


def _traffic(store):
    """cliente_abc synced 5 min ago; shopify_store just rejected a record and has a dead inbox payload."""
    abc = create_integration(store, WebhookIntegration(name="cliente_abc"))
    shop = create_integration(
        store, WebhookIntegration(name="shopify_store", field_mapping=load_example("shopify_mapping.json")["field_mapping"])
    )
    ingest(store, abc, load_example("webhook_batch.json"), source_kind="webhook")
    with store.begin() as conn:
        conn.execute(sync_runs.update().values(started_at=utcnow() - timedelta(minutes=5, seconds=10)))
    ingest(store, shop, [load_example("shopify_order.json"), {"customer": {"first_name": "Ana"}}], source_kind="webhook")
    with store.begin() as conn:
        conn.execute(
            inbox.insert().values(
                integration_id=shop.id,
                received_at=utcnow(),
                source_kind="webhook",
                headers={"X-API-Key": "k"},
                body=b'{"id": 77, "customer": ',
                verified=True,
                status="dead",
                attempts=3,
                error="body is not valid JSON: line 1 column 24",
            )
        )
    return abc, shop


def _table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_dashboard_shows_status_last_sync_and_what_needs_a_person(app_store):
    _traffic(app_store)
    at = open_page("dashboard")
    integrations = _table(at, "Last sync").set_index("Integration")
    assert integrations.loc["cliente_abc"].to_dict() == {
        "Type": "Webhook",
        "Status": "✔ Activo",
        "Last sync": "hace 5 min",
        "Last error": "",
    }
    assert integrations.loc["shopify_store", "Status"] == "⚠ Error"
    syncs = _table(at, "Result")
    assert syncs["Result"].tolist() == [
        "+1 pedido, 1 error (external_id: required field is missing (format('shopify-{}', id) gave no value))",
        "+1 pedido, 0 errores",
    ]
    (attention,) = texts(at.error)
    assert "**shopify_store**: last sync rejected 1 record" in attention
    assert "**shopify_store**: 1 dead letter in the inbox" in attention
    assert {m.label: m.value for m in at.metric}["Dead letters"] == "1"


def test_dashboard_on_an_empty_store_says_what_to_do(app_store):
    at = open_page("dashboard")
    assert any("No integrations yet" in i for i in texts(at.info))


def test_history_draws_labelled_charts_and_explains_missing_callbacks(app_store):
    _traffic(app_store)
    at = open_page("history")
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 3  # records over time, per integration, rejection reasons
    for spec in charts:
        for channel in ("x", "y"):
            assert spec["encoding"][channel]["title"], (channel, spec["encoding"][channel])
    assert charts[0]["encoding"]["x"]["title"] == "Day (UTC)"
    assert any("No status callbacks were attempted" in i for i in texts(at.info))
    at.segmented_control(key="history.grain").set_value("hour").run()
    assert json.loads(at.get("vega_lite_chart")[0].proto.spec)["encoding"]["x"]["title"] == "Hour (UTC)"
    assert not at.exception


def test_report_totals_per_integration_with_csv(app_store):
    _traffic(app_store)
    at = open_page("reports")
    report = _table(at, "error_rate_pct").set_index("integration")
    assert report.loc["TOTAL", ["received", "created", "errors"]].tolist() == [3, 2, 1]
    assert report.loc["cliente_abc", "created"] == 1
    assert at.get("download_button")[0].proto.label == "Download CSV"
    at.selectbox(key="reports.period").set_value("Last month").run()
    assert any("No syncs in this period" in i for i in texts(at.info))


def test_orders_search_and_detail(app_store):
    _traffic(app_store)
    at = open_page("orders")
    assert sorted(_table(at, "External id")["External id"]) == ["PED-001", "shopify-5678"]
    at.text_input(key="orders.external_id").input("shopify").run()
    found = _table(at, "External id")
    assert found["External id"].tolist() == ["shopify-5678"]
    at.session_state["orders.table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    payloads = [json.loads(j.value) for j in at.json]
    assert payloads[0] == load_example("shopify_order.json")  # original payload
    assert payloads[1] == load_example("shopify_expected.json")  # mapped record
    assert any("No status change yet" in c for c in texts(at.caption))


def test_dead_letters_list_reasons_and_filters(app_store):
    _traffic(app_store)
    at = open_page("dead_letters")
    inbox_rows = _table(at, "Body starts with")
    assert inbox_rows[["Integration", "Reason"]].to_dict("records") == [
        {"Integration": "shopify_store", "Reason": "body is not valid JSON: line 1 column 24"}
    ]
    rejected = _table(at, "Reasons")
    assert rejected["Reasons"].tolist() == [
        "external_id: required field is missing (format('shopify-{}', id) gave no value); address: required field "
        "is missing (join_nonempty(', ', [shipping_address.address1, join_nonempty(' ', [shipping_address.city, "
        "shipping_address.zip])]) gave no value)"
    ]
    at.session_state["dead.inbox.table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert '{"id": 77, "customer": ' in [c.value for c in at.code]
    assert json.loads(at.json[0].value) == {"X-API-Key": "••••••••"}
    at.text_input(key="dead.text").input("timeout").run()
    assert any("No dead inbox payloads" in s for s in texts(at.success))
    with app_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 1


def test_dashboard_says_when_a_db_query_is_stuck_on_rejected_rows(app_store, tmp_path):
    url = f"sqlite:///{tmp_path / 'client.db'}"
    client = sa.create_engine(url)
    table = client_orders_table(sa.MetaData())
    table.metadata.create_all(client)
    rows = sorted(demo_rows(150), key=lambda r: r["created_at"])
    with client.begin() as conn:  # the 100 oldest lack a customer name: the plan's LIMIT 100 only ever sees them
        conn.execute(
            table.insert(),
            [{**row, "status": "ready_to_ship", "customer_name": "" if i < 100 else "Ana López"} for i, row in enumerate(rows)],
        )
    client.dispose()
    erp = create_integration(
        app_store, DbIntegration(name="erp_cliente", db={"url": url, "query": SEED_QUERY, "write_back": SEED_WRITE_BACK})
    )
    pull_db(app_store, erp)

    at = open_page("dashboard")
    (attention,) = texts(at.error)
    assert (
        "**erp_cliente**: stuck: the query keeps returning the same 100 rejected rows and hold back the rows "
        "behind them (first reasons: client_name: "
    ) in attention
    assert {m.label: m.value for m in at.metric}["Need a person"] == "1"
