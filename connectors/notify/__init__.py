"""Sending alert notifications: one function per channel kind behind `send`, the channels' "send a
test", and `deliver_due`, which empties the notification outbox within a time budget.

Each channel sends on its own thread with its own short timeouts, so a channel that hangs or fails
never holds up another; its failure is recorded on the channel (shown on the dashboard) and on the
notification, which is retried on the outbox's backoff.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from connectors.notify.chat import send_chat
from connectors.notify.email import send_alert
from connectors.notify.http import SendFailed
from connectors.notify.webhook import send_webhook
from pipelines.alerts.channels import Channel, ChannelNotFound, channel_for_sending, record_outcome
from pipelines.alerts.outbox import AlertMessage, Claimed, channel_test_message, claim_due, settle
from pipelines.secrets import SecretKeyError

log = logging.getLogger("crossdock.alerts")
DEFAULT_BUDGET_SECONDS = 30.0
MAX_CHANNEL_THREADS = 8
# The longest one send may take once started (a channel's timeout is at most 30 s), and a margin.
MAX_SEND_SECONDS = 31.0


def send(channel: Channel, message: AlertMessage) -> str:
    """Send one message; returns where it went ("email to ops@example.com", "Slack (HTTP 200)"),
    raises SendFailed with a reason safe to show."""
    if channel.kind == "email":
        return send_alert(channel.settings, message)
    if channel.kind in ("slack", "teams", "google_chat"):
        return send_chat(channel.kind, channel.settings, message)
    if channel.kind == "webhook":
        return send_webhook(channel.settings, message)
    raise SendFailed(f"unknown channel kind {channel.kind!r}")


def _attempt(channel: Channel, message: AlertMessage) -> tuple[str | None, str]:
    try:
        return None, send(channel, message)
    except SendFailed as exc:
        return str(exc), ""
    except Exception as exc:
        log.exception("alert channel %s failed unexpectedly", channel.name)
        return f"unexpected {type(exc).__name__}", ""


def send_test(engine: sa.Engine, channel_id: int) -> tuple[bool, str]:
    """The "send a test" button: (worked, where it went or why not). Recorded on the channel's health."""
    channel = channel_for_sending(engine, channel_id)
    error, where = _attempt(channel, channel_test_message(channel.name))
    record_outcome(engine, channel_id, error)
    return error is None, error or where


@dataclass
class DeliveryPass:
    sent: int = 0
    failed: int = 0
    unfinished: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # channel name -> last error

    def summary(self) -> str:
        text = f"{self.sent} notification(s) sent, {self.failed} failed"
        if self.unfinished:
            text += f", {self.unfinished} still sending past the budget"
        if self.errors:
            text += "; failing: " + "; ".join(f"{name}: {error}" for name, error in sorted(self.errors.items()))
        return text


def _send_channel(engine: sa.Engine, channel_id: int, rows: list[Claimed], result: DeliveryPass, deadline: float) -> None:
    try:
        channel = channel_for_sending(engine, channel_id)
    except ChannelNotFound:
        return  # deleted meanwhile: its rows went with it
    except (SecretKeyError, ValueError) as exc:  # its secrets cannot be read, or its stored settings no longer validate
        error = f"the channel cannot be used: {type(exc).__name__}: {exc}"
        for claimed in rows:
            settle(engine, claimed, error, "")
        record_outcome(engine, channel_id, error)
        result.failed += len(rows)
        result.errors[str(channel_id)] = error
        return
    for claimed in rows:
        if time.monotonic() > deadline:
            result.unfinished += 1
            continue  # its lease runs out and the next pass takes it
        error, where = _attempt(channel, claimed.message)
        settle(engine, claimed, error, where)
        record_outcome(engine, channel_id, error)
        if error is None:
            result.sent += 1
        else:
            result.failed += 1
            result.errors[channel.name] = error


def deliver_due(engine: sa.Engine, budget_seconds: float = DEFAULT_BUDGET_SECONDS, now: datetime | None = None) -> DeliveryPass:
    """Send every due notification, each channel on its own thread; returns within about the budget
    plus one send's timeout (a send under way is never cut off; unsent rows wait for the next pass)."""
    result = DeliveryPass()
    claimed = claim_due(engine, now)
    if not claimed:
        return result
    per_channel: dict[int, list[Claimed]] = defaultdict(list)
    for row in claimed:
        per_channel[row.channel_id].append(row)
    deadline = time.monotonic() + budget_seconds
    pool = ThreadPoolExecutor(max_workers=min(MAX_CHANNEL_THREADS, len(per_channel)), thread_name_prefix="alert-channel")
    futures = [pool.submit(_send_channel, engine, channel_id, rows, result, deadline) for channel_id, rows in per_channel.items()]
    wait(futures, timeout=budget_seconds + MAX_SEND_SECONDS)
    pool.shutdown(wait=False)
    return result
