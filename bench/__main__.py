"""Run every benchmark module (bench/bench_*.py) and print one line per figure with its target and baseline.

Each module exposes `run() -> list[dict]` with keys name, figure, unit, target, met, baseline.
`python -m bench mapping ingest` runs only the modules whose names contain those words.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def _modules(filters: list[str]) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    return [n for n in names if not filters or any(f in n for f in filters)]


def _print(row: dict) -> None:
    figure = row["figure"]
    shown = f"{figure:,.1f}" if isinstance(figure, float) else f"{figure:,}" if isinstance(figure, int) else str(figure)
    verdict = "MET" if row.get("met") else "NOT MET"
    print(f"- {row['name']}: {shown} {row.get('unit', '')} | target {row.get('target')} | {verdict}")
    if row.get("baseline"):
        print(f"    baseline, same run: {row['baseline']}")


def main(argv: list[str]) -> int:
    # The benchmarks' client APIs and callback sinks listen on loopback, which the outbound policy
    # refuses unless allowed (docs/how-to/operator/outbound-and-drops.md); their children inherit this.
    os.environ.setdefault("CROSSDOCK_OUTBOUND_ALLOW", "127.0.0.1,[::1]")
    failures = 0
    for name in _modules(argv):
        print(f"\n## {name}", flush=True)
        started = time.perf_counter()
        try:
            rows = importlib.import_module(f"bench.{name}").run()
        except Exception:  # noqa: BLE001 - a broken benchmark must not hide the others' figures
            traceback.print_exc()
            failures += 1
            continue
        for row in rows:
            _print(row)
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
