"""The sale, as the Autentikapp guide defines it: a customer, a transaction and its line items.

The mapped record is flat (customer fields beside transaction fields) so a mapping table reads the
same as for orders; line items stay a list, each carrying the identifier code it sells.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, NotRequired

from pydantic import AfterValidator, Field, with_config
from typing_extensions import TypedDict

from pipelines.targets.order import EMAIL_PATTERN, TARGET_CONFIG


def _to_cents(amount: Decimal | None) -> Decimal | None:
    """The store keeps a sale's total in cents (NUMERIC(18, 2)): round once here, half away from zero,
    so a preview shows the amount that is stored and PostgreSQL never rounds behind our back."""
    return None if amount is None else amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


Money = Annotated[Decimal | None, Field(ge=0, lt=Decimal("1e16")), AfterValidator(_to_cents)]


@with_config(TARGET_CONFIG)
class LineItem(TypedDict):
    product_sku: NotRequired[str | None]
    product_name: NotRequired[str | None]
    quantity: NotRequired[Annotated[int | None, Field(ge=1)]]
    unit_price: NotRequired[Annotated[Decimal | None, Field(ge=0)]]
    identifier_code: NotRequired[Annotated[str | None, Field(description="the autentikapp_code of the product")]]


@with_config(TARGET_CONFIG)
class SaleRecord(TypedDict):
    """One sale after mapping. Required: external_id, and national_id or email."""

    external_id: Annotated[str, Field(min_length=1, max_length=255, description="transaction_id")]
    event_type: NotRequired[str | None]
    event_timestamp: NotRequired[datetime | None]
    national_id: NotRequired[Annotated[str | None, Field(max_length=64)]]
    email: NotRequired[Annotated[str | None, Field(max_length=255, pattern=EMAIL_PATTERN)]]
    phone_number: NotRequired[Annotated[str | None, Field(max_length=64)]]
    first_name: NotRequired[str | None]
    last_name: NotRequired[str | None]
    whatsapp_number: NotRequired[Annotated[str | None, Field(max_length=64)]]
    currency: NotRequired[Annotated[str | None, Field(min_length=3, max_length=3)]]
    total_amount: NotRequired[Money]
    line_items: NotRequired[list[LineItem] | None]


SALE_FIELDS: tuple[str, ...] = tuple(SaleRecord.__annotations__)


def sale_rules(record: dict) -> dict[str, str]:
    """What a type cannot say: the customer must be identifiable."""
    if not record.get("national_id") and not record.get("email"):
        return {"national_id": "a sale needs the customer's national_id or email"}
    return {}


# Seed 004's payload mapped onto the sale target: the default for Autentikapp-style integrations.
AUTENTIKAPP_MAPPING = {
    "external_id": "transaction_data.transaction_id",
    "event_type": "event_type",
    "event_timestamp": "event_timestamp",
    "national_id": "customer_data.national_id",
    "email": "customer_data.email",
    "phone_number": "customer_data.phone_number",
    "first_name": "customer_data.first_name",
    "last_name": "customer_data.last_name",
    "whatsapp_number": "customer_data.whatsapp_number",
    "currency": "transaction_data.currency",
    "total_amount": "transaction_data.total_amount",
    "line_items": (
        "transaction_data.line_items[].{product_sku: product_sku, product_name: product_name, "
        "quantity: quantity, unit_price: unit_price, identifier_code: autentikapp_code}"
    ),
}
