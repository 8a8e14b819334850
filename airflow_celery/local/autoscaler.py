"""The local sink of the autoscaler: start and stop this state dir's worker programs through supervisord.

`local up --workers MIN:MAX` defines MAX worker programs and starts MIN; the autoscaler program (the description's
AUTOSCALER role, run by `python -m airflow_celery.autoscaler supervisor STATE_DIR`) then calls `apply` with the
decision of cluster/scaling.py every few seconds. A stop is supervisord's stopsignal, SIGTERM: a Celery warm
shutdown, so the worker's running tasks finish first (stopwaitsecs is the worker's stop_timeout, 120 s).
"""

from __future__ import annotations

import logging
import re
import xmlrpc.client
from pathlib import Path

from airflow_celery.cluster.roles import WORKER
from airflow_celery.cluster.scaling import Load
from airflow_celery.local import supervisor
from airflow_celery.local.state import StatePaths

log = logging.getLogger("airflow_celery.autoscaler")

UP_STATES = {"STARTING", "RUNNING", "BACKOFF"}
"""A worker counts while it starts or runs; one that is STOPPING (warm shutdown) no longer takes tasks."""
_WORKER_PROGRAM = re.compile(rf"{WORKER.name}-(\d+)")


def worker_programs(infos: dict[str, dict]) -> list[str]:
    """The worker programs supervisord knows, in instance order."""
    found = [(int(m.group(1)), name) for name in infos if (m := _WORKER_PROGRAM.fullmatch(name))]
    return [name for _, name in sorted(found)]


def plan(infos: dict[str, dict], desired: int) -> tuple[list[str], list[str]]:
    """(to start, to stop): start the lowest-numbered idle programs, stop the highest-numbered running ones."""
    names = worker_programs(infos)
    up = [name for name in names if infos[name]["statename"] in UP_STATES]
    idle = [name for name in names if infos[name]["statename"] not in UP_STATES | {"STOPPING"}]
    if desired > len(up):
        return idle[: desired - len(up)], []
    if desired < len(up):
        return [], list(reversed(up))[: len(up) - desired]
    return [], []


class SupervisorSink:
    def __init__(self, paths: StatePaths):
        self.paths = paths

    @classmethod
    def from_state_dir(cls, state_dir: str | Path) -> SupervisorSink:
        return cls(StatePaths(Path(state_dir)))

    def current_workers(self) -> int | None:
        infos = supervisor.process_infos(self.paths)
        return sum(1 for name in worker_programs(infos) if infos[name]["statename"] in UP_STATES)

    def apply(self, load: Load, desired: int) -> None:
        start, stop = plan(supervisor.process_infos(self.paths), desired)
        server = supervisor.proxy(self.paths)
        for name in start:
            log.info("starting %s (%d queued, %d running)", name, load.queued, load.running)
            supervisor.start(self.paths, name)
        for name in stop:
            log.info("stopping %s with SIGTERM: a warm shutdown, its running tasks finish first", name)
            try:
                server.supervisor.stopProcess(name, False)  # do not wait: the next round keeps counting
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString:
                    raise
