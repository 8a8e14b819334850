"""Airflow's own metrics from the real shared local cluster: the scheduler, dag-processor, triggerer and a worker's
task process send StatsD to the receiver (local/metrics_receiver.py), and `local status` shows the few that matter.
Costs one one-task DAG run (cli_params_probe, a few seconds) on top of the shared cluster."""

from __future__ import annotations

import time

import pytest

from airflow_celery.cluster.metrics import allowed
from airflow_celery.local.metrics_receiver import read_metrics
from airflow_celery.local.programs import metrics_file

pytestmark = pytest.mark.integration

WAIT = 90.0


def _received(cluster, names: set[str]) -> dict:
    """The receiver's metrics once every name in `names` arrived (bounded wait)."""
    deadline = time.monotonic() + WAIT
    while True:
        metrics = read_metrics(metrics_file(cluster.state_dir_paths))
        if names <= set(metrics) or time.monotonic() > deadline:
            return metrics
        time.sleep(1)


def test_named_metrics_arrive_from_the_real_roles_and_only_allowed_ones(cluster):
    run = cluster.cli("local", "trigger", "cli_params_probe", "--conf", '{"x": "metrics"}', "--wait", timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    wanted = {
        "airflow.scheduler_heartbeat",  # the scheduler job
        "airflow.executor.open_slots",  # the scheduler's Celery executor
        "airflow.pool.open_slots.default_pool",  # the scheduler's pool metrics (per-pool legacy name)
        "airflow.dag_processor_heartbeat",  # the dag-processor
        "airflow.triggerer_heartbeat",  # the triggerer
        "airflow.task.duration",  # the task's own process on a Celery worker, when it ends
    }
    metrics = _received(cluster, wanted)
    assert wanted <= set(metrics), sorted(metrics)
    assert metrics["airflow.task.duration"]["type"] == "timing" and metrics["airflow.task.duration"]["samples"] >= 1
    assert metrics["airflow.executor.open_slots"]["value"] > 0
    # nothing outside the allow-list leaves a process (no per-DAG or per-task names)
    assert all(allowed(name.removeprefix("airflow.")) for name in metrics), sorted(metrics)


def test_status_shows_queued_running_open_slots_and_the_heartbeat(cluster):
    _received(cluster, {"airflow.scheduler_heartbeat", "airflow.executor.open_slots"})
    result = cluster.cli("local", "status", timeout=180)
    line = next((x for x in result.stdout.splitlines() if x.startswith("Airflow metrics:")), "")
    assert "queued " in line and "running " in line and "open slots " in line, result.stdout
    assert "scheduler heartbeat " in line and " s ago" in line, line
