"""Finding orders and everything that happened to them: the admin app's order search and detail.

Read-only: status changes go through the order status machine, never through here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.clock import as_utc
from pipelines.store.schema import callback_attempts, callback_outbox, integrations, order_status_history, orders
from pipelines.targets import FIELDS

ORDER_STATUSES = ("pending", "assigned", "in_route", "delivered", "cancelled")
SEARCH_LIMIT = 200


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_orders(bind: sa.Engine, *, integration: str | None = None, external_id: str | None = None,
                  statuses: Sequence[str] | None = None, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Orders matching every given filter, newest change first. `external_id` matches any part,
    ignoring case (clients paste ids with or without their prefix)."""
    query = (
        sa.select(
            orders.c.id, integrations.c.name.label("integration"), orders.c.external_id, orders.c.client_name,
            orders.c.address, orders.c.status, orders.c.created_at, orders.c.updated_at,
        )
        .join(integrations, integrations.c.id == orders.c.integration_id)
        .order_by(orders.c.updated_at.desc(), orders.c.id.desc())
        .limit(limit)
    )
    if integration:
        query = query.where(integrations.c.name == integration)
    if external_id and external_id.strip():
        pattern = f"%{_like_escaped(external_id.strip().lower())}%"
        query = query.where(sa.func.lower(orders.c.external_id).like(pattern, escape="\\"))
    if statuses:
        query = query.where(orders.c.status.in_(list(statuses)))
    with bind.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["created_at"], row["updated_at"] = as_utc(row["created_at"]), as_utc(row["updated_at"])
    return rows


@dataclass
class OrderDetail:
    """An order with its source payload, the record it mapped to, its status history and callbacks."""

    order: dict[str, Any]
    integration: str
    source_record: Any
    mapped: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)


def order_detail(bind: sa.Engine, order_id: int) -> OrderDetail | None:
    with bind.connect() as conn:
        row = conn.execute(
            sa.select(orders, integrations.c.name.label("integration_name"))
            .join(integrations, integrations.c.id == orders.c.integration_id)
            .where(orders.c.id == order_id)
        ).mappings().first()
        if row is None:
            return None
        history = [
            {**dict(h), "changed_at": as_utc(h["changed_at"])}
            for h in conn.execute(
                sa.select(order_status_history)
                .where(order_status_history.c.order_id == order_id)
                .order_by(order_status_history.c.changed_at, order_status_history.c.id)
            ).mappings()
        ]
        outbox_rows = conn.execute(
            sa.select(callback_outbox).where(callback_outbox.c.order_id == order_id).order_by(callback_outbox.c.id)
        ).mappings().all()
        attempts: dict[int, list[dict[str, Any]]] = {}
        if outbox_rows:
            for attempt in conn.execute(
                sa.select(callback_attempts)
                .where(callback_attempts.c.outbox_id.in_([r["id"] for r in outbox_rows]))
                .order_by(callback_attempts.c.attempted_at, callback_attempts.c.id)
            ).mappings():
                attempts.setdefault(attempt["outbox_id"], []).append(
                    {**dict(attempt), "attempted_at": as_utc(attempt["attempted_at"])}
                )
    order = dict(row)
    for key in ("created_at", "updated_at", "scheduled_time", "eta", "delivered_at"):
        order[key] = as_utc(order[key])
    callbacks = [
        {**dict(r), "created_at": as_utc(r["created_at"]), "delivered_at": as_utc(r["delivered_at"]),
         "next_attempt_at": as_utc(r["next_attempt_at"]), "attempt_log": attempts.get(r["id"], [])}
        for r in outbox_rows
    ]
    mapped = {name: order[name] for name in FIELDS["order"] if order.get(name) is not None}
    return OrderDetail(order=order, integration=order.pop("integration_name"), source_record=order.get("source_record"),
                       mapped=mapped, history=history, callbacks=callbacks)
