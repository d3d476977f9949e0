"""Backtest: run an edited mapping and the active one over the same stored payloads and count the difference.

Both sides go through `prepare`, ingest's own map-and-validate, so "would pass" here means "would
land" there, and "changed" compares what would be stored (after the target's coercion: a mapping
that now sends the number 14.59 instead of the text "14.59" changes nothing). Counting is a single
pass in Python: the work is the mapping itself (compiled, about 100k+ records/s), which DuckDB could
not speed up.

The studio runs it before saving a mapping: records that land today and would be rejected by the new
mapping (`broken`) need an explicit confirmation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.ingest.prepare import PreparedRecord, prepare
from pipelines.integrations.model import StoredIntegration
from pipelines.mapping import CompiledMapping, MappingError, compile_mapping
from pipelines.studio.preview import json_value, stored_values
from pipelines.studio.samples import StoredRecord, backtest_payloads
from pipelines.targets import FIELDS, default_mapping

EXAMPLES_PER_KIND = 3


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Example:
    """One payload's outcome under both mappings; `stored` is the record as the edited mapping would
    store it (see `pipelines.studio.preview.stored_values`), `reasons` why it would be rejected."""

    origin: str
    source: Any
    stored: dict[str, Any]
    reasons: list[dict[str, str]]
    passed_before: bool
    changes: tuple[Change, ...] = ()


@dataclass
class BacktestResult:
    """pass/fail under the edited mapping; changed = what would land differs from the active mapping's
    (accepted vs rejected, or a different record)."""

    total: int = 0
    passed: int = 0
    failed: int = 0
    changed: int = 0
    fixed: int = 0  # failed under the active mapping, pass under the edited one
    broken: int = 0  # passed under the active mapping, fail under the edited one
    examples: dict[str, list[Example]] = field(default_factory=lambda: {"pass": [], "fail": [], "changed": [], "broken": []})
    seconds: float = 0.0
    active_problem: str | None = None  # the active mapping does not compile (every record fails today)


def _changes(target: str, before: PreparedRecord, after: PreparedRecord) -> tuple[Change, ...]:
    was, now = stored_values(target, before), stored_values(target, after)
    names = list(dict.fromkeys([*was, *now]))
    return tuple(Change(name, was.get(name), now.get(name)) for name in names if was.get(name) != now.get(name))


def _lands_differently(before: PreparedRecord, after: PreparedRecord) -> bool:
    """Both valid: would the stored records differ? Equal validated records are equal stored ones;
    unequal ones may still store alike (Decimal('403') and Decimal('403.00'), a naive date-time and the
    same one in UTC)."""
    return before.clean != after.clean and json_value(before.clean) != json_value(after.clean)


def _not_mapped(records: list[Any], problem: str) -> list[PreparedRecord]:
    return [
        PreparedRecord(index=i, source=record, reasons=[{"field": "(mapping)", "message": problem}]) for i, record in enumerate(records)
    ]


def compare(
    edited: CompiledMapping,
    active: CompiledMapping | None,
    target: str,
    payloads: Sequence[StoredRecord],
    examples: int = EXAMPLES_PER_KIND,
) -> BacktestResult:
    """Count pass / fail / changed over `payloads`, keeping up to `examples` of each kind. `active` is
    None when the active mapping does not compile: every record fails under it."""
    started = time.perf_counter()
    records = [item.record for item in payloads]
    after_all = prepare(edited, target, records)
    problem = "the active mapping does not compile"
    before_all = prepare(active, target, records) if active is not None else _not_mapped(records, problem)
    result = BacktestResult(total=len(records), active_problem=None if active is not None else problem)
    for item, before, after in zip(payloads, before_all, after_all, strict=True):
        kind = "pass" if after.ok else "fail"
        if after.ok:
            result.passed += 1
            result.fixed += not before.ok
        else:
            result.failed += 1
            result.broken += before.ok
        # What would land differs: a different verdict, or a different record. Two rejections differ in
        # nothing that is stored.
        differs = before.ok != after.ok or (after.ok and _lands_differently(before, after))
        result.changed += differs
        buckets = [kind]
        if differs:
            buckets.append("changed")
        if before.ok and not after.ok:
            buckets.append("broken")
        for bucket in buckets:
            if len(result.examples[bucket]) < examples:
                result.examples[bucket].append(
                    Example(
                        item.origin,
                        item.record,
                        stored_values(target, after),
                        after.reasons,
                        before.ok,
                        _changes(target, before, after) if bucket == "changed" else (),
                    )
                )
    result.seconds = time.perf_counter() - started
    return result


def active_mapping(integration: StoredIntegration) -> dict[str, Any]:
    """What ingest uses today: the integration's mapping, or its target's default when it has none."""
    return integration.config.field_mapping or default_mapping(integration.target)


def run_backtest(bind: sa.Engine, integration: StoredIntegration, edited_mapping: Mapping[str, Any], limit: int) -> BacktestResult:
    """Backtest `edited_mapping` against the integration's active mapping over its newest `limit`
    stored payloads. Raises `MappingError` when the edited mapping does not compile."""
    started = time.perf_counter()
    edited = compile_mapping(edited_mapping, FIELDS[integration.target])
    active: CompiledMapping | None
    try:
        active = compile_mapping(active_mapping(integration), FIELDS[integration.target])
    except MappingError:  # saved before a rule it breaks existed: nothing lands with it today
        active = None
    payloads = backtest_payloads(bind, integration.id, integration.target, limit)
    result = compare(edited, active, integration.target, payloads)
    result.seconds = time.perf_counter() - started
    return result
