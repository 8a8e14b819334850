"""Capacity figures of the local cluster (a script, not a test): `python -m bench.capacity [--keep-state]`.

It starts a local cluster of 2 workers x 16 slots (parallelism 32), then measures, on this machine:
1. an idle worker's memory, and the memory of one busy slot (PythonOperator sleeping): a Celery pool child,
   the task supervisor and the task process, from the workers' PSS with all 32 slots busy;
2. the dag-processor's and the triggerer's idle memory, and the peak memory of their `airflow jobs check`
   health check (the description's command, run in the role's environment);
3. with 32 running tasks, at `[workers] min_heartbeat_interval` 1 and then 5: the api-server's CPU, the
   database's commits and task_instance updates per second, and the database connections open at peak;
4. at each interval, the slot-release delay: from a task's end_date (Airflow) to its Celery task's
   `succeeded` event (Flower), when the slot takes its next task;
5. the connection budget of the dev and prod stacks at their max worker count (cluster/limits.py).
It prints one table; cluster/measured.py and the README record its figures with the date of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from statistics import mean

import httpx
import psutil
import yaml
from rich.console import Console

from airflow_celery.aws.args import resolve_args
from airflow_celery.aws.config import CONFIG_KEYS
from airflow_celery.aws.rds_limits import max_connections
from airflow_celery.cluster import SecretName
from airflow_celery.cluster.limits import connection_budget
from airflow_celery.cluster.roles import DAG_PROCESSOR, TRIGGERER
from airflow_celery.local import runner, supervisor
from airflow_celery.local.api import AirflowApi
from airflow_celery.local.state import ADMIN_USERNAME
from bench.local_cluster import REPO, BenchCluster, results_table, stop_group, tree_memory

WORKERS, SLOTS = 2, 16
TASKS, TASK_SECONDS = WORKERS * SLOTS, 45
WINDOW = 20.0
"""Seconds of steady state (every slot busy) over which CPU and database rates are taken."""
INTERVALS = (1, 5)
BENCH_DAG = f"bench_capacity_{TASKS}x{TASK_SECONDS}"
ALL_BUSY_TIMEOUT = 180.0
RUN_TIMEOUT = 300.0
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
console = Console(highlight=False, width=160)


@dataclass
class HeartbeatFigures:
    interval: int
    api_cpu_percent: float
    commits_per_s: float
    ti_updates_per_s: float
    peak_connections: int
    busy_worker_pss: float
    release_mean: float | None
    release_max: float | None
    matched: int


class Database:
    """The cluster's metadata database, through the same TLS URL the roles use."""

    def __init__(self, url: str):
        import sqlalchemy

        self.engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        self.text = sqlalchemy.text

    def scalar(self, sql: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(self.text(sql)).scalar() or 0)

    def counters(self) -> tuple[int, int]:
        commits = self.scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        updates = self.scalar("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'task_instance'")
        return commits, updates

    def connections(self) -> int:
        return self.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()") - 1

    def close(self) -> None:
        self.engine.dispose()


def program(cluster: runner.LocalCluster, name: str):
    return next(p for p in cluster.programs if p.name == name)


def program_pid(cluster: runner.LocalCluster, name: str) -> int:
    return int(supervisor.process_infos(cluster.paths)[name]["pid"])


