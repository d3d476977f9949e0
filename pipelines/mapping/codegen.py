"""One generated Python function per mapping.

Most fields of most mappings are plain paths (`customer.name`) or constants. Calling a closure per
field per record costs more than the lookups themselves, so the mapping becomes a single function
whose plain paths are inline `dict.get` chains; any other expression calls its compiled closure
inside its own try, so one field's error never hides another's value. Keys and constants reach the
generated source only through `repr` of strings or the function's namespace, never as code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.mapping.compiler import Getter


def plain_path(tree: dict) -> list[str] | None:
    """The keys of a dot path made only of fields (`a`, `a.b.c`), else None."""
    if tree["type"] == "field":
        return [tree["value"]]
    if tree["type"] == "subexpression" and all(child["type"] == "field" for child in tree["children"]):
        return [child["value"] for child in tree["children"]]
    return None


def _path_expression(keys: list[str]) -> str:
    expression = f"record.get({keys[0]!r})"
    for key in keys[1:]:
        expression = f"(_v.get({key!r}) if isinstance(_v := {expression}, dict) else None)"
    return expression


def generate(
    fields: list[tuple[str, dict, Getter]],
    make_result: Callable[[dict[str, Any], dict[str, str]], Any],
    errors: tuple[type[Exception], ...],
    describe: Callable[[Exception], str],
    fallback: Callable[[Any], Any],
    omit_none: bool = False,
) -> Callable[[Any], Any]:
    """A function record -> make_result(values, errors) equivalent to running each getter.

    `fallback` handles records that are not objects (every path is null there; functions may still
    produce values), so the generated fast path can assume a dict. With `omit_none`, fields whose value
    is null are left out of `values` (what ingest keeps), saving a second pass over every record.
    """
    namespace: dict[str, Any] = {
        "_make": make_result,
        "_errors": errors,
        "_describe": describe,
        "_fallback": fallback,
    }
    lines = ["def apply(record):", "    if not isinstance(record, dict):", "        return _fallback(record)", "    failed = {}"]
    names = []
    for position, (target_field, tree, getter) in enumerate(fields):
        name = f"v{position}"
        names.append((target_field, name))
        keys = plain_path(tree)
        if keys is not None:
            lines.append(f"    {name} = {_path_expression(keys)}")
        elif tree["type"] == "literal" and not isinstance(tree["value"], (dict, list)):
            namespace[f"c{position}"] = tree["value"]
            lines.append(f"    {name} = c{position}")
        else:
            namespace[f"g{position}"] = getter
            lines += [
                "    try:",
                f"        {name} = g{position}(record)",
                "    except _errors as exc:",
                f"        {name} = None",
                f"        failed[{target_field!r}] = _describe(exc)",
            ]
    if omit_none:
        lines.append("    values = {}")
        lines += [f"    if {name} is not None:\n        values[{field!r}] = {name}" for field, name in names]
        lines.append("    return _make(values, failed)")
    else:
        values = ", ".join(f"{field!r}: {name}" for field, name in names)
        lines.append(f"    return _make({{{values}}}, failed)")
    exec(compile("\n".join(lines), "<crossdock mapping>", "exec"), namespace)  # noqa: S102 - built from reprs above
    return namespace["apply"]
