"""Asset checks of the pull assets, run by a schedule every five minutes: freshness (each active
integration's last successful sync within 2× its poll interval) and error rate (records and polls
failing over the last 24 h)."""
from __future__ import annotations

import dagster as dg

from assets.resources import StoreResource
from pipelines.clock import utcnow
from pipelines.sources.health import (
    ERROR_RATE_PERIOD,
    MAX_FAILED_POLL_RATE,
    MAX_RECORD_ERROR_RATE,
    STALE_FACTOR,
    pull_health,
)
from pipelines.sources.schedule import PULL_TYPES


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7_200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3_600:.1f} h ago"


def freshness_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=f"{kind}_pull",
        name="freshness",
        description=f"Every active {kind} integration synced successfully within {STALE_FACTOR}× its poll interval.",
    )
    def _check(store: StoreResource) -> dg.AssetCheckResult:
        now = utcnow()
        health = pull_health(store.engine(), kind, now)
        stale = [h for h in health if h.stale(now)]
        lines = [
            f"{'STALE' if h in stale else 'ok'} {h.name}: last success "
            f"{_age((now - h.last_success).total_seconds() if h.last_success else None)}, every {h.interval} s"
            + (f" (last failure: {h.last_failure})" if h in stale and h.last_failure else "")
            for h in health
        ]
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(stale)} of {len(health)} stale" if stale else f"all {len(health)} fresh",
            metadata={"integrations": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
                      "stale": dg.MetadataValue.int(len(stale))},
        )

    return _check


def error_rate_check(kind: str) -> dg.AssetChecksDefinition:
    hours = int(ERROR_RATE_PERIOD.total_seconds() // 3600)

    @dg.asset_check(
        asset=f"{kind}_pull",
        name="error_rate",
        description=(
            f"Over {hours} h, at most {MAX_RECORD_ERROR_RATE:.0%} of records invalid and "
            f"{MAX_FAILED_POLL_RATE:.0%} of sync runs failed, per integration."
        ),
    )
    def _check(store: StoreResource) -> dg.AssetCheckResult:
        health = pull_health(store.engine(), kind, utcnow())
        erring = [h for h in health if h.erring]
        lines = [
            f"{'ERRING' if h in erring else 'ok'} {h.name}: {h.record_errors}/{h.records} records invalid "
            f"({h.record_error_rate:.1%}), {h.failed_polls}/{h.polls} runs failed ({h.failed_poll_rate:.0%})"
            for h in health
        ]
        return dg.AssetCheckResult(
            passed=not erring,
            description=f"{len(erring)} of {len(health)} over the limits" if erring else f"all {len(health)} within limits",
            metadata={"integrations": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
                      "erring": dg.MetadataValue.int(len(erring))},
        )

    return _check


def pull_checks() -> list[dg.AssetChecksDefinition]:
    return [make(kind) for kind in PULL_TYPES for make in (freshness_check, error_rate_check)]


checks_job = dg.define_asset_job(
    "pull_health_checks",
    selection=dg.AssetSelection.checks(*[dg.AssetCheckKey(dg.AssetKey(f"{k}_pull"), n) for k in PULL_TYPES for n in ("freshness", "error_rate")]),
    description="Freshness and error-rate checks of every pull asset.",
)
checks_schedule = dg.ScheduleDefinition(
    name="pull_health_checks_every_5_minutes",
    job=checks_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
