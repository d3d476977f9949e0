"""Crossdock's mapping functions: every function's documented example, property tests against
reference implementations (Python's decimal arithmetic, `str` and `re`, dateutil's time zones, a plain
table search), the compiled mapping against jmespath's own interpreter on the new functions, and
compile errors for constants that can never work, with their positions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from pipelines.mapping import FUNCTIONS, InterpretedMapping, MappingError, compile_mapping
from pipelines.mapping.coerce import to_decimal


def run(expression, record):
    """(value, error) from the compiled mapping, after checking the interpreter gives the same."""
    mapping = {"value": expression}
    compiled = compile_mapping(mapping).apply(record)
    reference = InterpretedMapping(mapping).apply(record)
    assert (compiled.values, compiled.errors) == (reference.values, reference.errors)
    return compiled.values["value"], compiled.errors.get("value")


def value_of(expression, record):
    value, error = run(expression, record)
    assert error is None, error
    return value


# --- one example per function: the documentation's table (docs/reference/mapping-language.md) ------

DOCUMENTED = {
    "concat": ("concat('shopify-', id)", {"id": 5678}, "shopify-5678"),
    "join_nonempty": ("join_nonempty(', ', [address1, city])", {"address1": "5ta Avenida", "city": "Guatemala"}, "5ta Avenida, Guatemala"),
    "format": ("format('shopify-{}', id)", {"id": 5678}, "shopify-5678"),
    "default": ("default(branch, 'central')", {"branch": ""}, "central"),
    "coalesce": ("coalesce(mobile, phone)", {"phone": "+502 5555-1234"}, "+502 5555-1234"),
    "to_int": ("to_int(priority)", {"priority": " 3 "}, 3),
    "to_float": ("to_float(lat)", {"lat": "14.59"}, 14.59),
    "to_bool": ("to_bool(gift)", {"gift": "sí"}, True),
    "to_datetime": ("to_datetime(fecha, '%d/%m/%Y %H:%M', 'America/Guatemala')", {"fecha": "15/01/2024 08:00"}, "2024-01-15T14:00:00Z"),
    "to_date": ("to_date(fecha, '%d/%m/%Y')", {"fecha": "15/01/2024"}, "2024-01-15"),
    "lookup": ('lookup(estado, `{"A": "approved", "X": "cancelled"}`, \'other\')', {"estado": " a "}, "approved"),
    "upper": ("upper(currency)", {"currency": "gtq"}, "GTQ"),
    "lower": ("lower(email)", {"email": "Juan@Example.com"}, "juan@example.com"),
    "title": ("title(name)", {"name": "juan pérez"}, "Juan Pérez"),
    "trim": ("trim(name)", {"name": "  Juan  "}, "Juan"),
    "replace": ("replace(phone, '-', '')", {"phone": "5555-1234"}, "55551234"),
    "split": ("split(tags, ';')", {"tags": "regalo; urgente"}, ["regalo", "urgente"]),
    "regex_extract": (r"regex_extract(reference, 'INV-(\d+)')", {"reference": "Pedido INV-000123"}, "000123"),
    "multiply": ("multiply(quantity, price)", {"quantity": 3, "price": "19.99"}, 59.97),
    "divide": ("divide(amount_total, `100`)", {"amount_total": 40300}, 403),
    "subtract": ("subtract(subtotal, discount)", {"subtotal": 403, "discount": 40.3}, 362.7),
    "round": ("round(total, `2`)", {"total": 2.675}, 2.68),
    "sum": (
        "sum(line_items[].multiply(quantity, price))",
        {"line_items": [{"quantity": 1, "price": "350.00"}, {"quantity": 2, "price": "26.50"}]},
        403,
    ),
}


def test_every_function_has_a_documented_example():
    assert sorted(DOCUMENTED) == sorted(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_example(name):
    expression, record, expected = DOCUMENTED[name]
    assert value_of(expression, record) == expected
    assert type(value_of(expression, record)) is type(expected)


# --- numbers against Python's decimal arithmetic ------------------------------------------------------

REFERENCE = Context(prec=60)  # wider than the engine's 34 digits: agreement shows nothing was lost
money = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2, allow_nan=False, allow_infinity=False)
quantities = st.integers(min_value=0, max_value=10_000)


def as_json(number: Decimal, form: str):
    """A decimal as a client might send it: a JSON number (float or int) or numeric text."""
    if form == "text":
        return str(number)
    if form == "int" and number == number.to_integral_value():
        return int(number)
    return float(number)


def expected_number(exact: Decimal):
    """The engine's promise: a whole result is an int, anything else the float nearest the exact value."""
    return int(exact) if exact == exact.to_integral_value() else float(exact)


