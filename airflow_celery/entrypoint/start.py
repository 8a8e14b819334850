"""Role start: find the role, wait for what it needs, then `exec` its command (or run `migrate`, a job).

What each role waits for before its command is written here per role, not inferred from its variables:
START_WAITS (tests/test_entrypoint.py checks it against the env contract, cluster/env.py).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_celery.cluster.env import (
    NODE_NAME_VAR,
    RESULT_BACKEND_VAR,
    SERVE_LOGS_VAR,
    WAIT_FOR_MIGRATIONS_VAR,
)
from airflow_celery.cluster.queues import WORKER_QUEUE_VAR
from airflow_celery.cluster.roles import (
    API_SERVER,
    AUTOSCALER,
    DAG_PROCESSOR,
    ENTRYPOINT_ROLES,
    FLOWER,
    MIGRATE,
    SCHEDULER,
    TRIGGERER,
    WATCHDOG,
    WORKER,
    Role,
)
from airflow_celery.entrypoint import migrate, waits
from airflow_celery.entrypoint.errors import EX_USAGE, EntrypointError, log
from airflow_celery.entrypoint.retry import remaining
from airflow_celery.entrypoint.variables import flag, wait_budget


@dataclass(frozen=True)
class StartWaits:
    """What a role waits for after the services it has edges to, before its command starts."""

    schema: bool = False
    """`airflow db check-migrations`: the role opens Airflow's metadata database (skipped when
    AIRFLOW_CELERY_WAIT_FOR_MIGRATIONS is False)."""
    result_backend_role: bool = False
    """The result backend's own database role and Celery's tables, which migrate creates: the role stores task
    results there (skipped with the same flag)."""


START_WAITS: dict[str, StartWaits] = {
    API_SERVER.name: StartWaits(schema=True),
    SCHEDULER.name: StartWaits(schema=True),
    DAG_PROCESSOR.name: StartWaits(schema=True),
    TRIGGERER.name: StartWaits(schema=True),
    WORKER.name: StartWaits(result_backend_role=True),
    FLOWER.name: StartWaits(),
    # The sidecars start no Airflow: each waits for its database, then retries its own queries.
    AUTOSCALER.name: StartWaits(),
    WATCHDOG.name: StartWaits(),
}
"""Every role that starts through `exec`; MIGRATE is a job, run here to its end (migrate.py)."""


def find_role(name: str) -> Role:
    for candidate in ENTRYPOINT_ROLES:
        if candidate.name == name:
            return candidate
    names = ", ".join(r.name for r in ENTRYPOINT_ROLES)
    raise EntrypointError(f"unknown role {name!r}; the entrypoint runs: {names}", EX_USAGE)


def role_argv(role: Role, env: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    """The command line the role finally runs."""
    argv = list(role.command)
    if role is WORKER and env.get(NODE_NAME_VAR):
        argv += ["--celery-hostname", env[NODE_NAME_VAR]]
    if role is WORKER and env.get(WORKER_QUEUE_VAR):
        # An extra queue's pool (cluster/queues.py) consumes exactly its queue, not `[operators] default_queue`.
        argv += ["--queues", env[WORKER_QUEUE_VAR]]
    if role in (WORKER, TRIGGERER) and not flag(env, SERVE_LOGS_VAR, True):
        argv.append("--skip-serve-logs")
    return argv + list(extra)


def start(role: Role, env: Mapping[str, str], extra: Sequence[str], deadline: float) -> None:
    """Wait for what the role needs (START_WAITS), then replace this process with the role's command, so signals
    reach Airflow directly (a worker's SIGTERM is a Celery warm shutdown)."""
    needs = START_WAITS[role.name]
    wait_for_migrations = flag(env, WAIT_FOR_MIGRATIONS_VAR, True)
    if needs.result_backend_role and wait_for_migrations:
        waits.wait_for_result_backend_role(env[RESULT_BACKEND_VAR], deadline)
    if needs.schema and wait_for_migrations:
        waits.wait_for_schema(deadline)
    final = role_argv(role, env, extra)
    log(f"exec: {' '.join(final)}")
    os.execvp(final[0], final)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    try:
        if not args:
            raise EntrypointError("usage: python -m airflow_celery.entrypoint ROLE [ARGS...]", EX_USAGE)
        role = find_role(args[0])
        # One budget for every wait, so the role still passes its health check in time (roles.py, start-up timing).
        deadline = time.monotonic() + wait_budget(env)
        for dependency in waits.dependencies_of(role, env):
            waits.wait_for(dependency, remaining(deadline))
        if role is MIGRATE:
            return migrate.migrate(env, deadline)
        start(role, env, args[1:], deadline)
    except EntrypointError as error:
        log(f"error: {error}")
        return error.exit_code
    return 0  # pragma: no cover - execvp does not return
