"""The staging URLs: the production webhook paths under `/staging` (see `pipelines.onboarding.staging`).

The same gate as production runs first (`webhooks._admit`: unknown 404, size 413, credentials and
signature 401, inactive 403, content type 415, malformed JSON 400, provider events not ingested),
with the same messages; then the records are judged and answered, and the attempt is kept as a test
delivery. Nothing goes to the inbox, so nothing is processed, counted or called back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from connectors.receiver import webhooks
from connectors.receiver.integration_cache import PushTarget
from connectors.receiver.schemas import error_responses
from connectors.receiver.state import receiver_state
from pipelines.guide.urls import STAGING_PREFIX
from pipelines.inbox.body import read_body
from pipelines.onboarding.staging import judge, record_test_delivery

router = APIRouter(tags=["staging"])

STAGING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "each record's verdict (`valid` with the record as it would be stored, or `error` with reasons); nothing stored"},
    422: {"description": "no record was valid (seed 000's contract; providers get 200)"},
    **error_responses(
        {
            400: "malformed JSON",
            401: "bad credential or signature",
            403: "inactive integration",
            404: "no such integration",
            413: "too large",
            415: "wrong content type",
        }
    ),
}


@router.post(
    STAGING_PREFIX + "/webhook/{integration}",
    summary="Staging: check orders as production would, store nothing",
    description="Verified, mapped and validated exactly as `POST /webhook/{integration}`; answered with each "
    "record's verdict. No order, callback, report row or inbox row; kept as a test delivery.",
    responses=STAGING_RESPONSES,
)
async def stage_orders(integration: str, request: Request) -> Response:
    return await receive_staging(request, integration, webhooks.SEED_WEBHOOK)


@router.post(
    STAGING_PREFIX + "/v1/webhooks/inbound/{account_id}",
    summary="Staging: check an Autentikapp sale event, store nothing",
    description="Verified (`X-Autentikapp-Signature`), mapped and validated as production; answered at once with "
    "the verdict instead of 202. No sale, customer or identifier is written; kept as a test delivery.",
    responses=STAGING_RESPONSES,
)
async def stage_autentikapp(account_id: str, request: Request) -> Response:
    return await receive_staging(request, account_id, webhooks.AUTENTIKAPP)


async def receive_staging(request: Request, name: str, route: webhooks.Route) -> Response:
    state = receiver_state(request)
    known = await state.integrations.get(name)
    if not webhooks._serves(known, route):
        return _json(404, {"detail": f"no {route.noun} named {name!r} accepts webhooks here", "staging": True})
    body = b""
    headers = webhooks._headers(request)
    try:
        body = await webhooks._read_body(request, headers, known.config.webhook.max_body_bytes)
        entry = webhooks._admit(known, route, request, headers, body, state.clock())
    except webhooks.Refusal as refusal:
        answer = {"detail": refusal.detail, "staging": True}
        await _keep(state.engine, known, request, body, refusal.verified, refusal.status_code, answer, refusal.detail)
        return _json(refusal.status_code, answer, refusal.headers)
    if entry.mode == "ignored":
        status_code, answer = 200, {"staging": True, "accepted": True, "ingested": False, "reason": entry.error}
    else:
        records = entry.records if entry.records is not None else read_body(entry.body)[1]
        status_code, answer = await asyncio.to_thread(judge, known.integration, records)
    await _keep(state.engine, known, request, entry.body, True, status_code, answer, None, entry.delivery_id, entry.headers)
    return _json(status_code, answer)


async def _keep(
    engine,
    known: PushTarget,
    request: Request,
    body: bytes,
    verified: bool,
    status_code: int,
    answer: dict[str, Any],
    error: str | None,
    delivery_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    kept = headers if headers is not None else webhooks._kept(request, known)
    await asyncio.to_thread(
        record_test_delivery,
        engine,
        known.integration.id,
        headers=kept,
        body=body,
        verified=verified,
        status_code=status_code,
        response=answer,
        error=error and f"{status_code}: {error}",
        delivery_id=delivery_id,
    )


def _json(status_code: int, content: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json", headers=headers)
