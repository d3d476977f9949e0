"""A client's callback endpoint for tests: a real HTTP server on loopback (`tests.servers.serve_http`)
that records every request and answers from a script, so a test can make it fail on demand:
500s, dropped connections (endpoint down), 429/503 with Retry-After, 410, answers that stall past
the sender's timeout, slow answers.

Stalls wait on an Event the test releases (never a sleep as synchronisation); `slow` is a real
delay shorter than the sender's timeout, the behaviour under test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import orjson

from tests.servers import serve_http


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    slow: float = 0.0  # seconds to take before answering (a slow endpoint, within the sender's timeout)
    drip: bool = False  # send the body a byte at a time until the sink is released (headers go at once)


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering: the endpoint is down."""


@dataclass(frozen=True)
class Stall:
    """Hold the request until the test releases the sink (or 30 s pass): longer than any sender timeout."""


@dataclass(frozen=True)
class Together:
    """Answer 200 only once `barrier.parties` requests are in the sink at the same time (500 if they
    never are): proves the sender really sends concurrently."""

    barrier: threading.Barrier


OK = Reply()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: object = None  # the Reply sent, Drop, or Stall (held past the sender's timeout)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict:
        return orjson.loads(self.body)


class CallbackSink:
    def __init__(self, default: object = OK):
        self.default = default
        self.script: deque = deque()
        self.per_order: dict[str, deque] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.count_reached = threading.Event()
        self.block_after: int | None = None  # answer this many, then Stall every later request

    def plan(self, *behaviours: object) -> None:
        """Answer the next requests with these, in order; then `default`."""
        with self.lock:
            self.script.extend(behaviours)

    def plan_for(self, external_id: str, *behaviours: object) -> None:
        """Answer the next requests about this order with these, in order; then as for any order."""
        with self.lock:
            self.per_order.setdefault(external_id, deque()).extend(behaviours)

    def _take(self, headers: dict[str, str], body: bytes) -> tuple[Received, object]:
        """Record the request and choose its answer, atomically (the count decides `block_after`)."""
        with self.lock:
            received = Received(headers, body)
            self.received.append(received)
            return received, self._next(body)

    def _next(self, body: bytes) -> object:
        """The answer for the request just recorded; called with the lock held."""
        if self.block_after is not None and len(self.received) > self.block_after:
            self.count_reached.set()
            return Stall()
        try:
            external_id = orjson.loads(body)["order"]["external_id"]
        except (ValueError, KeyError, TypeError):
            external_id = None
        own = self.per_order.get(external_id)
        if own:
            return own.popleft()
        return self.script.popleft() if self.script else self.default

    # What tests read
    def answered_ok(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if isinstance(r.answered, Reply) and 200 <= r.answered.status < 300]

    def ids_answered_ok(self) -> Counter:
        return Counter(r.webhook_id for r in self.answered_ok())

    def events_by_order(self) -> dict[str, list[str]]:
        """Events each order's external id was told about, in the order they were accepted, once per webhook-id
        (what a Standard Webhooks receiver that deduplicates would process)."""
        seen: set[str] = set()
        out: dict[str, list[str]] = {}
        for item in self.answered_ok():
            if item.webhook_id in seen:
                continue
            seen.add(item.webhook_id)
            out.setdefault(item.payload["order"]["external_id"], []).append(item.payload["event"])
        return out

    def handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received, behaviour = sink._take({k.lower(): v for k, v in self.headers.items()}, body)
                if isinstance(behaviour, Drop):
                    received.answered = behaviour
                    self.close_connection = True
                    return
                if isinstance(behaviour, Stall):
                    received.answered = behaviour  # whatever follows reaches no one waiting for it
                    sink.released.wait(30)
                    behaviour = OK
                if isinstance(behaviour, Together):
                    try:
                        behaviour.barrier.wait(10)
                        behaviour = OK
                    except threading.BrokenBarrierError:
                        behaviour = Reply(500, body=b"not concurrent")
                if behaviour.slow:
                    time.sleep(behaviour.slow)
                if received.answered is None:
                    received.answered = behaviour
                self.send_response(behaviour.status)
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(behaviour.body)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if not behaviour.drip:
                    self.wfile.write(behaviour.body)
                    return
                try:
                    for index in range(len(behaviour.body)):
                        self.wfile.write(behaviour.body[index : index + 1])
                        self.wfile.flush()
                        sink.released.wait(0.02)  # a byte per 20 ms until the test stops the sink
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender took its answer and left

        return Handler

    @contextmanager
    def serve(self) -> Iterator[str]:
        """The sink's URL while it runs; stalled requests are released when it stops."""
        with serve_http(self.handler()) as url:
            try:
                yield url + "/logitrack/updates"
            finally:
                self.released.set()
