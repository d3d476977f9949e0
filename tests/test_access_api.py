"""Role × route over a real receiver: every admin route refuses a role the policy table does not allow
with 403 and the reason, and lets an allowed one through to the route itself; tokens and the audit log
over the API."""

from __future__ import annotations

import re

import pytest
import requests

from connectors.receiver.route_policy import ROUTE_ACTIONS
from pipelines import settings
from pipelines.access import tokens
from pipelines.access.policy import Action, Role, allowed
from tests.receiver_helpers import integration, running

BODIES = {("PATCH", "/integrations/{name}"): {"is_active": False}}


@pytest.fixture
def role_tokens(sqlite_store) -> dict[Role, str]:
    with sqlite_store.begin() as conn:
        return {role: tokens.create(conn, f"t-{role}", role, actor="test") for role in Role}


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", lambda m: "999999" if m.group(0).endswith("id}") else "nope", path)


def test_every_admin_route_is_in_the_table():
    from connectors.receiver import access_routes, admin, callback_routes, inbox_routes

    routes = {
        (method, route.path)
        for module in (admin, callback_routes, inbox_routes, access_routes)
        for route in module.router.routes
        for method in route.methods
    }
    assert routes == set(ROUTE_ACTIONS)


def test_role_by_route(sqlite_store, role_tokens):
    with running(sqlite_store) as url:
        for (method, path), action in ROUTE_ACTIONS.items():
            for role, token in role_tokens.items():
                answer = requests.request(
                    method,
                    url + _concrete(path),
                    json=BODIES.get((method, path), {}),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                expected = allowed(role, action if (method, path) not in BODIES else Action.ENABLE_INTEGRATION)
                if expected:
                    assert answer.status_code not in (401, 403), (role, method, path, answer.text)
                else:
                    assert answer.status_code == 403, (role, method, path, answer.text)
                    assert f"token:t-{role}: the {role} role may not" in answer.json()["detail"]


def test_viewer_reads_but_cannot_delete_and_a_malformed_body_is_still_refused_first(sqlite_store, role_tokens):
    integration(sqlite_store)
    viewer = {"Authorization": f"Bearer {role_tokens[Role.VIEWER]}"}
    with running(sqlite_store) as url:
        assert requests.get(f"{url}/integrations/cliente_abc", headers=viewer, timeout=30).status_code == 200
        deleted = requests.delete(f"{url}/integrations/cliente_abc?force=true", headers=viewer, timeout=30)
        garbled = requests.post(f"{url}/integrations", data=b"{not json", headers=viewer, timeout=30)
        operator = {"Authorization": f"Bearer {role_tokens[Role.OPERATOR]}"}
        edit = requests.patch(f"{url}/integrations/cliente_abc", json={"auth_value": "x"}, headers=operator, timeout=30)
        switch = requests.patch(f"{url}/integrations/cliente_abc", json={"is_active": False}, headers=operator, timeout=30)
        assert requests.get(f"{url}/integrations/cliente_abc", headers=viewer, timeout=30).json()["is_active"] is False
    assert deleted.status_code == 403 and "needs the admin role" in deleted.json()["detail"]
    assert garbled.status_code == 403
    assert edit.status_code == 403 and switch.status_code == 200


def test_tokens_and_audit_over_the_api(sqlite_store):
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    with running(sqlite_store) as url:
        made = requests.post(f"{url}/tokens", json={"name": "ci", "role": "viewer"}, headers=admin, timeout=30)
        assert made.status_code == 201 and made.json()["token"].startswith("cdk_")
        ci = {"Authorization": f"Bearer {made.json()['token']}"}
        assert requests.get(f"{url}/integrations", headers=ci, timeout=30).status_code == 200
        assert requests.get(f"{url}/tokens", headers=ci, timeout=30).status_code == 403
        listed = requests.get(f"{url}/tokens", headers=admin, timeout=30).json()
        assert [row["name"] for row in listed] == ["ci"] and "token" not in listed[0]
        again = requests.post(f"{url}/tokens", json={"name": "ci", "role": "viewer"}, headers=admin, timeout=30)
        assert again.status_code == 409
        assert requests.delete(f"{url}/tokens/ci", headers=admin, timeout=30).status_code == 204
        revoked = requests.get(f"{url}/integrations", headers=ci, timeout=30)
        assert revoked.status_code == 401 and revoked.json()["detail"] == "admin API: token 'ci' was revoked"
        first = requests.get(f"{url}/audit?limit=1", headers=admin, timeout=30).json()
        second = requests.get(f"{url}/audit?limit=1&cursor={first['next_cursor']}", headers=admin, timeout=30).json()
        bad = requests.get(f"{url}/audit?cursor=zzz", headers=admin, timeout=30)
    assert first["total"] == 2 and first["items"][0]["action"] == "token.revoked"
    assert second["items"][0]["action"] == "token.created" and second["next_cursor"] is None
    assert first["items"][0]["actor"] == "api:admin"
    assert bad.status_code == 400
