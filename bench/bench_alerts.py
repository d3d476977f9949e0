"""Alert latency (target p95 ≤ 60 s): the time from a condition starting to its notification being
received, through the real product (`crossdock up`: Dagster's daemon running the `alerts` sensor
beside every other sensor, the receiver, the app and the demo data), WHILE the mixed workload of the
Dagster capacity issue runs (`bench/mixed_run.py`, the same generator `make bench BENCH=mixed` uses:
5 slow client APIs, a DB pull of BENCH_ALERTS_DB_ROWS rows from PostgreSQL, a 7-day backfill, signed
async webhooks at 2/s, status changes at 1/s with the callback endpoint down for the first 60 s),
here for BENCH_ALERTS_SECONDS (default 150) instead of 5 minutes.

The bench adds a Slack-type channel pointing at a loopback HTTP sink in this process and
BENCH_ALERTS_LANES webhook integrations. Each lane, until the load's time is up: waits a random
part of the sensor's 15 s cycle, records a failed sync for its integration (the condition starts when
that row commits), waits for the "[FIRING]" message, waits again, records a successful sync, and waits
for the "[RESOLVED]" message. The load keeps running until the last lane's trial ends, so every trial
is measured under it. Messages received twice are counted.

Baseline: DESIGN.md §4 names none for alerts. What it replaces is no alerting at all (nobody is told
until someone opens the dashboard), so there is nothing to run beside it; the output says so.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import sqlalchemy as sa

from bench.bench_db_extract import POSTGRES_URL, _fill
from bench.mixed_run import MixedRun, quantile
from bench.slow_api import serve_slow_api

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_ALERTS_SECONDS", "150"))
LANES = int(os.environ.get("BENCH_ALERTS_LANES", "3"))
DB_ROWS = int(os.environ.get("BENCH_ALERTS_DB_ROWS", "1000000"))
TARGET_P95_SECONDS = 60.0
WAIT_SECONDS = 180.0
SENSOR_CYCLE_SECONDS = 15.0
NAME = "bench_alerts"
NO_BASELINE = "none named in DESIGN.md §4 for alerts: the baseline is no alerting (nobody is told until someone opens the dashboard)"


class Sink:
    """A chat webhook on loopback: every message's text and when it arrived."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        self.arrived = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.arrived:
                    sink.messages.append((time.time(), orjson.loads(body).get("text", "")))
                    sink.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, prefix: str, after: int) -> tuple[float, int] | None:
        """When the first message starting with `prefix` among those after index `after` arrived."""
        deadline = time.monotonic() + WAIT_SECONDS
        with self.arrived:
            while True:
                for index, (at, text) in enumerate(self.messages[after:], start=after):
                    if text.startswith(prefix):
                        return at, index + 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.arrived.wait(left)


def _sync(engine: sa.Engine, integration_id: int, failed: bool) -> float:
    """A sync run as a pull records one; returns when it committed (the condition's start or end)."""
    from pipelines.store.schema import sync_runs

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sync_runs.insert().values(
                integration_id=integration_id,
                source_kind="bench",
                started_at=now,
                finished_at=now,
                status="failed" if failed else "ok",
                message="bench: the client's API answered HTTP 500" if failed else None,
                total_received=0 if failed else 1,
                created=0 if failed else 1,
            )
        )
    return time.time()


class Lane:
    """One integration's trials, one after the other, until `deadline`."""

    def __init__(self, engine: sa.Engine, sink: Sink, name: str, integration_id: int, deadline: float):
        self.engine, self.sink, self.name, self.integration_id, self.deadline = engine, sink, name, integration_id, deadline
        self.fired: list[float] = []
        self.resolved: list[float] = []
        self.lost = 0
        self.error: str | None = None
        self.random = random.Random(name)

    def run(self) -> None:
        try:
            self._trials()
        except Exception as exc:  # noqa: BLE001 - a lane that breaks is reported, never silently short
            self.error = f"{type(exc).__name__}: {exc}"[:300]

    def _trials(self) -> None:
        seen = 0
        while time.time() < self.deadline:
            time.sleep(self.random.uniform(0, SENSOR_CYCLE_SECONDS))  # a random phase of the sensor's cycle
            for failed, label, into in ((True, "FIRING", self.fired), (False, "RESOLVED", self.resolved)):
                if not failed:
                    time.sleep(self.random.uniform(0, SENSOR_CYCLE_SECONDS))
                began = _sync(self.engine, self.integration_id, failed=failed)
                got = self.sink.wait_for(f"[{label}] {self.name}:", seen)
                if got is None:
                    self.lost += 1
                    return
                into.append(got[0] - began)
                seen = got[1]


