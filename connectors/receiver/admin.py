"""The admin API (bearer `CROSSDOCK_ADMIN_TOKEN`): integrations, and lookups of what landed.

Handlers are plain functions (FastAPI runs them in its thread pool) over framework-free lookups in
`pipelines`. Secrets are masked in every answer; invalid input answers 422 with each field and why.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status
from pydantic import ValidationError

from connectors.receiver.admin_auth import require_admin
from connectors.receiver.params import id_cursor
from connectors.receiver.schemas import (
    ADMIN_ERRORS,
    MALFORMED_JSON,
    UNKNOWN_CURSOR,
    ArchivedIntegration,
    IdentifierBatch,
    error_responses,
)
from connectors.receiver.state import receiver_state
from pipelines.errors import describe, field_path, validation_issues
from pipelines.integrations import (
    KINDS,
    ArchivedNameTaken,
    Integration,
    IntegrationBusy,
    IntegrationExists,
    IntegrationNotFound,
    MappingRejected,
    archive_integration,
    archived_view,
    create_integration,
    get_integration,
    list_integrations,
    masked_config,
    parse_integration,
    purge_integration,
    restore_integration,
    update_integration,
)
from pipelines.onboarding.webhook_example import webhook_url
from pipelines.orders.lookup import page_orders
from pipelines.paging import MAX_LIMIT, InvalidCursor
from pipelines.sales.lookup import get_identifier, page_customers, register_codes

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)

COMPONENT_REF = "#/components/schemas/{model}"
SEED_INTEGRATION = {"name": "cliente_abc", "type": "webhook", "auth_type": "apikey", "auth_value": "secreto_compartido", "is_active": True}


class Invalid(Exception):
    """422 with `errors: [{field, message}]` (rendered by the app's exception handler)."""

    def __init__(self, issues: list[dict[str, str]], detail: str = "invalid integration"):
        super().__init__(detail)
        self.issues, self.detail = issues, detail


def _shown(stored) -> dict[str, Any]:
    view = masked_config(stored)
    if stored.config.type == "webhook":
        view["webhook_url"] = webhook_url(stored.name, stored.config.webhook.verification)
    return view


def _not_found(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc))


# The store keeps configurations as JSON, which holds integers of up to 64 bits.
INT64_RANGE = (-(2**63), 2**63 - 1)


def _oversized_integers(value: Any, path: tuple = ()) -> Iterator[dict[str, str]]:
    """Where `value` (a JSON document) holds an integer the store cannot keep, as `{field, message}`."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            yield {"field": field_path(path), "message": "integer out of range: at most 64 bits (±9223372036854775807)"}
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _oversized_integers(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _oversized_integers(item, (*path, index))


def _storable(document: Any) -> None:
    issues = list(_oversized_integers(document))
    if issues:
        raise Invalid(issues)


def _changes_schema() -> dict[str, Any]:
    """PATCH's body as documented: any field of any kind (nested settings merge); the result must be
    a valid integration of its `type`."""
    properties: dict[str, Any] = {}
    for kind in KINDS.values():
        schema = kind.model_json_schema(ref_template=COMPONENT_REF)
        properties.update({key: value for key, value in schema["properties"].items() if key not in properties})
    properties["type"] = {"enum": list(KINDS), "type": "string", "title": "Type"}
    return {"type": "object", "properties": properties, "additionalProperties": False, "title": "IntegrationChanges"}


def _document(body: dict[str, Any]) -> Integration:
    """The body as an integration of the kind it names; 422 with each field's reason otherwise."""
    try:
        return parse_integration(body)
    except ValidationError as exc:
        issues = validation_issues(exc)
        raise Invalid(issues, describe(issues)) from None


@router.post(
    "/integrations",
    status_code=status.HTTP_201_CREATED,
    summary="Create an integration (seed 000's configuration JSON as is)",
    responses=error_responses(
        {400: MALFORMED_JSON, 409: "an integration (live or archived) with that name exists", 422: "invalid fields, each with its reason"}
    ),
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"$ref": COMPONENT_REF.format(model="Integration")}}}}},
)
def create(
    request: Request,
    body: dict[str, Any] = Body(openapi_examples={"seed 000": {"value": SEED_INTEGRATION}}),
    actor: str = Depends(require_admin),
) -> dict[str, Any]:
    engine = receiver_state(request).engine
    config = _document(body)
    _storable(config.model_dump(mode="json"))
    try:
        stored = create_integration(engine, config, actor=actor)
    except ArchivedNameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except IntegrationExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{exc}; PATCH /integrations/{config.name} changes it") from None
    except MappingRejected as exc:
        raise Invalid(exc.issues, "field_mapping does not compile") from None
    receiver_state(request).integrations.invalidate(stored.name)
    return _shown(stored)


