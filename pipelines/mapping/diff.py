"""What changed between two versions of a field mapping, field by field (the studio's version diff)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Change = Literal["added", "removed", "changed", "same"]


@dataclass(frozen=True)
class FieldDiff:
    field: str
    change: Change
    before: Any
    after: Any


def diff_mappings(before: Mapping[str, Any], after: Mapping[str, Any], *, include_same: bool = False) -> list[FieldDiff]:
    """Every field of either mapping, in `after`'s order then the removed ones, with what happened to it."""
    out: list[FieldDiff] = []
    for name, expression in after.items():
        if name not in before:
            out.append(FieldDiff(name, "added", None, expression))
        elif before[name] != expression:
            out.append(FieldDiff(name, "changed", before[name], expression))
        elif include_same:
            out.append(FieldDiff(name, "same", expression, expression))
    out.extend(FieldDiff(name, "removed", expression, None) for name, expression in before.items() if name not in after)
    return out
