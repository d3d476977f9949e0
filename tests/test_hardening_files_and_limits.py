"""Files and limits: everything under the Crossdock home is the user's only; every common HTTP client
reads the 413 of an oversized body instead of a connection reset; masks never show a password's end."""

from __future__ import annotations

import stat
import subprocess
import urllib.error
import urllib.request

import httpx
import pytest
import requests

from pipelines.integrations import DbIntegration, WebhookIntegration, create_integration, get_integration, masked_config
from tests.processes import crossdock
from tests.receiver_helpers import integration, running

FIVE_MB = b"[" + b" " * (5 * 1_048_576) + b"]"
KEY = {"Content-Type": "application/json", "X-API-Key": "secreto_compartido"}


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.e2e
def test_the_home_and_everything_in_it_are_the_users_only(crossdock_home):
    done = crossdock("demo", env={}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done.communicate(timeout=120)
    assert done.returncode == 0
    assert _mode(crossdock_home) == 0o700
    for name in ("crossdock.db", "secret.key", "admin.token", "autentikapp_demo.secret"):
        assert _mode(crossdock_home / name) & 0o077 == 0, name
    others = [p for p in crossdock_home.rglob("*") if not p.is_symlink() and _mode(p) & 0o077]
    assert others == []


def test_every_client_reads_the_413_of_a_body_it_is_still_sending(sqlite_store):
    integration(sqlite_store)
    with running(sqlite_store) as url:
        target = f"{url}/webhook/cliente_abc"
        with_requests = requests.post(target, data=FIVE_MB, headers=KEY, timeout=60)
        with_httpx = httpx.post(target, content=FIVE_MB, headers=KEY, timeout=60)
        try:
            urllib.request.urlopen(urllib.request.Request(target, data=FIVE_MB, headers=KEY, method="POST"), timeout=60)
            urllib_code = 200
        except urllib.error.HTTPError as error:
            urllib_code = error.code
        curl = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                target,
                "-H",
                "Content-Type: application/json",
                "-H",
                "X-API-Key: secreto_compartido",
                "--data-binary",
                "@-",
            ],
            input=FIVE_MB,
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert with_requests.status_code == 413 and "over this integration's limit" in with_requests.json()["detail"]
    assert with_httpx.status_code == 413
    assert urllib_code == 413
    assert curl.stdout == b"413"


def test_masks_show_the_end_of_a_long_token_but_nothing_of_a_password(sqlite_store):
    create_integration(
        sqlite_store,
        WebhookIntegration(name="basic_client", auth_type="basic", auth_value="logitrack:una-contraseña-bastante-larga-2026"),
    )
    create_integration(
        sqlite_store, WebhookIntegration(name="token_client", auth_type="bearer", auth_value="sk_live_0123456789abcdefghijWXYZ")
    )
    create_integration(
        sqlite_store,
        DbIntegration(
            name="erp",
            db={"url": "postgresql+psycopg://reader@db.example/erp", "password": "otra-contraseña-muy-larga-de-30", "query": "SELECT 1"},
        ),
    )
    assert masked_config(get_integration(sqlite_store, "basic_client"))["auth_value"] == "••••••••"
    assert masked_config(get_integration(sqlite_store, "token_client"))["auth_value"] == "••••••••WXYZ"
    assert masked_config(get_integration(sqlite_store, "erp"))["db"]["password"] == "••••••••"
