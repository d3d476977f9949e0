"""JMESPath expressions compiled to Python closures.

jmespath's tree interpreter dispatches on node type for every node of every record (about 12.7k
records/s for a 9-field mapping here). A mapping runs the same expressions over millions of records,
so each expression is turned once into nested closures that do only the work left: plain dot paths
become a chain of `dict.get`, Crossdock's functions are called directly. Semantics are jmespath's
(the differential tests run both on the same inputs); only the speed differs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from jmespath import visitor as jp_visitor
from jmespath.visitor import TreeInterpreter, _equals, _is_actual_number, _is_comparable

from pipelines.mapping.functions import DYNAMIC, FUNCTIONS, OPTIONS

Getter = Callable[[Any], Any]

_ORDERING = TreeInterpreter.COMPARATOR_FUNC


def _is_false(value: Any) -> bool:
    """JMESPath falsiness: '', [], {}, null and false; 0 is true."""
    return value == "" or value == [] or value == {} or value is None or value is False


class _Expression(jp_visitor._Expression):
    """What jmespath's built-ins (sort_by, map, max_by...) expect from `&expr`. They type-check it by
    class name, hence the name; `visit` runs the compiled closure instead of the interpreter."""

    def __init__(self, node: dict, getter: Getter):
        super().__init__(node, interpreter=None)
        self._getter = getter

    def visit(self, _node: dict, value: Any) -> Any:
        return self._getter(value)


def compile_node(node: dict) -> Getter:
    """A closure computing `node` on a value, exactly as jmespath's TreeInterpreter would."""
    kind = node["type"]
    builder = _BUILDERS.get(kind)
    if builder is None:  # a node type a newer jmespath added: still correct, just not fast
        interpreter = TreeInterpreter(OPTIONS)
        return lambda value: interpreter.visit(node, value)
    return builder(node)


def _field_path(keys: list[str]) -> Getter:
    if len(keys) == 1:
        (key,) = keys

        def get_one(value: Any) -> Any:
            return value.get(key) if isinstance(value, dict) else None

        return get_one
    if len(keys) == 2:
        first, second = keys

        def get_two(value: Any) -> Any:
            if isinstance(value, dict):
                value = value.get(first)
                if isinstance(value, dict):
                    return value.get(second)
            return None

        return get_two

    def get_path(value: Any) -> Any:
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get_path


def _chain(getters: list[Getter]) -> Getter:
    if len(getters) == 1:
        return getters[0]

    def chained(value: Any) -> Any:
        for getter in getters:
            value = getter(value)
        return value

    return chained


def _subexpression(node: dict) -> Getter:
    children = node["children"]
    if all(child["type"] == "field" for child in children):
        return _field_path([child["value"] for child in children])
    return _chain([compile_node(child) for child in children])


def _field(node: dict) -> Getter:
    return _field_path([node["value"]])


def _identity(_node: dict) -> Getter:
    return lambda value: value


def _literal(node: dict) -> Getter:
    constant = node["value"]
    if isinstance(constant, (dict, list)):
        # Each record gets its own copy: a caller mutating one result must not change the next.
        return lambda _value: copy.deepcopy(constant)
    return lambda _value: constant


def _index(node: dict) -> Getter:
    position = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return index


def _slice(node: dict) -> Getter:
    bounds = slice(*node["children"])
    return lambda value: value[bounds] if isinstance(value, list) else None


def _key_val_pair(node: dict) -> Getter:
    return compile_node(node["children"][0])


def _multi_select_dict(node: dict) -> Getter:
    pairs = [(child["value"], compile_node(child)) for child in node["children"]]

    def select(value: Any) -> Any:
        if value is None:
            return None
        return {key: getter(value) for key, getter in pairs}

    return select


def _multi_select_list(node: dict) -> Getter:
    getters = [compile_node(child) for child in node["children"]]

    def select(value: Any) -> Any:
        if value is None:
            return None
        return [getter(value) for getter in getters]

    return select


def _or(node: dict) -> Getter:
    left, right = (compile_node(child) for child in node["children"])

    def either(value: Any) -> Any:
        matched = left(value)
        return right(value) if _is_false(matched) else matched

    return either


def _and(node: dict) -> Getter:
    left, right = (compile_node(child) for child in node["children"])

    def both(value: Any) -> Any:
        matched = left(value)
        return matched if _is_false(matched) else right(value)

    return both


def _not(node: dict) -> Getter:
    inner = compile_node(node["children"][0])

    def negate(value: Any) -> Any:
        result = inner(value)
        if _is_actual_number(result) and result == 0:
            return False
        return not result

    return negate


