"""`crossdock up`: the whole product on one machine, supervised.

Services come from one list (`services()`): a new one is one more `Service` entry. `run_up` checks
every port before starting anything, seeds the demo data, prepares Dagster's instance (its
`dagster.yaml`, storage, pool limits and a workspace pointing at one long-lived code server), starts
the services each in its own process group (the code server first, and the webserver and daemon
once it answers), prints where everything is, and then supervises (`crossdock.supervisor`): a
service that exits is restarted with backoff and reported, while the others carry on; Ctrl-C or
SIGTERM stops all of them and exits 0.

The outbound policy refuses loopback unless CROSSDOCK_OUTBOUND_ALLOW lists it: `up` adds exactly the
demo client API's address and port (`demo_outbound_allow`) to whatever the operator set, for itself
(it seeds the demo_api integration) and its services, so the demo polls work and nothing else on this
machine (the receiver's admin API, Dagster, Redis) becomes reachable.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

from crossdock.ports import PortBusy, ensure_free
from crossdock.roles import code_server_argv, streamlit_argv
from crossdock.supervisor import Service, Supervisor
from pipelines import settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def services() -> list[Service]:
    """Everything `crossdock up` runs, in start order."""
    host = settings.host
    return [
        Service(
            "receiver",
            lambda: [sys.executable, "-m", "crossdock", "receiver"],
            "CROSSDOCK_PORT",
            settings.receiver_port,
            lambda: f"{settings.public_receiver_url()}/docs",
            host=host,
        ),
        # One code server for the webserver, the daemon and every run they launch (runs are its processes).
        Service(
            "dagster-code-server",
            lambda: code_server_argv("127.0.0.1", settings.dagster_grpc_port()),
            "CROSSDOCK_DAGSTER_GRPC_PORT",
            settings.dagster_grpc_port,
            ready=lambda: _accepts("127.0.0.1", settings.dagster_grpc_port()),
        ),
        Service(
            "dagster-webserver",
            lambda: [str(BIN / "dagster-webserver"), "-h", host(), "-p", str(settings.dagster_port()), "-w", _workspace()],
            "CROSSDOCK_DAGSTER_PORT",
            settings.dagster_port,
            lambda: f"http://{_shown(host())}:{settings.dagster_port()}",
            host=host,
        ),
        Service("dagster-daemon", lambda: [str(BIN / "dagster-daemon"), "run", "-w", _workspace()]),
        Service(
            "streamlit",
            lambda: streamlit_argv(host()),
            "CROSSDOCK_STREAMLIT_PORT",
            settings.streamlit_port,
            lambda: f"http://{_shown(host())}:{settings.streamlit_port()}",
            host=host,
        ),
        # A stand-in for a client's order API, polled by the demo_api integration (seed 000, option 1).
        Service(
            "demo-client-api",
            lambda: [sys.executable, "-m", "connectors.demo.client_api", "--host", "127.0.0.1", "--port", str(settings.demo_api_port())],
            "CROSSDOCK_DEMO_API_PORT",
            settings.demo_api_port,
            demo_api_url,
            host=lambda: "127.0.0.1",
        ),
    ]


def demo_outbound_allow(current: str) -> str:
    """CROSSDOCK_OUTBOUND_ALLOW for `up`: `current` plus the demo client API's address:port, only."""
    from pipelines.outbound import with_entry

    return with_entry(current, f"127.0.0.1:{settings.demo_api_port()}")


def demo_api_url() -> str:
    return f"http://127.0.0.1:{settings.demo_api_port()}"


def _shown(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def _workspace() -> str:
    return str(dagster_home() / "workspace.yaml")  # written by run_up: the code server's address


def dagster_home() -> Path:
    path = settings.home() / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_ports(wanted: list[Service]) -> None:
    """Raise `PortBusy` for the first service whose port is taken, before anything starts."""
    for service in wanted:
        if service.port is not None:
            ensure_free(service.host(), service.port(), service.port_variable or "")


def _print_banner(wanted: list[Service]) -> None:
    print("\nCrossdock is starting:")
    for service in wanted:
        if service.url is not None:
            print(f"  {service.name:<18} {service.url()}")
    print(f"  admin API token    in {settings.admin_token_path()} (or CROSSDOCK_ADMIN_TOKEN)")
    if settings.current().app_auth == "shared_password":
        print(f"  admin app password in {settings.home() / 'admin.password'} (or CROSSDOCK_ADMIN_PASSWORD)")
    elif settings.current().app_auth == "oidc":
        print("  admin app log-in   single sign-on only ([auth] in .streamlit/secrets.toml); a person's role:")
        print("  admin app users    crossdock users add THEIR@EMAIL --role viewer|analyst|operator|admin")
    else:
        from pipelines.access.bootstrap import FIRST_ADMIN, first_password_path

        if first_password_path().exists():
            print(f"  admin app log-in   {FIRST_ADMIN}, one-time password in {first_password_path()}")
        print("  admin app users    crossdock users add NAME --role viewer|analyst|operator|admin")
    print("\nCtrl-C stops everything.\n", flush=True)


def run_up(wanted: list[Service] | None = None) -> int:
    """Run `wanted` (default: `services()`) until Ctrl-C/SIGTERM (0); 2 when a port is taken or a
    setting is unusable, before anything starts."""
    from assets.instance import dagster_environment, prepare_instance, write_code_server_workspace, write_dagster_yaml
    from crossdock.demo import print_demo, seed_demo
    from crossdock.demo_pull import print_pull_demo, seed_pull_demo
    from pipelines.settings import SettingError
    from pipelines.store import connect

    try:
        wanted = services() if wanted is None else wanted
        check_ports(wanted)
        store_url = settings.database_url()
    except (PortBusy, SettingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from pipelines.outbound import ALLOW_VARIABLE, OutboundPolicyError, parse_allow_list

    try:
        os.environ[ALLOW_VARIABLE] = demo_outbound_allow(os.environ.get(ALLOW_VARIABLE, ""))
        parse_allow_list(os.environ[ALLOW_VARIABLE])  # before the demo is seeded, and before anything starts
    except OutboundPolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    loosened = settings.tighten_home()
    if loosened:
        print(f"made {len(loosened)} file(s) in {settings.home()} readable by this user only", file=sys.stderr)
    engine = connect()
    print_demo(seed_demo(engine))
    print_pull_demo(seed_pull_demo(engine, demo_api_url(), settings.home()))
    settings.admin_token()  # generate it now, so the path printed exists
    if settings.current().app_auth == "shared_password":
        settings.admin_password()
    else:
        from pipelines.access.bootstrap import ensure_first_admin

        ensure_first_admin(engine)
    home = dagster_home()
    write_dagster_yaml(home, store_url)
    write_code_server_workspace(home, "127.0.0.1", settings.dagster_grpc_port())
    prepare_instance(home, store_url)
    env = {
        **os.environ,
        **dagster_environment(store_url),
        "CROSSDOCK_HOME": str(settings.home()),
        "CROSSDOCK_DATABASE_URL": store_url,
        "DAGSTER_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
    }
    supervisor = Supervisor(env, ROOT, settings.home())

    def request_stop(_signum, _frame) -> None:
        supervisor.stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for service in wanted:
            if supervisor.stop_requested.is_set():
                break
            supervisor.start(service)
        _print_banner(wanted)
        supervisor.supervise()
    finally:
        supervisor.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Crossdock stopped.")
    return 0
