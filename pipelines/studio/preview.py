"""The mapping studio's live preview: every field's value or error for a sample, as ingest would judge it.

Values are shown as ingest would store them (`stored_values`): after the target's own coercion, so a
latitude sent as "14.59" shows as the number 14.59, an amount as a number, a date-time in ISO 8601 UTC
and text trimmed. `crossdock map` and the backtest show the same.

A half-written mapping is the normal state while an analyst types, so a field that does not compile
must not blank the whole preview: the fields that compile are run through `prepare` (ingest's own
verdict) and the broken ones are reported with the position of the mistake.

The studio edits a mapping as a table of (target field, expression) rows; `mapping_rows` and
`rows_to_mapping` convert both ways without changing a mapping that was not edited (constants such
as `"priority": 1` show as the JMESPath literal `` `1` `` and come back as the number 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal, NotRequired, Required, get_origin, get_type_hints

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from pipelines.clock import iso
from pipelines.ingest.prepare import PreparedRecord, prepare
from pipelines.mapping import CompiledMapping, MappingError, MappingIssue, compile_mapping
from pipelines.mapping.coerce import from_decimal
from pipelines.targets import FIELDS, REQUIRED, SCHEMAS

FieldState = Literal["ok", "error", "empty", "not_compiled", "missing"]
_LITERAL = re.compile(r"^`(.*)`$", re.DOTALL)


def caret(issue: MappingIssue) -> str | None:
    """The expression with a caret under the offending position (None when the position is unknown)."""
    if issue.expression is None or issue.position is None:
        return None
    return f"{issue.expression}\n{' ' * issue.position}^"


def compile_parts(field_mapping: Mapping[str, Any], target: str) -> tuple[CompiledMapping, list[MappingIssue]]:
    """The mapping compiled without the fields that do not compile, and those fields' issues."""
    try:
        return compile_mapping(field_mapping, FIELDS[target]), []
    except MappingError as exc:
        broken = {issue.field for issue in exc.issues}
        rest = {name: expr for name, expr in field_mapping.items() if name not in broken}
        return compile_mapping(rest, FIELDS[target]), list(exc.issues)


# ---------------------------------------------------------------- what ingest would store
def json_value(value: Any) -> Any:
    """A validated value as JSON, the way ingest stores it: date-times in UTC with a Z (naive ones are
    UTC, as ingest reads them), decimals as numbers, nulls inside objects left out (line items)."""
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return from_decimal(value) if value.is_finite() else str(value)
    return value


def _unwrapped(hint: Any) -> Any:
    return hint.__args__[0] if get_origin(hint) in (NotRequired, Required) else hint


@cache
def _field_by_field(target: str) -> TypeAdapter:
    """The target with every field optional and the same types and settings: coerces the fields of a
    rejected record that are fine on their own."""
    schema = SCHEMAS[target]
    hints = {name: _unwrapped(hint) for name, hint in get_type_hints(schema, include_extras=True).items()}
    partial = TypedDict(f"Partial{schema.__name__}", hints, total=False)  # type: ignore[misc]
    partial.__pydantic_config__ = schema.__pydantic_config__  # type: ignore[attr-defined]
    return TypeAdapter(partial)


def _coerced(target: str, values: dict[str, Any]) -> dict[str, Any]:
    adapter = _field_by_field(target)
    candidate = dict(values)
    while candidate:
        try:
            return adapter.validate_python(candidate)
        except ValidationError as exc:
            failing = {str(error["loc"][0]) for error in exc.errors(include_url=False) if error["loc"]}
            if not failing & candidate.keys():
                return {}
            for name in failing:
                candidate.pop(name, None)
    return {}


def stored_values(target: str, item: PreparedRecord) -> dict[str, Any]:
    """The record as ingest would store it, in JSON, fields in the mapping's order. For a record that
    would be rejected, the fields that are valid on their own are coerced all the same and the failing
    ones are shown as the mapping produced them."""
    if item.clean is not None:
        landed = item.clean
    else:
        rejected = {_top_field(reason["field"]) for reason in item.reasons}
        landed = _coerced(target, {name: value for name, value in item.mapped.items() if name not in rejected})
    return {name: json_value(landed.get(name, value)) for name, value in item.mapped.items()}


@dataclass(frozen=True)
class FieldRow:
    """One line of the preview table; `value` is what ingest would store (see `stored_values`)."""

    field: str
    expression: str
    value: Any
    state: FieldState
    message: str | None = None
    required: bool = False


@dataclass
class RecordPreview:
    """A sample record's preview: the table rows, the record as ingest would store it, and the verdict."""

    rows: list[FieldRow]
    mapped: dict[str, Any]  # what the expressions gave, before the target's coercion
    reasons: list[dict[str, str]]
    compile_issues: list[MappingIssue]
    # Reasons that belong to no row of the table (not a JSON object; a sale without national_id or email).
    record_messages: list[str] = field(default_factory=list)
    stored: dict[str, Any] = field(default_factory=dict)  # what ingest would store (`stored_values`)

    @property
    def ok(self) -> bool:
        """The record would land and the mapping as written compiles."""
        return not self.reasons and not self.compile_issues