def _measure(product: MixedRun, sink: Sink) -> tuple[list[Lane], dict, float]:
    from pipelines.alerts.channels import save_channel
    from pipelines.integrations import WebhookIntegration, create_integration
    from pipelines.store.engine import make_engine

    os.environ["CROSSDOCK_HOME"] = str(product.home)  # the product's secret key encrypts the channel's URL
    engine = make_engine(f"sqlite:///{product.store_path}")
    try:
        save_channel(engine, "bench chat", "slack", {"url": sink.url}, actor="bench")
        ids = {f"{NAME}_{i}": create_integration(engine, WebhookIntegration(name=f"{NAME}_{i}")).id for i in range(LANES)}
        started = product.begin_workload()
        print(f"  mixed workload running; {LANES} lanes of alert trials for {SECONDS:.0f} s ...", flush=True)
        lanes = [Lane(engine, sink, name, integration_id, started + SECONDS) for name, integration_id in ids.items()]
        threads = [threading.Thread(target=lane.run, daemon=True) for lane in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        under_load = time.time() - started
        workload = product.end_workload(started, drain=False)  # the trials are over: no need to wait for the queue
        return lanes, workload, under_load
    finally:
        engine.dispose()


def run() -> list[dict]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    pg_url = str(sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}))
    sink = Sink()
    try:
        _fill(pg_url, DB_ROWS)
        with tempfile.TemporaryDirectory(prefix="bench-alerts-") as folder, serve_slow_api() as (slow_url, _api):
            product = MixedRun("alerts", ROOT, Path(folder), slow_url, pg_url, SECONDS)
            try:
                product.start()
                lanes, workload, under_load = _measure(product, sink)
            finally:
                product.close()
    finally:
        sink.server.shutdown()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    return _rows(lanes, workload, under_load, sink)


def _rows(lanes: list[Lane], workload: dict, under_load: float, sink: Sink) -> list[dict]:
    fired = [s for lane in lanes for s in lane.fired]
    resolved = [s for lane in lanes for s in lane.resolved]
    lost = sum(lane.lost for lane in lanes) + sum(1 for lane in lanes if lane.error)
    errors = "; ".join(f"{lane.name}: {lane.error}" for lane in lanes if lane.error)
    # Each trial is one alert: exactly one FIRING and one RESOLVED message; anything more was sent twice.
    mine = [text for _, text in sink.messages if NAME in text]
    repeats = len(mine) - len(fired) - len(resolved)
    others = len(sink.messages) - len(mine)
    p95, resolved_p95 = quantile(fired, 0.95), quantile(resolved, 0.95)
    load = (
        f"under the mixed workload for {under_load:.0f} s: {workload['webhooks']} async webhooks "
        f"(→ visible p95 {_s(workload['visible_p95'])}), {workload['changes']} status changes, {workload['runs']} Dagster runs "
        f"({workload['runs_failed']} failed), queue max {workload['queue_max']}, {workload['backfill']}; "
        f"{others} other alert messages from the load itself"
    )
    return [
        {
            "name": f"alerts: condition start → alert received, p95 of {len(fired)} ({lost} never received or broken; "
            f"p50 {_s(quantile(fired, 0.5))}, max {_s(max(fired, default=None))})",
            "figure": round(p95, 1) if p95 is not None else "n/a",
            "unit": "s",
            "target": f"p95 ≤ {TARGET_P95_SECONDS:.0f} s",
            "met": bool(fired) and not lost and p95 is not None and p95 <= TARGET_P95_SECONDS,
            "baseline": f"{NO_BASELINE}. Measured {load}" + (f"; lanes that broke: {errors}" if errors else ""),
        },
        {
            "name": f"alerts: condition end → resolved received, p95 of {len(resolved)} (max {_s(max(resolved, default=None))})",
            "figure": round(resolved_p95, 1) if resolved_p95 is not None else "n/a",
            "unit": "s",
            "target": f"p95 ≤ {TARGET_P95_SECONDS:.0f} s",
            "met": bool(resolved) and not lost and resolved_p95 is not None and resolved_p95 <= TARGET_P95_SECONDS,
            "baseline": NO_BASELINE,
        },
        {
            "name": "alerts: messages received more than once",
            "figure": repeats,
            "unit": "",
            "target": "0",
            "met": repeats == 0,
            "baseline": NO_BASELINE,
        },
    ]


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    for row in run():
        print(row)
