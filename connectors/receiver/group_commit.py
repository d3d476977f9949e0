"""Group commit: many concurrent requests' inbox rows written in one transaction.

A commit costs the same for one row as for hundreds, so while one batch is being written (in a thread
of its own, off the event loop) every request that arrives waits in a queue and goes into the next
batch together. Under light load a batch is one request and latency is one commit; under heavy load
batches grow and throughput follows. Each request is answered only after the transaction holding its
row has committed: nothing is acknowledged that is not durable.

The queue is bounded (`max_pending`): beyond it the receiver sheds load with 429 rather than letting
latency grow without limit. Rejected requests (kept for diagnosis only) ride along without being
waited for, and are the first to be dropped under pressure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from pipelines.inbox.intake import IncomingRequest, Outcome, prune_rejected, write_batch

log = logging.getLogger(__name__)

PRUNE_EVERY = 100  # rejected rows per integration between two prunes


class Overloaded(Exception):
    """More requests are waiting for the store than `max_pending`: answer 429 and let the client retry."""


class StoreUnavailable(Exception):
    """The batch holding this request could not commit: nothing of it is stored, so it must not be acknowledged."""


class GroupCommitter:
    def __init__(self, engine: sa.Engine, *, max_pending: int = 1_024, max_batch: int = 512):
        self.engine = engine
        self.max_pending = max_pending
        self.max_batch = max_batch
        self._queue: list[tuple[IncomingRequest, asyncio.Future | None]] = []
        self._pending = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        # One writer thread: batches are strictly sequential, so one request's row never waits on
        # another batch of this process for the database's write lock.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-writer")
        self._rejected_since_prune: Counter[int] = Counter()

    @property
    def pending(self) -> int:
        """Requests accepted for writing and not yet answered (queued or in the batch being written)."""
        return self._pending

    @property
    def saturated(self) -> bool:
        return self._pending >= self.max_pending

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="inbox-group-commit")

    async def stop(self) -> None:
        """Write what is queued, then stop: a graceful shutdown answers every request it accepted."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    async def submit(self, entry: IncomingRequest) -> Outcome:
        """Queue `entry` and wait until its batch has committed; its answer is returned."""
        if self.saturated or self._closing:
            raise Overloaded(f"{self._pending} requests are waiting for the store")
        future = asyncio.get_running_loop().create_future()
        self._enqueue(entry, future)
        return await future

    def submit_rejected(self, entry: IncomingRequest) -> None:
        """Keep a refused request for diagnosis, best effort: never waited for, dropped under pressure."""
        if not self.saturated and not self._closing:
            self._enqueue(entry, None)

    def _enqueue(self, entry: IncomingRequest, future: asyncio.Future | None) -> None:
        self._queue.append((entry, future))
        self._pending += 1
        self._wakeup.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                try:
                    outcomes = await loop.run_in_executor(self._executor, write_batch, self.engine, [e for e, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiter must hear about it
                    log.error("inbox batch of %d could not be stored: %s", len(batch), exc)
                    for _, future in batch:
                        if future is not None and not future.done():
                            future.set_exception(StoreUnavailable(str(exc)))
                else:
                    for (_, future), outcome in zip(batch, outcomes, strict=True):
                        if future is not None and not future.done():
                            future.set_result(outcome)
                    await self._prune_if_due(loop, [e for e, f in batch if f is None])
                finally:
                    self._pending -= len(batch)
            if self._closing and not self._queue:
                return

    async def _prune_if_due(self, loop: asyncio.AbstractEventLoop, rejected: list[IncomingRequest]) -> None:
        for entry in rejected:
            self._rejected_since_prune[entry.integration.id] += 1
        for integration_id, count in list(self._rejected_since_prune.items()):
            if count >= PRUNE_EVERY:
                del self._rejected_since_prune[integration_id]
                try:
                    await loop.run_in_executor(self._executor, prune_rejected, self.engine, integration_id)
                except Exception as exc:  # noqa: BLE001 - pruning is housekeeping; the next one retries
                    log.warning("pruning rejected inbox rows of integration %s failed: %s", integration_id, exc)
