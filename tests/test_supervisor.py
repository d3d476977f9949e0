"""`crossdock up` keeps the product up: a service that dies is restarted with backoff and reported
(the log, `services.json`, the receiver's `/health`), the others carry on; a stop ends them all.
Real child processes; the receiver answers over loopback."""

from __future__ import annotations

import json
import os
import sys
import threading

import requests

from crossdock.local_dagster import wait_until
from crossdock.supervisor import Service, Supervisor, backoff_seconds
from pipelines.ops.service_status import (
    RESTARTING,
    RUNNING,
    STOPPED,
    ServiceState,
    SupervisorStatus,
    read_status,
    status_path,
    unhealthy_services,
    write_status,
)
from tests.receiver_helpers import running


def test_backoff_doubles_from_one_second_to_a_minute():
    assert [backoff_seconds(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def _crashes_twice_then_runs(counter) -> Service:
    script = (
        "import os, sys, time\n"
        f"path = {str(counter)!r}\n"
        "n = int(open(path).read()) if os.path.exists(path) else 0\n"
        "open(path, 'w').write(str(n + 1))\n"
        "sys.exit(3) if n < 2 else time.sleep(300)\n"
    )
    return Service("crasher", lambda: [sys.executable, "-c", script])


def test_a_service_that_dies_is_restarted_with_backoff_while_the_others_carry_on(tmp_path):
    lines: list[str] = []
    supervisor = Supervisor(dict(os.environ), tmp_path, tmp_path, log=lines.append)
    steady = Service("steady", lambda: [sys.executable, "-c", "import time; time.sleep(300)"])
    supervisor.start(steady)
    supervisor.start(_crashes_twice_then_runs(tmp_path / "runs"))
    steady_pid = supervisor.status.services["steady"].pid
    watcher = threading.Thread(target=supervisor.supervise)
    watcher.start()
    try:

        def back_for_good() -> bool:
            status = read_status(tmp_path)
            crasher = status.services.get("crasher") if status else None
            if crasher is None:
                return False
            # Running for the third time, and that third process has started (it counts itself first).
            third_started = (tmp_path / "runs").exists() and (tmp_path / "runs").read_text() == "3"
            return crasher.state == RUNNING and crasher.restarts == 2 and third_started

        assert wait_until(back_for_good, 30, every_s=0.1) is not None, lines
        status = read_status(tmp_path)
    finally:
        supervisor.stop_requested.set()
        watcher.join()
        supervisor.stop_all()
    assert status is not None
    crasher = status.services["crasher"]
    assert crasher.last_exit_code == 3 and crasher.pid != steady_pid
    steady_now = status.services["steady"]
    assert (steady_now.state, steady_now.pid, steady_now.restarts) == (RUNNING, steady_pid, 0)
    assert any(line.startswith("crasher exited with code 3") and "restarting in 1 s (restart 1)" in line for line in lines)
    assert any("restarting in 2 s (restart 2)" in line for line in lines)
    assert (tmp_path / "runs").read_text() == "3"
    final = json.loads((tmp_path / "services.json").read_text())
    assert {entry["state"] for entry in final["services"].values()} == {STOPPED}
    for pid in (steady_pid, crasher.pid):
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_health_reports_supervised_services_and_degrades_while_one_restarts(sqlite_store, crossdock_home):
    status = SupervisorStatus(
        os.getpid(),
        "2026-11-26T10:00:00Z",
        {
            "receiver": ServiceState("receiver", RUNNING, pid=os.getpid()),
            "dagster-daemon": ServiceState(
                "dagster-daemon", RESTARTING, restarts=3, last_exit_code=-9, next_start_at="2026-11-26T10:00:04Z"
            ),
        },
    )
    with running(sqlite_store) as url:
        plain = requests.get(f"{url}/health", timeout=10).json()
        write_status(crossdock_home, status)
        degraded = requests.get(f"{url}/health", timeout=10)
        status.services["dagster-daemon"].state = RUNNING
        write_status(crossdock_home, status)
        recovered = requests.get(f"{url}/health", timeout=10).json()
    assert plain["status"] == "ok" and "services" not in plain  # nobody supervises this home
    assert degraded.status_code == 200
    body = degraded.json()
    assert body["status"] == "degraded" and body["degraded"] == ["dagster-daemon (restarting, 3 restart(s))"]
    assert body["services"]["dagster-daemon"]["last_exit_code"] == -9
    assert recovered["status"] == "ok" and recovered["services"]["dagster-daemon"]["state"] == RUNNING


def test_a_status_left_by_a_dead_supervisor_is_ignored(tmp_path):
    gone = SupervisorStatus(2**22 + 12345, "2026-11-26T10:00:00Z", {"receiver": ServiceState("receiver", RESTARTING)})
    write_status(tmp_path, gone)
    assert read_status(tmp_path) is None


def test_a_status_file_of_the_wrong_shape_reads_as_no_supervisor_and_unknown_keys_are_dropped(tmp_path):
    alive = os.getpid()
    status_path(tmp_path).write_text(json.dumps({"supervisor_pid": alive, "services": ["receiver"]}))
    assert read_status(tmp_path) is None
    status_path(tmp_path).write_text(
        json.dumps(
            {
                "supervisor_pid": alive,
                "updated_at": "2026-11-26T10:00:00Z",
                "services": {"receiver": {"state": RUNNING, "from_the_future": 1}},
            }
        )
    )
    status = read_status(tmp_path)
    assert status is not None and status.services["receiver"] == ServiceState("receiver", RUNNING)
    assert unhealthy_services(status) == []
