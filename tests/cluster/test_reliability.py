"""The outage and lost-worker timings of cluster/reliability.py, and where the watchdog runs."""

from __future__ import annotations

import pytest

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.reliability import (
    API_OUTAGE_TOLERATED,
    DEFAULT_TASK_RETRY_DELAY_SECONDS,
    TASK_HEARTBEAT_TIMEOUT,
    lost_task_retry_within,
    max_failed_heartbeats,
    seconds_per_failed_heartbeat,
    watchdog_stale_after,
)
from airflow_celery.cluster.roles import AUTOSCALER, WATCHDOG, sidecars_of
from airflow_celery.cluster.scaling import COLD_START_SECONDS, TASK_QUEUED_TIMEOUT
from tests.cluster_settings import settings_with


def test_one_timeout_could_not_give_both():
    """Why the watchdog exists: an outage needs a timeout above it, a lost worker a retry within 90 s."""
    assert TASK_HEARTBEAT_TIMEOUT > API_OUTAGE_TOLERATED >= 90
    assert TASK_HEARTBEAT_TIMEOUT + DEFAULT_TASK_RETRY_DELAY_SECONDS > 90


@pytest.mark.parametrize(("interval", "failures"), [(1, 46), (5, 37)])
def test_failed_heartbeats_outlast_the_tolerated_outage(interval, failures):
    assert max_failed_heartbeats(interval) == failures
    assert (failures - 1) * seconds_per_failed_heartbeat(interval) >= API_OUTAGE_TOLERATED
    env = role_environment("worker", settings_with(execution_api_url="x", min_heartbeat_interval=interval)).plain
    assert env["AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS"] == str(failures)


@pytest.mark.parametrize("interval", [1, 5])
def test_a_lost_worker_is_retried_within_90_s_and_a_live_one_never_looks_stale(interval):
    assert lost_task_retry_within(interval) + DEFAULT_TASK_RETRY_DELAY_SECONDS <= 90
    assert watchdog_stale_after(interval) >= 6 * interval


def test_the_watchdog_runs_next_to_every_scheduler_and_the_autoscaler_only_when_workers_scale():
    assert sidecars_of("scheduler", autoscaling=False) == (WATCHDOG,)
    assert sidecars_of("scheduler", autoscaling=True) == (AUTOSCALER, WATCHDOG)
    assert sidecars_of("worker", autoscaling=True) == ()


def test_task_queued_timeout_outlasts_a_cold_start_from_zero_workers():
    assert COLD_START_SECONDS == 600  # 30 s count + 2 x 60 s alarm period + 450 s start-up deadline
    assert TASK_QUEUED_TIMEOUT > COLD_START_SECONDS
    env = role_environment("scheduler", settings_with(execution_api_url="x")).plain
    assert env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"] == str(TASK_QUEUED_TIMEOUT)
