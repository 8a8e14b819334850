"""A DAG whose task names a queue no worker of the test cluster consumes: the queue policy
(airflow_celery/cluster/queue_policy.py) makes this file an import error (tests/local/test_queues.py)."""

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("queue_unknown_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    EmptyOperator(task_id="lost_task", queue="nowhere")
