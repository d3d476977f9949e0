"""GET with the integration's auth, a timeout on every request, and retries that a flaky client API
deserves: exponential backoff on 5xx, timeouts and connection errors; `Retry-After` honoured on 429/503.

The timeout bounds the whole response, body included: requests' own timeout applies to each socket
read, so a server that drips a byte at a time would otherwise hold a poll for as long as it likes.
The body is streamed and the request abandoned once `api.timeout_seconds` have passed.

The sleeper is injectable so tests exercise the waits without waiting. No jitter: one poller per
integration, so there is no herd to spread.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import urllib3

from connectors.response_body import read_into
from connectors.retry_after import retry_after_seconds
from pipelines.integrations.api_settings import ApiSettings
from pipelines.integrations.model import Integration
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


def session_for(config: Integration) -> requests.Session:
    """A session carrying the integration's credentials on every request."""
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    session.headers["User-Agent"] = "Crossdock-Poller/1"
    secret = config.auth_value.get_secret_value() if config.auth_value else ""  # the model requires one for these auth types
    if config.auth_type == "bearer":
        session.headers["Authorization"] = f"Bearer {secret}"
    elif config.auth_type == "apikey":
        session.headers[config.api.apikey_header] = secret
    elif config.auth_type == "basic":
        user, _, password = secret.partition(":")
        session.auth = (user, password)
    return session


class HttpClient:
    def __init__(
        self,
        config: Integration,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str, float], None] | None = None,
    ):
        self.settings: ApiSettings = config.api
        self.auth_type = config.auth_type
        self.session = session or session_for(config)
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
            excerpt = _excerpt(content, 120)
            raise PullError(f"GET {safe_url(url)}: the response is not JSON ({kind}): {excerpt!r}") from None

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
            except requests.Timeout:
                problem = f"no complete answer within {timeout:g} s"
            except requests.ConnectionError as exc:
                problem = f"connection failed ({_reason(exc)})"
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
        where = f"GET {safe_url(url)}: HTTP {response.status_code} {response.reason}"
        if response.status_code in (401, 403) and self.auth_type == "none":
            return f"{where}: the client API wants credentials; set auth_type and auth_value"
        if response.status_code in (401, 403):
            return f"{where}: the client API refused the credentials (auth_type {self.auth_type}); check auth_value"
        if response.status_code == 404:
            return f"{where}: check the integration's endpoint"
        excerpt = _excerpt(content, 200)
        return f"{where}: {excerpt}" if excerpt else where


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


def _excerpt(content: bytes, limit: int) -> str:
    return content[:limit].decode("utf-8", errors="replace").replace("\n", " ")


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc.args[0] if exc.args else exc)
    for marker in ("Connection refused", "Name or service not known", "Connection reset", "Remote end closed"):
        if marker in text:
            return marker.lower()
    return text.split(":")[-1].strip(" )'\"") or "unreachable"
