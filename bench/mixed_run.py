"""One run of the mixed workload against one tree of Crossdock's code, started as a user starts it
(`python -m crossdock up`, its demo data included) and driven over HTTP from outside:

- 5 API integrations polling `bench.slow_api` (pages of 1-5 s) every 30 s, and one DB integration
  pulling 1M rows from PostgreSQL, beside the demo integrations;
- an operator's backfill of 7 days of one API integration, launched through Dagster's GraphQL API;
- signed async webhooks at 2/s and order status changes at 1/s through the receiver, with the
  callback endpoint down (connection refused) for the first 60 s.

Everything measured comes from the store and Dagster's instance, read by this process: when each
webhook's order became visible, each callback's attempts, and the run queue, sampled every 2 s.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import requests

from bench.servers import free_port
from bench.slow_api import TOKEN as SLOW_API_TOKEN
from crossdock.demo_pull import DEMO_API_SETTINGS

ADMIN_TOKEN = "bench-mixed-admin-token"
HOOK_SECRET = "bench-mixed-hmac-secret"
ENDPOINT_DOWN_SECONDS = 60
RETRY_SCHEDULE = [5, 30, 60, 120, 300]
WEBHOOKS_PER_SECOND = 2
CHANGES_PER_SECOND = 1
API_INTEGRATIONS = 5
BACKFILL_DAYS = 7
DB_QUERY = (
    "SELECT order_id AS external_id, customer_name AS client_name, delivery_address AS address, "
    "created_at FROM orders WHERE status = 'ready_to_ship'"
)
NEXT_STATUS = {None: "assigned", "assigned": "in_route", "in_route": "delivered"}


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _when(text: str) -> float:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class _Sink(BaseHTTPRequestHandler):
    """The client's callback endpoint once it is back: takes everything."""

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@dataclass
class Samples:
    queue: list[tuple[float, int]] = field(default_factory=list)  # (time, queued runs)
    schedule: dict[tuple[int, int], float] = field(default_factory=dict)  # (outbox id, attempts) -> next attempt due
    webhook_sent: dict[str, float] = field(default_factory=dict)
    webhook_seen: dict[str, float] = field(default_factory=dict)
    changes: int = 0
    change_errors: list[str] = field(default_factory=list)
    webhook_errors: list[str] = field(default_factory=list)


