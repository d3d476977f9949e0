"""Dot paths into a JSON body (`data.orders`, `meta.next_cursor`): where a page keeps its records, its
next cursor or next link, and where a record keeps its incremental-cursor field."""

from __future__ import annotations

from typing import Any, Final


class _Missing:
    """Nothing at that path: unlike None, which an API writes to say "no next page"."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def dig(body: Any, path: str | None) -> Any:
    """The value at a dot path (`data.orders`), the body itself for no path, or MISSING."""
    if not path:
        return body
    node = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node
