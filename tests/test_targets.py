"""Order and sale validation: per-record, per-field reasons a person can act on."""

from __future__ import annotations

from pipelines.targets import default_mapping, validate_many, validate_record


def test_missing_required_fields_are_named():
    assert validate_record("order", {"external_id": "A1", "client_name": "Juan"}) == {"address": "required field is missing"}


def test_ranges_and_formats():
    errors = validate_record(
        "order",
        {
            "external_id": "A1",
            "client_name": "Juan",
            "address": "Zona 10",
            "priority": 7,
            "latitude": 123.0,
            "longitude": -200,
            "scheduled_time": "mañana",
            "client_email": "not-an-email",
        },
    )
    assert set(errors) == {"priority", "latitude", "longitude", "scheduled_time", "client_email"}
    assert "less than or equal to 5" in errors["priority"]
    assert "90" in errors["latitude"]


def test_numbers_are_accepted_as_text_ids():
    valid, errors = validate_many("order", [{"external_id": 5678, "client_name": "Juan", "address": "x"}])
    assert errors == {} and valid[0]["external_id"] == "5678"


def test_unknown_fields_are_reported():
    assert validate_record("order", {"external_id": "1", "client_name": "a", "address": "b", "colour": "red"}) == {
        "colour": "not a field of this target"
    }


def test_a_sale_needs_national_id_or_email():
    assert validate_record("sale", {"external_id": "FACT-1"}) == {"national_id": "a sale needs the customer's national_id or email"}
    assert validate_record("sale", {"external_id": "FACT-1", "email": "cliente@email.com"}) == {}


def test_sale_line_item_errors_point_at_the_item():
    errors = validate_record("sale", {"external_id": "F", "national_id": "1", "line_items": [{"quantity": 1}, {"quantity": 0}]})
    assert list(errors) == ["line_items[1].quantity"]


def test_valid_records_survive_beside_invalid_ones():
    records = [{"external_id": str(i), "client_name": "n", "address": "a"} for i in range(5)]
    records[2] = {"external_id": "2", "client_name": "n"}
    valid, errors = validate_many("order", records)
    assert sorted(valid) == [0, 1, 3, 4] and list(errors) == [2]


def test_default_mappings():
    assert default_mapping("order")["address"] == "address"
    assert default_mapping("sale")["external_id"] == "transaction_data.transaction_id"


def test_required_fields_are_the_seed_minimums():
    """Seed 000 "Campos Requeridos": external_id, client_name, address; a sale needs its transaction id."""
    from pipelines.targets import REQUIRED

    assert {"order": frozenset({"external_id", "client_name", "address"}), "sale": frozenset({"external_id"})} == REQUIRED
