"""Crossdock's functions for mapping expressions, added to JMESPath's own.

JMESPath covers paths, projections, literals and `||`; what integrations need on top (concatenation,
prefixes, joining the non-empty parts of an address, defaults, coercion, value lookups) lives here.
Each function is plain Python registered once: the compiler calls it directly and the reference
interpreter (`jmespath.search` with `OPTIONS`) reaches it through a `Functions` subclass, so both
always agree.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jmespath import Options
from jmespath import functions as jp_functions

from pipelines.mapping.coerce import (
    CoercionError,
    to_bool,
    to_date_text,
    to_datetime_text,
    to_float,
    to_int,
    to_text,
)


class MappingFunctionError(ValueError):
    """A function got a value it cannot work with; the message says which and why."""


@dataclass(frozen=True)
class MappingFunction:
    name: str
    implementation: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    usage: str
    summary: str


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
        raise MappingFunctionError(
            f"format: {template!r} has more placeholders than the {len(values)} value(s) given"
        ) from None
    except (KeyError, ValueError) as exc:
        raise MappingFunctionError(f"format: {exc} in {template!r} (use {{}} or {{0}}, {{1}}...)") from None


def _default(value: Any, fallback: Any) -> Any:
    return fallback if _is_empty(value) else value


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not _is_empty(v)), None)


def _lookup(value: Any, table: Any, *default: Any) -> Any:
    if not isinstance(table, dict):
        raise MappingFunctionError('lookup: the table must be an object literal, e.g. lookup(p, `{"alta": 1}`)')
    if value is None:
        return default[0] if default else None
    key = to_text(value)
    if key in table:
        return table[key]
    folded = key.strip().casefold()
    for candidate, result in table.items():
        if candidate.strip().casefold() == folded:
            return result
    if default:
        return default[0]
    known = ", ".join(repr(k) for k in list(table)[:8])
    raise MappingFunctionError(f"lookup: no entry for {key!r} (known: {known})")


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


def _with_format(convert: Callable[[Any, str | None], Any]) -> Callable[..., Any]:
    def apply(value: Any, fmt: Any = None) -> Any:
        if fmt is not None and not isinstance(fmt, str):
            raise MappingFunctionError("the date format must be text, e.g. '%d/%m/%Y'")
        return convert(value, fmt)

    apply.__name__ = convert.__name__
    return apply


FUNCTIONS: dict[str, MappingFunction] = {
    f.name: f
    for f in [
        MappingFunction("concat", _concat, 1, None, "concat(value, ...)",
                        "joins values as text, skipping nulls: concat('shopify-', id)"),
        MappingFunction("join_nonempty", _join_nonempty, 2, 2, "join_nonempty(separator, [value, ...])",
                        "joins the non-empty parts: join_nonempty(', ', [address1, city])"),
        MappingFunction("format", _format, 1, None, "format(template, value, ...)",
                        "fills {} placeholders; null when any value is missing: format('shopify-{}', id)"),
        MappingFunction("default", _default, 2, 2, "default(value, fallback)",
                        "fallback when value is null or empty: default(branch, 'central')"),
        MappingFunction("coalesce", _coalesce, 1, None, "coalesce(value, ...)",
                        "the first value that is not null or empty: coalesce(phone, mobile)"),
        MappingFunction("to_int", to_int, 1, 1, "to_int(value)", "whole number from a number or text: to_int('3')"),
        MappingFunction("to_float", to_float, 1, 1, "to_float(value)", "number from a number or text: to_float('14.59')"),
        MappingFunction("to_bool", to_bool, 1, 1, "to_bool(value)", "true/false from true/false, yes/no, sí/no, 1/0"),
        MappingFunction("to_datetime", _with_format(to_datetime_text), 1, 2, "to_datetime(value[, format])",
                        "ISO 8601 date-time from ISO, Unix seconds/ms or day-first dates: to_datetime(created_at)"),
        MappingFunction("to_date", _with_format(to_date_text), 1, 2, "to_date(value[, format])",
                        "ISO date (YYYY-MM-DD): to_date(fecha, '%d/%m/%Y')"),
        MappingFunction("lookup", _lookup, 2, 3, "lookup(value, table[, default])",
                        'translates values: lookup(prioridad, `{"alta": 1, "normal": 3}`, `3`)'),
        MappingFunction("upper", _text_function("upper", str.upper), 1, 1, "upper(value)", "UPPER CASE"),
        MappingFunction("lower", _text_function("lower", str.lower), 1, 1, "lower(value)", "lower case"),
        MappingFunction("title", _text_function("title", str.title), 1, 1, "title(value)", "Title Case"),
        MappingFunction("trim", _text_function("trim", str.strip), 1, 1, "trim(value)", "without surrounding spaces"),
        MappingFunction("replace", _replace, 3, 3, "replace(value, old, new)", "replaces every occurrence of old"),
        MappingFunction("split", _split, 2, 2, "split(value, separator)", "a list of trimmed parts"),
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
        known = ", ".join(sorted([*FUNCTIONS, *jp_functions.Functions.FUNCTION_TABLE]))
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
CrossdockFunctions = type(
    "CrossdockFunctions",
    (jp_functions.Functions,),
    {f"_func_{name}": _interpreter_method(function) for name, function in FUNCTIONS.items()},
)
OPTIONS = Options(custom_functions=CrossdockFunctions())
