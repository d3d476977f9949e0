"""Testing a pull source before trusting it: what "Test connection" reports for an api or db integration.

The connectors fill a `Probe` by running their own pull code on a sample (the first page of the API,
the first rows of the query), so the answer is the one a poll would get. `judge` then runs the first
record through the integration's mapping with ingest's own verdict (`prepare`), so the operator also
sees whether it would land. A probe writes nothing, anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipelines.ingest.prepare import PreparedRecord, prepare
from pipelines.integrations.model import Integration
from pipelines.mapping import MappingError, compile_mapping
from pipelines.targets import FIELDS, default_mapping

PROBE_TIMEOUT_SECONDS = 10.0
PROBE_ROWS = 5


@dataclass
class Probe:
    """What one connection test found. Every text in it is safe to show: no secret, no password."""

    source: str  # what was asked: "GET https://host/orders", "postgresql+psycopg://user:***@host/db"
    reachable: bool = False  # the source answered (an HTTP response, a database connection)
    ok: bool = False  # records could be read the way a poll reads them
    status: str | None = None  # "HTTP 200 OK", "connected"
    error: str | None = None  # why not, when not ok
    records: int = 0  # records on the first page, or rows read (at most the probe's limit)
    first: Any = None  # the first record as the source gave it
    verdict: PreparedRecord | None = None  # that record mapped and validated as ingest would
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter, repr=False)
    elapsed_ms: float = 0.0

    def finish(self, config: Integration, records: list[Any] | None = None) -> Probe:
        """Close the probe: count the records, keep and judge the first one, time the whole test."""
        if records is not None:
            self.ok = self.error is None
            self.records = len(records)
            if records:
                self.first = records[0]
                self.verdict, problem = judge(config, records[0])
                if problem:
                    self.notes.append(problem)
        self.elapsed_ms = (time.perf_counter() - self.started) * 1000
        return self


def judge(config: Integration, record: Any) -> tuple[PreparedRecord | None, str | None]:
    """The record mapped and validated with the integration's mapping (its target's default when it has
    none), as ingest would; or (None, why) when the mapping itself does not compile."""
    field_mapping = config.field_mapping or default_mapping(config.target)
    try:
        mapping = compile_mapping(field_mapping, FIELDS[config.target])
    except MappingError as exc:
        return None, f"the mapping does not compile, so the record was not mapped: {exc}"
    return prepare(mapping, config.target, [record])[0], None
