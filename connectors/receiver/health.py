"""`GET /health`: is the store answering, how big is the inbox backlog, how busy is intake, and how
are the services `crossdock up` supervises (any being restarted makes the status `degraded`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from connectors.receiver.state import receiver_state
from pipelines import settings
from pipelines.clock import as_utc, utcnow
from pipelines.inbox import DEAD, PENDING
from pipelines.ops.service_status import read_status, unhealthy_services
from pipelines.store.schema import inbox

router = APIRouter(tags=["health"])
SHOWN = ("state", "pid", "started_at", "restarts", "last_exit_code", "last_exit_at", "next_start_at")


@router.get(
    "/health",
    summary="Component status: store, inbox backlog, intake queue, supervised services",
    responses={503: {"description": "the store is unreachable"}},
)
def health(request: Request) -> JSONResponse:
    state = receiver_state(request)
    intake = {"waiting_for_commit": state.committer.pending, "capacity": state.committer.max_pending}
    try:
        backlog = _backlog(state.reader)
    except sa.exc.SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "store": {"ok": False, "error": type(exc).__name__}, "intake": intake},
            status_code=503,
        )
    body: dict[str, Any] = {"status": "ok", "store": {"ok": True, "dialect": state.engine.dialect.name}, "inbox": backlog, "intake": intake}
    supervised = read_status(settings.home())
    if supervised is not None:
        body["services"] = {name: {key: getattr(entry, key) for key in SHOWN} for name, entry in supervised.services.items()}
        if unhealthy_services(supervised):
            body["status"] = "degraded"
            body["degraded"] = unhealthy_services(supervised)
    return JSONResponse(body)


def _backlog(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.select(inbox.c.status, sa.func.count()).where(inbox.c.status.in_([PENDING, DEAD])).group_by(inbox.c.status)
            ).all()
        )
        oldest = conn.execute(sa.select(sa.func.min(inbox.c.received_at)).where(inbox.c.status == PENDING)).scalar()
    age = None if oldest is None else round((utcnow() - as_utc(oldest)).total_seconds(), 1)
    return {"pending": counts.get(PENDING, 0), "dead": counts.get(DEAD, 0), "oldest_pending_age_seconds": age}
