"""Pydantic models that document the receiver's payloads and answers in OpenAPI (`/docs`).

The webhook routes read the raw body themselves (signatures cover the exact bytes, and a mapped
integration accepts any JSON shape), so these models describe the documented contracts with the seeds'
own examples rather than validate requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipelines.vocabulary import InboxStatus

ONE_ORDER_EXAMPLE: dict[str, Any] = {
    "external_id": "ORD-12345",
    "client_name": "Juan Pérez",
    "client_phone": "+502 5555-1234",
    "address": "Zona 10, Guatemala Ciudad",
    "latitude": 14.59,
    "longitude": -90.52,
    "notes": "Entregar en recepción",
}


class OrderRecord(BaseModel):
    """A delivery order as seed 000 sends it (an integration with a `field_mapping` accepts its own
    shape instead; this is the default mapping's)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [ONE_ORDER_EXAMPLE]},
    )

    external_id: str = Field(description="the client's unique id of the order")
    client_name: str = Field(description="who receives the delivery")
    address: str = Field(description="delivery address")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    client_phone: str | None = None
    client_email: str | None = None
    notes: str | None = None
    priority: int | None = Field(None, ge=1, le=5)
    scheduled_time: str | None = Field(None, description="ISO 8601; naive means UTC")
    branch: str | None = None


class AutentikappCustomer(BaseModel):
    national_id: str | None = Field(None, description="cédula or national id (this or email identifies the customer)")
    email: str | None = None
    phone_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    whatsapp_number: str | None = None


class AutentikappLineItem(BaseModel):
    product_sku: str | None = None
    product_name: str | None = None
    quantity: int | None = None
    unit_price: float | None = None
    autentikapp_code: str | None = Field(None, description="the registered identifier code linked to the customer")


class AutentikappTransaction(BaseModel):
    transaction_id: str
    currency: str | None = None
    total_amount: float | None = None
    line_items: list[AutentikappLineItem] = Field(default_factory=list)


AUTENTIKAPP_EXAMPLE: dict[str, Any] = {
    "event_type": "transaction.created",
    "event_timestamp": "2025-09-13T14:30:00Z",
    "customer_data": {
        "national_id": "123456789",
        "email": "cliente@email.com",
        "phone_number": "+573001234567",
        "first_name": "Diego",
        "last_name": "López",
        "whatsapp_number": "+573001234567",
    },
    "transaction_data": {
        "transaction_id": "FACT-00123",
        "currency": "COP",
        "total_amount": 950000.00,
        "line_items": [
            {
                "product_sku": "BOLSO-CUERO-01",
                "product_name": "Bolso de Cuero Edición Limitada",
                "quantity": 1,
                "unit_price": 950000.00,
                "autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef",
            }
        ],
    },
}


class AutentikappEvent(BaseModel):
    """Seed 004's sale event. Sign the exact body: `X-Autentikapp-Signature: hex(HMAC-SHA256(body, whsec_...))`."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [AUTENTIKAPP_EXAMPLE]})

    event_type: str = "transaction.created"
    event_timestamp: str | None = Field(None, description="ISO 8601")
    customer_data: AutentikappCustomer
    transaction_data: AutentikappTransaction


class Reason(BaseModel):
    field: str
    message: str


class RecordOutcome(BaseModel):
    index: int
    status: str = Field(description="created | updated | unchanged | error")
    external_id: str | None = None
    internal_id: int | None = Field(None, description="Crossdock's id of the order or sale")
    errors: list[Reason] = Field(default_factory=list, description="why the record could not land")


class SyncAck(BaseModel):
    """Answer of a `sync` integration: seed 000's counts plus detail. 200 when any record landed (a
    partly valid batch included), 422 when none did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total_received": 1,
                    "created": 1,
                    "updated": 0,
                    "errors": 0,
                    "unchanged": 0,
                    "inbox_id": 1,
                    "sync_run_id": 1,
                    "results": [{"index": 0, "status": "created", "external_id": "PED-001", "internal_id": 1}],
                }
            ]
        }
    )

    total_received: int
    created: int
    updated: int
    errors: int
    unchanged: int
    inbox_id: int
    sync_run_id: int | None = None
    results: list[RecordOutcome]
    duplicate: bool = Field(False, description="true when this delivery id was already received: the original answer")


class AsyncAck(BaseModel):
    """Answer of an `async` integration and of Autentikapp: the request is durable and will be processed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": True, "status": "pending", "inbox_id": 7}]})

    accepted: bool = True
    status: str = InboxStatus.PENDING
    inbox_id: int
    duplicate: bool = False


class IgnoredAck(BaseModel):
    """200 for a verified delivery that is recorded but not ingested: a provider's ping, or an event
    outside the integration's `webhook.events`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"accepted": True, "ingested": False, "reason": "ping: a provider ping, acknowledged and not ingested", "inbox_id": 9}
            ]
        }
    )

    accepted: bool = True
    ingested: bool = False
    reason: str
    inbox_id: int | None = Field(None, description="absent for WooCommerce's unsigned ping (kept with the diagnostics)")
    duplicate: bool = False


class ErrorBody(BaseModel):
    """Every error answer (400, 401, 403, 404, 409, 413, 415, 422, 429, 503; 500 too): `detail` says what
    went wrong; `errors`, on invalid input, lists each field and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "limit: Input should be less than or equal to 1000",
                    "errors": [{"field": "query.limit", "message": "Input should be less than or equal to 1000"}],
                }
            ]
        }
    )

    detail: str
    errors: list[Reason] | None = None


def error_responses(meanings: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error answers: each status with the one error body and what it means here."""
    return {code: {"model": ErrorBody, "description": meaning} for code, meaning in meanings.items()}


MALFORMED_JSON = "malformed JSON body (`errors` says where)"
UNKNOWN_CURSOR = "`cursor` is not one this list gave out"

# Every admin route can answer these (routers declare them; routes add their own).
ADMIN_ERRORS = error_responses(
    {
        401: "missing or wrong admin token",
        403: "the token's role may not do this (the answer says which role may)",
        422: "invalid parameters or body: `errors` lists each field and why",
        503: "the store is unavailable (retry after Retry-After), or stored secrets cannot be decrypted",
    }
)


class IdentifierSpec(BaseModel):
    code: str = Field(min_length=1, max_length=128)
    product_sku: str | None = Field(None, max_length=255)


class IdentifierBatch(BaseModel):
    """Codes to register for an Autentikapp account (an integration with target `sale`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account": "autentikapp_demo",
                    "codes": [
                        "a1b2c3d4-e5f6-7890-1234-567890abcdef",
                        {"code": "b2c3d4e5-0000-0000-0000-000000000001", "product_sku": "BOLSO-CUERO-01"},
                    ],
                }
            ]
        },
    )

    account: str
    codes: list[IdentifierSpec | str] = Field(min_length=1, max_length=10_000)


PAYLOAD_MODELS: tuple[type[BaseModel], ...] = (OrderRecord, AutentikappEvent)


class ArchivedIntegration(BaseModel):
    """A deleted integration waiting in the archive: restorable with all its data until purged."""

    name: str
    type: str
    target: str
    archived_at: datetime = Field(description="when it was deleted (UTC); purged CROSSDOCK_ARCHIVE_RETENTION_DAYS later")
    archived_by: str | None = Field(None, description="who deleted it (user:…, token:…)")
