"""Fault suite of the local cluster (a script, not a test): `python -m bench.faults [--cases 1,3] [--keep-state]`.

Starts one local cluster (2 workers x 8 slots) in a temporary state dir and runs its 9 fault cases on it,
one after another, each with its own DAG runs. A fault is injected through supervisord or by a signal to one
process group, the way a user or the platform would. For each case it prints:

- lost: tasks not in `success` when the run ended (never ran, failed, or stuck), out of the run's tasks;
- twice: tasks whose work finished in more than one try (their "done" line is in two attempts' logs);
- extra tries: the sum of (try_number - 1) over the run's tasks;
- recover: seconds from the injection to the last start of a task that had to start after it (a retry, or a
  task held back by the fault); "-" when no task had to;
- final: the run's final state.

Run it alone (`flock /tmp/airflow-heavy.lock python -m bench.faults`): it needs most of 2 cores. About 11 minutes here.
Case 8 needs root and the cgroup v1 memory controller (each worker gets a memory limit, as a container has).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from rich.console import Console

from airflow_celery.cluster import SecretName
from airflow_celery.local import runner, supervisor
from airflow_celery.local.api import AirflowApi, RunResult, TaskTimes, follow_run
from airflow_celery.local.state import ADMIN_USERNAME
from bench.local_cluster import BenchCluster, results_table

WORKERS, SLOTS = 2, 8
DONE = "fault-task done"
"""The last line of every task of bench/dags/faults.py (which has the same text)."""
DEMO_DONE = "Воркер закончил задачу"  # celery_parallel_demo's own last line
console = Console(highlight=False, width=160)


@dataclass
class Outcome:
    tasks: int
    lost: int
    twice: int
    extra_tries: int
    recover: float | None
    final: str
    notes: list[str] = field(default_factory=list)
    ok: bool = True

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            self.ok = False
            self.notes.append(f"NOT MET: {what}")


@dataclass
class Bench:
    cluster: runner.LocalCluster
    run_timeout: float = 420.0

    def api(self) -> AirflowApi:
        return AirflowApi(
            self.cluster.url("api-server.http"), ADMIN_USERNAME, self.cluster.secrets[SecretName.ADMIN_PASSWORD]
        )

    def trigger(self, dag_id: str) -> tuple[str, datetime]:
        with contextlib.closing(self.api()) as api:
            api.wait_for_dag(dag_id, timeout=300)
            return api.trigger(dag_id)

    def tasks(self, dag_id: str, run_id: str) -> list[TaskTimes]:
        with contextlib.closing(self.api()) as api:
            return api.task_instances(dag_id, run_id)

    def wait_running(
        self, dag_id: str, run_id: str, count: int, timeout: float = 120, task_id: str | None = None
    ) -> list[TaskTimes]:
        """Until at least `count` of the run's tasks (or of those named `task_id`) are running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tasks = self.tasks(dag_id, run_id)
            running = [t for t in tasks if t.state == "running" and task_id in (None, t.task_id)]
            if len(running) >= count:
                return running
            time.sleep(0.5)
        raise SystemExit(f"{dag_id}: fewer than {count} tasks running after {timeout:.0f} s")

    def finish(self, dag_id: str, run_id: str, triggered_at: datetime, timeout: float | None = None) -> RunResult:
        """Follow the run to its end; the api-server may be down for a while, so errors are retried."""
        deadline = time.monotonic() + (timeout or self.run_timeout)
        while True:
            try:
                with contextlib.closing(self.api()) as api:
                    left = max(1.0, deadline - time.monotonic())
                    return follow_run(api, dag_id, run_id, triggered_at, left, lambda _: None)
            except Exception as error:  # an api-server outage is part of some cases
                if time.monotonic() > deadline:
                    raise SystemExit(f"{dag_id}: could not follow {run_id}: {error}") from None
                time.sleep(2)

    def program_pid(self, name: str) -> int:
        return int(supervisor.process_infos(self.cluster.paths)[name]["pid"])

    def state_of(self, name: str) -> str:
        return supervisor.process_infos(self.cluster.paths)[name]["statename"]

    def wait_state(self, name: str, states: tuple[str, ...], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state_of(name)
            if state in states:
                return state
            time.sleep(0.5)
        return self.state_of(name)

    def ensure_running(self, *names: str) -> None:
        """Back to a healthy cluster between cases."""
        for name in names:
            if self.state_of(name) not in ("RUNNING", "STARTING"):
                supervisor.start(self.cluster.paths, name)
        for program in self.cluster.programs:
            if program.name in names:
                runner.wait_healthy(self.cluster, program, lambda _: None)

    def attempts_done(self, dag_id: str, run_id: str, task_id: str, marker: str = DONE) -> int:
        logs = self.cluster.paths.airflow_home / "logs"
        folder = logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sum(1 for log in folder.glob("attempt=*.log") if marker in log.read_text(errors="replace"))

    def outcome(self, result: RunResult, injected: float | None, marker: str = DONE) -> Outcome:
        """The figures of one run; `injected` is the wall-clock time (time.time()) of the fault."""
        tasks = result.tasks
        restarted = [
            t.start.timestamp() for t in tasks if injected is not None and t.start and t.start.timestamp() > injected
        ]
        return Outcome(
            tasks=len(tasks),
            lost=sum(1 for t in tasks if t.state != "success"),
            twice=sum(1 for t in tasks if self.attempts_done(result.dag_id, result.run_id, t.task_id, marker) > 1),
            extra_tries=sum(max(0, t.try_number - 1) for t in tasks),
            recover=(max(restarted) - injected) if restarted else None,
            final=result.state,
        )


def signal_group(pid: int, sig: signal.Signals) -> None:
    os.killpg(os.getpgid(pid), sig)


def running_tasks(pid: int) -> int:
    """Tasks a worker runs now: its pool processes retitle themselves `airflow supervisor: <ti id>` per task."""
    group = os.getpgid(pid)
    count = 0
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == group and " ".join(process.info["cmdline"] or []).startswith(
                "airflow supervisor:"
            ):
                count += 1
    return count


# --- the cases --------------------------------------------------------------------------------------------


def case_kill_worker(bench: Bench) -> Outcome:
    """SIGKILL of one worker's process group while it runs demo tasks (no retries set in the DAG)."""
    run_id, at = bench.trigger("celery_parallel_demo")
    bench.wait_running("celery_parallel_demo", run_id, 5)
    time.sleep(5)
    victim = max(("worker-1", "worker-2"), key=lambda name: running_tasks(bench.program_pid(name)))
    killed = running_tasks(bench.program_pid(victim))
    injected = time.time()
    signal_group(bench.program_pid(victim), signal.SIGKILL)
    result = bench.finish("celery_parallel_demo", run_id, at)
    out = bench.outcome(result, injected, DEMO_DONE)
    out.notes.append(f"{victim} killed with {killed} of the 5 tasks")
    out.expect(result.state == "success", "the run succeeds")
    out.expect(out.extra_tries > 0, "the killed worker's tasks were retried (else it ran none)")
    out.expect(out.recover is not None and out.recover <= 90, "the retry starts within 90 s of the kill")
    bench.ensure_running(victim)
    return out


def case_term_worker(bench: Bench) -> Outcome:
    """SIGTERM to one worker's main process (what ECS sends): warm shutdown."""
    run_id, at = bench.trigger("faults_tasks")
    running = bench.wait_running("faults_tasks", run_id, 16)
    time.sleep(3)
    injected = time.time()
    os.kill(bench.program_pid("worker-1"), signal.SIGTERM)
    time.sleep(2)
    second_id, second_at = bench.trigger("faults_tasks")  # arrives while worker-1 shuts down
    result = bench.finish("faults_tasks", run_id, at)
    second = bench.finish("faults_tasks", second_id, second_at)
    out = bench.outcome(result, injected)
    state = bench.wait_state("worker-1", ("EXITED", "FATAL", "STOPPED", "BACKOFF"), 150)
    late = [t for t in second.tasks if t.try_number > 1 or t.state != "success"]
    out.notes.append(f"{len(running)} running at SIGTERM; worker-1 then {state}; second run {second.state}")
    out.expect(result.state == "success" and out.extra_tries == 0, "running tasks finish with try 1")
    out.expect(second.state == "success" and not late, "tasks sent during the shutdown run elsewhere, try 1")
    bench.ensure_running("worker-1")
    return out


def case_stop_redis(bench: Bench) -> Outcome:
    """Redis stopped for 15 s while tasks are queued in it and running, then started.

    worker-2 is stopped first, so that of the 16 tasks the scheduler sends (parallelism 16), 8 run on worker-1 and
    8 wait in Redis, as they do while a cluster waits for a scale-out. worker-2 starts again with Redis.
    """
    supervisor.stop_and_wait(bench.cluster.paths, ["worker-2"], 150)
    run_id, at = bench.trigger("faults_wide")
    bench.wait_running("faults_wide", run_id, 8)
    time.sleep(3)
    queued = {t.task_id for t in bench.tasks("faults_wide", run_id) if t.state == "queued"}
    injected = time.time()
    supervisor.stop_and_wait(bench.cluster.paths, ["redis"], 30)
    time.sleep(15)
    supervisor.start(bench.cluster.paths, "redis")
    back = time.time()
    bench.ensure_running("redis", "worker-2")
    result = bench.finish("faults_wide", run_id, at, timeout=300)
    out = bench.outcome(result, injected)
    waited = [t.start.timestamp() - back for t in result.tasks if t.task_id in queued and t.start]
    out.notes.append(f"{len(queued)} queued in Redis at the stop")
    if waited:
        out.notes.append(f"the last of them started {max(waited):.0f} s after Redis returned")
    reduced = [line for name in ("worker-1", "worker-2") for line in
               bench.cluster.paths.log_file(name).read_text(errors="replace").splitlines()
               if "Temporarily reducing the prefetch count" in line]  # fmt: skip
    if reduced:
        out.notes.append(f"Celery after reconnecting: {reduced[-1].split('reducing the ')[-1][:90]}")
    out.expect(out.lost == 0 and result.state == "success", "nothing lost")
    out.expect(len(waited) == len(queued) and max(waited, default=0) <= 60, "queued ones run <= 60 s after Redis")
    return out


def case_restart_postgres(bench: Bench) -> Outcome:
    """PostgreSQL restarted (fast shutdown, then start) mid-run."""
    run_id, at = bench.trigger("faults_tasks")
    running = bench.wait_running("faults_tasks", run_id, 8)
    time.sleep(4)
    injected = time.time()
    supervisor.stop_and_wait(bench.cluster.paths, ["postgres"], 40)
    supervisor.start(bench.cluster.paths, "postgres")
    bench.ensure_running("postgres")
    result = bench.finish("faults_tasks", run_id, at)
    out = bench.outcome(result, injected)
    out.notes.append(f"{len(running)} running at the restart")
    out.expect(result.state == "success", "every run succeeds")
    out.expect(out.twice == 0, "no task runs twice")
    return out


def case_kill_scheduler(bench: Bench) -> Outcome:
    """SIGKILL of the scheduler's process group mid-run; supervisord restarts it."""
    run_id, at = bench.trigger("faults_wide")
    bench.wait_running("faults_wide", run_id, 8)
    time.sleep(4)
    injected = time.time()
    signal_group(bench.program_pid("scheduler"), signal.SIGKILL)
    restarted = bench.wait_state("scheduler", ("RUNNING",), 60)
    result = bench.finish("faults_wide", run_id, at)
    out = bench.outcome(result, injected)
    out.notes.append(f"supervisord: scheduler {restarted}")
    out.expect(result.state == "success", "every run succeeds")
    out.expect(out.twice == 0, "no task runs twice")
    bench.ensure_running("scheduler")
    return out


def case_stop_api_server(bench: Bench) -> Outcome:
    """The api-server stopped for 20 s while tasks run (their heartbeats go to its execution API)."""
    run_id, at = bench.trigger("faults_tasks")
    bench.wait_running("faults_tasks", run_id, 8)
    time.sleep(2)
    injected = time.time()
    supervisor.stop_and_wait(bench.cluster.paths, ["api-server"], 60)
    time.sleep(20)
    supervisor.start(bench.cluster.paths, "api-server")
    bench.ensure_running("api-server")
    result = bench.finish("faults_tasks", run_id, at)
    out = bench.outcome(result, injected)
    out.expect(result.state == "success", "the run succeeds")
    return out


STARTING_OUTAGE_SECONDS = 120


def case_stop_api_server_while_a_task_starts(bench: Bench) -> Outcome:
    """The api-server stopped 120 s while one task's code runs (`early`) and another is between its `ti_run` call
    and its rendered fields (`late`, whose template takes 15 s to render): which survives, and how many tries the
    other uses."""
    run_id, at = bench.trigger("faults_starting")
    bench.wait_running("faults_starting", run_id, 1, task_id="late")  # rendering its template for 15 s
    injected = time.time()
    supervisor.stop_and_wait(bench.cluster.paths, ["api-server"], 60)
    time.sleep(STARTING_OUTAGE_SECONDS)
    supervisor.start(bench.cluster.paths, "api-server")
    bench.ensure_running("api-server")
    result = bench.finish("faults_starting", run_id, at)
    out = bench.outcome(result, injected)
    by_id = {t.task_id: t for t in result.tasks}
    out.notes.append(", ".join(f"{t.task_id} {t.state} after {t.try_number} tries" for t in result.tasks))
    out.expect(by_id["early"].state == "success" and by_id["early"].try_number == 1, "early: success at try 1")
    out.expect(by_id["late"].state == "failed", "late: fails, its tries used while the api-server is down")
    return out


def case_burst(bench: Bench) -> Outcome:
    """200 tasks x 1 s at once on 2 workers x 8 slots."""
    run_id, at = bench.trigger("faults_burst")
    result = bench.finish("faults_burst", run_id, at, timeout=600)
    out = bench.outcome(result, None)
    ideal = 200 / (WORKERS * SLOTS) * 1
    stuck = sum(1 for t in result.tasks if t.state in ("queued", "scheduled", None))
    makespan = result.makespan or float("nan")
    trigger_to_end = result.trigger_to_end or float("nan")
    out.notes.append(f"makespan {makespan:.1f} s, trigger to end {trigger_to_end:.1f} s, ideal {ideal:.1f} s")
    out.expect(stuck == 0 and result.state == "success", "0 stuck in queued")
    return out


MEMORY_CGROUP = Path("/sys/fs/cgroup/memory")
WORKER_MEMORY_MIB = 1536


def _limit_memory(bench: Bench, name: str) -> Path:
    """A memory cgroup for one worker's process group, as a container gives it: the kernel OOM-kills inside it."""
    group = MEMORY_CGROUP / f"acfaults-{os.getpid()}-{name}"
    group.mkdir()
    (group / "memory.limit_in_bytes").write_text(str(WORKER_MEMORY_MIB * 2**20))
    pgid = os.getpgid(bench.program_pid(name))
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid:
                (group / "cgroup.procs").write_text(str(process.pid))
    return group


def _unlimit(group: Path) -> None:
    for pid in (group / "cgroup.procs").read_text().split():
        with contextlib.suppress(OSError):
            (MEMORY_CGROUP / "cgroup.procs").write_text(pid)
    with contextlib.suppress(OSError):
        group.rmdir()


def case_memory(bench: Bench) -> Outcome:
    """One task touches 3 GiB on a worker limited to 1.5 GiB (a cgroup, like a container's limit)."""
    if os.geteuid() != 0 or not (MEMORY_CGROUP / "memory.limit_in_bytes").exists():
        return Outcome(0, 0, 0, 0, None, "not run", ["needs root and the cgroup v1 memory controller"], ok=False)
    pids = {name: bench.program_pid(name) for name in ("worker-1", "worker-2")}
    groups = [_limit_memory(bench, name) for name in pids]
    try:
        run_id, at = bench.trigger("faults_memory")
        result = bench.finish("faults_memory", run_id, at)
    finally:
        for group in groups:
            _unlimit(group)
    out = bench.outcome(result, None)
    hog = next(t for t in result.tasks if t.task_id == "hog")
    others = [t for t in result.tasks if t.task_id != "hog"]
    log_dir = bench.cluster.paths.airflow_home / "logs" / "dag_id=faults_memory" / f"run_id={run_id}" / "task_id=hog"
    logs = " ".join(p.read_text(errors="replace") for p in log_dir.glob("attempt=*.log"))
    reason = re.search(r"Process terminated by signal\. Likely out of memory error \(OOM\)", logs)
    alive = {name: bench.state_of(name) == "RUNNING" and bench.program_pid(name) == pid for name, pid in pids.items()}
    out.lost = sum(1 for t in others if t.state != "success")  # the hog is expected to fail
    out.notes.append(f"hog {hog.state}; log: {reason.group(0)[:80] if reason else 'no reason found'}")
    out.expect(hog.state == "failed", "the hog fails")
    out.expect(reason is not None, "its log gives the reason (OOM)")
    out.expect(all(alive.values()), f"both workers live on (same pid): {alive}")
    out.expect(out.lost == 0, "the other tasks succeed")
    return out


@dataclass(frozen=True)
class Case:
    number: int
    fault: str
    expected: str
    run: Callable[[Bench], Outcome]


CASES = (
    Case(1, "SIGKILL one worker's process group (celery_parallel_demo)", "run succeeds via retries; retry <= 90 s",
         case_kill_worker),
    Case(2, "SIGTERM one worker while it runs tasks", "warm shutdown: try 1; no new tasks", case_term_worker),
    Case(3, "stop Redis 15 s with tasks queued and running", "nothing lost; queued run <= 60 s after",
         case_stop_redis),
    Case(4, "restart PostgreSQL mid-run", "run succeeds; no task twice", case_restart_postgres),
    Case(5, "SIGKILL the scheduler mid-run (supervisord restarts it)", "run succeeds; no task twice",
         case_kill_scheduler),
    Case(6, "stop the api-server for 20 s while tasks run", "run succeeds", case_stop_api_server),
    Case(7, "burst: 200 x 1 s on 2 workers x 8 slots", "0 stuck; makespan vs ideal 12.5 s", case_burst),
    Case(8, "a task exceeding its worker's memory", "it fails with a reason; worker and others live on",
         case_memory),
    Case(9, "stop the api-server 120 s while a task starts (running, its rendered fields not sent)",
         "the running task succeeds; the starting one fails its tries", case_stop_api_server_while_a_task_starts),
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(str(c.number) for c in CASES), help="e.g. 1,3,5")
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary state dir for inspection")
    args = parser.parse_args()
    chosen = [c for c in CASES if str(c.number) in args.cases.split(",")]
    rows: list[tuple[Case, Outcome, float]] = []
    started = time.monotonic()
    with BenchCluster("acfaults-", console, keep_state=args.keep_state) as local:
        local.add_project_dag("celery_parallel_demo")
        local.add_bench_dag("faults")
        cluster, _ = local.up(WORKERS, SLOTS)
        bench = Bench(cluster)
        for case in chosen:
            console.rule(f"case {case.number}: {case.fault}")
            case_started = time.monotonic()
            try:
                outcome = case.run(bench)
            except (SystemExit, Exception) as error:  # one broken case must not hide the others
                outcome = Outcome(0, 0, 0, 0, None, "error", [f"{type(error).__name__}: {error}"], ok=False)
                with contextlib.suppress(Exception):
                    bench.ensure_running(*(p.name for p in cluster.programs if not p.one_shot))
            rows.append((case, outcome, time.monotonic() - case_started))
            console.print(f"case {case.number}: {outcome}")
    _print(rows, time.monotonic() - started)


def _print(rows: list[tuple[Case, Outcome, float]], total: float) -> None:
    columns = ("#", "fault", "expected", "tasks", "lost", "twice", "extra tries", "recover", "final", "verdict")
    cells = []
    for case, out, _ in rows:
        recover = f"{out.recover:.0f} s" if out.recover is not None else "-"
        missed = "; ".join(n for n in out.notes if n.startswith("NOT MET")) or "could not run: see below"
        verdict = "[green]met" if out.ok else f"[red]{missed}"
        cells.append((str(case.number), case.fault, case.expected, str(out.tasks), str(out.lost), str(out.twice),
                      str(out.extra_tries), recover, out.final, verdict))  # fmt: skip
    console.print(results_table("fault suite", columns, cells, f", {total / 60:.1f} min"))
    for case, out, seconds in rows:
        notes = "; ".join(n for n in out.notes if not n.startswith("NOT MET")) or "-"
        console.print(f"case {case.number} ({seconds:.0f} s): {notes}")


if __name__ == "__main__":
    main()
