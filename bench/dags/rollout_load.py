"""The rollout benchmark's load (bench/rollout.py): one task per run, sleeping the run conf's `seconds`, that
records its start and end with the code version written next to this file (VERSION: v1 or v2) and the worker
that ran it."""

import json
import os
import time
from datetime import datetime
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from airflow_celery.cluster.drain import DRAIN_PATH_VAR

VERSION = Path(__file__).with_name("VERSION").read_text().strip()
RECORDS = Path(__file__).with_name("records.jsonl")


def record(ti, event):
    worker = os.path.basename(os.environ.get(DRAIN_PATH_VAR, "?"))
    line = {"run": ti.run_id, "dag": ti.dag_id, "task": ti.task_id, "try": ti.try_number, "version": VERSION,
            "worker": worker, "event": event, "t": time.time()}  # fmt: skip
    with RECORDS.open("a") as records:
        records.write(json.dumps(line) + "\n")


def work(ti=None, dag_run=None):
    record(ti, "start")
    time.sleep(dag_run.conf["seconds"])
    record(ti, "end")


for dag_id in ("rollout_short", "rollout_long"):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=64):
        PythonOperator(task_id="work", python_callable=work)
