"""Outbound HTTP for notifications, made in one place: every chat and webhook channel posts through a
session from `notify_session()`:
it is the outbound policy's guarded session (`connectors.outbound`): cloud metadata and link-local
addresses are always refused, internal ones unless CROSSDOCK_OUTBOUND_ALLOW lists them, checked at connect time.

Like status callbacks: no proxy or `.netrc` credentials taken from the environment behind our back
(the environment's proxy is passed per URL), and redirects are never followed (a webhook URL that
redirects is a failure, and a signed alert never goes anywhere else).
"""

from __future__ import annotations

import requests

from connectors.callback_sender import describe_failure, proxies_for
from connectors.outbound import guarded_session

USER_AGENT = "Crossdock-Alerts/0.1"
CONNECT_TIMEOUT = 5.0
EXCERPT_CHARS = 200


def notify_session() -> requests.Session:
    session = guarded_session(trust_env=False)
    session.headers.clear()
    return session


class SendFailed(Exception):
    """A channel did not take the message; the text is safe to show (it never holds the URL)."""


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str:
    """POST `body`; the answer's status on success, SendFailed with a safe reason otherwise."""
    with notify_session() as session:
        try:
            answer = session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
                timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                allow_redirects=False,
                proxies=proxies_for(url),
            )
        except requests.RequestException as exc:
            raise SendFailed(describe_failure(exc, timeout)) from None
    if not 200 <= answer.status_code < 300:
        excerpt = " ".join(answer.text[:EXCERPT_CHARS].split())
        raise SendFailed(f"HTTP {answer.status_code}" + (f": {excerpt}" if excerpt else ""))
    return f"HTTP {answer.status_code}"
