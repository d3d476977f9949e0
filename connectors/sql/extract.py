"""Pull one db integration: run its query, stream the rows in chunks, land each chunk, then mark the
rows that landed in the client's database (`db.write_back`), chunk by chunk.

Incremental by watermark: with `db.watermark_column`, the query becomes a subquery filtered by
`column >= :last` (or bounded by a backfill window) and ordered by it, so each chunk's last row is the
new watermark, stored in the same transaction as the chunk's ingest. Everything is bound parameters;
nothing of a value is ever formatted into SQL.

Write-back marks only rows whose records landed (created, updated or unchanged); a row that failed
validation is left unmarked, so the client sees it was not taken and the next poll offers it again.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from connectors.sql.source import database_error, resolve_url, source_engine
from pipelines.ingest import SyncResult, prepare_for
from pipelines.ingest.prepare import PreparedRecord
from pipelines.integrations.db_settings import DbSettings
from pipelines.integrations.model import StoredIntegration
from pipelines.sources import PullError, PullReport, Window, get_state, set_state
from pipelines.sources.landing import land
from pipelines.sources.prefetch import prefetch
from pipelines.sources.watermark import decode, encode
from pipelines.vocabulary import PullMode

WATERMARK_KEY = "watermark"
_IN_LIST = 1_000  # keys per write-back statement: far under every driver's parameter limit


def extraction_query(settings: DbSettings, watermark: Any, window: Window | None, dialect: str) -> tuple[sa.Executable, dict]:
    """The configured query, wrapped for the watermark or the window when there is a watermark column."""
    # The line break keeps a trailing `-- comment` from swallowing the parenthesis that wraps the query.
    query = sa.text(settings.query + "\n")
    column = settings.watermark_column
    if not column:
        if window:
            raise PullError("re-pulling a window needs db.watermark_column (the column the window bounds)")
        return query, {}
    source = query.columns(sa.column(column)).subquery("crossdock_source")
    statement = sa.select(sa.literal_column("*")).select_from(source)
    params: dict[str, Any] = {}
    if window:
        statement = statement.where(source.c[column] >= sa.bindparam("window_start"), source.c[column] < sa.bindparam("window_end"))
        params = {"window_start": _bound(window.start, dialect), "window_end": _bound(window.end, dialect)}
    elif watermark is not None:
        statement = statement.where(source.c[column] >= sa.bindparam("watermark"))
        params = {"watermark": watermark}
    return statement.order_by(source.c[column]), params


def _bound(moment: datetime, dialect: str) -> datetime:
    """UTC bounds: aware for PostgreSQL (psycopg converts), naive UTC where columns are naive text/DATETIME."""
    return moment if dialect == "postgresql" else moment.astimezone(UTC).replace(tzinfo=None)


def pull_db(engine: sa.Engine, integration: StoredIntegration, *, window: Window | None = None) -> PullReport:
    """Pull what is new (or in `window`) from the integration's database into the store."""
    settings = integration.config.db
    report = PullReport(integration.name, "db", PullMode.of(window), window)
    if not settings.query:
        raise PullError("db.query is not set: give the SELECT that produces the records", report)
    url = resolve_url(settings)
    source = source_engine(settings)
    stored = None if window else get_state(engine, integration.id, WATERMARK_KEY)
    watermark = decode(stored) if stored is not None else settings.watermark_start
    report.cursor_before = _shown(watermark)
    statement, params = extraction_query(settings, watermark, window, source.dialect.name)
    try:
        landed_any = False
        chunks = _prepared(_chunks(source, statement, params, settings, url), integration)
        for chunk, prepared in prefetch(chunks):
            _check_columns(chunk[0], settings, url)
            report.bump("rows", len(chunk))
            report.bump("chunks")
            _land_chunk(engine, source, integration, settings, chunk, prepared, report, url, window)
            landed_any = True
        if not landed_any:
            land(engine, integration, [], report, details={"rows": 0})  # a successful empty poll is a sync too
    except PullError as exc:
        exc.report = report
        raise
    finally:
        source.dispose()
    if report.cursor_after is None:
        report.cursor_after = report.cursor_before
    return report.finish()


