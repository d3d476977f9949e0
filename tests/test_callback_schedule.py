"""The retry policy as pure functions: schedule, jitter, Retry-After, dead letters, 410, signing."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from connectors.callback_sender import SIGNATURE_HEADER, describe_failure, signed_headers
from connectors.retry_after import retry_after_seconds
from pipelines.callbacks.schedule import decide, retry_delay
from pipelines.integrations.callback_settings import DEFAULT_RETRY_SCHEDULE, CallbackSettings

NOW = datetime(2024, 1, 15, 15, 30, tzinfo=UTC)


def verdict(code, *, error=None, attempts=1, retry_after=None, settings=None, seed=1):
    return decide(
        status_code=code,
        error=error,
        retry_after=retry_after,
        attempts_made=attempts,
        settings=settings or CallbackSettings(jitter_ratio=0),
        now=NOW,
        rng=random.Random(seed),
    )


def test_default_schedule_is_svix_like():
    assert DEFAULT_RETRY_SCHEDULE == [5, 300, 1800, 7200, 18000, 36000, 36000]


def test_each_failure_waits_the_next_delay_then_dead_letters():
    waits = [verdict(500, attempts=n).next_attempt_at - NOW for n in range(1, 8)]
    assert waits == [timedelta(seconds=s) for s in DEFAULT_RETRY_SCHEDULE]
    assert verdict(500, attempts=8).kind == "dead"  # 1 try + 7 retries


def test_jitter_stays_within_its_ratio():
    settings = CallbackSettings(jitter_ratio=0.2)
    rng = random.Random(7)
    delays = [retry_delay(settings, 2, rng) for _ in range(500)]
    assert all(240 <= d <= 360 for d in delays)
    assert len({round(d, 3) for d in delays}) > 400  # actually spread


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(code):
    assert verdict(code).kind == "delivered"


@pytest.mark.parametrize("code", [301, 400, 401, 404, 429, 500, 502, 503])
def test_everything_else_is_retried(code):
    assert verdict(code).kind == "retry"


def test_a_2xx_after_the_timeout_is_a_failure():
    assert verdict(200, error="answered 200 after 12.0 s, over the 10 s timeout").kind == "retry"


def test_410_disables_even_on_the_last_try():
    assert verdict(410).kind == "disabled"
    assert verdict(410, attempts=8).kind == "disabled"


def test_retry_after_replaces_the_delay_and_is_capped():
    assert verdict(429, retry_after=42).next_attempt_at == NOW + timedelta(seconds=42)
    capped = verdict(503, retry_after=10**9, settings=CallbackSettings(max_retry_after_seconds=600, jitter_ratio=0))
    assert capped.next_attempt_at == NOW + timedelta(seconds=600)
    assert verdict(429, retry_after=42, attempts=8).kind == "dead"  # Retry-After adds no tries


def test_retry_after_header_forms():
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds("Mon, 15 Jan 2024 15:31:30 GMT", NOW) == 90
    assert retry_after_seconds("Mon, 15 Jan 2024 15:00:00 GMT", NOW) == 0  # already past
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_both_signatures_verify_as_a_client_would():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"event":"assigned"}'
    sent = datetime.now(UTC)
    headers = signed_headers(secret, "msg_1", body, sent, "assigned")
    assert Webhook(secret).verify(body, headers) == {"event": "assigned"}
    assert headers[SIGNATURE_HEADER] == hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == str(int(sent.timestamp()))
    assert secret not in str(headers)


def test_failure_descriptions_never_carry_the_url():
    import requests

    exc = requests.ConnectionError(
        "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /cb?token=SECRET "
        "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"
    )
    assert describe_failure(exc, 10) == "connection failed: Connection refused"
    assert describe_failure(requests.ReadTimeout("url /cb?token=SECRET"), 2.5) == "no response within 2.5 s"
