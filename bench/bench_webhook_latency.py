"""Webhook → order visible, sync mode: the latency of `POST /webhook/{name}` answering 200, which it does
only after the order has committed (so it is visible to every reader at that moment). Target: p99 ≤ 50 ms
(DESIGN.md §4). Every request carries a new order; afterwards the store must hold one order per
successful request, or the figure does not count.

Measured at a modest concurrency (the seed's clients push one order per sale, not floods); the
intake benchmark (`bench_receiver`) covers 64 connections.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sqlalchemy as sa

from bench.servers import free_port, server
from bench.wrk import lua_unique_orders, run_wrk

CONNECTIONS = int(os.environ.get("BENCH_LATENCY_CONNECTIONS", "8"))
SECONDS = int(os.environ.get("BENCH_LATENCY_SECONDS", "8"))
P99_TARGET_MS = 50.0


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = folder / "home"
        url = f"sqlite:///{home / 'crossdock.db'}"
        os.environ.update({"CROSSDOCK_HOME": str(home), "CROSSDOCK_DATABASE_URL": url})
        from pipelines.integrations import WebhookIntegration, create_integration
        from pipelines.store.engine import make_engine
        from pipelines.store.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        create_integration(engine, WebhookIntegration(name="cliente_abc", auth_type="apikey", auth_value="secreto_compartido"))
        script = lua_unique_orders(
            folder / "orders.lua", "/webhook/cliente_abc", {"Content-Type": "application/json", "X-API-Key": "secreto_compartido"}
        )
        port = free_port()
        with server(
            ["-m", "crossdock", "receiver"],
            f"http://127.0.0.1:{port}/health",
            env={"CROSSDOCK_HOME": str(home), "CROSSDOCK_DATABASE_URL": url, "CROSSDOCK_PORT": str(port)},
        ):
            result = run_wrk(f"http://127.0.0.1:{port}", script, connections=CONNECTIONS, seconds=SECONDS, threads=1)
        with engine.connect() as conn:
            visible = conn.execute(sa.text("SELECT count(*) FROM orders")).scalar()
        engine.dispose()
    answered = result.requests - result.non_2xx
    if result.non_2xx or visible < answered:
        raise RuntimeError(f"{result.non_2xx} refused; {answered} answered 200 but {visible} orders visible")
    return [
        {
            "name": f"webhook → order visible, sync mode, {CONNECTIONS} connections "
            f"(p50 {result.p50_ms:.1f} ms, {result.requests_per_second:,.0f} orders/s, {visible:,} orders)",
            "figure": round(result.p99_ms, 1),
            "unit": "ms p99",
            "target": f"<= {P99_TARGET_MS:.0f} ms",
            "met": result.p99_ms <= P99_TARGET_MS,
            "baseline": "none in DESIGN.md §4",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
