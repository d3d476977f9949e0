"""The studio's preview: the seed's Shopify example, broken paths, compile errors with positions, and the
editor-table conversions (pure functions, no store)."""

from __future__ import annotations

import pytest

from pipelines.mapping.diff import diff_mappings
from pipelines.studio.preview import (
    caret,
    mapping_rows,
    path_values,
    preview_record,
    preview_sample,
    rows_to_mapping,
    with_field,
)
from tests.conftest import load_example

SHOPIFY = load_example("shopify_mapping.json")["field_mapping"]
SAMPLE = load_example("shopify_order.json")


def _rows(preview):
    return {row.field: row for row in preview.rows}


def test_seed_sample_maps_to_the_seed_record():
    preview = preview_record(SHOPIFY, "order", SAMPLE)
    assert preview.ok
    assert preview.mapped == load_example("shopify_expected.json")
    assert {name: row.state for name, row in _rows(preview).items()} == dict.fromkeys(SHOPIFY, "ok")
    assert _rows(preview)["external_id"].required and not _rows(preview)["branch"].required


def test_a_broken_path_is_the_fields_error_with_the_expression():
    broken = dict(SHOPIFY, external_id="format('shopify-{}', idd)")
    preview = preview_record(broken, "order", SAMPLE)
    row = _rows(preview)["external_id"]
    assert (row.state, row.value) == ("error", None)
    assert row.message == "required field is missing (format('shopify-{}', idd) gave no value)"
    assert preview.reasons == [{"field": "external_id", "message": row.message}]
    assert not preview.ok


def test_an_optional_path_with_nothing_is_flagged_not_failed():
    preview = preview_record(dict(SHOPIFY, notes="note_attributes.gift"), "order", SAMPLE)
    assert preview.ok
    assert (_rows(preview)["notes"].state, _rows(preview)["notes"].message) == ("empty", "no value: the source has nothing at this path")


def test_compile_errors_keep_the_rest_of_the_preview():
    bad = dict(SHOPIFY, client_name="join_nonempty(' ', [customer.first_name customer.last_name])")
    preview = preview_record(bad, "order", SAMPLE)
    (issue,) = preview.compile_issues
    assert issue.field == "client_name" and "position" in issue.message
    expression, pointer = caret(issue).split("\n")
    assert expression[len(pointer) - 1 :].startswith("customer.last_name")
    rows = _rows(preview)
    assert rows["client_name"].state == "not_compiled"
    assert rows["external_id"].value == "shopify-5678"
    assert not preview.ok


def test_required_fields_not_mapped_and_unknown_fields():
    preview = preview_record({"external_id": "id", "colour": "x"}, "order", SAMPLE)
    rows = _rows(preview)
    assert rows["colour"].state == "not_compiled" and "not a field of this target" in rows["colour"].message
    assert rows["client_name"].state == "missing" and rows["address"].state == "missing"
    assert rows["client_name"].message == "required field is missing"


def test_whole_sample_counts_and_record_level_reasons():
    sample = preview_sample(SHOPIFY, "order", [SAMPLE, {"id": 1}, "not an object"])
    assert sample.valid == 1
    third = sample.record(SHOPIFY, "order", 2)
    assert third.record_messages == ["(record): expected a JSON object, got a string"]
    sale = preview_record({"external_id": "transaction_id"}, "sale", {"transaction_id": "F-1"})
    assert sale.record_messages == ["national_id: a sale needs the customer's national_id or email"]


@pytest.mark.parametrize(
    "mapping",
    [
        SHOPIFY,
        {"external_id": "id", "priority": 1, "branch": "'central'", "notes": None, "latitude": 14.59, "is": True},
    ],
)
def test_editor_rows_round_trip_unchanged(mapping):
    mapping_back, problems = rows_to_mapping(mapping_rows(mapping))
    assert (mapping_back, problems) == (mapping, [])
    assert mapping_rows({"priority": 1})[0]["expression"] == "`1`"


