"""Admin API for order status and callbacks (bearer `CROSSDOCK_ADMIN_TOKEN` on every route).

- `POST /orders/{internal_id}/status`: move an order (404 unknown order, 409 illegal move with the
  reason, 422 invalid body); its callback is queued in the same transaction.
- `GET /orders/{internal_id}/callbacks`: the order's callbacks, each with every attempt.
- `POST /callbacks/{id}/replay`: re-queue one dead or disabled callback (404, 409 when not replayable).
- `POST /integrations/{name}/callbacks/replay?since=`: re-queue an integration's dead letters.
- `POST /integrations/{name}/callbacks/resume`: lift a 410 stop and re-queue what it stopped.

The app that mounts this router may override `store_engine` (FastAPI dependency overrides).
Handlers are plain `def`: the store is synchronous, so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.receiver.admin_auth import require_admin
from connectors.receiver.params import IsoDateTime, id_cursor, store_id
from connectors.receiver.schemas import ADMIN_ERRORS, MALFORMED_JSON, UNKNOWN_CURSOR, error_responses
from pipelines.callbacks import (
    CallbackNotFound,
    ReplayRejected,
    order_callbacks,
    replay_callback,
    replay_dead_callbacks,
    resume_callbacks,
)
from pipelines.callbacks.queries import page_callbacks
from pipelines.errors import OrderNotFound, StatusChangeRejected
from pipelines.integrations import IntegrationNotFound
from pipelines.orders.status import DeliveryProof, change_status
from pipelines.paging import MAX_LIMIT, InvalidCursor
from pipelines.store import connect
from pipelines.vocabulary import OrderEvent, OutboxStatus

router = APIRouter(tags=["orders and callbacks"], dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)
NO_INTEGRATION = "no integration with that name"


def store_engine() -> sa.Engine:
    return connect()


class StatusChangeBody(BaseModel):
    """A status change as the admin API takes it. What each status carries is checked here (422);
    whether the move is allowed from the order's current status is checked by the store (409)."""

    model_config = ConfigDict(extra="forbid")

    status: OrderEvent
    eta: IsoDateTime | None = Field(None, description="in_route: estimated arrival (ISO 8601; naive = UTC)")
    delivered_at: IsoDateTime | None = Field(None, description="delivered: when (default: now)")
    delivery_proof: DeliveryProof | None = Field(None, description="delivered: signature_url and/or photo_url")

    @model_validator(mode="after")
    def _carries_what_its_status_needs(self) -> StatusChangeBody:
        if self.status == OrderEvent.IN_ROUTE and self.eta is None:
            raise ValueError("in_route needs an eta")
        if self.status != OrderEvent.IN_ROUTE and self.eta is not None:
            raise ValueError(f"eta goes with in_route, not {self.status}")
        if self.status == OrderEvent.DELIVERED:
            proof = self.delivery_proof
            if proof is None or not (proof.signature_url or proof.photo_url):
                raise ValueError("delivered needs a delivery_proof with signature_url and/or photo_url")
        elif self.delivered_at is not None or self.delivery_proof is not None:
            raise ValueError(f"delivered_at and delivery_proof go with delivered, not {self.status}")
        return self


@router.post(
    "/orders/{internal_id}/status",
    summary="Change an order's status",
    responses=error_responses(
        {
            400: MALFORMED_JSON,
            404: "no order with that internal id",
            409: "the order cannot move to that status (`detail` says why)",
            422: "invalid body: what the status needs, each field and why",
        }
    ),
)
def post_status(
    body: StatusChangeBody,
    internal_id: int = store_id("the order's internal id"),
    actor: str = Depends(require_admin),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        change = change_status(
            engine,
            internal_id,
            body.status,
            actor=actor,
            eta=body.eta,
            delivered_at=body.delivered_at,
            proof=body.delivery_proof.model_dump() if body.delivery_proof else None,
        )
    except OrderNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except StatusChangeRejected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    callback = None
    if change.outbox_id is not None:
        callback = {"id": change.outbox_id, "webhook_id": change.webhook_id, "status": change.callback_status}
    return {
        "internal_id": change.internal_id,
        "external_id": change.external_id,
        "from_status": change.from_status,
        "status": change.to_status,
        "changed_at": change.changed_at,
        "actor": change.actor,
        "eta": change.eta,
        "delivered_at": change.delivered_at,
        "delivery_proof": change.delivery_proof,
        "callback": callback,
    }


@router.get(
    "/callbacks",
    summary="Callbacks, newest first, optionally of one integration and/or status",
    description="`limit` at a time; `next_cursor` (null on the last page) fetches the next page, `total` counts every matching callback.",
    responses=error_responses({400: UNKNOWN_CURSOR, 404: NO_INTEGRATION}),
)
def get_callbacks(
    integration: str | None = Query(None, description="integration name"),
    status_: OutboxStatus | None = Query(None, alias="status"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Depends(id_cursor),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        page = page_callbacks(engine, integration=integration, status=status_, cursor=cursor, limit=limit)
    except IntegrationNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return {"callbacks": [asdict(item) for item in page.items], "next_cursor": page.next_cursor, "total": page.total}


@router.get(
    "/orders/{internal_id}/callbacks",
    summary="An order's callbacks with every attempt",
    responses=error_responses({404: "no order with that internal id"}),
)
def get_order_callbacks(
    internal_id: int = store_id("the order's internal id"), engine: sa.Engine = Depends(store_engine)
) -> dict[str, Any]:
    try:
        callbacks = order_callbacks(engine, internal_id)
    except OrderNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    return {"internal_id": internal_id, "callbacks": [asdict(callback) for callback in callbacks]}


@router.post(
    "/callbacks/{callback_id}/replay",
    summary="Re-queue one dead or disabled callback",
    responses=error_responses(
        {404: "no callback with that id", 409: "the callback is not dead or disabled, or the integration's callbacks are stopped"}
    ),
)
def post_replay(
    callback_id: int = store_id("the callback's id"),
    actor: str = Depends(require_admin),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        return asdict(replay_callback(engine, callback_id, actor=actor))
    except CallbackNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except ReplayRejected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None


@router.post(
    "/integrations/{name}/callbacks/replay",
    summary="Re-queue an integration's dead letters",
    responses=error_responses({404: NO_INTEGRATION, 409: "the integration's callbacks are stopped (resume first)"}),
)
def post_replay_dead(
    name: str,
    since: IsoDateTime | None = Query(None, description="only callbacks queued at or after this time (ISO 8601)"),
    actor: str = Depends(require_admin),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        count = replay_dead_callbacks(engine, name, since, actor=actor)
    except IntegrationNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except ReplayRejected as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return {"integration": name, "replayed": count, "since": since}


@router.post(
    "/integrations/{name}/callbacks/resume",
    summary="Lift a 410 stop and re-queue what it stopped",
    responses=error_responses({404: NO_INTEGRATION}),
)
def post_resume(name: str, actor: str = Depends(require_admin), engine: sa.Engine = Depends(store_engine)) -> dict[str, Any]:
    try:
        count = resume_callbacks(engine, name, actor=actor)
    except IntegrationNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    return {"integration": name, "requeued": count}
