"""A real Dagster as `crossdock up` runs it (one code server, the daemon: sensors, run queue, run
launcher, run monitoring) on a DAGSTER_HOME of the caller's, without the UI or the supervision: for
the end-to-end tests and the benchmarks, which need the product's Dagster and nothing else."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assets.instance import dagster_environment, prepare_instance, write_code_server_workspace, write_dagster_yaml
from crossdock.roles import code_server_argv

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def running_daemon(dagster_home: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Start a code server and `dagster-daemon run` with Crossdock's instance settings for the store
    in `env` (else the environment's); stop them and everything they started (run processes) on exit.
    Their logs are `dagster_home/code-server.log` and `dagster_home/daemon.log`."""
    environment = {**os.environ, **(env or {})}
    store_url = environment["CROSSDOCK_DATABASE_URL"]
    write_dagster_yaml(dagster_home, store_url)
    port = _free_port()
    write_code_server_workspace(dagster_home, "127.0.0.1", port)
    prepare_instance(dagster_home, store_url)
    environment.update({**dagster_environment(store_url), "DAGSTER_HOME": str(dagster_home)})
    with _process(
        code_server_argv("127.0.0.1", port, quiet=False),
        environment,
        dagster_home / "code-server.log",
    ) as code_server:
        if wait_until(lambda: _accepts(port) or code_server.poll() is not None, 120, every_s=0.2) is None or code_server.poll() is not None:
            raise RuntimeError(f"the code server did not come up: {(dagster_home / 'code-server.log').read_text()[-2000:]}")
        with _process(
            [str(BIN / "dagster-daemon"), "run", "-w", str(dagster_home / "workspace.yaml")], environment, dagster_home / "daemon.log"
        ) as daemon:
            yield daemon


@contextmanager
def _process(argv: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    log = open(log_path, "ab")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        _stop_group(process)
        log.close()


def _stop_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    try:  # anything of its session still alive (a run process mid-flight)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_until(condition: Callable[[], bool], deadline_s: float, every_s: float = 0.05) -> float | None:
    """Poll `condition` (a real external process is doing the work) until true; seconds taken, or None."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if condition():
            return time.monotonic() - started
        time.sleep(every_s)
    return None


DAEMON_SHUTDOWN_LINE = "Received interrupt, shutting down daemon threads"


def daemon_log_while_running(log_text: str) -> str:
    """A daemon log up to its shutdown. On SIGTERM, Dagster's threaded sensor daemon closes its workspace
    before its thread pool has finished the ticks already queued, and those ticks log "Location ... does
    not exist in workspace" tracebacks (Dagster 1.13; no run or data is affected). What the daemon logged
    while it ran is what a test can hold to "no tracebacks"."""
    return log_text.split(DAEMON_SHUTDOWN_LINE, 1)[0]
