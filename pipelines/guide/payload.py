"""The payload a client must send, derived from the integration's field mapping and its target.

Why derived and not written by hand: the mapping is what decides whether a record lands, so the JSON
Schema and the example in the guide are computed from it (and the example is checked by the same
`prepare` ingest runs). Plain dot paths (`customer.name`) and projections of line items
(`items[].{sku: sku}`) become properties at their source path with the target field's type and limits;
any other expression (concatenations, constants, lookups) is listed with its expression, since the
fields it reads cannot be typed from it alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import jmespath
from pydantic import TypeAdapter

from pipelines.ingest.prepare import prepare
from pipelines.integrations.model import Integration
from pipelines.integrations.providers import default_events, rules
from pipelines.mapping import compile_mapping
from pipelines.mapping.codegen import plain_path
from pipelines.onboarding.webhook_example import ORDER_BODY, SALE_BODY
from pipelines.targets import FIELDS, REQUIRED, SCHEMAS, default_mapping

# Values for the generated example, per target field: the seeds' own examples where they give one.
SAMPLE_VALUES: dict[str, Any] = {
    "external_id": "PED-001",
    "client_name": "María García",
    "address": "Zona 15, Guatemala",
    "latitude": 14.58,
    "longitude": -90.49,
    "client_phone": "+502 5555-1234",
    "client_email": "juan@email.com",
    "notes": "Entregar en recepción",
    "priority": 1,
    "scheduled_time": "2024-01-15T14:00:00Z",
    "branch": "central",
    "source_updated_at": "2024-01-15T13:00:00Z",
    "event_type": "transaction.created",
    "event_timestamp": "2025-09-13T14:30:00Z",
    "national_id": "123456789",
    "email": "cliente@email.com",
    "phone_number": "+573001234567",
    "first_name": "Diego",
    "last_name": "López",
    "whatsapp_number": "+573001234567",
    "currency": "COP",
    "total_amount": 950000.0,
    "product_sku": "BOLSO-CUERO-01",
    "product_name": "Bolso de Cuero Edición Limitada",
    "quantity": 1,
    "unit_price": 950000.0,
    "identifier_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef",
}
_KEYWORDS = (
    "type",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "description",
)


@dataclass
class SourceField:
    """One row of the guide's field table: where the client puts it and what it becomes."""

    path: str
    target_field: str
    required: bool
    kind: str
    description: str = ""


@dataclass
class Payload:
    schema: dict[str, Any]
    example: Any
    fields: list[SourceField] = field(default_factory=list)
    computed: dict[str, str] = field(default_factory=dict)  # target field -> expression not typed here
    example_valid: bool = True
    example_reasons: list[dict[str, str]] = field(default_factory=list)


