"""Pull one db integration: run its query, stream the rows in chunks, land each chunk, then mark the
rows that landed in the client's database (`db.write_back`), chunk by chunk; repeat the query while it
is a LIMIT-style query that still has rows to give (`connectors.sql.drain`).

Incremental by watermark: with `db.watermark_column`, the query becomes a subquery filtered by
`column >= :last` (or bounded by a backfill window) and ordered by it, so each chunk's last row is the
new watermark, stored in the same transaction as the chunk's ingest. A trailing `LIMIT n` (or `FETCH
FIRST n ROWS ONLY`) is moved outside the filter, so each pass takes the next n rows past the watermark
rather than the same first n. Everything is bound parameters; nothing of a value is ever formatted
into SQL.

Write-back marks only rows whose records landed (created, updated or unchanged); a row that failed
validation is marked by `db.write_back_rejected` when it is set, else left unmarked. With neither that
nor a watermark, rejected rows come back; a pull that sees them again records the `rejected_repeat`
warning on its last sync run (`details`), which the dashboard shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from connectors.sql.drain import REJECTED_STATE_KEY, Drain, PassScan, query_shape
from connectors.sql.guard import read_only, write_back_transaction
from connectors.sql.source import database_error, resolve_url, source_engine
from pipelines.ingest import SyncResult, prepare_for
from pipelines.ingest.prepare import PreparedRecord
from pipelines.integrations.db_settings import DbSettings
from pipelines.integrations.model import DbIntegration, StoredIntegration
from pipelines.integrations.write_back_check import check_write_back
from pipelines.sources import PullError, PullReport, Window, get_state, set_state
from pipelines.sources.landing import land
from pipelines.sources.prefetch import prefetch
from pipelines.sources.watermark import decode, encode
from pipelines.store.schema import sync_runs
from pipelines.vocabulary import PullMode, RecordVerdict

WATERMARK_KEY = "watermark"
_IN_LIST = 1_000  # keys per write-back statement: far under every driver's parameter limit


def extraction_query(settings: DbSettings, watermark: Any, window: Window | None, dialect: str) -> tuple[sa.Executable, dict]:
    """The configured query, wrapped for the watermark and/or the window when there is a watermark
    column (its trailing LIMIT then applies after the watermark filter)."""
    column = settings.watermark_column
    if not column:
        if window:
            raise PullError("re-pulling a window needs db.watermark_column (the column the window bounds)")
        # The line break keeps a trailing `-- comment` from swallowing what follows.
        return sa.text((settings.query or "") + "\n"), {}
    shape = query_shape(settings.query or "")
    source = sa.text(shape.body + "\n").columns(sa.column(column)).subquery("crossdock_source")
    statement = sa.select(sa.literal_column("*")).select_from(source)
    params: dict[str, Any] = {}
    if window:
        statement = statement.where(source.c[column] >= sa.bindparam("window_start"), source.c[column] < sa.bindparam("window_end"))
        params = {"window_start": _bound(window.start, dialect), "window_end": _bound(window.end, dialect)}
    if watermark is not None:
        statement = statement.where(source.c[column] >= sa.bindparam("watermark"))
        params["watermark"] = watermark
    statement = statement.order_by(source.c[column])
    if shape.limit is not None:
        statement = statement.limit(shape.limit)
    return statement, params


def _bound(moment: datetime, dialect: str) -> datetime:
    """UTC bounds: aware for PostgreSQL (psycopg converts), naive UTC where columns are naive text/DATETIME."""
    return moment if dialect == "postgresql" else moment.astimezone(UTC).replace(tzinfo=None)


def pull_db(engine: sa.Engine, integration: StoredIntegration, *, window: Window | None = None) -> PullReport:
    """Pull what is new (or in `window`) from the integration's database into the store."""
    settings = integration.config_as(DbIntegration).db
    report = PullReport(integration.name, "db", PullMode.of(window), window)
    if not settings.query:
        raise PullError("db.query is not set: give the SELECT that produces the records", report)
    url = resolve_url(settings)
    source = source_engine(settings, pooled=True)
    stored = None if window else get_state(engine, integration.id, WATERMARK_KEY)
    watermark = decode(stored) if stored is not None else settings.watermark_start
    report.cursor_before = _shown(watermark)
    prior = None if window else get_state(engine, integration.id, REJECTED_STATE_KEY)
    drain = Drain(settings, window, prior or ())
    if settings.watermark_column and drain.shape.limited and drain.shape.limit is None:
        report.warnings.append(
            "db.query limits its rows other than with a trailing LIMIT n / FETCH FIRST n ROWS ONLY, so the limit applies "
            "before the watermark filter and passes cannot move past the first rows: end the query with LIMIT n"
        )
    bound = None if window else watermark
    for key in ("rows", "passes", "chunks"):  # the order the CLI prints them in
        report.read.setdefault(key, 0)
    try:
        while True:
            statement, params = extraction_query(settings, bound, window, source.dialect.name)
            scan = drain.start(bound)
            chunks = _prepared(_chunks(source, statement, params, settings, url, drain, scan), integration)
            for chunk, prepared in prefetch(chunks):
                _check_columns(chunk[0], settings, url)
                report.bump("chunks")
                _land_chunk(engine, source, integration, settings, chunk, prepared, report, url, window, drain, scan)
            report.bump("passes")
            report.bump("rows", scan.rows)
            if scan.skipped:
                report.bump("reread", scan.skipped)
            if not drain.finish_pass(scan):
                break
            if settings.watermark_column and scan.newest is not None:
                bound = scan.newest
        _conclude(engine, integration, report, drain, prior)
    except PullError as exc:
        exc.report = report
        raise
    finally:
        source.dispose()
    if report.cursor_after is None:
        report.cursor_after = report.cursor_before
    return report.finish()


