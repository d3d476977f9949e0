"""The on-premise install (seed 000, "Despliegue On-Premise") checked without a container engine:
docker-compose.yml, its override example, .env.example, the Dockerfile and deploy/install.sh, parsed
and held to what the install promises (every role healthy before its dependents start, the store
migrated once, secrets only from .env, every variable documented, one non-root image)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
import sqlalchemy as sa
import yaml

from assets.instance import dagster_pg_url
from connectors.sql.source import resolve_url
from crossdock.roles import COMMANDS, MIGRATE, PROBES, ROLES
from pipelines.integrations.db_settings import DbSettings
from pipelines.settings import Settings, variable
from tests.compose_files import (
    COMPOSE,
    DOCKERFILE,
    ENV_EXAMPLE,
    INSTALL,
    OVERRIDE_EXAMPLE,
    ROOT,
    Unset,
    installed_env,
    interpolate,
    load,
    parse_env,
    references,
    service_environment,
)
from tests.services import unavailable

CROSSDOCK_SERVICES = set(ROLES)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(COMPOSE)


def _role(service: dict) -> str | None:
    command = service.get("command") or []
    return command[1] if command[:1] == ["role"] else None


def test_the_compose_file_runs_postgres_and_every_role_of_the_one_image(compose):
    services = compose["services"]
    assert set(services) == {"postgres", *CROSSDOCK_SERVICES}
    for name in CROSSDOCK_SERVICES:
        assert _role(services[name]) == name  # the service named after the role it runs
        assert services[name]["image"] == "${CROSSDOCK_IMAGE:-crossdock:latest}"
        assert "crossdock-home:/var/lib/crossdock" in services[name]["volumes"]
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == [MIGRATE] and services[MIGRATE]["build"]["context"] == "."
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert set(compose["volumes"]) == {"postgres-data", "crossdock-home"}


def test_every_long_running_service_restarts_and_has_its_own_health_probe(compose):
    services = compose["services"]
    for name in COMMANDS:
        service = services[name]
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"] == ["CMD", "crossdock", "health", name]
        assert name in PROBES
    assert services[MIGRATE]["restart"] == "no" and services[MIGRATE]["healthcheck"] == {"disable": True}
    assert services["postgres"]["restart"] == "unless-stopped"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]


def _dependencies(compose, name) -> set[str]:
    found, todo = set(), [name]
    while todo:
        for dependency in compose["services"][todo.pop()].get("depends_on", {}):
            if dependency not in found:
                found.add(dependency)
                todo.append(dependency)
    return found


def test_nothing_starts_before_the_store_is_migrated_and_dagster_waits_for_its_code_server(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency == MIGRATE else "service_healthy"
            assert condition == {"condition": wanted}, (name, dependency)
    assert services[MIGRATE]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in COMMANDS:
        assert {MIGRATE, "postgres"} <= _dependencies(compose, name), name
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "dagster-code-server" in services[name]["depends_on"]
    # run monitoring looks up run processes, which are the code server's children
    assert services["dagster-daemon"]["pid"] == "service:dagster-code-server"


def test_the_receiver_is_published_on_8085_and_the_dagster_ui_on_loopback_only(compose):
    env = installed_env()
    ports = {name: [interpolate(port, env) for port in service.get("ports", [])] for name, service in compose["services"].items()}
    assert ports["receiver"] == ["8085:8085"]
    loopback = interpolate(compose["services"]["receiver"]["ports"][0], {**env, "PUBLISH_ADDRESS": "127.0.0.1:"})
    assert loopback == "127.0.0.1:8085:8085"
    assert ports["dagster-webserver"] == ["127.0.0.1:3000:3000"]
    assert ports["streamlit"] == ["8501:8501"]
    assert not ports["postgres"] and not ports["dagster-code-server"] and not ports["dagster-daemon"]


def test_no_secret_is_written_in_the_compose_files_only_referred_to(compose):
    for path in (COMPOSE, OVERRIDE_EXAMPLE):
        for name, service in load(path)["services"].items():
            for key, value in (service.get("environment") or {}).items():
                if SECRET_NAME.search(key):
                    assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", str(value)), (path.name, name, key, value)
    url = compose["services"]["receiver"]["environment"]["CROSSDOCK_DATABASE_URL"]
    assert sa.make_url(interpolate(url, {"POSTGRES_PASSWORD": "p"})).password == "p"  # the password is a reference
    with pytest.raises(Unset, match="POSTGRES_PASSWORD"):  # and compose refuses to start without it
        interpolate(url, {})


def test_every_variable_the_compose_files_use_is_in_env_example_and_every_setting_documented():
    documented = ENV_EXAMPLE.read_text(encoding="utf-8")
    assigned = parse_env(documented)
    used = references(COMPOSE.read_text(encoding="utf-8")) | references(OVERRIDE_EXAMPLE.read_text(encoding="utf-8"))
    assert used - set(assigned) == set()
    for field in Settings.model_fields:
        assert re.search(rf"^#? ?{variable(field)}=", documented, re.MULTILINE), f"{variable(field)} is not in .env.example"
    assert all(not assigned[name] for name in assigned if SECRET_NAME.search(name)), "a secret has a value in .env.example"


def test_the_installed_env_gives_every_service_usable_settings_and_dagster_its_postgres(compose):
    env = installed_env()
    for name in CROSSDOCK_SERVICES:
        environment = service_environment(compose, name, env)
        settings = Settings.model_validate(
            {key.removeprefix("CROSSDOCK_").lower(): value for key, value in environment.items() if key.startswith("CROSSDOCK_")}
        )
        assert str(settings.home) == "/var/lib/crossdock" and settings.host == "0.0.0.0"
        assert settings.dagster_grpc_host == "dagster-code-server"
        assert settings.admin_token.get_secret_value() == env["CROSSDOCK_ADMIN_TOKEN"]
        url = sa.make_url(settings.database_url)
        assert (url.drivername, url.host, url.database, url.username) == ("postgresql+psycopg", "postgres", "crossdock", "crossdock")
        assert dagster_pg_url(settings.database_url).startswith("postgresql+psycopg2://crossdock:")


def test_the_override_example_carries_the_client_db_variables_into_a_db_integrations_url(compose):
    override = load(OVERRIDE_EXAMPLE)
    assert set(override["services"]) <= set(compose["services"])
    assert "dagster-code-server" in override["services"]  # where DB pulls run
    env = {**installed_env(), "CLIENT_DB_PASSWORD": "pa:ss@w/rd"}
    client = service_environment(override, "dagster-code-server", env)
    assert set(client) == {"CLIENT_DB_HOST", "CLIENT_DB_PORT", "CLIENT_DB_USER", "CLIENT_DB_PASSWORD", "CLIENT_DB_NAME"}
    settings = DbSettings(
        url="mysql+pymysql://${CLIENT_DB_USER}@${CLIENT_DB_HOST}:${CLIENT_DB_PORT}/${CLIENT_DB_NAME}",
        password_env="CLIENT_DB_PASSWORD",
        query="SELECT 1",
    )
    url = resolve_url(settings, client)
    assert (url.host, url.port, url.username, url.database) == ("192.168.1.100", 3306, "logitrack_reader", "erp_production")
    assert url.password == "pa:ss@w/rd"
    with pytest.raises(Unset, match="CLIENT_DB_PASSWORD"):
        service_environment(override, "dagster-code-server", installed_env())  # empty in .env.example


def _stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's build stages, each a list of (INSTRUCTION, arguments), continuations joined."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[list[tuple[str, str]]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_the_dockerfile_is_multi_stage_installs_the_lock_and_runs_unprivileged_with_a_healthcheck():
    stages = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    runs = " ".join(arguments for instruction, arguments in build if instruction == "RUN")
    assert re.search(r"uv pip sync .*requirements-runtime\.lock", runs)
    assert ("COPY", "requirements-runtime.lock pyproject.toml ./") in build
    assert any(instruction == "COPY" and arguments.startswith("--from=build") for instruction, arguments in runtime)
    users = [arguments for instruction, arguments in runtime if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthchecks = [arguments for instruction, arguments in runtime if instruction == "HEALTHCHECK"]
    assert healthchecks and '["crossdock", "health", "receiver"]' in healthchecks[-1]
    assert ("ENTRYPOINT", '["crossdock"]') in runtime
    for stage in stages:
        for instruction, arguments in stage:
            if instruction in ("ENV", "ARG"):
                assert not SECRET_NAME.search(arguments.split("=")[0]), arguments
            if instruction in ("COPY", "ADD"):
                assert ".env" not in arguments.split()


RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
# The development tools, by name: none may reach the image, whatever pulls them in.
DEV_TOOLS = {
    "pytest",
    "pytest-xdist",
    "hypothesis",
    "playwright",
    "ruff",
    "mypy",
    "import-linter",
    "mkdocs",
    "mkdocs-material",
    "schemathesis",
    "aiosmtpd",
    "dlt",
    "dagster-k8s",
    "kubernetes",
}
# In the dev extra for the tests' own use, and also needed at run time: httpx is Authlib's HTTP client,
# which Streamlit's single sign-on (streamlit[auth]) uses.
ALSO_RUNTIME = {"httpx"}


def _pins(path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE))


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_image_installs_the_runtime_dependencies_only_at_the_tested_pins():
    """The image's lock is `make lock`'s runtime-only compile: every runtime dependency of pyproject.toml,
    none of the `dev` extra nor any test or lint tool, each at the version requirements.lock (the one
    the tests run on) pins. No instruction of any stage installs the dev set."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, tested = _pins(RUNTIME_LOCK), _pins(ROOT / "requirements.lock")
    assert {_name(r) for r in project["dependencies"]} <= set(runtime)
    dev_extra = {_name(r) for r in project["optional-dependencies"]["dev"]}
    dev_only = (dev_extra - ALSO_RUNTIME) | DEV_TOOLS
    assert not dev_only & set(runtime), sorted(dev_only & set(runtime))
    assert {name: version for name, version in runtime.items() if tested.get(name) != version} == {}
    for stage in _stages(DOCKERFILE.read_text(encoding="utf-8")):
        for instruction, arguments in stage:
            if instruction == "RUN":
                assert "--extra" not in arguments and "[dev]" not in arguments, arguments
                assert not re.search(r"(?<![\w-])requirements\.lock", arguments), arguments
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"uv pip compile pyproject\.toml (?!.*--extra).*-c requirements\.lock -o requirements-runtime\.lock", makefile)


