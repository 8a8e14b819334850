"""The local sink of the autoscaler: start and drain this state dir's worker programs through supervisord.

`local up --workers MIN:MAX` defines MAX worker programs and starts MIN; the autoscaler program (the description's
AUTOSCALER role, run by `python -m airflow_celery.autoscaler supervisor STATE_DIR`) then calls `apply` with the
decision of cluster/scaling.py every few seconds.

A scale-in goes through the drain protocol (cluster/drain.py), as on ECS: the least busy worker is asked to go
(`<drain path>.go`); the worker stops consuming, finishes what it holds and says `release` in its status file;
only then is it stopped (SIGTERM to its main process: a Celery warm shutdown with nothing left to wait for). A
worker asked to go that is wanted again before it was stopped consumes again (the `.go` file is removed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

from airflow_celery.cluster.drain import DRAIN_PROTECTION_CAP, choose_to_go
from airflow_celery.cluster.queues import DEFAULT_QUEUE
from airflow_celery.cluster.roles import WORKER
from airflow_celery.cluster.scaling import Load
from airflow_celery.local import supervisor
from airflow_celery.local.programs import drain_path
from airflow_celery.local.state import StatePaths

log = logging.getLogger("airflow_celery.autoscaler")

UP_STATES = {"STARTING", "RUNNING", "BACKOFF"}
"""A worker counts while it starts or runs; one that is STOPPING (warm shutdown) no longer takes tasks."""


def program_prefix(queue: str | None = None) -> str:
    """Worker programs are `worker-<n>` on the default queue, `worker-<queue>-<n>` on an extra one."""
    return WORKER.name if queue in (None, DEFAULT_QUEUE) else f"{WORKER.name}-{queue}"


@dataclass(frozen=True)
class WorkerStatus:
    """What a worker last wrote about itself (protection.py `status_writer`)."""

    holds: int | None = None
    release: bool = False
    at: float = 0.0


@dataclass(frozen=True)
class Plan:
    start: list[str] = field(default_factory=list)
    drain: list[str] = field(default_factory=list)
    """Ask to go: they stop consuming now and are stopped once they hold nothing."""
    resume: list[str] = field(default_factory=list)
    """Were asked to go, are wanted again: they consume again."""
    stop: list[str] = field(default_factory=list)
    """Drained (released): stopped now."""


def worker_programs(infos: dict[str, dict], queue: str | None = None) -> list[str]:
    """The worker programs of one queue that supervisord knows, in instance order."""
    pattern = re.compile(rf"{re.escape(program_prefix(queue))}-(\d+)")
    found = [(int(m.group(1)), name) for name in infos if (m := pattern.fullmatch(name))]
    return [name for _, name in sorted(found)]


def plan(
    infos: dict[str, dict],
    desired: int,
    going: set[str] | frozenset[str] = frozenset(),
    statuses: dict[str, WorkerStatus] | None = None,
    now: float | None = None,
    cap: float = DRAIN_PROTECTION_CAP,
    queue: str | None = None,
) -> Plan:
    """Serving workers are the up ones not asked to go. Fewer wanted: drain the least busy serving ones. More
    wanted: resume going ones first, then start the lowest-numbered stopped programs. A going worker is stopped
    when its own status (written since it started) says `release`, or when it has said nothing for `cap`."""
    statuses = statuses or {}
    now = time.time() if now is None else now
    names = worker_programs(infos, queue)
    up = [name for name in names if infos[name]["statename"] in UP_STATES]
    idle = [name for name in names if infos[name]["statename"] not in UP_STATES | {"STOPPING"}]
    draining = [name for name in up if name in going]
    serving = [name for name in up if name not in going]
    result = Plan()
    if desired > len(serving):
        resume = draining[: desired - len(serving)]
        draining = [name for name in draining if name not in resume]
        result.resume.extend(resume)
        result.start.extend(idle[: desired - len(serving) - len(resume)])
    elif desired < len(serving):
        current = {name: _fresh(statuses.get(name), infos[name]).holds for name in serving}
        result.drain.extend(choose_to_go(current, len(serving) - desired))
    for name in draining:
        status = _fresh(statuses.get(name), infos[name])
        if status.release or (status.at == 0.0 and now - infos[name].get("start", now) >= cap):
            result.stop.append(name)
    return result


def _fresh(status: WorkerStatus | None, info: dict) -> WorkerStatus:
    """A status written by an earlier run of the program (before its start) says nothing about this one."""
    if status is None or status.at < info.get("start", 0):
        return WorkerStatus()
    return status


def read_status(path: Path) -> WorkerStatus | None:
    try:
        data = json.loads(Path(f"{path}.json").read_text())
    except (OSError, ValueError):
        return None
    return WorkerStatus(holds=data.get("holds"), release=bool(data.get("release")), at=float(data.get("at", 0)))


class SupervisorSink:
    """Starts and drains the worker programs of one queue (`queue` None: the default queue's)."""

    def __init__(self, paths: StatePaths, queue: str | None = None):
        self.paths = paths
        self.queue = queue

    @classmethod
    def from_state_dir(cls, state_dir: str | Path, queue: str | None = None) -> SupervisorSink:
        return cls(StatePaths(Path(state_dir)), queue)

    def _going(self, names: list[str]) -> set[str]:
        return {name for name in names if Path(f"{drain_path(self.paths, name)}.go").exists()}

    def current_workers(self) -> int | None:
        """Serving workers: up and not asked to go."""
        infos = supervisor.process_infos(self.paths)
        names = worker_programs(infos, self.queue)
        going = self._going(names)
        return sum(1 for name in names if infos[name]["statename"] in UP_STATES and name not in going)

    def apply(self, load: Load, desired: int) -> None:
        infos = supervisor.process_infos(self.paths)
        names = worker_programs(infos, self.queue)
        statuses = {name: read_status(drain_path(self.paths, name)) for name in names}
        todo = plan(infos, desired, self._going(names), {k: v for k, v in statuses.items() if v}, queue=self.queue)
        for name in todo.resume:
            log.info("%s is wanted again: it consumes again (%d queued, %d running)", name, load.queued, load.running)
            self._forget(name)
        for name in todo.start:
            log.info("starting %s (%d queued, %d running)", name, load.queued, load.running)
            self._forget(name, status=True)
            supervisor.start(self.paths, name)
        for name in todo.drain:
            log.info("draining %s: it stops taking tasks and is stopped once it holds none", name)
            go = Path(f"{drain_path(self.paths, name)}.go")
            go.parent.mkdir(parents=True, exist_ok=True)
            go.touch()
        for name in todo.stop:
            log.info("stopping %s: drained", name)
            self.stop(name)

    def stop(self, name: str) -> None:
        """SIGTERM to the worker's main process, without waiting: the next round keeps counting. The `.go` file
        stays until the program is started again, so the worker does not consume again while it shuts down."""
        try:
            supervisor.proxy(self.paths).supervisor.stopProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def _forget(self, name: str, status: bool = False) -> None:
        base = drain_path(self.paths, name)
        for suffix in (".go", ".json") if status else (".go",):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{base}{suffix}").unlink()
