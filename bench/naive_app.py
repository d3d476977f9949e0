"""The naive design the receiver's group commit replaces (DESIGN.md §4 baseline): verify the HMAC,
then one transaction and one commit per request, in FastAPI's thread pool."""

import hashlib
import hmac
import os

from fastapi import FastAPI, HTTPException, Request

from pipelines.clock import utcnow
from pipelines.store import connect
from pipelines.store.schema import inbox

app = FastAPI()
SECRET = os.environ["BENCH_HMAC_SECRET"].encode()
INTEGRATION_ID = int(os.environ["BENCH_INTEGRATION_ID"])
engine = connect()


def _store(body: bytes, headers: dict) -> int:
    with engine.begin() as conn:
        return conn.execute(
            inbox.insert().values(
                integration_id=INTEGRATION_ID,
                received_at=utcnow(),
                source_kind="webhook",
                headers=headers,
                body=body,
                verified=True,
                status="pending",
                attempts=0,
            )
        ).inserted_primary_key[0]


@app.post("/webhook/{name}", status_code=202)
async def receive(name: str, request: Request):
    from starlette.concurrency import run_in_threadpool

    body = await request.body()
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-webhook-signature", "")):
        raise HTTPException(401)
    inbox_id = await run_in_threadpool(_store, body, {"content-type": request.headers.get("content-type")})
    return {"accepted": True, "inbox_id": inbox_id}
