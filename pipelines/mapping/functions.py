"""Crossdock's functions for mapping expressions, added to JMESPath's own.

JMESPath covers paths, projections, literals and `||`; what integrations need on top (concatenation,
prefixes, joining the non-empty parts of an address, defaults, coercion, value lookups, arithmetic on
amounts, text extraction, dates in a client's time zone) lives here. Each function is plain Python
registered once: the compiler calls it directly and the reference interpreter (`jmespath.search` with
`OPTIONS`) reaches it through a `Functions` subclass, so both always agree.

Arguments written as constants (a regular expression, a date format, a time zone, a lookup table) are
checked when the mapping is compiled, through the function's `specialize`: a mistake in them is a
compile error with its position, and the work they need (compiling the pattern, finding the zone) is
done once, not per record.

Arithmetic is decimal: operands are read as exact decimals (a float through its shortest text, so
19.99 is 19.99) and the result comes back as a JSON number, a whole number as an int and anything
else as the float nearest to the exact result. `multiply(19.99, 3)` is 59.97, not 59.97000000000001.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import tzinfo
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

from jmespath import Options
from jmespath import functions as jp_functions

from pipelines.mapping.coerce import (
    LARGEST_EXPONENT,
    CoercionError,
    from_decimal,
    time_zone,
    to_bool,
    to_date_text,
    to_datetime_text,
    to_decimal,
    to_float,
    to_int,
    to_text,
)


class MappingFunctionError(ValueError):
    """A function got a value it cannot work with; the message says which and why."""


class _Dynamic:
    def __repr__(self) -> str:
        return "DYNAMIC"


# What `specialize` gets for an argument that is not a constant in the expression (a path, a call...).
DYNAMIC: Any = _Dynamic()


class ArgumentError(MappingFunctionError):
    """A constant argument that can never work (a bad pattern, an unknown time zone): a compile error.

    `argument` is the argument's 0-based index, `constant` its value as written (DYNAMIC when the
    argument should have been a constant and is not), `offset` where in that text the mistake is."""

    def __init__(self, message: str, function: str, argument: int, constant: Any = DYNAMIC, offset: int | None = None):
        super().__init__(message)
        self.function = function
        self.argument = argument
        self.constant = constant
        self.offset = offset


# `specialize(constants)` gets one entry per argument (its value, or DYNAMIC) and returns an
# implementation with the same signature that may ignore the constant arguments, or None for the
# general one; it raises ArgumentError for a constant that can never work.
Specializer = Callable[[tuple[Any, ...]], Callable[..., Any] | None]


@dataclass(frozen=True)
class MappingFunction:
    name: str
    implementation: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    usage: str
    summary: str
    specialize: Specializer | None = None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _concat(*values: Any) -> str | None:
    parts = [to_text(v) for v in values if v is not None]
    return "".join(parts) if parts else None


def _join_nonempty(separator: Any, values: Any) -> str | None:
    if not isinstance(separator, str):
        raise MappingFunctionError("join_nonempty: the separator must be text, e.g. join_nonempty(', ', [a, b])")
    if values is None:
        return None
    if not isinstance(values, list):
        values = [values]
    parts = []
    for value in values:  # the hot path of most address mappings: kept to plain loops
        if value is None:
            continue
        text = (value if type(value) is str else to_text(value)).strip()
        if text:
            parts.append(text)
    return separator.join(parts) if parts else None


def _format(template: Any, *values: Any) -> str | None:
    if not isinstance(template, str):
        raise MappingFunctionError("format: the first argument must be a text template like 'shopify-{}'")
    # A missing part must not produce a plausible-looking id such as 'shopify-'.
    if any(v is None for v in values):
        return None
    try:
        return template.format(*(to_text(v) for v in values))
    except IndexError:
        raise MappingFunctionError(f"format: {template!r} has more placeholders than the {len(values)} value(s) given") from None
    except (KeyError, ValueError) as exc:
        raise MappingFunctionError(f"format: {exc} in {template!r} (use {{}} or {{0}}, {{1}}...)") from None


def _default(value: Any, fallback: Any) -> Any:
    return fallback if _is_empty(value) else value


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not _is_empty(v)), None)


# ---------------------------------------------------------------- lookup tables
_TABLE_EXAMPLE = 'lookup(estado, `{"A": "approved", "X": "cancelled"}`, \'other\')'


def _fold(key: str) -> str:
    return key.strip().casefold()


def _found(result: Any) -> Any:
    # A table shared by every record must not be changed through one record's result.
    return deepcopy(result) if isinstance(result, (dict, list)) else result


def _no_entry(key: str, table: dict) -> MappingFunctionError:
    known = ", ".join(repr(k) for k in list(table)[:8]) + (", ..." if len(table) > 8 else "")
    return MappingFunctionError(f"lookup: no entry for {key!r} (known: {known}; give a default as the third argument)")


def _lookup(value: Any, table: Any, *default: Any) -> Any:
    if not isinstance(table, dict):
        raise MappingFunctionError(f"lookup: the table must be an object literal, e.g. {_TABLE_EXAMPLE}")
    if value is None:
        return default[0] if default else None
    key = to_text(value)
    if key in table:
        return table[key]
    folded = _fold(key)
    for candidate, result in table.items():
        if _fold(candidate) == folded:
            return result
    if default:
        return default[0]
    raise _no_entry(key, table)


def _specialize_lookup(constants: tuple[Any, ...]) -> Callable[..., Any] | None:
    """A constant table is indexed once: exact keys first, then trimmed and case-folded (the first
    key of the table wins among those that fold alike), as `_lookup` searches it."""
    table = constants[1]
    if table is DYNAMIC:
        return None
    if not isinstance(table, dict):
        raise ArgumentError(f"lookup: the table must be an object literal, e.g. {_TABLE_EXAMPLE}", "lookup", 1, table)
    folded: dict[str, Any] = {}
    for candidate, result in table.items():
        folded.setdefault(_fold(candidate), result)

    def lookup(value: Any, _table: Any, *default: Any) -> Any:
        if value is None:
            return default[0] if default else None
        key = to_text(value)
        if key in table:
            return _found(table[key])
        key_folded = _fold(key)
        if key_folded in folded:
            return _found(folded[key_folded])
        if default:
            return default[0]
        raise _no_entry(key, table)

    return lookup


# ---------------------------------------------------------------- text
def _text_function(name: str, transform: Callable[[str], str]) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        text = to_text(value)
        return None if text is None else transform(text)

    apply.__name__ = f"_{name}"
    return apply


def _replace(value: Any, old: Any, new: Any) -> str | None:
    if not isinstance(old, str) or not isinstance(new, str):
        raise MappingFunctionError("replace: the text to find and its replacement must be text")
    text = to_text(value)
    return None if text is None else text.replace(old, new)


def _split(value: Any, separator: Any) -> list[str] | None:
    if not isinstance(separator, str) or not separator:
        raise MappingFunctionError("split: the separator must be non-empty text")
    text = to_text(value)
    return None if text is None else [part.strip() for part in text.split(separator)]


def _specialize_split(constants: tuple[Any, ...]) -> None:
    separator = constants[1]
    if separator is not DYNAMIC and (not isinstance(separator, str) or not separator):
        raise ArgumentError("split: the separator must be non-empty text, e.g. split(tags, ';')", "split", 1, separator)


def _regex_parts(pattern: Any, group: Any) -> tuple[re.Pattern[str], int | str]:
    """The compiled pattern and the group to return: the one asked for, else the first group when the
    pattern has one, else the whole match."""
    if not isinstance(pattern, str):
        raise ArgumentError(
            r"regex_extract: the pattern must be text in quotes, e.g. regex_extract(ref, '(\d+)')", "regex_extract", 1, pattern
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ArgumentError(
            f"regex_extract: the pattern '{pattern}' is not a valid regular expression: {exc.msg}", "regex_extract", 1, pattern, exc.pos
        ) from None
    if group is None:
        return compiled, 1 if compiled.groups else 0
    if isinstance(group, bool) or not isinstance(group, (int, str)):
        raise ArgumentError("regex_extract: the group must be a number (`1`) or a group's name ('zip')", "regex_extract", 2, group)
    if isinstance(group, int) and not 0 <= group <= compiled.groups:
        raise ArgumentError(
            f"regex_extract: group {group} does not exist: the pattern '{pattern}' has {compiled.groups} group(s) (0 is the whole match)",
            "regex_extract",
            2,
            group,
        )
    if isinstance(group, str) and group not in compiled.groupindex:
        names = ", ".join(compiled.groupindex) or "none"
        raise ArgumentError(f"regex_extract: the pattern has no group named {group!r} (named groups: {names})", "regex_extract", 2, group)
    return compiled, group


def _extract(compiled: re.Pattern[str], group: int | str, value: Any) -> str | None:
    text = to_text(value)
    if text is None:
        return None
    match = compiled.search(text)
    return None if match is None else match.group(group)


def _regex_extract(value: Any, pattern: Any, group: Any = None) -> str | None:
    compiled, chosen = _regex_parts(pattern, group)
    return _extract(compiled, chosen, value)


def _specialize_regex(constants: tuple[Any, ...]) -> Callable[..., Any]:
    """The pattern (and group) must be constants: compiled here, once, never from client data."""
    pattern = constants[1]
    group = constants[2] if len(constants) > 2 else None
    if pattern is DYNAMIC:
        raise ArgumentError(r"regex_extract: the pattern must be text in quotes, e.g. regex_extract(ref, '(\d+)')", "regex_extract", 1)
    if group is DYNAMIC:
        raise ArgumentError("regex_extract: the group must be a constant: a number (`1`) or a name ('zip')", "regex_extract", 2)
    compiled, chosen = _regex_parts(pattern, group)

    def regex_extract(value: Any, _pattern: Any = None, _group: Any = None) -> str | None:
        return _extract(compiled, chosen, value)

    return regex_extract


# ---------------------------------------------------------------- dates
_DIRECTIVES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")


def _check_format(function: str, fmt: Any) -> str | None:
    """The strptime format as given ('' and null: no format, guess), or ArgumentError naming the bad part."""
    if fmt is None or fmt == "":
        return None
    if not isinstance(fmt, str):
        raise ArgumentError(f"{function}: the date format must be text, e.g. '%d/%m/%Y %H:%M'", function, 1, fmt)
    position = fmt.find("%")
    while position >= 0:
        directive = fmt[position + 1 : position + 2]
        if not directive or directive not in _DIRECTIVES:
            shown = f"%{directive}" if directive else "a lone % at the end"
            raise ArgumentError(
                f"{function}: {shown} is not a date format code (codes: %Y %m %d %H %M %S %f %z %b %p...; %% for a percent sign)",
                function,
                1,
                fmt,
                position,
            )
        position = fmt.find("%", position + 2)
    return fmt


def _check_zone(function: str, zone: Any) -> tzinfo | None:
    if zone is None or zone == "":
        return None
    if not isinstance(zone, str):
        raise ArgumentError(f"{function}: the time zone must be text, e.g. 'America/Guatemala'", function, 2, zone)
    try:
        return time_zone(zone)
    except CoercionError as exc:
        raise ArgumentError(f"{function}: {exc}", function, 2, zone) from None


def _date_function(name: str, convert: Callable[[Any, str | None, tzinfo | None], str | None]) -> tuple[Callable[..., Any], Specializer]:
    def apply(value: Any, fmt: Any = None, zone: Any = None) -> str | None:
        return convert(value, _check_format(name, fmt), _check_zone(name, zone))

    def specialize(constants: tuple[Any, ...]) -> Callable[..., Any] | None:
        fmt = constants[1] if len(constants) > 1 else None
        zone = constants[2] if len(constants) > 2 else None
        checked_format = fmt if fmt is DYNAMIC else _check_format(name, fmt)
        checked_zone = zone if zone is DYNAMIC else _check_zone(name, zone)
        if fmt is DYNAMIC or zone is DYNAMIC:
            return None

        def convert_constant(value: Any, _fmt: Any = None, _zone: Any = None) -> str | None:
            return convert(value, checked_format, checked_zone)

        return convert_constant

    apply.__name__ = f"_{name}"
    return apply, specialize


_to_datetime, _specialize_to_datetime = _date_function("to_datetime", to_datetime_text)
_to_date, _specialize_to_date = _date_function("to_date", to_date_text)


# ---------------------------------------------------------------- numbers
# Exact for every sum and product of the amounts clients send (34 significant digits).
_ARITHMETIC = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_INT_LIMIT = 10**LARGEST_EXPONENT


def _operand(function: str, value: Any, what: str = "") -> Decimal | None:
    try:
        return to_decimal(value)
    except CoercionError as exc:
        raise MappingFunctionError(f"{function}: {what}{exc}") from None


def _exactly(function: str, operation: Callable[[Decimal, Decimal], Decimal], first: Decimal, second: Decimal) -> Decimal:
    try:
        return operation(first, second)
    except ArithmeticError:  # Overflow, InvalidOperation: out of any amount's range
        raise MappingFunctionError(f"{function}: the result of {first} and {second} is out of range") from None


def _result(function: str, number: Decimal) -> int | float:
    try:
        return from_decimal(number)
    except CoercionError as exc:
        raise MappingFunctionError(f"{function}: {exc}") from None


def _small_int(value: Any) -> bool:
    """A plain int (not bool) below to_decimal's limit: whole-number arithmetic needs no Decimal."""
    return type(value) is int and -_INT_LIMIT < value < _INT_LIMIT


