"""The product under a realistic mix, as a user runs it (`crossdock up` with its demo data), for
BENCH_MIXED_SECONDS (default 300) of load: 5 API integrations polling a client API whose pages take
1-5 s, a DB pull of 1M rows from PostgreSQL, an operator's 7-day backfill, signed async webhooks at
2/s and status changes at 1/s with the callback endpoint down for the first 60 s (see
`bench/mixed_run.py`).

The same workload runs in the same `make bench` against the code before the Dagster capacity work
(BASELINE_COMMIT, unpacked with `git archive` into a temporary folder) and against this tree.
Targets (issue 10): async webhook → visible p95 ≤ 15 s and p99 ≤ 30 s; status change → first callback
attempt p95 ≤ 10 s; after the endpoint returns, every waiting callback delivered within its next
scheduled retry + 10 s, in order per order; queued runs ≤ 2 × integrations, back to ≤ 3 within
60 s after the load stops; no run failed without executing.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.bench_db_extract import POSTGRES_URL, _fill
from bench.mixed_run import MixedRun
from bench.slow_api import serve_slow_api

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "c9b855a1dedb7ba81cd1c2ff43cede3c05644cd7"  # before the capacity classes and the poll worker
SECONDS = float(os.environ.get("BENCH_MIXED_SECONDS", "300"))
DB_ROWS = int(os.environ.get("BENCH_MIXED_DB_ROWS", "1000000"))


def _baseline_tree(folder: Path) -> Path:
    tree = folder / "baseline-tree"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _fmt(value, unit: str = "s") -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} {unit}" if isinstance(value, float) else f"{value} {unit}".strip()


def _rows(ours: dict, theirs: dict) -> list[dict]:
    def side(figures: dict, key: str, unit: str = "s") -> str:
        return _fmt(figures.get(key), unit)

    bound = 2 * ours["integrations"]
    waited = ours["waited_lateness_max"]
    return [
        {
            "name": f"mixed: async webhook → order visible, p95 of {ours['webhooks']} (p99 {side(ours, 'visible_p99')}, "
            f"never visible {ours['webhooks_never_visible']})",
            "figure": round(ours["visible_p95"] or float("inf"), 2),
            "unit": "s",
            "target": "p95 <= 15 s, p99 <= 30 s",
            "met": (ours["visible_p95"] or 99) <= 15 and (ours["visible_p99"] or 99) <= 30 and not ours["webhooks_never_visible"],
            "baseline": f"p95 {side(theirs, 'visible_p95')}, p99 {side(theirs, 'visible_p99')}, "
            f"never visible {theirs['webhooks_never_visible']} of {theirs['webhooks']}",
        },
        {
            "name": f"mixed: status change → first callback attempt, p95 of {ours['callbacks']} (max {side(ours, 'first_attempt_max')})",
            "figure": round(ours["first_attempt_p95"] or float("inf"), 2),
            "unit": "s",
            "target": "p95 <= 10 s",
            "met": (ours["first_attempt_p95"] or 99) <= 10,
            "baseline": f"p95 {side(theirs, 'first_attempt_p95')}, max {side(theirs, 'first_attempt_max')}, "
            f"{theirs['callbacks_attempted']} of {theirs['callbacks']} attempted",
        },
        {
            "name": f"mixed: callbacks that waited out the 60 s outage, latest delivery after its scheduled retry "
            f"({ours['waited_out_outage']} callbacks; all {ours['retries_measured']} retries p95 "
            f"{side(ours, 'retry_lateness_p95')}; undelivered {ours['callbacks_undelivered']}; "
            f"orders out of order {ours['orders_out_of_order']})",
            "figure": round(waited, 2) if waited is not None else "n/a",
            "unit": "s",
            "target": "<= 10 s, in order per order",
            "met": waited is not None and waited <= 10 and not ours["callbacks_undelivered"] and not ours["orders_out_of_order"],
            "baseline": f"latest {side(theirs, 'waited_lateness_max')} ({theirs['waited_out_outage']} callbacks), retries p95 "
            f"{side(theirs, 'retry_lateness_p95')}, undelivered {theirs['callbacks_undelivered']}, "
            f"out of order {theirs['orders_out_of_order']}",
        },
        {
            "name": f"mixed: queued Dagster runs, maximum ({ours['integrations']} integrations; "
            f"back to <= 3 {side(ours, 'queue_recovered_after_s')} after the load stopped)",
            "figure": ours["queue_max"],
            "unit": "runs",
            "target": f"<= {bound} (2 × integrations), <= 3 within 60 s after",
            "met": ours["queue_max"] <= bound and ours["queue_recovered_after_s"] is not None and ours["queue_recovered_after_s"] <= 60,
            "baseline": f"maximum {theirs['queue_max']}, back to <= 3 {side(theirs, 'queue_recovered_after_s')} after",
        },
        {
            "name": f"mixed: runs failed without executing ({ours['runs']} runs, {ours['runs_per_minute']:.1f}/min, "
            f"{ours['runs_failed']} failed in all; {ours['backfill']})",
            "figure": ours["runs_failed_without_executing"],
            "unit": "runs",
            "target": "0",
            "met": ours["runs_failed_without_executing"] == 0,
            "baseline": f"{theirs['runs_failed_without_executing']} ({theirs['runs']} runs, {theirs['runs_per_minute']:.1f}/min, "
            f"{theirs['runs_failed']} failed in all; {theirs['backfill']})",
        },
    ]


def run() -> list[dict]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    pg_url = str(sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}))
    try:
        _fill(pg_url, DB_ROWS)
        with tempfile.TemporaryDirectory() as tmp, serve_slow_api() as (slow_url, _api):
            folder = Path(tmp)
            figures = {}
            for label, tree in (("baseline", _baseline_tree(folder)), ("current", ROOT)):
                print(f"  running the mixed workload on the {label} code for {SECONDS:.0f} s ...", flush=True)
                figures[label] = MixedRun(label, tree, folder / label, slow_url, pg_url, SECONDS).run()
                print(f"  {label}: {figures[label]}", flush=True)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    return _rows(figures["current"], figures["baseline"])


if __name__ == "__main__":
    for row in run():
        print(row)
