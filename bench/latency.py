"""Where a task's time goes: `python -m bench.latency [--tasks 1 5 200 | --demo] [--workers 2] [--slots 8]`.

Starts a local cluster, triggers one DAG per count (N independent PythonOperator tasks sleeping
`--task-seconds` each, all allowed at once) and, once each run has ended, reads when every task passed each
stage of its path. With `--demo`, the project's demo instead, twice: right after the cluster is healthy (what
each process does once, at its first task, shows there), then again. `--json FILE` writes the runs' summaries.
Nothing is added to the cluster: every stamp is one that the cluster writes anyway.

- the database: dag_run (queued_at, start_date, end_date) and task_instance (scheduled_dttm, queued_dttm,
  start_date, end_date, external_executor_id = the Celery task id), task_instance_history for tasks retried;
- the scheduler's log: "Setting external_executor_id ... to <celery id>" (the scheduler has read the send's
  result, one loop after the send: it comes after the worker received the task)
  and "TaskInstance Finished: ... ti_id=..." (the scheduler has read the task's end from the executor);
- the worker's log: Celery's "Task execute_workload[<id>] received" (main process), the provider's "[<id>]
  Executing workload in Celery" (a pool child took it) and "Task execute_workload[<id>] succeeded in" (the
  slot is free again);
- the task's own log (airflow/logs/dag_id=.../attempt=N.log, written through the task supervisor):
  "::group::Pre Execute" is the task process's first line after the fork, "Worker startup parse complete"
  the end of its DAG parse;
- the api-server's access log: when `PATCH /execution/task-instances/<ti>/run` and `.../state` returned (the
  task is running, and its end state is stored).

Flower's task API is not used: it sees tasks only when workers send task events (`-E`), which costs every
task a broker message; the Celery result table (celery_taskmeta) keeps only the end.

For each run it prints each stage's median offset from the trigger and the median step from the previous
stage, the start rate (tasks that reached `running` per second, first to last), how long a freed parallelism slot
waits for its next task (from the scheduler reading an end to the next task queued), and the CPU seconds the whole
cluster (supervisord's process tree, exited children included) spent per task.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from airflow_celery.cluster import EnvSettings, SecretName
from airflow_celery.local import runner, supervisor
from airflow_celery.local.api import TERMINAL_RUN_STATES, AirflowApi
from airflow_celery.local.state import ADMIN_USERNAME
from bench.local_cluster import BenchCluster

console = Console(highlight=False, width=150)

STAGES = (
    "trigger",
    "run created",
    "run started",
    "TI scheduled",
    "queued",
    "received by worker",
    "Celery id recorded",
    "slot took it",
    "running",
    "task process started",
    "DAG parsed",
    "finished",
    "state reported",
    "slot free",
    "scheduler saw end",
    "run success",
)
"""A task's path, in the order its stages happen (the supervisor forks the task process, calls `/run`, which
stores the running state, and only then sends the task process its start-up details)."""

STAMP = r"^(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z?)\s"
SENT = re.compile(STAMP + r".*Setting external_executor_id for .* ti_id=(?P<ti>[0-9a-f-]+)> to (?P<cid>[0-9a-f-]+)")
SCHEDULER_SAW_END = re.compile(STAMP + r".*TaskInstance Finished: .*ti_id=(?P<ti>[0-9a-f-]+),")
RECEIVED = re.compile(STAMP + r".*Task execute_workload\[(?P<cid>[0-9a-f-]+)\] received")
SLOT_TOOK = re.compile(STAMP + r".*\[(?P<cid>[0-9a-f-]+)\] Executing workload in Celery")
SLOT_FREE = re.compile(STAMP + r".*Task execute_workload\[(?P<cid>[0-9a-f-]+)\] (?:succeeded|failed|raised)")
API_CALL = re.compile(
    STAMP + r".*request finished .*method=PATCH path=/execution/task-instances/(?P<ti>[0-9a-f-]+)/(?P<call>run|state)\s"
)
TASK_LOG_LINES = {"::group::Pre Execute": "task process started", "Worker startup parse complete": "DAG parsed"}

RUN_TIMEOUT = 900.0
POLL_SECONDS = 0.5
SETTLE_SECONDS = 3.0
"""After a run ends, its last log lines (slot free, the scheduler's reading) may still be on their way."""


@dataclass
class TaskPath:
    ti_id: str
    task_id: str
    try_number: int
    celery_id: str | None
    stamps: dict[str, datetime] = field(default_factory=dict)


@dataclass
class RunBreakdown:
    label: str
    tasks: list[TaskPath]
    wall: float
    cpu_seconds: float
    retried: int
    slots: int
    """The cluster's parallelism: workers x slots, or `--setting parallelism=N`."""
    cpu_per_task_by_program: dict[str, float] = field(default_factory=dict)
    """CPU seconds per task of each supervisord program's process tree over the run, largest first."""

    def offsets(self, stage: str) -> list[float]:
        return [(t.stamps[stage] - t.stamps["trigger"]).total_seconds() for t in self.tasks if stage in t.stamps]

    def steps(self, stage: str, previous: str) -> list[float]:
        return [
            (t.stamps[stage] - t.stamps[previous]).total_seconds()
            for t in self.tasks
            if stage in t.stamps and previous in t.stamps
        ]

    def handovers(self) -> list[float]:
        """How long each freed parallelism slot waited for its next task: from the scheduler reading the (i - slots)-th
        end to the i-th task queued, for every task after the first `slots` (parallelism = slots: cluster/limits.py)."""
        slots = self.slots
        ends = sorted(t.stamps["scheduler saw end"] for t in self.tasks if "scheduler saw end" in t.stamps)
        queued = sorted(t.stamps["queued"] for t in self.tasks if "queued" in t.stamps)
        if len(ends) != len(self.tasks) or len(queued) != len(self.tasks):
            return []  # a missing stamp would pair every later end with the wrong task
        waits = [(queued[i] - ends[i - slots]).total_seconds() for i in range(slots, len(queued))]
        return [] if any(wait < 0 for wait in waits) else waits  # negative: more could be queued than `slots`

    def start_rate(self) -> float | None:
        """Tasks that reached `running` per second, from the first to the last."""
        starts = sorted(t.stamps["running"] for t in self.tasks if "running" in t.stamps)
        if len(starts) < 2:
            return None
        span = (starts[-1] - starts[0]).total_seconds()
        return (len(starts) - 1) / span if span > 0 else None

    def summary(self) -> dict:
        rows = {}
        previous = None
        for stage in STAGES:
            offsets = self.offsets(stage)
            steps = self.steps(stage, previous) if previous else []
            rows[stage] = {
                "n": len(offsets),
                "median_offset_s": _median(offsets),
                "median_step_s": _median(steps),
                "p90_step_s": _quantile(steps, 0.9),
            }
            previous = stage
        return {
            "label": self.label,
            "tasks": len(self.tasks),
            "retried": self.retried,
            "trigger_to_success_s": round(self.wall, 2),
            "start_rate_per_s": _round(self.start_rate()),
            "slot_held_s": _median(self.steps("scheduler saw end", "queued")),
            "slot_handover_s": _median(self.handovers()),
            "slot_handover_p90_s": _quantile(self.handovers(), 0.9),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "cpu_seconds_per_task": round(self.cpu_seconds / max(1, len(self.tasks)), 2),
            "cpu_seconds_per_task_by_program": self.cpu_per_task_by_program,
            "stages": rows,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _median(values: list[float]) -> float | None:
    return _round(statistics.median(values)) if values else None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return _round(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.rstrip("Z")).replace(tzinfo=UTC)


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds of a process tree (supervisord's: the whole cluster; a program's), with every exited child its
    parent has reaped."""
    total = 0.0
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def program_cpu_seconds(cluster: runner.LocalCluster) -> dict[str, float]:
    """CPU seconds of each supervisord program's process tree (a program restarted in between starts from 0)."""
    return {
        name: tree_cpu_seconds(int(info["pid"]))
        for name, info in supervisor.process_infos(cluster.paths).items()
        if info.get("pid")
    }


def cpu_by_program(before: dict[str, float], after: dict[str, float], tasks: int) -> dict[str, float]:
    """CPU seconds per task of each program over a run, largest first; a program restarted during the run (its
    count went back) is named `<program> (restarted)`, with what it spent since."""
    spent = {}
    for name, now in after.items():
        then = before.get(name, 0.0)
        spent[name if now >= then else f"{name} (restarted)"] = (now - then if now >= then else now) / max(1, tasks)
    return {name: round(value, 3) for name, value in sorted(spent.items(), key=lambda item: -item[1]) if value > 0}


def log_matches(paths: Iterable[Path], pattern: re.Pattern, since: datetime) -> Iterable[re.Match]:
    for path in paths:
        if not path.exists():
            continue
        with path.open(errors="replace") as lines:
            for line in lines:
                match = pattern.match(line)
                if match and _parse(match["at"]) >= since:
                    yield match


def read_database(cluster: runner.LocalCluster, dag_id: str, run_id: str) -> tuple[dict, list[TaskPath], int]:
    engine = sa.create_engine(cluster.secrets[SecretName.DATABASE_URL], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as db:
            run = db.execute(
                sa.text("SELECT queued_at, start_date, end_date FROM dag_run WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).one()
            rows = db.execute(
                sa.text(
                    "SELECT id, task_id, try_number, external_executor_id, scheduled_dttm, queued_dttm, start_date,"
                    " end_date FROM task_instance WHERE dag_id = :d AND run_id = :r"
                ),
                {"d": dag_id, "r": run_id},
            ).all()
            retried = db.execute(
                sa.text("SELECT count(*) FROM task_instance_history WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).scalar_one()
    finally:
        engine.dispose()
    tasks = []
    for row in rows:
        task = TaskPath(str(row.id), row.task_id, row.try_number, row.external_executor_id)
        for stage, value in (
            ("TI scheduled", row.scheduled_dttm),
            ("queued", row.queued_dttm),
            ("running", row.start_date),
            ("finished", row.end_date),
        ):
            if value is not None:
                task.stamps[stage] = value
        tasks.append(task)
    return {"run created": run.queued_at, "run started": run.start_date, "run success": run.end_date}, tasks, retried


def read_logs(cluster: runner.LocalCluster, tasks: list[TaskPath], since: datetime) -> None:
    logs = cluster.paths.logs
    schedulers = sorted(logs.glob("scheduler*.log"))
    workers = sorted(logs.glob("worker*.log"))
    by_ti = {t.ti_id: t for t in tasks}
    by_celery = {t.celery_id: t for t in tasks if t.celery_id}
    for match in log_matches(schedulers, SENT, since):
        task = by_ti.get(match["ti"])
        if task and match["cid"] == task.celery_id:
            task.stamps["Celery id recorded"] = _parse(match["at"])
    for match in log_matches(schedulers, SCHEDULER_SAW_END, since):
        if match["ti"] in by_ti:
            by_ti[match["ti"]].stamps["scheduler saw end"] = _parse(match["at"])
    for pattern, stage in ((RECEIVED, "received by worker"), (SLOT_TOOK, "slot took it"), (SLOT_FREE, "slot free")):
        for match in log_matches(workers, pattern, since):
            if match["cid"] in by_celery:
                by_celery[match["cid"]].stamps.setdefault(stage, _parse(match["at"]))
    for match in log_matches([logs / "api-server.log"], API_CALL, since):
        if match["ti"] in by_ti and match["call"] == "state":
            by_ti[match["ti"]].stamps["state reported"] = _parse(match["at"])


def read_task_logs(cluster: runner.LocalCluster, dag_id: str, run_id: str, tasks: list[TaskPath]) -> None:
    run_dir = cluster.paths.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    for task in tasks:
        path = run_dir / f"task_id={task.task_id}" / f"attempt={task.try_number}.log"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            stage = TASK_LOG_LINES.get(record.get("event", ""))
            if stage and "timestamp" in record:
                task.stamps.setdefault(stage, _parse(record["timestamp"]))


def wait_for_run(cluster: runner.LocalCluster, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    """The run's end state, polled in the database: polling the REST API would load the api-server being measured."""
    engine = sa.create_engine(cluster.secrets[SecretName.DATABASE_URL], poolclass=sa.pool.NullPool)
    query = sa.text("SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r")
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as db:
            while True:
                state = db.execute(query, {"d": dag_id, "r": run_id}).scalar_one()
                db.commit()
                if state in TERMINAL_RUN_STATES or time.monotonic() > deadline:
                    return state
                time.sleep(POLL_SECONDS)
    finally:
        engine.dispose()


def connection_cost(cluster: runner.LocalCluster, rounds: int = 20) -> dict[str, float]:
    """Milliseconds per result-backend query with a new connection each time (what the scheduler's Celery executor
    does on every sync: Celery's SessionManager uses a NullPool outside a forked worker, celery/celery#2661) and on
    one kept connection."""
    url = cluster.secrets[SecretName.RESULT_BACKEND_URL].removeprefix("db+")
    query = sa.text("SELECT count(*) FROM celery_taskmeta")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    started = time.perf_counter()
    for _ in range(rounds):
        with engine.connect() as db:
            db.execute(query)
    fresh = (time.perf_counter() - started) / rounds * 1000
    with engine.connect() as db:
        started = time.perf_counter()
        for _ in range(rounds):
            db.execute(query)
        kept = (time.perf_counter() - started) / rounds * 1000
    engine.dispose()
    return {"new_connection_ms": round(fresh, 1), "kept_connection_ms": round(kept, 1)}


def measure(cluster: runner.LocalCluster, dag_id: str, label: str, slots: int) -> RunBreakdown:
    api = AirflowApi(cluster.url("api-server.http"), ADMIN_USERNAME, cluster.secrets[SecretName.ADMIN_PASSWORD])
    root_pid = supervisor.supervisord_pid(cluster.paths)
    try:
        api.wait_for_dag(dag_id, timeout=300)
        api._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        cpu_before = tree_cpu_seconds(root_pid)
        programs_before = program_cpu_seconds(cluster)
        triggered = datetime.now(UTC)
        run_id = api._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"]
    finally:
        api.close()
    state = wait_for_run(cluster, dag_id, run_id)
    time.sleep(SETTLE_SECONDS)
    cpu = tree_cpu_seconds(root_pid) - cpu_before
    programs_after = program_cpu_seconds(cluster)
    if state != "success":
        raise SystemExit(f"{dag_id}: the run ended {state}")
    run_stamps, tasks, retried = read_database(cluster, dag_id, run_id)
    for task in tasks:
        task.stamps["trigger"] = triggered
        task.stamps.update({stage: value for stage, value in run_stamps.items() if value is not None})
    read_logs(cluster, tasks, triggered)
    read_task_logs(cluster, dag_id, run_id, tasks)
    wall = (run_stamps["run success"] - triggered).total_seconds()
    breakdown = RunBreakdown(label, tasks, wall, cpu, retried, slots)
    breakdown.cpu_per_task_by_program = cpu_by_program(programs_before, programs_after, len(tasks))
    return breakdown


def print_breakdown(breakdown: RunBreakdown) -> None:
    summary = breakdown.summary()
    table = Table(title=f"{breakdown.label}: trigger to success {summary['trigger_to_success_s']:.1f} s")
    for column in ("stage", "tasks", "median since trigger", "median step", "p90 step"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, row in summary["stages"].items():
        table.add_row(stage, str(row["n"]), _seconds(row["median_offset_s"]), _seconds(row["median_step_s"]),
                      _seconds(row["p90_step_s"]))  # fmt: skip
    rate = summary["start_rate_per_s"]
    held = summary["slot_held_s"]
    parts = [f"a parallelism slot is held {held:.2f} s per task (queued to scheduler saw end)"]
    if summary["slot_handover_s"] is not None:
        parts.append(
            f"a freed one waits {summary['slot_handover_s']:.2f} s for its next task "
            f"(p90 {summary['slot_handover_p90_s']:.2f} s)"
        )
    if rate:
        parts.append(f"start rate {rate:.2f} tasks/s")
    parts.append(f"cluster CPU {summary['cpu_seconds']:.0f} s ({summary['cpu_seconds_per_task']:.2f} s per task)")
    parts.append(f"{summary['retried']} tries retried" if summary["retried"] else "no retries")
    table.caption = "; ".join(parts)
    console.print(table)
    by_program = summary["cpu_seconds_per_task_by_program"]
    if by_program:
        console.print(
            "CPU s per task by program: " + ", ".join(f"{name} {value:.3f}" for name, value in by_program.items())
        )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"


def override_settings(assignments: list[str]) -> dict[str, int | float]:
    """Experiments only: `--setting parallelism=8` replaces EnvSettings fields in every program's environment
    (the runner builds the env contract in this process, through local.options.cluster_settings)."""
    overrides: dict[str, int | float] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in {f.name for f in dataclasses.fields(EnvSettings)}:
            raise SystemExit(f"--setting {assignment!r}: {name!r} is no EnvSettings field")
        overrides[name] = float(value) if "." in value else int(value)
    if overrides:
        original = runner.cluster_settings
        runner.cluster_settings = lambda *args: dataclasses.replace(original(*args), **overrides)
    return overrides


DEMO = "celery_parallel_demo"
"""The project's demo (dags/), which `--demo` runs twice: right after `local up`, as `make local` and
bench/benchmark.py do, then again on the warm cluster."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 5, 200], help="tasks per run, one run each")
    parser.add_argument("--task-seconds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--demo", action="store_true", help=f"instead: {DEMO} right after start-up, then again")
    parser.add_argument("--json", type=Path, help="write every run's summary here")
    parser.add_argument("--keep-state", action="store_true")
    parser.add_argument("--setting", action="append", default=[], help="experiment: NAME=VALUE of EnvSettings")
    args = parser.parse_args()
    overrides = override_settings(args.setting)
    parallelism = int(overrides.get("parallelism", args.workers * args.slots))
    shape = f"{args.workers} x {args.slots}"
    if args.demo:
        runs = [(DEMO, f"demo on {shape}, right after up"), (DEMO, f"demo on {shape}, run again")]
    else:
        runs = [(f"latency_{n}x{args.task_seconds}", f"{n} x {args.task_seconds} s on {shape}") for n in args.tasks]
    results = []
    probe: dict[str, float] = {}
    with BenchCluster("aclatency-", console, keep_state=args.keep_state) as bench:
        if args.demo:
            bench.add_project_dag(DEMO)
        for dag_id in {dag_id for dag_id, _ in runs} - {DEMO}:
            bench.add_sleep_dag(dag_id)
        cluster, started = bench.up(args.workers, args.slots)
        console.print(f"{shape} healthy after {started:.1f} s")
        if not args.demo:
            time.sleep(10)  # start-up settles: the breakdown is of a warm, idle cluster
            probe = connection_cost(cluster)
            console.print(f"result backend, ms per query: {probe}")
        for dag_id, label in runs:
            breakdown = measure(cluster, dag_id, label, parallelism)
            print_breakdown(breakdown)
            results.append(breakdown.summary())
    if args.json:
        facts = {"date": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}", "workers": args.workers, "slots": args.slots,
                 "result_backend_query": probe, "settings": overrides}  # fmt: skip
        args.json.write_text(json.dumps({**facts, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
