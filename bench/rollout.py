"""A rolling deploy of new DAG code under load, then a scale-in, on a local cluster: `python -m bench.rollout`.

What ECS does on a deploy, done by hand on a fresh local cluster of 2 workers x 4 slots:

1. steady load: a 5 s task every `SHORT_EVERY` s and a 90 s task every `LONG_EVERY` s (one DAG run each), from
   the start to the end of the measurement;
2. after a warm-up, two NEW workers start with a copy of the dags folder whose tasks report code version v2
   (the old ones report v1); once they consume, the old workers are superseded: each is asked to go through the
   drain protocol (cluster/drain.py; locally `<drain path>.go`, as the local autoscaler does), stops consuming,
   finishes what it holds, says `release`, and only then is stopped (SIGTERM, a warm shutdown);
3. a scale-in: the least busy new worker is asked to go the same way and stopped once released;
4. the load stops; every DAG run is followed to its end.

Every task attempt appends `{run, task, try, version, worker, event, t}` to a records file next to its DAG.
It reports tasks lost (a run not successful), tasks run twice (a task started more than once), tasks started on
superseded code after the switch (a v1 start in a run triggered after the old workers stopped consuming), the
seconds from the switch until the old workers were stopped, and the longest drain (asked to go -> released).
Targets: 0, 0, 0, and the rollout done within the longest task (90 s) + 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from airflow_celery.cluster import SecretName
from airflow_celery.cluster.drain import DRAIN_PATH_VAR, choose_to_go
from airflow_celery.cluster.env import NODE_NAME_VAR
from airflow_celery.local import runner, supervisor
from airflow_celery.local.api import AirflowApi
from airflow_celery.local.programs import drain_path
from airflow_celery.local.state import ADMIN_USERNAME
from bench.local_cluster import HEALTH_TIMEOUT, BenchCluster, free_port_numbers

WORKERS, SLOTS = 2, 4
SHORT_SECONDS, LONG_SECONDS = 5, 90
SHORT_EVERY, LONG_EVERY = 3.0, 40.0
WARM_UP, AFTER_ROLLOUT = 100.0, 30.0
DRAIN_TIMEOUT = LONG_SECONDS + 120
END_TIMEOUT = 400.0

SECONDS = {"rollout_short": SHORT_SECONDS, "rollout_long": LONG_SECONDS}
"""Each DAG of bench/dags/rollout_load.py sleeps its run conf's `seconds`."""
console = Console(highlight=False, width=150)


def write_dags(bench: BenchCluster, folder: Path, version: str) -> Path:
    """bench/dags/rollout_load.py with the code version its tasks report."""
    folder.mkdir(parents=True, exist_ok=True)
    bench.add_bench_dag("rollout_load", folder)
    (folder / "VERSION").write_text(version + "\n")
    return folder


