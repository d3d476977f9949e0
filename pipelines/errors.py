"""Readable errors shared by every entry point (HTTP, CLI, Streamlit): which field, and why."""

from __future__ import annotations

from pydantic import ValidationError


def field_path(loc: tuple) -> str:
    """`('webhook', 'signing_secrets', 0)` -> `webhook.signing_secrets[0]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(record)"


def validation_issues(exc: ValidationError) -> list[dict[str, str]]:
    """`[{"field": ..., "message": ...}]` without pydantic's URLs, types or echoed input (it may be secret)."""
    issues = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = error["msg"].removeprefix("Value error, ")
        issues.append({"field": field_path(loc), "message": message})
    return issues


def describe(issues: list[dict[str, str]]) -> str:
    return "; ".join(f"{i['field']}: {i['message']}" for i in issues)


class OrderNotFound(LookupError):
    """No order with that internal id (HTTP 404, CLI exit 1). Here, not in `pipelines.orders`, because
    the callbacks package raises it too and orders depend on callbacks, never the other way round."""


class StatusChangeRejected(ValueError):
    """An order status move that is not allowed, or lacks what it needs; the message is the reason (HTTP 409)."""
