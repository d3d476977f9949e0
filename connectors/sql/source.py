"""Reaching the client's database: the URL with `${ENV}` references resolved and the password put in
from the encrypted secret or its environment variable (as the plan's on-premise compose file does)."""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from pipelines.integrations.db_settings import ENV_REFERENCE, DbSettings, check_env_name
from pipelines.sources import PullError


def resolve_url(settings: DbSettings, environ: dict[str, str] | None = None) -> URL:
    environ = os.environ if environ is None else environ
    if not settings.url:
        raise PullError("db.url is not set: give the SQLAlchemy URL of the client's database")
    names = ENV_REFERENCE.findall(settings.url) + ([settings.password_env] if settings.password_env else [])
    try:
        for name in names:
            check_env_name(name, "db.password_env" if name == settings.password_env else "db.url")
    except ValueError as exc:
        raise PullError(str(exc)) from None
    missing = sorted({name for name in ENV_REFERENCE.findall(settings.url) if name not in environ})
    if missing:
        raise PullError(f"db.url refers to environment variables that are not set: {', '.join(missing)}")
    text = ENV_REFERENCE.sub(lambda m: environ[m.group(1)], settings.url)
    try:
        url = make_url(text)
    except ArgumentError:
        raise PullError("db.url is not a SQLAlchemy URL (dialect+driver://user@host:port/database)") from None
    if settings.password is not None:
        url = url.set(password=settings.password.get_secret_value())
    elif settings.password_env:
        if settings.password_env not in environ:
            raise PullError(f"db.password_env names {settings.password_env}, which is not set")
        url = url.set(password=environ[settings.password_env])
    return url


def shown(url: URL) -> str:
    """The URL as messages may show it: password hidden, query string left out (it may carry a key)."""
    return url.set(query={}).render_as_string(hide_password=True)


def source_engine(settings: DbSettings, *, pooled: bool = False) -> sa.Engine:
    """An engine for one pull or probe, disposed of at its end (no connection is kept between polls:
    client databases dislike idle ones). `pooled` reuses up to two connections within the pull (the
    reading one and the write-back's), so a pull of many passes does not connect for each."""
    url = resolve_url(settings)
    backend = url.get_backend_name()
    connect_args: dict = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = settings.timeout_seconds
    elif backend == "sqlite":
        connect_args["timeout"] = settings.timeout_seconds
    try:
        if pooled:
            return sa.create_engine(url, pool_size=2, max_overflow=2, connect_args=connect_args)
        return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except (ArgumentError, ImportError, sa.exc.NoSuchModuleError) as exc:
        raise PullError(f"db.url {shown(url)}: {type(exc).__name__}: the dialect or driver is not available") from None


def database_error(exc: sa.exc.DBAPIError | sa.exc.SQLAlchemyError, what: str, url: URL) -> PullError:
    """A readable one-liner from a driver error (no SQL echo, no parameters, no password)."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return PullError(f"{what} ({shown(url)}): {text}")
