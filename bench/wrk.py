"""Drive wrk (a C load generator: it leaves the CPU to the server under test) and read its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: `make wrk` (or `make bench`) installs Debian's package")
    return found


def lua_post(path: Path, body: bytes, headers: dict[str, str]) -> Path:
    """A wrk script that POSTs `body` with `headers` on every request."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body)}"]
    lines += [f"wrk.headers[{_lua_string(k.encode())}] = {_lua_string(v.encode())}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def lua_post_deliveries(path: Path, body: bytes, headers: dict[str, str]) -> Path:
    """A wrk script that POSTs the same `body` with `headers` and an `Idempotency-Key` of its own on
    every request (`<run>-<thread>-<n>`): each request is a new delivery, stored, never answered as a
    duplicate, while a body signature computed once stays valid."""
    header_table = ", ".join(f"[{_lua_string(k.encode())}] = {_lua_string(v.encode())}" for k, v in headers.items())
    path.write_text(
        "local count = 0\n"
        "local created = 0\n"
        "local run = tostring(os.time()) .. tostring(math.random(1000000))\n"
        "function setup(thread) created = created + 1; thread:set('tid', created) end\n"
        "function request()\n"
        "  count = count + 1\n"
        f"  local headers = {{{header_table}}}\n"
        "  headers['Idempotency-Key'] = run .. '-' .. tostring(tid) .. '-' .. tostring(count)\n"
        f"  return wrk.format('POST', nil, headers, {_lua_string(body)})\n"
        "end\n"
    )
    return path


def lua_unique_orders(path: Path, url_path: str, headers: dict[str, str]) -> Path:
    """A wrk script that POSTs a new order on every request (external ids `t<thread>-<n>`), so each
    request creates an order rather than finding it unchanged."""
    header_table = ", ".join(f"[{_lua_string(k.encode())}] = {_lua_string(v.encode())}" for k, v in headers.items())
    path.write_text(
        "local count = 0\n"
        "local created = 0\n"
        "function setup(thread) created = created + 1; thread:set('tid', created) end\n"
        "function request()\n"
        "  count = count + 1\n"
        '  local body = string.format(\'{"external_id": "t%d-%d", "client_name": "Mar\\195\\173a Garc\\195\\173a", '
        '"address": "Zona 15, Guatemala", "latitude": 14.58, "longitude": -90.49}\', tid, count)\n'
        f"  return wrk.format('POST', {_lua_string(url_path.encode())}, {{{header_table}}}, body)\n"
        "end\n"
    )
    return path


def _lua_string(value: bytes) -> str:
    return '"' + "".join(f"\\{b}" if b < 32 or b > 126 or b in (34, 92) else chr(b) for b in value) + '"'


def run_wrk(url: str, script: Path, *, connections: int = 64, seconds: int = 5, threads: int = 2) -> WrkResult:
    out = subprocess.run(
        [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return WrkResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        non_2xx=int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        errors=sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out.split("Socket errors:")[1]))
        if "Socket errors:" in out
        else 0,
    )


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * _UNITS[unit]
