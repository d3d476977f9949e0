"""The inbox: every request a client pushed, kept durably before it is acknowledged.

A row's life (`status` column):
- `pending`  acknowledged (202) and waiting for the Dagster processor;
- `done`     ingested (synchronously by the receiver, or by the processor); `sync_run_id` points at the
             sync run, whose record errors (if any) are replayable once their cause is fixed;
- `dead`     processing failed as a whole (a poison payload); `error` says why; replay sets it pending;
- `rejected` refused before acknowledgement (bad signature, inactive integration...), kept for
             diagnosis only, never processed.
Modules: `intake` (the receiver's side), `processing` (claim, ingest, dead-letter, replay),
`reporting` (sync runs to report, backlog and dead-letter health).
"""

from pipelines.vocabulary import InboxStatus

PENDING = InboxStatus.PENDING
DONE = InboxStatus.DONE
DEAD = InboxStatus.DEAD
REJECTED = InboxStatus.REJECTED
