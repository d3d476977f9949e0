"""Sample payloads (pasted, uploaded, stored) and the backtest over stored traffic. Store tests run on
SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from pipelines.clock import utcnow
from pipelines.ingest import ingest
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.mapping import MappingError
from pipelines.store.schema import inbox, orders
from pipelines.studio.backtest import run_backtest
from pipelines.studio.samples import (
    UnusableSample,
    backtest_payloads,
    parse_records,
    parse_upload,
    stored_samples,
)

PLAN_MAPPING = {"external_id": "order_number", "client_name": "customer.name", "address": "shipping_address.full"}


def test_parse_object_array_and_json_lines():
    assert parse_records('{"id": 1}') == [{"id": 1}]
    assert parse_records('[{"id": 1}, {"id": 2}]') == [{"id": 1}, {"id": 2}]
    assert parse_records('{"id": 1}\n\n{"id": 2}\n') == [{"id": 1}, {"id": 2}]
    assert parse_upload("a.json", '\ufeff{"n": "María"}'.encode()) == [{"n": "María"}]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the sample is empty: give a JSON object, a JSON array or JSON Lines"),
        ('{"id": 1,\n "x": }', "invalid JSON at line 2, column 7: Expecting value"),
        (
            '{"id": 1}\n{"id": 2',
            "invalid JSON Lines: line 2, column 9: Expecting ',' delimiter (JSON Lines needs one complete JSON value per line)",
        ),
    ],
)
def test_unreadable_samples_say_where(text, message):
    with pytest.raises(UnusableSample) as caught:
        parse_records(text)
    assert str(caught.value) == message


def test_uploads_must_be_utf8():
    with pytest.raises(UnusableSample, match=r"^orders.json: not UTF-8 text \(byte 1\)$"):
        parse_upload("orders.json", b'"\xff"')


def _plan_orders(n: int, without_address: int = 0) -> list[dict]:
    records = [
        {"order_number": f"O-{i}", "customer": {"name": "Ana"}, "shipping_address": {"full": "Zona 10"}} for i in range(n - without_address)
    ]
    return records + [
        {"order_number": f"N-{i}", "customer": {"name": "Bea"}, "shipping_address": {"city": "Mixco"}} for i in range(without_address)
    ]


def test_stored_samples_from_inbox_bodies_and_landed_orders(store):
    xyz = create_integration(store, WebhookIntegration(name="ClienteXYZ", field_mapping=PLAN_MAPPING))
    now = utcnow()
    with store.begin() as conn:
        conn.execute(
            inbox.insert(),
            [
                {
                    "integration_id": xyz.id,
                    "received_at": now,
                    "source_kind": "webhook",
                    "headers": {},
                    "verified": True,
                    "attempts": 0,
                    "error": None,
                    "status": status,
                    "body": body,
                }
                for status, body in [
                    ("done", b'[{"n": 1}, {"n": 2}]'),
                    ("dead", b"not json"),
                    ("rejected", b'{"n": "refused at the door"}'),
                    ("pending", b'[{"n": 3}, {"n": 4}]'),
                ]
            ],
        )
    from_inbox = stored_samples(store, xyz.id, "order", "inbox", 10)
    assert [s.record for s in from_inbox] == [{"n": 3}, {"n": 4}, {"n": 1}, {"n": 2}]
    assert from_inbox[0].origin.startswith("inbox #")
    assert len(stored_samples(store, xyz.id, "order", "inbox", 3)) == 3
    ingest(store, xyz, _plan_orders(3), source_kind="api")
    landed = stored_samples(store, xyz.id, "order", "landed", 10)
    assert sorted(s.record["order_number"] for s in landed) == ["O-0", "O-1", "O-2"]


def test_backtest_payloads_include_rejected_records_once(store):
    xyz = create_integration(store, WebhookIntegration(name="ClienteXYZ", field_mapping=PLAN_MAPPING))
    ingest(store, xyz, _plan_orders(5, without_address=2), source_kind="api")
    ingest(store, xyz, _plan_orders(5, without_address=2), source_kind="api")  # same records again
    payloads = backtest_payloads(store, xyz.id, "order", 100)
    assert sorted(p.record["order_number"] for p in payloads) == ["N-0", "N-1", "O-0", "O-1", "O-2"]
    assert len(backtest_payloads(store, xyz.id, "order", 4)) == 4


def test_backtest_counts_fixed_and_broken(store):
    xyz = create_integration(store, WebhookIntegration(name="ClienteXYZ", field_mapping=PLAN_MAPPING))
    ingest(store, xyz, _plan_orders(10, without_address=3), source_kind="api")

    same = run_backtest(store, xyz, PLAN_MAPPING, 1000)
    assert (same.total, same.passed, same.failed, same.changed) == (10, 7, 3, 0)
    assert same.examples["fail"][0].reasons == [
        {"field": "address", "message": "required field is missing (shipping_address.full gave no value)"}
    ]

    fallback = dict(PLAN_MAPPING, address="coalesce(shipping_address.full, shipping_address.city)")
    fixed = run_backtest(store, xyz, fallback, 1000)
    assert (fixed.passed, fixed.failed, fixed.changed, fixed.fixed, fixed.broken) == (10, 0, 3, 3, 0)
    (change,) = fixed.examples["changed"][0].changes
    assert (change.field, change.before, change.after) == ("address", None, "Mixco")

    typo = dict(PLAN_MAPPING, client_name="customer.nme")
    broken = run_backtest(store, xyz, typo, 1000)
    assert (broken.passed, broken.failed, broken.changed, broken.fixed, broken.broken) == (0, 10, 7, 0, 7)
    assert len(broken.examples["fail"]) == 3

    with store.connect() as conn:  # a backtest writes nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 7


def test_backtest_of_a_mapping_that_does_not_compile(store):
    xyz = create_integration(store, WebhookIntegration(name="ClienteXYZ"))
    with pytest.raises(MappingError):
        run_backtest(store, xyz, {"external_id": "format('x-{}', "}, 10)


def test_backtest_compares_what_would_be_stored_and_keeps_broken_examples(store):
    mapping = dict(PLAN_MAPPING, latitude="shipping_address.lat")
    xyz = create_integration(store, WebhookIntegration(name="ClienteXYZ", field_mapping=mapping))
    records = [dict(r, shipping_address=dict(r["shipping_address"], lat="14.59")) for r in _plan_orders(4)]
    ingest(store, xyz, records, source_kind="api")

    # The number instead of the text: ingest stored the number 14.59 already, so nothing changes.
    same = run_backtest(store, xyz, dict(mapping, latitude="to_float(shipping_address.lat)"), 1000)
    assert (same.passed, same.changed, same.broken) == (4, 0, 0)
    assert same.examples["pass"][0].stored["latitude"] == 14.59

    # A different stored value is a change, shown as stored.
    moved = run_backtest(store, xyz, dict(mapping, latitude="multiply(shipping_address.lat, `2`)"), 1000)
    assert moved.changed == 4
    (change,) = moved.examples["changed"][0].changes
    assert (change.field, change.before, change.after) == ("latitude", 14.59, 29.18)

    broken = run_backtest(store, xyz, dict(mapping, client_name="customer.nme"), 1000)
    assert broken.broken == 4 and len(broken.examples["broken"]) == 3
    assert broken.examples["broken"][0].reasons == [
        {"field": "client_name", "message": "required field is missing (customer.nme gave no value)"}
    ]


def test_backtest_when_the_active_mapping_no_longer_compiles(store):
    xyz = create_integration(store, WebhookIntegration(name="ClienteXYZ", field_mapping=PLAN_MAPPING))
    ingest(store, xyz, _plan_orders(3), source_kind="api")
    # Saved before a rule it breaks existed (the store checks mappings when they are saved).
    stale = dataclasses.replace(
        xyz, config=xyz.config.model_copy(update={"field_mapping": {"external_id": "regex_extract(order_number, '(')"}})
    )
    result = run_backtest(store, stale, PLAN_MAPPING, 1000)
    assert result.active_problem == "the active mapping does not compile"
    assert (result.passed, result.fixed, result.broken) == (3, 3, 0)
