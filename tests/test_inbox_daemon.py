"""End to end through a real Dagster daemon: the workspace loads, the inbox sensor fires, the queued
run coordinator launches a run process, and the seed 004 sale lands. Only eventual processing is
asserted (bounded wait on real processes); latency is the benchmark's business."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from crossdock.local_dagster import running_daemon, wait_until
from pipelines.clock import utcnow
from pipelines.inbox import DONE
from pipelines.ingest.sales import register_identifiers
from pipelines.integrations import WebhookIntegration, create_integration
from pipelines.store.schema import customers, identifiers, inbox
from tests.conftest import EXAMPLES
from tests.inbox_rows import insert_pending

SEED_CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"
INGESTIONS = dg.AssetKey("webhook_ingestions")


def _linked(engine) -> bool:
    with engine.connect() as conn:
        customer = conn.execute(sa.select(customers.c.id).where(customers.c.national_id == "123456789")).scalar()
        code = conn.execute(sa.select(identifiers.c.customer_id).where(identifiers.c.code == SEED_CODE)).scalar()
    return customer is not None and code == customer


def _reported(instance: dg.DagsterInstance) -> bool:
    return bool(instance.fetch_materializations(INGESTIONS, limit=1).records)


def test_the_daemon_ingests_a_pending_seed_sale(sqlite_store, tmp_path):
    account = create_integration(sqlite_store, WebhookIntegration(name="autentik_demo", target="sale", webhook={"ack_mode": "async"}))
    with sqlite_store.begin() as conn:
        register_identifiers(conn, account.id, [{"code": SEED_CODE, "product_sku": "BOLSO-CUERO-01"}], utcnow())
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    inbox_id = insert_pending(sqlite_store, account.id, (EXAMPLES / "autentikapp_sale.json").read_bytes())
    with running_daemon(dagster_home), dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        taken = wait_until(lambda: _linked(sqlite_store) and _reported(instance), deadline_s=240, every_s=0.2)
        assert taken is not None, (dagster_home / "daemon.log").read_text(errors="replace")[-3000:]
        runs = instance.get_runs(dg.RunsFilter(job_name="inbox_processing_job"))
        assert [run.tags["dagster/run_key"] for run in runs] == ["inbox-1"]
        [record] = instance.fetch_materializations(INGESTIONS, limit=10).records
        assert record.asset_materialization.partition == "autentik_demo"
        assert record.asset_materialization.metadata["created"].value == 1
    with sqlite_store.connect() as conn:
        assert conn.execute(sa.select(inbox.c.status).where(inbox.c.id == inbox_id)).scalar_one() == DONE
