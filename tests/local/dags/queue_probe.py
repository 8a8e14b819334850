"""DAGs for the worker-queue tests (tests/local/test_queues.py).

`queue_probe`: one task on the default queue, one on the test cluster's `heavy` queue; each returns (as its XCom)
the Celery node name and queue of the worker that ran it ("<node> <queue>"): a local worker program's environment
(AIRFLOW_CELERY_NODE_NAME, the name given to `celery worker --celery-hostname`; AIRFLOW_CELERY_WORKER_QUEUE, the
queue given to `--queues`), which the task processes inherit.
"""

import os
import time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def where(seconds: int) -> str:
    time.sleep(seconds)
    node = os.environ.get("AIRFLOW_CELERY_NODE_NAME", "unknown")
    return f"{node} {os.environ.get('AIRFLOW_CELERY_WORKER_QUEUE', 'default')}"


with DAG("queue_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    PythonOperator(task_id="on_default", python_callable=where, op_args=[1])
    PythonOperator(task_id="on_heavy", python_callable=where, op_args=[5], queue="heavy")
