"""Every setting Crossdock reads from the environment, in one model (`Settings`, pydantic-settings):
one parser, one truthiness (`1/true/yes/on` and `0/false/no/off`, any case, for every switch), and
the reference page of the docs is generated from the fields' descriptions.

Read on every call (`current()`), not once at import: tests and `crossdock up` set variables for the
processes they start, and a changed variable must not need a restart of the reader to be seen.
Everything defaults to a `.crossdock/` folder in the working directory, so one laptop runs the whole
product with nothing to install; production points `CROSSDOCK_DATABASE_URL` at PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ADMIN_TOKEN_FILE = "admin.token"
ENV_PREFIX = "CROSSDOCK_"

DEFAULT_CELERY_BROKER = "pyamqp://guest@127.0.0.1:5672//"
DEFAULT_CELERY_BACKEND = "redis://127.0.0.1:6379/0"

Port = Annotated[int, Field(ge=1, le=65_535)]


class SettingError(ValueError):
    """An environment variable holds something unusable; the message names it."""


class Settings(BaseSettings):
    """Crossdock's settings, each read from `CROSSDOCK_<NAME>`; an empty variable means the default."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore")

    home: Path = Field(Path(".crossdock"), description="Local state: the SQLite store, generated keys, Dagster's home, file drops.")
    drops_root: Path | None = Field(
        None,
        description="The folder every file integration's `file.folder` must be inside (a folder outside it, after "
        "resolving `..` and symbolic links, is refused); a relative `file.folder` is relative to it. "
        "Default: `<home>/drops`.",
    )
    database_url: str | None = Field(
        None,
        description="The store, as a SQLAlchemy URL (`postgresql+psycopg://…` for production). Default: `sqlite:///<home>/crossdock.db`.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Encrypts integration secrets at rest (a Fernet key or any passphrase). "
        "Default: generated once into `<home>/secret.key`.",
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token of the admin API. Default: generated once into `<home>/admin.token`."
    )
    admin_password: SecretStr | None = Field(
        None,
        description="The admin app's password (or `admin_password` in `.streamlit/secrets.toml`). "
        "Default: generated once into `<home>/admin.password`.",
    )
    app_auth: Literal["accounts", "oidc", "shared_password"] = Field(
        "accounts",
        description="How the admin app signs people in: `accounts` (local users with roles, "
        "`crossdock users`; the first admin is made by `crossdock up`; when `.streamlit/secrets.toml` "
        "has an `[auth]` section the log-in page also offers the identity provider), `oidc` (only "
        "the identity provider of `[auth]`, OpenID Connect; no password form) or, only when chosen, "
        "`shared_password` (one password for everyone, all admins, the old mode).",
    )
    oidc_default_role: Literal["none", "viewer", "analyst", "operator", "admin"] = Field(
        "viewer",
        description="The role of a person the identity provider signs in whose e-mail address is no "
        "Crossdock user name: they become a user of this role (named after the address), or, with "
        "`none`, are refused and told to ask an admin.",
    )
    session_hours: float = Field(12, gt=0, le=24 * 30, description="How long an admin app session lasts before its user must log in again.")
    archive_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="How long a deleted (archived) integration keeps its data and can be restored; "
        "a daily schedule purges archived integrations older than this (an admin can "
        "purge one earlier).",
    )
    host: str = Field("127.0.0.1", description="Where every service binds (the demo client API stays on loopback).")
    port: Port = Field(8085, description="The receiver: webhooks, admin API, `/docs`.")
    dagster_port: Port = Field(3000, description="The Dagster UI.")
    dagster_grpc_port: Port = Field(4266, description="The Dagster code server `crossdock up` runs on loopback.")
    dagster_grpc_host: str = Field(
        "127.0.0.1",
        description="Where the Dagster webserver and daemon reach the code server when each runs as "
        "its own service (`crossdock role`; `dagster-code-server` in docker-compose.yml).",
    )
    streamlit_port: Port = Field(8501, description="The admin app.")
    demo_api_port: Port = Field(8090, description="The demo client API `crossdock up` runs for the `demo_api` integration.")
    public_url: str | None = Field(
        None, description="The base URL given to clients (endpoint URLs, curl examples). Default: `http://<host>:<port>` of the receiver."
    )
    receiver_max_pending: int = Field(
        1024, ge=1, le=1_000_000, description="Requests waiting for a commit before the receiver answers 429."
    )
    access_log: bool = Field(False, description="Log every request (the inbox records them anyway).")
    receiver_fast_path: bool = Field(
        True, description="Serve webhooks on the lean ASGI path; off: through FastAPI's routing (same answers, slower)."
    )
    outbound_allow: str = Field(
        "",
        description="Internal addresses Crossdock may send requests to (polls, their pages and redirects, Test "
        "connection, callbacks), comma-separated: addresses, networks (CIDR) or host names, each with an "
        "optional port, e.g. `127.0.0.1:8090,10.20.0.0/16,[::1]:8090,erp.corp.internal:8443`. Loopback, "
        "private and other non-public addresses are refused unless listed; link-local and cloud metadata "
        "addresses (169.254.0.0/16, fe80::/10, metadata.google.internal…) are refused even when listed. "
        "Default: none (public addresses only).",
    )
    dagster_executor: Literal["in_process", "celery"] = Field(
        "in_process",
        description="Where pull runs (backfills, one-off pulls) execute their steps: `in_process` in the "
        "run's own process; `celery` on Celery workers (`celery -A assets.celery_worker worker`), "
        "over as many machines as run a worker (docs/scale-out.md).",
    )
    celery_broker_url: SecretStr | None = Field(
        None, description=f"The Celery broker of the `celery` executor (RabbitMQ or Redis). Default: `{DEFAULT_CELERY_BROKER}`."
    )
    celery_backend_url: SecretStr | None = Field(
        None, description=f"Where Celery workers report step results. Default: `{DEFAULT_CELERY_BACKEND}`."
    )
    celery_queue: str = Field(
        "crossdock",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The Celery queue pull steps are sent to, and the one workers must listen on (`-Q`).",
    )
    demo_autentikapp_secret: SecretStr | None = Field(
        None, description="The demo Autentikapp account's signing secret. Default: generated once into `<home>/autentikapp_demo.secret`."
    )