forms = st.sampled_from(["float", "int", "text"])


@settings(max_examples=400, deadline=None)
@given(a=money, b=money, form_a=forms, form_b=forms)
@example(a=Decimal("19.99"), b=Decimal("3"), form_a="float", form_b="int")  # 59.97, not 59.970000000000006
@example(a=Decimal("1.10"), b=Decimal("3"), form_a="float", form_b="int")  # 3.3, not 3.3000000000000003
def test_multiply_is_exact_decimal_multiplication(a, b, form_a, form_b):
    exact = REFERENCE.multiply(a, b)
    result = value_of("multiply(a, b)", {"a": as_json(a, form_a), "b": as_json(b, form_b)})
    assert result == expected_number(exact)
    if len(exact.normalize().as_tuple().digits) <= 15:  # what a float can show exactly: then it shows exactly
        assert Decimal(repr(result)) == exact


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=-(10**13), max_value=10**13), form=st.sampled_from(["int", "text"]))
@example(cents=40300, form="int")  # the issue's Stripe amount_total
def test_cents_divided_by_100_are_the_exact_amount(cents, form):
    result = value_of("divide(cents, `100`)", {"cents": cents if form == "int" else str(cents)})
    assert Decimal(repr(result)) == Decimal(cents) / 100


@settings(max_examples=300, deadline=None)
@given(a=money, b=money.filter(bool), form_a=forms, form_b=forms)
def test_divide_and_subtract_against_decimal(a, b, form_a, form_b):
    record = {"a": as_json(a, form_a), "b": as_json(b, form_b)}
    # A quotient may not end (1/3): it is taken to 34 significant digits, as the engine promises.
    assert value_of("divide(a, b)", record) == expected_number(Context(prec=34).divide(a, b))
    assert value_of("subtract(a, b)", record) == expected_number(REFERENCE.subtract(a, b))


@settings(max_examples=300, deadline=None)
@given(amounts=st.lists(money, max_size=30), form=forms)
@example(amounts=[Decimal("0.10"), Decimal("0.20")], form="float")  # 0.3, not 0.30000000000000004
def test_sum_is_the_exact_total(amounts, form):
    exact = sum(amounts, Decimal(0))
    result = value_of("sum(prices)", {"prices": [as_json(a, form) for a in amounts]})
    assert result == expected_number(exact)
    assert Decimal(repr(result)) == exact  # at most 11 significant digits here: always shown exactly


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(quantities, money.filter(lambda m: m >= 0)), max_size=20), form=forms)
def test_line_totals(lines, form):
    record = {"items": [{"quantity": q, "price": as_json(p, form)} for q, p in lines]}
    exact = sum((q * p for q, p in lines), Decimal(0))
    assert value_of("sum(items[].multiply(quantity, price))", record) == expected_number(exact)
    assert value_of("sum(map(&multiply(quantity, price), items))", record) == expected_number(exact)


@settings(max_examples=400, deadline=None)
@given(
    number=st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4, allow_nan=False, allow_infinity=False),
    places=st.integers(min_value=-3, max_value=4),
    form=forms,
)
@example(number=Decimal("2.6750"), places=2, form="float")  # Python's round(2.675, 2) gives 2.67
@example(number=Decimal("-0.5000"), places=0, form="float")
def test_round_is_half_away_from_zero(number, places, form):
    exact = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    result = value_of(f"round(n, `{places}`)", {"n": as_json(number, form)})
    assert result == expected_number(exact)
    if places <= 0:
        assert type(result) is int


