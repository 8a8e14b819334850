"""The outage and lost-worker timings of cluster/reliability.py, and where the watchdog runs."""

from __future__ import annotations

import pytest

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.reliability import (
    API_OUTAGE_TOLERATED,
    DEFAULT_TASK_RETRY_DELAY_SECONDS,
    TASK_HEARTBEAT_TIMEOUT,
    WATCHDOG_INTERVAL,
    WATCHDOG_MIN_STALE,
    WATCHDOG_ROUNDS,
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


def test_the_stale_age_is_three_watchdog_rounds_30_s_by_default():
    """A test cluster's shorter rounds (`local up --watchdog-interval 5`) shorten the whole wait for a lost worker."""
    assert watchdog_stale_after(1) == WATCHDOG_MIN_STALE == WATCHDOG_ROUNDS * WATCHDOG_INTERVAL == 30
    assert watchdog_stale_after(1, interval=5) == 15
    assert watchdog_stale_after(5, interval=2) == 30  # never under 6 missed heartbeats
    assert lost_task_retry_within(1) == 55
    assert lost_task_retry_within(1, interval=5) == max(15, 4 * 5) + 5 + 10 == 35


def test_the_watchdog_runs_next_to_every_scheduler_and_the_autoscaler_only_when_workers_scale():
    assert sidecars_of("scheduler", autoscaling=False) == (WATCHDOG,)
    assert sidecars_of("scheduler", autoscaling=True) == (AUTOSCALER, WATCHDOG)
    assert sidecars_of("worker", autoscaling=True) == ()


def test_task_queued_timeout_outlasts_a_cold_start_from_zero_workers():
    assert COLD_START_SECONDS == 600  # 30 s count + 2 x 60 s alarm period + 450 s start-up deadline
    assert TASK_QUEUED_TIMEOUT > COLD_START_SECONDS
    env = role_environment("scheduler", settings_with(execution_api_url="x")).plain
    assert env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"] == str(TASK_QUEUED_TIMEOUT)
