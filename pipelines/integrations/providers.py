"""What each provider needs from the receiver beyond its signature check.

A provider (Shopify, GitHub, WooCommerce, Stripe, a Standard Webhooks sender such as Svix) treats any
answer but 2xx as a failed delivery: it retries, and Shopify and GitHub end up disabling the
subscription. So for their presets:
- a verified delivery is answered 2xx even when its records are invalid (they are kept, rejected
  with their reasons, and visible), never 422;
- pings and events the integration does not map are acknowledged (200) and recorded, not ingested;
  the event comes from the provider's event header or body field, and `webhook.events` chooses which
  events are ingested (default: the preset's order events below);
- GitHub's default form content type (`payload=<json>`) is read as its JSON;
- WooCommerce's unsigned ping when a webhook is saved (`webhook_id=N`) is answered 200: WooCommerce
  will not save the webhook otherwise. It carries no data and nothing is ingested from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProviderRules:
    event_header: str | None = None  # lower-case header naming the event
    event_field: str | None = None  # or the body's field naming it
    ingested_by_default: frozenset[str] | None = None  # None: every event that is not a ping
    pings: frozenset[str] = frozenset()  # never ingested, always acknowledged
    form_payload_field: str | None = None  # the form field holding the JSON, for form-encoded deliveries
    answers_2xx_for_invalid: bool = True


RULES: dict[str, ProviderRules] = {
    "github": ProviderRules(event_header="x-github-event", pings=frozenset({"ping"}), form_payload_field="payload"),
    "shopify": ProviderRules(
        event_header="x-shopify-topic", ingested_by_default=frozenset({"orders/create", "orders/updated", "orders/paid"})
    ),
    "woocommerce": ProviderRules(event_header="x-wc-webhook-topic", ingested_by_default=frozenset({"order.created", "order.updated"})),
    "stripe": ProviderRules(event_field="type", ingested_by_default=frozenset({"checkout.session.completed"})),
    "standard_webhooks": ProviderRules(event_field="type"),
    # Seed 004's and seed 000's own contracts: every event is a sale or an order, and an all-invalid
    # batch is 422 in sync mode as seed 000 says.
    "autentikapp": ProviderRules(event_field="event_type", answers_2xx_for_invalid=False),
    "hmac": ProviderRules(answers_2xx_for_invalid=False),
    "none": ProviderRules(answers_2xx_for_invalid=False),
}
_WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d+")


def rules(preset: str) -> ProviderRules:
    return RULES.get(preset, RULES["none"])


def event_name(preset: str, headers: Mapping[str, str], document: Any) -> str | None:
    """The provider's name for this delivery's event, when it has one."""
    found = rules(preset)
    if found.event_header:
        value = headers.get(found.event_header)
        return value.strip() if value else None
    if found.event_field and isinstance(document, dict):
        value = document.get(found.event_field)
        return value if isinstance(value, str) else None
    return None


def skip_reason(preset: str, event: str | None, configured: list[str] | None) -> str | None:
    """Why this event is acknowledged without being ingested, or None when it is ingested."""
    found = rules(preset)
    if event is not None and event in found.pings:
        return f"{event}: a provider ping, acknowledged and not ingested"
    wanted = set(configured) if configured is not None else found.ingested_by_default
    if wanted is None or event is None:
        return None
    if event not in wanted:
        return f"event {event!r} is not one this integration ingests ({', '.join(sorted(wanted))}); acknowledged, not ingested"
    return None


def default_events(preset: str) -> list[str] | None:
    """The events a preset ingests when `webhook.events` is not set (None: every event but pings)."""
    found = rules(preset).ingested_by_default
    return sorted(found) if found is not None else None


def is_woocommerce_ping(preset: str, headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's unsigned request when a webhook is saved: a form body `webhook_id=N`, no signature."""
    return preset == "woocommerce" and "x-wc-webhook-signature" not in headers and _WOOCOMMERCE_PING.fullmatch(body.strip()) is not None
