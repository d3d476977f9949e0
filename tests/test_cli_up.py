"""`crossdock receiver`, `crossdock demo` and `crossdock up` as a user runs them (real processes)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import requests

from crossdock.local_dagster import wait_until
from tests.conftest import EXAMPLES
from tests.processes import crossdock, free_port, wait_for_http
from tests.receiver_helpers import SEED_BODY

SEED_CONFIG = {"name": "cliente_abc", "type": "webhook", "auth_type": "apikey", "auth_value": "secreto_compartido", "is_active": True}


def _occupied() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def test_receiver_on_a_busy_port_is_a_clear_error():
    with _occupied() as sock:
        port = sock.getsockname()[1]
        proc = crossdock("receiver", env={"CROSSDOCK_PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode().strip() == f"error: port {port} on 127.0.0.1 is already in use; set CROSSDOCK_PORT to a free port"
    assert b"Traceback" not in out + err


def test_demo_is_idempotent_and_never_prints_the_secret(crossdock_home):
    first = crossdock("demo", env={}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out1, _ = first.communicate(timeout=120)
    second = crossdock("demo", env={}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out2, _ = second.communicate(timeout=120)
    secret_file = crossdock_home / "autentikapp_demo.secret"
    secret = secret_file.read_text().strip()
    assert first.returncode == second.returncode == 0
    assert "created demo integration autentikapp_demo" in out1.decode()
    assert "demo integration autentikapp_demo already exists" in out2.decode()
    assert "cliente_abc" not in out1.decode().split("seed 000")[0]  # left for the admin to create (seed 000 step 1)
    assert secret.startswith("whsec_") and secret not in (out1 + out2).decode()
    assert "••••" + secret[-4:] in out1.decode()
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    token = (crossdock_home / "admin.token").read_text().strip()
    assert f"$(cat {crossdock_home / 'admin.token'})" in out1.decode() and token not in (out1 + out2).decode()
    assert "X-API-Key: secreto_compartido" in out1.decode()


def test_up_refuses_a_busy_port_before_starting_anything():
    with _occupied() as sock:
        port = sock.getsockname()[1]
        proc = crossdock(
            "up",
            env={
                "CROSSDOCK_PORT": str(free_port()),
                "CROSSDOCK_DAGSTER_PORT": str(port),
                "CROSSDOCK_STREAMLIT_PORT": str(free_port()),
                "CROSSDOCK_DEMO_API_PORT": str(free_port()),
                "CROSSDOCK_DAGSTER_GRPC_PORT": str(free_port()),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use; set CROSSDOCK_DAGSTER_PORT" in err.decode()
    assert b"Traceback" not in out + err


def _printed_commands(log: str) -> tuple[str, str]:
    """The two seed 000 commands `up` printed (create cliente_abc, send the order), as shell text:
    each is the block under its heading, up to the next blank line."""

    def command_after(heading: str) -> str:
        block = log.split(heading, 1)[1].split("\n\n", 1)[0]
        return block.split("\n", 1)[1]

    return command_after("seed 000, step 1"), command_after("seed 000, step 3")


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_runs_everything_accepts_both_seeds_and_stops_cleanly(crossdock_home, tmp_path):
    ports = {
        "CROSSDOCK_PORT": free_port(),
        "CROSSDOCK_DAGSTER_PORT": free_port(),
        "CROSSDOCK_STREAMLIT_PORT": free_port(),
        "CROSSDOCK_DEMO_API_PORT": free_port(),
        "CROSSDOCK_DAGSTER_GRPC_PORT": free_port(),
    }
    # Output to a file, not an unread pipe: a full pipe would block every service's next log line.
    log = (tmp_path / "up.log").open("wb")
    # No allow list of its own: `up` opens the demo client API's port for the demo_api integration it seeds.
    env = {**{k: str(v) for k, v in ports.items()}, "CROSSDOCK_OUTBOUND_ALLOW": ""}
    proc = crossdock("up", env=env, stdout=log, stderr=subprocess.STDOUT)
    receiver = f"http://127.0.0.1:{ports['CROSSDOCK_PORT']}"
    try:
        wait_for_http(f"{receiver}/health", proc, deadline_s=120)
        wait_for_http(f"http://127.0.0.1:{ports['CROSSDOCK_STREAMLIT_PORT']}/", proc, deadline_s=120)
        wait_for_http(f"http://127.0.0.1:{ports['CROSSDOCK_DAGSTER_PORT']}/server_info", proc, deadline_s=180)
        wait_for_http(f"http://127.0.0.1:{ports['CROSSDOCK_DEMO_API_PORT']}/health", proc, deadline_s=60)
        admin = {"Authorization": f"Bearer {(crossdock_home / 'admin.token').read_text().strip()}"}
        demo_names = {i["name"] for i in requests.get(f"{receiver}/integrations", headers=admin).json()}
        # Seed 000 as a new user follows it: the printed step 1 (POST /integrations), then the client's curl.
        create, send = _printed_commands((tmp_path / "up.log").read_text())
        created = json.loads(subprocess.run(["bash", "-c", create + " -s"], capture_output=True, check=True, timeout=30).stdout)
        again = requests.post(f"{receiver}/integrations", json=SEED_CONFIG, headers=admin)
        first = json.loads(subprocess.run(["bash", "-c", send + " -s"], capture_output=True, check=True, timeout=30).stdout)
        second = json.loads(subprocess.run(["bash", "-c", send + " -s"], capture_output=True, check=True, timeout=30).stdout)
        wrong = requests.post(
            f"{receiver}/webhook/cliente_abc", data=SEED_BODY.encode(), headers={"Content-Type": "application/json", "X-API-Key": "otra"}
        )
        payload = (EXAMPLES / "autentikapp_sale.json").read_bytes()
        secret = (crossdock_home / "autentikapp_demo.secret").read_text().strip().encode()
        signed = requests.post(
            f"{receiver}/v1/webhooks/inbound/autentikapp_demo",
            data=payload,
            headers={"Content-Type": "application/json", "X-Autentikapp-Signature": hmac.new(secret, payload, hashlib.sha256).hexdigest()},
        )
        forged = requests.post(
            f"{receiver}/v1/webhooks/inbound/autentikapp_demo",
            data=payload,
            headers={"Content-Type": "application/json", "X-Autentikapp-Signature": "0" * 64},
        )
        family = _descendants(proc.pid)
        assert len(family) >= 6  # receiver, code server, dagster webserver and daemon, streamlit, demo API
        # A service that dies is restarted and reported; intake never stopped.
        daemon_pid = requests.get(f"{receiver}/health").json()["services"]["dagster-daemon"]["pid"]
        os.kill(daemon_pid, signal.SIGKILL)

        def daemon_back() -> bool:
            daemon = requests.get(f"{receiver}/health").json()["services"]["dagster-daemon"]
            return daemon["state"] == "running" and daemon["restarts"] == 1

        assert wait_until(daemon_back, 60, every_s=0.2) is not None
        health = requests.get(f"{receiver}/health").json()
        family |= _descendants(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
        log.close()
    text = (tmp_path / "up.log").read_text(errors="replace")
    assert demo_names == {"autentikapp_demo", "demo_api", "demo_db", "demo_files"}
    assert created["name"] == "cliente_abc" and created["auth_type"] == "apikey"
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert {k: first[k] for k in ("total_received", "created", "updated", "errors")} == {
        "total_received": 1,
        "created": 1,
        "updated": 0,
        "errors": 0,
    }
    assert second["created"] == 0 and second["unchanged"] == 1
    assert wrong.status_code == 401
    assert signed.status_code == 202 and forged.status_code == 401
    assert health["status"] == "ok" and health["services"]["dagster-daemon"]["last_exit_code"] == -signal.SIGKILL
    assert "dagster-daemon was killed by signal 9" in text and "dagster-daemon restarted" in text
    assert proc.returncode == 0, text[-3000:]
    assert f"http://127.0.0.1:{ports['CROSSDOCK_DAGSTER_PORT']}" in text and str(crossdock_home / "admin.token") in text
    assert "Crossdock stopped." in text
    assert not [pid for pid in family if _alive(pid)], "children outlived crossdock up"
