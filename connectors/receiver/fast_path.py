"""The webhook routes without FastAPI's per-request machinery: an ASGI middleware that sends
`POST /webhook/{integration}` and `POST /v1/webhooks/inbound/{account_id}` straight to the same
`webhooks.receive()` the FastAPI routes call.

Why: the receiver's target is to store and acknowledge verified webhooks at ≥ 0.8× the rate of a bare
FastAPI echo. Routing, dependency solving and the exception and exit-stack layers cost about as much
CPU per request as the receiver's own work (verify, parse, group commit); skipping them for these two
hot routes is what makes the target reachable. Everything else (admin API, health, docs) goes through
FastAPI as usual, the routes stay declared there (OpenAPI, and the path taken when
`CROSSDOCK_RECEIVER_FAST_PATH=0`), and the answers are the same either way (a test checks it).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.receiver.webhooks import AUTENTIKAPP, SEED_WEBHOOK, receive
from pipelines import settings

_ROUTES = (
    (re.compile(r"^/webhook/([^/]+)$"), SEED_WEBHOOK),
    (re.compile(r"^/v1/webhooks/inbound/([^/]+)$"), AUTENTIKAPP),
)


def fast_path_enabled() -> bool:
    return settings.current().receiver_fast_path


class WebhookFastPath:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive_: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for pattern, route in _ROUTES:
                match = pattern.match(scope["path"])
                if match:
                    response = await receive(Request(scope, receive_), match.group(1), route)
                    await response(scope, receive_, send)
                    return
        await self.app(scope, receive_, send)