@router.get(
    "/integrations",
    summary="List integrations (secrets masked), by name",
    description="An array, `limit` at a time in name order; `X-Total-Count` says how many in all and "
    "`X-Next-Cursor` (absent on the last page) is the `cursor` of the next page.",
    responses=error_responses({400: UNKNOWN_CURSOR}),
)
def list_all(
    request: Request,
    response: Response,
    limit: int = Query(MAX_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(None, description="the X-Next-Cursor of the previous page"),
) -> list[dict[str, Any]]:
    everything = sorted(list_integrations(receiver_state(request).reader), key=lambda s: (s.name.lower(), s.id))
    after = _name_cursor(cursor)
    remaining = [s for s in everything if after is None or s.name.lower() > after]
    page = remaining[:limit]
    response.headers["X-Total-Count"] = str(len(everything))
    if len(remaining) > limit:
        response.headers["X-Next-Cursor"] = base64.urlsafe_b64encode(f"name:{page[-1].name.lower()}".encode()).decode()
    return [_shown(stored) for stored in page]


def _name_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        kind, _, name = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        kind = ""
    if kind != "name":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"cursor {cursor!r} is not one this list gave out")
    return name


@router.get(
    "/integrations/{name}", summary="One integration (secrets masked)", responses=error_responses({404: "no integration with that name"})
)
def show(name: str, request: Request) -> dict[str, Any]:
    try:
        return _shown(get_integration(receiver_state(request).reader, name))
    except IntegrationNotFound as exc:
        raise _not_found(exc) from None


@router.patch(
    "/integrations/{name}",
    summary="Change some fields (nested settings merge; omitted secrets stay)",
    responses=error_responses(
        {
            400: MALFORMED_JSON,
            404: "no integration with that name",
            409: "renamed to the name of another (live or archived) integration",
            422: "invalid fields, each with its reason",
        }
    ),
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": _changes_schema()}}}},
)
def patch(
    name: str,
    request: Request,
    changes: dict[str, Any] = Body(
        openapi_examples={"deactivate": {"value": {"is_active": False}}, "async acks": {"value": {"webhook": {"ack_mode": "async"}}}}
    ),
    actor: str = Depends(require_admin),
) -> dict[str, Any]:
    state = receiver_state(request)
    _storable(changes)
    try:
        stored = update_integration(state.engine, name, changes, note="admin API", actor=actor)
    except IntegrationNotFound as exc:
        raise _not_found(exc) from None
    except IntegrationExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except ValidationError as exc:
        raise Invalid(validation_issues(exc)) from None
    except MappingRejected as exc:
        raise Invalid(exc.issues, "field_mapping does not compile") from None
    state.integrations.invalidate(name, stored.name)
    return _shown(stored)


@router.delete(
    "/integrations/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete (archive) an integration: its data stays, restorable until purged",
    description="Archives the integration: webhooks to it answer like an unknown integration, pollers and "
    "deliveries skip it, and everything it received stays as it was. "
    "`POST /archived-integrations/{name}/restore` undoes it; "
    "`DELETE /archived-integrations/{name}` (or the retention period, "
    "`CROSSDOCK_ARCHIVE_RETENTION_DAYS`) really deletes it.",
    responses=error_responses({404: "no integration with that name"}),
)
def delete(
    name: str,
    request: Request,
    force: bool = Query(
        False, description="accepted for older clients; deleting archives, so nothing waiting is discarded and there is nothing to force"
    ),
    actor: str = Depends(require_admin),
) -> Response:
    state = receiver_state(request)
    try:
        archive_integration(state.engine, name, actor=actor)
    except IntegrationNotFound as exc:
        raise _not_found(exc) from None
    state.integrations.invalidate(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/archived-integrations",
    summary="Deleted (archived) integrations, newest first",
    description="Name, type, target, when and by whom each was deleted. They are purged automatically "
    "`CROSSDOCK_ARCHIVE_RETENTION_DAYS` after that.",
)
def archived(request: Request) -> list[ArchivedIntegration]:
    return [ArchivedIntegration(**asdict(entry)) for entry in archived_view(receiver_state(request).reader)]


