"""Alert latency (target p95 ≤ 60 s): the time from a condition starting to its notification being
received, through the real product (`crossdock up`: Dagster's daemon running the `alerts` sensor
beside every other sensor, the receiver, the app and the demo data).

The bench adds a Slack-type channel pointing at a loopback HTTP sink in this process and a webhook
integration, then BENCH_ALERTS_TRIALS times: records a failed sync for it (the condition starts
when that row commits), waits for the "[FIRING]" message, records a successful sync, and waits for
the "[RESOLVED]" message. Conditions start at random moments of the sensor's 15 s cycle, so the
figure includes the wait for the next tick. It also counts messages received twice.

Meanwhile async webhooks arrive at BENCH_ALERTS_WEBHOOKS_PER_S (default 2/s, as in `bench_mixed`),
so inbox runs come and go in Dagster beside the demo data's polls. The rest of `bench_mixed`'s
workload (a 1M-row DB pull, a 7-day backfill, a slow client API) is not started here: it takes
several minutes and most of the machine on its own.
"""
from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import sqlalchemy as sa

from bench.mixed_run import MixedRun, quantile

TRIALS = int(os.environ.get("BENCH_ALERTS_TRIALS", "10"))
TARGET_P95_SECONDS = 60.0
WAIT_SECONDS = 180.0
WEBHOOKS_PER_S = float(os.environ.get("BENCH_ALERTS_WEBHOOKS_PER_S", "2"))
LOAD_KEY = "bench-alerts-load-key"
NAME = "bench_alerts"


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
    from pipelines.store.schema import sync_runs

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sync_runs.insert().values(
            integration_id=integration_id, source_kind="bench", started_at=now, finished_at=now, status="failed" if failed else "ok",
            message="bench: the client's API answered HTTP 500" if failed else None, total_received=0 if failed else 1,
            created=0 if failed else 1))
    return time.time()


def _webhooks(receiver: str, stop: threading.Event, sent: list[int]) -> None:
    """Async webhooks to the `bench_load` integration at WEBHOOKS_PER_S until `stop`."""
    import requests

    session = requests.Session()
    n = 0
    while not stop.wait(1 / WEBHOOKS_PER_S):
        n += 1
        body = orjson.dumps({"external_id": f"L-{n}", "client_name": f"Client {n}", "address": "Zona 10"})
        try:
            session.post(f"{receiver}/webhook/bench_load", data=body, timeout=10,
                         headers={"Content-Type": "application/json", "X-API-Key": LOAD_KEY})
            sent[0] += 1
        except requests.RequestException:
            pass


def run() -> list[dict]:
    from pipelines.alerts.channels import save_channel
    from pipelines.integrations import Integration, create_integration
    from pipelines.store.engine import make_engine

    sink = Sink()
    fired: list[float] = []
    sent = [0]
    resolved: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as folder:
        product = MixedRun("alerts", Path(__file__).resolve().parent.parent, Path(folder), "", "", 0)
        product.start()
        os.environ["CROSSDOCK_HOME"] = str(product.home)  # the product's secret key encrypts the channel's URL
        try:
            engine = make_engine(f"sqlite:///{product.store_path}")
            save_channel(engine, "bench chat", "slack", {"url": sink.url}, actor="bench")
            integration = create_integration(engine, Integration(name=NAME, type="webhook"))
            create_integration(engine, Integration.model_validate({
                "name": "bench_load", "type": "webhook", "auth_type": "apikey", "auth_value": LOAD_KEY,
                "webhook": {"ack_mode": "async"}}))
            stop_load, sent = threading.Event(), [0]
            load = threading.Thread(target=_webhooks, args=(product.receiver, stop_load, sent), daemon=True)
            load.start()
            seen = 0
            for _ in range(TRIALS):
                time.sleep(random.uniform(0, 15))  # a random phase of the sensor's cycle
                started = _sync(engine, integration.id, failed=True)
                got = sink.wait_for(f"[FIRING] {NAME}", seen)
                if got is None:
                    break
                fired.append(got[0] - started)
                seen = got[1]
                time.sleep(random.uniform(0, 15))
                ended = _sync(engine, integration.id, failed=False)
                got = sink.wait_for(f"[RESOLVED] {NAME}", seen)
                if got is None:
                    break
                resolved.append(got[0] - ended)
                seen = got[1]
            stop_load.set()
            load.join(timeout=30)
            engine.dispose()
        finally:
            product.stop()
            sink.server.shutdown()
    # Each trial is one alert: exactly one FIRING and one RESOLVED message; anything more was sent twice.
    mine = [text for _, text in sink.messages if NAME in text]
    repeats = len(mine) - len(fired) - len(resolved)
    p95 = quantile(fired, 0.95)
    complete = len(fired) == TRIALS and len(resolved) == TRIALS
    return [
        {"name": "condition start → alert received, p95", "figure": round(p95, 1) if p95 is not None else "n/a", "unit": "s",
         "target": f"≤ {TARGET_P95_SECONDS:.0f} s", "met": complete and p95 is not None and p95 <= TARGET_P95_SECONDS,
         "baseline": f"{len(fired)} of {TRIALS} alerts received, {sent[0]} webhooks sent meanwhile; "
                     f"p50 {quantile(fired, 0.5) or 0:.1f} s, max {max(fired, default=0):.1f} s"},
        {"name": "condition end → resolved received, p95", "figure": round(quantile(resolved, 0.95) or 0, 1), "unit": "s",
         "target": f"≤ {TARGET_P95_SECONDS:.0f} s", "met": complete and (quantile(resolved, 0.95) or 0) <= TARGET_P95_SECONDS,
         "baseline": f"{len(resolved)} of {TRIALS} resolutions received"},
        {"name": "messages received more than once", "figure": repeats, "unit": "", "target": "0", "met": repeats == 0,
         "baseline": ""},
    ]
