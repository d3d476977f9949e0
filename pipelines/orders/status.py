"""The order status machine, and the one function every door (admin API, CLI, Streamlit) changes status with.

    pending → assigned → in_route → delivered
       └──────────┴──────────┴──→ cancelled      (from any open status)

`in_route` carries an ETA; `delivered` carries when (default: the moment of the change) and a delivery
proof (signature and/or photo URL). `delivered` and `cancelled` are final.

The change, its history row (who/what made it) and, when the integration subscribed to the event, its
callback in the outbox are written in ONE transaction: a client is never told about a change that did
not happen, and no change that should be told is left untold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from pipelines.access import audit
from pipelines.access.audit import AuditAction
from pipelines.callbacks.outbox import enqueue
from pipelines.callbacks.payload import build_payload
from pipelines.callbacks.targets import subscription_of
from pipelines.clock import as_utc, iso, utcnow
from pipelines.errors import OrderNotFound, StatusChangeRejected, describe, validation_issues
from pipelines.store.binds import Bind, transaction
from pipelines.store.schema import order_status_history, orders
from pipelines.vocabulary import FINAL_ORDER_STATUSES, ORDER_MOVES, OrderEvent, OrderStatus, OutboxStatus

STATUSES: tuple[OrderStatus, ...] = tuple(OrderStatus)  # the machine itself: pipelines.vocabulary.ORDER_MOVES
# A delivery reported a little ahead of our clock is clock skew; further ahead is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=5)

__all__ = [
    "DeliveryProof",
    "OrderNotFound",
    "STATUSES",
    "StatusChange",
    "StatusChangeRejected",
    "change_status",
    "check_move",
    "next_statuses",
]


class DeliveryProof(BaseModel):
    """What the driver captured at the door; at least one of the two URLs."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    signature_url: str | None = None
    photo_url: str | None = None

    @field_validator("signature_url", "photo_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None


@dataclass(frozen=True)
class StatusChange:
    """What `change_status` did: the move, who made it, and the callback it queued (if any)."""

    internal_id: int
    external_id: str
    integration_id: int
    from_status: str
    to_status: str
    changed_at: datetime
    actor: str
    eta: datetime | None = None
    delivered_at: datetime | None = None
    delivery_proof: dict[str, Any] | None = None
    outbox_id: int | None = None
    webhook_id: str | None = None
    callback_status: OutboxStatus | None = None  # pending | disabled | None (event not subscribed)


def check_move(current: str, to_status: str) -> str | None:
    """The reason `current → to_status` is illegal, or None when it is allowed."""
    if to_status not in STATUSES:
        return f"unknown status {to_status!r}; use one of {', '.join(OrderEvent)}"
    if to_status == OrderStatus.PENDING:
        return "an order cannot be moved back to pending"
    if current == to_status:
        return f"the order is already {current}"
    if current in FINAL_ORDER_STATUSES:
        return f"cannot go from {current} to {to_status}: {current} is final"
    if to_status not in ORDER_MOVES[OrderStatus(current)]:
        allowed = " or ".join(sorted(ORDER_MOVES[OrderStatus(current)]))
        return f"cannot go from {current} to {to_status} (from {current} the next status is {allowed})"
    return None


def next_statuses(current: str) -> tuple[str, ...]:
    """The statuses an order in `current` may move to, in the machine's order (empty when final).
    Doors that offer a choice (the admin app) ask this instead of knowing the rules themselves."""
    return tuple(status for status in STATUSES if check_move(current, status) is None)


def parse_proof(proof: dict | DeliveryProof | None) -> dict[str, Any] | None:
    """A stored delivery proof from what a caller gave, or StatusChangeRejected saying what is wrong."""
    if proof is None:
        return None
    try:
        model = proof if isinstance(proof, DeliveryProof) else DeliveryProof.model_validate(proof)
    except ValidationError as exc:
        issues = [{**i, "field": f"delivery_proof.{i['field']}"} for i in validation_issues(exc)]
        raise StatusChangeRejected(describe(issues)) from None
    if not (model.signature_url or model.photo_url):
        return None
    return model.model_dump()


def _details(to_status: str, eta, delivered_at, proof, now: datetime) -> dict[str, Any]:
    """Check what the move carries; the extra values to store on the order."""
    if eta is not None and to_status != OrderStatus.IN_ROUTE:
        raise StatusChangeRejected(f"an ETA goes with in_route, not {to_status}")
    if (delivered_at is not None or proof is not None) and to_status != OrderStatus.DELIVERED:
        raise StatusChangeRejected(f"delivered_at and delivery_proof go with delivered, not {to_status}")
    if to_status == OrderStatus.IN_ROUTE:
        if eta is None:
            raise StatusChangeRejected("in_route needs an ETA (eta)")
        return {"eta": as_utc(eta)}
    if to_status == OrderStatus.DELIVERED:
        stored_proof = parse_proof(proof)
        if stored_proof is None:
            raise StatusChangeRejected("delivered needs a delivery proof: signature_url and/or photo_url")
        delivered_at = as_utc(delivered_at) or now
        if delivered_at > now + FUTURE_TOLERANCE:
            raise StatusChangeRejected(f"delivered_at {iso(delivered_at)} is in the future")
        return {"delivered_at": delivered_at, "delivery_proof": stored_proof}
    return {}


def change_status(
    bind: Bind,
    internal_id: int,
    to_status: str,
    *,
    actor: str,
    eta: datetime | None = None,
    delivered_at: datetime | None = None,
    proof: dict | None = None,
    now: datetime | None = None,
) -> StatusChange:
    """Move order `internal_id` to `to_status`, recording who (`actor`) and queueing its callback.

    Pass a Connection to join the caller's transaction, an Engine for a transaction of its own.
    Raises OrderNotFound, or StatusChangeRejected whose message is the reason.
    """
    if not actor or not actor.strip():
        raise StatusChangeRejected("a status change needs an actor (who or what made it)")
    now = as_utc(now) or utcnow()
    with transaction(bind) as conn:
        current = conn.execute(sa.select(orders).where(orders.c.id == internal_id).with_for_update()).mappings().first()
        if current is None:
            raise OrderNotFound(f"no order with internal id {internal_id}")
        reason = check_move(current["status"], to_status)
        if reason:
            raise StatusChangeRejected(reason)
        extra = _details(to_status, eta, delivered_at, proof, now)
        # Statements with bound parameters (not .values(...) literals) compile once per process.
        conn.execute(
            orders.update().where(orders.c.id == sa.bindparam("b_id")),
            {"b_id": internal_id, "status": to_status, "updated_at": now, **extra},
        )
        conn.execute(
            order_status_history.insert(),
            {
                "order_id": internal_id,
                "from_status": current["status"],
                "to_status": to_status,
                "changed_at": now,
                "actor": actor.strip(),
                "details": {key: iso(v) if isinstance(v, datetime) else v for key, v in extra.items()} or None,
            },
        )
        audit.record(
            conn,
            actor.strip(),
            AuditAction.ORDER_STATUS_SET,
            f"order:{internal_id}",
            {"from": current["status"], "to": to_status, "external_id": current["external_id"]},
        )
        change = StatusChange(
            internal_id=internal_id,
            external_id=current["external_id"],
            integration_id=current["integration_id"],
            from_status=current["status"],
            to_status=to_status,
            changed_at=now,
            actor=actor.strip(),
            eta=extra.get("eta"),
            delivered_at=extra.get("delivered_at"),
            delivery_proof=extra.get("delivery_proof"),
        )
        return _queue_callback(conn, change, {**current, "status": to_status, **extra})


def _queue_callback(conn: sa.Connection, change: StatusChange, order: dict[str, Any]) -> StatusChange:
    subscription = subscription_of(conn, change.integration_id)
    if not subscription.wants(change.to_status):
        return change
    outbox_id, webhook_id = enqueue(
        conn,
        integration_id=change.integration_id,
        order_id=change.internal_id,
        event=change.to_status,
        payload=build_payload(change.to_status, order, change.changed_at),
        now=change.changed_at,
        disabled_reason=subscription.disabled_reason,
    )
    status = OutboxStatus.DISABLED if subscription.disabled_reason else OutboxStatus.PENDING
    return replace(change, outbox_id=outbox_id, webhook_id=webhook_id, callback_status=status)
