"""`[celery] celery_config_options` for the workers (env.py, WORKER_CELERY_CONFIG): Airflow's own Celery config,
the very dict, imported through this module so that importing it hooks our worker code (the liveness file, the
models preloaded before the pool forks, the task supervisor woken by its task's exit) into Celery's signals
(celery_executor_utils.get_celery_configuration imports it in every process that builds the Celery app; the signals
fire only in a worker)."""

from __future__ import annotations

from airflow_celery.autoscaler import protection
from airflow_celery.worker import liveness, preload, task_exit

liveness.connect()
task_exit.connect()  # before the preload: it imports the supervisor, which the preload's gc.freeze() then covers
preload.connect()


def __getattr__(name: str) -> object:
    """`CELERY_CONFIG` is Airflow's DEFAULT_CELERY_CONFIG (imported on first use, not before)."""
    if name == "CELERY_CONFIG":
        return protection.CELERY_CONFIG
    raise AttributeError(name)
