"""How long the `crossdock` command takes to start: `--help`, a sub-command's `--help`, and a command
that reads the store (`integrations list`), median of 7 runs each, beside the same commands of the
code before its imports were made lazy (BASELINE_COMMIT of the mixed benchmark, unpacked with
`git archive`) in the same run. Target (issue 11): ≤ 300 ms for `--help` and the commands that need
no Dagster."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_mixed import BASELINE_COMMIT

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300
RUNS = 7
COMMANDS = (["--help"], ["integrations", "--help"], ["integrations", "list"])


def _tree(folder: Path) -> Path:
    tree = folder / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _median_ms(tree: Path, args: list[str], home: Path) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "CROSSDOCK_HOME": str(home),
        "CROSSDOCK_DATABASE_URL": f"sqlite:///{home / 'crossdock.db'}",
    }
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crossdock", *args], cwd=tree, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = _tree(folder)
        for tree, name in ((ROOT, "current"), (baseline, "baseline")):
            home = folder / f"{name}-home"
            subprocess.run(
                [sys.executable, "-m", "crossdock", "migrate"],
                cwd=tree,
                check=True,
                capture_output=True,
                env={
                    **os.environ,
                    "PYTHONPATH": str(tree),
                    "CROSSDOCK_HOME": str(home),
                    "CROSSDOCK_DATABASE_URL": f"sqlite:///{home / 'crossdock.db'}",
                },
            )
        for args in COMMANDS:
            ours = _median_ms(ROOT, args, folder / "current-home")
            theirs = _median_ms(baseline, args, folder / "baseline-home")
            rows.append(
                {
                    "name": f"CLI start: crossdock {' '.join(args)} (median of {RUNS})",
                    "figure": round(ours),
                    "unit": "ms",
                    "target": f"<= {TARGET_MS} ms",
                    "met": ours <= TARGET_MS,
                    "baseline": f"{theirs:,.0f} ms before the imports were made lazy",
                }
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
