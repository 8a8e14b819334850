"""Cluster policies of airflow-celery (airflow_celery/cluster/queue_policy.py, and
airflow_celery/cluster/failure_notifications.py); Airflow imports this module from {AIRFLOW_HOME}/config."""

from airflow_celery.cluster.failure_notifications import dag_policy
from airflow_celery.cluster.queue_policy import task_policy

__all__ = ["dag_policy", "task_policy"]
