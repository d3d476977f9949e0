"""Draining a LIMIT-style query within one pull, and noticing rows that keep coming back.

The Logitrack plan's query ends in `LIMIT 100` and relies on its write-back (`logitrack_synced = TRUE`)
to take the rows that landed out of its result. One pass per poll would take a backlog of 1,234 rows
13 polls, so a pull runs the query again, pass after pass, while a pass was full and moved something
(rows marked by `write_back` or `write_back_rejected`, or the watermark moved). It stops at:

- `empty`: the pass returned nothing;
- `short`: fewer rows than the query's trailing LIMIT (or, when the LIMIT cannot be read, than the
  previous pass), i.e. the query ran dry;
- `no_progress`: (LIMIT unknown) nothing was marked and the watermark did not move;
- `nothing_new`: every row had already been read in this pull (the write-back did not take its rows
  out of the result, rows rejected in an earlier pass came back, or rows tie at the watermark);
- `same_rows`: the same rows as the previous pass (the same check for passes too large to remember);
- `max_passes`: `db.max_passes`, so one pull cannot run forever (a warning says so).

A query without any LIMIT/FETCH FIRST/TOP reads everything it selects in one pass (`one_pass`), as does
a query with nothing that could move between passes (no write-back, no watermark).

Rejected rows (failed validation) are recorded with their reasons once per pull: a later pass that
returns them again skips them. When rejected rows come back (in a later pass, or in the next pull),
the pull records the structured warning `rejected_repeat`, `blocking` when they were all a full pass
returned, i.e. they hold back the rows behind them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipelines.integrations.db_settings import DbSettings
from pipelines.sources import Window

# Rows remembered per pass (to skip them if the next pass returns them again) and rejected rows
# remembered per pull; beyond these the pull still stops on `same_rows` (a digest, no memory).
REMEMBERED_ROWS = 100_000
# Rejected rows remembered from one pull to the next (source_state `rejected_keys`).
REMEMBERED_REJECTED = 1_000
REJECTED_STATE_KEY = "rejected_keys"
KEYS_SHOWN = 10

_TRAILING_LIMIT = re.compile(
    r"\s(?:LIMIT\s+(?P<limit>\d+)|FETCH\s+(?:FIRST|NEXT)\s+(?P<fetch>\d+)\s+ROWS?\s+ONLY)"
    r"(?P<tail>(?:\s|--[^\n]*|/\*.*?\*/)*)\Z",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_ANY_LIMIT = re.compile(r"\b(?:LIMIT\s+\d|FETCH\s+(?:FIRST|NEXT)\s|TOP\s*\(?\s*\d)", re.IGNORECASE)


@dataclass(frozen=True)
class QueryShape:
    """What the query's text says about its size: a trailing `LIMIT n` / `FETCH FIRST n ROWS ONLY`
    (`body` is the query without it), or some other row limit (`limited` without `limit`)."""

    body: str
    limit: int | None
    limited: bool


def query_shape(query: str) -> QueryShape:
    match = _TRAILING_LIMIT.search(query)
    if match:
        body = query[: match.start()].rstrip()
        # `... -- LIMIT 100` is a comment, not a limit.
        if "--" not in body.rsplit("\n", 1)[-1]:
            limit = int(match.group("limit") or match.group("fetch"))
            return QueryShape(body + match.group("tail").rstrip(), limit, True)
    return QueryShape(query, None, bool(_ANY_LIMIT.search(_COMMENT.sub(" ", query))))


def identity(row: dict[str, Any], key_column: str) -> Any:
    """What tells one row from another: its `key_column` value, else (absent or NULL) all its values."""
    value = row.get(key_column)
    if value is None:
        value = tuple(row.values())
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def stored_identity(value: Any) -> str:
    """An identity as kept between pulls (JSON text)."""
    return value if isinstance(value, str) else repr(value)


@dataclass
class PassScan:
    """One pass, as the reading thread saw it (the consumer reads it once the pass is over)."""

    number: int
    bound: Any  # the watermark this pass started from (None: from the beginning)
    rows: int = 0  # rows the query returned
    skipped: int = 0  # of which already read in this pull, not ingested again
    skipped_rejected: list[Any] = field(default_factory=list)  # skipped rows rejected earlier in this pull
    skipped_landed: int = 0  # skipped rows that landed in the previous pass, not at the watermark bound
    newest: Any = None  # the watermark column's last value
    digest: int = 0
    identities: set[Any] | None = field(default_factory=set)  # None once over REMEMBERED_ROWS
    marked: int = 0
    marked_rejected: int = 0


class Drain:
    """The pass loop's memory and decisions for one pull."""

    def __init__(self, settings: DbSettings, window: Window | None, prior_rejected: Iterable[str] = ()):
        self.settings = settings
        self.window = window
        self.shape = query_shape(settings.query or "")
        self.column = settings.watermark_column
        movable = bool(settings.write_back or settings.write_back_rejected or self.column)
        self.enabled = self.shape.limited and movable and settings.max_passes > 1
        self.prior_rejected = frozenset(prior_rejected) if not window else frozenset()
        self.previous: PassScan | None = None
        self.passes = 0
        self.stopped = "one_pass"
        self.rejected: dict[Any, tuple[str, str]] = {}  # identity -> first reason, rejected in this pull
        self._pass_rejected: dict[Any, tuple[str, str]] = {}
        self.repeated: dict[Any, tuple[str, str]] = {}  # rejected rows that came back
        self.blocking = False
        self.warnings: list[str] = []

    # --- while reading (the read-ahead thread) ------------------------------------------------------

    def start(self, bound: Any) -> PassScan:
        self.passes += 1
        self._pass_rejected = {}
        return PassScan(self.passes, bound, identities=set() if self.enabled else None)

    def admit(self, scan: PassScan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows of a chunk to ingest; the others were read earlier in this pull."""
        scan.rows += len(rows)
        if self.column and rows:
            scan.newest = rows[-1].get(self.column)  # rows come ordered by the watermark column
        if scan.number == 1 and not self.enabled:
            return self._admit_first(scan, rows) if self.prior_rejected and self.column and scan.bound is not None else rows
        key, previous = self.settings.key_column, self.previous
        remembered = previous.identities if previous is not None else None
        kept = []
        for row in rows:
            ident = identity(row, key)
            scan.digest = (scan.digest + hash(ident)) & 0xFFFF_FFFF_FFFF_FFFF
            if scan.identities is not None:
                scan.identities.add(ident)
                if len(scan.identities) > REMEMBERED_ROWS:
                    scan.identities = None
            if ident in self.rejected:
                scan.skipped += 1
                if not self._at_bound(row, scan):
                    scan.skipped_rejected.append(ident)
            elif remembered is not None and ident in remembered:
                scan.skipped += 1
                if not self._at_bound(row, scan):
                    scan.skipped_landed += 1
            elif scan.number == 1 and self._rejected_at_bound_last_pull(row, ident, scan):
                scan.skipped += 1
            else:
                kept.append(row)
        return kept

    def _admit_first(self, scan: PassScan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        key, column = self.settings.key_column, self.column or ""
        kept = []
        for row in rows:
            if self._rejected_at_bound_last_pull(row, identity(row, key) if row.get(column) == scan.bound else None, scan):
                scan.skipped += 1
            else:
                kept.append(row)
        return kept

    def _rejected_at_bound_last_pull(self, row: dict[str, Any], ident: Any, scan: PassScan) -> bool:
        """A row the previous pull rejected, read again only because `>=` re-reads the watermark's value."""
        return (
            ident is not None and bool(self.prior_rejected) and self._at_bound(row, scan) and stored_identity(ident) in self.prior_rejected
        )

    def _at_bound(self, row: dict[str, Any], scan: PassScan) -> bool:
        return self.column is not None and scan.bound is not None and row.get(self.column) == scan.bound

    # --- after each chunk landed (the pull's thread) ------------------------------------------------

    def rejected_rows(self, rows: list[dict[str, Any]], failures: Iterable[tuple[int, list[dict[str, str]]]]) -> list[Any]:
        """Remember the rows that failed validation; returns their `key_column` values (for write_back_rejected)."""
        key = self.settings.key_column
        keys = []
        for index, reasons in failures:
            row = rows[index]
            ident = identity(row, key)
            reason = (reasons[0].get("field", "?"), reasons[0].get("message", "?")) if reasons else ("?", "rejected")
            if len(self.rejected) + len(self._pass_rejected) < REMEMBERED_ROWS:
                self._pass_rejected[ident] = reason
            if self.prior_rejected and stored_identity(ident) in self.prior_rejected:
                self.repeated[ident] = reason
            if row.get(key) is not None:
                keys.append(row[key])
        return keys

    # --- after each pass ---------------------------------------------------------------------------

    def finish_pass(self, scan: PassScan) -> bool:
        """Record the pass; True when another pass should run."""
        for ident in scan.skipped_rejected:
            self.repeated[ident] = self.rejected[ident]
        self.rejected.update(self._pass_rejected)
        self._pass_rejected = {}
        previous, self.previous = self.previous, scan
        stop = self._stop_reason(scan, previous)
        if stop is None:
            return True
        self.stopped = stop
        if stop in ("nothing_new", "same_rows") and self._full(scan, previous):
            self._stuck(scan, stop)
        if stop == "max_passes":
            self.warnings.append(f"stopped after db.max_passes = {self.settings.max_passes} passes; the rest waits for the next poll")
        return False

    def _stop_reason(self, scan: PassScan, previous: PassScan | None) -> str | None:
        if not self.enabled:
            return "one_pass"
        if scan.rows == 0:
            return "empty"
        if scan.rows == scan.skipped:
            return "nothing_new"
        if previous is not None and (scan.rows, scan.digest) == (previous.rows, previous.digest):
            return "same_rows"
        if not self._full(scan, previous):
            return "short"
        if self.shape.limit is None and not self.progressed(scan):
            return "no_progress"
        if self.passes >= self.settings.max_passes:
            return "max_passes"
        return None

    def _full(self, scan: PassScan, previous: PassScan | None) -> bool:
        if self.shape.limit is not None:
            return scan.rows >= self.shape.limit
        return previous is None or scan.rows >= previous.rows

    def progressed(self, scan: PassScan) -> bool:
        moved = bool(self.column) and scan.newest is not None and scan.newest != scan.bound
        return moved or scan.marked > 0 or scan.marked_rejected > 0

    def _stuck(self, scan: PassScan, stop: str) -> None:
        """A full pass brought nothing new: say what holds the query back."""
        if scan.skipped_rejected and not scan.skipped_landed:
            self.blocking = True  # the rejected-rows warning says it
            return
        if scan.skipped_landed or stop == "same_rows":
            if self.settings.write_back:
                why = (
                    "after db.write_back, so the pull stopped: the write-back must take the rows it marks out of the "
                    "query's result (filter on the column it sets)"
                )
            elif self.column:
                why = "although the watermark moved, so the pull stopped: is db.watermark_column a column that only grows?"
            else:
                why = "so the pull stopped: nothing takes the rows that landed out of the query's result"
            self.warnings.append(f"the query returned the same {scan.rows} rows again {why}")
        elif self.column:
            self.warnings.append(
                f"more than LIMIT {self.shape.limit or scan.rows} rows share the watermark value {_shown(scan.bound)}, "
                "so the pull cannot page past them: raise the query's LIMIT"
            )

    # --- the pull's summary ------------------------------------------------------------------------

    def rejected_repeat(self) -> dict[str, Any] | None:
        """The structured warning for rejected rows that keep coming back, or None."""
        if not self.repeated:
            return None
        ranked = Counter(self.repeated.values()).most_common(3)
        reasons = [{"field": f, "message": m, "count": c} for (f, m), c in ranked]
        first = "; ".join(f"{f}: {m}" + (f" (x{c})" if c > 1 else "") for (f, m), c in ranked)
        count = len(self.repeated)
        rows = "row" if count == 1 else "rows"
        if self.settings.write_back_rejected:
            advice = (
                "db.write_back_rejected ran for them but they are still in the query's result: filter the query on "
                "the column it sets, or fix the rows"
            )
        elif self.column:
            advice = "fix the rows, or keep them out of the query"
        else:
            advice = "add db.write_back_rejected, a db.watermark_column, or fix the rows"
        held = " and hold back the rows behind them" if self.blocking else ""
        message = f"the query keeps returning the same {count} rejected {rows}{held} (first reasons: {first}): {advice}"
        return {
            "rows": count,
            "blocking": self.blocking,
            "reasons": reasons,
            "keys": [stored_identity(k) for k in list(self.repeated)[:KEYS_SHOWN]],
            "message": message,
        }

    def summary(self) -> dict[str, Any]:
        return {"passes": self.passes, "stopped": self.stopped, "max_passes": self.settings.max_passes}

    def rejected_to_remember(self) -> list[str]:
        return [stored_identity(k) for k in list(self.rejected)[:REMEMBERED_REJECTED]]


def _shown(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
