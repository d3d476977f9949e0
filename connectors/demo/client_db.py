"""A client's order database as the Logitrack plan's option 3 imagines it: an `orders` table with
`order_id, customer_name, delivery_address, lat, lng, status, logitrack_synced, created_at`, so the
plan's query runs against it verbatim. The same table definition builds the demo SQLite file and the
PostgreSQL/MariaDB tables of the tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# The plan's query, verbatim (only the trailing semicolon is dropped when stored).
SEED_QUERY = """SELECT
  order_id as external_id,
  customer_name as client_name,
  delivery_address as address,
  COALESCE(lat, 0) as latitude,
  COALESCE(lng, 0) as longitude
FROM orders
WHERE status = 'ready_to_ship'
  AND logitrack_synced = FALSE
ORDER BY created_at
LIMIT 100;"""
SEED_WRITE_BACK = "UPDATE orders SET logitrack_synced = TRUE WHERE order_id IN :ids"

STREETS = ["5ta Avenida 10-20", "Calle Real 4-15", "Boulevard Los Próceres 18", "Diagonal 6 12-42", "Avenida Reforma 8-60"]
ZONES = ["Zona 1", "Zona 4", "Zona 9", "Zona 10", "Zona 14", "Zona 15"]
NAMES = ["Juan Pérez", "María García", "José Núñez", "Ana López", "Luis Hernández", "Sofía Martínez", "Carlos Ramírez"]


def client_orders_table(metadata: sa.MetaData, name: str = "orders") -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("order_id", sa.String(32), primary_key=True),
        sa.Column("customer_name", sa.String(255), nullable=False),
        sa.Column("delivery_address", sa.String(255), nullable=False),
        sa.Column("lat", sa.Numeric(9, 6), nullable=True),
        sa.Column("lng", sa.Numeric(9, 6), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("logitrack_synced", sa.Boolean, nullable=False, default=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def demo_rows(count: int, now: datetime | None = None, seed: int = 7) -> list[dict[str, Any]]:
    """Orders over the last few days: most ready to ship, some not yet, a few without coordinates,
    and one without a customer name (it fails validation, so it must stay unmarked)."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(tzinfo=None, microsecond=0)
    rows = []
    for i in range(count):
        has_position = i % 7 != 3
        rows.append(
            {
                "order_id": f"ERP-{1000 + i}",
                "customer_name": "" if i == 5 else rng.choice(NAMES),
                "delivery_address": f"{rng.choice(STREETS)}, {rng.choice(ZONES)}, Guatemala",
                "lat": round(14.55 + rng.random() * 0.1, 6) if has_position else None,
                "lng": round(-90.55 + rng.random() * 0.1, 6) if has_position else None,
                "status": "pending" if i % 5 == 4 else "ready_to_ship",
                "logitrack_synced": False,
                "created_at": now - timedelta(hours=(count - i) * 2),
            }
        )
    return rows


def build_demo_client_db(path: Path, rows: int = 40, now: datetime | None = None) -> Path:
    """Create the demo client's SQLite database at `path` (WAL, so reading and marking can overlap);
    an existing one is left as it is, synced flags included."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            metadata = sa.MetaData()
            table = client_orders_table(metadata)
            metadata.create_all(conn)
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0:
                conn.execute(table.insert(), demo_rows(rows, now))
    finally:
        engine.dispose()
    return path
