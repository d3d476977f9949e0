"""Replaying several dead letters at once, as a person ticks them in the admin app: each id goes through
its own replay (`pipelines.inbox.processing.replay`, `pipelines.callbacks.replay_callback`), so a row
that cannot be replayed (already pending, delivered meanwhile, its integration's callbacks stopped) is
reported with its reason and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from pipelines.callbacks.replay import CallbackNotFound, ReplayRejected, replay_callback
from pipelines.inbox.processing import InboxRowNotFound, NotReplayable, replay


@dataclass
class ReplayOutcome:
    """Which ids were replayed, and why each of the others was not."""

    replayed: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def replay_inbox_rows(engine: sa.Engine, ids: Iterable[int], *, actor: str, include_record_errors: bool = False) -> ReplayOutcome:
    """Send each inbox row back to pending (dead rows; with `include_record_errors`, also done rows
    whose sync run rejected records), one row per transaction, recording `actor` as who replayed it."""
    outcome = ReplayOutcome()
    for inbox_id in dict.fromkeys(ids):
        try:
            replay(engine, actor=actor, inbox_id=inbox_id, include_record_errors=include_record_errors)
        except (InboxRowNotFound, NotReplayable) as exc:
            outcome.refused[inbox_id] = str(exc)
        else:
            outcome.replayed.append(inbox_id)
    return outcome


def replay_callback_rows(engine: sa.Engine, ids: Iterable[int], *, actor: str) -> ReplayOutcome:
    """Re-queue each dead or disabled callback, recording `actor` as who replayed it."""
    outcome = ReplayOutcome()
    for outbox_id in dict.fromkeys(ids):
        try:
            replay_callback(engine, outbox_id, actor=actor)
        except (CallbackNotFound, ReplayRejected) as exc:
            outcome.refused[outbox_id] = str(exc)
        else:
            outcome.replayed.append(outbox_id)
    return outcome
