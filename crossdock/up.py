"""`crossdock up`: the whole product on one machine, supervised.

Services come from one list (`services()`): a new one is one more `Service` entry. `run_up` checks
every port before starting anything, seeds the demo data, writes Dagster's instance file, starts the
services each in its own process group, prints where everything is, and then supervises: if one
service dies the others are stopped and the command fails naming it; Ctrl-C or SIGTERM stops all of
them (SIGTERM, then SIGKILL after a grace period) and exits 0.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crossdock.ports import PortBusy, ensure_free
from pipelines import settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 15


@dataclass(frozen=True)
class Service:
    name: str
    argv: Callable[[], list[str]]
    port_variable: str | None = None
    port: Callable[[], int] | None = None
    url: Callable[[], str] | None = None
    host: Callable[[], str] = settings.host
    extra_env: dict[str, str] = field(default_factory=dict)


def services() -> list[Service]:
    """Everything `crossdock up` runs, in start order."""
    host = settings.host
    return [
        Service("receiver", lambda: [sys.executable, "-m", "crossdock", "receiver"],
                "CROSSDOCK_PORT", settings.receiver_port, lambda: f"{settings.public_receiver_url()}/docs"),
        Service("dagster-webserver",
                lambda: [str(BIN / "dagster-webserver"), "-h", host(), "-p", str(settings.dagster_port()),
                         "-w", str(ROOT / "workspace.yaml")],
                "CROSSDOCK_DAGSTER_PORT", settings.dagster_port, lambda: f"http://{_shown(host())}:{settings.dagster_port()}"),
        Service("dagster-daemon", lambda: [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")]),
        Service("streamlit",
                lambda: [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
                         "--server.port", str(settings.streamlit_port()), "--server.address", host(),
                         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                "CROSSDOCK_STREAMLIT_PORT", settings.streamlit_port,
                lambda: f"http://{_shown(host())}:{settings.streamlit_port()}"),
        # A stand-in for a client's order API, polled by the demo_api integration (seed 000, option 1).
        Service("demo-client-api",
                lambda: [sys.executable, "-m", "connectors.demo.client_api", "--host", "127.0.0.1",
                         "--port", str(settings.demo_api_port())],
                "CROSSDOCK_DEMO_API_PORT", settings.demo_api_port, demo_api_url, host=lambda: "127.0.0.1"),
    ]


def demo_api_url() -> str:
    return f"http://127.0.0.1:{settings.demo_api_port()}"


def _shown(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def dagster_home() -> Path:
    path = settings.home() / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    return path


def initialise_dagster(home: Path) -> None:
    """Create Dagster's SQLite storages once, before its webserver and daemon start: both would
    otherwise create them at the same moment on a fresh home, and their schema stamps race
    ("alembic_version has more than one head")."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs_count()
        instance.all_instigator_state()
        instance.event_log_storage.get_asset_records()


def check_ports(wanted: list[Service]) -> None:
    """Raise `PortBusy` for the first service whose port is taken, before anything starts."""
    for service in wanted:
        if service.port is not None:
            ensure_free(service.host(), service.port(), service.port_variable or "")


def _die_with_parent() -> None:
    """Children get SIGTERM if `crossdock up` itself dies without cleaning up (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[tuple[Service, subprocess.Popen]] = []
        self.stop_requested = threading.Event()

    def start(self, service: Service) -> None:
        proc = subprocess.Popen(service.argv(), cwd=ROOT, env={**self.env, **service.extra_env},
                                start_new_session=True, preexec_fn=_die_with_parent)
        self.children.append((service, proc))

    def watch(self) -> tuple[Service, int] | None:
        """Block until a stop is requested (None) or a child exits (that child and its code)."""
        while not self.stop_requested.wait(0.5):
            for service, proc in self.children:
                code = proc.poll()
                if code is not None:
                    return service, code
        return None

    def stop_all(self) -> None:
        for _, proc in reversed(self.children):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for service, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{service.name} did not stop in {STOP_GRACE_SECONDS} s; killing it", file=sys.stderr)
        for _, proc in self.children:
            _signal_group(proc, signal.SIGKILL)  # stragglers, including grandchildren (Dagster's code servers)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _print_banner(wanted: list[Service]) -> None:
    print("\nCrossdock is starting:")
    for service in wanted:
        if service.url is not None:
            print(f"  {service.name:<18} {service.url()}")
    print(f"  admin API token    in {settings.admin_token_path()} (or CROSSDOCK_ADMIN_TOKEN)")
    print(f"  admin app password in {settings.home() / 'admin.password'} (or CROSSDOCK_ADMIN_PASSWORD)")
    print("\nCtrl-C stops everything.\n", flush=True)


def run_up(wanted: list[Service] | None = None) -> int:
    """Run `wanted` (default: `services()`) until Ctrl-C/SIGTERM (0) or until one of them dies (1)."""
    from assets.instance import write_dagster_yaml
    from crossdock.demo import print_demo, seed_demo
    from crossdock.demo_pull import print_pull_demo, seed_pull_demo
    from pipelines.settings import SettingError
    from pipelines.store import connect

    try:
        wanted = services() if wanted is None else wanted
        check_ports(wanted)
    except (PortBusy, SettingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = connect()
    print_demo(seed_demo(engine))
    print_pull_demo(seed_pull_demo(engine, demo_api_url(), settings.home()))
    settings.admin_token(), settings.admin_password()  # generate both files now, so the paths printed exist
    home = dagster_home()
    write_dagster_yaml(home)
    initialise_dagster(home)
    env = {**os.environ, "CROSSDOCK_HOME": str(settings.home()), "DAGSTER_HOME": str(home),
           "PYTHONUNBUFFERED": "1"}
    supervisor = Supervisor(env)

    def request_stop(_signum, _frame) -> None:
        supervisor.stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for service in wanted:
            supervisor.start(service)
        _print_banner(wanted)
        died = supervisor.watch()
    finally:
        supervisor.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if died is not None:
        service, code = died
        print(f"error: {service.name} exited with code {code}; stopped the other services", file=sys.stderr)
        return 1
    print("Crossdock stopped.")
    return 0
