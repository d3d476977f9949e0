"""The client's read-only status page: `GET /status/{name}/{token}` (HTML, or JSON with
`Accept: application/json`).

A wrong name, a wrong token and an integration without a link all get the same 404, so a guessed link
tells nothing, not even whether the integration exists. The page is never cached, never indexed and
never leaks its URL as a referrer.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from jinja2 import Environment, select_autoescape

from connectors.receiver.schemas import error_responses
from connectors.receiver.state import receiver_state
from pipelines.guide.urls import STATUS_PREFIX
from pipelines.onboarding.client_status import client_status, token_opens

router = APIRouter(tags=["client status"])

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}
NOT_FOUND = {"detail": "no such status page"}

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ s.name }}: integration status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #1d2433; }
 h1 { color: #0b3d91; } h2 { color: #0b3d91; margin-top: 1.6em; }
 table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
 th, td { border: 1px solid #c9d3e6; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
 th { background: #e8eef9; } .bad { color: #a8071a; } .ok { color: #1a7f37; } .muted { color: #7a8499; }
</style></head><body>
<h1>{{ s.name }}</h1>
<p class="muted">Read-only status of your integration ({{ s.stage }}). Newest first; up to {{ limit }} rows per table.</p>
{% macro table(rows, columns, empty) -%}
{% if rows %}<table><tr>{% for key, label in columns %}<th>{{ label }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for key, label in columns %}<td>{{ row[key] if row[key] is not none else "" }}</td>{% endfor %}</tr>
{% endfor %}</table>{% else %}<p class="muted">{{ empty }}</p>{% endif %}
{%- endmacro %}
<h2>Deliveries</h2>
{{ table(s.deliveries, [("received_at", "Received"), ("answer", "Answer"), ("status", "Status"),
   ("verified", "Signature ok"), ("delivery_id", "Delivery id"), ("result", "Result")], "No deliveries yet.") }}
<h2>Processing runs</h2>
{{ table(s.syncs, [("started_at", "Started"), ("source", "Source"), ("status", "Status"), ("received", "Received"),
   ("created", "Created"), ("updated", "Updated"), ("unchanged", "Unchanged"), ("errors", "Errors"),
   ("reasons", "Reasons")], "No runs yet.") }}
<h2>Rejected records</h2>
{{ table(s.rejected_records, [("at", "When"), ("delivery", "Delivery"), ("index", "Record #"),
   ("external_id", "External id"), ("reasons", "Reasons")], "No rejected records.") }}
<h2>Staging (test deliveries)</h2>
{{ table(s.test_deliveries, [("received_at", "Received"), ("answer", "Answer"), ("verified", "Signature ok"),
   ("result", "Result")], "No test deliveries.") }}
<h2>Callbacks to your endpoint</h2>
{{ table(s.callbacks, [("webhook_id", "webhook-id"), ("event", "Event"), ("external_id", "Order"),
   ("callback_status", "Callback"), ("attempted_at", "Attempt"), ("answer", "Your answer"),
   ("latency_ms", "ms"), ("outcome", "Outcome")], "No callbacks sent.") }}
</body></html>"""
_PAGE = Environment(autoescape=select_autoescape(default=True)).from_string(PAGE)


@router.get(
    STATUS_PREFIX + "/{name}/{token}",
    summary="A client's read-only status page (its link token)",
    description="Recent deliveries and their answers, rejected records with reasons, staging attempts and callback "
    "attempts of one integration. Any wrong name or token is 404.",
    responses={
        200: {"description": "HTML, or JSON when asked with Accept: application/json"},
        **error_responses({404: "no such status page (wrong name or token)"}),
    },
)
async def status_page(name: str, token: str, request: Request) -> Response:
    state = receiver_state(request)
    known = await state.integrations.get(name)
    if known is None or not token_opens(known.integration.config, token):
        return Response(orjson.dumps(NOT_FOUND), status_code=404, media_type="application/json", headers=PRIVATE)
    status = await asyncio.to_thread(client_status, state.reader, known.integration)
    if "application/json" in request.headers.get("accept", ""):
        return Response(orjson.dumps(asdict(status)), media_type="application/json", headers=PRIVATE)
    html = _PAGE.render(s=status, limit=50)
    return Response(html, media_type="text/html; charset=utf-8", headers=PRIVATE)
