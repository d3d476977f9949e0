"""Bearer-token guard for the admin API (`CROSSDOCK_ADMIN_TOKEN`, or the generated development token)."""
from __future__ import annotations

import hmac

from fastapi import HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pipelines import settings

_bearer = HTTPBearer(auto_error=False, description="CROSSDOCK_ADMIN_TOKEN (or .crossdock/admin.token)")


def require_admin(credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> str:
    """Admit a request carrying the admin token; answer 401 with a reason otherwise. Returns the
    actor name recorded with changes the request makes."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="admin API: send Authorization: Bearer <CROSSDOCK_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), settings.admin_token().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="admin API: wrong token", headers={"WWW-Authenticate": "Bearer"}
        )
    return "api:admin"
