"""Every error answers JSON `{"detail": ..., "errors": [...]}`: never HTML, never a traceback.

Client mistakes get their 4xx with the field and the reason; a store that cannot answer is 503 with
Retry-After (the client's data was not acknowledged, so it must retry); anything unexpected is a
plain 500 naming no internals, with the traceback in the server log only.
"""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from connectors.receiver.admin import Invalid
from connectors.receiver.admin_auth import unauthorised_admin_request
from pipelines.errors import field_path
from pipelines.secrets import SecretKeyError

log = logging.getLogger(__name__)

CLIENT_CLOSED_REQUEST = 499  # nginx's code for it; never delivered, but it is what access logs show


def request_issues(exc: RequestValidationError) -> list[dict[str, str]]:
    """FastAPI's validation errors as `[{field, message}]`, located inside the body or query, with no
    echo of the input (it may hold a secret)."""
    issues = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else ("body", loc)
        rest = tuple(p for p in rest if not (isinstance(p, str) and p.startswith("function-")))
        if error.get("type") == "json_invalid":
            ctx = error.get("ctx") or {}
            message = f"malformed JSON at byte {rest[0] if rest else '?'}: {ctx.get('error', 'invalid')}"
            issues.append({"field": "(body)", "message": message})
            continue
        field = field_path(rest) if rest else f"({where})"
        if where in ("query", "path", "header"):
            field = f"{where}.{field}"
        issues.append({"field": field, "message": str(error.get("msg", "invalid")).removeprefix("Value error, ")})
    return issues


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        refused = unauthorised_admin_request(request) if exc.status_code == 400 else None
        if refused:  # FastAPI refuses a body it cannot parse before it checks the token
            return JSONResponse({"detail": refused.detail}, status_code=refused.status_code, headers=refused.headers)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = unauthorised_admin_request(request)
        if refused:  # who is asking comes before what they sent
            return JSONResponse({"detail": refused.detail}, status_code=refused.status_code, headers=refused.headers)
        issues = request_issues(exc)
        detail = "; ".join(f"{i['field']}: {i['message']}" for i in issues)
        status_code = 400 if any(i["field"] == "(body)" and "JSON" in i["message"] for i in issues) else 422
        return JSONResponse({"detail": detail, "errors": issues}, status_code=status_code)

    @app.exception_handler(Invalid)
    async def invalid_config(_request: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "errors": exc.issues}, status_code=422)

    @app.exception_handler(sa.exc.OperationalError)
    async def store_unavailable(_request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        log.error("store unavailable: %s", exc.orig)
        return JSONResponse({"detail": "the store is unavailable; retry shortly"}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(SecretKeyError)
    async def wrong_key(_request: Request, exc: SecretKeyError) -> JSONResponse:
        log.error("%s", exc)
        return JSONResponse({"detail": "stored secrets cannot be decrypted (server configuration)"}, status_code=503)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _exc: ClientDisconnect) -> Response:
        return _client_gone(request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):  # raised in middleware (the fast path), outside the handler above
            return _client_gone(request)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; nothing was acknowledged. The server log has the details."}, status_code=500)


_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def allowed_methods(request: Request) -> str | None:
    """The `Allow` of a 405: every method the documented path serves (Starlette's own names only the
    methods of the first route whose path matched, e.g. `POST` for `GET /integrations`)."""
    table = getattr(request.app.state, "methods_by_path", None)
    if table is None:
        table = []
        for path, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            table.append((pattern, {method.upper() for method in operations if method in _HTTP_METHODS}))
        request.app.state.methods_by_path = table
    methods = set().union(*(served for pattern, served in table if pattern.match(request.scope["path"])))
    if not methods:
        return None
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _client_gone(request: Request) -> Response:
    """The client hung up before sending its whole body: nothing was stored or acknowledged, and there
    is nobody to answer. Not a server error, so no traceback: load tests and flaky networks end every
    run with a burst of these, and logging each one synchronously can stall the event loop."""
    log.debug("client disconnected during %s %s; nothing stored", request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)
