"""Where Crossdock keeps its state and listens, read from the environment on every call.

Everything defaults to a `.crossdock/` folder in the working directory so that one laptop runs the
whole product with nothing to install; production points `CROSSDOCK_DATABASE_URL` at PostgreSQL.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

ADMIN_TOKEN_FILE = "admin.token"


class SettingError(ValueError):
    """An environment variable holds something unusable; the message names it."""


def home() -> Path:
    """The folder for local state (SQLite store, generated keys, Dagster home, file drops)."""
    path = Path(os.environ.get("CROSSDOCK_HOME", ".crossdock")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """The store's SQLAlchemy URL; SQLite under `home()` unless `CROSSDOCK_DATABASE_URL` says otherwise."""
    url = os.environ.get("CROSSDOCK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{home() / 'crossdock.db'}"


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingError(f"{variable}={raw!r} is not a port number") from None
    if not 1 <= port <= 65_535:
        raise SettingError(f"{variable}={port} is outside 1-65535")
    return port


def host() -> str:
    """Where every service binds: loopback unless an operator opens it up on purpose."""
    return os.environ.get("CROSSDOCK_HOST", "127.0.0.1")


def receiver_port() -> int:
    return _port("CROSSDOCK_PORT", 8085)


def dagster_port() -> int:
    return _port("CROSSDOCK_DAGSTER_PORT", 3000)


def dagster_grpc_port() -> int:
    """The Dagster code server `crossdock up` runs (loopback only: the webserver and daemon use it)."""
    return _port("CROSSDOCK_DAGSTER_GRPC_PORT", 4266)


def streamlit_port() -> int:
    return _port("CROSSDOCK_STREAMLIT_PORT", 8501)


def demo_api_port() -> int:
    """The demo client API that `crossdock up` runs for the demo_api integration to poll."""
    return _port("CROSSDOCK_DEMO_API_PORT", 8090)


def public_receiver_url() -> str:
    """The base URL clients are told to send webhooks to (curl examples, docs links)."""
    configured = os.environ.get("CROSSDOCK_PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    shown = "127.0.0.1" if host() in ("0.0.0.0", "::") else host()
    return f"http://{shown}:{receiver_port()}"


def admin_token_path() -> Path:
    return home() / ADMIN_TOKEN_FILE


def generated_secret(variable: str, filename: str, generate: Callable[[], str]) -> str:
    """`variable` from the environment, else a value generated once into `home()/filename`
    (readable by this user only), so development needs no setup and every process agrees."""
    configured = os.environ.get(variable)
    if configured:
        return configured
    path = home() / filename
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its value
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(generate())
    return path.read_text().strip()


def admin_token() -> str:
    """The admin API's bearer token: `CROSSDOCK_ADMIN_TOKEN`, else generated into `.crossdock/admin.token`."""
    return generated_secret("CROSSDOCK_ADMIN_TOKEN", ADMIN_TOKEN_FILE, lambda: secrets.token_urlsafe(32))


def admin_password() -> str:
    """The admin app's password: `CROSSDOCK_ADMIN_PASSWORD`, else generated into `.crossdock/admin.password`."""
    return generated_secret("CROSSDOCK_ADMIN_PASSWORD", "admin.password", lambda: secrets.token_urlsafe(12))