@dataclass
class Load:
    """Triggers DAG runs until stopped; remembers when each was triggered."""

    api: AirflowApi
    triggered: list[tuple[str, str, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        due = {"rollout_long": time.monotonic(), "rollout_short": time.monotonic()}
        every = {"rollout_long": LONG_EVERY, "rollout_short": SHORT_EVERY}
        while not self.stop.is_set():
            for dag_id in due:
                if time.monotonic() < due[dag_id]:
                    continue
                due[dag_id] += every[dag_id]
                try:
                    run_id, _ = self.api.trigger(dag_id, conf={"seconds": SECONDS[dag_id]})
                    self.triggered.append((dag_id, run_id, time.time()))
                except Exception as error:  # the bench goes on; a missing run shows up as a gap
                    console.print(f"[red]trigger {dag_id} failed: {error}")
            self.stop.wait(0.2)


def status(paths, name: str) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(Path(f"{drain_path(paths, name)}.json").read_text())
    return {}


def wait_for(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def start_new_worker(cluster: runner.LocalCluster, index: int, dags: Path) -> subprocess.Popen:
    """A worker of the new 'task definition': the old worker's env contract with the new dags folder."""
    (program,) = [p for p in cluster.programs if p.name == "worker-1"]
    name = f"new-{index}"
    env = {
        **program.environment(cluster.secrets, cluster.base_env),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        NODE_NAME_VAR: f"worker-{name}@{cluster.node_host}",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port_numbers(1)[0]),
        DRAIN_PATH_VAR: str(drain_path(cluster.paths, name)),
    }
    log = open(cluster.paths.log_file(f"worker-{name}"), "w")  # noqa: SIM115
    argv = [sys.executable, "-m", "airflow_celery.entrypoint", "worker"]
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def drain(paths, name: str) -> float:
    """Ask one worker to go; return the seconds until it said `release`."""
    Path(f"{drain_path(paths, name)}.go").touch()
    return wait_for(lambda: status(paths, name).get("release") is True, DRAIN_TIMEOUT, f"{name} released")


def records(dags_dirs: list[Path]) -> list[dict]:
    found = []
    for folder in dags_dirs:
        path = folder / "records.jsonl"
        if path.exists():
            found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-state", action="store_true")
    args = parser.parse_args()
    new_workers: list[subprocess.Popen] = []
    figures: dict[str, object] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    load = None
    with BenchCluster("acrollout-", console, keep_state=args.keep_state) as bench:
        old_dags, new_dags = write_dags(bench, bench.dags, "v1"), write_dags(bench, bench.root / "dags-v2", "v2")
        bench.on_down(stop, new_workers, lambda: load)
        cluster, _ = bench.up(WORKERS, SLOTS)
        paths = cluster.paths
        login = (cluster.url("api-server.http"), ADMIN_USERNAME, cluster.secrets[SecretName.ADMIN_PASSWORD])
        api = AirflowApi(*login)
        for dag_id in ("rollout_short", "rollout_long"):
            api.wait_for_dag(dag_id, timeout=300)
        load = Load(
            AirflowApi(cluster.url("api-server.http"), ADMIN_USERNAME, cluster.secrets[SecretName.ADMIN_PASSWORD])
        )
        thread = threading.Thread(target=load.run, daemon=True)
        thread.start()
        console.print(f"steady load for {WARM_UP:.0f} s")
        time.sleep(WARM_UP)

        console.print("rollout: starting 2 new workers (v2)")
        new_workers.extend(start_new_worker(cluster, i, new_dags) for i in (1, 2))
        wait_for(lambda: all(status(paths, f"new-{i}").get("consuming") for i in (1, 2)), HEALTH_TIMEOUT, "new ready")
        switch = time.time()
        held = {name: status(paths, name).get("holds") for name in ("worker-1", "worker-2")}
        console.print(f"switch: old workers asked to go (holding {held})")
        drains: dict[str, float] = {}
        threads = [threading.Thread(target=lambda n=n: drains.__setitem__(n, drain(paths, n))) for n in held]
        for t in threads:
            t.start()
        wait_for(lambda: all(status(paths, n).get("consuming") is False for n in held), 30, "old stopped consuming")
        consuming_stopped = time.time()
        for t in threads:
            t.join(DRAIN_TIMEOUT + 10)
        left = supervisor.stop_and_wait(paths, list(held), 60)
        rollout_done = time.time()
        if left:
            raise SystemExit(f"old workers not stopped: {left}")
        figures.update(
            rollout_seconds=round(rollout_done - switch, 1),
            old_drains=drains,
            old_held_at_switch=held,
        )

        time.sleep(AFTER_ROLLOUT)
        loads = {f"new-{i}": status(paths, f"new-{i}").get("holds") for i in (1, 2)}
        (victim,) = choose_to_go(loads, 1)
        console.print(f"scale-in: {victim} goes (holds {loads})")
        scale_in_drain = drain(paths, victim)
        process = new_workers[int(victim.rsplit("-", 1)[1]) - 1]
        process.send_signal(signal.SIGTERM)  # the main process only: a warm shutdown, nothing left to wait for
        process.wait(timeout=60)
        figures.update(scale_in_drain=round(scale_in_drain, 1), scale_in_held=loads[victim])

        time.sleep(AFTER_ROLLOUT)
        load.stop.set()
        thread.join(10)
        console.print(f"load stopped after {len(load.triggered)} runs; following them to their end")
        ends = {}
        deadline = time.monotonic() + END_TIMEOUT
        for dag_id, run_id, _ in load.triggered:
            while (state_ := api.run(dag_id, run_id)["state"]) not in ("success", "failed"):
                if time.monotonic() > deadline:
                    break
                time.sleep(1)
            ends[run_id] = state_
        api.close()
        figures.update(report(load.triggered, ends, records([old_dags, new_dags]), consuming_stopped, drains))
    console.print_json(json.dumps(figures))
    if "lost" in figures:
        met = (figures["lost"], figures["run_twice"], figures["superseded_code_after_switch"]) == (0, 0, 0)
        met = met and figures["rollout_seconds"] <= LONG_SECONDS + 60
        console.print("targets met" if met else "[red]targets NOT met")


def stop(new_workers: list[subprocess.Popen], load: Callable[[], Load | None]) -> None:
    """Stop the load and kill the hand-started workers (before the cluster stops)."""
    if (current := load()) is not None:
        current.stop.set()
    for process in new_workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def report(triggered, ends: dict, found: list[dict], switch: float, drains: dict[str, float]) -> dict:
    starts: dict[tuple[str, str], list[dict]] = {}
    for line in found:
        if line["event"] == "start":
            starts.setdefault((line["run"], line["dag"]), []).append(line)
    after = {run_id for _, run_id, at in triggered if at > switch}
    lost = [run_id for run_id, state in ends.items() if state != "success"]
    twice = [key for key, lines in starts.items() if len(lines) > 1]
    stale = [key for key, lines in starts.items() if key[0] in after and any(x["version"] == "v1" for x in lines)]
    longest = max(drains.values())
    return {
        "runs": len(triggered),
        "lost": len(lost),
        "run_twice": len(twice),
        "superseded_code_after_switch": len(stale),
        "longest_drain_seconds": round(longest, 1),
        "target_rollout_seconds": LONG_SECONDS + 60,
        "v2_starts": sum(1 for x in found if x["event"] == "start" and x["version"] == "v2"),
        "lost_runs": lost[:5],
        "twice": twice[:5],
    }


if __name__ == "__main__":
    main()
