"""What happens to a callback after one attempt: delivered, retried later, dead-lettered, or disabled.

Pure functions over the attempt's result, the integration's `CallbackSettings`, a `now` and a random
source, so the whole retry policy is testable without a clock or a network.

- 2xx within the timeout: delivered.
- 410 Gone: the client retired the endpoint; the integration's callbacks are disabled (not retried).
- anything else: retried after the next delay of the schedule (1 + len(schedule) tries in all), times
  a jitter factor; a 429/503 `Retry-After` replaces that delay (capped), it does not add tries.
- no delay left: dead letter, kept for a person to replay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipelines.integrations.callback_settings import CallbackSettings
from pipelines.vocabulary import AttemptVerdict

VerdictKind = AttemptVerdict


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    next_attempt_at: datetime | None = None


def retry_delay(settings: CallbackSettings, attempts_made: int, rng: random.Random) -> float | None:
    """Seconds to wait after the `attempts_made`-th failed try, or None when the schedule is spent."""
    index = attempts_made - 1
    if index >= len(settings.retry_schedule_seconds):
        return None
    base = float(settings.retry_schedule_seconds[index])
    jitter = settings.jitter_ratio
    return base * rng.uniform(1 - jitter, 1 + jitter) if jitter else base


def succeeded(status_code: int | None, error: str | None) -> bool:
    return error is None and status_code is not None and 200 <= status_code < 300


def decide(
    *,
    status_code: int | None,
    error: str | None,
    retry_after: float | None,
    attempts_made: int,
    settings: CallbackSettings,
    now: datetime,
    rng: random.Random,
) -> Verdict:
    """The verdict on one attempt; `attempts_made` counts it (1 after the first try)."""
    if succeeded(status_code, error):
        return Verdict(AttemptVerdict.DELIVERED)
    if status_code == 410:
        return Verdict(AttemptVerdict.DISABLED)
    delay = retry_delay(settings, attempts_made, rng)
    if delay is None:
        return Verdict(AttemptVerdict.DEAD)
    if retry_after is not None:
        delay = min(max(retry_after, 0.0), float(settings.max_retry_after_seconds))
    return Verdict(AttemptVerdict.RETRY, now + timedelta(seconds=delay))
