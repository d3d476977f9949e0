"""Webhook intake: seed 000's `POST /webhook/{integration}` and seed 004's `POST /v1/webhooks/inbound/{account_id}`.

Each request goes through the same gate, in an order that tells an unauthenticated caller nothing it
did not already know: unknown integration 404 → shed load 429 → size 413 → credentials and signature
401 → inactive 403 → content type 415 → malformed JSON 400 → delivery-id replay 409. Then the request
is made durable in the inbox (group commit) and only then answered: 200/422 with counts (`sync`) or
202 (`async`, and always for Autentikapp). Refused requests of a known integration are kept as
`rejected` inbox rows for diagnosis (bounded; see `pipelines.inbox.intake`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from connectors.receiver.group_commit import Overloaded, StoreUnavailable
from connectors.receiver.integration_cache import Known, PushTarget
from connectors.receiver.schemas import (
    AUTENTIKAPP_EXAMPLE,
    ONE_ORDER_EXAMPLE,
    AsyncAck,
    IgnoredAck,
    SyncAck,
    error_responses,
)
from connectors.receiver.state import receiver_state
from connectors.receiver.verify import Unauthorized, delivery_id
from pipelines.inbox.body import UnreadableBody, read_body
from pipelines.inbox.intake import IncomingRequest, kept_headers
from pipelines.integrations.providers import event_name, is_woocommerce_ping, rules, skip_reason
from pipelines.integrations.webhook_settings import BODY_SIGNATURE_PRESETS
from pipelines.onboarding.staging import production_refusal

router = APIRouter(tags=["webhooks"])

MAX_DELIVERY_ID = 255
RETRY_AFTER_SECONDS = "1"


@dataclass(frozen=True)
class Route:
    """What distinguishes the two webhook contracts."""

    noun: str  # how the URL's name is spoken of in answers
    forced_async: bool  # seed 004 always answers 202 at once
    required_preset: str | None  # seed 004 needs its own signature scheme


SEED_WEBHOOK = Route(noun="integration", forced_async=False, required_preset=None)
AUTENTIKAPP = Route(noun="Autentikapp account", forced_async=True, required_preset="autentikapp")


class Refusal(Exception):
    def __init__(self, status_code: int, detail: str, *, keep: bool = True, verified: bool = False, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code, self.detail, self.keep, self.verified = status_code, detail, keep, verified
        self.headers = headers or {}


def _json(status_code: int, content: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json", headers=headers)


def _error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "malformed JSON (the answer says where), an empty array, or not an object/array",
        401: "missing or wrong credential or signature, or a timestamp outside the tolerance",
        403: "the integration is inactive",
        404: "no such integration",
        409: "this delivery id was already received with a different body",
        413: "body larger than the integration's webhook.max_body_bytes",
        415: "Content-Type is not application/json",
        429: "shedding load: retry after the Retry-After seconds",
        503: "the store could not commit: nothing was acknowledged, retry",
    }
    return error_responses({code: meaning[code] for code in codes})


IGNORED = "a provider ping, or an event outside `webhook.events`: recorded, not ingested"


def _request_body(model: str, examples: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model, "examples": examples}}}}


ORDER_BODY = {
    "oneOf": [
        {"$ref": "#/components/schemas/OrderRecord"},
        {"type": "array", "items": {"$ref": "#/components/schemas/OrderRecord"}, "minItems": 1},
    ]
}
SEED_CURL_BODY = [
    {"external_id": "PED-001", "client_name": "María García", "address": "Zona 15, Guatemala", "latitude": 14.5800, "longitude": -90.4900}
]


@router.post(
    "/webhook/{integration}",
    summary="Push orders (seed 000): one record or an array",
    description=(
        "Authenticate as the integration's `auth_type` says: `X-API-Key`, `Authorization: Bearer`, Basic, "
        "`X-Webhook-Secret`, or `X-Webhook-Signature` = hex HMAC-SHA256 of the raw body; plus the provider "
        "signature preset if one is configured (Standard Webhooks, Stripe, Shopify, GitHub, WooCommerce). "
        "A repeated delivery id (`webhook-id`, `X-GitHub-Delivery`, `Idempotency-Key`...) gets the original "
        "answer with `duplicate: true`. `sync` integrations answer 200 with counts (422 when no record was "
        "valid); `async` ones answer 202 once the request is durable."
    ),
    response_model=SyncAck | IgnoredAck,
    responses={
        200: {"description": "sync integration: counts and per-record outcomes; or " + IGNORED},
        202: {"model": AsyncAck, "description": "async integration: stored, processed by Dagster"},
        422: {"model": SyncAck, "description": "sync integration: no record was valid (per-record reasons)"},
        **_error_responses(400, 401, 403, 404, 409, 413, 415, 429, 503),
    },
    openapi_extra=_request_body(
        ORDER_BODY,
        {
            "seed curl (array)": {"value": SEED_CURL_BODY},
            "one record": {"value": ONE_ORDER_EXAMPLE},
        },
    ),
)
async def push_orders(integration: str, request: Request) -> Response:
    return await receive(request, integration, SEED_WEBHOOK)


@router.post(
    "/v1/webhooks/inbound/{account_id}",
    summary="Autentikapp sale event (seed 004)",
    description=(
        "`X-Autentikapp-Signature` = hex HMAC-SHA256 of the exact body, keyed with the account's `whsec_...` "
        "secret. Answers 202 as soon as the event is durable; the customer upsert and identifier linking run "
        "asynchronously (Dagster)."
    ),
    status_code=202,
    response_model=AsyncAck,
    responses={200: {"model": IgnoredAck, "description": IGNORED}, **_error_responses(400, 401, 403, 404, 409, 413, 415, 429, 503)},
    openapi_extra=_request_body(
        {"$ref": "#/components/schemas/AutentikappEvent"},
        {
            "seed 004": {"value": AUTENTIKAPP_EXAMPLE},
        },
    ),
)
async def autentikapp_event(account_id: str, request: Request) -> Response:
    return await receive(request, account_id, AUTENTIKAPP)


async def receive(request: Request, name: str, route: Route) -> Response:
    state = receiver_state(request)
    known = await state.integrations.get(name)
    if not _serves(known, route):
        return _json(404, {"detail": f"no {route.noun} named {name!r} accepts webhooks here"})
    if state.committer.saturated:
        return _json(429, {"detail": "the receiver is at capacity; retry shortly"}, {"Retry-After": RETRY_AFTER_SECONDS})
    body = b""
    headers = _headers(request)
    try:
        body = await _read_body(request, headers, known.config.webhook.max_body_bytes)
        if is_woocommerce_ping(known.guard.preset, headers, body):
            state.committer.submit_rejected(_woocommerce_ping_entry(known, request, body))
            return _json(200, {"accepted": True, "ingested": False, "reason": WOOCOMMERCE_PING})
        entry = _admit(known, route, request, headers, body, state.clock())
        if known.config.onboarding.stage == "staging":
            raise Refusal(403, production_refusal(name), verified=True)
    except Refusal as refusal:
        if refusal.keep:
            state.committer.submit_rejected(_rejected_entry(known, request, body, refusal))
        return _json(refusal.status_code, {"detail": refusal.detail}, refusal.headers)
    try:
        outcome = await state.committer.submit(entry)
    except Overloaded:
        return _json(429, {"detail": "the receiver is at capacity; retry shortly"}, {"Retry-After": RETRY_AFTER_SECONDS})
    except StoreUnavailable:
        return _json(503, {"detail": "the request could not be stored and was not acknowledged; retry"}, {"Retry-After": "5"})
    return _json(outcome.status_code, outcome.payload())


def _serves(known: Known | None, route: Route) -> TypeGuard[PushTarget]:
    if not isinstance(known, PushTarget):
        return False
    return route.required_preset is None or known.config.webhook.verification == route.required_preset


# An oversized body is still read (and thrown away) up to this much before the 413 goes out: a client
# that is still sending when the server answers and closes sees a connection reset instead of the 413
# (Python's http.client, and with it requests and urllib), and retries. Beyond this, the connection is
# closed at once: reading more would let anyone make the receiver read unbounded data.
DRAIN_LIMIT_BYTES = 64 * 1_048_576


async def _read_body(request: Request, headers: dict[str, str], limit: int) -> bytes:
    """The raw body, refusing to keep more than `limit` bytes whether or not Content-Length is sent."""
    declared = headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Refusal(400, "Content-Length is not a number") from None
        if size > limit:
            if size <= DRAIN_LIMIT_BYTES:
                await _drain(request)
            raise Refusal(413, f"body of {size} bytes is over this integration's limit of {limit} bytes")
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_LIMIT_BYTES:
            break
        if size <= limit:
            chunks.append(chunk)  # past the limit, the rest is only read so the client reads the answer
    if size > limit:
        raise Refusal(413, f"body is over this integration's limit of {limit} bytes")
    return b"".join(chunks)


async def _drain(request: Request) -> None:
    """Read and discard the body (up to DRAIN_LIMIT_BYTES), so the client reads the answer."""
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > DRAIN_LIMIT_BYTES:
                return
    except Exception:  # noqa: BLE001 - a client that hangs up while we drain gets no answer anyway
        return


def _admit(known: PushTarget, route: Route, request: Request, headers: dict[str, str], body: bytes, now: float) -> IncomingRequest:
    """Every check that can refuse the request, in order; returns what will be stored. `headers` is
    `_headers(request)`, decoded once per request by the caller."""
    config = known.config
    try:
        known.guard.check(headers, body, now)
    except Unauthorized as exc:
        raise Refusal(401, str(exc), headers={"WWW-Authenticate": _challenge(known)}) from None
    if not config.is_active:
        raise Refusal(403, f"integration {config.name!r} is inactive; ask the operator to enable it", verified=True)
    preset = known.guard.preset
    kept = _kept(request, known, headers)
    body = _json_body(preset, headers, body, kept)
    try:
        document, records = read_body(body)
    except UnreadableBody as exc:
        raise Refusal(400, str(exc), verified=True) from None
    if len(records) > config.webhook.max_records:
        raise Refusal(
            413,
            f"{len(records):,} records in one request; this integration takes at most "
            f"{config.webhook.max_records:,} (webhook.max_records): split the batch",
            verified=True,
        )
    delivery = delivery_id(preset, headers, document)
    if delivery is None and _signed_without_timestamp(known):
        # A body signature without a timestamp proves who sent it, not when: a captured request can be
        # re-sent forever. An identical signed body is therefore one delivery, answered as a duplicate.
        delivery = "sha256:" + hashlib.sha256(body).hexdigest()
    if delivery is not None and len(delivery) > MAX_DELIVERY_ID:
        raise Refusal(400, f"delivery id is longer than {MAX_DELIVERY_ID} characters", verified=True)
    skipped = skip_reason(preset, event_name(preset, headers, document), config.webhook.events)
    if skipped is not None:
        return IncomingRequest(integration=known.integration, body=body, headers=kept, mode="ignored", delivery_id=delivery, error=skipped)
    mode = "async" if route.forced_async else config.webhook.ack_mode
    return IncomingRequest(
        integration=known.integration,
        body=body,
        headers=kept,
        mode=mode,
        delivery_id=delivery,
        records=records if mode == "sync" else None,
    )


def _signed_without_timestamp(known: PushTarget) -> bool:
    guard = known.guard
    return guard.auth_type == "hmac" or guard.preset in BODY_SIGNATURE_PRESETS


def _json_body(preset: str, headers: dict[str, str], body: bytes, kept: dict[str, str]) -> bytes:
    """The JSON document of the body: as sent, or the JSON inside a form field for providers that post
    forms (GitHub's default content type sends `payload=<json>`). What is stored is the JSON; a note
    in the kept headers says it came from a form."""
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return body
    form_field = rules(preset).form_payload_field
    if form_field and media_type == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get(form_field)
        if not values:
            raise Refusal(400, f"the form body has no {form_field!r} field with the JSON payload", verified=True)
        kept["x-crossdock-decoded"] = f"form field {form_field}"
        return values[0].encode()
    shown = media_type or "missing"
    accepted = "application/json" + (" or application/x-www-form-urlencoded" if form_field else "")
    raise Refusal(415, f"Content-Type must be {accepted} (got {shown})", verified=True)


def _headers(request: Request) -> dict[str, str]:
    """The request headers as a plain dict, decoded once: ASGI names are already lower-case, and the
    checks below look up several of them (Starlette's Headers scans the list on every lookup). A
    repeated header keeps its first value, as Starlette's lookup does."""
    headers: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers


def _kept(request: Request, known: PushTarget, headers: dict[str, str] | None = None) -> dict[str, str]:
    client = request.client.host if request.client else ""
    pairs = (headers if headers is not None else _headers(request)).items()
    return kept_headers(pairs, remote_addr=client, verification=known.guard.describe())


WOOCOMMERCE_PING = "WooCommerce's unsigned ping when a webhook is saved: answered 200 so WooCommerce saves it; it carries nothing to ingest"


def _woocommerce_ping_entry(known: PushTarget, request: Request, body: bytes) -> IncomingRequest:
    """Kept with the bounded diagnostics (it is unsigned), answered 200 all the same."""
    return IncomingRequest(
        integration=known.integration,
        body=body,
        headers=_kept(request, known),
        mode="rejected",
        verified=False,
        error=f"200: {WOOCOMMERCE_PING}",
    )


def _rejected_entry(known: PushTarget, request: Request, body: bytes, refusal: Refusal) -> IncomingRequest:
    return IncomingRequest(
        integration=known.integration,
        body=body,
        headers=_kept(request, known),
        mode="rejected",
        verified=refusal.verified,
        error=f"{refusal.status_code}: {refusal.detail}",
    )


def _challenge(known: PushTarget) -> str:
    auth_type = known.guard.auth_type
    return {"bearer": "Bearer", "basic": 'Basic realm="crossdock"'}.get(auth_type, "Signature")
