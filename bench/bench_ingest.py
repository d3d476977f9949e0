"""Batch ingest: 100k Shopify-style orders mapped, validated and upserted into SQLite (target ≤ 4 s),
beside dlt merging the same mapped rows into DuckDB (DESIGN.md §4 baseline, about 44 s here).

The dlt run uses the rows our mapping produced, so both sides write the same data; only the
write path differs.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.shopify_data import shopify_mapping, shopify_orders

N = int(os.environ.get("BENCH_INGEST_N", "100000"))
TARGET_SECONDS = 4.0


def _crossdock(records: list[dict], folder: Path) -> tuple[float, dict]:
    from pipelines.ingest import ingest
    from pipelines.integrations import WebhookIntegration, create_integration
    from pipelines.store.engine import make_engine
    from pipelines.store.migrate import upgrade

    os.environ["CROSSDOCK_HOME"] = str(folder)
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    upgrade(engine)
    integration = create_integration(engine, WebhookIntegration(name="shopify_bench", field_mapping=shopify_mapping()))
    started = time.perf_counter()
    result = ingest(engine, integration, records, source_kind="bench")
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, result.counts()


def _dlt_merge(rows: list[dict], folder: Path) -> float:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="bench_merge",
        pipelines_dir=str(folder / "dlt"),
        destination=dlt.destinations.duckdb(str(folder / "dlt.duckdb")),
        dataset_name="bench",
    )
    started = time.perf_counter()
    pipeline.run(rows, table_name="orders", write_disposition="merge", primary_key="external_id")
    return time.perf_counter() - started


def run() -> list[dict]:
    from pipelines.mapping import compile_mapping

    records = shopify_orders(N)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        elapsed, counts = _crossdock(records, folder)
        mapped = [m.values for m in compile_mapping(shopify_mapping()).apply_many(records)]
        baseline = _dlt_merge(mapped, folder)
    assert counts["created"] == N, counts
    return [
        {
            "name": f"batch ingest, {N:,} Shopify-style orders mapped+validated+upserted (SQLite)",
            "figure": round(elapsed, 2),
            "unit": "s",
            "target": f"<= {TARGET_SECONDS} s",
            "met": elapsed <= TARGET_SECONDS,
            "baseline": f"dlt merge of the same mapped rows into DuckDB: {baseline:.1f} s "
            f"({N / elapsed:,.0f} vs {N / baseline:,.0f} records/s)",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
