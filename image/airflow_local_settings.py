"""Cluster policies of airflow-celery (airflow_celery/cluster/queue_policy.py); Airflow imports this
module from {AIRFLOW_HOME}/config."""

from airflow_celery.cluster.queue_policy import task_policy

__all__ = ["task_policy"]
