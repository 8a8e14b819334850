"""`airflow-celery local airflow ARGS...`: any Airflow CLI command against the local cluster.

The counterpart of the official docker-compose's `airflow-cli` service: the command runs with the environment
of the scheduler (cluster/env.py): the same metadata database, fernet key, JWT settings, broker and dags folder
as the cluster, so `connections add` stores a connection the tasks can decrypt. Secrets go from the state dir's
0600 secrets.json into the child's environment, never onto a command line (the way local/secret_exec.py starts
every program).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from airflow_celery.cluster.roles import SCHEDULER
from airflow_celery.local import supervisor
from airflow_celery.local.errors import LocalError
from airflow_celery.local.programs import Program

CLI_ROLE = SCHEDULER
"""The role whose environment contract the CLI borrows: it holds every secret an Airflow command needs
(fernet key, JWT secret, metadata DB, Celery broker and result backend) and no more than the scheduler has."""


def cli_program(programs: Sequence[Program]) -> Program:
    for program in programs:
        if program.role is CLI_ROLE:
            return program
    raise LocalError("this cluster has no scheduler program; recreate it with `airflow-celery local up`")


def cli_environment(program: Program, secrets: Mapping[str, str], base_env: Mapping[str, str]) -> dict[str, str]:
    """The program's environment with its secrets filled in, minus the marker that `local down` uses to find the
    cluster's leftover processes (a user's command is not one of them)."""
    missing = sorted(name for name in program.secret_vars.values() if name not in secrets)
    if missing:
        raise LocalError(
            f"secrets.json has no {', '.join(missing)}: start the cluster once with `airflow-celery local up`, "
            "which completes it"
        )
    env = program.environment(secrets, base_env)
    env.pop(supervisor.STATE_MARKER_VAR, None)
    return env


def airflow_argv(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def run_airflow(state_dir: Path, args: Sequence[str]) -> int:
    """Run `airflow ARGS` in the cluster's environment; its exit code."""
    from airflow_celery.local.runner import load_cluster

    if not args:
        raise LocalError(
            "give an Airflow command, e.g. `airflow-celery local airflow dags list`; "
            "`airflow-celery local airflow -- --help` lists them all"
        )
    cluster = load_cluster(state_dir)
    env = cli_environment(cli_program(cluster.programs), cluster.secrets, cluster.base_env)
    try:
        return subprocess.run(airflow_argv(args), env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130
