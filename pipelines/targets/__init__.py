"""Targets: what a mapped record must look like to land (order, sale), and per-field reasons when not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipelines.errors import field_path
from pipelines.targets.order import ORDER_FIELDS, OrderRecord
from pipelines.targets.sale import AUTENTIKAPP_MAPPING, SALE_FIELDS, SaleRecord, sale_rules

TARGETS = ("order", "sale")
FIELDS: dict[str, tuple[str, ...]] = {"order": ORDER_FIELDS, "sale": SALE_FIELDS}
SCHEMAS: dict[str, type] = {"order": OrderRecord, "sale": SaleRecord}
# From pydantic's schema, not `__required_keys__`: with postponed annotations a TypedDict cannot see
# `NotRequired` and would call every field required.
REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(TypeAdapter(schema).json_schema().get("required", ())) for name, schema in SCHEMAS.items()
}
_BATCH = {name: TypeAdapter(list[schema]) for name, schema in SCHEMAS.items()}  # type: ignore[valid-type]
_RULES: dict[str, Callable[[dict], dict[str, str]]] = {"sale": sale_rules}

MISSING = "required field is missing"
_MESSAGES = {"missing": MISSING, "extra_forbidden": "not a field of this target"}


def default_mapping(target: str) -> dict[str, str]:
    """The mapping used when an integration has none: records already in the target's shape (orders),
    or the Autentikapp payload (sales)."""
    if target == "sale":
        return dict(AUTENTIKAPP_MAPPING)
    return {field: field for field in FIELDS[target]}


def _reasons(exc: ValidationError, positions: list[int]) -> dict[int, dict[str, str]]:
    """{record index: {field: reason}} from a batch ValidationError."""
    out: dict[int, dict[str, str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        batch_index, *loc = error["loc"]
        message = _MESSAGES.get(error["type"], error["msg"])
        out.setdefault(positions[int(batch_index)], {})[field_path(tuple(loc))] = message
    return out


def validate_many(target: str, records: list[dict[str, Any]]) -> tuple[dict[int, dict], dict[int, dict[str, str]]]:
    """Validate a batch: ({index: clean record} for valid ones, {index: {field: reason}} for the rest).

    The whole batch goes through pydantic-core at once (far faster than record by record); only when
    something fails are the survivors validated again without the failures.
    """
    if target not in _BATCH:
        raise ValueError(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
    adapter = _BATCH[target]
    positions = list(range(len(records)))
    errors: dict[int, dict[str, str]] = {}
    try:
        clean = adapter.validate_python(records)
    except ValidationError as exc:
        errors = _reasons(exc, positions)
        positions = [i for i in positions if i not in errors]
        clean = adapter.validate_python([records[i] for i in positions])
    valid = dict(zip(positions, clean, strict=True))
    rules = _RULES.get(target)
    if rules:
        for index in list(valid):
            broken = rules(valid[index])
            if broken:
                errors[index] = broken
                del valid[index]
    return valid, errors


def validate_record(target: str, values: dict[str, Any]) -> dict[str, str]:
    """{field: reason} for one mapped record; empty when it is valid."""
    _, errors = validate_many(target, [values])
    return errors.get(0, {})


__all__ = [
    "FIELDS",
    "MISSING",
    "REQUIRED",
    "SCHEMAS",
    "TARGETS",
    "OrderRecord",
    "SaleRecord",
    "default_mapping",
    "validate_many",
    "validate_record",
]
