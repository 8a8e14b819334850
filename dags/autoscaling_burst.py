"""A burst for the autoscaler: 24 independent tasks of 10 s each.

On `local up --workers 2:3 --concurrency 4` (or any MIN:MAX) the queue outgrows the minimum at once, the
autoscaler starts workers up to the maximum, and stops them again after its cool-down once the run is over.
tests/local/test_cluster.py and bench/autoscaling.py trigger it.
"""

import time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

TASKS = 24
SECONDS = 10


def work(number):
    time.sleep(SECONDS)
    return number


with DAG(
    dag_id="autoscaling_burst",
    start_date=datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    max_active_tasks=TASKS,
) as dag:
    for i in range(1, TASKS + 1):
        PythonOperator(task_id=f"burst_{i:02d}", python_callable=work, op_kwargs={"number": i})
