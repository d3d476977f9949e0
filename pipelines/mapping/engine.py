"""Field mappings: target field -> expression over the source record, compiled once, applied many times.

An expression is JMESPath plus Crossdock's functions (see `functions.py`). The common case, a dot
path like `customer.name`, is plain JMESPath. A number, boolean or null in the mapping is a constant;
text constants are JMESPath raw strings (`'central'`). A dotted path whose keys JMESPath would need
quoted (`order-id`, `shipping-address.lat`) is accepted as written.

Mistakes surface when the mapping is saved (parse errors with their position, unknown functions,
wrong argument counts, constant arguments that can never work such as an invalid regular expression
or an unknown time zone, fields the target does not have), not on the first record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath import exceptions as jp_errors
from jmespath.lexer import Lexer

from pipelines.mapping.codegen import generate
from pipelines.mapping.compiler import Getter, compile_node, function_calls
from pipelines.mapping.functions import DYNAMIC, FUNCTION_ERRORS, OPTIONS, ArgumentError, check_arity

# Keys as clients name them, including the dashes and leading digits JMESPath identifiers disallow.
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$")
_RUNTIME_ERRORS = (*FUNCTION_ERRORS, jp_errors.JMESPathError, TypeError)


@dataclass(frozen=True)
class MappingIssue:
    """Why one field's expression was rejected; `position` is the 0-based offset, when known."""

    field: str
    message: str
    position: int | None = None
    expression: str | None = None


class MappingError(ValueError):
    """A mapping that cannot be compiled; `issues` lists every field at fault, not just the first."""

    def __init__(self, issues: list[MappingIssue]):
        self.issues = issues
        super().__init__("; ".join(f"{issue.field}: {issue.message}" for issue in issues))


@dataclass(slots=True)
class MappedRecord:
    """One source record after mapping: every target field's value, and the fields that failed."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _quoted_path(expression: str) -> str:
    return ".".join('"' + part + '"' for part in expression.split("."))


def _parse(target_field: str, expression: Any) -> tuple[dict | None, MappingIssue | None]:
    """(JMESPath AST, None), or (None, why not)."""
    if isinstance(expression, bool) or expression is None or isinstance(expression, (int, float)):
        return {"type": "literal", "value": expression, "children": []}, None
    if not isinstance(expression, str):
        return None, MappingIssue(
            target_field,
            f"expected an expression (text) or a constant number/true/false/null, got {type(expression).__name__}; "
            "write objects and lists as JMESPath literals in backticks",
        )
    text = expression.strip()
    if not text:
        return None, MappingIssue(target_field, "empty expression: give a source path like customer.name, or remove the field")
    try:
        return jmespath.compile(text).parsed, None
    except jp_errors.ParseError as exc:
        if _PLAIN_PATH.match(text):
            return jmespath.compile(_quoted_path(text)).parsed, None
        position = exc.lex_position if isinstance(exc.lex_position, int) else None
        return None, MappingIssue(target_field, _parse_message(exc, position), position, text)


def _parse_message(exc: jp_errors.ParseError, position: int | None) -> str:
    where = f" at position {position + 1}" if position is not None else ""
    if isinstance(exc, jp_errors.IncompleteExpressionError) or exc.token_type == "eof":
        return f"the expression ends too early{where} (an unclosed bracket, quote or parenthesis?)"
    if isinstance(exc, jp_errors.LexerError):
        token = exc.token_value or ""
        if token[:1] in ("'", '"', "`"):
            return f"unclosed {token[0]} quote starting{where}"
        return f"cannot read {token!r}{where}"
    return f"unexpected {exc.token_value!r}{where}"


def _check_functions(target_field: str, tree: dict, expression: str) -> MappingIssue | None:
    for name, given in function_calls(tree):
        problem = check_arity(name, given)
        if problem:
            position = expression.find(name + "(")
            return MappingIssue(target_field, problem, position if position >= 0 else None, expression)
    return None


_OPENING = frozenset({"lparen", "lbracket", "lbrace", "filter"})
_CLOSING = frozenset({"rparen", "rbracket", "rbrace"})


def _argument_tokens(tokens: list[dict], start: int) -> list[dict]:
    """The first token of each argument of the call whose arguments begin at `tokens[start]`."""
    firsts: list[dict] = []
    depth = 0
    expecting = True
    for token in tokens[start:]:
        kind = token["type"]
        if depth == 0 and kind in ("rparen", "eof"):
            break
        if expecting:
            firsts.append(token)
            expecting = False
        if kind in _OPENING:
            depth += 1
        elif kind in _CLOSING:
            depth -= 1
        elif kind == "comma" and depth == 0:
            expecting = True
    return firsts


def _literal_offset(text: str, start: int, offset: int | None) -> int:
    """Where character `offset` of a raw string literal's value ('...', in which \\' is a quote) sits
    in the expression, counted from the opening quote; 0 (the literal itself) when unknown."""
    if offset is None or text[start : start + 1] != "'":
        return 0
    position = start + 1
    for _ in range(offset):
        position += 2 if text[position : position + 2] == "\\'" else 1
    return position - start


def _argument_position(text: str, error: ArgumentError) -> int | None:
    """The 0-based offset in `text` of the mistake `error` reports (or of the argument it is about)."""
    try:
        tokens = list(Lexer().tokenize(text))
    except jp_errors.LexerError:
        return None
    for index, token in enumerate(tokens[:-1]):
        if token["type"] != "unquoted_identifier" or token["value"] != error.function or tokens[index + 1]["type"] != "lparen":
            continue
        firsts = _argument_tokens(tokens, index + 2)
        if error.argument >= len(firsts):
            continue
        first = firsts[error.argument]
        if error.constant is not DYNAMIC and (first["type"] != "literal" or first["value"] != error.constant):
            continue  # another call of the same function
        if error.constant is DYNAMIC and first["type"] == "literal":
            continue
        return first["start"] + _literal_offset(text, first["start"], error.offset)
    return None


def _compile_field(target_field: str, tree: dict, expression: Any) -> tuple[Getter | None, MappingIssue | None]:
    try:
        return compile_node(tree), None
    except ArgumentError as exc:
        text = expression.strip() if isinstance(expression, str) else None
        position = _argument_position(text, exc) if text else None
        where = f" (at position {position + 1})" if position is not None else ""
        return None, MappingIssue(target_field, f"{exc}{where}", position, text)


class CompiledMapping:
    """A field mapping ready to run. Build with `compile_mapping`; apply to one record or a batch.

    `apply(record)` gives every target field (null where the source had nothing); `apply_present`
    leaves null fields out, which is what ingest stores."""

    def __init__(self, field_mapping: Mapping[str, Any], fields: list[tuple[str, dict, Getter]]):
        self.field_mapping = dict(field_mapping)
        self.fields = tuple(name for name, _, _ in fields)
        self._getters = [(name, getter) for name, _, getter in fields]
        self.apply = generate(fields, MappedRecord, _RUNTIME_ERRORS, _runtime_message, self._apply_each)
        self.apply_present = generate(fields, MappedRecord, _RUNTIME_ERRORS, _runtime_message, self._apply_each_present, omit_none=True)

    def _apply_each(self, record: Any) -> MappedRecord:
        """Field by field through the closures: the general path the generated function falls back on."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, getter in self._getters:
            try:
                values[name] = getter(record)
            except _RUNTIME_ERRORS as exc:
                values[name] = None
                errors[name] = _runtime_message(exc)
        return MappedRecord(values, errors)

    def _apply_each_present(self, record: Any) -> MappedRecord:
        outcome = self._apply_each(record)
        return MappedRecord({k: v for k, v in outcome.values.items() if v is not None}, outcome.errors)

    def apply_many(self, records: Iterable[Any]) -> list[MappedRecord]:
        apply = self.apply
        return [apply(record) for record in records]


