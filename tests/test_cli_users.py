"""`crossdock users` and `crossdock tokens` as a person runs them, and role × command: with
CROSSDOCK_TOKEN set, a command runs with that token's role (exit 3 and the reason when refused)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES


def crossdock(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = os.environ.copy()
    env.pop("CROSSDOCK_TOKEN", None)
    if token:
        env["CROSSDOCK_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "crossdock", *args], capture_output=True, text=True, env=env, timeout=60, input="")


def test_users_add_list_disable_reset():
    added = crossdock("users", "add", "ana", "--role", "analyst")
    assert added.returncode == 0, added.stderr
    password = re.search(r"one-time password: (\S+)", added.stdout).group(1)
    listed = crossdock("users", "list")
    assert re.search(r"^ana\s+analyst\s+active\s+last log-in never", listed.stdout, re.M), listed.stdout
    assert password not in listed.stdout
    assert crossdock("users", "add", "ana", "--role", "analyst").returncode == 2
    bad_role = crossdock("users", "add", "bob", "--role", "root")
    assert bad_role.returncode == 2 and "no role 'root'" in bad_role.stderr
    assert crossdock("users", "disable", "ana").returncode == 0
    assert "disabled" in crossdock("users", "list").stdout
    reset = crossdock("users", "reset-password", "ana")
    assert reset.returncode == 0 and password not in reset.stdout
    missing = crossdock("users", "disable", "nobody")
    assert missing.returncode == 2 and "no user 'nobody'" in missing.stderr


def _token(name: str, role: str) -> str:
    made = crossdock("tokens", "add", name, "--role", role)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


# (command, the least role allowed it); run with each role's token.
COMMANDS = [
    (("integrations", "list"), "viewer"),
    (("inbox", "list"), "viewer"),
    (("integrations", "disable", "ClienteXYZ"), "operator"),
    (("orders", "set-status", "999", "assigned"), "operator"),
    (("callbacks", "replay", "--id", "999"), "operator"),
    (("pull", "nope"), "operator"),
    (("users", "list"), "admin"),
    (("tokens", "list"), "admin"),
    (("integrations", "delete", "ClienteXYZ", "--yes"), "admin"),
]
ORDER = ["viewer", "analyst", "operator", "admin"]


@pytest.mark.parametrize("role", ORDER)
def test_role_by_command(role):
    assert crossdock("integrations", "add", "--file", str(EXAMPLES / "api_polling_integration.json")).returncode == 0
    token = _token(f"t-{role}", role)
    for args, least in COMMANDS:
        ran = crossdock(*args, token=token)
        if ORDER.index(role) >= ORDER.index(least):
            assert ran.returncode != 3, (role, args, ran.stderr)
        else:
            assert ran.returncode == 3, (role, args, ran.stdout, ran.stderr)
            assert f"token:t-{role}: the {role} role may not" in ran.stderr and f"needs the {least} role" in ran.stderr


def test_a_revoked_token_is_refused_and_tokens_are_listed_without_secrets():
    token = _token("ci", "viewer")
    listed = crossdock("tokens", "list")
    assert re.search(r"^ci\s+viewer\s+\(service\)\s+live", listed.stdout, re.M) and token not in listed.stdout
    assert crossdock("tokens", "revoke", "ci").returncode == 0
    refused = crossdock("integrations", "list", token=token)
    assert refused.returncode == 1 and "CROSSDOCK_TOKEN: token 'ci' was revoked" in refused.stderr
