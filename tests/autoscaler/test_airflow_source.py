"""What the autoscaler relies on from the pinned Airflow, its Celery provider and Celery, read from their source."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow


def test_the_count_query_names_airflows_table_and_states():
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState

    from airflow_celery.autoscaler.counts import QUEUED, RUNNING, TASK_INSTANCE_TABLE

    assert TaskInstance.__tablename__ == TASK_INSTANCE_TABLE
    assert (TaskInstanceState.QUEUED.value, TaskInstanceState.RUNNING.value) == (QUEUED, RUNNING)


def test_the_worker_config_is_airflows_own_dict(monkeypatch):
    """[celery] celery_config_options is read by get_celery_configuration (celery_executor_utils.py); ours resolves
    to the very DEFAULT_CELERY_CONFIG object, so create_celery_app applies nothing on top of it."""
    from airflow.configuration import conf
    from airflow.providers.celery.executors import celery_executor_utils
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from airflow_celery.cluster.env import CELERY_CONFIG_VAR, WORKER_CELERY_CONFIG

    monkeypatch.setenv(CELERY_CONFIG_VAR, WORKER_CELERY_CONFIG)
    assert conf.getimport("celery", "celery_config_options") is DEFAULT_CELERY_CONFIG
    celery_executor_utils.get_celery_configuration.cache_clear()
    try:
        assert celery_executor_utils.get_celery_configuration() is DEFAULT_CELERY_CONFIG
    finally:
        celery_executor_utils.get_celery_configuration.cache_clear()


def test_celery_keeps_the_requests_the_protector_reads_in_the_main_process():
    from celery.worker import request, state

    assert hasattr(state, "active_requests") and hasattr(state, "reserved_requests")
    # Request.on_accepted (main process) calls task_accepted, which adds to active_requests.
    assert "task_accepted" in request.__dict__ or hasattr(request, "task_accepted")