class MixedRun:
    def __init__(self, label: str, tree: Path, folder: Path, slow_api_url: str, pg_url: str, seconds: float):
        self.label, self.tree, self.folder = label, tree, folder
        self.slow_api_url, self.pg_url, self.seconds = slow_api_url, pg_url, seconds
        self.home = folder / "home"
        self.home.mkdir(parents=True)
        self.ports = {
            name: free_port()
            for name in (
                "CROSSDOCK_PORT",
                "CROSSDOCK_DAGSTER_PORT",
                "CROSSDOCK_STREAMLIT_PORT",
                "CROSSDOCK_DEMO_API_PORT",
                "CROSSDOCK_DAGSTER_GRPC_PORT",
            )
        }
        self.receiver = f"http://127.0.0.1:{self.ports['CROSSDOCK_PORT']}"
        self.dagster = f"http://127.0.0.1:{self.ports['CROSSDOCK_DAGSTER_PORT']}"
        self.sink_port = free_port()
        self.store_path = self.home / "crossdock.db"
        self.samples = Samples()
        self.stop_load = threading.Event()
        self.stop_sampling = threading.Event()
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        self.process: subprocess.Popen | None = None
        self.backfill: str = "not launched"
        self._load: list[threading.Thread] = []
        self._watchers: list[threading.Thread] = []

    # -- the product ------------------------------------------------------------------------------
    def start(self) -> None:
        env = {
            **os.environ,
            **{k: str(v) for k, v in self.ports.items()},
            "PYTHONPATH": str(self.tree),
            "CROSSDOCK_HOME": str(self.home),
            "CROSSDOCK_DATABASE_URL": f"sqlite:///{self.store_path}",
            "CROSSDOCK_ADMIN_TOKEN": ADMIN_TOKEN,
            "DAGSTER_HOME": str(self.home / "dagster"),
        }
        self.log = open(self.folder / "up.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crossdock", "up"],
            cwd=self.tree,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        for url in (f"{self.receiver}/health", f"{self.dagster}/server_info"):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.label}: crossdock up exited; see {self.folder / 'up.log'}")
                try:
                    if requests.get(url, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label}: {url} did not answer within 300 s")
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left of its session
        except ProcessLookupError:
            pass
        self.log.close()

    def instance(self):
        import dagster as dg

        return dg.DagsterInstance.from_config(str(self.home / "dagster"))

    # -- set-up -----------------------------------------------------------------------------------
    def create_integrations(self) -> None:
        documents = [
            {
                "name": "bench_hook",
                "type": "webhook",
                "auth_type": "hmac",
                "auth_value": HOOK_SECRET,
                "webhook": {"ack_mode": "async"},
                "callback_url": f"http://127.0.0.1:{self.sink_port}/callbacks",
                "callback_events": ["assigned", "in_route", "delivered", "cancelled"],
                "callbacks": {"retry_schedule_seconds": RETRY_SCHEDULE, "jitter_ratio": 0.2},
            }
        ]
        documents += [
            {
                "name": f"slow_api_{i}",
                "type": "api",
                "endpoint": f"{self.slow_api_url}/orders?client={i}",
                "auth_type": "bearer",
                "auth_value": SLOW_API_TOKEN,
                "poll_interval_seconds": 30,
                "field_mapping": {"external_id": "order_number", "client_name": "customer.name", "address": "shipping_address.full"},
                "api": DEMO_API_SETTINGS,
            }
            for i in range(API_INTEGRATIONS)
        ]
        documents.append(
            {
                "name": "bench_db",
                "type": "db",
                "poll_interval_seconds": 300,
                "db": {"url": self.pg_url, "query": DB_QUERY, "watermark_column": "created_at"},
            }
        )
        for document in documents:
            answer = self.admin.post(f"{self.receiver}/integrations", json=document, timeout=30)
            if answer.status_code != 201:
                raise RuntimeError(f"{self.label}: creating {document['name']}: {answer.status_code} {answer.text[:300]}")

    # -- load -------------------------------------------------------------------------------------
    def _send_webhooks(self) -> None:
        session = requests.Session()
        i = 0
        next_at = time.monotonic()
        while not self.stop_load.is_set():
            external_id = f"MIX-{i:05d}"
            body = orjson.dumps({"external_id": external_id, "client_name": f"Cliente {i}", "address": "Zona 10, Guatemala"})
            signature = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            sent = time.time()
            try:
                answer = session.post(
                    f"{self.receiver}/webhook/bench_hook",
                    data=body,
                    timeout=30,
                    headers={"Content-Type": "application/json", "X-Webhook-Signature": signature},
                )
                if answer.status_code == 202:
                    self.samples.webhook_sent[external_id] = sent
                else:
                    self.samples.webhook_errors.append(f"{answer.status_code}")
            except requests.RequestException as exc:
                self.samples.webhook_errors.append(type(exc).__name__)
            i += 1
            next_at += 1 / WEBHOOKS_PER_SECOND
            self.stop_load.wait(max(0.0, next_at - time.monotonic()))

    def _change_statuses(self) -> None:
        status: dict[int, str | None] = {}
        next_at = time.monotonic()
        while not self.stop_load.is_set():
            next_at += 1 / CHANGES_PER_SECOND
            self.stop_load.wait(max(0.0, next_at - time.monotonic()))
            for internal_id in self._bench_orders():
                status.setdefault(internal_id, None)
            candidates = [i for i, s in status.items() if s in NEXT_STATUS]
            if not candidates:
                continue
            internal_id = min(candidates, key=lambda i: (list(NEXT_STATUS).index(status[i]), i))
            to = NEXT_STATUS[status[internal_id]]
            now = datetime.now(UTC)
            body: dict = {"status": to}
            if to == "in_route":
                body["eta"] = (now + timedelta(hours=1)).isoformat()
            if to == "delivered":
                body.update(delivered_at=now.isoformat(), delivery_proof={"signature_url": "https://cdn.example.com/s.png"})
            try:
                answer = self.admin.post(f"{self.receiver}/orders/{internal_id}/status", json=body, timeout=30)
            except requests.RequestException as exc:
                self.samples.change_errors.append(type(exc).__name__)
                continue
            if answer.status_code == 200:
                status[internal_id] = to
                self.samples.changes += 1
            else:
                self.samples.change_errors.append(f"{answer.status_code} {answer.text[:120]}")
                status[internal_id] = "refused"

    def _bench_orders(self) -> list[int]:
        with self._store() as conn:
            return [
                row[0]
                for row in conn.execute(
                    "SELECT o.id FROM orders o JOIN integrations i ON i.id = o.integration_id WHERE i.name = 'bench_hook'"
                )
            ]

    def _serve_sink_later(self) -> ThreadingHTTPServer | None:
        if self.stop_load.wait(ENDPOINT_DOWN_SECONDS):
            return None
        self.endpoint_up_at = time.time()
        sink = ThreadingHTTPServer(("127.0.0.1", self.sink_port), _Sink)
        sink.daemon_threads = True
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        self.sink = sink
        return sink

    def _launch_backfill(self) -> None:
        if self.stop_load.wait(30):
            return
        days = [(datetime.now(UTC).date() - timedelta(days=d)).isoformat() for d in range(BACKFILL_DAYS, 0, -1)]
        with self.instance() as instance:
            deadline = time.monotonic() + 120
            while not instance.has_dynamic_partition("api_integration", "slow_api_0") and time.monotonic() < deadline:
                time.sleep(1)
        mutation = (
            "mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) "
            "{ __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"
        )
        params = {"assetSelection": [{"path": ["api_pull"]}], "partitionNames": [f"{d}|slow_api_0" for d in days]}
        answer = requests.post(f"{self.dagster}/graphql", json={"query": mutation, "variables": {"p": params}}, timeout=60)
        result = answer.json().get("data", {}).get("launchPartitionBackfill", {})
        self.backfill = (
            result.get("backfillId")
            and f"backfill {result['backfillId']} of {BACKFILL_DAYS} days"
            or f"backfill refused: {answer.text[:300]}"
        )

    # -- observation ------------------------------------------------------------------------------
    def _store(self) -> sqlite3.Connection:
        return sqlite3.connect(self.store_path, timeout=30)

    def _watch_orders(self) -> None:
        while not self.stop_sampling.wait(0.25):
            outstanding = [k for k in list(self.samples.webhook_sent) if k not in self.samples.webhook_seen]
            if not outstanding:
                continue
            now = time.time()
            with self._store() as conn:
                for start in range(0, len(outstanding), 500):
                    chunk = outstanding[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    for (external_id,) in conn.execute(f"SELECT external_id FROM orders WHERE external_id IN ({marks})", chunk):
                        self.samples.webhook_seen[external_id] = now

    def _sample(self) -> None:
        import dagster as dg

        with self.instance() as instance:
            while not self.stop_sampling.wait(1.0):
                self.samples.queue.append((time.time(), instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))))
                with self._store() as conn:
                    for outbox_id, attempts, due in conn.execute(
                        "SELECT id, attempts, next_attempt_at FROM callback_outbox WHERE status = 'pending'"
                    ):
                        self.samples.schedule.setdefault((outbox_id, attempts), _when(due))

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> dict:
        """The whole mixed benchmark: start the product, load it for `seconds`, drain, measure."""
        try:
            self.start()
            started = self.begin_workload()
            time.sleep(self.seconds)
            return self.end_workload(started)
        finally:
            self.close()

    def begin_workload(self) -> float:
        """Create the workload's integrations and start the load and the watchers in the background
        (another benchmark measures its own figure meanwhile); returns when the load started."""
        self.create_integrations()
        started = time.time()
        self._watchers = [threading.Thread(target=self._watch_orders, daemon=True), threading.Thread(target=self._sample, daemon=True)]
        self._load = [
            threading.Thread(target=t, daemon=True)
            for t in (self._send_webhooks, self._change_statuses, self._serve_sink_later, self._launch_backfill)
        ]
        for thread in self._watchers + self._load:
            thread.start()
        return started

    def end_workload(self, started: float, drain: bool = True) -> dict:
        """Stop the load, drain (unless not wanted: the queue-recovery figure is then n/a), measure."""
        self.stop_load.set()
        stopped = time.time()
        for thread in self._load:
            thread.join(timeout=120)
        if drain:
            self._drain(stopped)
        self.stop_sampling.set()
        for thread in self._watchers:
            thread.join(timeout=60)
        return self.figures(started, stopped)

    def close(self) -> None:
        """Stop everything this run started: the load, the product, the callback endpoint."""
        self.stop_load.set()
        self.stop_sampling.set()
        self.stop()
        if getattr(self, "sink", None) is not None:
            self.sink.shutdown()

    def _drain(self, stopped: float) -> None:
        """After the load: at least 60 s more (the queue must recover), then until every webhook is
        visible and every callback delivered, for at most the retry schedule's longest wait."""
        deadline = stopped + 60 + max(RETRY_SCHEDULE) * 1.3
        while time.time() < deadline:
            if time.time() - stopped >= 60 and not self._pending_work():
                return
            time.sleep(2)

    def _pending_work(self) -> bool:
        if len(self.samples.webhook_seen) < len(self.samples.webhook_sent):
            return True
        with self._store() as conn:
            return bool(conn.execute("SELECT count(*) FROM callback_outbox WHERE status = 'pending'").fetchone()[0])

    def figures(self, started: float, stopped: float) -> dict:
        visible = [self.samples.webhook_seen[k] - sent for k, sent in self.samples.webhook_sent.items() if k in self.samples.webhook_seen]
        missing = len(self.samples.webhook_sent) - len(visible)
        callbacks = self._callback_figures()
        queue_during = [n for t, n in self.samples.queue if started <= t <= stopped]
        after = [(t - stopped, n) for t, n in self.samples.queue if t > stopped]
        recovered = next((seconds for seconds, n in after if n <= 3), None)
        with self._store() as conn:
            integrations = conn.execute("SELECT count(*) FROM integrations").fetchone()[0]
        return {
            "webhooks": len(self.samples.webhook_sent),
            "webhook_errors": len(self.samples.webhook_errors),
            "webhooks_never_visible": missing,
            "visible_p95": quantile(visible, 0.95),
            "visible_p99": quantile(visible, 0.99),
            "visible_max": max(visible, default=None),
            "changes": self.samples.changes,
            "change_errors": self.samples.change_errors[:5],
            **callbacks,
            "integrations": integrations,
            "queue_max": max(queue_during, default=0),
            "queue_recovered_after_s": recovered,
            "backfill": self.backfill,
            **self._run_figures(started),
        }

    def _callback_figures(self) -> dict:
        with self._store() as conn:
            outbox = {
                row[0]: (row[1], _when(row[2]), row[3])
                for row in conn.execute(
                    "SELECT o.id, o.order_id, o.created_at, o.status FROM callback_outbox o "
                    "JOIN integrations i ON i.id = o.integration_id WHERE i.name = 'bench_hook'"
                )
            }
            attempts: dict[int, list[tuple[float, bool]]] = {}
            for outbox_id, at, code, error in conn.execute(
                "SELECT outbox_id, attempted_at, status_code, error FROM callback_attempts ORDER BY id"
            ):
                if outbox_id in outbox:
                    attempts.setdefault(outbox_id, []).append((_when(at), code is not None and 200 <= code < 300 and not error))
        first = [attempts[i][0][0] - created for i, (_, created, _) in outbox.items() if i in attempts]
        lateness: list[float] = []
        waiting_lateness: list[float] = []
        up = getattr(self, "endpoint_up_at", float("inf"))
        for outbox_id, tries in attempts.items():
            for k in range(1, len(tries)):
                due = self.samples.schedule.get((outbox_id, k))
                if due is None or due > tries[k][0] + 1:
                    continue  # not sampled between the two attempts, or the lease of a claim
                late = tries[k][0] - due
                lateness.append(late)
                if tries[k][1] and tries[0][0] < up:
                    waiting_lateness.append(late)  # the attempt that delivered a callback that waited out the outage
        out_of_order = 0
        by_order: dict[int, list[tuple[float, int]]] = {}
        for outbox_id, tries in attempts.items():
            delivered_at = next((at for at, ok in tries if ok), None)
            if delivered_at is not None:
                by_order.setdefault(outbox[outbox_id][0], []).append((delivered_at, outbox_id))
        for deliveries in by_order.values():
            ids = [outbox_id for _, outbox_id in sorted(deliveries)]
            out_of_order += ids != sorted(ids)
        return {
            "callbacks": len(outbox),
            "callbacks_attempted": len(first),
            "callbacks_undelivered": sum(1 for _, _, status in outbox.values() if status != "delivered"),
            "first_attempt_p95": quantile(first, 0.95),
            "first_attempt_max": max(first, default=None),
            "retries_measured": len(lateness),
            "retry_lateness_p95": quantile(lateness, 0.95),
            "retry_lateness_max": max(lateness, default=None),
            "waited_out_outage": len(waiting_lateness),
            "waited_lateness_max": max(waiting_lateness, default=None),
            "orders_out_of_order": out_of_order,
        }

    def _run_figures(self, started: float) -> dict:
        import dagster as dg

        with self.instance() as instance:
            runs = instance.get_run_records(limit=10_000)
            failed = [r.dagster_run for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
            never_ran = sum(
                1 for run in failed if not instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1).records
            )
        minutes = max(1e-9, (time.time() - started) / 60)
        return {
            "runs": len(runs),
            "runs_per_minute": len(runs) / minutes,
            "runs_failed": len(failed),
            "runs_failed_without_executing": never_ran,
        }
