"""Crossdock commands as real subprocesses for tests: free ports, readiness with a bounded deadline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nobody listens on right now (the command under test binds it itself)."""
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


def crossdock(*args: str, env: dict[str, str], **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crossdock", *args], cwd=ROOT, env={**os.environ, **env}, **popen)


def wait_for_http(url: str, proc: subprocess.Popen, deadline_s: float) -> None:
    """Poll `url` until it answers 200; fail if the process exits first or the deadline passes."""
    until = time.monotonic() + deadline_s
    while True:
        assert proc.poll() is None, f"process exited with {proc.returncode} before {url} answered"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < until, f"{url} did not answer within {deadline_s} s"
        time.sleep(0.2)
