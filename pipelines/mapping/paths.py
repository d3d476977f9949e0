"""Source paths found in sample payloads: what the mapping studio offers for autocompletion."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _segment(key: str) -> str:
    """A key as JMESPath needs it written: bare when it can be, double-quoted otherwise."""
    if _IDENTIFIER.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _walk(value: Any, prefix: str, found: dict[str, None], depth: int) -> None:
    if depth > 12:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{_segment(str(key))}" if prefix else _segment(str(key))
            found.setdefault(path, None)
            _walk(child, path, found, depth + 1)
    elif isinstance(value, list) and prefix:
        for item in value[:20]:
            if isinstance(item, (dict, list)):
                _walk(item, f"{prefix}[]", found, depth + 1)


def source_paths(samples: Iterable[Any]) -> list[str]:
    """Every path in the samples, in first-seen order; lists appear as projections (`items[].sku`)."""
    found: dict[str, None] = {}
    for sample in samples:
        for record in sample if isinstance(sample, list) else [sample]:
            _walk(record, "", found, 0)
    return list(found)
