"""A client's callback endpoint for the callback benchmark, run in its own process (so it does not
share the sender's interpreter): verifies every Standard Webhooks signature, deduplicates on
webhook-id, checks each order's events arrive in order, and reports what it saw at GET /stats.

`python -m bench.callback_sink SECRET` prints its port on the first line of stdout.
"""

from __future__ import annotations

import socket
import sys

import orjson
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError

EVENT_ORDER = {"assigned": 0, "in_route": 1, "delivered": 2, "cancelled": 3}


def make_app(secret: str):
    webhook = Webhook(secret)
    stats = {"received": 0, "unique": 0, "duplicates": 0, "out_of_order": 0, "bad_signatures": 0}
    seen: set[str] = set()
    last_event: dict[str, int] = {}

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "GET":
            await _answer(send, 200, orjson.dumps(stats))
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        stats["received"] += 1
        try:
            payload = webhook.verify(body, headers)
        except WebhookVerificationError:
            stats["bad_signatures"] += 1
            await _answer(send, 401, b"bad signature")
            return
        webhook_id = headers["webhook-id"]
        if webhook_id in seen:
            stats["duplicates"] += 1
        else:
            seen.add(webhook_id)
            stats["unique"] += 1
            order, rank = payload["order"]["external_id"], EVENT_ORDER[payload["event"]]
            if rank <= last_event.get(order, -1):
                stats["out_of_order"] += 1
            last_event[order] = rank
        await _answer(send, 204, b"")

    return app


async def _answer(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main(secret: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(make_app(secret), log_level="warning", access_log=False, lifespan="on", http="httptools", loop="uvloop")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])