def _multiply(*values: Any) -> int | float | None:
    if all(_small_int(value) for value in values):  # quantity x cents: exact as it is
        whole = 1
        for value in values:
            whole *= value
        return whole
    product = Decimal(1)
    for value in values:
        number = _operand("multiply", value)
        if number is None:
            return None
        product = _exactly("multiply", _ARITHMETIC.multiply, product, number)
    return _result("multiply", product)


def _divide(value: Any, divisor: Any) -> int | float | None:
    dividend, by = _operand("divide", value), _operand("divide", divisor)
    if dividend is None or by is None:
        return None
    if not by:
        raise MappingFunctionError(f"divide: cannot divide {to_text(value)} by zero")
    return _result("divide", _exactly("divide", _ARITHMETIC.divide, dividend, by))


def _subtract(value: Any, amount: Any) -> int | float | None:
    if _small_int(value) and _small_int(amount):
        return value - amount
    first, second = _operand("subtract", value), _operand("subtract", amount)
    if first is None or second is None:
        return None
    return _result("subtract", _exactly("subtract", _ARITHMETIC.subtract, first, second))


def _sum(values: Any) -> int | float | None:
    if values is None:
        return None
    if not isinstance(values, list):
        raise MappingFunctionError(f"sum: expected an array of numbers such as items[].price, got {_described(values)}")
    whole = 0  # the total while every value is a whole number
    total: Decimal | None = None  # the exact total once one is not
    for index, value in enumerate(values):
        if _small_int(value):
            if total is None:
                whole += value
            else:
                total = _exactly("sum", _ARITHMETIC.add, total, Decimal(value))
            continue
        if value is None:
            raise MappingFunctionError(
                f"sum: the value at index {index} is null (items[].price skips missing prices; default(price, `0`) counts them as 0)"
            )
        number = _operand("sum", value, f"the value at index {index}: ")
        if number is None:  # empty text
            raise MappingFunctionError(f"sum: the value at index {index} is empty text, not a number")
        total = _exactly("sum", _ARITHMETIC.add, Decimal(whole) if total is None else total, number)
    return whole if total is None else _result("sum", total)


