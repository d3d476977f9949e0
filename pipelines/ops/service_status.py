"""What `crossdock up` tells the rest of the product about the services it supervises.

`crossdock up` writes `services.json` into the Crossdock home whenever a service starts, exits or is
about to be restarted; the receiver's `/health` and the admin app read it. A file, because the
supervisor is the one process that knows, and every service can read a file without a new port.
Written atomically (a temporary file renamed over the old one), so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

FILENAME = "services.json"
RUNNING, RESTARTING, STARTING, STOPPED = "running", "restarting", "starting", "stopped"


@dataclass
class ServiceState:
    name: str
    state: str = STARTING
    pid: int | None = None
    started_at: str | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: str | None = None
    next_start_at: str | None = None


@dataclass
class SupervisorStatus:
    supervisor_pid: int
    updated_at: str
    services: dict[str, ServiceState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "supervisor_pid": self.supervisor_pid,
            "updated_at": self.updated_at,
            "services": {name: asdict(state) for name, state in self.services.items()},
        }


def status_path(home: Path) -> Path:
    return home / FILENAME


def write_status(home: Path, status: SupervisorStatus) -> None:
    path = status_path(home)
    fd, temporary = tempfile.mkstemp(dir=home, prefix=".services-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(status.to_dict(), handle, indent=1)
    os.replace(temporary, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(home: Path) -> SupervisorStatus | None:
    """The supervisor's last word, or None when no `crossdock up` supervises this home (never ran,
    or exited), or when the file is not one a supervisor wrote. A file left by a supervisor that was
    killed is ignored."""
    try:
        data = json.loads(status_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not _alive(int(data.get("supervisor_pid", 0) or 0)):
        return None
    return _parsed(data)


_STATE_FIELDS = frozenset(f.name for f in fields(ServiceState))


def _parsed(data: dict[str, Any]) -> SupervisorStatus | None:
    """The file as typed state; keys a newer or older supervisor wrote that we do not know are dropped."""
    services = data.get("services", {})
    if not isinstance(services, dict) or not all(isinstance(entry, dict) for entry in services.values()):
        return None
    try:
        return SupervisorStatus(
            supervisor_pid=int(data["supervisor_pid"]),
            updated_at=str(data.get("updated_at", "")),
            services={
                str(name): ServiceState(**{**{k: v for k, v in entry.items() if k in _STATE_FIELDS}, "name": str(name)})
                for name, entry in services.items()
            },
        )
    except (KeyError, TypeError, ValueError):
        return None


def unhealthy_services(status: SupervisorStatus | None) -> list[str]:
    """Services not running now, each as `name (state, N restarts)`."""
    if status is None:
        return []
    return [
        f"{name} ({entry.state}, {entry.restarts} restart(s))" for name, entry in sorted(status.services.items()) if entry.state != RUNNING
    ]
