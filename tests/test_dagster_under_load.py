"""Dagster as the product runs it, for minutes: a real code server and daemon, sensor-launched runs,
run queue, pools and run monitoring, over a real store and real loopback client systems.

What the first wave missed (its queue grew without bound with only the demo data) is asserted here
as behaviour, not speed: under sustained polling of slow and failing client APIs, with webhooks and
status changes arriving all along, the run queue stays bounded, every poll, webhook and callback is
done by a handful of long-lived runs, and no run fails. And a run whose process is killed stops
holding its slot: run monitoring fails it and the next run starts.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import psutil
import sqlalchemy as sa

from assets.capacity import QUEUE_TAG
from assets.run_launcher import run_worker_pid
from crossdock.local_dagster import daemon_log_while_running, running_daemon, wait_until
from pipelines.inbox import DONE
from pipelines.integrations import ApiIntegration, WebhookIntegration, create_integration
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_outbox, inbox, sync_runs
from tests.callback_helpers import make_integration, order_records
from tests.callback_sink import CallbackSink
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.inbox_rows import insert_pending

SUSTAINED_SECONDS = 180
ETA = datetime(2026, 12, 1, 10, tzinfo=UTC)
MAPPING = {"external_id": "order_number", "client_name": "customer.name", "address": "shipping_address.full"}


def _api(store, name: str, url: str, token: str = "sk_live_xxxxx"):
    return create_integration(
        store,
        ApiIntegration(
            name=name,
            endpoint=f"{url}/orders",
            auth_type="bearer",
            auth_value=token,
            field_mapping=MAPPING,
            poll_interval_seconds=10,
            api={"pagination": "page", "records_path": "data", "page_size": 20},
        ),
    )


def _env(tmp_path) -> dict[str, str]:
    return {"CROSSDOCK_HOME": str(tmp_path / "home"), "CROSSDOCK_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}


def _polls(store) -> dict[str, dict[str, int]]:
    from pipelines.store.schema import integrations

    query = (
        sa.select(integrations.c.name, sync_runs.c.status, sa.func.count())
        .join(integrations, integrations.c.id == sync_runs.c.integration_id)
        .where(sync_runs.c.source_kind == "api")
        .group_by(integrations.c.name, sync_runs.c.status)
    )
    found: dict[str, dict[str, int]] = {}
    with store.connect() as conn:
        for name, status, count in conn.execute(query):
            found.setdefault(name, {})[status] = count
    return found


def test_sustained_polling_webhooks_and_callbacks_keep_the_queue_bounded(sqlite_store, tmp_path):
    slow_api = ClientApi(seed_orders(60), style="page", delay_seconds=1.5)  # 3 pages of 1.5 s a poll
    sink = CallbackSink()
    with serve_client_api(slow_api) as api_url, sink.serve() as callback_url:
        for i in range(4):
            _api(sqlite_store, f"slow_{i}", api_url)
        _api(sqlite_store, "refused", api_url, token="wrong")  # every poll fails with 401
        hook = create_integration(sqlite_store, WebhookIntegration(name="async_hook", webhook={"ack_mode": "async"}))
        _, orders = make_integration(sqlite_store, callback_url, name="cliente_abc", orders=order_records(40))
        order_ids = list(orders.values())
        dagster_home = tmp_path / "dagster"
        with running_daemon(dagster_home, _env(tmp_path)), dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            queued_seen: list[Counter] = []
            started = time.monotonic()
            sent = 0
            while time.monotonic() - started < SUSTAINED_SECONDS:
                # A steady trickle: a webhook and a status change every few seconds, all through Dagster.
                insert_pending(sqlite_store, hook.id, {"external_id": f"W-{sent}", "client_name": "Cliente", "address": "Zona 1"})
                change_status(
                    sqlite_store,
                    order_ids[sent % len(order_ids)],
                    "assigned" if sent < 40 else "in_route",
                    actor="test",
                    eta=ETA if sent >= 40 else None,
                )
                sent += 1
                for _ in range(4):  # the load's pace: observe the queue every second between arrivals
                    queued = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
                    queued_seen.append(Counter(run.tags.get(QUEUE_TAG) for run in queued))
                    time.sleep(1)

            def all_done() -> bool:
                with sqlite_store.connect() as conn:
                    pending_rows = conn.execute(sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status != DONE)).scalar_one()
                    undelivered = conn.execute(
                        sa.select(sa.func.count()).select_from(callback_outbox).where(callback_outbox.c.status != "delivered")
                    ).scalar_one()
                return pending_rows == 0 and undelivered == 0

            assert wait_until(all_done, 120, every_s=0.5) is not None, (dagster_home / "daemon.log").read_text()[-3000:]
            runs = instance.get_runs()
    polls = _polls(sqlite_store)
    by_job: dict[str, int] = {}
    for run in runs:
        by_job[run.job_name] = by_job.get(run.job_name, 0) + 1
    failed = [run.run_id for run in runs if run.status == dg.DagsterRunStatus.FAILURE]
    # Never a growing queue: at most one run of each class waits (inbox, callbacks, scheduled polls).
    assert max(max(seen.values(), default=0) for seen in queued_seen) <= 1, queued_seen
    assert max(sum(seen.values()) for seen in queued_seen) <= 3, queued_seen
    assert failed == []
    # Each healthy API polled again and again (10 s interval, 4.5 s a poll), the failing one too,
    # and all of it by one or two long-lived worker runs, not a run per poll.
    assert all(polls[f"slow_{i}"].get("ok", 0) >= 5 for i in range(4)), polls
    assert polls["refused"].get("failed", 0) >= 5 and "ok" not in polls["refused"], polls
    assert by_job.get("scheduled_polls_job", 0) <= 2, by_job
    assert by_job.get("inbox_processing_job", 0) <= 3 and by_job.get("deliver_callbacks", 0) <= 3, by_job
    assert len(sink.answered_ok()) == sent  # every status change reached the client
    assert "Traceback" not in daemon_log_while_running((dagster_home / "daemon.log").read_text())


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records:
        pid = run_worker_pid(record.event_log_entry.dagster_event)
        if pid is not None:
            return pid
    return None


def test_killed_run_processes_are_failed_and_free_their_slot(sqlite_store, tmp_path):
    """Killed alone, a run process is reported by its code server; killed with its code server (an OOM
    kill, a container restart), only run monitoring can tell, from the pid the run logged."""
    hook = create_integration(sqlite_store, WebhookIntegration(name="async_hook", webhook={"ack_mode": "async"}))
    dagster_home = tmp_path / "dagster"

    def send(external_id: str) -> None:
        insert_pending(sqlite_store, hook.id, {"external_id": external_id, "client_name": "Cliente", "address": "Zona 1"})

    def done(count: int) -> bool:
        with sqlite_store.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(inbox).where(inbox.c.status == DONE)).scalar_one() == count

    send("W-1")
    with running_daemon(dagster_home, _env(tmp_path)), dg.DagsterInstance.from_config(str(dagster_home)) as instance:

        def lingering_run(excluding: set[str]) -> dg.DagsterRun | None:  # inbox runs linger for more rows
            runs = instance.get_runs(dg.RunsFilter(job_name="inbox_processing_job", statuses=[dg.DagsterRunStatus.STARTED]))
            live = [run for run in runs if run.run_id not in excluding and _worker_pid(instance, run.run_id)]
            return live[0] if live else None

        def failed(run: dg.DagsterRun) -> bool:
            return instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE

        assert wait_until(lambda: done(1) and lingering_run(set()) is not None, 180, every_s=0.5) is not None
        first = lingering_run(set())
        os.kill(_worker_pid(instance, first.run_id), signal.SIGKILL)
        assert wait_until(lambda: failed(first), 120, every_s=0.5) is not None
        # The slot is free again: a new row gets a new run (after the sensor's 10 s failure backoff).
        send("W-2")
        assert wait_until(lambda: done(2) and lingering_run({first.run_id}) is not None, 180, every_s=0.5) is not None
        second = lingering_run({first.run_id})
        worker = psutil.Process(_worker_pid(instance, second.run_id))
        code_server = worker.parent()
        for process in (code_server, worker):
            process.kill()
        assert wait_until(lambda: failed(second), 120, every_s=0.5) is not None
        messages = [r.event_log_entry.message or "" for r in instance.get_records_for_run(second.run_id).records]
    # Reaped before the check (gone) or not yet (a zombie): either way the kill is what failed the run.
    detected = (f"run process {worker.pid} is gone (killed or crashed)", f"run process {worker.pid} exited without finishing the run")
    assert any(any(d in message for d in detected) for message in messages), messages[-3:]
