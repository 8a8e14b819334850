"""Independent PythonOperator tasks sleeping, all allowed at once; bench/local_cluster.py copies this file as
`<prefix>_<tasks>x<seconds>.py` (e.g. bench_40x5.py: 40 tasks of 5 s), and the DAG takes its id and shape
from that name."""

import re
import time
from datetime import datetime
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

DAG_ID = Path(__file__).stem
TASKS, SECONDS = (int(n) for n in re.fullmatch(r"\w+_(\d+)x(\d+)", DAG_ID).groups())


def work():
    time.sleep(SECONDS)


with DAG(DAG_ID, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=TASKS):
    for i in range(TASKS):
        PythonOperator(task_id=f"sleep_{i:02d}", python_callable=work)
