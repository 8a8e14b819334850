"""The worker's main process imports Airflow's models and configures the mappers before Celery forks the pool
(worker/preload.py): a pool child's first task then imports none of them.

In a fresh process that loaded Airflow as the worker's does, the probe forks a child that does what Celery's
database result backend does first when it stores a task's state (`Query(TaskExtended)`) and reports the
`airflow.models` modules that the child had to import. Without the preload that is every model (Airflow's
`before_configured` listener, airflow/utils/orm_event_handlers.py); with it, none.

Marked `airflow`: it runs Airflow, in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_celery.worker import config

pytestmark = pytest.mark.airflow

PROBE = """
import json, os, sys

import airflow  # noqa: F401 - as in the worker: Airflow's settings register its ORM event handlers

if sys.argv[1] == "preload":
    from airflow_celery.worker.preload import configure_models

    configure_models()
before = {name for name in sys.modules if name.startswith("airflow.models")}
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    from celery.backends.database.models import TaskExtended
    from sqlalchemy.orm import Query

    Query(TaskExtended)
    imported = sorted({name for name in sys.modules if name.startswith("airflow.models")} - before)
    os.write(write, json.dumps(imported).encode())
    os._exit(0)
os.close(write)
os.waitpid(pid, 0)
print(os.read(read, 1 << 20).decode())
"""


def child_imports(mode: str, home) -> list[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_pool_child_imports_no_model_after_the_preload_and_every_model_without_it(tmp_path):
    without = child_imports("none", tmp_path)
    assert {"airflow.models.dag", "airflow.models.taskinstance", "airflow.models.dagrun"} <= set(without)
    assert child_imports("preload", tmp_path) == []


def test_the_preload_runs_at_worker_init_in_the_main_process():
    from celery import signals

    from airflow_celery.worker import preload

    assert config.liveness  # importing the worker's Celery config (as Airflow's Celery app does) connects it
    assert preload.configure_models in [receiver for _, receiver in signals.worker_init.receivers]