def test_missing_numbers_stay_missing_and_bad_ones_say_why():
    assert value_of("multiply(q, p)", {"q": 2}) is None
    assert value_of("divide(a, `100`)", {"a": ""}) is None
    assert value_of("sum(items[].price)", {}) is None
    assert value_of("sum(items[].price)", {"items": []}) == 0
    assert value_of("round(x, `2`)", {}) is None
    assert run("divide(a, b)", {"a": 5, "b": "0"}) == (None, "divide: cannot divide 5 by zero")
    assert run("multiply(a, `2`)", {"a": "1.234,50"}) == (
        None,
        "multiply: cannot convert '1.234,50' to a number (for a decimal comma or thousands separators, use replace() first)",
    )
    assert run("multiply(a, `2`)", {"a": True}) == (None, "multiply: cannot convert True to a number")
    assert run("sum(a)", {"a": [1, None, 2]})[1].startswith("sum: the value at index 1 is null")
    assert run("sum(a)", {"a": [1, "x"]}) == (None, "sum: the value at index 1: cannot convert 'x' to a number")
    assert run("sum(a)", {"a": "12"}) == (None, "sum: expected an array of numbers such as items[].price, got '12'")
    assert run("multiply(a, `2`)", {"a": "1e999999"}) == (None, "multiply: '1e999999' is too large a number")
    assert run("round(a, b)", {"a": 1.5, "b": "two"})[1].startswith("round: the places must be a whole number")


def test_numbers_parse_the_same_as_the_reference_decimal():
    assert to_decimal(19.99) == Decimal("19.99")
    assert to_decimal(" 1_000.50 ") == Decimal("1000.50")
    assert to_decimal("") is None and to_decimal(None) is None


# --- text functions against str and re ------------------------------------------------------------

texts = st.text(alphabet=st.sampled_from("aAbBñÑ 1-_.;,xX\t"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(text=texts, old=st.sampled_from(["-", " ", "a", "xX"]), new=st.sampled_from(["", "_", "b"]))
def test_text_functions_against_str(text, old, new):
    record = {"t": text}
    assert value_of("upper(t)", record) == text.upper()
    assert value_of("lower(t)", record) == text.lower()
    assert value_of("trim(t)", record) == text.strip()
    assert value_of("title(t)", record) == text.title()
    assert value_of(f"replace(t, '{old}', '{new}')", record) == text.replace(old, new)
    assert value_of("split(t, ';')", record) == [part.strip() for part in text.split(";")]


PATTERNS = [r"(\d+)", r"\d+", r"([a-z]+)-(\d+)", r"^\s*(\S+)", r"(?i)(x+)", r"(?P<num>\d)(?P<rest>.*)"]


@settings(max_examples=400, deadline=None)
@given(text=texts, pattern=st.sampled_from(PATTERNS), group=st.sampled_from([None, 0, 1]))
def test_regex_extract_against_re_search(text, pattern, group):
    assume(group is None or group <= re.compile(pattern).groups)  # a group the pattern lacks: a compile error
    match = re.search(pattern, text)
    chosen = group if group is not None else (1 if re.compile(pattern).groups else 0)
    expected = None if match is None else match.group(chosen)
    call = f"regex_extract(t, '{pattern}')" if group is None else f"regex_extract(t, '{pattern}', `{group}`)"
    assert value_of(call, {"t": text}) == expected


def test_regex_extract_named_groups_numbers_and_no_match():
    assert value_of("regex_extract(t, '(?P<zip>\\d{5})', 'zip')", {"t": "Guatemala 01010"}) == "01010"
    assert value_of("regex_extract(t, '(\\d+)')", {"t": 5678}) == "5678"
    assert value_of("regex_extract(t, '(\\d+)')", {"t": "none"}) is None
    assert value_of("regex_extract(t, 'a|(b)')", {"t": "a"}) is None  # the group took no part
    assert value_of("regex_extract(t, 'it\\'s (\\w+)')", {"t": "it's here"}) == "here"


# --- dates and time zones against dateutil's time zones --------------------------------------------

ZONES = [
    "America/Guatemala",
    "America/Mexico_City",
    "America/New_York",
    "America/Santiago",
    "Europe/Madrid",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "UTC",
]
local_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31))


