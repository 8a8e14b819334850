"""The scheduler's result sessions through the pinned celery provider: the env contract's
`[celery] celery_config_options` makes Airflow's own `create_celery_app` install them, the engine options reach
Celery's backend, and the CeleryExecutor's state reads (`BulkStateFetcher`) then share one connection."""

from __future__ import annotations

import pytest
from celery.backends import database
from celery.result import AsyncResult

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.env import CELERY_CONFIG_VAR, RESULT_ENGINE_OPTIONS_VAR, SCHEDULER_RESULT_ENGINE_OPTIONS
from airflow_celery.scheduler import result_sessions
from tests.cluster_settings import settings_with
from tests.scheduler.test_result_sessions import connects  # noqa: F401 - the fixture

pytestmark = pytest.mark.airflow


@pytest.fixture
def scheduler_app(monkeypatch, tmp_path):
    """A Celery app as the scheduler's CeleryExecutor builds it, with the scheduler's two Celery settings of the env
    contract (the broker and the result backend stand in: memory and a SQLite file)."""
    from airflow.configuration import conf
    from airflow.providers.celery.executors.celery_executor_utils import create_celery_app

    plain = role_environment("scheduler", settings_with(execution_api_url="http://x/execution/")).plain
    monkeypatch.setattr(database, "SessionManager", database.SessionManager)  # put back after the test
    for variable in (CELERY_CONFIG_VAR, RESULT_ENGINE_OPTIONS_VAR):
        monkeypatch.setenv(variable, plain[variable])
    monkeypatch.setenv("AIRFLOW__CELERY__BROKER_URL", "memory://")
    monkeypatch.setenv("AIRFLOW__CELERY__RESULT_BACKEND", f"db+sqlite:///{tmp_path / 'results.db'}")
    import airflow_celery.scheduler.config as scheduler_config

    result_sessions.install()  # what importing the config module did, in case an earlier test imported it
    app = create_celery_app(conf)
    assert conf.get("celery", "celery_config_options").startswith(scheduler_config.__name__)
    return app


def test_the_scheduler_reads_every_state_over_one_kept_connection(scheduler_app, connects):  # noqa: F811
    from airflow.providers.celery.executors.celery_executor_utils import BulkStateFetcher

    backend = scheduler_app.backend
    assert isinstance(backend.session_manager, result_sessions.PooledSessionManager)
    assert backend.engine_options == SCHEDULER_RESULT_ENGINE_OPTIONS
    fetcher = BulkStateFetcher(1, scheduler_app)
    results = [AsyncResult(f"task-{i}", app=scheduler_app) for i in range(3)]
    connects.clear()
    for _ in range(4):  # four scheduler loops with tasks in flight
        states = fetcher._get_many_from_db_backend(results)  # none stored yet: each still PENDING
        assert {task_id: state for task_id, (state, _) in states.items()} == {r.id: "PENDING" for r in results}
    assert len(connects) <= 1  # the first read may open it (or Celery's table set-up already did)
    (engine,) = backend.session_manager._engines.values()
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._pre_ping) == (1, 0, True)
