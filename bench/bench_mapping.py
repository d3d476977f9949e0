"""Mapping engine throughput on the seed's Shopify mapping (target >= 80k records/s), beside the same
mapping run by jmespath's own interpreter (DESIGN.md §4 baseline, about 12.7k/s for 9 fields here).

A second figure runs a mapping that leans on the functions (examples/mapping_stripe_sale.json: cents
divided into amounts, line items, a date in a client's time zone, regular expressions, a lookup
table) over Stripe-style sessions, beside the interpreter with the same functions; its target is the
same compiled-versus-interpreted gap the seed mapping shows, at least 3x.

Both sides produce the same records; the run checks that before printing anything.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.shopify_data import shopify_mapping, shopify_orders

N = int(os.environ.get("BENCH_MAPPING_N", "200000"))
BASELINE_N = max(N // 5, 1)
TARGET = 80_000
FUNCTIONS_N = max(N // 4, 1)
FUNCTIONS_SPEEDUP = 3.0
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STATUSES = ["paid", "PAID", "unpaid", "no_payment_required", "refunded"]
NAMES = ["Juan Pérez", "María García López", "Diego", "Ana Martínez"]


def _rate(apply, records) -> float:
    started = time.perf_counter()
    for record in records:
        apply(record)
    return len(records) / (time.perf_counter() - started)


def stripe_mapping() -> dict:
    return json.loads((EXAMPLES / "mapping_stripe_sale.json").read_text(encoding="utf-8"))["field_mapping"]


def stripe_sessions(n: int) -> list[dict]:
    """Checkout sessions shaped like examples/mapping_stripe_session.json, each a little different."""
    template = json.loads((EXAMPLES / "mapping_stripe_session.json").read_text(encoding="utf-8"))
    sessions = []
    for i in range(n):
        lines = [
            {
                "description": f"Producto {j}",
                "quantity": j % 3 + 1,
                "amount_total": 0,
                "price": {"unit_amount": 1000 + 37 * i % 9000 + j, "product": f"SKU-{j}"},
            }
            for j in range(i % 3 + 1)
        ]
        local = f"{i % 28 + 1:02d}/{i % 12 + 1:02d}/2024 {i % 24:02d}:{i % 60:02d}"
        sessions.append(
            {
                **template,
                "id": f"cs_{i}",
                "amount_total": 1999 + i % 100_000,
                "payment_status": STATUSES[i % 5],
                "customer_details": {**template["customer_details"], "name": NAMES[i % 4]},
                "metadata": {**template["metadata"], "fecha_local": local},
                "line_items": {"data": lines},
            }
        )
    return sessions


def _measure(mapping: dict, records: list[dict], baseline_n: int) -> tuple[float, float]:
    from pipelines.mapping import InterpretedMapping, compile_mapping

    compiled = compile_mapping(mapping)
    interpreted = InterpretedMapping(mapping)
    sample = records[:1000]
    assert [compiled.apply(r) for r in sample] == [interpreted.apply(r) for r in sample]
    _rate(compiled.apply, records[:5000])  # warm caches before timing either side
    compiled_rate = max(_rate(compiled.apply, records) for _ in range(3))
    interpreted_rate = max(_rate(interpreted.apply, records[:baseline_n]) for _ in range(3))
    return compiled_rate, interpreted_rate


def run() -> list[dict]:
    mapping = shopify_mapping()
    compiled_rate, interpreted_rate = _measure(mapping, shopify_orders(N), BASELINE_N)
    stripe = stripe_mapping()
    stripe_rate, stripe_interpreted = _measure(stripe, stripe_sessions(FUNCTIONS_N), max(FUNCTIONS_N // 5, 1))
    return [
        {
            "name": f"mapping engine, seed's Shopify mapping ({len(mapping)} fields, {N:,} records, best of 3)",
            "figure": round(compiled_rate),
            "unit": "records/s",
            "target": f">= {TARGET:,} records/s",
            "met": compiled_rate >= TARGET,
            "baseline": f"jmespath interpreter, same mapping and functions: {interpreted_rate:,.0f} records/s "
            f"({compiled_rate / interpreted_rate:.1f}x)",
        },
        {
            "name": f"mapping engine, functions (Stripe sale mapping, {len(stripe)} fields with line items, "
            f"{FUNCTIONS_N:,} records, best of 3)",
            "figure": round(stripe_rate),
            "unit": "records/s",
            "target": f">= {FUNCTIONS_SPEEDUP:.0f}x the interpreter",
            "met": stripe_rate >= FUNCTIONS_SPEEDUP * stripe_interpreted,
            "baseline": f"jmespath interpreter, same mapping and functions: {stripe_interpreted:,.0f} records/s "
            f"({stripe_rate / stripe_interpreted:.1f}x)",
        },
    ]