@settings(max_examples=500, deadline=None)
@given(moment=local_times, zone=st.sampled_from(ZONES))
def test_local_times_in_a_zone_become_utc(moment, zone):
    reference_zone = dateutil_tz.gettz(zone)
    moment = moment.replace(microsecond=0, fold=0)  # text carries no fold: an ambiguous time is its first occurrence
    assume(dateutil_tz.datetime_exists(moment, reference_zone))  # times clocks skip: see the next test
    expected = moment.replace(tzinfo=reference_zone).astimezone(UTC)
    text = moment.strftime("%d/%m/%Y %H:%M:%S")
    result = value_of(f"to_datetime(t, '%d/%m/%Y %H:%M:%S', '{zone}')", {"t": text})
    assert result == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Without a format the same local time, written in ISO, gives the same instant.
    assert value_of(f"to_datetime(t, '', '{zone}')", {"t": moment.isoformat()}) == result


def test_ambiguous_and_skipped_local_times():
    # 2024-11-03 01:30 happens twice in New York: the first one (EDT, -4) is taken.
    assert value_of("to_datetime(t, '', 'America/New_York')", {"t": "2024-11-03T01:30:00"}) == "2024-11-03T05:30:00Z"
    # 2024-03-10 02:30 never happens there: read with the offset from before the change (EST, -5).
    assert value_of("to_datetime(t, '', 'America/New_York')", {"t": "2024-03-10T02:30:00"}) == "2024-03-10T07:30:00Z"


def test_offsets_and_timestamps_are_absolute_whatever_the_zone():
    zone = "'America/Guatemala'"
    assert value_of(f"to_datetime(t, '', {zone})", {"t": "2024-01-15T14:00:00+02:00"}) == "2024-01-15T12:00:00Z"
    assert value_of(f"to_datetime(t, '', {zone})", {"t": "2024-01-15T14:00:00Z"}) == "2024-01-15T14:00:00Z"
    assert value_of(f"to_datetime(t, '%d/%m/%Y %H:%M %z', {zone})", {"t": "15/01/2024 14:00 -0500"}) == "2024-01-15T19:00:00Z"
    assert value_of(f"to_datetime(t, `null`, {zone})", {"t": 1705327200}) == "2024-01-15T14:00:00Z"
    assert value_of("to_datetime(t, '', '-06:00')", {"t": "2024-01-15 08:00"}) == "2024-01-15T14:00:00Z"
    assert value_of("to_datetime(t, '', 'UTC')", {"t": "2024-01-15 08:00"}) == "2024-01-15T08:00:00Z"
    assert value_of("to_datetime(t, '', z)", {"t": "2024-01-15 08:00", "z": "America/Guatemala"}) == "2024-01-15T14:00:00Z"
    assert run("to_datetime(t, '', z)", {"t": "2024-01-15", "z": "Mars/Base"})[1].startswith("to_datetime: unknown time zone 'Mars/Base'")
    # Without a zone a naive value stays naive (ingest reads it as UTC), as before.
    assert value_of("to_datetime(t)", {"t": "15/01/2024 14:00"}) == "2024-01-15T14:00:00"


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)),
    zone=st.sampled_from(ZONES),
)
def test_to_date_gives_the_calendar_date_in_the_zone(instant, zone):
    instant = instant.replace(microsecond=0)
    expected = instant.astimezone(dateutil_tz.gettz(zone)).date().isoformat()
    assert value_of(f"to_date(t, '', '{zone}')", {"t": int(instant.timestamp())}) == expected


# --- lookup tables against a plain search ----------------------------------------------------------

keys = st.text(alphabet=st.sampled_from("aAbB ñÑ1"), min_size=0, max_size=4)
tables = st.dictionaries(keys, st.one_of(st.integers(0, 9), st.sampled_from(["pending", "cancelled"])), max_size=6)


def reference_lookup(value, table, default):
    """Exact key first, then the first key equal once trimmed and case-folded, then the default."""
    if value is None:
        return default
    key = str(value)
    if key in table:
        return table[key]
    for candidate, result in table.items():
        if candidate.strip().casefold() == key.strip().casefold():
            return result
    return default


