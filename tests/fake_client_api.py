"""A client's order API on a real loopback socket, for the poller's tests: every pagination style the
poller speaks, bearer/API-key/basic auth, and scripted misbehaviour (429 with Retry-After, 500s, a
response slower than the client's timeout, a server that ignores paging and repeats its page).

Orders are shaped like the Logitrack plan's API example (`order_number`, `customer.name`,
`shipping_address.full/lat/lng`) plus `updated_at`, and can be filtered by `updated_since`/`updated_until`.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.servers import serve_http

T0 = datetime(2024, 1, 15, 8, 0, tzinfo=UTC)


def seed_orders(n: int, start: datetime = T0, step: timedelta = timedelta(minutes=30)) -> list[dict[str, Any]]:
    return [
        {
            "order_number": f"ORD-{i:05d}",
            "customer": {"name": f"Cliente {i}"},
            "shipping_address": {"full": f"Zona {i % 25}, Guatemala Ciudad", "lat": 14.59, "lng": -90.52},
            "status": "pending",
            "updated_at": (start + i * step).isoformat().replace("+00:00", "Z"),
        }
        for i in range(n)
    ]


@dataclass
class ClientApi:
    orders: list[dict[str, Any]]
    style: str = "none"  # none | offset | page | cursor | next_url | link_header
    auth: tuple[str, str] | None = ("bearer", "sk_live_xxxxx")  # (scheme, secret); apikey: (header, secret)
    # Consumed one per request: int status, (status, headers), "slow" (answers late), "drip" (answers at
    # once, then sends the body a byte at a time: every socket read is quick, the whole is not).
    faults: list[Any] = field(default_factory=list)
    ignore_paging: bool = False
    delay_seconds: float = 0.0  # every answer takes this long (a slow client system), released at teardown
    loop_cursor: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def visible(self, query: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.orders
        if "status" in query:
            rows = [o for o in rows if o["status"] == query["status"]]
        if "updated_since" in query:
            rows = [o for o in rows if o["updated_at"] >= query["updated_since"]]
        if "updated_until" in query:
            rows = [o for o in rows if o["updated_at"] < query["updated_until"]]
        return rows


def _handler(api: ClientApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _drip(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for index in range(len(data)):
                    self.wfile.write(data[index : index + 1])
                    self.wfile.flush()
                    api.release.wait(timeout=0.02)  # a byte per 20 ms until teardown releases it
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on the body, as it should

        def _authorised(self) -> bool:
            if api.auth is None:
                return True
            scheme, secret = api.auth
            if scheme == "bearer":
                return self.headers.get("Authorization") == f"Bearer {secret}"
            if scheme == "basic":
                return self.headers.get("Authorization") == "Basic " + base64.b64encode(secret.encode()).decode()
            return self.headers.get(scheme) == secret  # API key in a named header

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            with api.lock:
                api.requests.append({"path": parts.path, "query": query})
                fault = api.faults.pop(0) if api.faults else None
            if api.delay_seconds:
                api.release.wait(timeout=api.delay_seconds)
            if fault == "slow":
                api.release.wait(timeout=10)  # longer than the client's timeout; released at teardown
                return self._send(200, [])
            if fault == "drip":
                return self._drip(api.visible(query))
            if isinstance(fault, int):
                return self._send(fault, {"error": "scripted"})
            if isinstance(fault, tuple):
                return self._send(fault[0], {"error": "scripted"}, fault[1])
            if not self._authorised():
                return self._send(401, {"error": "unauthorized"})
            if parts.path != "/orders":
                return self._send(404, {"error": "not found"})
            rows = api.visible(query)
            style = api.style
            if style == "none":
                return self._send(200, rows)
            if style == "offset":
                offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
                offset = 0 if api.ignore_paging else offset
                return self._send(200, {"data": rows[offset : offset + limit], "total": len(rows)})
            if style in ("page", "link_header"):
                page, size = int(query.get("page", 1)), int(query.get("per_page", 100))
                page = 1 if api.ignore_paging else page
                chunk = rows[(page - 1) * size : page * size]
                if style == "page":
                    return self._send(200, {"data": chunk, "page": page})
                headers = {}
                if page * size < len(rows):
                    keep = {k: v for k, v in query.items() if k != "page"}
                    extra = "".join(f"&{k}={v}" for k, v in keep.items())
                    headers["Link"] = f'</orders?page={page + 1}{extra}>; rel="next"'
                return self._send(200, chunk, headers)
            if style == "cursor":
                start = int(base64.b64decode(query["cursor"]).decode()) if "cursor" in query else 0
                chunk = rows[start : start + 100]
                following = start + 100 if start + 100 < len(rows) else None
                if api.loop_cursor and start:
                    following = start  # points back at the page it just sent
                token = base64.b64encode(str(following).encode()).decode() if following is not None else None
                return self._send(200, {"orders": chunk, "meta": {"next_cursor": token}})
            if style == "next_url":
                start = int(query.get("after", 0))
                chunk = rows[start : start + 100]
                nxt = f"/orders?after={start + 100}" if start + 100 < len(rows) else None
                return self._send(200, {"results": chunk, "next": nxt})
            return self._send(500, {"error": f"unknown style {style}"})

    return Handler


@contextmanager
def serve_client_api(api: ClientApi) -> Iterator[str]:
    """Serve `api` on a free loopback port; yields the base URL (`http://127.0.0.1:PORT`)."""
    with serve_http(_handler(api)) as url:
        try:
            yield url
        finally:
            api.release.set()