def variable(field: str) -> str:
    """The environment variable of a settings field: `port` → `CROSSDOCK_PORT`."""
    return f"{ENV_PREFIX}{field.upper()}"


def current() -> Settings:
    """The settings as the environment says now. Raises `SettingError` naming the first unusable variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = variable(str(error["loc"][0]))
        raise SettingError(f"{name}={error.get('input')!r} is unusable: {error['msg']}") from None


def home() -> Path:
    """The folder for local state (SQLite store, generated keys, Dagster home, file drops): readable
    by this user only, as everything in it is (`private_files`)."""
    path = current().home.resolve()
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
    return path


def private_files() -> None:
    """From now on, files and folders this process creates are this user's only (umask 077): the SQLite
    store and its WAL, Dagster's storage and logs, drops moved aside. Every entry point calls it first."""
    os.umask(0o077)


def tighten_home() -> list[str]:
    """Take away what group and others may do with what an earlier build left in the home (owner
    bits kept); the paths changed, for the log."""
    changed = []
    root = home()
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)
            changed.append(str(path))
    return changed


def database_url() -> str:
    """The store's SQLAlchemy URL; SQLite under `home()` unless `CROSSDOCK_DATABASE_URL` says otherwise."""
    return current().database_url or f"sqlite:///{home() / 'crossdock.db'}"


def host() -> str:
    """Where every service binds: loopback unless an operator opens it up on purpose."""
    return current().host


def receiver_port() -> int:
    return current().port


def dagster_port() -> int:
    return current().dagster_port


def dagster_grpc_port() -> int:
    """The Dagster code server `crossdock up` runs (loopback only: the webserver and daemon use it)."""
    return current().dagster_grpc_port


def dagster_grpc_host() -> str:
    """Where the webserver and daemon find the code server when it is a service of its own (compose)."""
    return current().dagster_grpc_host


def streamlit_port() -> int:
    return current().streamlit_port


def demo_api_port() -> int:
    """The demo client API that `crossdock up` runs for the demo_api integration to poll."""
    return current().demo_api_port


def public_receiver_url() -> str:
    """The base URL clients are told to send webhooks to (curl examples, docs links)."""
    configured = current().public_url
    if configured:
        return configured.rstrip("/")
    shown = "127.0.0.1" if host() in ("0.0.0.0", "::") else host()
    return f"http://{shown}:{receiver_port()}"


def admin_token_path() -> Path:
    return home() / ADMIN_TOKEN_FILE


def generated_secret(field: str, filename: str, generate: Callable[[], str]) -> str:
    """The secret setting `field` from the environment, else a value generated once into
    `home()/filename` (readable by this user only), so development needs no setup and every
    process agrees."""
    configured: SecretStr | None = getattr(current(), field)
    if configured is not None:
        return configured.get_secret_value()
    path = home() / filename
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its value
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate())
    return path.read_text().strip()


def admin_token() -> str:
    """The admin API's bearer token: `CROSSDOCK_ADMIN_TOKEN`, else generated into `.crossdock/admin.token`."""
    return generated_secret("admin_token", ADMIN_TOKEN_FILE, lambda: secrets.token_urlsafe(32))


def admin_password() -> str:
    """The admin app's password: `CROSSDOCK_ADMIN_PASSWORD`, else generated into `.crossdock/admin.password`."""
    return generated_secret("admin_password", "admin.password", lambda: secrets.token_urlsafe(12))


def dagster_executor() -> str:
    """`in_process` (one machine) or `celery` (pull steps on Celery workers)."""
    return current().dagster_executor


def celery_broker_url() -> str:
    configured = current().celery_broker_url
    return configured.get_secret_value() if configured is not None else DEFAULT_CELERY_BROKER


def celery_backend_url() -> str:
    configured = current().celery_backend_url
    return configured.get_secret_value() if configured is not None else DEFAULT_CELERY_BACKEND


def celery_queue() -> str:
    return current().celery_queue
