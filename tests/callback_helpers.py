"""Shared set-up for the status and callback tests: the seed's `cliente_abc` with a callback URL,
PED-001 ingested through the real ingest, and a clock tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipelines.callbacks.outbox import due_query
from pipelines.ingest import ingest
from pipelines.integrations import StoredIntegration, create_integration, parse_integration
from pipelines.store.schema import callback_outbox
from tests.conftest import load_example

ALL_EVENTS = ["assigned", "in_route", "delivered", "cancelled"]
PROOF = {"signature_url": "https://cdn.example.com/sig/PED-001.png", "photo_url": "https://cdn.example.com/photo/PED-001.jpg"}


class FakeClock:
    """`now` only moves when a test moves it: retry schedules are exercised without waiting."""

    def __init__(self, start: datetime | None = None):
        # Whole seconds, never behind the real clock (changes made without `now=` are due at once).
        self.now = start or datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def move_to(self, when: datetime) -> datetime:
        self.now = max(self.now, when.astimezone(UTC))
        return self.now


def make_integration(
    engine: sa.Engine,
    url: str | None,
    *,
    name: str = "cliente_abc",
    events: list[str] | None = None,
    callbacks: dict[str, Any] | None = None,
    orders: list[dict[str, Any]] | None = None,
) -> tuple[StoredIntegration, dict[str, int]]:
    """The seed's cliente_abc (callback_url = `url`) and its orders; ({external_id: internal_id})."""
    document = {**load_example("cliente_abc_integration.json"), "name": name}
    if url:
        document.update(callback_url=url, callback_events=ALL_EVENTS if events is None else events)
    else:
        document.pop("callback_url"), document.pop("callback_events")
    if callbacks is not None:
        document["callbacks"] = callbacks
    stored = create_integration(engine, parse_integration(document))
    records = orders if orders is not None else load_example("webhook_batch.json")
    result = ingest(engine, stored, records, source_kind="webhook")
    assert result.errors == 0
    return stored, {r.external_id: r.internal_id for r in result.results}


def order_records(count: int, prefix: str = "PED") -> list[dict[str, Any]]:
    return [
        {"external_id": f"{prefix}-{i:03d}", "client_name": f"Cliente {i}", "address": f"Zona {i % 25 + 1}, Guatemala"}
        for i in range(1, count + 1)
    ]


def secret_of(stored: StoredIntegration) -> str:
    return stored.config.callback_secret.get_secret_value()


def outbox_rows(engine: sa.Engine, **where: Any) -> list[dict[str, Any]]:
    query = sa.select(callback_outbox).order_by(callback_outbox.c.id)
    for column, value in where.items():
        query = query.where(callback_outbox.c[column] == value)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def next_due(engine: sa.Engine) -> datetime:
    """When the sender will next find something to send (the earliest head of an order's queue)."""
    with engine.connect() as conn:
        row = conn.execute(due_query(datetime(9999, 1, 1, tzinfo=UTC), 1)).mappings().one()
    value = row["next_attempt_at"]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
