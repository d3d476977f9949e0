"""Staging: a client tries its deliveries against the real checks without touching real data.

A staging delivery is verified, mapped and validated exactly as production does (the receiver's own
checks, then `prepare_for`, ingest's first half) and answered with each record's verdict and the record
as it would be stored. Nothing else happens: no order or sale, no sync run (so no report counts it),
no record error, no callback, no inbox row. What the client sent and what it was told is kept as a
*test delivery* (bounded per integration), so the analyst sees the same attempt the client's developer
does. `promote` switches an integration to production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from pipelines.clock import as_utc, utcnow
from pipelines.ingest.run import prepare_for
from pipelines.integrations.model import StoredIntegration, verification_of
from pipelines.integrations.providers import rules
from pipelines.integrations.repository import UNKNOWN_ACTOR, update_integration
from pipelines.store.schema import test_deliveries

KEEP_TEST_DELIVERIES = 500
BODY_BYTES = 65_536  # staging bodies are kept whole up to this; a test does not need more to be read


def production_refusal(name: str) -> str:
    """Why the production URL refuses an integration that is still in staging (answered 403)."""
    return (
        f"integration {name!r} is in staging: send to its staging URL (the same path under /staging) "
        "until Crossdock promotes it to production"
    )


def judge(integration: StoredIntegration, records: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """(status code, answer) for a staging delivery: each record `valid` (with the record as it would be
    stored) or `error` (with the reasons), counted as production counts; 422 when none is valid, unless
    the integration's provider needs 2xx for verified deliveries (as production answers)."""
    prepared = prepare_for(integration, records)
    results = []
    for item in prepared:
        result: dict[str, Any] = {"index": item.index, "status": "valid" if item.ok else "error", "external_id": item.external_id}
        if item.ok:
            result["record"] = orjson.loads(orjson.dumps(item.mapped, default=str))
        else:
            result["errors"] = item.reasons
        results.append(result)
    errors = sum(1 for r in results if r["status"] == "error")
    answer: dict[str, Any] = {
        "staging": True,
        "stored": False,
        "total_received": len(results),
        "valid": len(results) - errors,
        "errors": errors,
        "results": results,
    }
    all_invalid = bool(results) and errors == len(results)
    if all_invalid and not rules(verification_of(integration.config)).answers_2xx_for_invalid:
        answer["detail"] = "no record was valid; each one's reasons are in results[].errors"
        return 422, answer
    return 200, answer


@dataclass(frozen=True)
class TestDelivery:
    """One staging attempt as people see it."""

    __test__ = False  # not a pytest test class, whatever the name says

    id: int
    received_at: datetime
    delivery_id: str | None
    headers: dict[str, str]
    body: bytes
    verified: bool
    status_code: int
    response: dict[str, Any]
    error: str | None


def record_test_delivery(
    engine: sa.Engine,
    integration_id: int,
    *,
    headers: dict[str, str],
    body: bytes,
    verified: bool,
    status_code: int,
    response: dict[str, Any],
    error: str | None = None,
    delivery_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Keep one staging attempt; the oldest beyond KEEP_TEST_DELIVERIES of the integration go."""
    kept = dict(headers)
    if len(body) > BODY_BYTES:
        kept["x-crossdock-body-truncated-from"] = str(len(body))
    with engine.begin() as conn:
        row_id = conn.execute(
            test_deliveries.insert()
            .values(
                integration_id=integration_id,
                received_at=now or utcnow(),
                delivery_id=(delivery_id or None) and delivery_id[:255],
                headers=kept,
                body=body[:BODY_BYTES],
                verified=verified,
                status_code=status_code,
                response=response,
                error=error,
            )
            .returning(test_deliveries.c.id)
        ).scalar_one()
        cutoff = conn.execute(
            sa.select(test_deliveries.c.id)
            .where(test_deliveries.c.integration_id == integration_id)
            .order_by(test_deliveries.c.id.desc())
            .offset(KEEP_TEST_DELIVERIES)
            .limit(1)
        ).scalar()
        if cutoff is not None:
            conn.execute(test_deliveries.delete().where(test_deliveries.c.integration_id == integration_id, test_deliveries.c.id <= cutoff))
    return row_id


def list_test_deliveries(bind: sa.Engine, integration_id: int, limit: int = 50) -> list[TestDelivery]:
    """The newest staging attempts of an integration, newest first."""
    with bind.connect() as conn:
        rows = conn.execute(
            sa.select(test_deliveries)
            .where(test_deliveries.c.integration_id == integration_id)
            .order_by(test_deliveries.c.id.desc())
            .limit(limit)
        ).mappings()
        return [
            TestDelivery(
                id=r["id"],
                received_at=as_utc(r["received_at"]) or r["received_at"],
                delivery_id=r["delivery_id"],
                headers=r["headers"],
                body=bytes(r["body"]),
                verified=r["verified"],
                status_code=r["status_code"],
                response=r["response"],
                error=r["error"],
            )
            for r in rows
        ]


def promote(engine: sa.Engine, name: str, *, actor: str = UNKNOWN_ACTOR) -> StoredIntegration:
    """Switch an integration to production: its production URL starts taking deliveries (audited as
    an edit of `onboarding.stage`, by `actor`)."""
    return update_integration(engine, name, {"onboarding": {"stage": "production"}}, note="promoted to production", actor=actor)


def back_to_staging(engine: sa.Engine, name: str, *, actor: str = UNKNOWN_ACTOR) -> StoredIntegration:
    return update_integration(engine, name, {"onboarding": {"stage": "staging"}}, note="moved back to staging", actor=actor)
