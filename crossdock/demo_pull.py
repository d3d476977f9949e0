"""Demo pull integrations for `make up`: the demo client API (polled), the demo client database (the
plan's query and write-back) and a drop folder with a Latin-1, semicolon-separated export, so a new
user sees all three pull modes working without configuring anything."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa

from connectors.demo.client_api import DEMO_TOKEN
from connectors.demo.client_db import SEED_QUERY, SEED_WRITE_BACK, build_demo_client_db
from connectors.files.drops import drop_folder
from pipelines.integrations import (
    ApiIntegration,
    DbIntegration,
    FileIntegration,
    Integration,
    IntegrationNotFound,
    create_integration,
    get_integration,
    update_integration,
)

API_NAME, DB_NAME, FILE_NAME = "demo_api", "demo_db", "demo_files"
# The plan's API example mapping, verbatim.
SEED_API_MAPPING = {
    "external_id": "order_number",
    "client_name": "customer.name",
    "address": "shipping_address.full",
    "latitude": "shipping_address.lat",
    "longitude": "shipping_address.lng",
}
CSV_MAPPING = {
    "external_id": "pedido",
    "client_name": "cliente",
    "address": '"dirección"',
    "client_phone": "telefono",
    "latitude": "to_float(latitud)",
    "longitude": "to_float(longitud)",
    "notes": "notas",
}
SAMPLE_CSV = (
    "pedido;cliente;dirección;telefono;latitud;longitud;notas\n"
    "ERP-F-001;José Núñez;Zona 10, 5ta Avenida 10-20, Guatemala;+502 5555-1234;14.5900;-90.5200;Entregar en recepción\n"
    "ERP-F-002;María Peñate;Calle Ñandú 5, Antigua Guatemala;+502 5555-8899;14.5570;-90.7330;Tocar timbre 3 veces\n"
    "ERP-F-003;Ángel Güell;Boulevard Los Próceres 18, Zona 10;+502 4444-1020;;;Portón café\n"
)


def _ensure(engine: sa.Engine, config: Integration) -> bool:
    """Create `config` unless an integration of that name exists; True when created."""
    try:
        get_integration(engine, config.name)
        return False
    except IntegrationNotFound:
        create_integration(engine, config)
        return True


# How the demo client API pages and resumes (connectors.demo.client_api), as the seed's polling plan
# describes it: numbered pages under `data`, and `updated_since`/`updated_until` on `updated_at`.
DEMO_API_SETTINGS = {
    "pagination": "page",
    "records_path": "data",
    "page_size": 50,
    "cursor_field": "updated_at",
    "cursor_param": "updated_since",
    "window_start_param": "updated_since",
    "window_end_param": "updated_until",
}


def seed_pull_demo(engine: sa.Engine, api_base_url: str, home: Path) -> list[str]:
    """Create (once) the three demo pull integrations; returns their names. Run again, it only points
    the API integration at `api_base_url` if that moved."""
    endpoint = f"{api_base_url.rstrip('/')}/orders?status=pending"
    created = _ensure(
        engine,
        ApiIntegration(
            name=API_NAME,
            endpoint=endpoint,
            auth_type="bearer",
            auth_value=DEMO_TOKEN,
            poll_interval_seconds=60,
            field_mapping=SEED_API_MAPPING,
            api=DEMO_API_SETTINGS,
        ),
    )
    if not created and get_integration(engine, API_NAME).config.endpoint != endpoint:
        update_integration(engine, API_NAME, {"endpoint": endpoint})

    client_db = build_demo_client_db(home / "demo" / "client_orders.db")
    _ensure(
        engine,
        DbIntegration(
            name=DB_NAME,
            poll_interval_seconds=60,
            db={"url": f"sqlite:///{client_db}", "query": SEED_QUERY, "write_back": SEED_WRITE_BACK},
        ),
    )

    # No folder: the default, <drops root>/demo_files (CROSSDOCK_DROPS_ROOT, default <home>/drops).
    if _ensure(engine, FileIntegration(name=FILE_NAME, poll_interval_seconds=30, field_mapping=CSV_MAPPING)):
        sample = drop_folder(get_integration(engine, FILE_NAME)) / "pedidos_demo.csv"
        sample.write_bytes(SAMPLE_CSV.encode("latin-1"))
        settled = time.time() - 60  # a finished export: no need to wait out file.min_age_seconds
        os.utime(sample, (settled, settled))
    return [API_NAME, DB_NAME, FILE_NAME]


def print_pull_demo(names: list[str]) -> None:
    print(
        f"demo pull integrations: {', '.join(names)} (an API polled every 60 s, a client database with the "
        "plan's query and write-back, a drop folder with a Latin-1 CSV export)"
    )
