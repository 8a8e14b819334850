"""What the watchdog relies on from the pinned Airflow and its Celery provider, read from their source.

Aging a lost task's `last_heartbeat_at` must put it on exactly the path a heartbeat timeout takes: the scheduler's
check selects on that column and the state alone, and fails or retries what it selects.
"""

from __future__ import annotations

import inspect

import pytest

pytestmark = pytest.mark.airflow


def test_the_watchdog_reads_and_writes_airflows_own_columns():
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState

    from airflow_celery.watchdog.tasks import AGE_SQL, RUNNING_SQL

    columns = set(TaskInstance.__table__.c.keys())
    used = {"id", "state", "external_executor_id", "last_heartbeat_at", "start_date", "dag_id", "task_id", "run_id",
            "try_number"}  # fmt: skip
    assert used <= columns
    assert TaskInstance.__tablename__ == "task_instance"
    assert TaskInstanceState.RUNNING.value == "running"
    assert "'running'" in RUNNING_SQL and "'running'" in AGE_SQL
    assert str(TaskInstance.__table__.c.id.type).upper().startswith("UUID") or "Uuid" in repr(
        TaskInstance.__table__.c.id.type
    )


def test_the_heartbeat_check_selects_on_the_aged_column_and_state_only():
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    source = inspect.getsource(SchedulerJobRunner._find_task_instances_without_heartbeats)
    assert "TI.last_heartbeat_at < limit_dttm" in source
    assert "TI.state.in_((TaskInstanceState.RUNNING, TaskInstanceState.RESTARTING))" in source
    assert 'conf.getint(\n            "scheduler", "task_instance_heartbeat_timeout"' in inspect.getsource(
        SchedulerJobRunner.__init__
    )


def test_what_the_check_selects_is_retried_when_it_has_a_try_left():
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    purge = inspect.getsource(SchedulerJobRunner._purge_task_instances_without_heartbeats)
    assert "ti.max_tries > 0 and ti.is_eligible_to_retry()" in purge
    assert "TaskInstanceState.UP_FOR_RETRY" in purge
    assert "executor.change_state(ti.key, TaskInstanceState.FAILED, remove_running=True)" in purge
    detect = inspect.getsource(SchedulerJobRunner._run_scheduler_loop)
    assert '"task_instance_heartbeat_timeout_detection_interval", fallback=10.0' in detect


def test_the_celery_task_id_is_the_external_executor_id_the_scheduler_stores():
    from airflow.providers.celery.executors import celery_executor_utils
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor

    assert CeleryExecutor.pre_assigns_external_executor_id is True
    send = inspect.getsource(celery_executor_utils.send_workload_to_executor)
    assert "apply_async(args=args, queue=queue, task_id=celery_task_id)" in send


def test_a_worker_answers_inspect_active_with_its_running_requests_ids():
    from celery.worker import control

    source = inspect.getsource(control.active)
    assert "active_requests" in source and "request.info" in source