def _chunks(source: sa.Engine, statement, params: dict, settings: DbSettings, url: URL) -> Iterator[list[dict[str, Any]]]:
    """Rows in lists of `chunk_size`, streamed with a server-side cursor (bounded memory). A SQLite
    file with a write-back is read whole first: its readers would block the write-back's commit."""
    try:
        with source.connect() as conn:
            if source.dialect.name == "sqlite" and settings.write_back:
                rows = [dict(r) for r in conn.execute(statement, params).mappings()]
                conn.rollback()
                for start in range(0, len(rows), settings.chunk_size):
                    yield rows[start : start + settings.chunk_size]
                return
            result = conn.execution_options(stream_results=True, max_row_buffer=settings.chunk_size).execute(
                statement, params
            )
            keys = list(result.keys())
            for part in result.partitions(settings.chunk_size):  # plain rows: far cheaper than RowMapping
                yield [dict(zip(keys, row, strict=True)) for row in part]
    except sa.exc.OperationalError as exc:
        raise database_error(exc, "the client database is unreachable or refused the query", url) from None
    except sa.exc.SQLAlchemyError as exc:
        raise database_error(exc, "the query failed", url) from None


def _prepared(
    chunks: Iterator[list[dict[str, Any]]], integration: StoredIntegration
) -> Iterator[tuple[list[dict[str, Any]], list[PreparedRecord]]]:
    """Each chunk with its mapping and validation done: run in the read-ahead thread, this work
    overlaps the previous chunk's writes and commit instead of following them."""
    with closing(chunks):
        for chunk in chunks:
            yield chunk, prepare_for(integration, chunk)


def _check_columns(row: dict[str, Any], settings: DbSettings, url: URL) -> None:
    columns = ", ".join(row)
    if settings.write_back and settings.key_column not in row:
        raise PullError(f"db.key_column {settings.key_column!r} is not a column of the query's result ({columns})")
    if settings.watermark_column and settings.watermark_column not in row:
        raise PullError(f"db.watermark_column {settings.watermark_column!r} is not a column of the query's result ({columns})")


def _land_chunk(
    engine: sa.Engine,
    source: sa.Engine,
    integration: StoredIntegration,
    settings: DbSettings,
    rows: list[dict[str, Any]],
    prepared: list[PreparedRecord],
    report: PullReport,
    url: URL,
    window: Window | None,
) -> None:
    def store_watermark(conn: sa.Connection, _result: SyncResult) -> None:
        if settings.watermark_column and not window:
            newest = rows[-1][settings.watermark_column]  # rows are ordered by the watermark column
            if newest is not None:
                set_state(conn, integration.id, WATERMARK_KEY, encode(newest))
                report.cursor_after = _shown(newest)

    result = land(
        engine, integration, rows, report, details={"rows": len(rows)}, on_commit=store_watermark, prepared=prepared
    )
    if settings.write_back:
        keys = [rows[r.index][settings.key_column] for r in result.results if r.status != "error"]
        marked = write_back(source, settings, keys, url)
        report.bump("marked", marked)


def write_back(source: sa.Engine, settings: DbSettings, keys: Sequence[Any], url: URL) -> int:
    """Run the configured write-back for `keys`, in one transaction; returns the rows it changed."""
    if not keys:
        return 0
    statement = sa.text(settings.write_back).bindparams(sa.bindparam("ids", expanding=True))
    changed = 0
    try:
        with source.begin() as conn:
            for start in range(0, len(keys), _IN_LIST):
                changed += conn.execute(statement, {"ids": list(keys[start : start + _IN_LIST])}).rowcount or 0
    except sa.exc.DBAPIError as exc:
        raise database_error(
            exc, f"db.write_back failed; {len(keys)} rows landed but are not marked (the next poll counts them unchanged)", url
        ) from None
    return changed


def _shown(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
