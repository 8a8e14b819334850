"""A DAG for the fault tests (tests/local/test_cluster.py): 8 tasks x 5 s that set no retries of their own.

Each prints DONE as its last line, so a task whose work finished in two tries shows it in two attempt logs.
8 tasks fill the test cluster's 2 workers x 4 slots: each worker runs 4 of them.
"""

import time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

DONE = "faults-probe done"


def work():
    time.sleep(5)
    print(DONE, flush=True)


with DAG("faults_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=8):
    for i in range(8):
        PythonOperator(task_id=f"t{i}", python_callable=work)
