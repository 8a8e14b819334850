"""The scheduler's result sessions through the pinned celery provider: the env contract's
`[celery] celery_config_options` makes Airflow's own `create_celery_app` install them, the engine options reach
Celery's backend, and the CeleryExecutor's state reads (`BulkStateFetcher`) then share one connection. The same
import makes the scheduler loop count the executor events it processed (executor_events.py)."""

from __future__ import annotations

import sys

import pytest
from celery.backends import database
from celery.result import AsyncResult

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.env import CELERY_CONFIG_VAR, RESULT_ENGINE_OPTIONS_VAR, SCHEDULER_RESULT_ENGINE_OPTIONS
from airflow_celery.scheduler import executor_events, result_sessions
from tests.cluster_settings import settings_with
from tests.scheduler.test_result_sessions import connects  # noqa: F401 - the fixture

pytestmark = pytest.mark.airflow


@pytest.fixture
def scheduler_app(monkeypatch, tmp_path):
    """A Celery app as the scheduler's CeleryExecutor builds it, with the scheduler's two Celery settings of the env
    contract (the broker and the result backend stand in: memory and a SQLite file). The config module is imported
    afresh by Airflow's own `create_celery_app`, which is what installs the pooled sessions."""
    from airflow.configuration import conf
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.providers.celery.executors import default_celery
    from airflow.providers.celery.executors.celery_executor_utils import create_celery_app

    executor_events.uninstall()
    monkeypatch.setattr(SchedulerJobRunner, "_process_executor_events", SchedulerJobRunner._process_executor_events)
    plain = role_environment("scheduler", settings_with(execution_api_url="http://x/execution/")).plain
    monkeypatch.setattr(database, "SessionManager", database.SessionManager)  # put back after the test
    monkeypatch.setattr(result_sessions.PooledSessionManager, "engines", {})
    monkeypatch.delitem(sys.modules, "airflow_celery.scheduler.config", raising=False)
    for variable in (CELERY_CONFIG_VAR, RESULT_ENGINE_OPTIONS_VAR):
        monkeypatch.setenv(variable, plain[variable])
    monkeypatch.setenv("AIRFLOW__CELERY__BROKER_URL", "memory://")
    monkeypatch.setenv("AIRFLOW__CELERY__RESULT_BACKEND", f"db+sqlite:///{tmp_path / 'results.db'}")
    # Airflow computes its default config once, at import, in the scheduler's environment: here, in this one.
    fresh = default_celery.get_default_celery_config(conf)
    monkeypatch.setattr(default_celery, "DEFAULT_CELERY_CONFIG", fresh)
    assert database.SessionManager is not result_sessions.PooledSessionManager
    return create_celery_app(conf)


def test_the_scheduler_config_makes_the_loop_count_processed_executor_events(scheduler_app):
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    assert getattr(SchedulerJobRunner._process_executor_events, executor_events.WRAPPED, False)


def test_the_scheduler_reads_every_state_over_one_kept_connection(scheduler_app, connects):  # noqa: F811
    from airflow.providers.celery.executors.celery_executor_utils import BulkStateFetcher, create_celery_app

    backend = scheduler_app.backend
    assert isinstance(backend.session_manager, result_sessions.PooledSessionManager)
    assert backend.engine_options == SCHEDULER_RESULT_ENGINE_OPTIONS
    assert scheduler_app.conf.database_create_tables_at_setup is False  # no connection at set-up
    fetcher = BulkStateFetcher(1, scheduler_app)
    results = [AsyncResult(f"task-{i}", app=scheduler_app) for i in range(3)]
    for _ in range(4):  # four scheduler loops with tasks in flight
        states = fetcher._get_many_from_db_backend(results)  # none stored yet: each still PENDING
        assert {task_id: state for task_id, (state, _) in states.items()} == {r.id: "PENDING" for r in results}
    from airflow.configuration import conf

    sender = create_celery_app(conf)  # as _get_celery_app_for_workload builds it, to send tasks with
    assert AsyncResult("task-0", app=sender).result is None  # adoption reads a result through it
    assert len(connects) == 1
    (engine,) = result_sessions.PooledSessionManager.engines.values()
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._pre_ping) == (1, 0, True)
