"""Backtest: run an edited mapping and the active one over the same stored payloads and count the difference.

Both sides go through `prepare`, ingest's own map-and-validate, so "would pass" here means "would
land" there. Counting is a single pass in Python: the work is the mapping itself (compiled, about
100k+ records/s), which DuckDB could not speed up.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.ingest.prepare import PreparedRecord, prepare
from pipelines.integrations.model import StoredIntegration
from pipelines.mapping import CompiledMapping, compile_mapping
from pipelines.samples import StoredRecord, backtest_payloads
from pipelines.targets import FIELDS, default_mapping

EXAMPLES_PER_KIND = 3


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Example:
    """One payload's outcome under both mappings."""

    origin: str
    source: Any
    mapped: dict[str, Any]
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
    examples: dict[str, list[Example]] = field(default_factory=lambda: {"pass": [], "fail": [], "changed": []})
    seconds: float = 0.0


def _changes(before: PreparedRecord, after: PreparedRecord) -> tuple[Change, ...]:
    names = list(dict.fromkeys([*before.mapped, *after.mapped]))
    return tuple(
        Change(name, before.mapped.get(name), after.mapped.get(name))
        for name in names
        if before.mapped.get(name) != after.mapped.get(name)
    )


def compare(edited: CompiledMapping, active: CompiledMapping, target: str, payloads: Sequence[StoredRecord],
            examples: int = EXAMPLES_PER_KIND) -> BacktestResult:
    """Count pass / fail / changed over `payloads`, keeping up to `examples` of each kind."""
    started = time.perf_counter()
    records = [item.record for item in payloads]
    after_all = prepare(edited, target, records)
    before_all = prepare(active, target, records)
    result = BacktestResult(total=len(records))
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
        differs = before.ok != after.ok or (after.ok and before.mapped != after.mapped)
        result.changed += differs
        for bucket in (kind, "changed") if differs else (kind,):
            if len(result.examples[bucket]) < examples:
                result.examples[bucket].append(
                    Example(item.origin, item.record, after.mapped, after.reasons, before.ok,
                            _changes(before, after) if bucket == "changed" else ())
                )
    result.seconds = time.perf_counter() - started
    return result


def active_mapping(integration: StoredIntegration) -> dict[str, Any]:
    """What ingest uses today: the integration's mapping, or its target's default when it has none."""
    return integration.config.field_mapping or default_mapping(integration.target)


def run_backtest(bind: sa.Engine, integration: StoredIntegration, edited_mapping: Mapping[str, Any],
                 limit: int) -> BacktestResult:
    """Backtest `edited_mapping` against the integration's active mapping over its newest `limit`
    stored payloads. Raises `MappingError` when the edited mapping does not compile."""
    started = time.perf_counter()
    edited = compile_mapping(edited_mapping, FIELDS[integration.target])
    active = compile_mapping(active_mapping(integration), FIELDS[integration.target])
    payloads = backtest_payloads(bind, integration.id, integration.target, limit)
    result = compare(edited, active, integration.target, payloads)
    result.seconds = time.perf_counter() - started
    return result
