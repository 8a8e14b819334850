"""Benchmark of the local cluster (a script, not a test): `python -m bench.benchmark [--json] [--keep-state]`.

In one run it measures, on this machine:
1. cold start (fresh state dir: initdb, migrate, every role) to all healthy, 1 worker x 4 slots;
2. the cluster's memory at idle with that 1 worker (RSS and PSS summed over supervisord's process tree, and the
   PSS of each program's tree);
3. 40 tasks x 5 s on 1 worker x 4 slots (ideal 50 s);
4. after a restart with 2 workers x 4 slots: `celery_parallel_demo` trigger-to-success (ideal 30 s) and
   40 x 5 s (ideal 25 s);
5. the same 40 x 5 s on Airflow's LocalExecutor (parallelism 4: ideal 50 s), with scheduler, api-server and
   dag-processor started through the same entrypoint and env contract, reusing the cluster's PostgreSQL, at a 1 s
   heartbeat interval (LOCAL_EXECUTOR_HEARTBEAT_INTERVAL).
It prints a table with the targets (demo <= 31.5 s, healthy <= 45 s, idle memory <= 1.2 GB). With `--json` it
also writes the figures, with the machine's facts, to bench/runs/<UTC time>.json (bench/runs.py), where
`python -m bench.compare OLD NEW` compares two runs and the README's table is generated from the latest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import httpx
from rich.console import Console

from airflow_celery.cluster import SecretName
from airflow_celery.local import runner, supervisor
from airflow_celery.local.api import AirflowApi, RunResult, follow_run
from airflow_celery.local.state import ADMIN_USERNAME
from bench import runs
from bench.local_cluster import (
    HEALTH_TIMEOUT,
    BenchCluster,
    program_memory,
    results_table,
    stop_group,
    tree_memory,
)

TASKS, TASK_SECONDS, SLOTS = 40, 5, 4
BENCH_DAG = f"bench_{TASKS}x{TASK_SECONDS}"
RUN_TIMEOUT = 400.0
console = Console(highlight=False, width=150)


def run_dag(cluster: runner.LocalCluster, dag_id: str) -> RunResult:
    api = AirflowApi(cluster.url("api-server.http"), ADMIN_USERNAME, cluster.secrets[SecretName.ADMIN_PASSWORD])
    try:
        api.wait_for_dag(dag_id, timeout=300)
        run_id, triggered_at = api.trigger(dag_id)
        result = follow_run(api, dag_id, run_id, triggered_at, RUN_TIMEOUT, lambda _: None)
    finally:
        api.close()
    console.print(
        f"{dag_id}: {result.state}, trigger to end {result.trigger_to_end:.1f} s, makespan {result.makespan:.1f} s"
    )
    if result.state != "success":
        raise SystemExit(f"{dag_id} did not succeed: {result.state}")
    return result


LOCAL_EXECUTOR_HEARTBEAT_INTERVAL = 1
"""`[workers] min_heartbeat_interval` of the LocalExecutor baseline: its fastest. Its task supervisors run in the
scheduler's executor processes, without the Celery worker's exit watch (airflow_celery/worker/task_exit.py), so a
supervisor may wait a whole interval for its task's exit: at the cluster's 5 s the baseline took 75.9 s here, at
1 s 58.6-63.1 s (2026-12-07), the figure the Celery runs are held to."""


def start_local_executor(cluster: runner.LocalCluster) -> list[subprocess.Popen]:
    """scheduler, api-server and dag-processor with the LocalExecutor, through the same entrypoint."""
    processes = []
    overrides = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(SLOTS),
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(LOCAL_EXECUTOR_HEARTBEAT_INTERVAL),
    }
    for program in cluster.programs:
        if program.name not in ("scheduler", "api-server", "dag-processor"):
            continue
        env = {**program.environment(cluster.secrets, cluster.base_env), **overrides}
        log = open(cluster.paths.log_file(f"localexecutor-{program.name}"), "w")  # noqa: SIM115
        argv = [sys.executable, "-m", "airflow_celery.entrypoint", program.role.name]
        processes.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return processes


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} not healthy after {timeout:.0f} s")


def stop_airflow_programs(cluster: runner.LocalCluster) -> None:
    names = [p.name for p in cluster.programs if p.role.kind.value == "airflow"]
    left = supervisor.stop_and_wait(cluster.paths, names, 150)
    if left:
        raise SystemExit(f"could not stop {left}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state dir for inspection")
    parser.add_argument("--json", action="store_true", help="also write the figures to bench/runs/<time>.json")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []
    figures: dict[str, float] = {}
    with BenchCluster("acbench-", console, keep_state=args.keep_state) as bench:
        bench.add_project_dag("celery_parallel_demo")
        bench.add_sleep_dag(BENCH_DAG)
        cluster, cold = bench.up(workers=1, slots=SLOTS)
        rows.append(("cold start to all healthy (1 worker)", f"{cold:.1f} s", "<= 45 s", _verdict(cold <= 45)))
        figures["cold_start_s"] = cold
        time.sleep(15)  # let start-up settle: idle means nothing running
        rss, pss = tree_memory(supervisor.supervisord_pid(cluster.paths))
        rows.append(("idle memory, 1 worker x 4 slots: RSS", f"{rss / 1024:.2f} GB", "", ""))
        rows.append(
            ("idle memory, 1 worker x 4 slots: PSS", f"{pss / 1024:.2f} GB", "<= 1.2 GB", _verdict(pss <= 1228.8))
        )
        figures["idle_rss_gb"], figures["idle_pss_gb"] = rss / 1024, pss / 1024
        by_program = program_memory(cluster)
        console.print(results_table("idle memory by program", ("program", "PSS"), _memory_rows(by_program)))
        one = run_dag(cluster, BENCH_DAG)
        rows.append(_bench_row("40 x 5 s, CeleryExecutor 1 worker x 4", one, 50))
        figures["celery_1x4_40x5_s"] = one.trigger_to_end

        cluster, warm = bench.up(workers=2, slots=SLOTS)
        rows.append(("warm start to all healthy (2 workers)", f"{warm:.1f} s", "<= 45 s", _verdict(warm <= 45)))
        figures["warm_start_s"] = warm
        demo = run_dag(cluster, "celery_parallel_demo")
        rows.append(
            (
                "celery_parallel_demo trigger to success",
                f"{demo.trigger_to_end:.1f} s (makespan {demo.makespan:.1f} s)",
                "<= 31.5 s (ideal 30)",
                _verdict(demo.trigger_to_end <= 31.5),
            )
        )
        figures["demo_5x30_s"] = demo.trigger_to_end
        two = run_dag(cluster, BENCH_DAG)
        rows.append(_bench_row("40 x 5 s, CeleryExecutor 2 workers x 4", two, 25))
        figures["celery_2x4_40x5_s"] = two.trigger_to_end

        stop_airflow_programs(cluster)
        local_processes = start_local_executor(cluster)
        bench.on_down(stop_group, local_processes)
        wait_http(cluster.url("api-server.http", "/api/v2/version"), HEALTH_TIMEOUT)
        wait_http(cluster.url("scheduler.health", "/health"), HEALTH_TIMEOUT)
        local = run_dag(cluster, BENCH_DAG)
        rows.append(_bench_row("40 x 5 s, LocalExecutor parallelism 4", local, 50))
        figures["local_executor_40x5_s"] = local.trigger_to_end
    _print(rows)
    if args.json:
        console.print(f"figures written to {runs.write_run(figures, idle_pss_by_program=by_program)}")


def _memory_rows(by_program: dict[str, float]) -> list[tuple[str, str]]:
    return [(name, f"{mib:.0f} MiB") for name, mib in by_program.items()]


def _bench_row(label: str, result: RunResult, ideal: float) -> tuple[str, str, str, str]:
    value = f"{result.trigger_to_end:.1f} s (makespan {result.makespan:.1f} s)"
    return label, value, f"ideal {ideal} s", f"x{result.trigger_to_end / ideal:.2f} of ideal"


def _verdict(ok: bool) -> str:
    return "[green]met" if ok else "[red]missed"


def _print(rows: list[tuple[str, str, str, str]]) -> None:
    console.print(results_table("local benchmark", ("measure", "result", "target", "verdict"), rows))


if __name__ == "__main__":
    main()
