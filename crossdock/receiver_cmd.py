"""`crossdock receiver`: the webhook receiver and admin API under uvicorn."""

from __future__ import annotations

import uvicorn

from crossdock.ports import claim
from pipelines import settings


def access_log_enabled() -> bool:
    """`CROSSDOCK_ACCESS_LOG=1` logs every request; off by default, because at thousands of webhooks a
    second the access log costs more than verifying and storing them (the inbox already records each)."""
    return settings.current().access_log


def serve() -> None:
    """Run the receiver on CROSSDOCK_HOST:CROSSDOCK_PORT until interrupted. Raises `PortBusy`."""
    from connectors.receiver.app import create_app
    from connectors.receiver.http_protocol import JsonErrorsProtocol
    from pipelines.store import connect

    host, port = settings.host(), settings.receiver_port()
    sock = claim(host, port, "CROSSDOCK_PORT")
    connect()  # migrate before announcing readiness, so the first webhook never waits for it
    config = uvicorn.Config(
        create_app(),
        log_level="info",
        access_log=access_log_enabled(),
        lifespan="on",
        timeout_graceful_shutdown=10,
        http=JsonErrorsProtocol,
    )
    print(f"crossdock receiver listening on http://{host}:{port} (docs: {settings.public_receiver_url()}/docs)", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
