"""The mapping engine: the seed's transformation exactly, every expression form the issue names,
errors with positions, and the compiler agreeing with jmespath's own interpreter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.mapping import InterpretedMapping, MappingError, compile_mapping, source_paths
from pipelines.targets import FIELDS
from tests.conftest import load_example


def apply(expression, record):
    outcome = compile_mapping({"value": expression}).apply(record)
    return outcome.values["value"], outcome.errors.get("value")


def test_seed_shopify_example_comes_out_exactly_as_the_seed_shows():
    mapping = load_example("shopify_mapping.json")["field_mapping"]
    outcome = compile_mapping(mapping, FIELDS["order"]).apply(load_example("shopify_order.json"))
    assert outcome.errors == {}
    assert outcome.values == load_example("shopify_expected.json")


def test_seed_api_mapping_is_plain_dot_paths():
    mapping = load_example("api_polling_integration.json")["field_mapping"]
    record = {"order_number": "A-1", "customer": {"name": "Ana"}, "shipping_address": {"full": "Zona 1", "lat": 14.6, "lng": -90.5}}
    assert compile_mapping(mapping).apply(record).values == {
        "external_id": "A-1",
        "client_name": "Ana",
        "address": "Zona 1",
        "latitude": 14.6,
        "longitude": -90.5,
    }


@pytest.mark.parametrize(
    ("expression", "record", "expected"),
    [
        ("customer.name", {"customer": {"name": "Juan"}}, "Juan"),
        ("customer.name", {"customer": "not an object"}, None),
        ("a.b.c.d", {"a": {"b": {"c": {"d": 4}}}}, 4),
        ("order-id", {"order-id": "X1"}, "X1"),  # dashes need no quoting
        ("shipping-address.lat", {"shipping-address": {"lat": 1.5}}, 1.5),
        ("concat(first_name, ' ', last_name)", {"first_name": "Juan", "last_name": "Pérez"}, "Juan Pérez"),
        ("concat('shopify-', id)", {"id": 5678}, "shopify-5678"),
        ("concat('shopify-', id)", {}, "shopify-"),
        ("format('shopify-{}', id)", {"id": 5678}, "shopify-5678"),
        ("format('shopify-{}', id)", {}, None),  # a missing id never becomes 'shopify-'
        ("join_nonempty(', ', [a, b, c])", {"a": "x", "b": "  ", "c": "z"}, "x, z"),
        ("join_nonempty(', ', [a, b])", {}, None),
        ("'central'", {}, "central"),
        ("`3`", {}, 3),
        ("default(branch, 'central')", {"branch": ""}, "central"),
        ("default(branch, 'central')", {"branch": "norte"}, "norte"),
        ("phone || 'sin teléfono'", {}, "sin teléfono"),
        ("coalesce(mobile, phone)", {"mobile": "", "phone": "+502"}, "+502"),
        ("to_int(p)", {"p": " 3 "}, 3),
        ("to_int(p)", {"p": 3.0}, 3),
        ("to_float(p)", {"p": "14.5900"}, 14.59),
        ("to_bool(f)", {"f": "Sí"}, True),
        ("to_bool(f)", {"f": 0}, False),
        ("to_datetime(t)", {"t": "2024-01-15T14:00:00"}, "2024-01-15T14:00:00"),
        ("to_datetime(t)", {"t": "2024-01-15T14:00:00+02:00"}, "2024-01-15T12:00:00Z"),
        ("to_datetime(t)", {"t": 1705327200}, "2024-01-15T14:00:00Z"),
        ("to_datetime(t)", {"t": 1705327200000}, "2024-01-15T14:00:00Z"),  # milliseconds
        ("to_datetime(t)", {"t": "15/01/2024 14:00"}, "2024-01-15T14:00:00"),  # day first
        ("to_datetime(t, '%m/%d/%Y')", {"t": "01/15/2024"}, "2024-01-15T00:00:00"),
        ("to_date(t)", {"t": "15-01-2024"}, "2024-01-15"),
        ('lookup(p, `{"alta": 1, "normal": 3}`)', {"p": "ALTA"}, 1),
        ('lookup(p, `{"alta": 1}`, `5`)', {"p": "rara"}, 5),
        ("upper(trim(b))", {"b": " central "}, "CENTRAL"),
        ("replace(phone, '-', '')", {"phone": "5555-1234"}, "55551234"),
        ("items[].{sku: sku, code: autentikapp_code}", {"items": [{"sku": "A", "autentikapp_code": "c1"}]}, [{"sku": "A", "code": "c1"}]),
        ("items[?qty > `1`].sku", {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}, ["B"]),
        ("items[0].sku", {"items": [{"sku": "A"}]}, "A"),
        ("length(items)", {"items": [1, 2]}, 2),
        # arithmetic, text extraction and dates in a time zone (more in tests/test_mapping_functions.py)
        ("divide(amount_total, `100`)", {"amount_total": 40300}, 403),
        ("sum(items[].multiply(quantity, price))", {"items": [{"quantity": 3, "price": "19.99"}]}, 59.97),
        ("round(divide(a, `3`), `2`)", {"a": 10}, 3.33),
        ("regex_extract(ref, 'INV-(\\d+)')", {"ref": "Pedido INV-000123"}, "000123"),
        ("to_datetime(t, '%d/%m/%Y %H:%M', 'America/Guatemala')", {"t": "15/01/2024 08:00"}, "2024-01-15T14:00:00Z"),
        ('lookup(s, `{"A": "approved"}`, \'other\')', {"s": "a"}, "approved"),
    ],
)
def test_expression_forms(expression, record, expected):
    value, error = apply(expression, record)
    assert error is None
    assert value == expected


def test_constants_in_the_mapping_itself():
    outcome = compile_mapping({"priority": 1, "notes": None, "branch": "'central'"}).apply({})
    assert outcome.values == {"priority": 1, "notes": None, "branch": "central"}


@pytest.mark.parametrize(
    ("expression", "record", "message"),
    [
        ("to_int(p)", {"p": "alta"}, "cannot convert 'alta' to an integer"),
        ("to_int(p)", {"p": 2.5}, "2.5 is not a whole number"),
        ("to_bool(f)", {"f": "quizá"}, "cannot convert 'quizá' to true/false"),
        ("to_datetime(t)", {"t": "mañana"}, "cannot read 'mañana' as a date/time"),
        ('lookup(p, `{"alta": 1}`)', {"p": "rara"}, "no entry for 'rara'"),
        ("join(', ', [a, b])", {"a": "x"}, "join_nonempty() skips missing parts"),
    ],
)
def test_runtime_errors_name_the_value(expression, record, message):
    value, error = apply(expression, record)
    assert value is None
    assert message in error


def test_one_bad_field_does_not_hide_the_others():
    outcome = compile_mapping({"priority": "to_int(p)", "client_name": "name"}).apply({"p": "x", "name": "Ana"})
    assert outcome.values == {"priority": None, "client_name": "Ana"}
    assert list(outcome.errors) == ["priority"]


def test_compile_errors_list_every_field_with_positions():
    with pytest.raises(MappingError) as info:
        compile_mapping(
            {
                "address": "join_nonempty(', ', [a, b]))",
                "notes": "concat('abc",
                "branch": "no_such_function(a)",
                "priority": "to_int(a, b)",
                "client_name": "",
                "latitude": {"nested": "object"},
            }
        )
    issues = {issue.field: issue for issue in info.value.issues}
    assert set(issues) == {"address", "notes", "branch", "priority", "client_name", "latitude"}
    assert issues["address"].position == 27 and "position 28" in issues["address"].message
    assert "unclosed ' quote" in issues["notes"].message
    assert "unknown function no_such_function()" in issues["branch"].message
    assert "to_int() takes 1 argument(s), got 2" in issues["priority"].message
    assert "empty expression" in issues["client_name"].message
    assert "JMESPath literals" in issues["latitude"].message


def test_fields_the_target_lacks_are_rejected_when_compiled_for_it():
    with pytest.raises(MappingError, match="colour: not a field of this target"):
        compile_mapping({"colour": "c"}, FIELDS["order"])


def test_literal_containers_are_not_shared_between_records():
    mapping = compile_mapping({"value": '`{"tags": []}`'})
    first = mapping.apply({}).values["value"]
    first["tags"].append("mutated")
    assert mapping.apply({}).values["value"] == {"tags": []}


def test_source_paths_for_autocompletion():
    paths = source_paths([load_example("autentikapp_sale.json")])
    assert "customer_data.national_id" in paths
    assert "transaction_data.line_items[].autentikapp_code" in paths
    assert source_paths([{"order-id": 1}]) == ['"order-id"']


# --- the compiler against jmespath's interpreter, on generated records --------------------------

EXPRESSIONS = [
    "a",
    "a.b",
    "a.b.c",
    "a[0]",
    "a[-1]",
    "a[1:3]",
    "a[::-1]",
    "a[*].b",
    "a[].b",
    "a[]",
    "*.b",
    "a.*",
    "a || b",
    "a && b",
    "!a",
    "a == b",
    "a != b",
    "a < b",
    "a >= b",
    "[a, b]",
    "{x: a, y: b.c}",
    "a[?b == `1`]",
    "a[?b > `0`].c",
    "a | [0]",
    "length(a || `[]`)",
    "sort_by(a || `[]`, &to_string(@))",
    "not_null(a, b, 'z')",
    "to_string(a)",
    "type(a)",
    "concat(a, b)",
    "join_nonempty('-', [a, b])",
    "default(a, 'd')",
    "coalesce(a, b)",
    "to_array(a)",
    "keys(@)",
    "a.b || a",
    "max_by(a || `[]`, &to_string(@))",
]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "y", "1"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(["a", "b", "c"]), values, max_size=3)


@settings(max_examples=300, deadline=None)
@given(record=records, expression=st.sampled_from(EXPRESSIONS))
def test_compiled_and_interpreted_agree(record, expression):
    mapping = {"value": expression}
    compiled = compile_mapping(mapping).apply(record)
    reference = InterpretedMapping(mapping).apply(record)
    assert compiled.values == reference.values
    assert bool(compiled.errors) == bool(reference.errors)


def test_apply_present_leaves_out_what_came_out_null():
    mapping = compile_mapping({"a": "x", "b": "y.z", "c": "to_int(p)", "d": "'k'"})
    outcome = mapping.apply_present({"x": 1, "y": {}, "p": "no"})
    assert outcome.values == {"a": 1, "d": "k"}
    assert list(outcome.errors) == ["c"]
    assert mapping.apply_present("not an object").values == {"d": "k"}