@settings(max_examples=400, deadline=None)
@given(table=tables, value=st.one_of(st.none(), keys, st.integers(0, 2)), default=st.sampled_from(["other", 0]))
def test_lookup_against_a_plain_search(table, value, default):
    import json

    literal = json.dumps(table).replace("`", "\\`")
    default_literal = json.dumps(default)
    result = value_of(f"lookup(v, `{literal}`, `{default_literal}`)", {"v": value})
    assert result == reference_lookup(value, table, default)
    value_alone, error = run(f"lookup(v, `{literal}`)", {"v": value})
    missing = object()
    expected = reference_lookup(value, table, missing)
    if value is None:  # no value, no default: no value
        assert (value_alone, error) == (None, None)
    elif expected is missing:
        assert value_alone is None and error.startswith(f"lookup: no entry for {str(value)!r}")
    else:
        assert (value_alone, error) == (expected, None)


def test_status_codes_with_a_default_and_results_not_shared():
    statuses = 'lookup(s, `{"A": "approved", "X": "cancelled", "P": {"state": "pending"}}`, \'other\')'
    assert [value_of(statuses, {"s": s}) for s in ["A", " x ", "Q", None]] == ["approved", "cancelled", "other", "other"]
    mapping = compile_mapping({"v": statuses})
    first = mapping.apply({"s": "p"}).values["v"]
    first["state"] = "changed"
    assert mapping.apply({"s": "p"}).values["v"] == {"state": "pending"}
    assert value_of('lookup(code, `{"1": "new", "2": "paid"}`)', {"code": 2}) == "paid"  # numeric codes match their text


# --- the compiler against jmespath's interpreter on the new functions ------------------------------

EXPRESSIONS = [
    "multiply(a, b)",
    "multiply(a, b, `2`)",
    "divide(a, b)",
    "subtract(a, b)",
    "round(a)",
    "round(a, `1`)",
    "sum(c)",
    "sum(c[].a)",
    "sum(c[].multiply(a, b))",
    "sum(map(&multiply(a, b), c))",
    "divide(sum(c), `100`)",
    "regex_extract(a, '(\\d+)')",
    "regex_extract(a, '[a-z]+', `0`)",
    "upper(a)",
    "lower(b)",
    "trim(a)",
    "replace(a, '1', 'one')",
    "split(a, '-')",
    'lookup(a, `{"x": 1, "X1": 2, "1": 3}`)',
    'lookup(a, `{"x": 1}`, `0`)',
    "to_datetime(a, '', 'America/Guatemala')",
    "to_datetime(a, '%Y-%m-%d', '-06:00')",
    "to_date(a, '', 'Asia/Kolkata')",
    "round(divide(a, b), `2`)",
    "c[].regex_extract(a, '(x)')",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(["", "x", "X1", "1", "2.5", "19.99", "abc-12", "2024-01-15", "2024-01-15T14:00:00", "1,5", "-3"]),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.lists(st.dictionaries(st.sampled_from(["a", "b"]), scalars, max_size=2), max_size=3)
)
records = st.fixed_dictionaries({}, optional={"a": scalars, "b": scalars, "c": values})


@settings(max_examples=600, deadline=None)
@given(record=records, expression=st.sampled_from(EXPRESSIONS))
def test_compiled_and_interpreted_agree_on_the_new_functions(record, expression):
    mapping = {"value": expression}
    compiled = compile_mapping(mapping).apply(record)
    reference = InterpretedMapping(mapping).apply(record)
    assert compiled.values == reference.values
    assert compiled.errors == reference.errors