def _described(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _places(places: Any) -> int:
    if isinstance(places, float) and places.is_integer():
        places = int(places)
    if isinstance(places, bool) or not isinstance(places, int) or not -12 <= places <= 12:
        raise ArgumentError("round: the places must be a whole number from -12 to 12, e.g. round(total, `2`)", "round", 1, places)
    return places


def _round(value: Any, places: Any = 0) -> int | float | None:
    """Half away from zero (2.675 -> 2.68, -0.5 -> -1), as invoices round; Python's round() would give
    2.67 (binary 2.675 is a hair under) and rounds halves to even."""
    quantum = Decimal(1).scaleb(-_places(places))
    number = _operand("round", value)
    if number is None:
        return None
    try:
        return _result("round", number.quantize(quantum, rounding=ROUND_HALF_UP, context=_ARITHMETIC))
    except InvalidOperation:
        raise MappingFunctionError(f"round: {to_text(value)} has too many digits to round to {places} places") from None


def _specialize_round(constants: tuple[Any, ...]) -> None:
    if len(constants) > 1 and constants[1] is not DYNAMIC:
        _places(constants[1])


# `sum` takes the place of JMESPath's own: the same answer for an array of numbers, except exact
# (0.1 + 0.2 is 0.3), and it also reads numeric text ("19.99"), which is how many shops send prices.
FUNCTIONS: dict[str, MappingFunction] = {
    f.name: f
    for f in [
        MappingFunction("concat", _concat, 1, None, "concat(value, ...)", "joins values as text, skipping nulls: concat('shopify-', id)"),
        MappingFunction(
            "join_nonempty",
            _join_nonempty,
            2,
            2,
            "join_nonempty(separator, [value, ...])",
            "joins the non-empty parts: join_nonempty(', ', [address1, city])",
        ),
        MappingFunction(
            "format",
            _format,
            1,
            None,
            "format(template, value, ...)",
            "fills {} placeholders; null when any value is missing: format('shopify-{}', id)",
        ),
        MappingFunction(
            "default", _default, 2, 2, "default(value, fallback)", "fallback when value is null or empty: default(branch, 'central')"
        ),
        MappingFunction(
            "coalesce", _coalesce, 1, None, "coalesce(value, ...)", "the first value that is not null or empty: coalesce(phone, mobile)"
        ),
        MappingFunction("to_int", to_int, 1, 1, "to_int(value)", "whole number from a number or text: to_int('3')"),
        MappingFunction("to_float", to_float, 1, 1, "to_float(value)", "number from a number or text: to_float('14.59')"),
        MappingFunction("to_bool", to_bool, 1, 1, "to_bool(value)", "true/false from true/false, yes/no, sí/no, 1/0"),
        MappingFunction(
            "to_datetime",
            _to_datetime,
            1,
            3,
            "to_datetime(value[, format[, time_zone]])",
            "ISO 8601 date-time from ISO, Unix seconds/ms or day-first dates; with a time zone, local times "
            "there become UTC: to_datetime(fecha, '%d/%m/%Y %H:%M', 'America/Guatemala')",
            _specialize_to_datetime,
        ),
        MappingFunction(
            "to_date",
            _to_date,
            1,
            3,
            "to_date(value[, format[, time_zone]])",
            "ISO date (YYYY-MM-DD), in the time zone when given: to_date(fecha, '%d/%m/%Y')",
            _specialize_to_date,
        ),
        MappingFunction(
            "lookup",
            _lookup,
            2,
            3,
            "lookup(value, table[, default])",
            f"translates values, ignoring case and surrounding spaces; without a default an unknown value is an error: {_TABLE_EXAMPLE}",
            _specialize_lookup,
        ),
        MappingFunction("upper", _text_function("upper", str.upper), 1, 1, "upper(value)", "UPPER CASE: upper(country)"),
        MappingFunction("lower", _text_function("lower", str.lower), 1, 1, "lower(value)", "lower case: lower(email)"),
        MappingFunction("title", _text_function("title", str.title), 1, 1, "title(value)", "Title Case: title(name)"),
        MappingFunction("trim", _text_function("trim", str.strip), 1, 1, "trim(value)", "without surrounding spaces: trim(name)"),
        MappingFunction("replace", _replace, 3, 3, "replace(value, old, new)", "replaces every occurrence of old: replace(phone, '-', '')"),
        MappingFunction("split", _split, 2, 2, "split(value, separator)", "a list of trimmed parts: split(tags, ';')", _specialize_split),
        MappingFunction(
            "regex_extract",
            _regex_extract,
            2,
            3,
            "regex_extract(value, pattern[, group])",
            "the first match of a regular expression (its first group when it has one), null when none: "
            r"regex_extract(reference, 'INV-(\d+)')",
            _specialize_regex,
        ),
        MappingFunction(
            "multiply",
            _multiply,
            2,
            None,
            "multiply(value, value, ...)",
            "exact decimal product of numbers or numeric text: multiply(quantity, price)",
        ),
        MappingFunction(
            "divide",
            _divide,
            2,
            2,
            "divide(value, divisor)",
            "exact decimal quotient; dividing by zero is an error: divide(amount_total, `100`)",
        ),
        MappingFunction("subtract", _subtract, 2, 2, "subtract(value, amount)", "exact decimal difference: subtract(subtotal, discount)"),
        MappingFunction(
            "round",
            _round,
            1,
            2,
            "round(value[, places])",
            "rounds half away from zero (2.675 to 2.68): round(divide(amount, `3`), `2`)",
            _specialize_round,
        ),
        MappingFunction(
            "sum",
            _sum,
            1,
            1,
            "sum(array)",
            "exact decimal total of numbers or numeric text; a null in the array is an error: sum(line_items[].multiply(quantity, price))",
        ),
    ]
}

FUNCTION_ERRORS = (MappingFunctionError, CoercionError)


def _arity_message(function: MappingFunction, given: int) -> str | None:
    if given < function.min_args or (function.max_args is not None and given > function.max_args):
        return f"{function.name}() takes {_arity_text(function)}, got {given}: {function.usage}"
    return None


def _arity_text(function: MappingFunction) -> str:
    if function.max_args is None:
        return f"at least {function.min_args} argument(s)"
    if function.min_args == function.max_args:
        return f"{function.min_args} argument(s)"
    return f"{function.min_args} to {function.max_args} arguments"


def check_arity(name: str, given: int) -> str | None:
    """None when a call to `name` with `given` arguments is well-formed, else what is wrong."""
    function = FUNCTIONS.get(name)
    if function is not None:
        return _arity_message(function, given)
    builtin = jp_functions.Functions.FUNCTION_TABLE.get(name)
    if builtin is None:
        known = ", ".join(sorted({*FUNCTIONS, *jp_functions.Functions.FUNCTION_TABLE}))
        return f"unknown function {name}() (available: {known})"
    signature = builtin["signature"]
    variadic = bool(signature) and signature[-1].get("variadic")
    if (variadic and given < len(signature)) or (not variadic and given != len(signature)):
        wanted = f"at least {len(signature)}" if variadic else str(len(signature))
        return f"{name}() takes {wanted} argument(s), got {given}"
    return None


def _interpreter_method(function: MappingFunction) -> Callable[..., Any]:
    def method(self, *args):
        problem = _arity_message(function, len(args))
        if problem:
            raise MappingFunctionError(problem)
        return function.implementation(*args)

    # Arity is checked above with a clearer message than jmespath's; every function takes one or more.
    method.signature = ({"types": [], "variadic": True},)  # type: ignore[attr-defined]  # jmespath reads it
    return method


# The same functions for jmespath's own interpreter (reference semantics, and the benchmark baseline).
# It runs each function's general implementation, so the differential tests also check every
# `specialize` against it.
CrossdockFunctions = type(
    "CrossdockFunctions",
    (jp_functions.Functions,),
    {f"_func_{name}": _interpreter_method(function) for name, function in FUNCTIONS.items()},
)
OPTIONS = Options(custom_functions=CrossdockFunctions())