def test_the_build_context_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".env.*", ".venv", ".crossdock", ".git"} <= ignored
    assert "docker-compose.override.yml" in ignored


def test_the_install_script_follows_the_seeds_four_steps_in_order():
    script = INSTALL.read_text(encoding="utf-8")
    assert subprocess.run(["bash", "-n", str(INSTALL)], capture_output=True).returncode == 0
    steps = ["cp .env.example .env", "random_secret", '"${compose[@]}" up -d', 'curl -fsS -m 10 "$url"']
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "/health" in script
    for name in ("POSTGRES_PASSWORD", "CROSSDOCK_SECRET_KEY", "CROSSDOCK_ADMIN_TOKEN", "CROSSDOCK_ADMIN_PASSWORD"):
        assert name in script


@pytest.mark.e2e
def test_the_install_script_generates_every_secret_once_and_never_prints_one(tmp_path):
    """Steps 1 and 2 for real, on a copy of the repository's files, with a stand-in for docker-compose
    (no engine here) and a receiver that is not there: the script stops at step 4 with its message."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "install.sh").write_text(INSTALL.read_text(encoding="utf-8"))
    (tmp_path / ".env.example").write_text(ENV_EXAMPLE.read_text(encoding="utf-8"))
    (tmp_path / "compose").write_text('#!/bin/sh\necho "compose $*" >> compose.calls\n')
    (tmp_path / "compose").chmod(0o755)
    (tmp_path / "curl").write_text('#!/bin/sh\necho "$*" >> curl.calls\nexit 7\n')
    (tmp_path / "curl").chmod(0o755)
    (tmp_path / "sleep").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "sleep").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "COMPOSE": str(tmp_path / "compose")}
    first = subprocess.run(["bash", "deploy/install.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    installed = parse_env((tmp_path / ".env").read_text())
    second = subprocess.run(["bash", "deploy/install.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 1 and "did not answer at http://localhost:8085/health" in first.stderr
    for name in ("POSTGRES_PASSWORD", "CROSSDOCK_SECRET_KEY", "CROSSDOCK_ADMIN_TOKEN", "CROSSDOCK_ADMIN_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{40}", installed[name]), name
        assert installed[name] not in first.stdout + first.stderr
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
    assert parse_env((tmp_path / ".env").read_text()) == installed  # a second run keeps the secrets
    assert "generated" not in second.stdout
    assert (tmp_path / "compose.calls").read_text().splitlines() == ["compose up -d", "compose up -d"]
    assert "http://localhost:8085/health" in (tmp_path / "curl.calls").read_text()


@pytest.mark.e2e
def test_docker_compose_itself_accepts_the_files_with_the_installed_env(tmp_path):
    """The seed's own tool (`docker-compose`, Debian's 1.29: the compose schema and interpolation)
    validates the compose file with its override example on top, interpolated from the installed .env."""
    if shutil.which("docker-compose") is None:
        unavailable("docker-compose is not installed (make compose-tool installs Debian's)")
    env_file = tmp_path / ".env"
    env = {**installed_env(), "CLIENT_DB_PASSWORD": "client-secret"}
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    done = subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE), "-f", str(OVERRIDE_EXAMPLE), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)["services"]
    assert resolved["receiver"]["environment"]["CLIENT_DB_PASSWORD"] == "client-secret"
    assert resolved["receiver"]["ports"] == [{"published": 8085, "target": 8085}]
    assert resolved["dagster-daemon"]["depends_on"] == {"dagster-code-server": {"condition": "service_healthy"}}
