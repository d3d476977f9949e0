"""Status callbacks to client systems: the outbox, payloads, retry schedule, dead letters, replay.

The HTTP side (signing, sending, the delivery loop) is `connectors.callback_sender`.
"""

from pipelines.callbacks.outbox import AttemptResult, DueCallback, claim_due, due_now, settle
from pipelines.callbacks.queries import (
    CALLBACK_STATUSES,
    attempts_for,
    callback_summary,
    get_callback,
    list_callbacks,
    order_callbacks,
)
from pipelines.callbacks.replay import (
    CallbackNotFound,
    ReplayRejected,
    replay_callback,
    replay_dead_callbacks,
    resume_callbacks,
)
from pipelines.callbacks.targets import CallbackTarget, load_targets

__all__ = [
    "CALLBACK_STATUSES",
    "AttemptResult",
    "CallbackNotFound",
    "CallbackTarget",
    "DueCallback",
    "ReplayRejected",
    "attempts_for",
    "callback_summary",
    "claim_due",
    "due_now",
    "get_callback",
    "list_callbacks",
    "load_targets",
    "order_callbacks",
    "replay_callback",
    "replay_dead_callbacks",
    "resume_callbacks",
    "settle",
]
