"""`airflow-celery local clean`: the ECS housekeeping task's command, against the local cluster's database.

It runs with the migrate program's environment (the env contract's metadata database settings and the local
TLS certificate), resolved from the state dir's secrets, and only the two metadata database secrets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from airflow_celery.cluster.housekeeping import RETENTION_RANGE, SECRETS
from airflow_celery.cluster.roles import MIGRATE
from airflow_celery.local.errors import LocalError
from airflow_celery.local.runner import load_cluster
from airflow_celery.local.state import StatePaths

CLEAN_TIMEOUT = 600.0
"""Seconds `airflow db clean` may take; a first clean of a large database may need a second run."""


def clean_environment(state_dir: Path) -> dict[str, str]:
    """The migrate program's environment with only the metadata database secrets resolved."""
    cluster = load_cluster(state_dir)
    migrate = next(p for p in cluster.programs if p.role is MIGRATE)
    env = migrate.environment(cluster.secrets, cluster.base_env)
    for variable in set(migrate.secret_vars) - set(SECRETS):
        env.pop(variable, None)
    return env


def clean(state_dir: Path, retention_days: int, timeout: float = CLEAN_TIMEOUT) -> None:
    low, high = RETENTION_RANGE
    if not low <= retention_days <= high:
        raise LocalError(f"--retention-days {retention_days}: days of history to keep, {low}-{high}")
    if not StatePaths(state_dir).secrets.exists():
        raise LocalError(f"no local cluster in {state_dir}: run `airflow-celery local up` first")
    argv = [sys.executable, "-m", "airflow_celery.cluster.housekeeping", "--retention-days", str(retention_days)]
    try:
        result = subprocess.run(argv, env=clean_environment(state_dir), timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LocalError(f"`airflow db clean` did not finish in {timeout:.0f} s") from None
    if result.returncode != 0:
        raise LocalError(f"`airflow db clean` failed with exit code {result.returncode}")
