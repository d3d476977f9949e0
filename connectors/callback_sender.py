"""Sends queued status callbacks to client systems: signing, HTTP, and the delivery pass.

Each request is a POST of the stored payload (byte-identical on every retry) with:

- `X-Crossdock-Signature`: hex HMAC-SHA256 of the raw body, keyed with the integration's callback
  secret as text (`whsec_...`), the scheme the Logitrack plan's `verifyWebhook` checks;
- Standard Webhooks headers, signed with the `standardwebhooks` package: `webhook-id` (the outbox
  row's id, stable across retries, for the receiver's deduplication), `webhook-timestamp` (when this
  attempt was sent) and `webhook-signature` (`v1,<base64>`), so receivers can use any Standard
  Webhooks library with the same secret;
- `X-Crossdock-Event`: the event name;
- during a secret rotation's overlap (`callbacks.rotation_overlap_hours`, default 24 h), the previous
  secret's signatures too: a second entry in `webhook-signature` and `X-Crossdock-Signature-Previous`.

Success is a 2xx that arrives within the integration's timeout (redirects are not followed: a 3xx is
a failure, and a signed payload never goes anywhere else). Every request goes through the outbound
policy (`connectors.outbound`): a callback_url that resolves to a refused address is a failed attempt
whose error says why. What is read back of a response for the attempt log is short (EXCERPT_CHARS)
and never holds the callback secret. A pass claims due callbacks, sends them on
a thread pool (concurrency across orders; one row per order at a time, see `pipelines.callbacks.outbox`),
and settles results in batches so the store sees a few statements per hundreds of callbacks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import orjson
import requests
import sqlalchemy as sa
from requests.structures import CaseInsensitiveDict
from standardwebhooks import Webhook

from connectors.outbound import OutboundRefused, guarded_session
from connectors.response_body import read_into
from connectors.retry_after import retry_after_seconds
from pipelines.callbacks import AttemptResult, CallbackTarget, DueCallback, claim_due, due_now, load_targets, settle
from pipelines.callbacks.outbox import Settled
from pipelines.clock import utcnow
from pipelines.integrations.callback_settings import CallbackSettings
from pipelines.outbound import excerpt as shown_excerpt
from pipelines.store.engine import reader
from pipelines.vocabulary import AttemptVerdict

SIGNATURE_HEADER = "X-Crossdock-Signature"
PREVIOUS_SIGNATURE_HEADER = "X-Crossdock-Signature-Previous"
EVENT_HEADER = "X-Crossdock-Event"
USER_AGENT = "Crossdock-Callbacks/0.1"
EXCERPT_BYTES = 2_048  # read at most this much of a response; the connection is dropped past it
EXCERPT_CHARS = 200
LEASE_MARGIN_SECONDS = 30

log = logging.getLogger("crossdock.callbacks")
Clock = Callable[[], datetime]


@lru_cache(maxsize=256)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def signed_headers(
    secret: str, webhook_id: str, body: bytes, sent_at: datetime, event: str, previous_secret: str | None = None
) -> dict[str, str]:
    """Every header a callback carries, signatures included. During a rotation's overlap the previous
    secret signs too: a second `v1,` entry in `webhook-signature` (Standard Webhooks libraries accept
    any listed signature) and its hex HMAC in `X-Crossdock-Signature-Previous`."""
    signers = [secret] + ([previous_secret] if previous_secret and previous_secret != secret else [])
    text = body.decode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        SIGNATURE_HEADER: _hex_hmac(secret, body),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(math.floor(sent_at.timestamp())),
        "webhook-signature": " ".join(_webhook(key).sign(webhook_id, sent_at, text) for key in signers),
    }
    if len(signers) > 1:
        headers[PREVIOUS_SIGNATURE_HEADER] = _hex_hmac(previous_secret, body)
    return headers


def _hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed request. Built from the exception's kind, never its text as a
    whole: requests puts the URL (which may carry a token) into its messages."""
    if isinstance(exc, OutboundRefused):
        return f"refused by the outbound policy: {exc}"
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect within {timeout:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"no response within {timeout:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    text = str(exc)
    if isinstance(exc, requests.ConnectionError):
        found = _ERRNO.search(text)
        if found:
            return f"connection failed: {found.group(1).strip()}"
        if "RemoteDisconnected" in text or "without response" in text:
            return "connection closed without a response"
        if "reset" in text.lower():
            return "connection reset"
        return "connection failed"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
        return "the callback_url is not a usable URL"
    return f"request failed ({type(exc).__name__})"


@lru_cache(maxsize=256)
def proxies_for(url: str) -> dict[str, str]:
    """The environment's proxy for `url` (HTTP(S)_PROXY, NO_PROXY), looked up once per URL: requests
    would re-read the whole environment on every request, a third of a callback's CPU time."""
    return requests.utils.get_environ_proxies(url)


@lru_cache(maxsize=256)
def _post_to(url: str) -> requests.PreparedRequest:
    return requests.Request("POST", url).prepare()


def prepared_post(url: str, body: bytes, headers: dict[str, str]) -> requests.PreparedRequest:
    """The POST, prepared from a per-URL template: parsing and normalising the URL once instead of
    per callback saves about a quarter of the client's CPU per request."""
    prepared = _post_to(url).copy()
    prepared.headers = CaseInsensitiveDict({**headers, "Content-Length": str(len(body))})
    prepared.body = body
    return prepared


def new_session() -> requests.Session:
    """A session under the outbound policy. No credentials: a callback is authenticated by its signatures."""
    session = guarded_session(trust_env=False)  # proxies come from proxies_for(); never .netrc credentials
    session.headers.clear()  # only what signed_headers sets
    return session


def send_callback(session: requests.Session, target: CallbackTarget, callback: DueCallback, attempted_at: datetime) -> AttemptResult:
    """One POST of one callback; never raises (every failure becomes the attempt's error)."""
    if not target.url:
        return AttemptResult(callback, attempted_at, None, None, error=f"{target.name} has no callback_url")
    if not target.secret:
        return AttemptResult(callback, attempted_at, None, None, error=f"{target.name} has no callback_secret")
    timeout = target.settings.timeout_seconds
    body = orjson.dumps(callback.payload)
    headers = signed_headers(target.secret, callback.webhook_id, body, utcnow(), callback.event, previous_secret=target.previous_secret)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    try:
        with session.send(
            prepared_post(target.url, body, headers),
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            proxies=proxies_for(target.url),
        ) as response:
            latency_ms = (time.perf_counter() - started) * 1000  # the answer is its status line
            excerpt = _excerpt_within(response, deadline)
            code = response.status_code
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), attempted_at) if code in (429, 503) else None
    except Exception as exc:  # noqa: BLE001 - a client's endpoint can fail in any way; each is one failed attempt
        latency_ms = (time.perf_counter() - started) * 1000
        return AttemptResult(callback, attempted_at, None, latency_ms, error=describe_failure(exc, timeout))
    error = None
    if latency_ms > timeout * 1000:
        error = f"answered {code} after {latency_ms / 1000:.1f} s, over the {timeout:g} s timeout"
    text = shown_excerpt(excerpt, (target.secret, target.previous_secret), EXCERPT_CHARS) or None
    return AttemptResult(callback, attempted_at, code, round(latency_ms, 2), error, text, retry_after)


