"""REST polling: 100k orders over 1,000 pages from a loopback server into the store (SQLite), beside
dlt's `rest_api` source pulling the same pages from the same server into DuckDB, in the same run
(DESIGN.md §4: target ≥ 3× dlt's throughput).

The server runs in its own process with every page pre-rendered, so neither side is measuring the
server. Both sides follow the `next` URL in the body (1,000 requests each) and land every order.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

N = int(os.environ.get("BENCH_POLLING_N", "100000"))
PAGE = 100
TARGET_RATIO = 3.0
SEED_MAPPING = {
    "external_id": "order_number",
    "client_name": "customer.name",
    "address": "shipping_address.full",
    "latitude": "shipping_address.lat",
    "longitude": "shipping_address.lng",
}


def _pages(n: int) -> list[bytes]:
    import orjson

    pages = []
    for start in range(0, n, PAGE):
        data = [
            {
                "order_number": f"ORD-{i:07d}",
                "customer": {"name": f"Cliente {i}"},
                "shipping_address": {
                    "full": f"{i % 30 + 1}a Avenida {i % 20}-{i % 90}, Zona {i % 25}, Guatemala",
                    "lat": 14.5 + (i % 1000) / 10_000,
                    "lng": -90.5 - (i % 1000) / 10_000,
                },
                "status": "pending",
                "updated_at": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            }
            for i in range(start, min(start + PAGE, n))
        ]
        following = f"/orders?page={start // PAGE + 2}" if start + PAGE < n else None
        pages.append(orjson.dumps({"data": data, "next": following}))
    return pages


def _serve(n: int, ready: multiprocessing.Queue) -> None:
    pages = _pages(n)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
            body = pages[page - 1]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.put(server.server_address[1])
    server.serve_forever()


def _crossdock(base_url: str, folder: Path) -> tuple[float, dict]:
    from connectors.rest import poll_api
    from pipelines.integrations import ApiIntegration, create_integration
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade

    os.environ["CROSSDOCK_HOME"] = str(folder)
    engine = make_engine(f"sqlite:///{folder / 'store.db'}")
    upgrade(engine)
    integration = create_integration(
        engine,
        ApiIntegration(
            name="bench_api",
            endpoint=f"{base_url}/orders",
            field_mapping=SEED_MAPPING,
            api={"pagination": "next_url", "records_path": "data", "next_url_path": "next", "max_pages": 100_000},
        ),
    )
    started = time.perf_counter()
    report = poll_api(engine, integration)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, {**report.counts, **report.read}


def _dlt(base_url: str, folder: Path) -> tuple[float, int]:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {"base_url": base_url, "paginator": {"type": "json_link", "next_url_path": "next"}},
            "resources": [{"name": "orders", "endpoint": {"path": "orders", "data_selector": "data"}}],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_rest",
        pipelines_dir=str(folder / "dlt"),
        destination=dlt.destinations.duckdb(str(folder / "dlt.duckdb")),
        dataset_name="bench",
    )
    started = time.perf_counter()
    pipeline.run(source)
    elapsed = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("orders", 0)
    return elapsed, rows


def run() -> list[dict]:
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=_serve, args=(N, ready), daemon=True)
    server.start()
    try:
        base_url = f"http://127.0.0.1:{ready.get(timeout=120)}"
        with tempfile.TemporaryDirectory() as tmp:
            ours, figures = _crossdock(base_url, Path(tmp))
            theirs, dlt_rows = _dlt(base_url, Path(tmp))
    finally:
        server.terminate()
        server.join(timeout=10)
    assert figures["created"] == N and figures["pages"] == N // PAGE, figures
    assert dlt_rows == N, dlt_rows
    ratio = theirs / ours
    return [
        {
            "name": f"REST polling, {N:,} orders over {N // PAGE:,} pages from loopback into the store (SQLite)",
            "figure": round(N / ours),
            "unit": "orders/s",
            "target": f">= {TARGET_RATIO:g}x dlt rest_api",
            "met": ratio >= TARGET_RATIO,
            "baseline": (
                f"dlt rest_api -> DuckDB, same server, same run: {N / theirs:,.0f} orders/s ({ours:.1f} s vs {theirs:.1f} s: {ratio:.1f}x)"
            ),
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
