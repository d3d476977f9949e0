"""GET with the integration's auth, a timeout on every request, and retries that a flaky client API
deserves: exponential backoff on 5xx, timeouts and connection errors; `Retry-After` honoured on 429/503.

The timeout bounds the whole response, body included: requests' own timeout applies to each socket
read, so a server that drips a byte at a time would otherwise hold a poll for as long as it likes.
The body is streamed and the request abandoned once `api.timeout_seconds` have passed.

Every request goes through the outbound policy (`connectors.outbound`): the address each connection
reaches, redirects and `next_url` pages included, and credentials only to the endpoint's own origin. A
refused destination fails the pull at once (no retries: it will not change by waiting).

The sleeper is injectable so tests exercise the waits without waiting. No jitter: one poller per
integration, so there is no herd to spread.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3

from connectors.outbound import Credentials, GuardedSession, OutboundRefused, guarded_session
from connectors.response_body import read_into
from connectors.retry_after import retry_after_seconds
from pipelines.integrations.api_settings import ApiSettings
from pipelines.integrations.model import ApiIntegration
from pipelines.outbound import check_header_name, excerpt
from pipelines.sources import PullError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
HONOURS_RETRY_AFTER = frozenset({429, 503})


def safe_url(url: str) -> str:
    """The URL without its query string or userinfo: safe for messages and logs (queries may carry keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def session_for(config: ApiIntegration) -> GuardedSession:
    """A session under the outbound policy, carrying the integration's credentials to its endpoint's
    origin only (never to a redirect's or a `next_url`'s other host)."""
    secret = config.auth_value.get_secret_value() if config.auth_value else ""  # the model requires one for these auth types
    headers: dict[str, str] = {}
    if config.auth_type == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif config.auth_type == "apikey":
        try:
            headers[check_header_name(config.api.apikey_header)] = secret  # stored before the deny list, perhaps
        except ValueError as exc:
            raise PullError(f"api.apikey_header {exc}") from None
    elif config.auth_type == "basic":
        user, _, password = secret.partition(":")
        headers["Authorization"] = f"Basic {_basic(user, password)}"
    session = guarded_session(Credentials(config.endpoint or "", headers))
    session.headers["Accept"] = "application/json"
    session.headers["User-Agent"] = "Crossdock-Poller/1"
    return session


class HttpClient:
    def __init__(
        self,
        config: ApiIntegration,
        *,
        session: GuardedSession | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str, float], None] | None = None,
    ):
        self.settings: ApiSettings = config.api
        self.auth_type = config.auth_type
        self.session = session or session_for(config)
        self.secrets = _secrets(config)
        self.sleep = sleep
        self.on_retry = on_retry
        self.requests = 0
        self.retries = 0

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, requests.Response]:
        response, content = self.get(url, params)
        try:
            return orjson.loads(content), response
        except orjson.JSONDecodeError:
            kind = response.headers.get("Content-Type", "no content type")
            shown = excerpt(content, self.secrets)
            raise PullError(f"GET {safe_url(url)}: the response is not JSON ({excerpt(kind, limit=60)}): {shown!r}") from None

    def get(self, url: str, params: dict[str, Any] | None = None) -> tuple[requests.Response, bytes]:
        """The response and its whole body, within the timeout, retried as the settings say."""
        settings = self.settings
        timeout = settings.timeout_seconds
        for attempt in range(settings.max_retries + 1):
            wait = settings.backoff_seconds * (2**attempt)
            try:
                self.requests += 1
                started = time.monotonic()
                response = self.session.get(url, params=params, timeout=(timeout, timeout), stream=True)
                content = _body_within(response, started + timeout)
            except OutboundRefused as exc:
                raise PullError(f"GET {safe_url(url)}: refused by the outbound policy: {exc}") from None
            except requests.Timeout:
                problem = f"no complete answer within {timeout:g} s"
            except requests.ConnectionError as exc:
                problem = f"connection failed ({_reason(exc)})"
            except requests.RequestException as exc:  # e.g. a redirect or page to a file:// or gopher:// URL
                raise PullError(
                    f"GET {safe_url(url)}: the request could not be made ({type(exc).__name__}: only http and https URLs are followed)"
                ) from None
            else:
                if response.status_code < 400:
                    return response, content
                if response.status_code not in RETRYABLE_STATUS:
                    raise PullError(self._refusal(url, response, content))
                problem = f"HTTP {response.status_code}"
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                if response.status_code in HONOURS_RETRY_AFTER and asked is not None:
                    if asked > settings.max_backoff_seconds:
                        raise PullError(
                            f"GET {safe_url(url)}: HTTP {response.status_code}, the server asks to retry after "
                            f"{asked:g} s (more than api.max_backoff_seconds = {settings.max_backoff_seconds:g}); "
                            "the next poll will try again"
                        )
                    wait = asked
                    problem += f", Retry-After {asked:g} s"
            if attempt == settings.max_retries:
                raise PullError(f"GET {safe_url(url)}: {problem}; gave up after {settings.max_retries} retries")
            wait = min(wait, settings.max_backoff_seconds)
            self.retries += 1
            if self.on_retry:
                self.on_retry(problem, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def _refusal(self, url: str, response: requests.Response, content: bytes) -> str:
        where = f"GET {safe_url(url)}: HTTP {response.status_code} {excerpt(response.reason or '', limit=40)}"
        if response.status_code in (401, 403) and self.auth_type == "none":
            return f"{where}: the client API wants credentials; set auth_type and auth_value"
        if response.status_code in (401, 403):
            return f"{where}: the client API refused the credentials (auth_type {self.auth_type}); check auth_value"
        if response.status_code == 404:
            return f"{where}: check the integration's endpoint"
        shown = excerpt(content, self.secrets)
        return f"{where}: {shown}" if shown else where


def _body_within(response: requests.Response, deadline: float) -> bytes:
    """The whole body, or requests.Timeout once `deadline` (time.monotonic) passes mid-body."""
    body = bytearray()
    try:
        if not read_into(body, response, deadline):
            raise requests.Timeout("the body did not arrive in time")
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.Timeout(str(exc)) from None
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError) as exc:
        raise requests.ConnectionError(str(exc)) from None
    finally:
        response.close()
    return bytes(body)


def _secrets(config: ApiIntegration) -> tuple[str, ...]:
    """What a response must never echo back into a message: the credential, and its parts for basic auth."""
    if not config.auth_value:
        return ()
    secret = config.auth_value.get_secret_value()
    if config.auth_type != "basic":
        return (secret,)
    user, _, password = secret.partition(":")
    return tuple(s for s in (secret, password, _basic(user, password)) if s)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode("latin-1", errors="replace")).decode("ascii")


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc.args[0] if exc.args else exc)
    for marker in ("Connection refused", "Name or service not known", "Connection reset", "Remote end closed"):
        if marker in text:
            return marker.lower()
    return text.split(":")[-1].strip(" )'\"") or "unreachable"
