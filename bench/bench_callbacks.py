"""Callback delivery to a loopback sink (target >= 1,000 callbacks/s) with per-order ordering kept.

N orders each go assigned -> in_route -> delivered through `change_status` (so the outbox holds 3N
real callbacks); one delivery pass sends them all to a sink in another process, which verifies every
signature, deduplicates on webhook-id and counts events that arrive out of order. The figure counts
only a pass where every callback was delivered once, signed, in order.

DESIGN.md §4 names no baseline; for scale, the same pass run the naive way (one worker, each result
committed on its own) is measured beside it on a smaller outbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

N_ORDERS = int(os.environ.get("BENCH_CALLBACKS_ORDERS", "4000"))
NAIVE_ORDERS = max(N_ORDERS // 10, 1)
WORKERS = int(os.environ.get("BENCH_CALLBACKS_WORKERS", "16"))
TARGET = 1_000


def _fill(engine, sink_url: str, orders: int, secret: str) -> None:
    from pipelines.ingest import ingest
    from pipelines.integrations import WebhookIntegration, create_integration
    from pipelines.orders.status import change_status

    integration = create_integration(
        engine,
        WebhookIntegration(
            name="bench_client",
            callback_url=sink_url,
            callback_secret=secret,
            callback_events=["assigned", "in_route", "delivered"],
        ),
    )
    records = [{"external_id": f"B-{i}", "client_name": f"Client {i}", "address": "Zona 10"} for i in range(orders)]
    ids = ingest(engine, integration, records, source_kind="bench").internal_ids
    eta = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)
    proof = {"signature_url": "https://cdn.example.com/s.png", "photo_url": "https://cdn.example.com/p.jpg"}
    with engine.begin() as conn:  # one transaction for the set-up; each change_status is the real one
        for order in ids:
            change_status(conn, order, "assigned", actor="bench")
            change_status(conn, order, "in_route", actor="bench", eta=eta)
            change_status(conn, order, "delivered", actor="bench", proof=proof)


def _sink(secret: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.callback_sink", secret],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def _pass(folder: Path, name: str, orders: int, secret: str, **sender_options) -> tuple[float, dict, int]:
    """(callbacks/s, the sink's stats, rows delivered in the store)."""
    import sqlalchemy as sa

    from connectors.callback_sender import CallbackSender
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade
    from pipelines.store.schema import callback_outbox

    sink, base = _sink(secret)
    try:
        engine = make_engine(f"sqlite:///{folder / f'{name}.db'}")
        upgrade(engine)
        _fill(engine, base + "/updates", orders, secret)
        with CallbackSender(engine, **sender_options) as sender:
            started = time.perf_counter()
            report = sender.deliver_due()
            elapsed = time.perf_counter() - started
        stats = requests.get(base + "/stats", timeout=30).json()
        with engine.connect() as conn:
            delivered = conn.execute(sa.select(sa.func.count()).where(callback_outbox.c.status == "delivered")).scalar_one()
        engine.dispose()
        return report.total("delivered") / elapsed, stats, delivered
    finally:
        sink.terminate()
        sink.wait(30)


def _clean(stats: dict, delivered: int, expected: int) -> bool:
    return (
        delivered == expected
        and stats["unique"] == expected
        and stats["duplicates"] == 0
        and stats["out_of_order"] == 0
        and stats["bad_signatures"] == 0
    )


def run() -> list[dict]:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["CROSSDOCK_HOME"] = str(folder)
        rate, stats, delivered = _pass(folder, "fast", N_ORDERS, secret, workers=WORKERS)
        naive_rate, naive_stats, naive_delivered = _pass(
            folder, "naive", NAIVE_ORDERS, secret, workers=1, max_in_flight=1, flush_every=1, flush_interval=0
        )
    expected = 3 * N_ORDERS
    clean = _clean(stats, delivered, expected)
    naive_clean = _clean(naive_stats, naive_delivered, 3 * NAIVE_ORDERS)
    return [
        {
            "name": f"callback delivery to a loopback sink, {expected:,} callbacks over {N_ORDERS:,} orders "
            f"(SQLite store, {WORKERS} workers; all signed, delivered once, in order: {'yes' if clean else 'NO ' + str(stats)})",
            "figure": round(rate),
            "unit": "callbacks/s",
            "target": f">= {TARGET:,} callbacks/s",
            "met": clean and rate >= TARGET,
            "baseline": f"none named in DESIGN.md; for scale, a naive pass (1 worker, a commit per callback) on "
            f"{3 * NAIVE_ORDERS:,} callbacks: {naive_rate:,.0f}/s{'' if naive_clean else ' (NOT clean: ' + str(naive_stats) + ')'}",
        }
    ]