@dataclass
class SamplePreview:
    """The whole sample judged at once, so the studio can say "5 of 6 sample records are valid"."""

    prepared: list[PreparedRecord]
    compile_issues: list[MappingIssue] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return sum(item.ok for item in self.prepared)

    def record(self, field_mapping: Mapping[str, Any], target: str, index: int) -> RecordPreview:
        return _record_preview(field_mapping, target, self.prepared[index], self.compile_issues)


def preview_sample(field_mapping: Mapping[str, Any], target: str, records: Sequence[Any]) -> SamplePreview:
    compiled, issues = compile_parts(field_mapping, target)
    return SamplePreview(prepare(compiled, target, records), issues)


def preview_record(field_mapping: Mapping[str, Any], target: str, record: Any) -> RecordPreview:
    """One record's preview (the studio's live view)."""
    return preview_sample(field_mapping, target, [record]).record(field_mapping, target, 0)


def _top_field(path: str) -> str:
    """'line_items[0].quantity' -> 'line_items'."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _record_preview(field_mapping: Mapping[str, Any], target: str, item: PreparedRecord, issues: list[MappingIssue]) -> RecordPreview:
    required = REQUIRED[target]
    by_field: dict[str, list[str]] = {}
    record_level: list[str] = []
    for reason in item.reasons:
        top = _top_field(reason["field"])
        if top in field_mapping or top in required:
            detail = reason["message"] if top == reason["field"] else f"{reason['field']}: {reason['message']}"
            by_field.setdefault(top, []).append(detail)
        else:
            record_level.append(f"{reason['field']}: {reason['message']}")
    broken = {issue.field: issue for issue in issues}
    stored = stored_values(target, item)
    rows: list[FieldRow] = []
    for name, expression in field_mapping.items():
        shown = expression_text(expression)
        if name in broken:
            rows.append(FieldRow(name, shown, None, "not_compiled", broken[name].message, name in required))
            continue
        value = stored.get(name)
        if name in by_field:
            rows.append(FieldRow(name, shown, value, "error", "; ".join(by_field[name]), name in required))
        elif value is None and isinstance(item.source, dict):
            rows.append(FieldRow(name, shown, None, "empty", "no value: the source has nothing at this path", name in required))
        else:
            rows.append(FieldRow(name, shown, value, "ok", None, name in required))
    for name in FIELDS[target]:
        if name in required and name not in field_mapping and name not in broken:
            message = "; ".join(by_field.get(name, [])) or "required field is not mapped"
            rows.append(FieldRow(name, "", None, "missing", message, True))
    return RecordPreview(
        rows=rows,
        mapped=dict(item.mapped),
        reasons=list(item.reasons),
        compile_issues=list(issues),
        record_messages=record_level,
        stored=stored,
    )


def expression_text(expression: Any) -> str:
    """How a mapping value reads in the editor: expressions as written, constants as JMESPath literals."""
    if isinstance(expression, str):
        return expression
    return f"`{json.dumps(expression, ensure_ascii=False)}`"


def expression_value(text: str) -> Any:
    """Inverse of `expression_text`: a literal number/true/false/null comes back as that constant."""
    text = text.strip()
    match = _LITERAL.match(text)
    if match:
        try:
            value = json.loads(match.group(1))
        except json.JSONDecodeError:
            return text
        if value is None or isinstance(value, (bool, int, float)):
            return value
    return text


def mapping_rows(field_mapping: Mapping[str, Any]) -> list[dict[str, str]]:
    """Editor rows for a mapping: [{"field": ..., "expression": ...}] in the mapping's order."""
    return [{"field": name, "expression": expression_text(expr)} for name, expr in field_mapping.items()]


def rows_to_mapping(rows: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """(mapping, problems) from editor rows. Blank rows are ignored; a row without a field, or a
    field given twice, is a problem (the first row for a field wins, so the preview stays stable)."""
    mapping: dict[str, Any] = {}
    problems: list[str] = []
    for number, row in enumerate(rows, start=1):
        name = (row.get("field") or "").strip() if isinstance(row.get("field"), str) else ""
        raw = row.get("expression")
        text = raw.strip() if isinstance(raw, str) else ""
        if not name and not text:
            continue
        if not name:
            problems.append(f"row {number}: choose the target field for {text!r}")
            continue
        if name in mapping:
            problems.append(f"row {number}: {name} is mapped twice; only the first row counts")
            continue
        mapping[name] = expression_value(text) if text else ""
    return mapping, problems


def with_field(rows: Iterable[Mapping[str, Any]], target_field: str, expression: str) -> list[dict[str, Any]]:
    """Editor rows with `target_field` mapped to `expression`: its row replaced, or a row added."""
    out = [dict(row) for row in rows]
    for row in out:
        if row.get("field") == target_field:
            row["expression"] = expression
            return out
    out.append({"field": target_field, "expression": expression})
    return out


def path_values(record: Any, paths: Iterable[str]) -> dict[str, Any]:
    """What each source path holds in `record` (for the studio's path list); None where nothing."""
    values: dict[str, Any] = {}
    for path in paths:
        try:
            values[path] = compile_mapping({"value": path}).apply(record).values.get("value")
        except MappingError:
            values[path] = None
    return values
