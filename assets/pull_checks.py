"""Asset checks of the pull assets: freshness (each active integration's last successful sync within
2× its poll interval) and error rate (records and polls failing over the last 24 h).

They are evaluated by the `pull_health_checks` sensor every minute, reported when a verdict changes
(and every 10 minutes regardless, so the UI shows they are current), and by hand from the UI.
A sensor rather than a scheduled run: a run is a process start for a few milliseconds of queries,
and it would queue behind pulls exactly when the checks matter."""

from __future__ import annotations

import json
import time
from typing import Any

import dagster as dg
import sqlalchemy as sa

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


def freshness_fields(engine: sa.Engine, kind: str) -> dict[str, Any]:
    now = utcnow()
    health = pull_health(engine, kind, now)
    stale = [h for h in health if h.stale(now)]
    lines = [
        f"{'STALE' if h in stale else 'ok'} {h.name}: last success "
        f"{_age((now - h.last_success).total_seconds() if h.last_success else None)}, every {h.interval} s"
        + (f" (last failure: {h.last_failure})" if h in stale and h.last_failure else "")
        for h in health
    ]
    return {
        "passed": not stale,
        "severity": dg.AssetCheckSeverity.WARN,
        "description": f"{len(stale)} of {len(health)} stale" if stale else f"all {len(health)} fresh",
        "metadata": {
            "integrations": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
            "stale": dg.MetadataValue.int(len(stale)),
        },
    }


def error_rate_fields(engine: sa.Engine, kind: str) -> dict[str, Any]:
    health = pull_health(engine, kind, utcnow())
    erring = [h for h in health if h.erring]
    lines = [
        f"{'ERRING' if h in erring else 'ok'} {h.name}: {h.record_errors}/{h.records} records invalid "
        f"({h.record_error_rate:.1%}), {h.failed_polls}/{h.polls} runs failed ({h.failed_poll_rate:.0%})"
        for h in health
    ]
    return {
        "passed": not erring,
        "severity": dg.AssetCheckSeverity.ERROR,
        "description": f"{len(erring)} of {len(health)} over the limits" if erring else f"all {len(health)} within limits",
        "metadata": {
            "integrations": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none"),
            "erring": dg.MetadataValue.int(len(erring)),
        },
    }


_HOURS = int(ERROR_RATE_PERIOD.total_seconds() // 3600)
CHECKS = {
    "freshness": (freshness_fields, f"Every active {{kind}} integration synced successfully within {STALE_FACTOR}× its poll interval."),
    "error_rate": (
        error_rate_fields,
        f"Over {_HOURS} h, at most {MAX_RECORD_ERROR_RATE:.0%} of records invalid and "
        f"{MAX_FAILED_POLL_RATE:.0%} of sync runs failed, per integration.",
    ),
}


def _check(kind: str, name: str) -> dg.AssetChecksDefinition:
    fields, description = CHECKS[name]

    @dg.asset_check(asset=f"{kind}_pull", name=name, description=description.format(kind=kind))
    def _evaluate(store: StoreResource) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(**fields(store.engine(), kind))

    return _evaluate


def pull_checks() -> list[dg.AssetChecksDefinition]:
    return [_check(kind, name) for kind in PULL_TYPES for name in CHECKS]


SENSOR_INTERVAL_SECONDS = 60
REPORT_ANYWAY_SECONDS = 600


def _verdict(fields: dict[str, Any]) -> str:
    return f"{fields['passed']}:{fields['description']}"


@dg.sensor(
    name="pull_health_checks",
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the freshness and error-rate checks of every pull asset; reports a verdict when it changes.",
)
def pull_checks_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult | dg.SkipReason:
    previous: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    reported_at = float(previous.get("reported_at", 0))
    refresh = time.time() - reported_at >= REPORT_ANYWAY_SECONDS
    verdicts: dict[str, str] = {}
    events = []
    engine = store.engine()
    for kind in PULL_TYPES:
        for name, (fields_of, _) in CHECKS.items():
            fields = fields_of(engine, kind)
            key = f"{kind}_pull/{name}"
            verdicts[key] = _verdict(fields)
            if refresh or previous.get("verdicts", {}).get(key) != verdicts[key]:
                events.append(dg.AssetCheckEvaluation(asset_key=dg.AssetKey(f"{kind}_pull"), check_name=name, **fields))
    if not events:
        return dg.SkipReason("no check changed its verdict")
    cursor = {"verdicts": verdicts, "reported_at": time.time() if refresh else reported_at}
    return dg.SensorResult(asset_events=events, cursor=json.dumps(cursor, sort_keys=True))