# --- constants that can never work are compile errors with their position --------------------------


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        (
            "regex_extract(ref, 'INV-(\\d+')",
            "the pattern 'INV-(\\d+' is not a valid regular expression: missing ), unterminated subpattern",
            24,
        ),
        ("concat('x', regex_extract(ref, 'a[b'))", "unterminated character set", 33),
        ("regex_extract(ref, pattern)", "the pattern must be text in quotes", 19),
        ("regex_extract(ref, '(a)', `2`)", "group 2 does not exist: the pattern '(a)' has 1 group(s)", 26),
        ("regex_extract(ref, '(a)', 'zip')", "the pattern has no group named 'zip'", 26),
        ("to_datetime(t, '%d/%q/%Y')", "%q is not a date format code", 19),
        (
            "to_datetime(t, '%d/%m/%Y', 'America/Guatamala')",
            "unknown time zone 'America/Guatamala' (did you mean 'America/Guatemala'?)",
            27,
        ),
        ("to_date(t, '', 'america/guatemala')", "(did you mean 'America/Guatemala'?)", 15),
        ("to_datetime(t, '', '+25:00')", "'+25:00' is not a valid UTC offset", 19),
        ("round(total, 'two')", "round: the places must be a whole number from -12 to 12", 13),
        ("lookup(s, `[1, 2]`)", "lookup: the table must be an object literal", 10),
        ("split(tags, '')", "split: the separator must be non-empty text", 12),
    ],
)
def test_constant_mistakes_are_compile_errors_with_their_position(expression, message, position):
    with pytest.raises(MappingError) as caught:
        compile_mapping({"notes": expression})
    (issue,) = caught.value.issues
    assert message in issue.message
    assert issue.position == position and issue.message.endswith(f"(at position {position + 1})")
    assert issue.expression == expression
    with pytest.raises(MappingError):  # the reference interpreter accepts exactly the same mappings
        InterpretedMapping({"notes": expression})


def test_unknown_functions_list_the_new_ones():
    with pytest.raises(MappingError) as caught:
        compile_mapping({"notes": "regex(a, 'b')"})
    assert "regex_extract" in caught.value.issues[0].message and "multiply" in caught.value.issues[0].message


def test_arithmetic_result_is_json_native():
    """Mapped values stay JSON numbers (int or float), never Decimal, so JMESPath's own functions and
    comparisons work on them."""
    assert value_of("multiply(a, `2`) > `10`", {"a": "5.01"}) is True
    assert value_of("type(divide(a, `4`))", {"a": 1}) == "number"
    assert value_of("max([divide(a, `100`), `1`])", {"a": 40300}) == 403


# --- the fast date parser against datetime.strptime -------------------------------------------------

FORMATS = [
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d",
    "%d.%m.%y",
    "%H:%M",
    "%Y%m%d%H%M%S",
    "%d/%m/%Y %H:%M:%S.%f",
    "%m/%d/%Y",
    "%d-%m-%Y %Hh%M",
    "(%d) [%m] %Y|x",
    "%Y-%m-%dT%H:%M:%S",
    "%d %% %m %y",
    "%d/%m",
]


def _mutations(text: str):
    return st.sampled_from(
        [
            text,
            text.replace("0", ""),
            text.replace(" ", "   "),
            text.replace(" ", "\t"),
            text + "0",
            text[:-1],
            text.replace("/", "-"),
            " " + text,
            text.upper(),
            text.replace("1", "3", 1),
            text.replace("2", "9", 1),
        ]
    )


@settings(max_examples=1000, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31)), fmt=st.sampled_from(FORMATS), data=st.data())
def test_the_fast_date_parser_agrees_with_strptime(moment, fmt, data):
    from pipelines.mapping.coerce import _numeric_parser

    parse = _numeric_parser(fmt)
    assert parse is not None
    text = data.draw(_mutations(moment.strftime(fmt)))
    try:
        expected = datetime.strptime(text, fmt)
    except ValueError:
        with pytest.raises(ValueError):
            parse(text)
    else:
        assert parse(text) == expected


def test_formats_with_names_and_offsets_still_use_strptime():
    assert value_of("to_datetime(t, '%d %b %Y %I:%M %p')", {"t": "15 Jan 2024 02:00 PM"}) == "2024-01-15T14:00:00"
    assert value_of("to_datetime(t, '%d/%m/%Y %H:%M %z')", {"t": "15/01/2024 14:00 +0100"}) == "2024-01-15T13:00:00Z"
    assert run("to_datetime(t, '%d/%m/%Y')", {"t": "31/02/2024"}) == (
        None,
        "'31/02/2024' is not a real date/time (day is out of range for month)",
    )
    assert run("to_datetime(t, '%d/%m/%Y')", {"t": "2024-02-01"}) == (None, "'2024-02-01' does not match the date format '%d/%m/%Y'")
