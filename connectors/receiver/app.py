"""The receiver's ASGI app: `create_app()` wires the routers, the shared state and the error handlers.

Routers come from one list, `ROUTERS`: adding a part of the API is adding one entry.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from connectors.receiver import access_routes, admin, callback_routes, health, inbox_routes, webhooks
from connectors.receiver.errors import install_error_handlers
from connectors.receiver.fast_path import WebhookFastPath, fast_path_enabled
from connectors.receiver.group_commit import GroupCommitter
from connectors.receiver.integration_cache import IntegrationCache
from connectors.receiver.schemas import PAYLOAD_MODELS
from connectors.receiver.state import ReceiverState, receiver_state
from connectors.receiver.wal import checkpoint_forever, writer_engine
from pipelines import settings
from pipelines.store import connect
from pipelines.store.engine import reader as read_only

ROUTERS: list[APIRouter] = [
    health.router,
    webhooks.router,
    admin.router,
    callback_routes.router,
    inbox_routes.router,
    access_routes.router,
]



def max_pending_setting() -> int:
    """`CROSSDOCK_RECEIVER_MAX_PENDING`: requests allowed to wait for a commit before 429."""
    return settings.current().receiver_max_pending


def create_app(
    *,
    engine: sa.Engine | None = None,
    clock: Callable[[], float] = time.time,
    max_pending: int | None = None,
    cache_ttl: float = 1.0,
    fast_path: bool | None = None,
) -> FastAPI:
    """The receiver. `engine` defaults to the configured store (opened and migrated at startup);
    `clock` (Unix seconds) judges signed timestamps; `max_pending` bounds the commit queue;
    `fast_path` (default: CROSSDOCK_RECEIVER_FAST_PATH, on) serves the webhook routes without
    FastAPI's per-request machinery (see `fast_path`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = engine or connect()
        writer = writer_engine(store)
        committer = GroupCommitter(writer, max_pending=max_pending or max_pending_setting())
        committer.start()
        reader = read_only(store)
        checkpoints = asyncio.create_task(checkpoint_forever(reader)) if writer is not store else None
        app.state.receiver = ReceiverState(
            engine=store, reader=reader, integrations=IntegrationCache(reader, ttl=cache_ttl), committer=committer,
            clock=clock,
        )
        try:
            yield
        finally:
            await committer.stop()
            if checkpoints is not None:
                checkpoints.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checkpoints
            if writer is not store:
                writer.dispose()

    # Swagger UI and ReDoc served from the installed package, not a CDN: /docs works offline.
    app = FastAPIOffline(
        title="Crossdock receiver",
        version="0.1.0",
        summary="Webhooks in (Logitrack orders, Autentikapp sales), admin API, health.",
        lifespan=lifespan,
    )
    for router in ROUTERS:
        app.include_router(router)
    app.dependency_overrides[callback_routes.store_engine] = _store_engine
    install_error_handlers(app)
    if fast_path_enabled() if fast_path is None else fast_path:
        app.add_middleware(WebhookFastPath)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _store_engine(request: Request) -> sa.Engine:
    """The app's own store for routers that ask for one (they default to the configured store)."""
    return receiver_state(request).engine


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema plus the webhook payload models, which the routes reference but do not parse."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in PAYLOAD_MODELS:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
    return app.openapi_schema
