"""`[celery] celery_config_options` for the schedulers (env.py, SCHEDULER_CELERY_CONFIG): Airflow's own Celery config
with one setting changed, imported through this module so that importing it, in the scheduler's process before any
Celery app creates its result backend (the CeleryExecutor's constructor, before the scheduler's first loop),
installs the pooled result sessions (result_sessions.py), the loop's count of executor events (executor_events.py)
and the health endpoint served from a thread of the scheduler instead of a fork of it (health_server.py)."""

from __future__ import annotations

from functools import cache

from airflow_celery.scheduler import executor_events, health_server, result_sessions

result_sessions.install()
executor_events.install()
health_server.install()

SCHEDULER_SETTINGS = {"database_create_tables_at_setup": False}
"""Celery's result tables exist before any scheduler starts: `migrate` creates them (entrypoint/migrate.py,
provision-result-backend), and a scheduler waits for it. Left at Celery's True, every app's database backend checks
them over a connection of its own when it is created, and with kept engines keeps that connection: the scheduler
builds two apps, the executor's (which reads the states) and the one it sends tasks with
(celery_executor_utils.py, `_get_celery_app_for_workload`), which never reads the database."""


@cache
def _scheduler_config() -> dict:
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    return {**DEFAULT_CELERY_CONFIG, **SCHEDULER_SETTINGS}


def __getattr__(name: str) -> object:
    """`CELERY_CONFIG` is Airflow's DEFAULT_CELERY_CONFIG with SCHEDULER_SETTINGS (built on first use, not before)."""
    if name == "CELERY_CONFIG":
        return _scheduler_config()
    raise AttributeError(name)
