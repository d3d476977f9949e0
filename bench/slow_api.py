"""A client order API whose every page takes 1-5 s, for the mixed benchmark: the slow ERP that an
integration hub must poll without letting it hold anything else up.

`GET /orders?client=N&page=P&per_page=S[&updated_since=ISO][&updated_until=ISO]` with a bearer
token: the client's orders (spread over the last 7 days, a few new ones every minute) as
`{"data": [...], "page": P}`. Runs on a thread per request in the benchmark's own process.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TOKEN = "bench-slow-api-token"
ORDERS_PER_CLIENT = 140  # over the last 7 days: a backfill day has about 20
NEW_PER_MINUTE = 2


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SlowApi:
    def __init__(self, seed: int = 7):
        self.started = datetime.now(UTC)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.requests = 0

    def orders(self, client: str) -> list[dict]:
        """The client's orders as of now: the 7-day history plus the ones created since the start."""
        now = datetime.now(UTC)
        history = [self.started - timedelta(days=7) + i * timedelta(days=7) / ORDERS_PER_CLIENT for i in range(ORDERS_PER_CLIENT)]
        fresh_count = int((now - self.started).total_seconds() / 60 * NEW_PER_MINUTE)
        fresh = [self.started + timedelta(seconds=30 * i) for i in range(fresh_count)]
        return [
            {
                "order_number": f"SLOW-{client}-{i:05d}",
                "customer": {"name": f"Cliente {i}"},
                "shipping_address": {"full": f"Zona {i % 25}, Guatemala"},
                "updated_at": _iso(moment),
            }
            for i, moment in enumerate(history + fresh)
        ]

    def delay(self) -> float:
        with self.lock:
            self.requests += 1
            return self.rng.uniform(1.0, 5.0)


def _handler(api: SlowApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            api.stop.wait(api.delay())
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"error": "unauthorized"})
            rows = api.orders(query.get("client", "0"))
            if "updated_since" in query:
                rows = [r for r in rows if r["updated_at"] >= query["updated_since"]]
            if "updated_until" in query:
                rows = [r for r in rows if r["updated_at"] < query["updated_until"]]
            page, size = int(query.get("page", 1)), int(query.get("per_page", 50))
            return self._send(200, {"data": rows[(page - 1) * size : page * size], "page": page})

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve_slow_api() -> Iterator[tuple[str, SlowApi]]:
    api = SlowApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", api
    finally:
        api.stop.set()
        server.shutdown()
        server.server_close()
