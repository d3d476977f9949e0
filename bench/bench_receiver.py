"""Durable, verified webhook intake through the real receiver (`crossdock receiver`), 64 connections,
one-record HMAC-signed body, async acknowledgement (202 only after the inbox row has committed):
requests/s and p50/p99, beside a bare FastAPI JSON echo and the naive commit-per-request design
measured in the same run (DESIGN.md §4: target ≥ 0.8× the echo's requests/s with p99 ≤ 100 ms).

The receiver and the echo are measured in alternating rounds and the medians compared, so a
neighbour's load on this shared machine falls on both alike. wrk (C) generates the load.

Then the same workload on a PostgreSQL store (`BENCH_POSTGRES_URL`, a schema of its own): one
receiver, and two receivers behind HAProxy, with the CPU each request costs (bench/receiver_postgres.py).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import statistics
import tempfile
from pathlib import Path

import sqlalchemy as sa

from bench.receiver_postgres import Measured, cpu_seconds, measure, pending_rows, postgres_store
from bench.servers import free_port, server, uvicorn_args
from bench.wrk import lua_post_deliveries, run_wrk

CONNECTIONS = 64
SECONDS = int(os.environ.get("BENCH_RECEIVER_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_RECEIVER_ROUNDS", "3"))
RATIO_TARGET = 0.8
P99_TARGET_MS = 100.0
SECRET = "bench-secret"
BODY = (
    '{"external_id": "PED-001", "client_name": "María García", "address": "Zona 15, Guatemala", "latitude": 14.58, "longitude": -90.49}'
).encode()


def _setup(home: Path, url: str | None = None) -> tuple[dict[str, str], int]:
    env = {"CROSSDOCK_HOME": str(home), "CROSSDOCK_DATABASE_URL": url or f"sqlite:///{home / 'crossdock.db'}"}
    os.environ.update(env)
    from pipelines.integrations import WebhookIntegration, create_integration
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade

    engine = make_engine(env["CROSSDOCK_DATABASE_URL"])
    upgrade(engine)
    stored = create_integration(
        engine, WebhookIntegration(name="bench", auth_type="hmac", auth_value=SECRET, webhook={"ack_mode": "async"})
    )
    engine.dispose()
    return env, stored.id


def _inbox_rows(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM inbox WHERE status = 'pending'")).scalar()
    engine.dispose()
    return count


def run() -> list[dict]:
    signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, integration_id = _setup(folder / "home")
        # A delivery id of its own per request: an identical signed body without one is a replay,
        # answered as a duplicate without a write, which is not the intake this measures.
        script = lua_post_deliveries(folder / "post.lua", BODY, {"Content-Type": "application/json", "X-Webhook-Signature": signature})
        echo_port, receiver_port, naive_port = free_port(), free_port(), free_port()
        echo, receiver = [], []
        acknowledged = 0
        receiver_cpu = 0.0
        with (
            server(uvicorn_args("bench.echo_app:app", echo_port), f"http://127.0.0.1:{echo_port}/docs"),
            server(
                ["-m", "crossdock", "receiver"],
                f"http://127.0.0.1:{receiver_port}/health",
                env={**env, "CROSSDOCK_PORT": str(receiver_port)},
            ) as receiver_proc,
        ):
            for _ in range(ROUNDS):
                echo.append(run_wrk(f"http://127.0.0.1:{echo_port}/echo", script, connections=CONNECTIONS, seconds=SECONDS))
                cpu_before = cpu_seconds({receiver_proc.pid})
                result = run_wrk(f"http://127.0.0.1:{receiver_port}/webhook/bench", script, connections=CONNECTIONS, seconds=SECONDS)
                receiver_cpu += sum(cpu_seconds({receiver_proc.pid}).values()) - sum(cpu_before.values())
                receiver.append(result)
                acknowledged += result.requests - result.non_2xx
        stored = _inbox_rows(env["CROSSDOCK_DATABASE_URL"])
        with server(
            uvicorn_args("bench.naive_app:app", naive_port),
            f"http://127.0.0.1:{naive_port}/docs",
            env={**env, "BENCH_HMAC_SECRET": SECRET, "BENCH_INTEGRATION_ID": str(integration_id)},
        ):
            naive = run_wrk(f"http://127.0.0.1:{naive_port}/webhook/bench", script, connections=CONNECTIONS, seconds=SECONDS)
        with postgres_store() as pg_url:
            pg_env, _ = _setup(folder / "pg-home", pg_url)
            one, two = measure(pg_env, pg_url, script, connections=CONNECTIONS, seconds=SECONDS, rounds=ROUNDS)
            pg_stored = pending_rows(pg_url)
        os.environ.update(env)
    if any(r.non_2xx or r.errors for r in receiver):
        raise RuntimeError(f"the receiver refused or dropped requests during the benchmark: {receiver}")
    # wrk counts only completed requests, so every one it counted must be a stored row.
    if stored < acknowledged:
        raise RuntimeError(f"{acknowledged} requests acknowledged but only {stored} inbox rows stored")
    for measured in (one, two):
        if any(r.non_2xx or r.errors for r in measured.runs):
            raise RuntimeError(f"the receivers on PostgreSQL refused or dropped requests: {measured.runs}")
    if pg_stored < one.acknowledged + two.acknowledged:
        raise RuntimeError(f"{one.acknowledged + two.acknowledged} requests acknowledged on PostgreSQL, {pg_stored} rows stored")
    echo_rps = statistics.median(r.requests_per_second for r in echo)
    rps = statistics.median(r.requests_per_second for r in receiver)
    p50 = statistics.median(r.p50_ms for r in receiver)
    p99 = statistics.median(r.p99_ms for r in receiver)
    echo_p99 = statistics.median(r.p99_ms for r in echo)
    ratio = rps / echo_rps
    sqlite_cpu_ms = 1000 * receiver_cpu / max(acknowledged, 1)
    baseline = (
        f"bare FastAPI echo {echo_rps:,.0f} req/s (p99 {echo_p99:.0f} ms); naive commit-per-request "
        f"{naive.requests_per_second:,.0f} req/s (p50 {naive.p50_ms:.0f} ms, p99 {naive.p99_ms:.0f} ms); "
        f"medians of {ROUNDS} alternating {SECONDS}-s rounds"
    )
    return [
        {
            "name": f"durable verified webhook intake, {CONNECTIONS} connections, HMAC, async ack "
            f"(p50 {p50:.1f} ms, {ratio:.2f}× echo, {stored:,} rows stored, receiver CPU per request {sqlite_cpu_ms:.2f} ms)",
            "figure": round(rps),
            "unit": "req/s",
            "target": f">= {RATIO_TARGET}× echo = {RATIO_TARGET * echo_rps:,.0f} req/s",
            "met": ratio >= RATIO_TARGET,
            "baseline": baseline,
        },
        {
            "name": f"durable verified webhook intake p99 latency, {CONNECTIONS} connections",
            "figure": round(p99, 1),
            "unit": "ms",
            "target": f"<= {P99_TARGET_MS:.0f} ms",
            "met": p99 <= P99_TARGET_MS,
            "baseline": f"bare FastAPI echo p99 {echo_p99:.0f} ms (the machine's own tail); "
            f"naive commit-per-request p99 {naive.p99_ms:.0f} ms",
        },
        *[_postgres_row(label, measured, rps, p99) for label, measured in (("one receiver", one), ("two receivers behind HAProxy", two))],
    ]


def _postgres_row(label: str, measured: Measured, sqlite_rps: float, sqlite_p99: float) -> dict:
    """A PostgreSQL figure: requests/s and p99 beside the SQLite receiver's from this run, and the CPU
    each request cost. No target: on 2 cores it is a measurement for sizing (docs/scale-out.md)."""
    cpu = measured.cpu_ms
    total = sum(cpu.values())
    return {
        "name": f"PostgreSQL store, {label}: durable verified webhook intake, {CONNECTIONS} connections, HMAC, "
        f"async ack (p50 {measured.p50:.1f} ms, p99 {measured.p99:.1f} ms; CPU per request {total:.2f} ms = "
        f"receivers {cpu['receivers']:.2f} + PostgreSQL backends {cpu['postgres']:.2f} + HAProxy {cpu['haproxy']:.2f})",
        "figure": round(measured.rps),
        "unit": "req/s",
        "target": "reported for sizing (2 cores: no target)",
        "met": True,
        "baseline": f"SQLite store, one receiver, same run: {sqlite_rps:,.0f} req/s, p99 {sqlite_p99:.1f} ms; "
        f"medians of {len(measured.runs)} alternating {SECONDS}-s rounds",
    }


if __name__ == "__main__":
    for row in run():
        print(row)
