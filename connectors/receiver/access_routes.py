"""Admin API for who may do what and who did: API tokens (admin role) and the audit log.

- `GET /audit?action=&actor=&subject=&since=&limit=&cursor=`: entries newest first, paged like every list.
- `GET /tokens`, `POST /tokens` (the token is in the answer once), `DELETE /tokens/{name}` (revoke).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from connectors.receiver.admin_auth import require_admin
from connectors.receiver.callback_routes import store_engine
from connectors.receiver.params import IsoDateTime, id_cursor
from connectors.receiver.schemas import ADMIN_ERRORS, UNKNOWN_CURSOR, error_responses
from pipelines.access import audit, tokens
from pipelines.access.policy import Role
from pipelines.clock import as_utc
from pipelines.paging import MAX_LIMIT, InvalidCursor

router = APIRouter(tags=["access and audit"], dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)


@router.get(
    "/audit",
    summary="The audit log, newest first, paged (filters: action, actor, subject, since)",
    responses=error_responses({400: UNKNOWN_CURSOR}),
)
def get_audit(
    action: str | None = Query(None, description="e.g. integration.edited, login.failed"),
    actor: str | None = Query(None, description="e.g. user:ana, token:ci, api:admin"),
    subject: str | None = Query(None, description="e.g. integration:abc, user:ana"),
    since: IsoDateTime | None = Query(None, description="ISO 8601; naive is UTC"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Depends(id_cursor),
    engine: sa.Engine = Depends(store_engine),
) -> dict[str, Any]:
    try:
        with engine.connect() as conn:
            page = audit.entries(
                conn, action=action, actor=actor, subject=subject, since=as_utc(since) if since else None, cursor=cursor, limit=limit
            )
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return {"items": [asdict(entry) for entry in page.items], "next_cursor": page.next_cursor, "total": page.total}


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="unique: letters, digits and . _ - (up to 64)")
    role: Role
    user: str | None = Field(None, description="the user the token acts for (else it is a service token)")
    expires_at: IsoDateTime | None = Field(None, description="ISO 8601; none: until revoked")


@router.get("/tokens", summary="API tokens (never their secret): role, owner, expiry, last use")
def get_tokens(engine: sa.Engine = Depends(store_engine)) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [asdict(token) for token in tokens.listing(conn)]


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token (shown once, in this answer)",
    responses=error_responses({404: "no user with that name", 409: "a token with that name exists"}),
)
def post_token(body: TokenBody, actor: str = Depends(require_admin), engine: sa.Engine = Depends(store_engine)) -> dict[str, Any]:
    try:
        with engine.begin() as conn:
            token = tokens.create(
                conn, body.name, body.role, actor=actor, username=body.user, expires_at=as_utc(body.expires_at) if body.expires_at else None
            )
    except tokens.TokenExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except tokens.UnknownUser as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except tokens.TokenError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc)) from None
    return {"name": body.name, "role": body.role, "token": token}


@router.delete(
    "/tokens/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API token",
    responses=error_responses({404: "no live token with that name"}),
)
def delete_token(name: str, actor: str = Depends(require_admin), engine: sa.Engine = Depends(store_engine)) -> None:
    try:
        with engine.begin() as conn:
            tokens.revoke(conn, name, actor=actor)
    except tokens.TokenError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
