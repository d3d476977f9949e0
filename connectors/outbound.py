"""Every outbound HTTP request goes through here: a requests session whose connections check the
outbound policy (`pipelines.outbound`) on the address they actually connect to, and which sends the
integration's credentials to the configured origin only.

Why at connect time: a host name is resolved when the socket is opened, and may resolve differently
from one request to the next (DNS rebinding), so checking the name when the URL is saved, or resolving
it once before the request, proves nothing. The connection classes below resolve the name themselves,
judge every address it gives, and connect only to an allowed one: the address judged is the address
connected to. Every hop of a redirect and every `next_url` page opens its connection the same way.

Through a proxy (HTTP(S)_PROXY, which the operator configures) the socket goes to the proxy, which
resolves the destination itself: the destination is then judged by resolving it here before the
request, which a rebinding name could still get around. Installs that must rule that out do not set a
proxy for client destinations (NO_PROXY).

Credentials: `GuardedSession(credentials=...)` adds the integration's Authorization / API key header
only to requests whose origin (scheme, host, port) is the configured endpoint's (or its https upgrade),
and strips every credential header before a redirect or a page elsewhere is sent. .netrc is never read.

Later channels (alert webhooks…) use `guarded_session()` and get the same policy.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family

from pipelines.outbound import OutboundPolicyError, Refusal, decide, disguise, ip_of, refused_name

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(requests.exceptions.ConnectionError):
    """The outbound policy refused the destination; the message says why and how to allow it (an
    internal address) or that it never can be (link-local, cloud metadata). Not worth retrying."""


class _Refused(Exception):
    """Raised inside urllib3 (deliberately not an OSError, so urllib3 neither wraps nor retries it)."""

    def __init__(self, refusal: Refusal | str):
        super().__init__(str(refusal))


def guarded_connect(host: str, port: int, timeout: Any, source_address: Any, socket_options: Any) -> socket.socket:
    """urllib3's create_connection, judging each address `host` resolves to before connecting to it."""
    name = host.strip("[]")
    refusal = refused_name(name) or disguise(name)
    if refusal is not None:
        raise _Refused(refusal)
    refusals: list[Refusal] = []
    error: OSError | None = None
    for family, kind, proto, _canon, address in socket.getaddrinfo(name, port, allowed_gai_family(), socket.SOCK_STREAM):
        refused = decide(name, ip_of(address[0]), port)
        if refused is not None:
            refusals.append(refused)
            continue
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(address)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    if error is not None:
        raise error
    if refusals:
        raise _Refused(refusals[0])
    raise OSError("getaddrinfo returned no address")


class _GuardedConnectionMixin:
    """`_new_conn` as urllib3's, with the policy's connect. A connection to the operator's proxy is not
    judged (the destination is, in GuardedAdapter.send)."""

    def _new_conn(self) -> socket.socket:
        if getattr(self, "proxy", None) is not None:
            return super()._new_conn()  # type: ignore[misc]
        try:
            return self._guarded()
        except OutboundPolicyError as exc:  # the allow list itself is unusable: say so, as a refusal
            raise _Refused(str(exc)) from None

    def _guarded(self) -> socket.socket:
        try:
            return guarded_connect(
                self._dns_host,
                self.port,
                self.timeout,
                self.source_address,  # type: ignore[attr-defined]
                self.socket_options,
            )  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined,arg-type]
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc  # type: ignore[attr-defined]
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc  # type: ignore[arg-type]


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


_POOLS = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def _destination_refusal(url: str) -> Refusal | None:
    """For a request through a proxy: judge what the destination resolves to now."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
    found = refused_name(host) or disguise(host)
    if found is not None:
        return found
    try:
        resolved = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except OSError:
        return None  # the proxy will answer that it cannot resolve it
    for *_rest, address in resolved:
        refused = decide(host, ip_of(address[0]), port)
        if refused is not None:
            return refused
    return None


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools open their sockets through `guarded_connect`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if requests.utils.select_proxy(url, kwargs.get("proxies")):
            try:
                refusal = _destination_refusal(url)
            except OutboundPolicyError as exc:
                raise OutboundRefused(str(exc), request=request) from None
            if refusal is not None:
                raise OutboundRefused(str(refusal), request=request)
        try:
            return super().send(request, *args, **kwargs)
        except _Refused as exc:
            raise OutboundRefused(str(exc), request=request) from None


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower().rstrip("."), parts.port or _DEFAULT_PORTS.get(scheme, 80)


@dataclass(frozen=True)
class Credentials:
    """Headers that carry a credential, and the one origin they may be sent to."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def may_go_to(self, url: str) -> bool:
        home, there = origin(self.url), origin(url)
        if there == home:
            return True
        # the endpoint's own http -> https upgrade on the default ports (as requests allows for Authorization)
        return home[0] == "http" and home[2] == 80 and there == ("https", home[1], 443)


class GuardedSession(requests.Session):
    """A session every request of which is judged by the outbound policy, on every hop, and which
    sends `credentials` to their origin only. Never reads .netrc."""

    def __init__(self, credentials: Credentials | None = None):
        super().__init__()
        self.credentials = credentials
        for prefix in ("http://", "https://"):
            self.mount(prefix, GuardedAdapter())
        self.auth = self._apply  # set, so requests never fills it from .netrc

    def _apply(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        names = {"authorization"}
        if self.credentials is not None:
            names |= {name.lower() for name in self.credentials.headers}
        for name in list(prepared.headers):
            if name.lower() in names:
                del prepared.headers[name]
        if self.credentials is not None and self.credentials.may_go_to(prepared.url or ""):
            prepared.headers.update(self.credentials.headers)
        return prepared

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect: credentials only if the new URL is still the configured origin."""
        self._apply(prepared_request)


def guarded_session(credentials: Credentials | None = None, *, trust_env: bool = True) -> GuardedSession:
    """A session for an outbound channel. `trust_env=False`: no proxy from the environment either."""
    session = GuardedSession(credentials)
    session.trust_env = trust_env
    return session
