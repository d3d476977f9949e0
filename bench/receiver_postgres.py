"""The receiver on a PostgreSQL store (bench_receiver.py's workload: durable HMAC-verified intake,
64 connections, async acknowledgement): one receiver, and two receivers behind HAProxy
(`bench/load_balancer.py`), in alternating rounds, with the CPU each request costs the receivers,
HAProxy and the PostgreSQL backends serving them. Run by bench_receiver.py, so its SQLite figure
comes from the same run.

On a 2-core machine the load generator, the receivers, HAProxy and PostgreSQL share two cores, so
two receivers cannot beat one; the CPU per request is what sizes a bigger machine (docs/scale-out.md).
"""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import sqlalchemy as sa

from bench.load_balancer import haproxy
from bench.servers import free_port, server
from bench.wrk import WrkResult, run_wrk

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Measured:
    runs: list[WrkResult]
    cpu_ms: dict[str, float]  # CPU milliseconds per acknowledged request, by process kind

    @property
    def rps(self) -> float:
        return statistics.median(r.requests_per_second for r in self.runs)

    @property
    def p50(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def acknowledged(self) -> int:
        return sum(r.requests - r.non_2xx for r in self.runs)


@contextmanager
def postgres_store() -> Iterator[str]:
    """A store URL on a fresh schema of the benchmark's PostgreSQL, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield str(sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            out[pid] = times.user + times.system
        except psutil.Error:
            continue
    return out


def _backends(url: str, receivers: list[int]) -> set[int]:
    """The PostgreSQL backend processes serving the receivers' connections (matched by client port)."""
    ports = []
    for pid in receivers:
        try:
            ports += [c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432]
        except psutil.Error:
            continue
    if not ports:
        return set()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pids = set(conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(:ports)"), {"ports": ports}).scalars())
    engine.dispose()
    return pids


class _Target:
    """One topology under load: where wrk sends, and whose CPU counts."""

    def __init__(self, url: str, store_url: str, receivers: list[int], balancer: int | None = None):
        self.url, self.store_url, self.receivers, self.balancer = url, store_url, receivers, balancer
        self.runs: list[WrkResult] = []
        self.cpu = {"receivers": 0.0, "postgres": 0.0, "haproxy": 0.0}

    def round(self, script: Path, connections: int, seconds: int) -> None:
        kinds = {"receivers": set(self.receivers), "haproxy": {self.balancer} if self.balancer else set()}
        kinds["postgres"] = _backends(self.store_url, self.receivers)
        before = {kind: cpu_seconds(pids) for kind, pids in kinds.items()}
        result = run_wrk(self.url, script, connections=connections, seconds=seconds)
        kinds["postgres"] |= _backends(self.store_url, self.receivers)  # connections opened meanwhile count whole
        for kind, pids in kinds.items():
            after = cpu_seconds(pids)
            self.cpu[kind] += sum(after[pid] - before[kind].get(pid, 0.0) for pid in after)
        self.runs.append(result)

    def measured(self) -> Measured:
        acknowledged = sum(r.requests - r.non_2xx for r in self.runs) or 1
        return Measured(self.runs, {kind: 1000 * seconds / acknowledged for kind, seconds in self.cpu.items()})


def measure(env: dict[str, str], store_url: str, script: Path, *, connections: int, seconds: int, rounds: int) -> tuple[Measured, Measured]:
    """One receiver, and two behind HAProxy, on the store at `store_url`, in alternating rounds."""
    ports = [free_port(), free_port(), free_port()]
    balancer = free_port()
    with ExitStack() as stack:
        procs = [
            stack.enter_context(
                server(
                    ["-m", "crossdock", "receiver"],
                    f"http://127.0.0.1:{port}/health",
                    env={**env, "CROSSDOCK_DATABASE_URL": store_url, "CROSSDOCK_PORT": str(port)},
                )
            )
            for port in ports
        ]
        balancer_proc = stack.enter_context(haproxy(balancer, ports[1:]))
        one = _Target(f"http://127.0.0.1:{ports[0]}/webhook/bench", store_url, [procs[0].pid])
        two = _Target(f"http://127.0.0.1:{balancer}/webhook/bench", store_url, [procs[1].pid, procs[2].pid], balancer_proc.pid)
        for target in (one, two):  # warm up: connection pools open, code paths loaded
            run_wrk(target.url, script, connections=connections, seconds=1)
        for _ in range(rounds):
            one.round(script, connections, seconds)
            two.round(script, connections, seconds)
    return one.measured(), two.measured()


def pending_rows(store_url: str) -> int:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM inbox WHERE status = 'pending'")).scalar()
    engine.dispose()
    return count
