"""The URLs a client is given: production, staging (the same path under `/staging`), status link.

Staging is a prefix rather than a suffix so that a client switches environments by changing only the
base URL it was configured with (`https://hub/staging` instead of `https://hub`), the way most
providers' sandboxes work.
"""

from __future__ import annotations

from urllib.parse import quote

from pipelines import settings

STAGING_PREFIX = "/staging"
STATUS_PREFIX = "/status"


def webhook_path(name: str, verification: str = "none") -> str:
    """/webhook/{name}, or seed 004's /v1/webhooks/inbound/{name} for an Autentikapp account."""
    path = "/v1/webhooks/inbound" if verification == "autentikapp" else "/webhook"
    return f"{path}/{quote(name, safe='')}"


def base_url(base: str | None = None) -> str:
    return (base or settings.public_receiver_url()).rstrip("/")


def production_url(name: str, verification: str = "none", base: str | None = None) -> str:
    return base_url(base) + webhook_path(name, verification)


def staging_url(name: str, verification: str = "none", base: str | None = None) -> str:
    return base_url(base) + STAGING_PREFIX + webhook_path(name, verification)


def status_url(name: str, token: str, base: str | None = None) -> str:
    return f"{base_url(base)}{STATUS_PREFIX}/{quote(name, safe='')}/{quote(token, safe='')}"
