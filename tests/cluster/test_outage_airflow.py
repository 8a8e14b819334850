"""The env contract's outage settings (cluster/reliability.py), as the pinned Airflow reads them.

Each probe runs in a subprocess with a role's environment from the contract, since Airflow reads these settings at
import time. Marked `airflow`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.reliability import (
    API_OUTAGE_TOLERATED,
    EXECUTION_API_RETRIES,
    EXECUTION_API_RETRY_WAIT_MIN,
    max_failed_heartbeats,
    seconds_per_failed_heartbeat,
)
from tests.cluster_settings import settings_with

pytestmark = pytest.mark.airflow

SUPERVISOR_PROBE = r"""
import inspect, json, random
from unittest import mock
from airflow.sdk.api.client import API_RETRIES, API_RETRY_WAIT_MIN, Client
from airflow.sdk.execution_time import supervisor

retrying = Client.request.retry
class State:
    def __init__(self, n): self.attempt_number = n
# The least a failing call waits: every random wait at its lower bound (tenacity's wait_random_exponential).
with mock.patch.object(random, "uniform", lambda low, high: low):
    least = sum(retrying.wait(State(n)) for n in range(1, API_RETRIES))
print(json.dumps({
    "max_failed": supervisor.MAX_FAILED_HEARTBEATS,
    "heartbeat_timeout": supervisor.HEARTBEAT_TIMEOUT,
    "min_interval": supervisor.MIN_HEARTBEAT_INTERVAL,
    "retries": API_RETRIES, "wait_min": API_RETRY_WAIT_MIN,
    "stop_after": retrying.stop.max_attempt_number,
    "least_wait_per_failed_call": least,
    "kills": "self.failed_heartbeats >= MAX_FAILED_HEARTBEATS" in inspect.getsource(
        supervisor.ActivitySubprocess._handle_heartbeat_failures),
}))
"""

CELERY_PROBE = r"""
import json
from airflow.configuration import conf
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
print(json.dumps({
    "visibility_timeout": DEFAULT_CELERY_CONFIG["broker_transport_options"].get("visibility_timeout"),
    "task_queued_timeout": conf.getfloat("scheduler", "task_queued_timeout"),
    "default_queue": conf.get("operators", "default_queue"),
    "task_default_queue": DEFAULT_CELERY_CONFIG["task_default_queue"],
}))
"""


def run_probe(probe: str, role: str, interval: int = 1, drop: tuple[str, ...] = ()) -> tuple[dict, str]:
    settings = settings_with(execution_api_url="http://127.0.0.1:1/execution/", min_heartbeat_interval=interval)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(role_environment(role, settings).plain)
    env["AIRFLOW__CELERY__BROKER_URL"] = "redis://127.0.0.1:1/0"
    for variable in drop:
        env.pop(variable, None)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr  # Airflow logs to stdout


@pytest.mark.parametrize("interval", [1, 5])
def test_a_task_supervisor_outlasts_the_tolerated_api_server_outage(interval):
    seen, _ = run_probe(SUPERVISOR_PROBE, "worker", interval)
    assert (seen["retries"], seen["wait_min"]) == (EXECUTION_API_RETRIES, EXECUTION_API_RETRY_WAIT_MIN)
    assert seen["stop_after"] == EXECUTION_API_RETRIES
    assert seen["least_wait_per_failed_call"] == (EXECUTION_API_RETRIES - 1) * EXECUTION_API_RETRY_WAIT_MIN
    assert seen["kills"]
    assert seen["max_failed"] == max_failed_heartbeats(interval)
    # The fastest the supervisor can fail that many heartbeats: it still outlasts the outage.
    least = seen["least_wait_per_failed_call"]
    fastest_kill = (seen["max_failed"] - 1) * seconds_per_failed_heartbeat(interval) + least
    assert fastest_kill > API_OUTAGE_TOLERATED
    assert seen["heartbeat_timeout"] > API_OUTAGE_TOLERATED + 60


def test_airflows_defaults_killed_every_task_in_a_90_s_outage():
    """What the contract fixes: 3 failed heartbeats may come 3 x 4 s into the outage."""
    seen, _ = run_probe(SUPERVISOR_PROBE, "worker", drop=("AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS",))
    assert seen["max_failed"] == 3
    assert seen["max_failed"] * seen["least_wait_per_failed_call"] < 90


@pytest.mark.parametrize("role", ["scheduler", "worker"])
def test_visibility_timeout_is_set_and_the_providers_warning_is_gone(role):
    seen, output = run_probe(CELERY_PROBE, role)
    assert seen["visibility_timeout"] == 86400
    assert "No visibility_timeout configured" not in output
    assert seen["task_queued_timeout"] == 900
    assert seen["default_queue"] == seen["task_default_queue"] == "default"


def test_without_the_contracts_visibility_timeout_every_process_warns():
    _, output = run_probe(
        CELERY_PROBE, "scheduler", drop=("AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT",)
    )
    assert "No visibility_timeout configured" in output
