"""HAProxy (Debian's package) in front of several receivers, as a production install runs them; the
receiver benchmark and the scale-out test start it on loopback with the configuration that
`deploy/haproxy/haproxy.cfg` documents for operators.

Why these settings:
- a health check on `/health` takes a dead receiver out of rotation within about two seconds;
- `retries` with `option redispatch` resend a request whose connection to a receiver was *refused*
  (nothing reached the receiver, so resending it elsewhere cannot store it twice) to another one;
  HAProxy never retries a request a receiver may have started (`retry-on` stays `conn-failure`);
- connections to the receivers are kept alive and reused (HAProxy's default, `http-reuse safe`):
  a new connection per request would cost the receivers more than the request. When a receiver
  dies under a request that arrived on a kept-alive sender connection, HAProxy closes that
  connection without an answer, as the receiver would have, and the sender retries it; a request
  on a fresh connection gets a 502 (which the scale-out test traces);
- `X-Crossdock-Receiver` names the receiver that answered (or `<NOSRV>`), so a failed request can
  be traced to the receiver that was serving it;
- request bodies and secret headers (signatures, API keys) never reach HAProxy's log; with
  `trace=True` (the scale-out test) it logs one line per request: the receiver, the status, how
  the request ended and its `Idempotency-Key` (a delivery id, not a secret), nothing else.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.servers import stop

SERVED_BY = "X-Crossdock-Receiver"
CANDIDATES = ("/usr/sbin/haproxy", "/usr/bin/haproxy")


def haproxy_binary() -> str | None:
    """Debian's haproxy (`make haproxy` installs it), or None."""
    found = shutil.which("haproxy")
    return found or next((path for path in CANDIDATES if os.access(path, os.X_OK)), None)


TRACE = """    log stdout format raw local0
    capture request header Idempotency-Key len 80
    log-format "served_by=%s status=%ST ended=%ts delivery=%hr"
"""


def haproxy_config(port: int, receivers: Sequence[int], *, host: str = "127.0.0.1", maxconn: int = 4096, trace: bool = False) -> str:
    """The configuration for HAProxy on `host:port` in front of receivers on `receivers` ports."""
    servers = "\n".join(f"    server receiver{i} {host}:{p} check inter 1s fall 2 rise 1" for i, p in enumerate(receivers))
    return f"""global
    maxconn {maxconn}

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1

frontend webhooks
    bind {host}:{port}
    default_backend receivers
    http-after-response set-header {SERVED_BY} %s
{TRACE if trace else ""}
backend receivers
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
{servers}
"""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def haproxy(port: int, receivers: Sequence[int], *, log_path: Path | None = None, deadline_s: float = 20) -> Iterator[subprocess.Popen]:
    """Run HAProxy in the foreground on `port` until the block ends; with `log_path`, it traces each
    request there (see TRACE)."""
    binary = haproxy_binary()
    if binary is None:
        raise RuntimeError("haproxy is not installed: `make haproxy` installs Debian's package")
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "haproxy.cfg"
        config.write_text(haproxy_config(port, receivers, trace=log_path is not None))
        log_path = log_path or Path(folder) / "haproxy.log"
        log = open(log_path, "wb")  # closed below, after the process
        proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            until = time.monotonic() + deadline_s
            while not _listening(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"haproxy exited: {log_path.read_text()[-2000:]}")
                if time.monotonic() > until:
                    raise RuntimeError(f"haproxy did not listen on {port} within {deadline_s} s")
                time.sleep(0.05)
            yield proc
        finally:
            stop(proc, timeout=10)
            log.close()
