"""Listening ports: claim one for a server, or check one is free, with an error that names the variable."""

from __future__ import annotations

import errno
import socket


class PortBusy(RuntimeError):
    """A port Crossdock needs is taken; the message says which and which variable moves it."""


def claim(host: str, port: int, variable: str) -> socket.socket:
    """A socket bound and listening on host:port, handed to the server as is (no window in which
    another process could take the port between the check and the start)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortBusy(f"port {port} on {host} is already in use; set {variable} to a free port") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise PortBusy(f"cannot listen on {host}:{port} ({exc.strerror}); check CROSSDOCK_HOST and {variable}") from None
        raise
    sock.set_inheritable(True)
    return sock


def ensure_free(host: str, port: int, variable: str) -> None:
    """Raise `PortBusy` when host:port cannot be listened on right now."""
    claim(host, port, variable).close()
