"""A real `dagster-daemon` (sensors, run queue, run launcher) on a throwaway DAGSTER_HOME, for the
end-to-end test and the async latency benchmark."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assets.instance import write_dagster_yaml

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def running_daemon(dagster_home: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Start `dagster-daemon run` on `workspace.yaml` with Crossdock's instance settings; stop it and
    everything it started (code server, run processes) on exit. Its log is `dagster_home/daemon.log`."""
    write_dagster_yaml(dagster_home)
    environment = {**os.environ, **(env or {}), "DAGSTER_HOME": str(dagster_home)}
    log = open(dagster_home / "daemon.log", "wb")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield daemon
    finally:
        _stop_group(daemon)
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
