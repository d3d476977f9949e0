"""docker-compose.yml's topology, run as plain processes on loopback: each service's command line
(`crossdock role <service>`) and environment come from the compose file and the `.env` that
deploy/install.sh makes of `.env.example`; only what a container has of its own (its home volume,
the address it listens on, the PostgreSQL host and the ports) is swapped for loopback values. The
one-shot migrate role runs first, every role then becomes healthy by its own probe (the compose
healthchecks' command), and seed 000's webhook curl lands an order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from crossdock.local_dagster import wait_until
from crossdock.roles import COMMANDS, MIGRATE
from pipelines.store.schema import integrations, orders
from tests.compose_files import COMPOSE, ROOT, installed_env, load, service_environment
from tests.processes import free_port
from tests.services import postgres_schema

pytestmark = pytest.mark.e2e

# The roles in the order compose starts them (dependencies first).
START_ORDER = ["dagster-code-server", "receiver", "dagster-webserver", "dagster-daemon", "streamlit"]
# What a container has of its own, swapped for loopback; everything else is the compose environment.
CONTAINER_ONLY = {"CROSSDOCK_HOME", "CROSSDOCK_HOST", "CROSSDOCK_DATABASE_URL", "CROSSDOCK_DAGSTER_GRPC_HOST"}


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url
        schema = sa.make_url(url).query["options"].split("=", 1)[1] + "_dagster"
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def _loopback(environment: dict[str, str], home: Path, pg_url: str, ports: dict[str, str]) -> dict[str, str]:
    assert set(environment) >= CONTAINER_ONLY
    swapped = {
        "CROSSDOCK_HOME": str(home),
        "CROSSDOCK_HOST": "127.0.0.1",
        "CROSSDOCK_DATABASE_URL": pg_url,
        "CROSSDOCK_DAGSTER_GRPC_HOST": "127.0.0.1",
        **ports,
    }
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("CROSSDOCK_", "DAGSTER_", "CLIENT_DB_"))}
    return {**inherited, **environment, **swapped}


@contextmanager
def _role(role: str, env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen]:
    log = open(logs / f"{role}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "crossdock", "role", role], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=30)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # a run process of the code server still alive
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def _healthy(role: str, env: dict[str, str]) -> bool:
    done = subprocess.run([sys.executable, "-m", "crossdock", "health", role], cwd=ROOT, env=env, capture_output=True, timeout=60)
    return done.returncode == 0


def _wait_healthy(role: str, process: subprocess.Popen, env: dict[str, str], logs: Path) -> None:
    """Poll the role's own probe (compose's healthcheck command) until it passes; fail if the role exits."""
    became = wait_until(lambda: _healthy(role, env) or process.poll() is not None, 240, every_s=1)
    assert became is not None and process.poll() is None, (logs / f"{role}.log").read_text()[-3000:]


SEED_CURL = """curl -sS -o {out} -w '%{{http_code}}' -X POST {url}/webhook/cliente_abc \\
  -H "Content-Type: application/json" \\
  -H "X-API-Key: secreto_compartido" \\
  -d '[
    {{
      "external_id": "PED-001",
      "client_name": "María García",
      "address": "Zona 15, Guatemala",
      "latitude": 14.5800,
      "longitude": -90.4900
    }}
  ]'"""


def test_the_compose_topology_runs_as_processes_from_the_same_env_and_takes_seed_000s_webhook(pg_url, tmp_path):
    compose = load(COMPOSE)
    dotenv = installed_env()
    ports = {
        "CROSSDOCK_PORT": str(free_port()),
        "CROSSDOCK_DAGSTER_PORT": str(free_port()),
        "CROSSDOCK_DAGSTER_GRPC_PORT": str(free_port()),
        "CROSSDOCK_STREAMLIT_PORT": str(free_port()),
    }
    home, logs = tmp_path / "home", tmp_path / "logs"
    logs.mkdir()
    envs = {role: _loopback(service_environment(compose, role, dotenv), home, pg_url, ports) for role in [MIGRATE, *START_ORDER]}
    assert set(START_ORDER) == set(COMMANDS)
    receiver = f"http://127.0.0.1:{ports['CROSSDOCK_PORT']}"

    migrated = subprocess.run(
        [sys.executable, "-m", "crossdock", "role", MIGRATE], cwd=ROOT, env=envs[MIGRATE], capture_output=True, text=True, timeout=300
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert (home / "dagster" / "dagster.yaml").exists() and (home / "dagster" / "workspace.yaml").exists()
    assert dotenv["POSTGRES_PASSWORD"] not in (home / "dagster" / "dagster.yaml").read_text()

    with ExitStack() as stack:
        processes = {}
        for role in START_ORDER:
            processes[role] = stack.enter_context(_role(role, envs[role], logs))
            if role == "dagster-code-server":  # compose: the webserver and daemon wait for it to be healthy
                _wait_healthy(role, processes[role], envs[role], logs)
        for role in START_ORDER:
            _wait_healthy(role, processes[role], envs[role], logs)

        health = requests.get(f"{receiver}/health", timeout=10).json()
        assert health["status"] == "ok" and health["store"]["dialect"] == "postgresql"
        token = {"Authorization": f"Bearer {dotenv['CROSSDOCK_ADMIN_TOKEN']}"}
        created = requests.post(
            f"{receiver}/integrations",
            headers=token,
            timeout=30,
            json={"name": "cliente_abc", "type": "webhook", "auth_type": "apikey", "auth_value": "secreto_compartido", "is_active": True},
        )
        assert created.status_code == 201, created.text
        answer = tmp_path / "answer.json"
        sent = subprocess.run(["bash", "-c", SEED_CURL.format(out=answer, url=receiver)], capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        assert 200 <= int(sent.stdout) < 300, (sent.stdout, answer.read_text())
        assert json.loads(answer.read_text())["created"] == 1
        for role, process in processes.items():
            assert process.poll() is None, f"{role} exited: {(logs / f'{role}.log').read_text()[-3000:]}"

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        landed = conn.execute(
            sa.select(orders.c.external_id, orders.c.client_name, orders.c.address)
            .join(integrations, integrations.c.id == orders.c.integration_id)
            .where(integrations.c.name == "cliente_abc")
        ).all()
    engine.dispose()
    assert landed == [("PED-001", "María García", "Zona 15, Guatemala")]
    for role in START_ORDER:
        assert "Traceback" not in (logs / f"{role}.log").read_text(), role


def test_a_role_answers_bad_input_and_a_missing_migration_with_a_message_not_a_traceback(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CROSSDOCK_", "DAGSTER_"))}
    env.update(
        {
            "CROSSDOCK_HOME": str(tmp_path / "home"),
            "CROSSDOCK_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "CROSSDOCK_PORT": str(free_port()),
        }
    )

    def crossdock(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "crossdock", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    unknown = crossdock("role", "integration-service")
    assert unknown.returncode == 2 and "unknown role 'integration-service': one of migrate, receiver" in unknown.stderr
    early = crossdock("role", "dagster-daemon")
    assert early.returncode == 2 and "run `crossdock role migrate` first" in early.stderr
    down = crossdock("health", "receiver")
    assert down.returncode == 1 and f"receiver: unhealthy: http://127.0.0.1:{env['CROSSDOCK_PORT']}/health does not answer" in down.stderr
    no_probe = crossdock("health", "migrate")
    assert no_probe.returncode == 2 and "no health probe for role 'migrate'" in no_probe.stderr
    for done in (unknown, early, down, no_probe):
        assert "Traceback" not in done.stderr
