"""The validation context of a configuration read back from the store, `parse_integration(data, stored=True)`.

What was checked when the configuration was saved is not judged again on the way back: the outbound
policy, the drops root, a file pattern, a database URL's environment references or an API key header
may have changed since, and must not make the configuration unreadable (the admin could not even
correct it). Each is checked again where it is used (connecting, pulling, sending), and refused there
with the reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo

STORED: dict[str, Any] = {"stored": True}


def is_stored(info: ValidationInfo) -> bool:
    """Whether this validation reads a stored configuration back (see the module's docstring)."""
    return bool(isinstance(info.context, dict) and info.context.get("stored"))