def _runtime_message(exc: Exception) -> str:
    if isinstance(exc, TypeError):
        return f"values cannot be compared or combined: {exc}"
    if isinstance(exc, jp_errors.JMESPathTypeError) and exc.function_name == "join":
        return f"{exc} (join() needs every part to be text; join_nonempty() skips missing parts)"
    return str(exc)


def compile_mapping(field_mapping: Mapping[str, Any], target_fields: Iterable[str] | None = None) -> CompiledMapping:
    """Compile every field once; raise `MappingError` listing every field at fault.

    `target_fields`, when given, is what the target accepts: a mapping to anything else is an error
    here rather than a rejected record later.
    """
    if not isinstance(field_mapping, Mapping):
        raise MappingError([MappingIssue("field_mapping", "expected an object of target field -> expression")])
    allowed = None if target_fields is None else tuple(target_fields)
    issues: list[MappingIssue] = []
    fields: list[tuple[str, dict, Getter]] = []
    for target_field, expression in field_mapping.items():
        if allowed is not None and target_field not in allowed:
            issues.append(MappingIssue(target_field, f"not a field of this target (fields: {', '.join(allowed)})"))
            continue
        tree, issue = _parse(target_field, expression)
        if issue is None and tree is not None and isinstance(expression, str):
            issue = _check_functions(target_field, tree, expression.strip())
        if issue is not None or tree is None:
            issues.append(issue or MappingIssue(target_field, "the expression is empty"))
            continue
        getter, issue = _compile_field(target_field, tree, expression)
        if issue is not None or getter is None:
            issues.append(issue or MappingIssue(target_field, "the expression does not compile"))
            continue
        fields.append((target_field, tree, getter))
    if issues:
        raise MappingError(issues)
    return CompiledMapping(field_mapping, fields)


class InterpretedMapping:
    """The same mapping run by jmespath's own interpreter: the reference the compiler is tested
    against, and the baseline `make bench` measures it beside."""

    def __init__(self, field_mapping: Mapping[str, Any]):
        compile_mapping(field_mapping)  # same acceptance rules
        self._expressions = []
        for name, expression in field_mapping.items():
            if isinstance(expression, str):
                text = expression.strip()
                try:
                    parsed = jmespath.compile(text)
                except jp_errors.ParseError:
                    parsed = jmespath.compile(_quoted_path(text))
                self._expressions.append((name, parsed, None))
            else:
                self._expressions.append((name, None, expression))

    def apply(self, record: Any) -> MappedRecord:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, parsed, constant in self._expressions:
            try:
                values[name] = constant if parsed is None else parsed.search(record, options=OPTIONS)
            except _RUNTIME_ERRORS as exc:
                values[name] = None
                errors[name] = _runtime_message(exc)
        return MappedRecord(values, errors)
