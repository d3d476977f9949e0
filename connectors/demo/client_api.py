"""A demo client order API for `make up`: paginated, bearer-protected, orders shaped like the
Logitrack plan's API example (`order_number`, `customer.name`, `shipping_address.full/lat/lng`) with
`updated_at`, filterable by `status`, `updated_since` and `updated_until`. A new order appears every
`grow_every_seconds`, so scheduled polls have something new to find.

    python -m connectors.demo.client_api --port 8090
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response

from pipelines.clock import iso, utcnow

DEMO_TOKEN = "sk_live_demo_crossdock"
HISTORY = timedelta(days=3)
_FIRST = ["Juan", "María", "José", "Ana", "Luis", "Sofía", "Carlos", "Lucía", "Diego", "Valeria"]
_LAST = ["Pérez", "García", "Núñez", "López", "Hernández", "Martínez", "Ramírez", "Gómez", "Castillo", "Ortiz"]
_STREETS = [
    "5ta Avenida 10-20",
    "Calle Real 4-15",
    "Boulevard Los Próceres 18",
    "Diagonal 6 12-42",
    "Avenida Reforma 8-60",
    "Calzada Roosevelt 22-43",
    "6a Calle 3-21",
]
_ZONES = ["Zona 1", "Zona 4", "Zona 9", "Zona 10", "Zona 11", "Zona 14", "Zona 15", "Mixco", "Villa Nueva"]


def demo_order(index: int, updated_at: datetime) -> dict[str, Any]:
    """Order number `index`, the same every time (seeded by its index)."""
    rng = random.Random(index)
    return {
        "order_number": f"CXYZ-{10_000 + index}",
        "customer": {
            "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            "phone": f"+502 5{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        },
        "shipping_address": {
            "full": f"{rng.choice(_STREETS)}, {rng.choice(_ZONES)}, Guatemala",
            "lat": round(14.55 + rng.random() * 0.1, 6),
            "lng": round(-90.58 + rng.random() * 0.1, 6),
        },
        "status": "shipped" if index % 9 == 8 else "pending",
        "updated_at": iso(updated_at.replace(microsecond=0)),
    }


class DemoOrders:
    """`initial` orders spread over the last three days before `started`, then one more every
    `grow_every_seconds` (None: no growth)."""

    def __init__(self, initial: int, started: datetime, grow_every_seconds: float | None, clock: Callable[[], datetime]):
        self.initial, self.started, self.grow, self.clock = initial, started, grow_every_seconds, clock

    def all(self) -> list[dict[str, Any]]:
        step = HISTORY / max(self.initial, 1)
        orders = [demo_order(i, self.started - HISTORY + i * step) for i in range(self.initial)]
        if self.grow:
            extra = int((self.clock() - self.started).total_seconds() // self.grow)
            orders += [demo_order(self.initial + j, self.started + (j + 1) * timedelta(seconds=self.grow)) for j in range(extra)]
        return orders


def create_app(
    *,
    token: str = DEMO_TOKEN,
    initial: int = 120,
    grow_every_seconds: float | None = 60.0,
    started: datetime | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    store = DemoOrders(initial, started or clock(), grow_every_seconds, clock)
    app = FastAPI(title="Demo client order API", description="A client's REST API for Crossdock's polling demo.")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/orders")
    def orders(
        request: Request,
        response: Response,
        authorization: str | None = Header(None),
        status: str | None = None,
        updated_since: str | None = None,
        updated_until: str | None = None,
        page: int = Query(1, ge=1),
        per_page: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        if authorization != f"Bearer {token}":
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
        rows = store.all()
        if status:
            rows = [o for o in rows if o["status"] == status]
        if updated_since:
            rows = [o for o in rows if o["updated_at"] >= _normal(updated_since)]
        if updated_until:
            rows = [o for o in rows if o["updated_at"] < _normal(updated_until)]
        chunk = rows[(page - 1) * per_page : page * per_page]
        if page * per_page < len(rows):
            response.headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
        return {"data": chunk, "page": page, "per_page": per_page, "total": len(rows)}

    return app


def _normal(moment: str) -> str:
    """Accept any ISO 8601 bound; compare in the API's own `...Z` form."""
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{moment!r} is not an ISO 8601 date-time") from None
    return iso(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the demo client order API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", default=DEMO_TOKEN, help="the bearer token clients must send")
    parser.add_argument("--orders", type=int, default=120, help="orders already there at start")
    parser.add_argument("--grow-every", type=float, default=60.0, help="seconds between new orders (0: none)")
    args = parser.parse_args(argv)
    app = create_app(token=args.token, initial=args.orders, grow_every_seconds=args.grow_every or None)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
