"""Shared by the receiver tests: integrations made through the repository, and a running receiver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from connectors.receiver.app import create_app
from pipelines.integrations import create_integration, parse_integration
from pipelines.store.schema import inbox, orders
from tests.servers import serve_asgi

SEED_BODY = """[
    {
      "external_id": "PED-001",
      "client_name": "María García",
      "address": "Zona 15, Guatemala",
      "latitude": 14.5800,
      "longitude": -90.4900
    }
  ]"""


def integration(engine: sa.Engine, name: str = "cliente_abc", **fields):
    config = {"name": name, "type": "webhook", "auth_type": "apikey", "auth_value": "secreto_compartido", **fields}
    return create_integration(engine, parse_integration(config))


@contextmanager
def running(engine: sa.Engine, **options) -> Iterator[str]:
    with serve_asgi(create_app(engine=engine, **options)) as url:
        yield url


def inbox_rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(inbox).order_by(inbox.c.id)).mappings()]


def order_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar()