def _conclude(engine: sa.Engine, integration: StoredIntegration, report: PullReport, drain: Drain, prior: Any) -> None:
    """Warnings into the report, the drain's summary and warnings onto the pull's last sync run (a pull
    that landed nothing records an empty one), and the rejected rows remembered for the next pull."""
    report.warnings.extend(drain.warnings)
    repeat = drain.rejected_repeat()
    if repeat:
        report.warnings.append(repeat["message"])
    extra: dict[str, Any] = {"drain": drain.summary()}
    if report.warnings:
        extra["warnings"] = list(report.warnings)
    if repeat:
        extra["rejected_repeat"] = repeat
    if not report.sync_run_ids:  # a successful empty poll is a sync too
        land(engine, integration, [], report, details={"rows": 0, **extra})
    else:
        _annotate(engine, report.sync_run_ids[-1], extra)
    remembered = drain.rejected_to_remember()
    if not drain.window and (remembered or prior) and remembered != prior:
        with engine.begin() as conn:
            set_state(conn, integration.id, REJECTED_STATE_KEY, remembered)


def _annotate(engine: sa.Engine, run_id: int, extra: dict[str, Any]) -> None:
    with engine.begin() as conn:
        details = conn.execute(sa.select(sync_runs.c.details).where(sync_runs.c.id == run_id)).scalar()
        conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(details={**(details or {}), **extra}))