def tree_cpu_seconds(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def main_process_pss(pid: int) -> float:
    """PSS (MiB) of the Celery main process: the worker tree without its pool children (the entrypoint execs
    `airflow celery worker`, so the supervised pid is the main process)."""
    return psutil.Process(pid).memory_full_info().pss / 2**20


def peak_tree_rss(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[float, int]:
    """Peak RSS (MiB) summed over a command's process tree, sampled every 20 ms; and its exit code."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, deadline = 0.0, time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(process.pid)
            peak = max(peak, sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20)
        time.sleep(0.02)
    if process.poll() is None:
        process.kill()
    return peak, process.wait(timeout=10)


def jobs_check_peak(cluster: runner.LocalCluster, role_name: str, runs: int = 3) -> float:
    prog = program(cluster, role_name)
    env = prog.environment(cluster.secrets, cluster.base_env)
    peaks = []
    for _ in range(runs):
        peak, code = peak_tree_rss(["sh", "-c", prog.role.health.shell], env)
        if code != 0:
            raise SystemExit(f"{role_name}'s health check failed (exit {code})")
        peaks.append(peak)
    return max(peaks)


def api_client(cluster: runner.LocalCluster) -> AirflowApi:
    return AirflowApi(cluster.url("api-server.http"), ADMIN_USERNAME, cluster.secrets[SecretName.ADMIN_PASSWORD])


def ti_rows(api: AirflowApi, run_id: str) -> list[dict]:
    path = f"/api/v2/dags/{BENCH_DAG}/dagRuns/{run_id}/taskInstances"
    return api.client.get(path, params={"limit": 1000}).json()["task_instances"]


def wait_all_running(api: AirflowApi, run_id: str) -> None:
    deadline = time.monotonic() + ALL_BUSY_TIMEOUT
    while time.monotonic() < deadline:
        if sum(ti["state"] == "running" for ti in ti_rows(api, run_id)) == TASKS:
            return
        time.sleep(1)
    raise SystemExit(f"not every one of {TASKS} tasks was running after {ALL_BUSY_TIMEOUT:.0f} s")


def wait_run_done(api: AirflowApi, run_id: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        state = api.run(BENCH_DAG, run_id)["state"]
        if state in ("success", "failed"):
            if state != "success":
                raise SystemExit(f"{BENCH_DAG} run {run_id} ended {state}")
            return
        time.sleep(1)
    raise SystemExit(f"{BENCH_DAG} run {run_id} did not end within {RUN_TIMEOUT:.0f} s")


def release_delays(cluster: runner.LocalCluster, tis: list[dict]) -> list[float]:
    """end_date of each task instance -> `succeeded` of the Celery task that ran it, from Flower's events."""
    user, password = cluster.secrets[SecretName.FLOWER_BASIC_AUTH].split(":", 1)
    response = httpx.get(
        cluster.url("flower.http", "/flower/api/tasks"), params={"limit": 10000}, auth=(user, password), timeout=30
    )
    response.raise_for_status()
    ends = {ti["id"]: datetime.fromisoformat(ti["end_date"]).timestamp() for ti in tis if ti.get("end_date")}
    delays = []
    for task in response.json().values():
        succeeded = task.get("succeeded")
        ids = set(UUID.findall(str(task.get("args", "")))) & ends.keys()
        if succeeded and len(ids) == 1:
            delays.append(succeeded - ends[ids.pop()])
    return delays


def sample_connections(db: Database, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            peak[0] = max(peak[0], db.connections())
        stop.wait(0.5)


def worker_pids(cluster: runner.LocalCluster, hand_started: list[subprocess.Popen]) -> list[int]:
    if hand_started:
        return [p.pid for p in hand_started]
    return [program_pid(cluster, f"worker-{i}") for i in range(1, WORKERS + 1)]


def measure_heartbeats(
    cluster: runner.LocalCluster, db: Database, interval: int, workers: list[int]
) -> HeartbeatFigures:
    api = api_client(cluster)
    peak, stop = [0], threading.Event()
    sampler = threading.Thread(target=sample_connections, args=(db, stop, peak), daemon=True)
    try:
        api.wait_for_dag(BENCH_DAG, timeout=300)
        run_id, _ = api.trigger(BENCH_DAG)
        sampler.start()
        wait_all_running(api, run_id)
        time.sleep(3)
        api_pid = program_pid(cluster, "api-server")
        cpu0, (commits0, updates0), t0 = tree_cpu_seconds(api_pid), db.counters(), time.monotonic()
        time.sleep(WINDOW / 2)
        busy = sum(tree_memory(pid)[1] for pid in workers)
        time.sleep(WINDOW / 2)
        cpu1, (commits1, updates1), t1 = tree_cpu_seconds(api_pid), db.counters(), time.monotonic()
        wait_run_done(api, run_id)
        time.sleep(5)  # Flower receives the last task events
        delays = release_delays(cluster, ti_rows(api, run_id))
    finally:
        stop.set()
        api.close()
    elapsed = t1 - t0
    return HeartbeatFigures(
        interval=interval,
        api_cpu_percent=100 * (cpu1 - cpu0) / elapsed,
        commits_per_s=(commits1 - commits0) / elapsed,
        ti_updates_per_s=(updates1 - updates0) / elapsed,
        peak_connections=peak[0],
        busy_worker_pss=busy,
        release_mean=mean(delays) if delays else None,
        release_max=max(delays) if delays else None,
        matched=len(delays),
    )


def restart_workers_with_interval(cluster: runner.LocalCluster, interval: int) -> list[subprocess.Popen]:
    """Stop the supervised workers and start the same programs by hand with another heartbeat interval."""
    names = [f"worker-{i}" for i in range(1, WORKERS + 1)]
    if supervisor.stop_and_wait(cluster.paths, names, 150):
        raise SystemExit("could not stop the workers")
    started = []
    for name in names:
        prog = program(cluster, name)
        env = {
            **prog.environment(cluster.secrets, cluster.base_env),
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(interval),
        }
        log = open(cluster.paths.log_file(f"bench-{name}"), "w")  # noqa: SIM115
        argv = [sys.executable, "-m", "airflow_celery.entrypoint", "worker"]
        started.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    time.sleep(20)  # idle worker start-up, before any task arrives
    return started


STACK_PLACEHOLDERS = {"certificateArn": None, "domainName": None, "allowedCidrs": ["10.0.0.0/8"]}
"""The stack files' placeholders, which a user must replace (tests/aws/harness.py, PLACEHOLDER_REPLACEMENTS): left
out, or for the allowed ranges (required in prod) a private block, an internal load balancer."""


def stack_budget(stack: str) -> tuple[str, str]:
    """The connection budget of a shipped stack with its workers at their max, and its RDS limit.

    The stack file's certificate, domain and allowed ranges are placeholders (refused on purpose); they do not affect
    the budget."""
    values = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    keys = {key.split(":", 1)[1]: value for key, value in values.items() if key.startswith("airflow-celery:")}
    keys |= {key: value for key, value in STACK_PLACEHOLDERS.items() if key in keys}
    given = {CONFIG_KEYS[key]: value for key, value in keys.items() if value is not None}
    config = resolve_args(f"airflow-{stack}", given)
    return connection_budget(
        config.capacity
    ).describe(), f"{max_connections(config.db_instance_class)} ({config.db_instance_class})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state dir for inspection")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    budgets = [(stack, *stack_budget(stack)) for stack in ("dev", "prod")]  # before minutes of measuring, not after
    hand_started: list[subprocess.Popen] = []
    with BenchCluster("accapacity-", console, keep_state=args.keep_state) as bench:
        bench.add_sleep_dag(BENCH_DAG)
        # The supervised workers heartbeat at the first interval; the others are measured on workers started by hand.
        cluster, _ = bench.up(WORKERS, SLOTS, heartbeat_interval=INTERVALS[0])
        time.sleep(20)  # settle: nothing starting, nothing running
        idle = [tree_memory(pid)[1] for pid in worker_pids(cluster, [])]
        rows.append(("idle worker (Celery main + 16 pool children), PSS", f"{mean(idle):.0f} MiB", "mean of 2"))
        mains = [main_process_pss(pid) for pid in worker_pids(cluster, [])]
        rows.append(("idle worker: the Celery main process alone, PSS", f"{mean(mains):.0f} MiB", "mean of 2"))
        child = (mean(idle) - mean(mains)) / SLOTS
        rows.append(("idle worker: one idle pool child, PSS", f"{child:.0f} MiB", "(idle - main) / 16"))
        for role_name in (DAG_PROCESSOR.name, TRIGGERER.name):
            rss, pss = tree_memory(program_pid(cluster, role_name))
            rows.append((f"idle {role_name}, RSS / PSS", f"{rss:.0f} / {pss:.0f} MiB", ""))
            peak = jobs_check_peak(cluster, role_name)
            rows.append((f"{role_name} health check (`airflow jobs check`), peak RSS", f"{peak:.0f} MiB", "max of 3"))
        db = Database(cluster.secrets[SecretName.DATABASE_URL])
        bench.on_down(db.close)
        figures = []
        for interval in INTERVALS:
            if interval != INTERVALS[0]:
                hand_started = restart_workers_with_interval(cluster, interval)
                bench.on_down(stop_group, hand_started)
            figures.append(measure_heartbeats(cluster, db, interval, worker_pids(cluster, hand_started)))
        busy = figures[0].busy_worker_pss / WORKERS
        rows.append(("busy worker (16 slots running), PSS", f"{busy:.0f} MiB", f"mean of 2, interval {INTERVALS[0]}"))
        rows.append(("one busy slot, PSS", f"{(busy - mean(idle)) / SLOTS:.0f} MiB", "(busy - idle) / 16"))
        for f in figures:
            label = f"interval {f.interval} s, {TASKS} running"
            rows.append((f"{label}: api-server CPU", f"{f.api_cpu_percent:.0f} % of a core", f"{WINDOW:.0f} s window"))
            rows.append(
                (
                    f"{label}: DB commits / task_instance updates",
                    f"{f.commits_per_s:.1f} / {f.ti_updates_per_s:.1f} per s",
                    "",
                )
            )
            rows.append((f"{label}: peak DB connections", str(f.peak_connections), "pg_stat_activity"))
            release = "n/a" if f.release_mean is None else f"mean {f.release_mean:.2f} s, max {f.release_max:.2f} s"
            rows.append((f"{label}: slot-release delay", release, f"{f.matched} tasks matched in Flower"))
        for stack, described, limit in budgets:
            rows.append((f"{stack} at max workers: connection budget", described, f"max_connections {limit}"))
    _print(rows)


def _print(rows: list[tuple[str, str, str]]) -> None:
    console.print(results_table("capacity", ("measure", "result", "how"), rows))


if __name__ == "__main__":
    main()
