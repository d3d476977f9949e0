"""Start a server under test as its own process (as in production), and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """Ask `proc` to end (SIGTERM), and kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def server(args: list[str], ready_url: str, env: dict[str, str] | None = None, deadline_s: float = 60) -> Iterator[subprocess.Popen]:
    """Run `python args...` until the block ends; `ready_url` answering (any status) means it is up.

    Its stderr goes to a file, never an unread pipe: a full pipe would block the server's next log
    write and stall it, and the benchmark would measure the stall."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, *args], env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=log)
    try:
        until = time.monotonic() + deadline_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{args} exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                requests.get(ready_url, timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > until:
                    raise RuntimeError(f"{args} did not answer at {ready_url} within {deadline_s} s") from None
                time.sleep(0.1)
        yield proc
    finally:
        stop(proc, timeout=20)
        log.close()


def uvicorn_args(app: str, port: int) -> list[str]:
    """The same uvicorn settings for every server compared (uvloop + httptools, no access log)."""
    return ["-c", f"import uvicorn; uvicorn.run({app!r}, host='127.0.0.1', port={port}, log_level='warning', access_log=False)"]
