"""The receiver's ASGI app: `create_app()` wires the routers, the shared state and the error handlers.

Routers come from one list, `ROUTERS`: adding a part of the API is adding one entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from connectors.receiver import access_routes, admin, callback_routes, health, inbox_routes, staging_routes, status_routes, webhooks
from connectors.receiver.errors import install_error_handlers
from connectors.receiver.fast_path import WebhookFastPath, fast_path_enabled
from connectors.receiver.group_commit import GroupCommitter
from connectors.receiver.integration_cache import IntegrationCache
from connectors.receiver.schemas import PAYLOAD_MODELS, ErrorBody
from connectors.receiver.state import ReceiverState, receiver_state
from connectors.receiver.wal import checkpoint_forever, writer_engine
from pipelines import settings
from pipelines.integrations import integration_schema
from pipelines.store import connect
from pipelines.store.engine import reader as read_only

ROUTERS: list[APIRouter] = [
    health.router,
    webhooks.router,
    admin.router,
    callback_routes.router,
    inbox_routes.router,
    staging_routes.router,
    status_routes.router,
    access_routes.router,
]

# OpenAPI links: where a response names something the next request can use (clients, and the fuzz
# test's stateful phase, follow them). (from method, path, status) -> [(link, to method, path, parameters)]
LINKS: dict[tuple[str, str, str], list[tuple[str, str, str, dict[str, str]]]] = {
    ("post", "/integrations", "201"): [
        ("GetIntegration", "get", "/integrations/{name}", {"name": "$response.body#/name"}),
        ("PatchIntegration", "patch", "/integrations/{name}", {"name": "$response.body#/name"}),
        ("DeleteIntegration", "delete", "/integrations/{name}", {"name": "$response.body#/name"}),
        ("ReplayInbox", "post", "/integrations/{name}/inbox/replay", {"name": "$response.body#/name"}),
        ("ReplayCallbacks", "post", "/integrations/{name}/callbacks/replay", {"name": "$response.body#/name"}),
        ("ResumeCallbacks", "post", "/integrations/{name}/callbacks/resume", {"name": "$response.body#/name"}),
    ],
    ("get", "/integrations", "200"): [
        ("GetIntegration", "get", "/integrations/{name}", {"name": "$response.body#/0/name"}),
    ],
    ("get", "/archived-integrations", "200"): [
        ("RestoreIntegration", "post", "/archived-integrations/{name}/restore", {"name": "$response.body#/0/name"}),
        ("PurgeIntegration", "delete", "/archived-integrations/{name}", {"name": "$response.body#/0/name"}),
    ],
    ("post", "/archived-integrations/{name}/restore", "200"): [
        ("GetIntegration", "get", "/integrations/{name}", {"name": "$response.body#/name"}),
        ("DeleteIntegration", "delete", "/integrations/{name}", {"name": "$response.body#/name"}),
    ],
    ("get", "/orders", "200"): [
        ("ChangeStatus", "post", "/orders/{internal_id}/status", {"internal_id": "$response.body#/orders/0/internal_id"}),
        ("OrderCallbacks", "get", "/orders/{internal_id}/callbacks", {"internal_id": "$response.body#/orders/0/internal_id"}),
    ],
    ("post", "/orders/{internal_id}/status", "200"): [
        ("OrderCallbacks", "get", "/orders/{internal_id}/callbacks", {"internal_id": "$response.body#/internal_id"}),
        ("ReplayCallback", "post", "/callbacks/{callback_id}/replay", {"callback_id": "$response.body#/callback/id"}),
    ],
    ("get", "/callbacks", "200"): [
        ("ReplayCallback", "post", "/callbacks/{callback_id}/replay", {"callback_id": "$response.body#/callbacks/0/id"}),
    ],
    ("get", "/inbox", "200"): [
        ("ReplayInboxRow", "post", "/inbox/{inbox_id}/replay", {"inbox_id": "$response.body#/rows/0/id"}),
    ],
}


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
            engine=store,
            reader=reader,
            integrations=IntegrationCache(reader, ttl=cache_ttl),
            committer=committer,
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
        redirect_slashes=False,  # `/integrations/` is a JSON 404, not an empty-bodied 307 to `/integrations`
        # FastAPI's OpenTelemetry hooks, which Crossdock does not use: left on, every request asks
        # OpenTelemetry's globals (and the environment) whether a provider is set, about 3 µs of the
        # event loop's time per webhook (2% of what storing one costs on SQLite).
        telemetry={"tracing": False, "metrics": False, "logs": False},
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
    """FastAPI's schema plus the webhook payload models and the integration configuration (one of four
    kinds by `type`), which the routes reference but FastAPI does not parse;
    every error documented with the body it really has; and the links between operations."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in PAYLOAD_MODELS:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        integration = integration_schema(ref_template="#/components/schemas/{model}")
        components.update(integration.pop("$defs", {}))
        components["Integration"] = {**integration, "title": "Integration"}
        _one_error_body(schema)
        _malformed_requests(schema)
        _add_links(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _one_error_body(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 of its own shape wherever a route takes parameters; the app's handler
    answers those with the one error body (`ErrorBody`), so that is what the schema says."""
    default = "#/components/schemas/HTTPValidationError"
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for answer in operation.get("responses", {}).values():
                for content in answer.get("content", {}).values():
                    if content.get("schema", {}).get("$ref") == default:
                        content["schema"] = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def _malformed_requests(schema: dict[str, Any]) -> None:
    """Any path can be sent a request the server cannot parse (`http_protocol`): 400, the error body."""
    error = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation["responses"].setdefault(
                "400",
                {
                    "description": "malformed HTTP request (a request line or header that cannot be parsed)",
                    "content": {"application/json": {"schema": error}},
                },
            )
            operation["responses"] = dict(sorted(operation["responses"].items()))


def _add_links(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for (method, path, status_code), links in LINKS.items():
        answer = paths[path][method]["responses"][status_code]
        answer["links"] = {
            name: {"operationId": paths[to_path][to_method]["operationId"], "parameters": parameters}
            for name, to_method, to_path, parameters in links
        }
