"""Benchmark of local worker autoscaling (a script, not a test): `python -m bench.autoscaling [--keep-state]`.

On this machine, with the issue's shape (`--concurrency 2`, `autoscaling_burst`: 24 independent tasks of 10 s):
1. `--workers 1:3`: seconds from the trigger to 3 worker programs running, the burst's makespan and trigger to
   end, and seconds from the run's end back to 1 worker (cool-down 20 s);
2. `--workers 3` (fixed at the max): the same burst's makespan and trigger to end.
It prints a table; the README's figures come from it.
"""

from __future__ import annotations

import argparse
import threading
import time

from rich.console import Console
from rich.table import Table

from airflow_celery.cluster import SecretName
from airflow_celery.local import runner, supervisor
from airflow_celery.local.api import AirflowApi, RunResult, follow_run
from airflow_celery.local.state import ADMIN_USERNAME
from bench.local_cluster import BenchCluster

DAG_ID, CONCURRENCY, MIN_WORKERS, MAX_WORKERS, COOLDOWN = "autoscaling_burst", 2, 1, 3, 20
RUN_TIMEOUT, SHRINK_TIMEOUT = 600.0, 180.0
console = Console(highlight=False, width=150)


def running_workers(cluster: runner.LocalCluster) -> int:
    infos = supervisor.process_infos(cluster.paths)
    return sum(1 for name, info in infos.items() if name.startswith("worker-") and info["statename"] == "RUNNING")


class WorkerWatch:
    """Polls the worker programs every 0.5 s in a thread: when the count first reached `target`."""

    def __init__(self, cluster: runner.LocalCluster, target: int):
        self.cluster, self.target = cluster, target
        self.reached: float | None = None
        self.highest = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            count = running_workers(self.cluster)
            self.highest = max(self.highest, count)
            if count >= self.target and self.reached is None:
                self.reached = time.monotonic()
            time.sleep(0.5)


def burst(cluster: runner.LocalCluster, watch: WorkerWatch | None = None) -> tuple[RunResult, float, float]:
    """Trigger the burst; (result, monotonic time of the trigger, monotonic time of the run's end)."""
    api = AirflowApi(cluster.url("api-server.http"), ADMIN_USERNAME, cluster.secrets[SecretName.ADMIN_PASSWORD])
    try:
        api.wait_for_dag(DAG_ID, timeout=300)
        if watch:
            watch.thread.start()
        triggered = time.monotonic()
        run_id, triggered_at = api.trigger(DAG_ID)
        result = follow_run(api, DAG_ID, run_id, triggered_at, RUN_TIMEOUT, lambda _: None)
        ended = time.monotonic()
    finally:
        api.close()
    if result.state != "success":
        raise SystemExit(f"{DAG_ID} did not succeed: {result.state}")
    console.print(f"{DAG_ID}: trigger to end {result.trigger_to_end:.1f} s, makespan {result.makespan:.1f} s")
    return result, triggered, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state dir for inspection")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with BenchCluster("acscale-", console, keep_state=args.keep_state) as bench:
        bench.add_project_dag(DAG_ID)
        cluster, _ = bench.up(f"{MIN_WORKERS}:{MAX_WORKERS}", CONCURRENCY, scale_in_cooldown=COOLDOWN)
        watch = WorkerWatch(cluster, MAX_WORKERS)
        scaled, triggered, ended = burst(cluster, watch)
        watch.stop.set()
        to_max = f"{watch.reached - triggered:.1f} s" if watch.reached else f"never (highest {watch.highest})"
        rows.append((f"burst to {MAX_WORKERS} workers running (from {MIN_WORKERS})", to_max))
        rows.append((f"autoscaled {MIN_WORKERS}:{MAX_WORKERS}: makespan / trigger to end",
                     f"{scaled.makespan:.1f} s / {scaled.trigger_to_end:.1f} s"))  # fmt: skip
        while running_workers(cluster) > MIN_WORKERS and time.monotonic() - ended < SHRINK_TIMEOUT:
            time.sleep(0.5)
        shrunk = time.monotonic() - ended
        rows.append((f"run end to {MIN_WORKERS} worker again (cool-down {COOLDOWN} s)", f"{shrunk:.1f} s"))

        cluster, _ = bench.up(MAX_WORKERS, CONCURRENCY, scale_in_cooldown=COOLDOWN)
        fixed, _, _ = burst(cluster)
        rows.append((f"fixed {MAX_WORKERS} workers: makespan / trigger to end",
                     f"{fixed.makespan:.1f} s / {fixed.trigger_to_end:.1f} s"))  # fmt: skip
    table = Table(title=f"{DAG_ID}: 24 x 10 s, {CONCURRENCY} slots per worker (ideal makespan 40 s at 3 workers)")
    table.add_column("measure")
    table.add_column("result")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
