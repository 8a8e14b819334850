"""A DAG whose two tasks fail at once, without retries: its run fails, and the cluster's dag_policy
(cluster/failure_notifications.py) has the dag-processor announce it on SNS
(tests/local/test_failure_notifications.py)."""

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def breaks() -> None:
    raise RuntimeError("failure_notify_probe fails on purpose")


with DAG("failure_notify_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    # Two independent failures: the context's `ti` names one of them; both named means the notifier asked the
    # dag-processor's supervisor for the run's task states (GetTaskStates).
    PythonOperator(task_id="breaks", python_callable=breaks, retries=0)
    PythonOperator(task_id="breaks_too", python_callable=breaks, retries=0)
