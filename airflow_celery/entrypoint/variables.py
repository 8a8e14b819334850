"""The entrypoint's own variables (cluster/env.py names them), read with one clear error for a bad value."""

from __future__ import annotations

from collections.abc import Mapping

from airflow_celery.cluster.env import WAIT_TIMEOUT_VAR
from airflow_celery.cluster.roles import WAIT_BUDGET
from airflow_celery.entrypoint.errors import EntrypointError


def flag(env: Mapping[str, str], variable: str, default: bool) -> bool:
    value = env.get(variable)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise EntrypointError(f"{variable}={value!r} is not a boolean; use True or False")


def wait_budget(env: Mapping[str, str]) -> float:
    """Seconds every wait of this start shares (roles.py, start-up timing)."""
    value = env.get(WAIT_TIMEOUT_VAR, str(WAIT_BUDGET))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise EntrypointError(f"{WAIT_TIMEOUT_VAR}={value!r} must be a positive number of seconds")
    return seconds
