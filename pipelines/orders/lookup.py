"""Finding orders as people and client systems name them: integration name and the client's external id."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipelines.clock import iso
from pipelines.store.binds import connection
from pipelines.store.joins import integration_of
from pipelines.store.schema import integrations, orders

_TIMES = ("scheduled_time", "eta", "delivered_at", "created_at", "updated_at")
_SHOWN = (
    "external_id", "client_name", "address", "latitude", "longitude", "client_phone", "client_email", "notes",
    "priority", "scheduled_time", "branch", "status", "eta", "delivered_at", "delivery_proof", "created_at",
    "updated_at",
)


def find_orders(
    bind: sa.Engine | sa.Connection, *, integration: str | None = None, external_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Orders matching every given filter, newest first, as JSON-ready dicts with `internal_id`."""
    query = (
        sa.select(orders, integrations.c.name.label("integration"))
        .join(*integration_of(orders))
        .order_by(orders.c.id.desc())
        .limit(limit)
    )
    if integration is not None:
        query = query.where(integrations.c.name == integration)
    if external_id is not None:
        query = query.where(orders.c.external_id == external_id)
    with connection(bind) as conn:
        return [order_view(row) for row in conn.execute(query).mappings()]


def order_view(row: sa.RowMapping) -> dict[str, Any]:
    view: dict[str, Any] = {"internal_id": row["id"], "integration": row["integration"]}
    for column in _SHOWN:
        view[column] = iso(row[column]) if column in _TIMES else row[column]
    return view
