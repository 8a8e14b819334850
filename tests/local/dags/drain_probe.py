"""DAGs for the drain test (tests/local/test_drain.py): each task logs which worker program ran it.

`drain_probe_long`: 8 tasks x 10 s, filling the test cluster's 2 workers x 4 slots; `drain_probe_short`: 4 x 1 s.
A local worker program knows its drain path (AIRFLOW_CELERY_DRAIN_PATH, .../run/drain/worker-N); the task
processes inherit its environment.
"""

import os
import time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

MARK = "drain-probe ran on"


def work(seconds: int) -> None:
    worker = os.path.basename(os.environ.get("AIRFLOW_CELERY_DRAIN_PATH", "unknown"))
    print(f"{MARK} {worker}", flush=True)
    time.sleep(seconds)


for dag_id, tasks, seconds in (("drain_probe_long", 8, 10), ("drain_probe_short", 4, 1)):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=8):
        for i in range(tasks):
            PythonOperator(task_id=f"t{i}", python_callable=work, op_args=[seconds])
