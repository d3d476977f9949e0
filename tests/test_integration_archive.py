"""Deleting an integration archives it (issue 16 §6): its orders, inbox rows, sync history, callbacks and
mapping versions stay; receivers, the inbox processor and callback deliveries ignore it; a restore
brings it back as it was; only a purge (an admin's, or the retention sensor's) deletes rows. Each of
archive, restore and purge is audited. The store tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
import requests
import sqlalchemy as sa

from assets.archive_retention import archive_retention_sensor
from assets.resources import StoreResource
from pipelines import settings
from pipelines.access import audit, tokens
from pipelines.access.policy import Role
from pipelines.callbacks.outbox import due_query
from pipelines.clock import utcnow
from pipelines.inbox.processing import pending_ids, process_batch
from pipelines.integrations import (
    ArchivedNameTaken,
    IntegrationNotFound,
    archive_integration,
    get_integration,
    list_integrations,
    purge_expired,
    purge_integration,
    restore_integration,
    save_mapping,
    update_integration,
)
from pipelines.orders.status import change_status
from pipelines.store.schema import callback_outbox, inbox, integrations, mapping_versions, orders, sync_runs
from pipelines.vocabulary import OrderEvent
from tests.callback_helpers import make_integration
from tests.inbox_rows import insert_pending
from tests.receiver_helpers import SEED_BODY, integration, order_count, running

KEPT = {"orders": orders, "inbox": inbox, "sync_runs": sync_runs, "callback_outbox": callback_outbox, "mapping_versions": mapping_versions}
WEBHOOK_HEADERS = {"Content-Type": "application/json", "X-API-Key": "secreto_compartido"}


def counts(engine: sa.Engine, integration_id: int) -> dict[str, int]:
    """How many rows of each table that belongs to an integration are stored for it."""
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.integration_id == integration_id)).scalar_one()
            for name, table in KEPT.items()
        }


def audit_of(engine: sa.Engine, subject: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        page = audit.entries(conn, subject=subject)
    return [(e.action, e.actor) for e in reversed(page.items)]


def test_delete_archives_with_every_row_kept_and_restore_brings_it_back_as_it_was(store):
    stored, ids = make_integration(store, "https://client.example/cb")
    change_status(store, next(iter(ids.values())), OrderEvent.ASSIGNED, actor="test")  # a callback queued
    save_mapping(store, "cliente_abc", {**stored.config.field_mapping, "notes": "notes"}, note="v2")
    insert_pending(store, stored.id, [{"external_id": "PED-900", "client_name": "Ana", "address": "Zona 1"}])
    before = counts(store, stored.id)
    assert all(before.values()), before  # every kind of row exists, so "kept" means something

    held = archive_integration(store, "cliente_abc", actor="user:ana")
    assert held == {"acknowledged webhook(s) not yet processed": 1, "status callback(s) not yet delivered": 1}
    assert counts(store, stored.id) == before
    with pytest.raises(IntegrationNotFound):
        get_integration(store, "cliente_abc")
    assert list_integrations(store) == [] and [i.id for i in list_integrations(store, archived=True)] == [stored.id]
    assert pending_ids(store, limit=10) == []  # its acknowledged webhook waits for a restore
    with store.connect() as conn:
        assert conn.execute(due_query(utcnow() + timedelta(days=1), 10)).first() is None  # callbacks wait too
    with pytest.raises(IntegrationNotFound):  # nothing edits an archived integration
        update_integration(store, "cliente_abc", {"is_active": False})

    restored = restore_integration(store, "cliente_abc", actor="user:ana")
    assert (restored.id, restored.mapping_version, restored.config.field_mapping["notes"]) == (stored.id, 2, "notes")
    assert counts(store, stored.id) == before
    assert process_batch(store).count("done") == 1  # the held webhook is processed once restored
    assert audit_of(store, "integration:cliente_abc")[-2:] == [("integration.archived", "user:ana"), ("integration.restored", "user:ana")]


def test_purge_deletes_the_rows_and_only_an_archived_integration_can_be_purged(store):
    stored, _ = make_integration(store, None)
    kept, _ = make_integration(store, None, name="cliente_xyz")
    with pytest.raises(IntegrationNotFound, match="no archived integration"):
        purge_integration(store, "cliente_abc")
    kept_before = counts(store, kept.id)
    archive_integration(store, "cliente_abc")
    purge_integration(store, "cliente_abc", actor="user:root")
    assert counts(store, stored.id) == dict.fromkeys(KEPT, 0)
    assert counts(store, kept.id) == kept_before  # another integration's rows are untouched
    with store.connect() as conn:
        assert conn.execute(sa.select(integrations.c.name)).scalars().all() == ["cliente_xyz"]
    assert audit_of(store, "integration:cliente_abc")[-1] == ("integration.purged", "user:root")


def test_the_retention_purge_removes_only_integrations_archived_longer_than_the_period(store):
    old, _ = make_integration(store, None, name="old_one")
    make_integration(store, None, name="recent_one")
    archive_integration(store, "old_one")
    archive_integration(store, "recent_one")
    with store.begin() as conn:
        conn.execute(integrations.update().where(integrations.c.id == old.id).values(archived_at=utcnow() - timedelta(days=31)))
    assert purge_expired(store, 30) == ["old_one"]
    assert counts(store, old.id) == dict.fromkeys(KEPT, 0)
    assert [i.name for i in list_integrations(store, archived=True)] == ["recent_one"]
    assert purge_expired(store, 30) == []
    [(action, actor)] = audit_of(store, "integration:old_one")[-1:]
    assert (action, actor) == ("integration.purged", "system")


def test_the_retention_sensor_reads_the_setting(sqlite_store, monkeypatch):
    stored, _ = make_integration(sqlite_store, None)
    archive_integration(sqlite_store, "cliente_abc")
    with sqlite_store.begin() as conn:
        conn.execute(integrations.update().values(archived_at=utcnow() - timedelta(days=3)))
    url = sqlite_store.url.render_as_string(hide_password=False)
    with dg.instance_for_test() as instance:

        def tick() -> str:
            context = dg.build_sensor_context(instance=instance, resources={"store": StoreResource(database_url=url)})
            return archive_retention_sensor(context).skip_message

        assert tick() == "no integration archived more than 30 day(s) ago"  # the default
        monkeypatch.setenv("CROSSDOCK_ARCHIVE_RETENTION_DAYS", "0")
        assert tick().startswith("nothing purged: CROSSDOCK_ARCHIVE_RETENTION_DAYS='0' is unusable")
        monkeypatch.setenv("CROSSDOCK_ARCHIVE_RETENTION_DAYS", "2")
        assert tick() == "purged 1 integration(s) archived more than 2 day(s) ago: cliente_abc"
    assert counts(sqlite_store, stored.id) == dict.fromkeys(KEPT, 0)


def test_an_archived_integration_keeps_its_name(store):
    integration(store)
    integration(store, name="cliente_xyz")
    archive_integration(store, "cliente_abc")
    for attempt in (
        lambda: integration(store, name="CLIENTE_ABC"),
        lambda: update_integration(store, "cliente_xyz", {"name": "cliente_abc"}),
    ):
        with pytest.raises(ArchivedNameTaken, match="an archived integration has this name: restore or purge it first"):
            attempt()
    purge_integration(store, "cliente_abc")
    assert integration(store).name == "cliente_abc"  # free once purged


def test_over_the_api_delete_refuses_webhooks_until_restored_and_purge_is_separate(sqlite_store):
    integration(sqlite_store)
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    with running(sqlite_store) as url:
        accepted = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=WEBHOOK_HEADERS, timeout=30)
        deleted = requests.delete(f"{url}/integrations/cliente_abc", params={"force": "true"}, headers=admin, timeout=30)
        refused = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=WEBHOOK_HEADERS, timeout=30)
        unknown = requests.post(f"{url}/webhook/nadie", data=SEED_BODY.encode(), headers=WEBHOOK_HEADERS, timeout=30)
        listed = requests.get(f"{url}/integrations", headers=admin, timeout=30)
        archived = requests.get(f"{url}/archived-integrations", headers=admin, timeout=30)
        clash = requests.post(f"{url}/integrations", json={"name": "cliente_abc", "type": "webhook"}, headers=admin, timeout=30)
        restored = requests.post(f"{url}/archived-integrations/cliente_abc/restore", headers=admin, timeout=30)
        again = requests.post(f"{url}/webhook/cliente_abc", data=SEED_BODY.encode(), headers=WEBHOOK_HEADERS, timeout=30)
        not_archived = requests.delete(f"{url}/archived-integrations/cliente_abc", headers=admin, timeout=30)
        requests.delete(f"{url}/integrations/cliente_abc", headers=admin, timeout=30)
        purged = requests.delete(f"{url}/archived-integrations/cliente_abc", headers=admin, timeout=30)
        gone = requests.post(f"{url}/archived-integrations/cliente_abc/restore", headers=admin, timeout=30)
    assert accepted.status_code == 200 and accepted.json()["created"] == 1
    assert deleted.status_code == 204
    assert refused.status_code == unknown.status_code == 404  # answered like a name never configured
    assert refused.json() == {"detail": unknown.json()["detail"].replace("nadie", "cliente_abc")}
    assert listed.json() == []
    [entry] = archived.json()
    assert (entry["name"], entry["type"], entry["archived_by"]) == ("cliente_abc", "webhook", "api:admin")
    assert clash.status_code == 409
    assert clash.json()["detail"] == "an archived integration has this name: restore or purge it first"
    assert restored.status_code == 200 and restored.json()["name"] == "cliente_abc"
    # The same order again: found unchanged, kept through the archive and the restore.
    assert again.status_code == 200 and (again.json()["created"], again.json()["unchanged"]) == (0, 1)
    assert not_archived.status_code == 404 and "no archived integration" in not_archived.json()["detail"]
    assert purged.status_code == 204 and gone.status_code == 404 and order_count(sqlite_store) == 0
    actions = [a for a, _ in audit_of(sqlite_store, "integration:cliente_abc")]
    assert actions[-4:] == ["integration.archived", "integration.restored", "integration.archived", "integration.purged"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.OPERATOR])
def test_only_admins_archive_restore_or_purge(sqlite_store, role):
    integration(sqlite_store)
    integration(sqlite_store, name="archived_one")
    archive_integration(sqlite_store, "archived_one")
    with sqlite_store.begin() as conn:
        token = tokens.create(conn, f"t-{role}", role, actor="test")
    who = {"Authorization": f"Bearer {token}"}
    with running(sqlite_store) as url:
        answers = [
            requests.delete(f"{url}/integrations/cliente_abc", headers=who, timeout=30),
            requests.get(f"{url}/archived-integrations", headers=who, timeout=30),
            requests.post(f"{url}/archived-integrations/archived_one/restore", headers=who, timeout=30),
            requests.delete(f"{url}/archived-integrations/archived_one", headers=who, timeout=30),
        ]
    assert [a.status_code for a in answers] == [403] * 4
    assert all("needs the admin role" in a.json()["detail"] for a in answers)
    assert [i.name for i in list_integrations(sqlite_store)] == ["cliente_abc"]
    assert [i.name for i in list_integrations(sqlite_store, archived=True)] == ["archived_one"]
