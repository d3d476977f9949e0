"""`crossdock role NAME` and `crossdock health NAME`: one image, one role per container.

`crossdock up` supervises every service on one machine; an installation with docker-compose (seed
000, "Despliegue On-Premise") runs each of them as a service of its own from the same image, and
the loopback test of that topology runs the very same command lines as plain processes. So the
command line of each role, the environment Dagster needs (`DAGSTER_HOME`, the PostgreSQL URL of its
storage, which never goes into `dagster.yaml`) and each role's health probe live here, once.

`migrate` is the one-shot role: it migrates the store and writes Dagster's instance (`dagster.yaml`,
a workspace pointing at the code server at `CROSSDOCK_DAGSTER_GRPC_HOST`, storage and pool limits)
into `<home>/dagster`, before any other role starts. Every other role replaces this process with its
server (`exec`), so signals from the container engine reach the server itself.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from pipelines import settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MIGRATE = "migrate"
DAEMON_HEARTBEAT_TOLERANCE_SECONDS = 120


class RoleError(RuntimeError):
    """A role cannot start; the message says what to do."""


def dagster_home() -> Path:
    """Dagster's home inside the Crossdock home (the same folder `crossdock up` and the app use)."""
    return settings.home() / "dagster"


def _workspace() -> str:
    path = dagster_home() / "workspace.yaml"
    if not path.exists():
        raise RoleError(f"{path} is missing: run `crossdock role migrate` first (the compose file's migrate service)")
    return str(path)


def code_server_argv(host: str, port: int, *, quiet: bool = True) -> list[str]:
    """The code location as its own gRPC server: the one command line `up`, the container role and
    the tests' local Dagster all start (quiet: warnings and up only)."""
    argv = [
        str(BIN / "dagster"),
        "api",
        "grpc",
        "-h",
        host,
        "-p",
        str(port),
        "-m",
        "assets.definitions",
        "-a",
        "defs",
        "--location-name",
        "crossdock",
    ]
    return [*argv, "--log-level", "warning"] if quiet else argv


def streamlit_argv(host: str) -> list[str]:
    """The admin app, headless and without usage statistics, on CROSSDOCK_STREAMLIT_PORT."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app" / "main.py"),
        "--server.port",
        str(settings.streamlit_port()),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


COMMANDS: dict[str, Callable[[], list[str]]] = {
    "receiver": lambda: [sys.executable, "-m", "crossdock", "receiver"],
    "dagster-code-server": lambda: code_server_argv(settings.host(), settings.dagster_grpc_port()),
    "dagster-webserver": lambda: [
        str(BIN / "dagster-webserver"),
        "-h",
        settings.host(),
        "-p",
        str(settings.dagster_port()),
        "-w",
        _workspace(),
    ],
    "dagster-daemon": lambda: [str(BIN / "dagster-daemon"), "run", "-w", _workspace()],
    "streamlit": lambda: streamlit_argv(settings.host()),
}
ROLES = (MIGRATE, *COMMANDS)


def role_environment() -> dict[str, str]:
    """The environment every role runs in: this one, plus what Dagster's `dagster.yaml` resolves."""
    from assets.instance import dagster_environment

    store_url = settings.database_url()
    return {
        **os.environ,
        **dagster_environment(store_url),
        "CROSSDOCK_DATABASE_URL": store_url,
        "CROSSDOCK_HOME": str(settings.home()),
        "DAGSTER_HOME": str(dagster_home()),
        "PYTHONUNBUFFERED": "1",
    }


def command(role: str) -> list[str]:
    """The command line of a long-running role. Raises `RoleError` for an unknown one."""
    if role not in COMMANDS:
        raise RoleError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return COMMANDS[role]()


def migrate() -> str:
    """The one-shot role: migrate the store, make the first admin when there is none (as `crossdock up`
    does), then write and prepare Dagster's instance. What was done."""
    from assets.instance import prepare_instance, write_code_server_workspace, write_dagster_yaml
    from pipelines.access.bootstrap import FIRST_ADMIN, ensure_first_admin
    from pipelines.store import connect

    store_url = settings.database_url()
    first_admin = ensure_first_admin(connect(store_url))
    home = dagster_home()
    write_dagster_yaml(home, store_url)
    write_code_server_workspace(home, settings.dagster_grpc_host(), settings.dagster_grpc_port())
    prepare_instance(home, store_url)
    made = f"; first admin `{FIRST_ADMIN}`, its one-time password in {first_admin}" if first_admin else ""
    return (
        f"store migrated{made}; Dagster instance prepared in {home} "
        f"(code server at {settings.dagster_grpc_host()}:{settings.dagster_grpc_port()})"
    )


def run(role: str) -> None:
    """Run `role`: the one-shot migration, or `exec` the role's server. Raises `RoleError`."""
    if role == MIGRATE:
        print(migrate(), flush=True)
        return
    argv = command(role)
    os.execve(argv[0], argv, role_environment())


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _http_ok(port: int, path: str) -> tuple[bool, str]:
    url = f"http://{_local(settings.host())}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200, f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except OSError as exc:
        return False, f"{url} does not answer: {exc}"


def _accepts(port: int) -> tuple[bool, str]:
    address = (_local(settings.host()), port)
    try:
        with socket.create_connection(address, timeout=5):
            return True, f"{address[0]}:{port} accepts connections"
    except OSError as exc:
        return False, f"{address[0]}:{port} does not accept connections: {exc}"


def _daemon_live() -> tuple[bool, str]:
    """Every daemon this instance needs (sensors, schedules, run queue, run monitoring) has sent a
    heartbeat lately: what `dagster-daemon liveness-check` checks, with a tolerance of minutes, not hours."""
    import dagster as dg
    from dagster._daemon.controller import all_daemons_live

    os.environ.update(role_environment())
    with dg.DagsterInstance.from_config(str(dagster_home())) as instance:
        live = all_daemons_live(instance, heartbeat_tolerance_seconds=DAEMON_HEARTBEAT_TOLERANCE_SECONDS)
    return live, "every daemon sent a heartbeat" if live else "a daemon has sent no heartbeat lately"


PROBES: dict[str, Callable[[], tuple[bool, str]]] = {
    "receiver": lambda: _http_ok(settings.receiver_port(), "/health"),
    "dagster-code-server": lambda: _accepts(settings.dagster_grpc_port()),
    "dagster-webserver": lambda: _http_ok(settings.dagster_port(), "/server_info"),
    "dagster-daemon": _daemon_live,
    "streamlit": lambda: _http_ok(settings.streamlit_port(), "/_stcore/health"),
}


def health(role: str) -> tuple[bool, str]:
    """Is `role`, running in this container (or on this machine), healthy; and why (for the log)."""
    if role not in PROBES:
        raise RoleError(f"no health probe for role {role!r}: one of {', '.join(PROBES)}")
    return PROBES[role]()