def _target_properties(target: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = TypeAdapter(SCHEMAS[target]).json_schema()
    return schema["properties"], schema.get("$defs", {})


def _simple(prop: dict[str, Any]) -> dict[str, Any]:
    """The target field's schema without pydantic's titles and null branches: what the client sends."""
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    out: dict[str, Any] = {}
    if len(options) == 1:
        out.update({k: v for k, v in options[0].items() if k in _KEYWORDS})
    else:
        out["type"] = sorted({p["type"] for p in options if "type" in p})
    if "description" in prop:
        out["description"] = prop["description"]
    if out.get("type") == "string" and "pattern" in out and out.get("description") is None:
        out["description"] = "e-mail address"
    return out


def _kind(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "any")
    return " | ".join(kind) if isinstance(kind, list) else str(kind)


def _place(schema: dict[str, Any], keys: list[str], leaf: dict[str, Any], required: bool) -> None:
    node = schema
    for depth, key in enumerate(keys):
        properties = node.setdefault("properties", {})
        last = depth == len(keys) - 1
        if required:
            node.setdefault("required", [])
            if key not in node["required"]:
                node["required"].append(key)
        if last:
            properties[key] = leaf
        else:
            node = properties.setdefault(key, {"type": "object"})


def _set(document: dict[str, Any], keys: list[str], value: Any) -> None:
    node = document
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _referenced_paths(tree: dict) -> list[list[str]]:
    """The plain paths an expression reads (`customer.first_name` inside `join_nonempty(...)`)."""
    keys = plain_path(tree)
    if keys is not None:
        return [keys]
    if tree["type"] in ("projection", "filter_projection", "value_projection", "pipe"):
        return []  # relative paths inside would be misread as top-level ones
    found: list[list[str]] = []
    for child in tree.get("children", []):
        if isinstance(child, dict):
            found += _referenced_paths(child)
    return found


def _has(document: dict[str, Any], keys: list[str]) -> bool:
    node: Any = document
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _projection(tree: dict) -> tuple[list[str], list[tuple[str, list[str]]]] | None:
    """`a.b[].{x: c, y: d.e}` as (['a', 'b'], [('x', ['c']), ('y', ['d', 'e'])]), else None."""
    if tree["type"] != "projection":
        return None
    left, right = tree["children"]
    if left["type"] != "flatten":
        return None
    base = plain_path(left["children"][0])
    if base is None or right["type"] != "multi_select_dict":
        return None
    pairs = []
    for pair in right["children"]:
        keys = plain_path(pair["children"][0])
        if keys is None:
            return None
        pairs.append((pair["value"], keys))
    return base, pairs


def build_payload(config: Integration) -> Payload:
    """The JSON Schema, the field table and a checked example for `config`."""
    target = config.target
    mapping = config.field_mapping or default_mapping(target)
    properties, defs = _target_properties(target)
    record: dict[str, Any] = {"type": "object"}
    example: dict[str, Any] = {}
    rows: list[SourceField] = []
    computed: dict[str, str] = {}
    required_fields = REQUIRED[target] | ({"national_id"} if target == "sale" else frozenset())
    for target_field, expression in mapping.items():
        prop = properties.get(target_field, {})
        required = target_field in REQUIRED[target]
        tree = jmespath.compile(expression).parsed if isinstance(expression, str) and expression.strip() else None
        keys = plain_path(tree) if tree is not None else None
        projected = _projection(tree) if tree is not None and keys is None else None
        if keys is not None:
            leaf = _simple(prop)
            _place(record, keys, leaf, required)
            _set(example, keys, SAMPLE_VALUES.get(target_field, "..."))
            rows.append(SourceField(".".join(keys), target_field, required, _kind(leaf), leaf.get("description", "")))
        elif projected is not None:
            base, pairs = projected
            item_props = defs.get("LineItem", {}).get("properties", {})
            item_schema: dict[str, Any] = {"type": "object"}
            item_example: dict[str, Any] = {}
            for item_field, item_keys in pairs:
                leaf = _simple(item_props.get(item_field, {}))
                _place(item_schema, item_keys, leaf, False)
                _set(item_example, item_keys, SAMPLE_VALUES.get(item_field, "..."))
                rows.append(
                    SourceField(
                        ".".join(base) + "[]." + ".".join(item_keys),
                        f"{target_field}[].{item_field}",
                        False,
                        _kind(leaf),
                        leaf.get("description", ""),
                    )
                )
            _place(record, base, {"type": "array", "items": item_schema}, required)
            _set(example, base, [item_example])
        else:
            computed[target_field] = expression if isinstance(expression, str) else repr(expression)
            for keys in _referenced_paths(tree) if tree is not None else []:
                if not _has(example, keys):
                    _place(record, keys, {}, False)
                    _set(example, keys, SAMPLE_VALUES.get(keys[-1], f"{keys[-1]}-1"))
                    rows.append(SourceField(".".join(keys), target_field, False, "any", f"read by {computed[target_field]}"))
    _add_event(config, example)
    payload = Payload(schema=_document_schema(config, record), example=_whole_example(config, example), fields=rows, computed=computed)
    _check(payload, config, mapping, required_fields)
    return payload


def _add_event(config: Integration, example: dict[str, Any]) -> None:
    """Providers that name the event in the body (Stripe's `type`) ingest only some events: the example
    names one that is ingested, so it lands when sent."""
    if config.type != "webhook":
        return
    event_field = rules(config.webhook.verification).event_field
    events = config.webhook.events or default_events(config.webhook.verification)
    if event_field and events and event_field not in example:
        example[event_field] = events[0]


def _document_schema(config: Integration, record: dict[str, Any]) -> dict[str, Any]:
    title = f"{config.name}: {config.target} payload"
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title}
    if config.type != "webhook" or config.webhook.verification == "autentikapp":
        return {**head, **record}  # one record per event (or per row / page item)
    one = {"$ref": "#/$defs/record"}
    return {**head, "$defs": {"record": record}, "oneOf": [one, {"type": "array", "items": one, "minItems": 1}]}


def _whole_example(config: Integration, example: dict[str, Any]) -> Any:
    if config.type == "webhook" and config.webhook.verification not in ("autentikapp", "stripe", "standard_webhooks"):
        return [example]  # seed 000's batch form
    return example


def _check(payload: Payload, config: Integration, mapping: dict[str, Any], required_fields: frozenset[str]) -> None:
    """Run the example through the same mapping and validation ingest uses; fall back to the seed's own
    example when the generated one does not land (expressions this module cannot type)."""
    compiled = compile_mapping(mapping, FIELDS[config.target])
    records = payload.example if isinstance(payload.example, list) else [payload.example]
    verdict = prepare(compiled, config.target, copy.deepcopy(records))
    if all(item.ok for item in verdict):
        return
    seed = SALE_BODY if config.target == "sale" else ORDER_BODY
    seed_records = seed if isinstance(seed, list) else [seed]
    if all(item.ok for item in prepare(compiled, config.target, copy.deepcopy(seed_records))):
        payload.example = copy.deepcopy(seed)
        return
    payload.example_valid = False
    payload.example_reasons = [reason for item in verdict for reason in item.reasons]