def test_editor_rows_problems():
    rows = [
        {"field": "address", "expression": "a"},
        {"field": None, "expression": "b"},
        {"field": "address", "expression": "c"},
        {"field": "", "expression": ""},
        {"field": "notes", "expression": None},
    ]
    mapping, problems = rows_to_mapping(rows)
    assert mapping == {"address": "a", "notes": ""}
    assert problems == ["row 2: choose the target field for 'b'", "row 3: address is mapped twice; only the first row counts"]


def test_with_field_and_path_values():
    rows = with_field(mapping_rows(SHOPIFY), "branch", "shipping_address.city")
    assert rows_to_mapping(rows)[0]["branch"] == "shipping_address.city"
    assert rows_to_mapping(with_field(rows, "notes", "name"))[0]["notes"] == "name"
    assert path_values(SAMPLE, ["customer.last_name", "shipping_address", "missing.path"]) == {
        "customer.last_name": "Pérez",
        "shipping_address": SAMPLE["shipping_address"],
        "missing.path": None,
    }


def test_mapping_diff():
    diff = diff_mappings({"a": "x", "b": "y", "c": "z"}, {"a": "x", "b": "Y", "d": "w"})
    assert [(d.field, d.change, d.before, d.after) for d in diff] == [
        ("b", "changed", "y", "Y"),
        ("d", "added", None, "w"),
        ("c", "removed", "z", None),
    ]
    assert [d.change for d in diff_mappings({"a": 1}, {"a": 1}, include_same=True)] == ["same"]


def test_values_are_shown_as_ingest_would_store_them():
    """The issue's case: a latitude sent as "14.59" is stored as the number 14.59, so that is what shows."""
    mapping = {
        "external_id": "id",
        "client_name": "name",
        "address": "address",
        "latitude": "lat",
        "priority": "p",
        "scheduled_time": "to_datetime(when, '%d/%m/%Y %H:%M', 'America/Guatemala')",
        "notes": "when",
    }
    record = {"id": 5678, "name": "  Ana ", "address": "Zona 1", "lat": "14.59", "p": "2", "when": "15/01/2024 08:00"}
    preview = preview_record(mapping, "order", record)
    assert preview.ok
    assert preview.mapped["latitude"] == "14.59" and preview.mapped["external_id"] == 5678  # what the expressions gave
    assert preview.stored == {
        "external_id": "5678",
        "client_name": "Ana",
        "address": "Zona 1",
        "latitude": 14.59,
        "priority": 2,
        "scheduled_time": "2024-01-15T14:00:00Z",
        "notes": "15/01/2024 08:00",
    }
    assert _rows(preview)["latitude"].value == 14.59 and _rows(preview)["priority"].value == 2


def test_a_rejected_record_shows_its_valid_fields_coerced_and_the_failing_one_as_mapped():
    mapping = {"external_id": "id", "latitude": "lat", "priority": "p", "scheduled_time": "t"}
    preview = preview_record(mapping, "order", {"id": 1, "lat": "14.59", "p": "9", "t": "2024-01-15 14:00"})
    assert not preview.ok
    assert preview.stored == {"external_id": "1", "latitude": 14.59, "priority": "9", "scheduled_time": "2024-01-15T14:00:00Z"}
    rows = _rows(preview)
    assert (rows["priority"].state, rows["priority"].value) == ("error", "9")
    assert rows["latitude"].state == "ok"


def test_sale_amounts_and_line_items_as_stored():
    mapping = load_example("mapping_stripe_sale.json")["field_mapping"]
    preview = preview_record(mapping, "sale", load_example("mapping_stripe_session.json"))
    assert preview.ok, preview.reasons
    assert preview.stored == load_example("mapping_stripe_expected.json")
    assert preview.stored["total_amount"] == 403 and preview.mapped["total_amount"] == 403
    # Items without a name leave it out, as ingest stores them.
    sale = dict(mapping, line_items="line_items.data[].{product_sku: price.product, unit_price: '10.50', product_name: nothing}")
    stored = preview_record(sale, "sale", load_example("mapping_stripe_session.json")).stored
    assert stored["line_items"][0] == {"product_sku": "BOLSO-CUERO-01", "unit_price": 10.5}