def _excerpt_within(response: requests.Response, deadline: float) -> bytes:
    """Up to EXCERPT_BYTES of the body, for the attempt log, read only until `deadline`
    (time.monotonic): the status already decided the attempt, and an endpoint that drips its body
    must not hold a delivery worker."""
    excerpt = bytearray()
    try:
        read_into(excerpt, response, deadline, limit=EXCERPT_BYTES)
    except Exception:  # noqa: BLE001 - a body that breaks off is still an answer; keep what arrived
        pass
    return bytes(excerpt)


@dataclass
class IntegrationDeliveries:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    disabled: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def latency(self, quantile: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return round(ordered[min(len(ordered) - 1, int(quantile * len(ordered)))], 2)


_COLUMN = {
    AttemptVerdict.DELIVERED: "delivered",
    AttemptVerdict.RETRY: "retried",
    AttemptVerdict.DEAD: "dead",
    AttemptVerdict.DISABLED: "disabled",
}


@dataclass
class DeliveryReport:
    """What one pass did, per integration name."""

    by_integration: dict[str, IntegrationDeliveries] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, settled: Settled) -> None:
        counts = self.by_integration.setdefault(name, IntegrationDeliveries())
        column = _COLUMN[settled.verdict.kind]
        setattr(counts, column, getattr(counts, column) + 1)
        if settled.result.latency_ms is not None:
            counts.latencies_ms.append(settled.result.latency_ms)

    @property
    def attempts(self) -> int:
        return sum(c.delivered + c.retried + c.dead + c.disabled for c in self.by_integration.values())

    def total(self, kind: str) -> int:
        return sum(getattr(c, kind) for c in self.by_integration.values())

    def rows(self) -> list[dict]:
        return [
            {
                "integration": name,
                "delivered": c.delivered,
                "retried": c.retried,
                "dead": c.dead,
                "disabled": c.disabled,
                "latency_p50_ms": c.latency(0.5),
                "latency_p95_ms": c.latency(0.95),
            }
            for name, c in sorted(self.by_integration.items())
        ]

    def absorb(self, other: DeliveryReport) -> None:
        """Add another pass's counts to this report (a following run sums its passes)."""
        for name, theirs in other.by_integration.items():
            mine = self.by_integration.setdefault(name, IntegrationDeliveries())
            for column in ("delivered", "retried", "dead", "disabled"):
                setattr(mine, column, getattr(mine, column) + getattr(theirs, column))
            mine.latencies_ms.extend(theirs.latencies_ms)

    def summary(self) -> str:
        return (
            f"{self.attempts} attempts in {self.seconds:.1f} s: {self.total('delivered')} delivered, "
            f"{self.total('retried')} to retry, {self.total('dead')} dead-lettered, {self.total('disabled')} stopped by 410"
        )


