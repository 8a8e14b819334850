"""The CeleryExecutor demo of seed 000 ("Celery parallel demo"), on the Airflow 3 Task SDK.

Five independent tasks that each sleep 30 s. With one LocalExecutor slot they would take 2.5 minutes
one after another; on Celery workers they run at the same time and the run takes about 30 s. The
callable, task ids and DAG arguments are the article's; only the imports moved to `airflow.sdk` and
the standard provider, as Airflow 3 requires.
"""

import time
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def heavy_computation(task_number):
    print(f"Воркер начал задачу {task_number}")
    # Имитируем бурную деятельность
    time.sleep(30)
    print(f"Воркер закончил задачу {task_number}")
    return f"Done {task_number}"


with DAG(
    dag_id="celery_parallel_demo",
    start_date=datetime(2023, 1, 1),
    schedule=None,
    catchup=False,
) as dag:
    for i in range(1, 6):
        PythonOperator(
            task_id=f"processing_chunk_{i}",
            python_callable=heavy_computation,
            op_kwargs={"task_number": i},
        )
