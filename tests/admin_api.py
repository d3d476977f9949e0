"""An admin API router served on loopback, with a session carrying the admin token: how the route tests
talk to the API a client's technical team would call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from fastapi import APIRouter, FastAPI

from pipelines import settings
from tests.servers import serve_asgi


@contextmanager
def admin_session(router: APIRouter) -> Iterator[requests.Session]:
    """A session for `router` mounted on a bare app; `session.base` is the server's URL."""
    app = FastAPI()
    app.include_router(router)
    with serve_asgi(app) as base:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {settings.admin_token()}"
        session.base = base
        yield session
        session.close()


def call(api: requests.Session, method: str, path: str, **kwargs) -> requests.Response:
    return api.request(method, api.base + path, timeout=30, **kwargs)
