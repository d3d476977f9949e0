"""Shopify-style orders for benchmarks, shaped like the Logitrack plan's example."""

from __future__ import annotations

import json
from pathlib import Path

FIRST = ["Juan", "María", "Diego", "Ana", "Luis", "Sofía", "Carlos", "Lucía"]
LAST = ["Pérez", "García", "López", "Martínez", "Hernández", "Gómez"]
CITIES = ["Guatemala", "Mixco", "Villa Nueva", "Antigua"]


def shopify_orders(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "id": start + i,
            "name": f"#{1000 + start + i}",
            "customer": {"first_name": FIRST[i % len(FIRST)], "last_name": LAST[i % len(LAST)]},
            "shipping_address": {
                "address1": f"{i % 30 + 1}a Avenida {i % 20}-{i % 90}",
                "city": CITIES[i % len(CITIES)],
                "zip": f"01{i % 100:03d}",
            },
        }
        for i in range(n)
    ]


def shopify_mapping() -> dict:
    path = Path(__file__).resolve().parent.parent / "examples" / "shopify_mapping.json"
    return json.loads(path.read_text(encoding="utf-8"))["field_mapping"]
