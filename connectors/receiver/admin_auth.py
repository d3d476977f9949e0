"""The admin API's guard: who the bearer token is (the bootstrap `CROSSDOCK_ADMIN_TOKEN`, or a token
made with `crossdock tokens add` / `POST /tokens`), and whether that role may do what the route does
(`pipelines.access.policy`). 401 names a missing or wrong token, 403 the role's refusal.

Accepted: `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 7235, so `bearer` is
accepted too); HTTP servers drop the whitespace around a header value, so a trailing space never
reaches the check; a space inside the token makes it wrong.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from fastapi import HTTPException, Request, Security, status
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from connectors.receiver.route_policy import route_action
from pipelines.access import policy
from pipelines.access.tokens import Principal, resolve
from pipelines.store import connect

# Declared on the dependency so /docs offers "Authorize"; the header itself is read by `_bearer`.
_scheme = HTTPBearer(auto_error=False, description="CROSSDOCK_ADMIN_TOKEN (or .crossdock/admin.token), or from crossdock tokens add")


def _engine(request: Request) -> sa.Engine:
    state = getattr(request.app.state, "receiver", None)
    return state.engine if state is not None else connect()


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"admin API: {detail}", headers={"WWW-Authenticate": "Bearer"})


def principal(request: Request) -> Principal | HTTPException:
    token = _bearer(request)
    if token is None:
        return _unauthorised("send Authorization: Bearer <CROSSDOCK_ADMIN_TOKEN>")
    resolved = resolve(_engine(request), token)
    return _unauthorised(resolved) if isinstance(resolved, str) else resolved


def _refusal(request: Request, body: object) -> tuple[Principal | None, HTTPException | None]:
    who = principal(request)
    if isinstance(who, HTTPException):
        return None, who
    route = request.scope.get("route")
    action = route_action(request.method, getattr(route, "path", request.url.path), body)
    reason = policy.refusal(who.role, action)
    if reason:
        return who, HTTPException(status.HTTP_403_FORBIDDEN, detail=f"admin API: {who.actor}: {reason}")
    return who, None


async def require_admin(request: Request, _: HTTPAuthorizationCredentials | None = Security(_scheme)) -> str:
    """Admit a request whose token's role may do what the route does; 401/403 with the reason
    otherwise. Returns the actor recorded with the changes the request makes."""
    body: object = None
    if request.method == "PATCH":
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
    who, refused = _refusal(request, body)
    if refused:
        raise refused
    assert who is not None
    return who.actor


def unauthorised_admin_request(request: Request) -> HTTPException | None:
    """The 401/403 for a request to an admin route by someone who may not use it, else None. FastAPI
    parses a JSON body before it runs dependencies, so a malformed body would otherwise be answered
    (400/422) before the caller is known: the error handlers ask this first."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not _requires_admin(dependant):
        return None
    return _refusal(request, None)[1]


def _requires_admin(dependant: Dependant) -> bool:
    return any(sub.call is require_admin or _requires_admin(sub) for sub in dependant.dependencies)
