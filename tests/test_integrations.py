"""Integrations in the store: the seed's configurations round-trip, secrets stay encrypted and masked,
mappings are versioned. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from pipelines import secrets
from pipelines.integrations import (
    IntegrationExists,
    IntegrationNotFound,
    MappingRejected,
    WebhookIntegration,
    archive_integration,
    create_integration,
    get_integration,
    list_integrations,
    list_mapping_versions,
    masked_config,
    parse_integration,
    rollback_mapping,
    save_mapping,
    set_active,
    update_integration,
)
from pipelines.store.schema import integrations
from tests.conftest import load_example


def test_seed_api_configuration_round_trips(store):
    config = parse_integration(load_example("api_polling_integration.json"))
    stored = create_integration(store, config)
    again = get_integration(store, "ClienteXYZ")
    assert again.id == stored.id
    assert again.config.endpoint == "https://api.clientexyz.com/orders?status=pending"
    assert again.config.auth_value.get_secret_value() == "sk_live_xxxxx"
    assert again.config.poll_interval_seconds == 300
    assert again.config.field_mapping["client_name"] == "customer.name"


def test_secrets_are_encrypted_at_rest_and_masked_when_shown(store):
    create_integration(store, parse_integration(load_example("cliente_abc_integration.json")))
    with store.connect() as conn:
        row = conn.execute(sa.select(integrations)).one()
    assert "secreto_compartido" not in str(row.config)
    assert "secreto_compartido" not in (row.secrets or "")
    assert secrets.decrypt(row.secrets)["auth_value"] == "secreto_compartido"
    shown = masked_config(get_integration(store, "cliente_abc"))
    assert shown["auth_value"] == "••••••••"
    assert "secreto_compartido" not in str(shown)
    # callbacks configured -> a signing secret is generated, also masked
    assert shown["callback_secret"].startswith("••••••••") and len(shown["callback_secret"]) == 12


def test_a_different_key_cannot_read_secrets(store, monkeypatch):
    create_integration(store, parse_integration(load_example("cliente_abc_integration.json")))
    monkeypatch.setenv("CROSSDOCK_SECRET_KEY", "another key entirely")
    with pytest.raises(secrets.SecretKeyError, match="CROSSDOCK_SECRET_KEY"):
        get_integration(store, "cliente_abc")


def test_names_are_unique_ignoring_case(store):
    create_integration(store, WebhookIntegration(name="cliente_abc"))
    with pytest.raises(IntegrationExists):
        create_integration(store, WebhookIntegration(name="Cliente_ABC"))


@pytest.mark.parametrize("name", ["with space", "slash/name", "", "-leading", "x" * 65, "ñandú"])
def test_names_must_be_url_safe(name):
    with pytest.raises(ValidationError) as info:
        WebhookIntegration(name=name)
    assert info.value.errors()[0]["loc"] == ("name",)


def test_invalid_configurations_say_which_field():
    with pytest.raises(ValidationError) as info:
        parse_integration({"name": "x", "type": "api", "auth_type": "bearer"})
    messages = str(info.value)
    assert "endpoint" in messages
    with pytest.raises(ValidationError, match="basic auth_value must be 'user:password'"):
        WebhookIntegration(name="x", auth_type="basic", auth_value="nocolon")
    with pytest.raises(ValidationError, match="callback_events need a callback_url"):
        WebhookIntegration(name="x", callback_events=["delivered"])
    with pytest.raises(ValidationError) as info:
        parse_integration({"name": "x", "type": "ftp"})
    assert info.value.errors()[0]["loc"] == ("type",)


def test_patch_merges_and_keeps_secrets(store):
    create_integration(store, parse_integration(load_example("api_polling_integration.json")))
    updated = update_integration(store, "ClienteXYZ", {"poll_interval_seconds": 60, "api": {"page_size": 50}})
    assert updated.config.poll_interval_seconds == 60
    assert updated.config.api.page_size == 50
    assert updated.config.api.apikey_header == "X-API-Key"
    assert updated.config.auth_value.get_secret_value() == "sk_live_xxxxx"
    assert updated.mapping_version == 1


def test_mapping_versions_and_rollback(store):
    create_integration(store, parse_integration(load_example("api_polling_integration.json")))
    first = get_integration(store, "ClienteXYZ").config.field_mapping
    second = {**first, "notes": "'fragile'"}
    assert save_mapping(store, "ClienteXYZ", second, note="add notes").mapping_version == 2
    assert rollback_mapping(store, "ClienteXYZ", 1).mapping_version == 3
    versions = list_mapping_versions(store, "ClienteXYZ")
    assert [v.version for v in versions] == [3, 2, 1]
    assert versions[0].field_mapping == first and versions[0].active
    assert versions[1].note == "add notes"
    assert get_integration(store, "ClienteXYZ").config.field_mapping == first


def test_a_mapping_that_does_not_parse_is_rejected_with_its_position(store):
    config = WebhookIntegration(name="broken", field_mapping={"address": "join_nonempty(', ', [a, b]))"})
    with pytest.raises(MappingRejected) as info:
        create_integration(store, config)
    assert info.value.issues[0]["field"] == "field_mapping.address"
    assert "position" in info.value.issues[0]["message"]
    assert list_integrations(store) == []


def test_disable_and_delete(store):
    create_integration(store, WebhookIntegration(name="cliente_abc"))
    assert set_active(store, "cliente_abc", False).is_active is False
    assert list_integrations(store, active_only=True) == []
    archive_integration(store, "cliente_abc")
    with pytest.raises(IntegrationNotFound):
        get_integration(store, "cliente_abc")
    assert [i.name for i in list_integrations(store, archived=True)] == ["cliente_abc"]


def test_archiving_holds_acknowledged_work_and_purging_refuses_to_discard_it(store):
    from pipelines.integrations import IntegrationBusy, purge_integration, waiting_work
    from tests.inbox_rows import insert_pending

    stored = create_integration(store, WebhookIntegration(name="cliente_abc"))
    insert_pending(store, stored.id, [{"external_id": "PED-9"}])
    insert_pending(store, stored.id, [{"external_id": "PED-10"}])
    assert waiting_work(store, stored.id) == {"acknowledged webhook(s) not yet processed": 2}
    assert archive_integration(store, "cliente_abc") == {"acknowledged webhook(s) not yet processed": 2}
    with pytest.raises(IntegrationBusy, match="2 acknowledged webhook"):
        purge_integration(store, "cliente_abc")
    assert get_integration(store, "cliente_abc", archived=True).id == stored.id  # nothing deleted
    purge_integration(store, "cliente_abc", force=True)
    with pytest.raises(IntegrationNotFound):
        get_integration(store, "cliente_abc", archived=True)
