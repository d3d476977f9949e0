"""Real servers the tests talk to, and the rule for when they are missing.

Absent PostgreSQL/MariaDB/RabbitMQ/Redis/Chromium skip a test with the reason, except under
`CROSSDOCK_REQUIRE_SERVICES=1` (CI), where the same absence fails it.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("CROSSDOCK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("CROSSDOCK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that would reach the network or the disk beyond the page under test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 60_000  # a Streamlit rerun on a loaded 2-core machine
RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672
RABBITMQ_URL = os.environ.get("CROSSDOCK_TEST_RABBITMQ_URL", f"pyamqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}//")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = os.environ.get("CROSSDOCK_TEST_REDIS_URL", f"redis://{REDIS_HOST}:{REDIS_PORT}/0")


def services_required() -> bool:
    return os.environ.get("CROSSDOCK_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip, or fail when the services are required."""
    if services_required():
        pytest.fail(f"{reason} (CROSSDOCK_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    url = sa.make_url(POSTGRES_URL)
    if not _port_open(url.host or "127.0.0.1", url.port or 5432):
        unavailable(f"PostgreSQL is not reachable at {url.host}:{url.port}")
    return POSTGRES_URL


def require_mariadb() -> str:
    url = sa.make_url(MARIADB_URL)
    if not _port_open(url.host or "127.0.0.1", url.port or 3306):
        unavailable(f"MariaDB is not reachable at {url.host}:{url.port}")
    return MARIADB_URL


def require_rabbitmq() -> str:
    """The RabbitMQ broker's URL (guest/guest on loopback unless CROSSDOCK_TEST_RABBITMQ_URL says otherwise)."""
    if not _port_open(RABBITMQ_HOST, RABBITMQ_PORT):
        unavailable(f"RabbitMQ is not reachable at {RABBITMQ_HOST}:{RABBITMQ_PORT}")
    return RABBITMQ_URL


def require_redis() -> str:
    if not _port_open(REDIS_HOST, REDIS_PORT):
        unavailable(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}")
    return REDIS_URL


def require_chromium() -> str:
    if not (os.path.exists(CHROMIUM) and shutil.which("chromium")):
        unavailable(f"Debian chromium is not installed at {CHROMIUM} (make browser installs it)")
    return CHROMIUM


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield str(sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A MariaDB URL for a fresh database, dropped afterwards (tables keep the names a test wants)."""
    base = require_mariadb()
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        yield str(sa.make_url(base).set(database=name))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE `{name}`")
        admin.dispose()


@contextmanager
def client_database(kind: str, folder) -> Iterator[str]:
    """The URL of an empty client database of `kind` (sqlite, postgres or mariadb), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'client.db'}"
    elif kind == "postgres":
        with postgres_schema() as url:
            yield url
    else:
        with mariadb_database() as url:
            yield url