def _comparator(node: dict) -> Getter:
    left, right = (compile_node(child) for child in node["children"])
    operator = node["value"]
    if operator == "eq":
        return lambda value: _equals(left(value), right(value))
    if operator == "ne":
        return lambda value: not _equals(left(value), right(value))
    compare = _ORDERING[operator]

    def ordered(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return compare(a, b)

    return ordered


def _pipe(node: dict) -> Getter:
    return _chain([compile_node(child) for child in node["children"]])


def _projection(node: dict) -> Getter:
    base, each = (compile_node(child) for child in node["children"])
    if node["children"][1]["type"] == "identity":

        def project_identity(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            return [item for item in items if item is not None]

        return project_identity

    def project(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        collected = []
        for item in items:
            result = each(item)
            if result is not None:
                collected.append(result)
        return collected

    return project


def _value_projection(node: dict) -> Getter:
    base, each = (compile_node(child) for child in node["children"])

    def project(value: Any) -> Any:
        source = base(value)
        if not isinstance(source, dict):
            return None
        collected = []
        for item in source.values():
            result = each(item)
            if result is not None:
                collected.append(result)
        return collected

    return project


def _filter_projection(node: dict) -> Getter:
    base, each, condition = (compile_node(child) for child in node["children"])

    def project(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        collected = []
        for item in items:
            if not _is_false(condition(item)):
                result = each(item)
                if result is not None:
                    collected.append(result)
        return collected

    return project


def _flatten(node: dict) -> Getter:
    base = compile_node(node["children"][0])

    def flatten(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        merged: list[Any] = []
        for item in items:
            if isinstance(item, list):
                merged.extend(item)
            else:
                merged.append(item)
        return merged

    return flatten


def _expref(node: dict) -> Getter:
    inner_node = node["children"][0]
    expref = _Expression(inner_node, compile_node(inner_node))
    return lambda _value: expref


def _constant(node: dict) -> Any:
    """A literal argument's value (checked and used once, at compile time), else DYNAMIC."""
    return node["value"] if node["type"] == "literal" else DYNAMIC


def _function(node: dict) -> Getter:
    name = node["value"]
    children = node["children"]
    arguments = [compile_node(child) for child in children]
    custom = FUNCTIONS.get(name)
    if custom is None:
        # jmespath's own functions keep their own type checks and error messages.
        call_builtin = OPTIONS.custom_functions.call_function
        return lambda value: call_builtin(name, [argument(value) for argument in arguments])
    implementation = custom.implementation
    constants = [_constant(child) for child in children]
    if custom.specialize is not None:
        # Raises ArgumentError for a constant that can never work: the engine reports it with its position.
        implementation = custom.specialize(tuple(constants)) or implementation
    else:
        # Without a specializer a function may return its argument: object and list literals stay
        # fresh copies per record (see `_literal`). Scalars are passed as they are.
        constants = [DYNAMIC if isinstance(c, (dict, list)) else c for c in constants]
    if len(arguments) == 1:
        (only,) = arguments
        return lambda value: implementation(only(value))
    first = arguments[0]
    if all(c is not DYNAMIC for c in constants[1:]):
        # The common shape: a value, then constants (a separator, a pattern, a divisor, a table).
        if len(arguments) == 2:
            second = constants[1]
            return lambda value: implementation(first(value), second)
        rest = constants[1:]
        return lambda value: implementation(first(value), *rest)
    if len(arguments) == 2:
        second_getter = arguments[1]
        return lambda value: implementation(first(value), second_getter(value))
    getters = [argument if c is DYNAMIC else _fixed(c) for argument, c in zip(arguments, constants, strict=True)]
    return lambda value: implementation(*[getter(value) for getter in getters])


def _fixed(constant: Any) -> Getter:
    return lambda _value: constant


_BUILDERS: dict[str, Callable[[dict], Getter]] = {
    "field": _field,
    "subexpression": _subexpression,
    "index_expression": _pipe,
    "identity": _identity,
    "current": _identity,
    "literal": _literal,
    "index": _index,
    "slice": _slice,
    "key_val_pair": _key_val_pair,
    "multi_select_dict": _multi_select_dict,
    "multi_select_list": _multi_select_list,
    "or_expression": _or,
    "and_expression": _and,
    "not_expression": _not,
    "comparator": _comparator,
    "pipe": _pipe,
    "projection": _projection,
    "value_projection": _value_projection,
    "filter_projection": _filter_projection,
    "flatten": _flatten,
    "expref": _expref,
    "function_expression": _function,
}


def function_calls(node: dict) -> list[tuple[str, int]]:
    """Every (function name, argument count) in an expression, for checking before anything runs."""
    found = []
    if node.get("type") == "function_expression":
        found.append((node["value"], len(node["children"])))
    for child in node.get("children", []):
        if isinstance(child, dict):
            found.extend(function_calls(child))
    return found
