"""Test a db integration's connection: connect the way a pull does (`${ENV}` references resolved, the
password from the encrypted secret or its environment variable), run the configured query as the first
poll would, and read at most a few rows, inside a read-only transaction that is rolled back. Connecting
and the query are both bounded by the probe's timeout."""

from __future__ import annotations

import math

import sqlalchemy as sa

from connectors.sql.drain import query_shape
from connectors.sql.extract import extraction_query
from connectors.sql.guard import read_only
from connectors.sql.source import database_error, resolve_url, shown, source_engine
from pipelines.integrations.model import DbIntegration
from pipelines.sources import PullError
from pipelines.sources.probe import PROBE_ROWS, PROBE_TIMEOUT_SECONDS, Probe


def _first_rows(statement: sa.Executable, limit: int, own_limit: int | None = None) -> sa.Executable:
    """Let the database stop after `limit` rows rather than producing the whole result (a wrapped
    query keeps its own trailing LIMIT when that is smaller)."""
    if isinstance(statement, sa.Select):
        return statement.limit(limit if own_limit is None else min(limit, own_limit))
    # The line break keeps a trailing `-- comment` in the query from swallowing the closing parenthesis.
    inner = sa.text(statement.text + "\n").columns().subquery("crossdock_probe")
    return sa.select(sa.literal_column("*")).select_from(inner).limit(limit)


def probe_db(config: DbIntegration, *, timeout: float = PROBE_TIMEOUT_SECONDS, limit: int = PROBE_ROWS) -> Probe:
    """Connect and read the first `limit` rows of `config`'s query (saved or not); never raises for
    what the database does."""
    settings = config.db
    try:
        url = resolve_url(settings)
    except PullError as exc:
        return Probe(source="db.url", error=str(exc)).finish(config)
    probe = Probe(source=shown(url))
    bounded = settings.model_copy(update={"timeout_seconds": max(1, min(settings.timeout_seconds, math.ceil(timeout)))})
    try:
        source = source_engine(bounded)
    except PullError as exc:
        probe.error = str(exc)
        return probe.finish(config)
    rows = None
    try:
        rows = _run(source, probe, config, timeout, limit)
    except sa.exc.DBAPIError as exc:
        what = "the query failed" if probe.reachable else "the database is unreachable or refused the connection"
        probe.error = str(database_error(exc, what, url))
    except sa.exc.SQLAlchemyError as exc:
        probe.error = str(database_error(exc, "the query could not be run", url))
    finally:
        source.dispose()
    return probe.finish(config, rows)


def _run(source: sa.Engine, probe: Probe, config: DbIntegration, timeout: float, limit: int) -> list[dict] | None:
    settings = config.db
    with source.connect() as conn:
        probe.reachable, probe.status = True, "connected"
        if not settings.query:
            probe.error = "connected, but db.query is not set: give the SELECT that produces the records"
            return None
        with read_only(conn, timeout) as note:  # rolled back on the way out
            if note:
                probe.notes.append(note)
            statement, params = extraction_query(settings, settings.watermark_start, None, source.dialect.name)
            own_limit = query_shape(settings.query).limit
            rows = [dict(row) for row in conn.execute(_first_rows(statement, limit, own_limit), params).mappings().fetchmany(limit)]
    if len(rows) == limit:
        probe.notes.append(f"only the first {limit} rows were read")
    return rows