def _chunks(
    source: sa.Engine, statement, params: dict, settings: DbSettings, url: URL, drain: Drain, scan: PassScan
) -> Iterator[list[dict[str, Any]]]:
    """Rows in lists of `chunk_size`, streamed with a server-side cursor (bounded memory), without the
    rows this pull already read (`Drain.admit`). A SQLite file with a write-back is read whole first:
    its readers would block the write-back's commit."""
    try:
        with source.connect() as conn:
            if source.dialect.name == "sqlite" and (settings.write_back or settings.write_back_rejected):
                with read_only(conn):
                    rows = [dict(r) for r in conn.execute(statement, params).mappings()]
                for start in range(0, len(rows), settings.chunk_size):
                    kept = drain.admit(scan, rows[start : start + settings.chunk_size])
                    if kept:
                        yield kept
                return
            with read_only(conn):
                result = conn.execution_options(stream_results=True, max_row_buffer=settings.chunk_size).execute(statement, params)
                keys = list(result.keys())
                for part in result.partitions(settings.chunk_size):  # plain rows: far cheaper than RowMapping
                    kept = drain.admit(scan, [dict(zip(keys, row, strict=True)) for row in part])
                    if kept:
                        yield kept
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
    if (settings.write_back or settings.write_back_rejected) and settings.key_column not in row:
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
    drain: Drain,
    scan: PassScan,
) -> None:
    def store_watermark(conn: sa.Connection, _result: SyncResult) -> None:
        if settings.watermark_column and not window:
            newest = rows[-1][settings.watermark_column]  # rows are ordered by the watermark column
            if newest is not None:
                set_state(conn, integration.id, WATERMARK_KEY, encode(newest))
                report.cursor_after = _shown(newest)

    details = {"rows": len(rows), "pass": scan.number}
    result = land(engine, integration, rows, report, details=details, on_commit=store_watermark, prepared=prepared)
    failures = [(r.index, r.reasons) for r in result.results if r.status == RecordVerdict.ERROR]
    rejected_keys = drain.rejected_rows(rows, failures) if failures else []
    landed_keys: list[Any] = []
    if settings.write_back:
        landed_keys = [rows[r.index][settings.key_column] for r in result.results if r.status != RecordVerdict.ERROR]
    if not settings.write_back_rejected:
        rejected_keys = []
    marked, marked_rejected = write_back(source, settings, landed_keys, rejected_keys, url)
    scan.marked += marked
    scan.marked_rejected += marked_rejected
    if settings.write_back:
        report.bump("marked", marked)
    if settings.write_back_rejected:
        report.bump("marked_rejected", marked_rejected)


def write_back(source: sa.Engine, settings: DbSettings, landed: Sequence[Any], rejected: Sequence[Any], url: URL) -> tuple[int, int]:
    """Run `write_back` for the keys of rows that landed, then `write_back_rejected` for those of rows
    that failed validation, each in a transaction of its own under `write_back_timeout_seconds`
    (`connectors.sql.guard`); returns the rows each changed."""
    marked = _mark(
        source,
        settings,
        "write_back",
        settings.write_back,
        landed,
        url,
        f"{len(landed)} rows landed but are not marked (the next poll counts them unchanged)",
    )
    marked_rejected = _mark(
        source,
        settings,
        "write_back_rejected",
        settings.write_back_rejected,
        rejected,
        url,
        f"{len(rejected)} rejected rows are not marked",
    )
    return marked, marked_rejected


def _mark(source: sa.Engine, settings: DbSettings, name: str, text: str | None, keys: Sequence[Any], url: URL, lost: str) -> int:
    if not text or not keys:
        return 0
    try:  # checked again here: a configuration stored before the check existed loads, but never runs unsafe SQL
        check_write_back(f"db.{name}", text, settings.url)
    except ValueError as exc:
        raise PullError(f"{exc}; {lost}") from None
    changed = 0
    try:
        with write_back_transaction(source, settings.write_back_timeout_seconds) as (conn, prefix):
            statement = sa.text(prefix + text).bindparams(sa.bindparam("ids", expanding=True))
            for start in range(0, len(keys), _IN_LIST):
                batch = list(keys[start : start + _IN_LIST])
                count = conn.execute(statement, {"ids": batch}).rowcount
                changed += count if count is not None and count >= 0 else len(batch)  # -1: the driver cannot tell
    except sa.exc.DBAPIError as exc:
        raise database_error(exc, f"db.{name} failed; {lost}", url) from None
    return changed


def _shown(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