class CallbackSender:
    """Delivery passes over the outbox. `clock` decides what is due and when retries happen (tests
    inject one); `rng` draws the retry jitter. Use as a context manager (it owns a thread pool)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        workers: int = 16,
        max_in_flight: int | None = None,
        flush_every: int = 256,
        flush_interval: float = 0.2,
    ):
        self.engine = engine
        self.clock = clock
        self.rng = rng or random.Random()
        self.workers = workers
        self.max_in_flight = max_in_flight or workers * 8
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="callback")
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def __enter__(self) -> CallbackSender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = new_session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def deliver_due(self, *, integration_ids: Sequence[int] | None = None, max_seconds: float | None = None) -> DeliveryReport:
        """Deliver everything due now (and what becomes due as earlier events of the same orders
        settle), until nothing is due or `max_seconds` have passed. Rows retried later stay queued."""
        started = time.perf_counter()
        report = DeliveryReport()
        targets = load_targets(self.engine, self.clock())
        stopped: set[int] = set()  # integrations that answered 410 during this pass
        timeouts = [t.settings.timeout_seconds for t in targets.values() if t.url] or [10.0]
        lease = timedelta(seconds=(self.max_in_flight / self.workers + 1) * max(timeouts) + LEASE_MARGIN_SECONDS)
        in_flight: dict[Future, DueCallback] = {}
        finished: list[AttemptResult] = []
        last_flush = time.perf_counter()
        may_have_due = True  # false after an empty claim, until a settle may have unblocked later events

        def target_for(integration_id: int) -> CallbackTarget:
            if integration_id not in targets:  # created after the pass started, or deleted meanwhile
                targets.update(load_targets(self.engine, self.clock()))
            return targets.get(integration_id) or CallbackTarget(
                integration_id, f"integration {integration_id} (deleted)", None, None, CallbackSettings(), None
            )

        def attempt(callback: DueCallback) -> AttemptResult | None:
            if callback.integration_id in stopped:
                return None  # settling the 410 disables this row with its integration; do not send it
            result = send_callback(self._session(), target_for(callback.integration_id), callback, self.clock())
            if result.status_code == 410:
                stopped.add(callback.integration_id)
            return result

        def flush() -> None:
            nonlocal last_flush, may_have_due
            last_flush = time.perf_counter()
            if not finished:
                return
            batch = finished[:]
            finished.clear()
            for item in settle(self.engine, batch, targets=targets, now=self.clock(), rng=self.rng):
                name = target_for(item.result.callback.integration_id).name
                report.add(name, item)
                _log_attempt(name, item)
            may_have_due = True

        while True:
            out_of_time = max_seconds is not None and time.perf_counter() - started >= max_seconds
            if may_have_due and not out_of_time and len(in_flight) <= self.max_in_flight // 2:
                claimed = claim_due(
                    self.engine,
                    now=self.clock(),
                    limit=self.max_in_flight - len(in_flight),
                    lease=lease,
                    integration_ids=integration_ids,
                )
                may_have_due = bool(claimed)
                for callback in claimed:
                    in_flight[self._pool.submit(attempt, callback)] = callback
            if not in_flight:
                if finished:
                    flush()
                    continue
                if not may_have_due or out_of_time:
                    break
                continue
            done, _ = wait(in_flight, timeout=self.flush_interval, return_when=FIRST_COMPLETED)
            for future in done:
                del in_flight[future]
                result = future.result()
                if result is not None:
                    finished.append(result)
            if len(finished) >= self.flush_every or time.perf_counter() - last_flush >= self.flush_interval:
                flush()
        report.seconds = time.perf_counter() - started
        return report


def _log_attempt(name: str, item: Settled) -> None:
    result = item.result
    outcome = f"HTTP {result.status_code}" if result.status_code is not None else "no response"
    message = "callback %s (id %s, %s, %s) to %s: %s%s in %s ms -> %s"
    args = (
        result.callback.webhook_id,
        result.callback.id,
        result.callback.event,
        f"attempt {result.callback.attempts + 1}",
        name,
        outcome,
        f" ({result.error})" if result.error else "",
        result.latency_ms,
        item.verdict.kind,
    )
    log.log(logging.DEBUG if item.verdict.kind == AttemptVerdict.DELIVERED else logging.INFO, message, *args)


def deliver_due(engine: sa.Engine, *, clock: Clock = utcnow, workers: int = 16, **options) -> DeliveryReport:
    """One delivery pass with a sender of its own (the CLI's `crossdock callbacks deliver`)."""
    with CallbackSender(engine, clock=clock, workers=workers) as sender:
        return sender.deliver_due(**options)


def follow_outbox(
    engine: sa.Engine,
    *,
    idle_seconds: float = 120.0,
    budget_seconds: float = 900.0,
    poll_seconds: float = 0.5,
    stay_for_retry_seconds: float = 15.0,
    workers: int = 16,
    on_pass: Callable[[DeliveryReport], None] | None = None,
    clock: Clock = utcnow,
) -> DeliveryReport:
    """Deliver what is due, then keep watching the outbox: a new status change is sent within a
    poll, and a retry is sent when it falls due, not when the next run starts. Returns once nothing
    was sent for `idle_seconds` and no retry falls due within `stay_for_retry_seconds`, or after
    `budget_seconds` (every run stays a bounded piece of work). `on_pass` hears of each pass that
    attempted something.

    Why follow: starting a Dagster run takes seconds; one run per change put a process start (and a
    place in the run queue) between every status change and its callback, and retries fell due with
    no run to send them. Watching costs one read per poll, which takes no lock on SQLite."""
    started = time.monotonic()
    last_work = started
    total = DeliveryReport()
    watch = reader(engine)
    with CallbackSender(engine, clock=clock, workers=workers) as sender:
        while True:
            left = budget_seconds - (time.monotonic() - started)
            if left <= 0:
                break
            due, upcoming = due_now(watch, clock())
            if due:
                report = sender.deliver_due(max_seconds=left)
                if report.attempts:
                    total.absorb(report)
                    last_work = time.monotonic()
                    if on_pass is not None:
                        on_pass(report)
                continue
            until_retry = None if upcoming is None else (upcoming - clock()).total_seconds()
            retry_soon = until_retry is not None and until_retry <= stay_for_retry_seconds
            if time.monotonic() - last_work >= idle_seconds and not retry_soon:
                break
            time.sleep(max(0.01, min(poll_seconds, until_retry if until_retry is not None else poll_seconds, left)))
    total.seconds = time.monotonic() - started
    return total
