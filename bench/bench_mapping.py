"""Mapping engine throughput on the seed's Shopify mapping (target >= 80k records/s), beside the same
mapping run by jmespath's own interpreter (DESIGN.md §4 baseline, about 12.7k/s for 9 fields here).

Both sides produce the same records; the run checks that before printing anything.
"""
from __future__ import annotations

import os
import time

from bench.shopify_data import shopify_mapping, shopify_orders

N = int(os.environ.get("BENCH_MAPPING_N", "200000"))
BASELINE_N = max(N // 5, 1)
TARGET = 80_000


def _rate(apply, records) -> float:
    started = time.perf_counter()
    for record in records:
        apply(record)
    return len(records) / (time.perf_counter() - started)


def run() -> list[dict]:
    from pipelines.mapping import InterpretedMapping, compile_mapping

    mapping = shopify_mapping()
    records = shopify_orders(N)
    compiled = compile_mapping(mapping)
    interpreted = InterpretedMapping(mapping)
    sample = records[:1000]
    assert [compiled.apply(r).values for r in sample] == [interpreted.apply(r).values for r in sample]
    _rate(compiled.apply, records[:5000])  # warm caches before timing either side
    compiled_rate = max(_rate(compiled.apply, records) for _ in range(3))
    interpreted_rate = max(_rate(interpreted.apply, records[:BASELINE_N]) for _ in range(3))
    return [
        {
            "name": f"mapping engine, seed's Shopify mapping ({len(mapping)} fields, {N:,} records, best of 3)",
            "figure": round(compiled_rate),
            "unit": "records/s",
            "target": f">= {TARGET:,} records/s",
            "met": compiled_rate >= TARGET,
            "baseline": f"jmespath interpreter, same mapping and functions: {interpreted_rate:,.0f} records/s "
            f"({compiled_rate / interpreted_rate:.1f}x)",
        }
    ]
