"""`[celery] celery_config_options` for the schedulers (env.py, SCHEDULER_CELERY_CONFIG): Airflow's own Celery
config, the very dict, imported through this module so that importing it, in the scheduler's process before the
CeleryExecutor's app creates its result backend, installs the pooled result sessions (result_sessions.py)."""

from __future__ import annotations

from airflow_celery.scheduler import result_sessions

result_sessions.install()


def __getattr__(name: str) -> object:
    """`CELERY_CONFIG` is Airflow's DEFAULT_CELERY_CONFIG (imported on first use, not before)."""
    if name == "CELERY_CONFIG":
        from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

        return DEFAULT_CELERY_CONFIG
    raise AttributeError(name)
