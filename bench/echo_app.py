"""The bare FastAPI JSON echo the receiver is measured against (DESIGN.md §4 baseline)."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/echo")
async def echo(request: Request):
    return await request.json()
