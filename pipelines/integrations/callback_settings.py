"""How status callbacks are delivered to an integration's `callback_url`."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

# Svix's schedule: soon after a blip, then spreading out over a day before giving up.
DEFAULT_RETRY_SCHEDULE = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]


class CallbackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retry_schedule_seconds: list[NonNegativeInt] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        max_length=20,
        description="wait before each retry; after the last one the callback is dead-lettered",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="a 2xx must arrive within this")
    # Spreads the retries of many callbacks that failed together (an outage) so they do not all hit
    # the client again in the same second when it comes back.
    jitter_ratio: float = Field(
        0.2, ge=0, le=1, description="each retry waits its scheduled delay times a random factor in 1 ± this"
    )
    max_retry_after_seconds: int = Field(
        36_000, ge=0, le=7 * 86_400, description="longest Retry-After (429/503) honoured; longer waits are cut to this"
    )
