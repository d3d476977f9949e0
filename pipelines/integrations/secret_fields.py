"""Split an integration's secrets from the rest of its configuration, and put them back.

Any `SecretStr` anywhere in the model is a secret: per-type settings added later are covered without
touching this code. Secrets are addressed by dotted path (`auth_value`, `webhook.signing_secrets`).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from pipelines.secrets import mask


def split_secrets(dumped: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain config, {path: secret}) from a `model_dump()` (python mode, SecretStr kept as objects)."""
    plain: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for key, value in dumped.items():
        path = f"{prefix}{key}"
        if isinstance(value, SecretStr):
            found[path] = value.get_secret_value()
            plain[key] = None
        elif isinstance(value, list) and value and all(isinstance(v, SecretStr) for v in value):
            found[path] = [v.get_secret_value() for v in value]
            plain[key] = []
        elif isinstance(value, dict):
            inner, inner_found = split_secrets(value, f"{path}.")
            plain[key] = inner
            found.update(inner_found)
        else:
            plain[key] = value
    return plain, found


def merge_secrets(plain: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """Inverse of `split_secrets`: a dict ready for `Integration.model_validate`."""
    merged = _deep_copy(plain)
    for path, value in secrets.items():
        node = merged
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return merged


PASSWORD_PATHS = frozenset({"db.password"})


def masked_view(dumped_json: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """The configuration as people see it: every secret replaced by its mask (nothing at all of a
    password: a database password, or the `user:password` of Basic auth)."""

    def is_password(path: str) -> bool:
        return path in PASSWORD_PATHS or (path in ("auth_value", "webhook.previous_auth_value") and dumped_json.get("auth_type") == "basic")

    return merge_secrets(
        dumped_json,
        {
            path: [mask(v, password=is_password(path)) for v in value]
            if isinstance(value, list)
            else mask(value, password=is_password(path))
            for path, value in secrets.items()
        },
    )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
