"""A webhook body as records: one JSON object, or an array of them (the seed's two forms). One parser
for the receiver (which answers 400 with the reason) and the inbox processor (which dead-letters a
stored body it cannot read with the same reason), so both doors always agree on what a body means."""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 64  # nesting of objects and arrays; real orders and sales use a handful of levels


class UnreadableBody(ValueError):
    """The body is not one record or an array of records; the message says where or why."""


def _depth_over(document: Any, limit: int) -> bool:
    """True when `document` nests objects/arrays deeper than `limit` (checked without recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def read_body(body: bytes) -> tuple[Any, list[Any]]:
    """(the parsed document, its records). Raises `UnreadableBody`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnreadableBody(f"malformed JSON at line {exc.lineno}, column {exc.colno} (byte {exc.pos}): {exc.msg}") from None
    if _depth_over(document, MAX_DEPTH):
        raise UnreadableBody(f"the JSON nests deeper than {MAX_DEPTH} levels; send records with flatter fields")
    if isinstance(document, dict):
        return document, [document]
    if isinstance(document, list):
        if not document:
            raise UnreadableBody("the array is empty: send one record or an array of records")
        return document, document
    kind = "null" if document is None else type(document).__name__
    raise UnreadableBody(f"the body must be a JSON object (one record) or an array of records, got {kind}")
