"""Pulls per minute for one run worker: the demo client API (`connectors.demo.client_api`, the one
`crossdock up` starts, in its own process on loopback, a new order every 0.1 s) polled back-to-back
by one worker through `connectors.pull.pull`, the call the Dagster pull asset and a Celery worker's
pull step make, on a PostgreSQL store (production's; `BENCH_POSTGRES_URL`, a schema of its own).

Each pull is what a scheduled poll is: take the integration's lease, ask the API for orders updated
since the cursor (`updated_since`, pages of 50), land what is new, record the sync run, move the
cursor. What it leaves out is Dagster's own cost around a pull (launching the run, its event log),
which is per run, not per pull. No target: the figure sizes workers (docs/production.md).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.receiver_postgres import postgres_store
from bench.servers import free_port, server

SECONDS = float(os.environ.get("BENCH_PULL_RATE_SECONDS", "20"))
GROW_EVERY_SECONDS = 0.1


def _worker(url: str, api_url: str, home: Path) -> dict:
    os.environ["CROSSDOCK_HOME"] = str(home)
    from connectors.pull import pull
    from crossdock.demo_pull import API_NAME, seed_pull_demo
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    seed_pull_demo(engine, api_url, home)
    first = pull(engine, API_NAME, holder="bench worker")  # the history: every order the API has
    durations: list[float] = []
    created = unchanged = received = 0
    cpu_before = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        began = time.perf_counter()
        report = pull(engine, API_NAME, holder="bench worker")
        durations.append(time.perf_counter() - began)
        created += report.counts["created"]
        unchanged += report.counts["unchanged"]
        received += report.counts["total_received"]
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    engine.dispose()
    return {
        "first": first.counts["created"],
        "pulls": len(durations),
        "elapsed": elapsed,
        "cpu": cpu,
        "durations": durations,
        "created": created,
        "unchanged": unchanged,
        "received": received,
    }


def run() -> list[dict]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_store() as url,
        server(["-m", "connectors.demo.client_api", "--port", str(port), "--grow-every", str(GROW_EVERY_SECONDS)], f"{api_url}/health"),
    ):
        out = _worker(url, api_url, Path(tmp) / "home")
    if not out["first"] or not out["created"]:
        raise RuntimeError(f"the pulls landed nothing from the demo API: {out}")
    per_minute = 60 * out["pulls"] / out["elapsed"]
    durations_ms = sorted(1000 * d for d in out["durations"])
    p50 = statistics.median(durations_ms)
    p95 = durations_ms[int(0.95 * (len(durations_ms) - 1))]
    return [
        {
            "name": f"API pulls by one worker, back-to-back, demo client API on loopback, PostgreSQL store "
            f"({out['pulls']} pulls in {out['elapsed']:.0f} s; pull p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
            f"{out['created'] / out['pulls']:.1f} new orders per pull; worker CPU per pull "
            f"{1000 * out['cpu'] / out['pulls']:.0f} ms)",
            "figure": round(per_minute),
            "unit": "pulls/min",
            "target": "reported for sizing (no target)",
            "met": True,
            "baseline": f"first pull (the API's history) landed {out['first']} orders; the API adds one every {GROW_EVERY_SECONDS} s",
        }
    ]
