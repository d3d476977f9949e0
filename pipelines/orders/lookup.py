"""Finding orders as people and client systems name them: integration name and the client's external id."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipelines.clock import iso
from pipelines.paging import Page, page_of
from pipelines.store.binds import connection
from pipelines.store.joins import integration_of
from pipelines.store.schema import integrations, orders

_TIMES = ("scheduled_time", "eta", "delivered_at", "created_at", "updated_at")
_SHOWN = (
    "external_id",
    "client_name",
    "address",
    "latitude",
    "longitude",
    "client_phone",
    "client_email",
    "notes",
    "priority",
    "scheduled_time",
    "branch",
    "status",
    "eta",
    "delivered_at",
    "delivery_proof",
    "created_at",
    "updated_at",
)


def page_orders(
    bind: sa.Engine | sa.Connection,
    *,
    integration: str | None = None,
    external_id: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[dict[str, Any]]:
    """Orders matching every given filter, newest first, a page at a time (`pipelines.paging`), as
    JSON-ready dicts with `internal_id`."""
    query = sa.select(orders, integrations.c.name.label("integration")).join(*integration_of(orders))
    if integration is not None:
        query = query.where(integrations.c.name == integration)
    if external_id is not None:
        query = query.where(orders.c.external_id == external_id)
    with connection(bind) as conn:
        return page_of(conn, query, orders.c.id, cursor=cursor, limit=limit, convert=order_view)


def order_view(row: sa.RowMapping) -> dict[str, Any]:
    view: dict[str, Any] = {"internal_id": row["id"], "integration": row["integration"]}
    for column in _SHOWN:
        view[column] = iso(row[column]) if column in _TIMES else row[column]
    return view
