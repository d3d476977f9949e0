"""Admin API for the webhook inbox's dead letters (bearer `CROSSDOCK_ADMIN_TOKEN` on every route), the
same replay `crossdock replay` and the admin app's Dead letters page offer:

- `GET /inbox?status=dead&integration=&limit=`: the newest inbox rows, with reasons and replay history.
- `POST /inbox/{id}/replay`: send one dead row back for processing (404 unknown, 409 not replayable);
  `?include_record_errors=true` also takes a done row whose sync run rejected records.
- `POST /integrations/{name}/inbox/replay?since=`: every dead row of an integration (since a time).

Each replay records who did it (`api:admin`). Re-ingesting is idempotent: records that already landed
come back as unchanged.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, status

from connectors.receiver.admin_auth import require_admin
from connectors.receiver.callback_routes import store_engine
from connectors.receiver.params import IsoDateTime, id_cursor, store_id
from connectors.receiver.schemas import ADMIN_ERRORS, UNKNOWN_CURSOR, error_responses
from pipelines.inbox.processing import InboxRow, InboxRowNotFound, NotReplayable, page_entries, replay
from pipelines.integrations import IntegrationNotFound, get_integration
from pipelines.paging import MAX_LIMIT, InvalidCursor
from pipelines.vocabulary import InboxStatus

router = APIRouter(tags=["inbox dead letters"], dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)
NO_INTEGRATION = "no integration with that name"


def _shown(entries: list[InboxRow]) -> list[dict[str, Any]]:
    return [asdict(entry) for entry in entries]


def _integration_id(engine: sa.Engine, name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return get_integration(engine, name).id
    except IntegrationNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


@router.get(
    "/inbox",
    summary="The newest inbox rows: status, reason, replay history (bodies left out)",
    description="Newest first, `limit` at a time; `next_cursor` (null on the last page) fetches the next page, "
    "`total` counts every matching row.",
    responses=error_responses({400: UNKNOWN_CURSOR, 404: NO_INTEGRATION}),
)
def get_inbox(
    status_: InboxStatus | None = Query(None, alias="status"),
    integration: str | None = Query(None, description="only this integration's rows"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = Depends(id_cursor),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        page = page_entries(engine, status=status_, integration_id=_integration_id(engine, integration), cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return {"rows": _shown(page.items), "next_cursor": page.next_cursor, "total": page.total}


@router.post(
    "/inbox/{inbox_id}/replay",
    summary="Send one dead inbox row back for processing",
    responses=error_responses({404: "no inbox row with that id", 409: "the row is not replayable (`detail` says why)"}),
)
def post_replay_row(
    inbox_id: int = store_id("the inbox row's id"),
    include_record_errors: bool = Query(False, description="also a done row whose sync run rejected records"),
    actor: str = Depends(require_admin),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        entries = replay(engine, actor=actor, inbox_id=inbox_id, include_record_errors=include_record_errors)
    except InboxRowNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except NotReplayable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return {"replayed": _shown(entries), "next": "pending again: the next inbox processing run ingests it"}


@router.post(
    "/integrations/{name}/inbox/replay",
    summary="Send an integration's dead inbox rows back",
    responses=error_responses({404: NO_INTEGRATION}),
)
def post_replay_integration(
    name: str,
    since: IsoDateTime | None = Query(None, description="only rows received at or after this time (ISO 8601)"),
    include_record_errors: bool = Query(False, description="also done rows whose sync run rejected records"),
    actor: str = Depends(require_admin),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    entries = replay(
        engine, actor=actor, integration_id=_integration_id(engine, name), since=since, include_record_errors=include_record_errors
    )
    return {"integration": name, "replayed": len(entries), "ids": [e.id for e in entries], "since": since}