@router.post(
    "/archived-integrations/{name}/restore",
    summary="Restore a deleted integration, with all its data",
    responses=error_responses({404: "no archived integration with that name"}),
)
def restore(name: str, request: Request, actor: str = Depends(require_admin)) -> dict[str, Any]:
    state = receiver_state(request)
    try:
        stored = restore_integration(state.engine, name, actor=actor)
    except IntegrationNotFound as exc:
        raise _not_found(exc) from None
    state.integrations.invalidate(name)
    return _shown(stored)


@router.delete(
    "/archived-integrations/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Purge an archived integration: delete it and everything it received, for good",
    responses=error_responses(
        {404: "no archived integration with that name", 409: "acknowledged webhooks or callbacks still wait (see force)"}
    ),
)
def purge(
    name: str,
    request: Request,
    force: bool = Query(False, description="purge even with acknowledged webhooks or callbacks still waiting"),
    actor: str = Depends(require_admin),
) -> Response:
    state = receiver_state(request)
    try:
        purge_integration(state.engine, name, force=force, actor=actor)
    except IntegrationNotFound as exc:
        raise _not_found(exc) from None
    except IntegrationBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{exc}; retry with ?force=true to discard them") from None
    state.integrations.invalidate(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/orders",
    summary="Find orders by integration and/or the client's external id",
    responses=error_responses({400: UNKNOWN_CURSOR, 404: "no integration with that name"}),
)
def orders(
    request: Request,
    integration: str | None = Query(None, description="integration name"),
    external_id: str | None = Query(None, description="the client's order id, e.g. PED-001"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Depends(id_cursor),
) -> dict[str, Any]:
    engine = receiver_state(request).reader
    if integration is not None:
        _require_integration(engine, integration)
    with _cursor_errors():
        page = page_orders(engine, integration=integration, external_id=external_id, cursor=cursor, limit=limit)
    return {"orders": page.items, "next_cursor": page.next_cursor, "total": page.total}


@router.get(
    "/customers",
    summary="Find customers of an Autentikapp account by national id or email",
    responses=error_responses({400: UNKNOWN_CURSOR, 404: "no account with that name"}),
)
def customers(
    request: Request,
    account: str | None = Query(None, description="the account (integration) name"),
    national_id: str | None = Query(None),
    email: str | None = Query(None),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Depends(id_cursor),
) -> dict[str, Any]:
    engine = receiver_state(request).reader
    if account is not None:
        _require_integration(engine, account)
    with _cursor_errors():
        page = page_customers(engine, account=account, national_id=national_id, email=email, cursor=cursor, limit=limit)
    return {"customers": page.items, "next_cursor": page.next_cursor, "total": page.total}


@contextmanager
def _cursor_errors() -> Iterator[None]:
    """A cursor this API did not give out is the caller's mistake: 400 with the reason."""
    try:
        yield
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None


@router.get(
    "/identifiers/{code}",
    summary="An identifier code and the customer it is linked to",
    responses=error_responses({404: "the code is not registered"}),
)
def identifier(code: str, request: Request) -> dict[str, Any]:
    found = get_identifier(receiver_state(request).reader, code)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"identifier code {code!r} is not registered")
    return found


@router.post(
    "/identifiers",
    summary="Register identifier codes for an Autentikapp account (bulk)",
    responses=error_responses(
        {400: MALFORMED_JSON, 404: "no account with that name", 422: "invalid codes, or the account's target is not sale"}
    ),
)
def register(batch: IdentifierBatch, request: Request) -> dict[str, Any]:
    engine = receiver_state(request).engine
    account = _require_integration(engine, batch.account)
    if account.target != "sale":
        raise Invalid(
            [{"field": "account", "message": f"{batch.account!r} has target {account.target!r}, not 'sale'"}],
            "identifier codes belong to sale accounts",
        )
    codes = [{"code": c} if isinstance(c, str) else c.model_dump() for c in batch.codes]
    if any(not c["code"].strip() or len(c["code"]) > 128 for c in codes):
        raise Invalid([{"field": "codes", "message": "every code must be 1-128 characters"}], "invalid codes")
    return {"account": batch.account, **asdict(register_codes(engine, account.id, codes))}


def _require_integration(engine, name: str):
    try:
        return get_integration(engine, name)
    except IntegrationNotFound as exc:
        raise _not_found(exc) from None
