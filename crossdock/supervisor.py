"""Keeps `crossdock up`'s services running: each in its own process group; one that exits is
restarted after a backoff (1 s, doubling to a minute, back to 1 s once it has stayed up a minute),
said in the log and in `services.json` (`pipelines.ops.service_status`, read by `/health`), while the
others carry on. Ctrl-C or SIGTERM stops them all: SIGTERM, then SIGKILL after a grace period.

Why restart rather than stop everything: one crashed process (the Dagster daemon killed by the OOM
killer, a code server that lost its gRPC deadline) used to take the whole product down with it, and
with it webhook intake, which needs nothing but the receiver.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pipelines.clock import iso, utcnow
from pipelines.ops.service_status import RESTARTING, RUNNING, STOPPED, ServiceState, SupervisorStatus, write_status

STOP_GRACE_SECONDS = 15
FIRST_BACKOFF_SECONDS = 1.0
LONGEST_BACKOFF_SECONDS = 60.0
HEALTHY_AFTER_SECONDS = 60.0  # a service up this long starts its backoff from the beginning again
READY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Service:
    name: str
    argv: Callable[[], list[str]]
    port_variable: str | None = None
    port: Callable[[], int] | None = None
    url: Callable[[], str] | None = None
    host: Callable[[], str] = lambda: "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    # True once the service can take requests; services after it start only then (or after a timeout).
    ready: Callable[[], bool] | None = None


def backoff_seconds(failures: int) -> float:
    """The wait before restart number `failures` (1, 2, ...) of a service that keeps exiting."""
    return min(LONGEST_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, failures - 1))


def _die_with_parent() -> None:
    """Children get SIGTERM if `crossdock up` itself dies without cleaning up (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@dataclass
class _Child:
    service: Service
    proc: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0  # consecutive quick exits, for the backoff
    restart_at: float | None = None


class Supervisor:
    def __init__(self, env: dict[str, str], cwd: Path, home: Path, log: Callable[[str], None] | None = None):
        self.env = env
        self.cwd = cwd
        self.home = home
        self.log = log or (lambda line: print(f"crossdock: {line}", file=sys.stderr, flush=True))
        self.children: list[_Child] = []
        self.stop_requested = threading.Event()
        self.status = SupervisorStatus(os.getpid(), iso(utcnow()))

    def _spawn(self, child: _Child) -> None:
        service = child.service
        child.proc = subprocess.Popen(
            service.argv(), cwd=self.cwd, env={**self.env, **service.extra_env}, start_new_session=True, preexec_fn=_die_with_parent
        )
        child.started = time.monotonic()
        child.restart_at = None
        state = self.status.services.setdefault(service.name, ServiceState(service.name))
        state.state, state.pid, state.started_at, state.next_start_at = RUNNING, child.proc.pid, iso(utcnow()), None
        self._publish()

    def _publish(self) -> None:
        self.status.updated_at = iso(utcnow())
        try:
            write_status(self.home, self.status)
        except OSError as exc:  # a full disk must not stop the supervision itself
            self.log(f"could not write {self.home / 'services.json'}: {exc.strerror}")

    def start(self, service: Service) -> None:
        """Start `service`; when it declares readiness, wait for it (bounded) before returning."""
        child = _Child(service)
        self.children.append(child)
        self._spawn(child)
        if service.ready is None:
            return
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.stop_requested.is_set() and time.monotonic() < deadline:
            if child.proc.poll() is not None or service.ready():
                return
            self.stop_requested.wait(0.2)
        if not self.stop_requested.is_set():
            self.log(f"{service.name} is not ready after {READY_TIMEOUT_SECONDS:.0f} s; starting the rest anyway")

    def supervise(self) -> None:
        """Restart services that exit, until a stop is requested."""
        while not self.stop_requested.wait(0.5):
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self._spawn(child)
                        self.log(f"{child.service.name} restarted (pid {child.proc.pid})")
                    continue
                code = child.proc.poll() if child.proc else None
                if code is None:
                    continue
                self._schedule_restart(child, code, now)

    def _schedule_restart(self, child: _Child, code: int, now: float) -> None:
        up_for = now - child.started
        child.failures = 1 if up_for >= HEALTHY_AFTER_SECONDS else child.failures + 1
        wait = backoff_seconds(child.failures)
        child.restart_at = now + wait
        state = self.status.services[child.service.name]
        state.state, state.pid = RESTARTING, None
        state.restarts += 1
        state.last_exit_code, state.last_exit_at = code, iso(utcnow())
        state.next_start_at = iso(utcnow() + timedelta(seconds=wait))
        self._publish()
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self.log(f"{child.service.name} {how} after {up_for:.0f} s; restarting in {wait:.0f} s (restart {state.restarts})")

    def stop_all(self) -> None:
        running = [child for child in reversed(self.children) if child.proc is not None]
        for child in running:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{child.service.name} did not stop in {STOP_GRACE_SECONDS} s; killing it")
        for child in running:
            _signal_group(child.proc, signal.SIGKILL)  # stragglers, including grandchildren (run processes)
            child.proc.wait()
            self.status.services[child.service.name].state = STOPPED
        self._publish()
