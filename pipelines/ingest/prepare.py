"""Map and validate a batch: the judgement every door shares (ingest, `crossdock map`, the studio).

Nothing is written here, so previews and backtests give exactly the verdict ingest would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.mapping import CompiledMapping
from pipelines.targets import MISSING, validate_many

Reason = dict[str, str]  # {"field": ..., "message": ...}


@dataclass(slots=True)
class PreparedRecord:
    """One source record's verdict: mapped values (JSON-native, as previewed), the validated record
    ready to upsert (None when invalid), and every reason it cannot land."""

    index: int
    source: Any
    mapped: dict[str, Any] = field(default_factory=dict)
    clean: dict[str, Any] | None = None
    reasons: list[Reason] = field(default_factory=list)
    digest: str | None = None  # content hash of `clean`, filled in by ingest for targets that compare content

    @property
    def ok(self) -> bool:
        return self.clean is not None

    def landing(self) -> dict[str, Any]:
        """The validated record; only valid records are asked for it (ingest keeps the others apart)."""
        if self.clean is None:
            raise ValueError(f"record {self.index} is not valid: {self.reasons}")
        return self.clean

    @property
    def external_id(self) -> str | None:
        value = self.mapped.get("external_id")
        return None if value is None else str(value)


def prepare(mapping: CompiledMapping, target: str, records: Sequence[Any]) -> list[PreparedRecord]:
    """Map every record, then validate the ones that mapped cleanly against `target` in one batch."""
    prepared = [PreparedRecord(index=i, source=record) for i, record in enumerate(records)]
    candidates: list[PreparedRecord] = []
    for item in prepared:
        if not isinstance(item.source, dict):
            item.reasons.append({"field": "(record)", "message": f"expected a JSON object, got {_json_type(item.source)}"})
            continue
        outcome = mapping.apply_present(item.source)
        item.mapped = outcome.values
        if outcome.errors:
            item.reasons.extend({"field": f, "message": m} for f, m in outcome.errors.items())
            continue
        candidates.append(item)
    valid, invalid = validate_many(target, [item.mapped for item in candidates])
    for position, clean in valid.items():
        candidates[position].clean = clean
    for position, reasons in invalid.items():
        item = candidates[position]
        item.reasons.extend({"field": f, "message": _explain(mapping, f, m)} for f, m in reasons.items())
    return prepared


def _explain(mapping: CompiledMapping, target_field: str, message: str) -> str:
    """Point a missing required field at the expression that produced nothing."""
    expression = mapping.field_mapping.get(target_field)
    if message == MISSING and isinstance(expression, str) and expression != target_field:
        return f"{message} ({expression} gave no value)"
    return message


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
