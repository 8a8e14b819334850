"""The fault suite's DAGs (bench/faults.py): tasks whose logs say when their work is done."""

import time
from datetime import datetime, timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

DONE = "fault-task done"
"""bench/faults.py looks for this line in a task's attempts' logs (it has the same text)."""


def work(seconds):
    print("fault-task start", flush=True)
    time.sleep(seconds)
    print(DONE, flush=True)


def hog(mib):
    """Touches `mib` MiB, 16 at a time: far more than its worker may use."""
    print("fault-task start", flush=True)
    held = []
    for _ in range(mib // 16):
        held.append(b"x" * (16 * 2**20))
        time.sleep(0.02)
    print(DONE, flush=True)


for dag_id, count, seconds in (("faults_tasks", 16, 20), ("faults_wide", 32, 10), ("faults_burst", 200, 1)):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=count):
        for i in range(count):
            PythonOperator(task_id=f"t{i:03d}", python_callable=work, op_kwargs={"seconds": seconds})

with DAG("faults_memory", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    PythonOperator(task_id="hog", python_callable=hog, op_kwargs={"mib": 3072}, retries=0)
    for i in range(6):
        PythonOperator(task_id=f"t{i:03d}", python_callable=work, op_kwargs={"seconds": 25})


def slow(seconds):
    """A template macro that takes `seconds` to render: the task is `running` (its `ti_run` call is done) and has not
    yet sent its rendered fields, its second execution API call (bench/faults.py, case 9)."""
    time.sleep(seconds)
    return seconds


def work_rendered(seconds):
    work(int(seconds))


with DAG("faults_starting", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         user_defined_macros={"slow": slow}):  # fmt: skip
    # `early` outlasts the 120 s outage (a task that ends during one cannot report it); `late` retries 2 s apart, so
    # its 3 tries (each call tried for 4-31 s) fall inside the outage.
    PythonOperator(task_id="early", python_callable=work, op_kwargs={"seconds": 200})
    gate = PythonOperator(task_id="gate", python_callable=work, op_kwargs={"seconds": 5})
    gate >> PythonOperator(task_id="late", python_callable=work_rendered, op_kwargs={"seconds": "{{ slow(15) }}"},
                           retry_delay=timedelta(seconds=2))  # fmt: skip
