"""The one ingest path: idempotent upserts, honest counts, invalid records kept with reasons, sales
linking customers and identifiers. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.ingest import ingest
from pipelines.ingest.sales import register_identifiers
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.store.schema import customers, identifiers, orders, record_errors, sales, sync_runs
from tests.conftest import load_example

SEED_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def _orders(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "external_id": f"PED-{i:05d}",
            "client_name": f"Cliente {i}",
            "address": f"Zona {i % 25}, Guatemala",
            "latitude": 14.58,
            "longitude": -90.49,
            "priority": 1 + i % 5,
        }
        for i in range(start, start + n)
    ]


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_seed_webhook_batch_creates_then_is_unchanged(store):
    integration = create_integration(store, WebhookIntegration(name="cliente_abc"))
    batch = load_example("webhook_batch.json")
    first = ingest(store, integration, batch, source_kind="webhook")
    assert first.counts() == {"total_received": 1, "created": 1, "updated": 0, "errors": 0, "unchanged": 0, "stale": 0}
    assert first.results[0].internal_id is not None
    second = ingest(store, integration, batch, source_kind="webhook")
    assert second.counts()["unchanged"] == 1 and second.created == 0
    assert second.results[0].internal_id == first.results[0].internal_id


def test_thousand_orders_twice_then_ten_changed(store):
    integration = create_integration(store, WebhookIntegration(name="bulk"))
    records = _orders(1000)
    assert ingest(store, integration, records, source_kind="api").created == 1000
    again = ingest(store, integration, records, source_kind="api")
    assert (again.created, again.unchanged, again.updated) == (0, 1000, 0)
    for record in records[::100]:
        record["notes"] = "Tocar timbre 3 veces"
    changed = ingest(store, integration, records, source_kind="api")
    assert (changed.created, changed.updated, changed.unchanged, changed.errors) == (0, 10, 990, 0)
    assert _count(store, orders, orders.c.notes == "Tocar timbre 3 veces") == 10
    assert _count(store, orders) == 1000


def test_large_mostly_new_batch_with_some_stored_orders_counts_each_exactly(store):
    """A big batch is inserted first when it looks new; the few orders it holds that are stored
    already must still come out unchanged or updated, with their existing internal ids."""
    integration = create_integration(store, WebhookIntegration(name="mostly_new"))
    stored = ingest(store, integration, _orders(10, start=1), source_kind="api")
    stored_ids = {r.external_id: r.internal_id for r in stored.results}
    batch = _orders(3_000)  # PED-00001..PED-00010 among them, as records 1..10
    for record in batch[1:6]:
        record["notes"] = "cambió"
    result = ingest(store, integration, batch, source_kind="api")
    assert (result.created, result.updated, result.unchanged, result.errors) == (2_990, 5, 5, 0)
    assert [r.status for r in result.results[1:11]] == ["updated"] * 5 + ["unchanged"] * 5
    assert {r.external_id: r.internal_id for r in result.results[1:11]} == stored_ids
    with store.connect() as conn:
        rows = dict(conn.execute(sa.select(orders.c.id, orders.c.external_id)).tuples().all())
        last = conn.execute(sa.select(orders).where(orders.c.external_id == "PED-02999")).one()
    assert len(rows) == 3_000
    assert all(rows[r.internal_id] == r.external_id for r in result.results)
    assert (last.client_name, last.address, last.priority) == ("Cliente 2999", "Zona 24, Guatemala", 5)
    assert _count(store, orders, orders.c.notes == "cambió") == 5


def test_three_invalid_among_a_hundred(store):
    integration = create_integration(store, WebhookIntegration(name="mixed"))
    records = _orders(100)
    del records[10]["address"]
    records[20]["priority"] = 9
    records[30]["latitude"] = 140.0
    result = ingest(store, integration, records, source_kind="webhook")
    assert (result.created, result.errors, result.total_received) == (97, 3, 100)
    assert _count(store, orders) == 97
    reasons = {r.index: r.reasons for r in result.results if r.status == "error"}
    assert reasons[10] == [{"field": "address", "message": "required field is missing"}]
    assert reasons[20][0]["field"] == "priority"
    assert reasons[30][0]["field"] == "latitude"
    with store.connect() as conn:
        stored = conn.execute(sa.select(record_errors).order_by(record_errors.c.record_index)).all()
        run = conn.execute(sa.select(sync_runs)).one()
    assert [e.record_index for e in stored] == [10, 20, 30]
    assert stored[0].record["external_id"] == "PED-00010"  # the record itself is kept
    assert (run.total_received, run.created, run.errors, run.status) == (100, 97, 3, "ok")
    assert "address: required field is missing" in run.message


def test_same_order_twice_in_one_batch_is_applied_in_order(store):
    integration = create_integration(store, WebhookIntegration(name="dupes"))
    first, second = _orders(1), _orders(1)
    second[0]["notes"] = "segunda versión"
    result = ingest(store, integration, first + second, source_kind="webhook")
    assert [r.status for r in result.results] == ["created", "updated"]
    with store.connect() as conn:
        assert conn.execute(sa.select(orders.c.notes)).scalar_one() == "segunda versión"


def test_non_objects_and_mapping_errors_are_record_errors(store):
    integration = create_integration(
        store,
        WebhookIntegration(
            name="mapped",
            field_mapping={"external_id": "id", "client_name": "name", "address": "addr", "priority": "to_int(prio)"},
        ),
    )
    result = ingest(
        store,
        integration,
        [42, {"id": 1, "name": "a", "addr": "b", "prio": "alta"}, {"id": 2, "name": "a", "addr": "b", "prio": "2"}],
        source_kind="webhook",
    )
    assert [r.status for r in result.results] == ["error", "error", "created"]
    assert "expected a JSON object" in result.results[0].reasons[0]["message"]
    assert result.results[1].reasons[0]["field"] == "priority"


def test_seed_shopify_mapping_lands_the_seed_record(store):
    config = WebhookIntegration(name="shopify_store", **load_example("shopify_mapping.json"))
    integration = create_integration(store, config)
    result = ingest(store, integration, [load_example("shopify_order.json")], source_kind="webhook")
    assert result.created == 1
    with store.connect() as conn:
        row = conn.execute(sa.select(orders)).one()
    assert (row.external_id, row.client_name, row.address, row.branch) == (
        "shopify-5678",
        "Juan Pérez",
        "5ta Avenida 10-20, Guatemala 01010",
        "central",
    )


def _sale_account(store):
    integration = create_integration(store, WebhookIntegration(name="autentik_demo", target="sale"))
    with store.begin() as conn:
        register_identifiers(conn, integration.id, [{"code": SEED_CODE, "product_sku": "BOLSO-CUERO-01"}], utcnow())
    return integration


def test_seed_sale_upserts_customer_and_links_identifier(store):
    integration = _sale_account(store)
    sale = load_example("autentikapp_sale.json")
    result = ingest(store, integration, [sale], source_kind="webhook")
    assert result.created == 1, result.to_dict()
    with store.connect() as conn:
        customer = conn.execute(sa.select(customers)).one()
        code = conn.execute(sa.select(identifiers)).one()
        stored_sale = conn.execute(sa.select(sales)).one()
    assert (customer.national_id, customer.email, customer.first_name) == ("123456789", "cliente@email.com", "Diego")
    assert code.customer_id == customer.id and code.sale_id == stored_sale.id
    assert stored_sale.external_id == "FACT-00123"


def test_customer_found_by_email_and_newest_data_wins(store):
    integration = _sale_account(store)
    sale = load_example("autentikapp_sale.json")
    ingest(store, integration, [sale], source_kind="webhook")
    later = load_example("autentikapp_sale.json")
    later["transaction_data"]["transaction_id"] = "FACT-00124"
    later["transaction_data"]["line_items"] = []
    del later["customer_data"]["national_id"]
    later["customer_data"]["phone_number"] = "+573009999999"
    assert ingest(store, integration, [later], source_kind="webhook").created == 1
    with store.connect() as conn:
        rows = conn.execute(sa.select(customers)).all()
    assert len(rows) == 1 and rows[0].phone_number == "+573009999999" and rows[0].national_id == "123456789"


def test_unknown_identifier_code_is_a_record_error(store):
    integration = _sale_account(store)
    sale = load_example("autentikapp_sale.json")
    sale["transaction_data"]["line_items"][0]["autentikapp_code"] = "no-such-code"
    result = ingest(store, integration, [sale], source_kind="webhook")
    assert result.errors == 1
    assert result.results[0].reasons == [{"field": "line_items[0].identifier_code", "message": "unknown identifier code 'no-such-code'"}]
    assert _count(store, customers) == 0 and _count(store, sales) == 0
    assert _count(store, record_errors) == 1


def test_national_id_and_email_of_two_different_customers_is_a_record_error(store):
    integration = _sale_account(store)
    first = load_example("autentikapp_sale.json")
    first["transaction_data"]["line_items"] = []
    other = load_example("autentikapp_sale.json")
    other["transaction_data"].update(transaction_id="FACT-2", line_items=[])
    other["customer_data"].update(national_id="999", email="otro@email.com")
    assert ingest(store, integration, [first, other], source_kind="webhook").created == 2

    mixed = load_example("autentikapp_sale.json")  # national id of the first, email of the second
    mixed["transaction_data"]["transaction_id"] = "FACT-3"
    mixed["customer_data"]["email"] = "otro@email.com"
    valid = load_example("autentikapp_sale.json")
    valid["transaction_data"].update(transaction_id="FACT-4", line_items=[])
    result = ingest(store, integration, [mixed, valid], source_kind="webhook")
    assert [r.status for r in result.results] == ["error", "created"]  # the batch still lands
    assert "national_id belongs to customer" in result.results[0].reasons[0]["message"]
    with store.connect() as conn:
        emails = conn.execute(sa.select(customers.c.national_id, customers.c.email).order_by(customers.c.id)).all()
    assert emails == [("123456789", "cliente@email.com"), ("999", "otro@email.com")]  # nobody overwritten


def test_concurrent_ingests_of_one_integration_count_exactly(store):
    """Two sources delivering the same orders at once: one creates them, the other finds them unchanged,
    and neither fails on the unique key (ingest serialises per integration)."""
    import threading

    integration = create_integration(store, WebhookIntegration(name="twice"))
    records = _orders(300)
    results, failures = [], []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        try:
            results.append(ingest(store, integration, records, source_kind="webhook"))
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            failures.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted((r.created, r.unchanged) for r in results) == [(0, 300), (300, 0)]
    assert _count(store, orders) == 300


def test_registering_codes_reports_those_another_account_holds(store):
    first = _sale_account(store)
    other = create_integration(store, WebhookIntegration(name="otra_cuenta", target="sale"))
    with store.begin() as conn:
        registration = register_identifiers(conn, other.id, [{"code": SEED_CODE}, {"code": "nuevo-1"}], utcnow())
        again = register_identifiers(conn, other.id, [{"code": "nuevo-1"}], utcnow())
    assert (registration.added, registration.already_registered, registration.registered_to_another_account) == (1, 0, [SEED_CODE])
    assert (again.added, again.already_registered) == (0, 1)
    with store.connect() as conn:
        owner = conn.execute(sa.select(identifiers.c.integration_id).where(identifiers.c.code == SEED_CODE)).scalar_one()
    assert owner == first.id  # never moved
