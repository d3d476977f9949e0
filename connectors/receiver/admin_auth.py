"""Bearer-token guard for the admin API (`CROSSDOCK_ADMIN_TOKEN`, or the generated development token)."""
from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, Security, status
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pipelines import settings

_bearer = HTTPBearer(auto_error=False, description="CROSSDOCK_ADMIN_TOKEN (or .crossdock/admin.token)")


def refusal(token: str | None) -> HTTPException | None:
    """The 401 for a missing or wrong admin token; None when `token` is the admin token."""
    if token is None:
        return HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="admin API: send Authorization: Bearer <CROSSDOCK_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.encode(), settings.admin_token().encode()):
        return HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="admin API: wrong token", headers={"WWW-Authenticate": "Bearer"}
        )
    return None


def require_admin(credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> str:
    """Admit a request carrying the admin token; answer 401 with a reason otherwise. Returns the
    actor name recorded with changes the request makes."""
    refused = refusal(credentials.credentials if credentials else None)
    if refused:
        raise refused
    return "api:admin"


def unauthorised_admin_request(request: Request) -> HTTPException | None:
    """The 401 for a request to an admin route without the right token, else None. FastAPI parses a
    JSON body before it runs dependencies, so a malformed body would otherwise be answered (400/422)
    before the caller is known: the error handlers ask this first."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not _requires_admin(dependant):
        return None
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return refusal(token.strip() if scheme.lower() == "bearer" and token.strip() else None)


def _requires_admin(dependant: Dependant) -> bool:
    return any(sub.call is require_admin or _requires_admin(sub) for sub in dependant.dependencies)
