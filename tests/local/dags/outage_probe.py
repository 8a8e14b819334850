"""A DAG for the outage test (tests/local/test_cluster.py): 8 tasks that set no retries of their own.

A first try says it has started (a file named after its task in the folder `outage_probe.started` next to this
one), then runs until the test releases it (the file `outage_probe.release` appears) or 400 s pass, so it outlasts
an api-server outage and a worker kill however slow the machine; a later try runs 5 s. Each prints DONE as its last
line, so a task whose work finished in two tries shows it in two attempt logs. 8 tasks fill the test cluster's 2
workers x 4 slots.

The started file, not the `running` state, tells the test a task no longer needs the api-server: Airflow sets
`running` at the task's first execution API call (`ti_run`), and the task runner makes one more (its rendered
fields, task_runner.py `_prepare`) before it calls `work`. A task whose second call finds no api-server fails.
"""

import time
from datetime import datetime
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

DONE = "outage-probe done"
RELEASE = Path(__file__).with_name("outage_probe.release")
STARTED = Path(__file__).with_name("outage_probe.started")


def work(ti):
    if ti.try_number == 1:
        STARTED.mkdir(exist_ok=True)
        (STARTED / ti.task_id).touch()
        deadline = time.monotonic() + 400
        while not RELEASE.exists() and time.monotonic() < deadline:
            time.sleep(1)
    else:
        time.sleep(5)
    print(DONE, flush=True)


with DAG("outage_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=8):
    for i in range(8):
        PythonOperator(task_id=f"t{i}", python_callable=work)
