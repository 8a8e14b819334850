"""How the pinned Airflow 3.3 sends executor callbacks to Celery, and the columns the autoscaler's counts read."""

from __future__ import annotations

import inspect

import pytest

pytestmark = pytest.mark.airflow


def test_the_counts_read_airflows_columns():
    from airflow.models.callback import Callback, CallbackType
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import CallbackState

    from airflow_celery.autoscaler import counts

    assert "queue" in TaskInstance.__table__.c
    assert Callback.__tablename__ == counts.CALLBACK_TABLE
    assert {"type", "state", "data"} <= set(Callback.__table__.c.keys())
    assert CallbackType.EXECUTOR.value == counts.EXECUTOR_CALLBACK
    assert (CallbackState.PENDING.value, CallbackState.QUEUED.value, CallbackState.RUNNING.value) == (
        counts.PENDING, counts.QUEUED, counts.RUNNING
    )  # fmt: skip


def test_the_scheduler_sends_pending_executor_callbacks_to_the_executor():
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    source = inspect.getsource(SchedulerJobRunner._enqueue_executor_callbacks)
    assert ".where(ExecutorCallback.type == CallbackType.EXECUTOR)" in source
    assert ".where(ExecutorCallback.state == CallbackState.PENDING)" in source
    assert "callback.state = CallbackState.QUEUED" in source


def test_the_celery_executor_puts_callbacks_on_the_default_queue_unless_their_data_names_one():
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor

    source = inspect.getsource(CeleryExecutor._process_workloads)
    assert 'queue = self.conf.get_mandatory_value("operators", "default_queue")' in source
    assert 'if isinstance(workload.callback.data, dict) and "queue" in workload.callback.data:' in source


def test_a_stored_callbacks_queue_is_found_in_airflows_serialization():
    from airflow.serialization.serialized_objects import BaseSerialization

    from airflow_celery.autoscaler.counts import callback_queue

    stored = BaseSerialization.serialize({"path": "m.f", "kwargs": {}, "dag_run_id": 3, "queue": "gpu"})
    assert callback_queue(stored, "default") == "gpu"
    assert callback_queue(BaseSerialization.serialize({"path": "m.f", "dag_run_id": 3}), "default") == "default"
