"""An integration is one of four kinds chosen by `type`, each carrying only its own settings: the seed's
documents parse unchanged, a field of another kind is refused with the kinds it belongs to (at its own
path, through a real receiver too), configurations stored when every one carried all four blocks still
load, and a PATCH that changes `type` leaves the old kind's block behind. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa
from pydantic import ValidationError

from pipelines import settings
from pipelines.integrations import (
    ApiIntegration,
    DbIntegration,
    FileIntegration,
    WebhookIntegration,
    create_integration,
    get_integration,
    parse_integration,
    update_integration,
)
from pipelines.integrations.secret_fields import split_secrets
from pipelines.sources.schedule import poll_interval
from pipelines.store.schema import integrations
from tests.conftest import load_example
from tests.receiver_helpers import running


def _issues(document: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as refused:
        parse_integration(document)
    return [(error["loc"], error["msg"]) for error in refused.value.errors()]


def test_the_seed_documents_parse_unchanged_as_their_kind():
    api = parse_integration(load_example("api_polling_integration.json"))
    webhook = parse_integration(load_example("cliente_abc_integration.json"))
    assert isinstance(api, ApiIntegration) and api.poll_interval_seconds == 300 and api.api.page_size == 100
    assert isinstance(webhook, WebhookIntegration) and webhook.webhook.ack_mode == "sync"
    assert set(api.model_dump()) & {"webhook", "db", "file"} == set()
    assert set(webhook.model_dump()) & {"api", "db", "file", "poll_interval_seconds"} == set()


def test_a_field_of_another_kind_is_refused_naming_the_kinds_it_belongs_to():
    issues = _issues({"name": "x", "type": "webhook", "poll_interval_seconds": 60, "db": {"query": "SELECT 1"}})
    assert issues == [
        (("poll_interval_seconds",), "poll_interval_seconds is for api, db or file integrations, not webhook"),
        (("db",), "db is for db integrations, not webhook"),
    ]
    assert _issues({"name": "x", "type": "db", "nonsense": 1}) == [(("nonsense",), "Extra inputs are not permitted")]


def test_errors_keep_the_documents_own_paths_and_a_bad_type_is_reported_at_type():
    assert _issues({"name": "x", "type": "webhook", "webhook": {"ack_mode": "later"}}) == [
        (("webhook", "ack_mode"), "Input should be 'sync' or 'async'")
    ]
    assert _issues({"name": "x", "type": "api"}) == [(("endpoint",), "an api integration needs an endpoint")]
    assert _issues({"name": "x", "type": "ftp"}) == [(("type",), "Input should be 'webhook', 'api', 'db' or 'file'")]
    assert _issues({"name": "x"}) == [(("type",), "Field required")]


def test_an_empty_endpoint_and_a_boolean_for_a_number_are_refused_with_the_reason():
    """Found by the API fuzzer: an empty endpoint raised inside the check (a 500), and `false` was taken as 0 s."""
    assert _issues({"name": "x", "type": "api", "endpoint": ""}) == [(("endpoint",), "Value error, an api integration needs an endpoint")]
    assert _issues({"name": "x", "type": "file", "file": {"min_age_seconds": False}}) == [
        (("file", "min_age_seconds"), "Input should be a valid number")
    ]
    assert _issues({"name": "x", "type": "webhook", "webhook": {"max_records": True}}) == [
        (("webhook", "max_records"), "Input should be a valid integer")
    ]
    assert FileIntegration(name="drops", file={"min_age_seconds": 5}).file.min_age_seconds == 5.0  # an integer is a number


def test_each_pull_kind_has_its_own_default_interval_and_null_means_the_default():
    assert poll_interval(DbIntegration(name="erp")) == 300
    assert poll_interval(FileIntegration(name="drops")) == 60
    assert parse_integration({"name": "drops", "type": "file", "poll_interval_seconds": None}).poll_interval_seconds == 60
    assert poll_interval(WebhookIntegration(name="pushed")) == 0


def test_a_configuration_stored_with_every_kinds_block_still_loads_as_its_kind(store):
    """Before the kinds, every stored configuration carried the webhook, api, db and file blocks (and a
    null interval for webhooks); such rows load, their foreign blocks set aside."""
    stored = create_integration(store, parse_integration(load_example("api_polling_integration.json")))
    with store.connect() as conn:
        plain = conn.execute(sa.select(integrations.c.config).where(integrations.c.id == stored.id)).scalar_one()
    legacy = {**plain, "webhook": split_secrets(WebhookIntegration(name="x").webhook.model_dump())[0], "db": {}, "file": {}}
    with store.begin() as conn:
        conn.execute(integrations.update().where(integrations.c.id == stored.id).values(config=legacy))
    again = get_integration(store, "ClienteXYZ")
    assert isinstance(again.config, ApiIntegration)
    assert again.config.auth_value.get_secret_value() == "sk_live_xxxxx"
    assert again.config.model_dump(mode="json") == stored.config.model_dump(mode="json")


def test_changing_the_type_leaves_the_old_kinds_block_behind(store):
    create_integration(store, WebhookIntegration(name="cliente_abc", webhook={"ack_mode": "async"}))
    with pytest.raises(ValidationError) as refused:
        update_integration(store, "cliente_abc", {"type": "api"})
    assert [error["loc"] for error in refused.value.errors()] == [("endpoint",)]
    moved = update_integration(store, "cliente_abc", {"type": "api", "endpoint": "https://api.example.com/orders"})
    assert isinstance(moved.config, ApiIntegration) and moved.config.poll_interval_seconds == 300
    assert isinstance(get_integration(store, "cliente_abc").config, ApiIntegration)


def test_the_admin_api_refuses_a_foreign_field_at_its_path_and_documents_the_kinds(sqlite_store):
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    document = {**load_example("cliente_abc_integration.json"), "api": {"page_size": 10}}
    with running(sqlite_store) as url:
        refused = requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30)
        nested = requests.post(
            f"{url}/integrations", json={"name": "y", "type": "webhook", "webhook": {"max_records": 0}}, headers=admin, timeout=30
        )
        seed = requests.post(f"{url}/integrations", json=load_example("api_polling_integration.json"), headers=admin, timeout=30)
        spec = requests.get(f"{url}/openapi.json", timeout=30).json()
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "api", "message": "api is for api integrations, not webhook"}]
    assert nested.status_code == 422 and [e["field"] for e in nested.json()["errors"]] == ["webhook.max_records"]
    assert seed.status_code == 201 and "webhook" not in seed.json() and seed.json()["api"]["page_size"] == 100
    schema = spec["components"]["schemas"]["Integration"]
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == {"webhook", "api", "db", "file"}
    body = spec["paths"]["/integrations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"] == "#/components/schemas/Integration"
