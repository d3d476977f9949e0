"""`crossdock map` as an analyst runs it: real subprocess, real files, exit codes 0/1/2."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, load_example
from tests.test_cli_integrations import crossdock


def test_seed_shopify_sample_maps_to_the_seed_record():
    result = crossdock("map", "--mapping", str(EXAMPLES / "shopify_mapping.json"), "--sample", str(EXAMPLES / "shopify_order.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == load_example("shopify_expected.json")
    assert result.stderr == ""


def test_a_whole_integration_file_is_a_mapping_source():
    result = crossdock("map", "-m", str(EXAMPLES / "api_polling_integration.json"), "-s", str(EXAMPLES / "webhook_batch.json"))
    assert result.returncode == 1
    assert json.loads(result.stdout) == [{}]
    assert "record 0: external_id: required field is missing (order_number gave no value)" in result.stderr


def test_invalid_records_exit_1_with_every_field_error(tmp_path):
    sample = tmp_path / "orders.json"
    sample.write_text(
        json.dumps(
            [
                {"external_id": "A", "client_name": "Ana", "address": "Zona 1", "priority": "9"},
                {"external_id": "B", "client_name": "Bea", "address": "Zona 2", "priority": "alta"},
                {"external_id": "C", "client_name": "Cid", "address": "Zona 3", "priority": "2"},
                "not an object",
            ]
        )
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "field_mapping": {
                    "external_id": "external_id",
                    "client_name": "client_name",
                    "address": "address",
                    "priority": "to_int(priority)",
                }
            }
        )
    )
    result = crossdock("map", "-m", str(mapping), "-s", str(sample), "--target", "order")
    assert result.returncode == 1
    printed = json.loads(result.stdout)
    assert printed[2] == {"external_id": "C", "client_name": "Cid", "address": "Zona 3", "priority": 2}
    assert "record 0: priority: Input should be less than or equal to 5" in result.stderr
    assert "record 1: priority: cannot convert 'alta' to an integer" in result.stderr
    assert "record 3: (record): expected a JSON object, got a string" in result.stderr
    assert "3 of 4 record(s) invalid for target order" in result.stderr


def test_a_sale_sample_against_the_sale_target(tmp_path):
    mapping = tmp_path / "sale.json"
    mapping.write_text(
        json.dumps(
            {
                "target": "sale",
                "field_mapping": {
                    "external_id": "transaction_data.transaction_id",
                    "national_id": "customer_data.national_id",
                    "line_items": "transaction_data.line_items[].{product_sku: product_sku, identifier_code: autentikapp_code}",
                },
            }
        )
    )
    result = crossdock("map", "-m", str(mapping), "-s", str(EXAMPLES / "autentikapp_sale.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["line_items"] == [
        {"product_sku": "BOLSO-CUERO-01", "identifier_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}
    ]


def test_unusable_input_exits_2_with_a_clear_message(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"field_mapping": {"address": "join_nonempty(\', \', [a, b]))"}}')
    result = crossdock("map", "-m", str(broken), "-s", str(EXAMPLES / "shopify_order.json"))
    assert result.returncode == 2
    assert "address: unexpected ')' at position 28" in result.stderr
    assert "^" in result.stderr and "Traceback" not in result.stderr

    missing = crossdock("map", "-m", str(EXAMPLES / "shopify_mapping.json"), "-s", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr

    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{,}]")
    unreadable = crossdock("map", "-m", str(EXAMPLES / "shopify_mapping.json"), "-s", str(bad_json))
    assert unreadable.returncode == 2 and "invalid JSON at line 1, column 3" in unreadable.stderr

    target = crossdock(
        "map", "-m", str(EXAMPLES / "shopify_mapping.json"), "-s", str(EXAMPLES / "shopify_order.json"), "--target", "invoice"
    )
    assert target.returncode == 2 and "unknown target 'invoice'" in target.stderr


def test_json_lines_samples(tmp_path):
    sample = tmp_path / "orders.jsonl"
    sample.write_text(
        '{"id": 1, "customer": {"first_name": "Ana"}, "shipping_address": {"address1": "Z1"}}\n\n'
        '{"id": 2, "customer": {"last_name": "Gil"}, "shipping_address": {"city": "Mixco"}}\n'
    )
    result = crossdock("map", "-m", str(EXAMPLES / "shopify_mapping.json"), "-s", str(sample))
    assert result.returncode == 0, result.stderr
    assert [r["client_name"] for r in json.loads(result.stdout)] == ["Ana", "Gil"]


def test_values_are_printed_as_ingest_stores_them(tmp_path):
    """A latitude sent as text prints as the number ingest stores; a date-time in UTC; ids as text."""
    sample = tmp_path / "order.json"
    sample.write_text(json.dumps({"id": 5678, "name": " Ana ", "address": "Zona 1", "lat": "14.59", "p": "2", "when": "15/01/2024 14:00"}))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "field_mapping": {
                    "external_id": "id",
                    "client_name": "name",
                    "address": "address",
                    "latitude": "lat",
                    "priority": "p",
                    "scheduled_time": "to_datetime(when, '%d/%m/%Y %H:%M', 'America/Guatemala')",
                }
            }
        )
    )
    result = crossdock("map", "-m", str(mapping), "-s", str(sample))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "external_id": "5678",
        "client_name": "Ana",
        "address": "Zona 1",
        "latitude": 14.59,
        "priority": 2,
        "scheduled_time": "2024-01-15T20:00:00Z",
    }


def test_a_rejected_record_prints_its_valid_fields_coerced(tmp_path):
    sample = tmp_path / "order.json"
    sample.write_text(json.dumps({"id": 1, "lat": "14.59", "p": "9"}))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"external_id": "id", "latitude": "lat", "priority": "p"}))
    result = crossdock("map", "-m", str(mapping), "-s", str(sample))
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"external_id": "1", "latitude": 14.59, "priority": "9"}
    assert "record: priority: Input should be less than or equal to 5" in result.stderr


def test_stripe_cents_become_the_sale_total(tmp_path):
    """The issue's case: Stripe's amount_total 40300 (cents) is a sale of 403, line items in units."""
    result = crossdock("map", "-m", str(EXAMPLES / "mapping_stripe_sale.json"), "-s", str(EXAMPLES / "mapping_stripe_session.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == load_example("mapping_stripe_expected.json")
    assert result.stderr == ""


def test_a_bad_pattern_or_time_zone_is_a_compile_error_with_its_position(tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "target": "order",
                "field_mapping": {
                    "external_id": "regex_extract(ref, 'INV-(\\d+')",
                    "scheduled_time": "to_datetime(t, '%d/%m/%Y', 'America/Guatamala')",
                },
            }
        )
    )
    result = crossdock("map", "-m", str(mapping), "-s", str(EXAMPLES / "shopify_order.json"))
    assert result.returncode == 2
    assert (
        "external_id: regex_extract: the pattern 'INV-(\\d+' is not a valid regular expression: "
        "missing ), unterminated subpattern (at position 25)" in result.stderr
    )
    assert "scheduled_time: to_datetime: unknown time zone 'America/Guatamala' (did you mean 'America/Guatemala'?)" in result.stderr
    assert "      regex_extract(ref, 'INV-(\\d+')\n" + " " * 6 + " " * 24 + "^" in result.stderr
    assert "Traceback" not in result.stderr
