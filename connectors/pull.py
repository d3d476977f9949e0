"""One entry point for every pull source: `pull(engine, name)` runs the integration's poll (api, db or
file), or re-pulls a backfill window, and records a failed sync run when it cannot finish, so the
dashboards and the freshness check see failures as well as successes. Every pull holds the
integration's pull lease (`pipelines.sources.lease`): two pulls of one integration never overlap."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from connectors.files import pull_files
from connectors.rest import poll_api
from connectors.sql import pull_db
from pipelines.integrations import get_integration
from pipelines.integrations.model import StoredIntegration
from pipelines.sources import PullError, PullReport, Window
from pipelines.sources.landing import record_failed_pull
from pipelines.sources.lease import pull_lease
from pipelines.sources.schedule import PULL_TYPES
from pipelines.vocabulary import PullMode


def pull(
    engine: sa.Engine,
    integration: StoredIntegration | str,
    *,
    window: Window | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
    holder: str = "crossdock pull",
    wait_for_lease_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> PullReport:
    """Pull new records (or `window`'s) for one api/db/file integration. Raises PullError with a
    readable reason; the failure is also stored as a `failed` sync run. Raises `PullBusy` (and
    records nothing) when another pull of the integration still runs after `wait_for_lease_seconds`;
    `holder` says who this pull is, to the one that waits for it."""
    stored = get_integration(engine, integration) if isinstance(integration, str) else integration
    kind = stored.config.type
    if kind not in PULL_TYPES:
        raise PullError(f"{stored.name} is a {kind} integration: clients push to it, there is nothing to pull")
    if not stored.is_active:
        raise PullError(f"{stored.name} is disabled: enable it to pull (crossdock integrations enable {stored.name})")
    with pull_lease(engine, stored.id, stored.name, holder, wait_seconds=wait_for_lease_seconds, on_wait=on_wait):
        return _pull_held(engine, stored, window=window, sleep=sleep, now=now)


def _pull_held(
    engine: sa.Engine,
    stored: StoredIntegration,
    *,
    window: Window | None,
    sleep: Callable[[float], None],
    now: datetime | None,
) -> PullReport:
    kind = stored.config.type
    try:
        if kind == "api":
            return poll_api(engine, stored, window=window, sleep=sleep)
        if kind == "db":
            return pull_db(engine, stored, window=window)
        return pull_files(engine, stored, window=window, now=now)
    except PullError as exc:
        report = exc.report or PullReport(stored.name, kind, PullMode.of(window), window)
        exc.report = report.finish()
        record_failed_pull(engine, stored, report, str(exc))
        raise
    except Exception as exc:
        # A bug or a store outage: still leave a trace operators can see, then let it surface.
        report = PullReport(stored.name, kind, PullMode.of(window), window)
        record_failed_pull(engine, stored, report, f"unexpected {type(exc).__name__}: {exc}")
        raise
